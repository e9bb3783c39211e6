#include "common/ipc_robust_mutex.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

#include <linux/futex.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/ipc_futex.h"

namespace multitask::ipc {
namespace {

[[noreturn]] void Die(const char* what, int err) {
  std::fprintf(stderr, "RobustMutex: %s: %s\n", what, std::strerror(err));
  std::abort();
}

// Turns a pthread lock result into Acquired, making the mutex consistent
// again if its owner died.
RobustMutex::Acquired Finish(pthread_mutex_t* mutex, int rc, const char* what) {
  if (rc == 0) return RobustMutex::Acquired::kClean;
  if (rc == EOWNERDEAD) {
    if (int err = pthread_mutex_consistent(mutex); err != 0) {
      Die("pthread_mutex_consistent", err);
    }
    return RobustMutex::Acquired::kOwnerDied;
  }
  Die(what, rc);
}

// ThreadSanitizer's interceptor for pthread_mutex_timedlock (GCC 12) records
// the lock only when it returns 0, not EOWNERDEAD (its lock and trylock
// interceptors handle both), so it would report our Unlock() as "unlock of an
// unlocked mutex". Tell it ourselves.
void TellThreadSanitizerWeHoldIt(pthread_mutex_t* mutex) {
#if defined(__SANITIZE_THREAD__)
  __tsan_mutex_pre_lock(mutex, __tsan_mutex_try_lock);
  __tsan_mutex_post_lock(mutex, __tsan_mutex_try_lock, 0);
#else
  (void)mutex;
#endif
}

}  // namespace

RobustMutex::RobustMutex() {
  pthread_mutexattr_t attr;
  int rc = pthread_mutexattr_init(&attr);
  if (rc == 0) rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(&mutex_, &attr);
  if (rc != 0) Die("init", rc);
  pthread_mutexattr_destroy(&attr);
}

RobustMutex::Acquired RobustMutex::Lock() {
  return *LockUntil(absl::InfiniteFuture());
}

absl::StatusOr<RobustMutex::Acquired> RobustMutex::LockUntil(
    absl::Time deadline) {
  // Uncontended: no clock reading.
  if (const int rc = pthread_mutex_trylock(&mutex_); rc != EBUSY) {
    return Finish(&mutex_, rc, "trylock");
  }
  // Held: the holder is usually in a critical section of a few hundred
  // nanoseconds on the other CPU, so watch the lock word for a moment before
  // sleeping (a sleep and its wake-up cost microseconds, and the holder a
  // system call). The word is glibc's: the owner's thread id, 0 when free.
  for (int i = 0; i < kSpins; ++i) {
    CpuRelax();
    if ((__atomic_load_n(&mutex_.__data.__lock, __ATOMIC_RELAXED) &
         FUTEX_TID_MASK) != 0) {
      continue;
    }
    if (const int rc = pthread_mutex_trylock(&mutex_); rc != EBUSY) {
      return Finish(&mutex_, rc, "trylock");
    }
  }
  while (true) {
    // Sleep in the kernel, but at most kBackstop at a time: see the header
    // (a woken waiter killed before it takes the lock can strand the others).
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError("timed out waiting for the lock");
    }
    const timespec until =
        absl::ToTimespec(std::min(deadline, now + kBackstop));
    const int rc = pthread_mutex_timedlock(&mutex_, &until);
    if (rc == EOWNERDEAD) TellThreadSanitizerWeHoldIt(&mutex_);
    if (rc != ETIMEDOUT) return Finish(&mutex_, rc, "timedlock");
  }
}

absl::StatusOr<RobustMutex::Acquired> RobustMutex::TryLock() {
  const int rc = pthread_mutex_trylock(&mutex_);
  if (rc == EBUSY) return absl::UnavailableError("the lock is held");
  return Finish(&mutex_, rc, "trylock");
}

void RobustMutex::Unlock() {
  if (int rc = pthread_mutex_unlock(&mutex_); rc != 0) Die("unlock", rc);
}

}  // namespace multitask::ipc
