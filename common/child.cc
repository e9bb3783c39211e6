#include "common/child.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask {
namespace {

// Runs in the child: never returns.
[[noreturn]] void RunChildBody(absl::FunctionRef<int()> body) {
  int code = 1;
  try {
    code = body();
  } catch (const std::exception& e) {
    std::cerr << "child " << getpid() << ": uncaught exception: " << e.what()
              << "\n";
  } catch (...) {
    std::cerr << "child " << getpid() << ": uncaught exception\n";
  }
  // _exit() skips atexit handlers and static destructors, which belong to the
  // parent's copy of the program; but it does not flush stdio either, so flush
  // here.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  _exit(code);
}

}  // namespace

absl::StatusOr<Child> Child::Fork(absl::FunctionRef<int()> body) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) RunChildBody(body);
  return Child(pid);
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::move(other.status_)) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    KillAndReapQuietly();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::move(other.status_);
  }
  return *this;
}

Child::~Child() { KillAndReapQuietly(); }

void Child::KillAndReapQuietly() {
  if (pid_ <= 0 || status_.has_value()) return;
  ::kill(pid_, SIGKILL);
  int wait_status;
  while (::waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

absl::StatusOr<ExitStatus> Child::Wait() {
  if (status_.has_value()) return *status_;
  if (pid_ <= 0) return absl::FailedPreconditionError("no child to wait for");
  int wait_status = 0;
  MT_RETURN_IF_ERROR(RetryOnEintr(absl::StrCat("waitpid ", pid_), [&] {
                       return ::waitpid(pid_, &wait_status, 0);
                     }).status());
  status_ = ExitStatus::FromWaitStatus(wait_status);
  return *status_;
}

absl::StatusOr<std::optional<ExitStatus>> Child::TryWait() {
  if (status_.has_value()) return status_;
  if (pid_ <= 0) return absl::FailedPreconditionError("no child to wait for");
  int wait_status = 0;
  MT_ASSIGN_OR_RETURN(pid_t got,
                      RetryOnEintr(absl::StrCat("waitpid ", pid_), [&] {
                        return ::waitpid(pid_, &wait_status, WNOHANG);
                      }));
  if (got == 0) return std::nullopt;
  status_ = ExitStatus::FromWaitStatus(wait_status);
  return status_;
}

absl::StatusOr<std::optional<ExitStatus>> Child::WaitFor(
    absl::Duration timeout) {
  if (status_.has_value()) return status_;
  if (pid_ <= 0) return absl::FailedPreconditionError("no child to wait for");
  // A pidfd becomes readable when the process ends, so poll() can wait for it
  // with a timeout; the child cannot be reaped by anyone else meanwhile, so its
  // pid is stable.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (!pidfd.valid()) return ErrnoStatus("pidfd_open ", pid_);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left =
        std::max(deadline - absl::Now(), absl::ZeroDuration());
    pollfd entry{.fd = pidfd.get(), .events = POLLIN, .revents = 0};
    const int ready = ::poll(&entry, 1,
                             static_cast<int>(absl::ToInt64Milliseconds(
                                 left + absl::Microseconds(999))));
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll pidfd");
    if (ready > 0) return TryWait();
    if (absl::Now() >= deadline) return std::nullopt;
  }
}

absl::StatusOr<ExitStatus> Child::WaitForExitWithoutReaping() {
  if (status_.has_value()) return *status_;
  if (pid_ <= 0) return absl::FailedPreconditionError("no child to wait for");
  siginfo_t info{};
  MT_RETURN_IF_ERROR(RetryOnEintr(absl::StrCat("waitid ", pid_), [&] {
                       return ::waitid(P_PID, static_cast<id_t>(pid_), &info,
                                       WEXITED | WNOWAIT);
                     }).status());
  if (info.si_code == CLD_EXITED) return ExitStatus::Exited(info.si_status);
  return ExitStatus::Killed(info.si_status, info.si_code == CLD_DUMPED);
}

absl::Status Child::Signal(int signal_number) {
  if (status_.has_value() || pid_ <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("child ", pid_, " was already reaped; not signalling"));
  }
  if (::kill(pid_, signal_number) != 0) {
    return ErrnoStatus("kill ", pid_, " ", SignalName(signal_number));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExitStatus> Child::KillAndWait(int signal_number) {
  MT_RETURN_IF_ERROR(Signal(signal_number));
  return Wait();
}

}  // namespace multitask
