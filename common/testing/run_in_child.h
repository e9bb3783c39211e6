// run_in_child.h: test helper that runs a function in a forked child and
// reports what it printed and how it ended.
//
//   ChildRun run = RunInChild([] { std::cout << "hi"; std::abort(); }).value();
//   EXPECT_EQ(run.output, "hi");
//   EXPECT_EQ(run.status, ExitStatus::Killed(SIGABRT));
//
// The child's stdout and stderr both go to one pipe the parent reads to the
// end. The function's return value is the exit code. If the child has not
// finished within `timeout` it is killed, and the result says so (timed_out),
// so a hung child never hangs the test. Do not use GoogleTest assertions inside
// `fn`: they run in the child, whose failures the parent cannot see; return a
// code or print instead.

#ifndef MULTITASK_COMMON_TESTING_RUN_IN_CHILD_H_
#define MULTITASK_COMMON_TESTING_RUN_IN_CHILD_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/exit_status.h"

namespace multitask::testing {

struct ChildRun {
  std::string output;  // stdout and stderr, interleaved as written
  ExitStatus status = ExitStatus::Exited(0);
  bool timed_out = false;
};

absl::StatusOr<ChildRun> RunInChild(std::function<int()> fn,
                                    absl::Duration timeout = absl::Seconds(60));

}  // namespace multitask::testing

#endif  // MULTITASK_COMMON_TESTING_RUN_IN_CHILD_H_
