// YOUR SOLUTION GOES HERE. See stoppable_worker.h for the task.
//
// As given, the wait ignores the stop token: once the inbox is empty, a
// request_stop() is never noticed. The grader fails until you fix it.

#include "lessons/threads/exercises/stoppable_worker.h"

namespace multitask::threads_exercise {

void SumUntilStopped(std::stop_token stop, Inbox& inbox, long long& sum) {
  std::unique_lock lock(inbox.mu);
  while (!stop.stop_requested()) {
    inbox.arrived.wait(lock, [&] { return !inbox.items.empty(); });
    sum += inbox.items.front();
    inbox.items.pop_front();
    ++inbox.taken;
    inbox.taken_changed.notify_all();
  }
}

}  // namespace multitask::threads_exercise
