// Exercise: a worker thread that stops when asked, even while it waits.
//
// SumUntilStopped() takes numbers out of an Inbox and adds them to `sum`,
// until stop is requested. When the inbox is empty it must sleep (no busy
// loop), and that sleep must end as soon as stop is requested. As given, it
// waits on the condition variable without the stop token: a request_stop()
// that arrives while it waits is never noticed, and the thread never ends.
// (This is why Python programs reach for daemon threads; C++ has none.)
//
// Edit stoppable_worker.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/threads/exercises/...
//
// Hint: std::condition_variable_any::wait(lock, stop_token, predicate), and
// StopWithToken() in ../threads_lesson.cc. The grader runs the worker in a
// child with a time limit, so a worker that never stops fails the grade
// instead of hanging it.

#ifndef MULTITASK_LESSONS_THREADS_EXERCISES_STOPPABLE_WORKER_H_
#define MULTITASK_LESSONS_THREADS_EXERCISES_STOPPABLE_WORKER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stop_token>

namespace multitask::threads_exercise {

// A mailbox of numbers. All fields are guarded by `mu`.
struct Inbox {
  void Push(int value) {
    {
      std::lock_guard lock(mu);
      items.push_back(value);
    }
    arrived.notify_all();
  }
  // Blocks until `count` items have been taken out (the worker must do
  // ++taken and taken_changed.notify_all() after each one).
  void WaitUntilTaken(int count) {
    std::unique_lock lock(mu);
    taken_changed.wait(lock, [&] { return taken >= count; });
  }

  std::mutex mu;
  std::condition_variable_any arrived;  // notified by Push()
  std::condition_variable_any taken_changed;
  std::deque<int> items;
  int taken = 0;
};

// The worker's body: std::jthread worker(SumUntilStopped, std::ref(inbox),
// std::ref(sum)) passes the thread's stop token first. Returns promptly once
// stop is requested; `sum` is then the sum of the items taken.
void SumUntilStopped(std::stop_token stop, Inbox& inbox, long long& sum);

}  // namespace multitask::threads_exercise

#endif  // MULTITASK_LESSONS_THREADS_EXERCISES_STOPPABLE_WORKER_H_
