// locks_lesson.h: the locks lesson. Races and deadlocks made to happen on
// purpose (so a test can say exactly how much was lost), the fixes proven
// exact, and Python's threading primitives (Lock, RLock, Event, Condition,
// Semaphore, Barrier) next to their C++ counterparts.
//
//   // Seed 000: 100 deposits of 1, everyone reads before anyone writes.
//   DepositRun run = RunDeposits(100, AllReadThenAllWrite(100), Guard::kNone);
//   // run.balance == 1, run.lost() == 99. With Guard::kMutex: always 100.
//
// Every function here is deterministic: interleavings come from a
// StepScheduler script or from latches, never from timing. All of it is
// ThreadSanitizer-clean; the racy-on-purpose "natural" runs live in racy.h.

#ifndef MULTITASK_LESSONS_LOCKS_LOCKS_LESSON_H_
#define MULTITASK_LESSONS_LOCKS_LOCKS_LESSON_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace multitask::locks {

enum class Guard { kNone, kMutex };

// ---- Seed 000: the bank account --------------------------------------------

// Each of `threads` threads deposits 1: step 1 reads the balance, step 2
// writes read + 1 (the seed's sleep(0.01) sits between them). `script` says
// whose step runs next (see StepScheduler). With kMutex the read and the
// write happen under one std::mutex (taken with try_lock, yielding a step on
// failure, so the scheduler can run the holder).
struct DepositRun {
  int deposits = 0;
  int balance = 0;
  int lost() const { return deposits - balance; }
};
DepositRun RunDeposits(int threads, const std::vector<int>& script,
                       Guard guard);

// Scripts for RunDeposits.
std::vector<int> AllReadThenAllWrite(int threads);  // 0..n-1, 0..n-1: loses n-1
std::vector<int> OneAfterAnother(int threads);      // 0,0,1,1,...: loses 0
std::vector<int> InPairs(int threads);  // 0,1,0,1,2,3,2,3,...: loses n/2

// What RunDeposits(kNone) must give for `script`, computed without threads.
int SimulateDeposits(int threads, const std::vector<int>& script);

// ---- Seed 001: balance = balance + n; balance = balance - n ----------------

// Thread 0 runs change_it(5), thread 1 change_it(8), `iterations` times each.
// One change_it is four steps: read, write +n, read, write -n. Returns the
// final balance (0 if nothing was lost).
int RunChangeIt(int iterations, const std::vector<int>& script, Guard guard);

// ---- RLock: reentrancy ------------------------------------------------------

// Transfer() locks the account and calls Withdraw() and Deposit(), which lock
// it again. With std::recursive_mutex that is fine. With a non-reentrant lock
// the thread waits for itself forever; we use a TrackedMutex so the watchdog
// reports it instead of hanging. Returns "" on success, else the report.
std::string TransferWithReentrantLock();
std::string TransferWithPlainLock(absl::Duration patience);

// ---- Condition: a bounded producer/consumer queue ---------------------------

// Python's queue.Queue in miniature: std::mutex + two condition variables.
// Every wait has a predicate, so a spurious wake-up (a notify with nothing to
// do) just waits again. Thread-safe.
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}
  // Blocks while full. Returns false if the queue is closed.
  bool Push(int value);
  // Blocks while empty and open. nullopt once closed and drained.
  std::optional<int> Pop();
  // Wakes everyone; Push fails and Pop drains from now on.
  void Close();
  // Wakes every waiter for no reason: what a spurious wake-up looks like.
  void WakeEveryoneForNoReason();
  // How many times a Pop() woke up and found nothing to take.
  int empty_wakeups() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<int> items_;
  bool closed_ = false;
  int empty_wakeups_ = 0;
};

struct ProducerConsumerRun {
  long long produced_sum = 0;
  long long consumed_sum = 0;
  int consumed_count = 0;
  int empty_wakeups = 0;
};
// One producer pushes 1..items, `consumers` threads pop until closed; the main
// thread injects `spurious_wakeups` WakeEveryoneForNoReason() calls.
ProducerConsumerRun RunProducerConsumer(int items, int consumers,
                                        std::size_t capacity,
                                        int spurious_wakeups);

// ---- Semaphore: at most k workers at once -----------------------------------

// `workers` threads each acquire a std::counting_semaphore of `permits`, stay
// inside until the first `permits` of them are in (proving the limit is
// reached), then leave. Returns the most that were ever inside at once.
int MaxConcurrentUnderSemaphore(int workers, int permits);

// ---- Event ------------------------------------------------------------------

// Python's threading.Event: set / clear / is_set / wait. (For a one-shot
// event, std::latch(1) is enough; Event can be cleared and reused.)
class Event {
 public:
  void Set();
  void Clear();
  bool IsSet() const;
  void Wait() const;
  // False if not set within `timeout`.
  bool WaitFor(absl::Duration timeout) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  bool set_ = false;
};

// `waiters` threads wait on one Event; the main thread writes a value, then
// Set()s. Returns how many waiters saw that value.
int WaitersThatSawTheValue(int waiters);

// ---- Barrier ----------------------------------------------------------------

// `threads` threads, `phases` phases: in each phase each thread writes its
// slot, std::barrier::arrive_and_wait(), then reads every slot. Returns, per
// phase, the sum every thread saw (all equal when the barrier works) and how
// often the barrier's completion function ran.
struct BarrierRun {
  std::vector<long long> sums_seen;  // threads * phases entries
  int completions = 0;
};
BarrierRun RunBarrierPhases(int threads, int phases);

// ---- Deadlock ---------------------------------------------------------------

struct DeadlockRun {
  int victims = 0;            // Lock() calls the watchdog aborted
  std::string report;         // who held what, from the watchdog
  int transfers_done = 0;     // transfers that completed
  long long total_money = 0;  // must stay 2 * 100 whatever happens
};

// Two threads ("alice", "bob") transfer between accounts A and B: alice locks
// A then B, bob B then A. A latch makes both take their first lock before
// either tries its second: a deadlock every time. The watchdog aborts one of
// them, which lets go; the other finishes its transfer.
DeadlockRun TransferInOppositeOrders(absl::Duration patience);

// The fix: both lock in one global order (by account id), `transfers` times
// each, released together by a latch. Never deadlocks: victims == 0.
DeadlockRun TransferInOneOrder(int transfers, absl::Duration patience);

// The fix with std::scoped_lock(a, b) vs scoped_lock(b, a): it takes both
// without deadlock whatever the order given. Returns transfers done.
DeadlockRun TransferWithScopedLock(int transfers);

}  // namespace multitask::locks

#endif  // MULTITASK_LESSONS_LOCKS_LOCKS_LESSON_H_
