#include "common/step_scheduler.h"

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

namespace multitask {

StepScheduler::StepScheduler(int num_threads, std::vector<int> script)
    : num_threads_(num_threads),
      script_(std::move(script)),
      my_turn_(static_cast<std::size_t>(num_threads)),
      finished_(static_cast<std::size_t>(num_threads), false),
      in_step_(static_cast<std::size_t>(num_threads), false) {
  owner_ = PickNextLocked();
}

int StepScheduler::PickNextLocked() {
  while (next_in_script_ < script_.size()) {
    const int candidate = script_[next_in_script_++];
    if (candidate >= 0 && candidate < num_threads_ && !finished_[candidate]) {
      return candidate;
    }
  }
  // Script used up: round-robin from the last thread that ran.
  for (int offset = 1; offset <= num_threads_; ++offset) {
    const int candidate = (last_owner_ + offset + num_threads_) % num_threads_;
    if (!finished_[candidate]) return candidate;
  }
  return -1;
}

void StepScheduler::EndStepLocked(int id) {
  in_step_[id] = false;
  last_owner_ = id;
  owner_ = PickNextLocked();
  // Wake only the thread whose turn it is.
  if (owner_ >= 0) my_turn_[owner_].notify_one();
}

void StepScheduler::Step(int id) {
  std::unique_lock lock(mu_);
  if (in_step_[id]) EndStepLocked(id);
  my_turn_[id].wait(lock, [&] { return owner_ == id; });
  in_step_[id] = true;
  trace_.push_back(id);
}

void StepScheduler::Finish(int id) {
  std::lock_guard lock(mu_);
  finished_[id] = true;
  if (in_step_[id] || owner_ == id) EndStepLocked(id);
}

void StepScheduler::Run(const std::function<void(int id)>& body) {
  std::vector<std::jthread> threads;
  threads.reserve(static_cast<std::size_t>(num_threads_));
  for (int id = 0; id < num_threads_; ++id) {
    threads.emplace_back([this, &body, id] {
      body(id);
      Finish(id);
    });
  }
}

std::vector<int> StepScheduler::trace() const {
  std::lock_guard lock(mu_);
  return trace_;
}

std::vector<int> ShuffledScript(int num_threads, int steps_per_thread,
                                unsigned seed) {
  std::vector<int> script;
  for (int id = 0; id < num_threads; ++id) {
    script.insert(script.end(), static_cast<std::size_t>(steps_per_thread), id);
  }
  std::mt19937 generator(seed);
  std::shuffle(script.begin(), script.end(), generator);
  return script;
}

}  // namespace multitask
