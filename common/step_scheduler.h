// step_scheduler.h: makes one chosen interleaving of threads happen, on
// purpose.
//
// A race the course teaches must happen by construction, not by luck. The
// threads of a demo call Step(id) at every point where another thread could
// interleave (between a read and a write, say). Only one thread runs a step at
// a time, and a `script` chooses whose turn comes next:
//
//   int balance = 0;
//   StepScheduler scheduler(2, {0, 1, 0, 1});   // read, read, write, write
//   scheduler.Run([&](int id) {
//     scheduler.Step(id);
//     int seen = balance;          // step 1: read
//     scheduler.Step(id);
//     balance = seen + 1;          // step 2: write
//   });
//   // balance == 1: one deposit was lost, every time.
//
// Contract:
// - Thread `id` (0..num_threads-1) calls Step(id) before each step; the step is
//   the code up to its next Step(id) or the end of its body. Step blocks until
//   the script gives `id` the turn.
// - script[i] is the thread that runs step i. Entries naming a finished thread
//   are skipped. When the script runs out, turns go round-robin to the threads
//   still running, so every thread finishes (a thread spinning on try_lock()
//   with Step() between attempts lets the lock holder run: see the locks
//   lesson).
// - Between Step() calls a thread must not block on anything the scheduler
//   cannot see (a plain mutex.lock(), a latch): the others are all parked, so
//   that would hang. Use try_lock() + Step() instead.
// - Steps are ordered by the scheduler's own mutex, so data touched only inside
//   steps needs no other synchronisation: the demo is race-free for
//   ThreadSanitizer even though it shows a lost update.
// - Thread-safe. trace() lists the ids in the order their steps ran.

#ifndef MULTITASK_COMMON_STEP_SCHEDULER_H_
#define MULTITASK_COMMON_STEP_SCHEDULER_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace multitask {

class StepScheduler {
 public:
  StepScheduler(int num_threads, std::vector<int> script);

  StepScheduler(const StepScheduler&) = delete;
  StepScheduler& operator=(const StepScheduler&) = delete;

  // Ends the caller's current step (if any) and waits for its next turn.
  void Step(int id);

  // Marks thread `id` finished and passes the turn on. Run() calls it for you.
  void Finish(int id);

  // Starts num_threads threads running body(id), calls Finish(id) when each
  // body returns, and joins them all. `body` must not throw (a thread that
  // never finishes would leave the others waiting for their turn).
  void Run(const std::function<void(int id)>& body);

  int num_threads() const { return num_threads_; }
  std::vector<int> trace() const;

 private:
  // Chooses who runs next. Requires mu_.
  int PickNextLocked();
  void EndStepLocked(int id);

  const int num_threads_;
  const std::vector<int> script_;
  mutable std::mutex mu_;
  std::deque<std::condition_variable> my_turn_;  // one per thread
  std::size_t next_in_script_ = 0;
  int owner_ = -1;  // whose turn it is; -1 when everyone has finished
  int last_owner_ = -1;
  std::vector<bool> finished_;
  std::vector<bool> in_step_;
  std::vector<int> trace_;
};

// A script with `steps_per_thread` turns for each of `num_threads` threads,
// shuffled by a generator seeded with `seed` (same seed, same script).
std::vector<int> ShuffledScript(int num_threads, int steps_per_thread,
                                unsigned seed);

}  // namespace multitask

#endif  // MULTITASK_COMMON_STEP_SCHEDULER_H_
