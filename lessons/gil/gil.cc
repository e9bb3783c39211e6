#include "lessons/gil/gil.h"

#include <cstdio>
#include <cstdlib>

namespace multitask {

Gil::Gil(std::chrono::microseconds switch_interval)
    : interval_(switch_interval < std::chrono::microseconds(1)
                    ? std::chrono::microseconds(1)
                    : switch_interval) {}

Gil::AcquireReport Gil::Acquire() {
  std::unique_lock lock(mu_);
  if (locked_ && last_holder_ == std::this_thread::get_id()) {
    std::fprintf(stderr, "Gil::Acquire: this thread already holds the GIL\n");
    std::abort();
  }
  const std::int64_t switches_on_entry = stats_.switches;
  AcquireReport report;
  while (locked_) {
    const std::int64_t saved_switches = stats_.switches;
    const bool timed_out =
        cond_.wait_for(lock, interval_) == std::cv_status::timeout;
    // A whole interval went by and nobody else got the lock either: ask the
    // holder to drop it. (If another waiter won meanwhile, wait a fresh
    // interval for it instead: it has only just started.)
    if (timed_out && locked_ && stats_.switches == saved_switches &&
        !drop_request_.load(std::memory_order_relaxed)) {
      drop_request_.store(true, std::memory_order_relaxed);
      ++stats_.drop_requests;
      ++report.drop_requests;
    }
  }
  locked_ = true;
  ++stats_.acquisitions;
  if (last_holder_ != std::this_thread::get_id()) {
    last_holder_ = std::this_thread::get_id();
    ++stats_.switches;
    switch_cond_.notify_all();  // the old holder may be waiting in Release()
  }
  // Whoever asked, the request is answered: the lock changed hands.
  drop_request_.store(false, std::memory_order_relaxed);
  report.handovers_to_others = stats_.switches - switches_on_entry;
  if (report.handovers_to_others > 0) {
    --report.handovers_to_others;  // the last one was to this thread
  }
  return report;
}

void Gil::Release() {
  std::unique_lock lock(mu_);
  const std::thread::id me = std::this_thread::get_id();
  if (!locked_ || last_holder_ != me) {
    std::fprintf(stderr, "Gil::Release: this thread does not hold the GIL\n");
    std::abort();
  }
  locked_ = false;
  cond_.notify_one();
  if (drop_request_.load(std::memory_order_relaxed)) {
    // FORCE_SWITCHING: somebody has waited a whole interval; do not race it
    // for the lock, wait until it (or any other thread) has taken it.
    ++stats_.forced_switches;
    switch_cond_.wait(lock, [&] { return last_holder_ != me; });
  }
}

bool Gil::HeldByMe() const {
  std::lock_guard lock(mu_);
  return locked_ && last_holder_ == std::this_thread::get_id();
}

Gil::Stats Gil::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace multitask
