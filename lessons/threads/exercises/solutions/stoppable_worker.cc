// Reference solution for stoppable_worker.h. Look only after trying.

#include "lessons/threads/exercises/stoppable_worker.h"

namespace multitask::threads_exercise {

void SumUntilStopped(std::stop_token stop, Inbox& inbox, long long& sum) {
  std::unique_lock lock(inbox.mu);
  while (true) {
    // Wakes on a new item OR on request_stop(); false means "stopped".
    if (!inbox.arrived.wait(lock, stop, [&] { return !inbox.items.empty(); })) {
      return;
    }
    sum += inbox.items.front();
    inbox.items.pop_front();
    ++inbox.taken;
    inbox.taken_changed.notify_all();
  }
}

}  // namespace multitask::threads_exercise
