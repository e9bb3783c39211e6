#include "common/ipc_futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/syscall.h"

namespace multitask::ipc {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "a futex is a plain 32-bit word");

absl::Status FutexWait(std::atomic<uint32_t>* word, uint32_t expected,
                       absl::Time deadline) {
  timespec absolute;
  const timespec* timeout = nullptr;
  if (deadline != absl::InfiniteFuture()) {
    if (deadline <= absl::Now()) {
      return absl::DeadlineExceededError("futex wait: deadline passed");
    }
    absolute = absl::ToTimespec(deadline);
    timeout = &absolute;
  }
  // FUTEX_WAIT_BITSET takes an absolute deadline (so retries after EINTR do
  // not stretch it); FUTEX_CLOCK_REALTIME matches absl::Now()'s clock.
  const long rc = ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word),
                            FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, expected,
                            timeout, nullptr, FUTEX_BITSET_MATCH_ANY);
  if (rc == 0 || errno == EAGAIN || errno == EINTR) return absl::OkStatus();
  if (errno == ETIMEDOUT) {
    return absl::DeadlineExceededError("futex wait: deadline passed");
  }
  return ErrnoStatus("futex wait");
}

int FutexWake(std::atomic<uint32_t>* word, int count) {
  const long rc = ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word),
                            FUTEX_WAKE, count, nullptr, nullptr, 0);
  // FUTEX_WAKE fails only on a bad address, a programming error.
  if (rc < 0) std::abort();
  return static_cast<int>(rc);
}

}  // namespace multitask::ipc
