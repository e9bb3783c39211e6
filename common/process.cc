#include "common/process.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <new>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask {
namespace {

// The started, not yet reaped Process objects of this process. Never destroyed
// (it is used by the atexit handler, which may run after static destructors).
struct Registry {
  std::mutex mu;
  std::vector<Process*> live;
  bool this_process_is_a_daemon = false;
};

Registry& GetRegistry() {
  static Registry* const registry = new Registry;
  return *registry;
}

std::atomic<int> process_counter{0};

// SIGTERM, then SIGKILL after the grace period; reaps. For a started child.
void TerminateAndReap(Child& child) {
  if (child.reaped()) return;
  (void)child.Signal(SIGTERM);
  absl::StatusOr<std::optional<ExitStatus>> ended =
      child.WaitFor(Process::kTerminateGrace);
  if (!ended.ok() || !ended->has_value()) (void)child.KillAndWait(SIGKILL);
}

}  // namespace

Process::Process(std::function<int()> target, std::string name, int)
    : target_(std::move(target)), name_(std::move(name)) {
  const int number = process_counter.fetch_add(1) + 1;
  if (name_.empty()) name_ = absl::StrCat("Process-", number);
}

bool Process::OwnedHere() const {
  return started() && parent_pid_ == ::getpid();
}

Process::~Process() {
  if (OwnedHere() && !child_->reaped()) {
    if (daemon_) {
      TerminateAndReap(*child_);
    } else {
      (void)child_->Wait();
    }
  }
  Forget();
}

absl::Status Process::SetDaemon(bool daemon) {
  if (started()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": SetDaemon after Start"));
  }
  daemon_ = daemon;
  return absl::OkStatus();
}

absl::Status Process::SetParentDeathSignal(int signal_number) {
  if (started()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": SetParentDeathSignal after Start"));
  }
  if (signal_number <= 0 || signal_number >= NSIG) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a signal number: ", signal_number));
  }
  parent_death_signal_ = signal_number;
  return absl::OkStatus();
}

absl::Status Process::Start() {
  if (started()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": cannot start a process twice"));
  }
  Registry& registry = GetRegistry();
  if (registry.this_process_is_a_daemon) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": a daemon process may not start processes"));
  }
  static std::once_flag at_exit_installed;
  std::call_once(at_exit_installed,
                 [] { std::atexit(&TerminateAndJoinChildrenAtExit); });
  const pid_t parent = ::getpid();
  MT_ASSIGN_OR_RETURN(
      Child child, Child::Fork([this, parent] {
        // In the child: the registry copy lists the parent's
        // children, which are not ours to wait for.
        Registry& mine = GetRegistry();
        new (&mine.mu) std::mutex;
        mine.live.clear();
        mine.this_process_is_a_daemon = daemon_;
        if (parent_death_signal_ != 0) {
          if (::prctl(PR_SET_PDEATHSIG, parent_death_signal_) != 0) {
            return 1;
          }
          // The parent may have died before prctl().
          if (::getppid() != parent) ::raise(parent_death_signal_);
        }
        return RunInChild();
      }));
  child_.emplace(std::move(child));
  parent_pid_ = parent;
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.live.push_back(this);
  return absl::OkStatus();
}

int Process::RunInChild() {
  int code = 1;
  try {
    code = target_();
  } catch (const std::exception& e) {
    std::cerr << "Process " << name_ << " (pid " << ::getpid()
              << "): uncaught exception: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "Process " << name_ << " (pid " << ::getpid()
              << "): uncaught exception\n";
  }
  // A Process child ends as a Python one does: daemons stopped, others joined.
  TerminateAndJoinChildrenAtExit();
  return code;
}

void Process::Forget() {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  std::erase(registry.live, this);
}

absl::StatusOr<ExitStatus> Process::Join() {
  if (!started()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": can only join a started process"));
  }
  MT_ASSIGN_OR_RETURN(ExitStatus status, child_->Wait());
  Forget();
  return status;
}

absl::StatusOr<bool> Process::Join(absl::Duration timeout) {
  if (!started()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": can only join a started process"));
  }
  MT_ASSIGN_OR_RETURN(std::optional<ExitStatus> status,
                      child_->WaitFor(timeout));
  if (!status.has_value()) return false;
  Forget();
  return true;
}

bool Process::IsAlive() {
  if (!started() || child_->reaped()) return false;
  absl::StatusOr<std::optional<ExitStatus>> status = child_->TryWait();
  if (!status.ok() || status->has_value()) {
    Forget();
    return false;
  }
  return true;
}

absl::Status Process::Terminate() {
  if (!started()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": terminate before Start"));
  }
  if (child_->reaped()) return absl::OkStatus();
  return child_->Signal(SIGTERM);
}

absl::Status Process::Kill() {
  if (!started()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": kill before Start"));
  }
  if (child_->reaped()) return absl::OkStatus();
  return child_->Signal(SIGKILL);
}

pid_t Process::pid() const { return started() ? child_->pid() : 0; }

std::optional<int> Process::exitcode() {
  if (!IsAlive() && started() && child_->status().has_value()) {
    return child_->status()->python_exitcode();
  }
  return std::nullopt;
}

std::vector<Process*> ActiveChildren() {
  std::vector<Process*> live;
  {
    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    live = registry.live;
  }
  std::erase_if(live, [](Process* p) { return !p->IsAlive(); });
  return live;
}

int CpuCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) {
    return std::max(1, CPU_COUNT(&set));
  }
  return static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
}

void TerminateAndJoinChildrenAtExit() {
  std::vector<Process*> live;
  {
    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    live = registry.live;
  }
  // Copies inherited by a process forked some other way are not ours.
  std::erase_if(live, [](Process* p) { return !p->OwnedHere(); });
  // Python's order: SIGTERM every daemon first (they end in parallel), then
  // wait for everyone.
  for (Process* p : live) {
    if (p->daemon_ && !p->child_->reaped()) (void)p->child_->Signal(SIGTERM);
  }
  for (Process* p : live) {
    if (p->daemon_) {
      TerminateAndReap(*p->child_);
    } else {
      (void)p->child_->Wait();
    }
    p->Forget();
  }
}

}  // namespace multitask
