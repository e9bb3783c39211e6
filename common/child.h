// child.h: a forked child process that is always reaped.
//
//   MT_ASSIGN_OR_RETURN(Child child, Child::Fork([] {
//     std::cout << "hello from " << getpid() << "\n";
//     return 3;                                  // the child's exit code
//   }));
//   MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());   // "exited with
//   code 3"
//
// Contract:
// - Fork() flushes stdout/stderr first (otherwise text buffered before fork()
// would be
//   printed twice, once by each process), then runs `body` in the child and
//   ends the child with _exit(body's return value). An exception escaping
//   `body` is printed to stderr and the child exits with code 1. The child
//   never returns into the caller.
// - A Child is move-only and owns the process until it has been waited for.
// Destroying a
//   Child that was not waited for sends it SIGKILL and reaps it, so a test that
//   fails half way, or a function that returns early, leaves no process and no
//   zombie behind. Call Wait() first if the child must finish its work.
// - Not thread-safe: use one Child from one thread at a time. Forking a process
// that
//   has other threads is allowed but the child must then only call
//   async-signal-safe functions (see the threadlocal lesson); the course's fork
//   lessons fork before starting threads.

#ifndef MULTITASK_COMMON_CHILD_H_
#define MULTITASK_COMMON_CHILD_H_

#include <sys/types.h>

#include <optional>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/exit_status.h"

namespace multitask {

class Child {
 public:
  // Forks. In the child: runs `body`, then _exit(its result). In the parent:
  // returns the handle. Fails only if fork() does (e.g. EAGAIN at the process
  // limit).
  static absl::StatusOr<Child> Fork(absl::FunctionRef<int()> body);

  // Takes ownership of a child this process started some other way
  // (posix_spawn, vfork): the handle reaps it like one made by Fork().
  static Child Adopt(pid_t pid) { return Child(pid); }

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Kills (SIGKILL) and reaps the child if it was not waited for. See the
  // contract.
  ~Child();

  pid_t pid() const { return pid_; }
  // True once the child has been waited for (its pid may then belong to another
  // process).
  bool reaped() const { return status_.has_value(); }
  // How it ended, once reaped.
  const std::optional<ExitStatus>& status() const { return status_; }

  // Blocks until the child ends, reaps it and returns how it ended. Calling it
  // again returns the same status.
  absl::StatusOr<ExitStatus> Wait();

  // Reaps the child if it has ended; nullopt if it is still running.
  absl::StatusOr<std::optional<ExitStatus>> TryWait();

  // Waits at most `timeout` (a pidfd and poll(), so no sleeping loop); nullopt
  // if the child is still running then.
  absl::StatusOr<std::optional<ExitStatus>> WaitFor(absl::Duration timeout);

  // Blocks until the child ends but does not reap it: it stays a zombie (state
  // Z in /proc/<pid>/stat) until Wait(). For teaching what a zombie is.
  absl::StatusOr<ExitStatus> WaitForExitWithoutReaping();

  // Sends `signal_number`. FailedPrecondition once reaped (the pid may be
  // reused).
  absl::Status Signal(int signal_number);

  // Signal(signal_number) and then Wait().
  absl::StatusOr<ExitStatus> KillAndWait(int signal_number);

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  void KillAndReapQuietly();

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

}  // namespace multitask

#endif  // MULTITASK_COMMON_CHILD_H_
