#include "common/ipc_sync.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/ipc_futex.h"

namespace multitask::ipc {
namespace {

absl::Time DeadlineFor(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return absl::InfiniteFuture();
  return absl::Now() + timeout;
}

}  // namespace

absl::StatusOr<ProcessLock> ProcessLock::Create() {
  absl::StatusOr<SharedObject<RobustMutex>> mutex =
      SharedObject<RobustMutex>::Create();
  if (!mutex.ok()) return mutex.status();
  return ProcessLock(*std::move(mutex));
}

absl::StatusOr<ProcessLock::Acquired> ProcessLock::LockFor(
    absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return mutex_->TryLock();
  return mutex_->LockUntil(DeadlineFor(timeout));
}

absl::StatusOr<ProcessEvent> ProcessEvent::Create() {
  absl::StatusOr<SharedObject<std::atomic<uint32_t>>> flag =
      SharedObject<std::atomic<uint32_t>>::Create(0u);
  if (!flag.ok()) return flag.status();
  return ProcessEvent(*std::move(flag));
}

void ProcessEvent::Set() {
  if (flag_->exchange(1) == 0) FutexWake(flag_.get(), kFutexWakeAll);
}

void ProcessEvent::Clear() { flag_->store(0); }

bool ProcessEvent::IsSet() const { return flag_->load() != 0; }

bool ProcessEvent::Wait(absl::Duration timeout) {
  const absl::Time deadline = DeadlineFor(timeout);
  while (flag_->load() == 0) {
    if (absl::IsDeadlineExceeded(FutexWait(flag_.get(), 0, deadline))) {
      return flag_->load() != 0;
    }
  }
  return true;
}

absl::StatusOr<ProcessSemaphore> ProcessSemaphore::Create(int initial) {
  if (initial < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("semaphore initial value ", initial, " < 0"));
  }
  absl::StatusOr<SharedObject<State>> state = SharedObject<State>::Create();
  if (!state.ok()) return state.status();
  (*state)->permits.store(static_cast<uint32_t>(initial));
  return ProcessSemaphore(*std::move(state));
}

absl::Status ProcessSemaphore::Acquire(absl::Duration timeout) {
  const absl::Time deadline = DeadlineFor(timeout);
  while (true) {
    uint32_t permits = state_->permits.load();
    while (permits > 0) {
      if (state_->permits.compare_exchange_weak(permits, permits - 1)) {
        return absl::OkStatus();
      }
    }
    // Announce the sleep before checking again in the kernel: Release either
    // sees a sleeper, or FutexWait sees the new permit (both seq_cst).
    state_->sleepers.fetch_add(1);
    absl::Status slept = FutexWait(&state_->permits, 0, deadline);
    state_->sleepers.fetch_sub(1);
    if (absl::IsDeadlineExceeded(slept) && state_->permits.load() == 0) {
      return absl::DeadlineExceededError("semaphore: no permit before timeout");
    }
    if (!slept.ok() && !absl::IsDeadlineExceeded(slept)) return slept;
  }
}

void ProcessSemaphore::Release(int count) {
  state_->permits.fetch_add(static_cast<uint32_t>(count));
  // A killed sleeper leaves `sleepers` too high: that costs a useless wake-up,
  // never a lost one.
  if (state_->sleepers.load() > 0) FutexWake(&state_->permits, kFutexWakeAll);
}

int ProcessSemaphore::Value() const {
  return static_cast<int>(state_->permits.load());
}

}  // namespace multitask::ipc
