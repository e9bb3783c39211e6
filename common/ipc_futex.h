// ipc_futex.h: the Linux futex, the kernel's "sleep until this word changes",
// on a 32-bit word in memory shared between processes.
//
//   std::atomic<uint32_t>* ready = ...;            // in a SharedMapping
//   // waiter:
//   while (ready->load() == 0) FutexWait(ready, 0, absl::InfiniteFuture());
//   // waker:
//   ready->store(1);
//   FutexWake(ready, kFutexWakeAll);
//
// FutexWait sleeps only if *word still equals `expected` when the kernel looks
// (atomically with going to sleep), so a wake that comes between the caller's
// check and the call is not lost. It may return early (a signal, a wake meant
// for someone else): callers always re-check their condition in a loop.
//
// The futexes here are shared (no FUTEX_PRIVATE_FLAG): the kernel keys them by
// the physical page, so they work across processes that map the same memory.
// ThreadSanitizer does not see futex calls as synchronisation; the primitives
// built on them publish data with std::atomic acquire/release, which it does
// see.

#ifndef MULTITASK_COMMON_IPC_FUTEX_H_
#define MULTITASK_COMMON_IPC_FUTEX_H_

#include <atomic>
#include <climits>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace multitask::ipc {

inline constexpr int kFutexWakeAll = INT_MAX;

// Sleeps while *word == expected, until woken or `deadline` (absolute,
// absl::InfiniteFuture() for none). Returns OK when woken, when *word already
// differed, or on EINTR (all mean "re-check"); DeadlineExceeded once
// `deadline` has passed.
absl::Status FutexWait(std::atomic<uint32_t>* word, uint32_t expected,
                       absl::Time deadline);

// Tells the CPU we are spinning on a word another CPU will change (x86 PAUSE:
// it frees resources for the other hyperthread and avoids a costly pipeline
// flush when the word changes). Takes 10 to 150 cycles depending on the CPU.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Wakes up to `count` processes or threads sleeping on `word`; returns how
// many were woken.
int FutexWake(std::atomic<uint32_t>* word, int count);

}  // namespace multitask::ipc

#endif  // MULTITASK_COMMON_IPC_FUTEX_H_
