// ipc_sync.h: Lock, Event and Semaphore shared by processes created by fork
// (Python's multiprocessing.Lock, Event and Semaphore).
//
//   MT_ASSIGN_OR_RETURN(ipc::ProcessEvent ready, ipc::ProcessEvent::Create());
//   MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
//     ready.Wait();              // sleeps until the parent sets it
//     return 0;
//   }));
//   ready.Set();
//
// Each one lives in its own anonymous shared mapping: create it before fork();
// every process forked afterwards shares it, and nothing is left behind when
// they exit (no /dev/shm name, no file descriptor). The handles are
// move-only; waiting never polls (futexes, see ipc_futex.h).
//
// When a process is killed (SIGKILL) while using one:
// - ProcessLock: a robust mutex (ipc_robust_mutex.h). If the holder dies, the
//   next Lock() gets it and returns kOwnerDied, so the caller can repair the
//   data it guards. (Python's Lock stays locked forever.) Unlike Python's
//   Lock, only the thread that locked it may unlock it.
// - ProcessEvent: a single flag word; killing a setter or a waiter leaves it
//   consistent.
// - ProcessSemaphore: a permit held by a killed process is lost, as in
//   Python: the semaphore cannot know what the dead process was doing.
//   Release() wakes every sleeper, so a waiter killed right after being woken
//   cannot swallow the wake-up that another waiter needed.

#ifndef MULTITASK_COMMON_IPC_SYNC_H_
#define MULTITASK_COMMON_IPC_SYNC_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/ipc_robust_mutex.h"
#include "common/shared_memory.h"

namespace multitask::ipc {

class ProcessLock {
 public:
  using Acquired = RobustMutex::Acquired;

  static absl::StatusOr<ProcessLock> Create();

  // Blocks; kOwnerDied if the previous holder died holding it.
  Acquired Lock() { return mutex_->Lock(); }
  // DeadlineExceeded after `timeout`.
  absl::StatusOr<Acquired> LockFor(absl::Duration timeout);
  void Unlock() { mutex_->Unlock(); }

  // BasicLockable/Lockable, for std::lock_guard and std::unique_lock (they
  // ignore kOwnerDied: use Lock() when the guarded data needs repair).
  void lock() { (void)Lock(); }
  bool try_lock() { return mutex_->TryLock().ok(); }
  void unlock() { Unlock(); }

 private:
  explicit ProcessLock(SharedObject<RobustMutex> mutex)
      : mutex_(std::move(mutex)) {}
  SharedObject<RobustMutex> mutex_;
};

class ProcessEvent {
 public:
  static absl::StatusOr<ProcessEvent> Create();

  // Sets the flag and wakes every waiter.
  void Set();
  void Clear();
  bool IsSet() const;
  // Blocks WHILE the flag is clear (not while it is set: seed 003 has it
  // backwards). True once set; false if `timeout` passed first.
  bool Wait(absl::Duration timeout = absl::InfiniteDuration());

 private:
  explicit ProcessEvent(SharedObject<std::atomic<uint32_t>> flag)
      : flag_(std::move(flag)) {}
  SharedObject<std::atomic<uint32_t>> flag_;
};

class ProcessSemaphore {
 public:
  // InvalidArgument if `initial` is negative.
  static absl::StatusOr<ProcessSemaphore> Create(int initial);

  // Takes one permit, blocking while there is none. DeadlineExceeded after
  // `timeout`.
  absl::Status Acquire(absl::Duration timeout = absl::InfiniteDuration());
  bool TryAcquire() { return Acquire(absl::ZeroDuration()).ok(); }
  // Returns `count` permits and wakes the waiters.
  void Release(int count = 1);
  int Value() const;

 private:
  struct State {
    std::atomic<uint32_t> permits{0};
    std::atomic<uint32_t> sleepers{0};
  };
  explicit ProcessSemaphore(SharedObject<State> state)
      : state_(std::move(state)) {}
  SharedObject<State> state_;
};

}  // namespace multitask::ipc

#endif  // MULTITASK_COMMON_IPC_SYNC_H_
