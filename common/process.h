// process.h: a child process modelled on Python's multiprocessing.Process.
//
//   Process p([&] { Download(file); }, "downloader");   // name is optional
//   MT_RETURN_IF_ERROR(p.Start());
//   MT_ASSIGN_OR_RETURN(bool ended, p.Join(absl::Seconds(1)));
//   if (!ended) MT_RETURN_IF_ERROR(p.Terminate());
//   MT_ASSIGN_OR_RETURN(ExitStatus status, p.Join());
//   std::cout << p.name() << " " << *p.exitcode();      // "downloader -15"
//
// The target runs in a child made by fork() (common/child.h), so it sees a copy
// of the parent's memory as it was at Start(): captures work, but the parent
// never sees what the child changes (use a pipe or common/shared_memory.h).
//
// Contract:
// - The target is a callable taking no arguments (Python's args/kwargs become
//   lambda captures). If it returns an int, that is the exit code; if it
//   returns void, the exit code is 0. An exception escaping it is printed to
//   stderr as "Process <name> (pid N): uncaught exception: <what>" and the exit
//   code is 1. The child ends with _exit(): the parent's atexit handlers and
//   static destructors do not run in it, but stdio is flushed.
// - exitcode() is empty until the child has ended and been reaped, then the
//   exit code, or minus the signal number if a signal killed it (Python's
//   convention: -15 after Terminate()).
// - Name: "Process-N" by default, N counting the Process objects this process
//   has made, from 1 (Python does the same).
// - Daemon processes (SetDaemon(true) before Start()), as in Python: when a
//   process exits normally (returns from main() or calls exit(), or a Process
//   target returns), it first terminates its daemon children, then waits for
//   its non-daemon children. In the parent this is an atexit() handler that
//   Start() installs; in a Process child it runs after the target returns. A
//   daemon process may not start processes of its own (FailedPrecondition),
//   because nobody would wait for them when it is terminated.
// - "Terminate" means SIGTERM, then SIGKILL if the process has not ended within
//   kTerminateGrace (so a child that ignores SIGTERM cannot hang its parent's
//   exit). None of this runs if the parent is killed by a signal or calls
//   _exit(): the kernel does not stop children when their parent dies. Ask for
//   that with SetParentDeathSignal(SIGKILL) (Linux's PR_SET_PDEATHSIG).
// - Destroying a started Process that has not been joined does what exit
//   would: a daemon child is terminated and reaped, a non-daemon child is
//   joined (waited for, like std::jthread). So no zombie is ever left behind.
// - Only the process that called Start() does any of this: a process forked
//   by other means (common::Child, a ProcessPool worker) that calls exit()
//   leaves its parent's children alone.
// - A Process cannot be copied or moved (its parent keeps a registry of live
//   Process objects by address); keep them in a std::deque or unique_ptrs.
// - Not thread-safe: use a Process, and ActiveChildren(), from one thread.
//   Starting one in a process that has other threads is allowed, but the
//   target must then only call async-signal-safe functions.

#ifndef MULTITASK_COMMON_PROCESS_H_
#define MULTITASK_COMMON_PROCESS_H_

#include <sys/types.h>

#include <concepts>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/child.h"
#include "common/exit_status.h"

namespace multitask {

class Process {
 public:
  // How long "terminate" waits after SIGTERM before it sends SIGKILL.
  static constexpr absl::Duration kTerminateGrace = absl::Seconds(2);

  // `target` is any callable with no arguments returning void or something
  // convertible to int (the exit code). An empty `name` means "Process-N".
  template <typename F>
  requires std::invocable<F&> &&
      (std::is_void_v<std::invoke_result_t<F&>> ||
       std::is_convertible_v<std::invoke_result_t<F&>,
                             int>)explicit Process(F target,
                                                   std::string name = "")
      : Process(WrapTarget(std::move(target)), std::move(name), 0) {}

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Joins a non-daemon child, terminates and reaps a daemon child (see the
  // contract). Errors are ignored.
  ~Process();

  // Before Start(): whether the child is a daemon (see the contract).
  absl::Status SetDaemon(bool daemon);
  bool daemon() const { return daemon_; }

  // Before Start(): the signal the child gets when the thread that started it
  // ends (normally: when the parent process dies). Linux only. The child
  // checks its parent right after setting it, so a parent that died during
  // the fork is noticed too.
  absl::Status SetParentDeathSignal(int signal_number);

  // Forks and runs the target in the child. Once only (FailedPrecondition on a
  // second call, as Python's "cannot start a process twice").
  absl::Status Start();

  // Waits for the child to end and reaps it; returns how it ended.
  // FailedPrecondition before Start().
  absl::StatusOr<ExitStatus> Join();
  // Waits at most `timeout`; true if the child has ended (and is reaped).
  absl::StatusOr<bool> Join(absl::Duration timeout);

  // Started and not ended yet. Reaps the child if it has ended.
  bool IsAlive();

  // SIGTERM / SIGKILL. A child that has already ended is left alone (OK), as
  // in Python. FailedPrecondition before Start().
  absl::Status Terminate();
  absl::Status Kill();

  const std::string& name() const { return name_; }
  // 0 before Start().
  pid_t pid() const;
  // Empty while running (or before Start()); reaps the child if it has ended.
  std::optional<int> exitcode();
  bool started() const { return child_.has_value(); }

 private:
  Process(std::function<int()> target, std::string name, int);

  template <typename F>
  static std::function<int()> WrapTarget(F target) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      return [target = std::move(target)]() mutable {
        target();
        return 0;
      };
    } else {
      return [target = std::move(target)]() mutable {
        return static_cast<int>(target());
      };
    }
  }

  int RunInChild();
  void Forget();  // Leaves the registry once reaped.
  // Started by this very process. A process forked some other way (Child,
  // a pool worker) inherits copies of its parent's Process objects: they are
  // not its children, and exiting must not touch them.
  bool OwnedHere() const;
  friend void TerminateAndJoinChildrenAtExit();

  std::function<int()> target_;
  std::string name_;
  bool daemon_ = false;
  int parent_death_signal_ = 0;
  pid_t parent_pid_ = 0;  // who called Start()
  std::optional<Child> child_;
};

// The started Process objects of this process whose child is still running,
// in start order (finished ones are reaped on the way, as in Python). The
// pointers are valid as long as those objects live.
std::vector<Process*> ActiveChildren();

// The number of CPUs this process may run on (sched_getaffinity(2)). Python's
// multiprocessing.cpu_count() counts every CPU of the machine instead, which is
// too many under taskset or a container's CPU set.
int CpuCount();

// What exit does for Process objects (see the contract): terminates the daemon
// children, then joins the others. Called by the atexit handler; call it
// yourself before _exit() if you want the same.
void TerminateAndJoinChildrenAtExit();

}  // namespace multitask

#endif  // MULTITASK_COMMON_PROCESS_H_
