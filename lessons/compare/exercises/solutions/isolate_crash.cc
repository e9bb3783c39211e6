// Reference solution for isolate_crash.h (graded with --config=solutions).
//
// The task runs in a forked child: its own copy of memory, so a wild write or
// a segfault stays there, and its end is an exit status the parent decodes.
// WaitFor() bounds the wait with a pidfd; a child past its time is killed and
// reaped, and Child's destructor kills and reaps it on any error path.

#include "lessons/compare/exercises/isolate_crash.h"

#include <csignal>
#include <optional>

#include "common/child.h"
#include "common/status_macros.h"

namespace multitask::compare_exercise {

absl::StatusOr<ExitStatus> RunIsolated(const std::function<int()>& task,
                                       absl::Duration time_limit) {
  MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] { return task(); }));
  MT_ASSIGN_OR_RETURN(std::optional<ExitStatus> ended,
                      child.WaitFor(time_limit));
  if (ended.has_value()) return *ended;
  return child.KillAndWait(SIGKILL);
}

}  // namespace multitask::compare_exercise
