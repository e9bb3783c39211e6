// Exercise: run untrusted code so that its crash is not your crash.
//
// A plugin, a parser fed by strangers, a task from a queue: code you do not
// trust may segfault, abort or hang. The lesson showed that a thread cannot
// contain that (a segfault kills every thread of the process) and that a child
// process can (its death is a status its parent reads). Implement
// RunIsolated() so that the caller survives whatever `task` does, and learns
// how it ended. As given, it runs the task on a std::thread: a crashing task
// takes the caller down with it, and a hung task hangs the caller.
//
// Edit isolate_crash.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/compare/exercises/...
//
// Hint: Child::Fork, Child::WaitFor and Child::KillAndWait in
// common/child.h; ExitStatus in common/exit_status.h decodes the rest. The
// grader runs each call in a child of its own with a time limit, so a crash
// or a hang fails the grade instead of killing or hanging it.

#ifndef MULTITASK_LESSONS_COMPARE_EXERCISES_ISOLATE_CRASH_H_
#define MULTITASK_LESSONS_COMPARE_EXERCISES_ISOLATE_CRASH_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/exit_status.h"

namespace multitask::compare_exercise {

// Runs `task` where its faults cannot reach the caller, and returns how it
// ended: ExitStatus::Exited(code) with the value `task` returned, or
// ExitStatus::Killed(signal) if a signal ended it (SIGSEGV, SIGABRT, ...). A
// task still running after `time_limit` is killed with SIGKILL (the result
// is then Killed(SIGKILL)). Nothing the task does to memory is seen by the
// caller. Leaves no process behind, whatever happens. An error status only if
// the task could not be started or waited for.
absl::StatusOr<ExitStatus> RunIsolated(const std::function<int()>& task,
                                       absl::Duration time_limit);

}  // namespace multitask::compare_exercise

#endif  // MULTITASK_LESSONS_COMPARE_EXERCISES_ISOLATE_CRASH_H_
