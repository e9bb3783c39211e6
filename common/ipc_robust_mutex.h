// ipc_robust_mutex.h: a mutex that lives in shared memory and survives the
// death of the process holding it.
//
//   MT_ASSIGN_OR_RETURN(auto mutex, SharedObject<RobustMutex>::Create());
//   // ... fork ...
//   if (mutex->Lock() == RobustMutex::Acquired::kOwnerDied) {
//     RepairWhatTheDeadOwnerWasChanging();
//   }
//   ... critical section ...
//   mutex->Unlock();
//
// It is a pthread mutex with PTHREAD_PROCESS_SHARED (works across processes
// that map it) and PTHREAD_MUTEX_ROBUST: if its owner dies holding it (even by
// SIGKILL), the kernel marks it, and the next Lock() gets it with
// kOwnerDied instead of waiting forever. The data it guards may be half
// changed then; the caller decides how to repair it. Lock() has already called
// pthread_mutex_consistent(), so the mutex itself is usable again.
//
// One race is left by the kernel and glibc: the owner unlocks and wakes one
// sleeping waiter; that waiter is SIGKILLed before it takes the lock; a third
// process takes the free lock first (so the kernel's clean-up of the dead
// waiter, which only acts on a free lock, does nothing) and unlocks without
// waking anyone, because the unlock cleared the "waiters" bit. The other
// waiters would then sleep forever next to a free lock. (The queue's kill
// storm test found this.) So Lock() never sleeps longer than kBackstop at a
// time: normally it is woken at once; in that rare case it retries after at
// most 20 ms. The lock is only ever held for a few microseconds, so the
// backstop never fires otherwise.
//
// Contract: construct it in place in shared memory before forking (the
// constructor initialises it); it is trivially destructible, so a
// SharedObject<RobustMutex> works. Like any pthread mutex it is owned by a
// thread: only the thread that locked it may unlock it. Not recursive.
// Unexpected pthread errors abort the program (they mean memory corruption or
// misuse, not a condition a caller can handle).

#ifndef MULTITASK_COMMON_IPC_ROBUST_MUTEX_H_
#define MULTITASK_COMMON_IPC_ROBUST_MUTEX_H_

#include <pthread.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace multitask::ipc {

class RobustMutex {
 public:
  enum class Acquired {
    kClean,      // the previous owner unlocked it normally
    kOwnerDied,  // the previous owner died holding it: repair the data
  };

  // The longest Lock() sleeps before retrying (see above).
  static constexpr absl::Duration kBackstop = absl::Milliseconds(20);
  // How many times Lock() looks at a held lock (about 20 ns apart) before it
  // sleeps.
  static constexpr int kSpins = 100;

  RobustMutex();
  RobustMutex(const RobustMutex&) = delete;
  RobustMutex& operator=(const RobustMutex&) = delete;

  // Blocks until this thread owns the mutex.
  Acquired Lock();
  // Gives up at `deadline` with DeadlineExceeded.
  absl::StatusOr<Acquired> LockUntil(absl::Time deadline);
  // Unavailable if another thread holds it.
  absl::StatusOr<Acquired> TryLock();
  void Unlock();

 private:
  pthread_mutex_t mutex_;
};

}  // namespace multitask::ipc

#endif  // MULTITASK_COMMON_IPC_ROBUST_MUTEX_H_
