#include "common/ipc_robust_mutex.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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
  return Finish(&mutex_, pthread_mutex_lock(&mutex_), "lock");
}

absl::StatusOr<RobustMutex::Acquired> RobustMutex::LockUntil(
    absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return Lock();
  const timespec absolute = absl::ToTimespec(deadline);
  const int rc = pthread_mutex_timedlock(&mutex_, &absolute);
  if (rc == ETIMEDOUT) {
    return absl::DeadlineExceededError("timed out waiting for the lock");
  }
  return Finish(&mutex_, rc, "timedlock");
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
