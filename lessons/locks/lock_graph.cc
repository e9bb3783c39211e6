#include "lessons/locks/lock_graph.h"

#include <pthread.h>

#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace multitask::locks {

std::string CurrentThreadName() {
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0) return "";
  return name;
}

int LockGraph::deadlocks_found() const {
  std::lock_guard lock(mu_);
  return deadlocks_found_;
}

absl::Status LockGraph::Lock(TrackedMutex& mutex) {
  const std::thread::id me = std::this_thread::get_id();
  std::unique_lock lock(mu_);
  thread_names_[me] = CurrentThreadName();
  const auto is_free = [&] { return !owner_.contains(&mutex); };
  waiting_for_[me] = &mutex;
  const auto patience = absl::ToChronoNanoseconds(patience_);
  while (!released_.wait_for(lock, patience, is_free)) {
    // Waited longer than our patience: are we on a cycle?
    std::string cycle = FindCycleLocked(me);
    if (!cycle.empty()) {
      waiting_for_.erase(me);
      ++deadlocks_found_;
      return absl::AbortedError(absl::StrCat("deadlock: ", cycle));
    }
  }
  waiting_for_.erase(me);
  owner_[&mutex] = me;
  return absl::OkStatus();
}

void LockGraph::Unlock(TrackedMutex& mutex) {
  {
    std::lock_guard lock(mu_);
    owner_.erase(&mutex);
  }
  released_.notify_all();
}

std::string LockGraph::FindCycleLocked(std::thread::id me) const {
  std::vector<std::string> links;
  std::thread::id current = me;
  // A cycle through `me` has at most one link per waiting thread.
  for (std::size_t hops = 0; hops <= waiting_for_.size(); ++hops) {
    const auto wanted = waiting_for_.find(current);
    if (wanted == waiting_for_.end()) return "";
    const auto holder = owner_.find(wanted->second);
    if (holder == owner_.end()) return "";
    std::vector<std::string> held;
    for (const auto& [held_mutex, owner] : owner_) {
      if (owner == holder->second) held.push_back(held_mutex->name());
    }
    const auto name = [&](std::thread::id id) {
      const auto found = thread_names_.find(id);
      return found == thread_names_.end() ? std::string("?") : found->second;
    };
    links.push_back(absl::StrCat("thread '", name(current), "' waits for '",
                                 wanted->second->name(), "' held by '",
                                 name(holder->second), "' (who holds '",
                                 absl::StrJoin(held, "', '"), "')"));
    if (holder->second == me) return absl::StrJoin(links, "; ");
    current = holder->second;
  }
  return "";
}

}  // namespace multitask::locks
