// event_loop.h: a single-threaded epoll event loop.
//
// One thread waits in epoll_wait() for any of many file descriptors to become
// ready, and calls the callback registered for each ready one: the model of
// nginx, Node.js and Python's asyncio, and of seed 001's "异步IO".
//
// Example:
//   MT_ASSIGN_OR_RETURN(std::unique_ptr<EventLoop> loop, EventLoop::Create());
//   MT_RETURN_IF_ERROR(loop->Watch(fd, EPOLLIN, [&](uint32_t events) {
//     ... read from fd (non-blocking) ...
//     loop->Unwatch(fd);   // allowed inside a callback, even this one
//     loop->Stop();
//   }));
//   MT_RETURN_IF_ERROR(loop->Run());   // returns after Stop()
//
// Contract:
// - Not thread-safe, except Stop(): Watch/Modify/Unwatch/Run from the loop's
//   thread only (callbacks run on it). Callbacks must not block: one blocked
//   callback stalls every descriptor.
// - A descriptor is watched at most once. Unwatch() before closing it. Once
//   Unwatch() returns, its callback is never called again, not even for an
//   event already fetched in the current batch (watches carry a unique token,
//   so a new descriptor that reuses the number gets only its own events).
// - Level-triggered unless `events` has EPOLLET.
// - Destroying the loop drops every watch (it does not close the descriptors).

#ifndef MULTITASK_COMMON_EVENT_LOOP_H_
#define MULTITASK_COMMON_EVENT_LOOP_H_

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/fd.h"

namespace multitask {

class EventLoop {
 public:
  using Callback = std::function<void(uint32_t events)>;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop() = default;

  // Calls `callback(events)` from Run() whenever `fd` is ready for `events`
  // (EPOLLIN, EPOLLOUT, ...; EPOLLERR and EPOLLHUP are always reported).
  // AlreadyExists if `fd` is watched already.
  absl::Status Watch(int fd, uint32_t events, Callback callback);

  // Changes the events `fd` is watched for.
  absl::Status Modify(int fd, uint32_t events);

  // Stops watching `fd` (no-op if it is not watched).
  void Unwatch(int fd);

  // Dispatches events until Stop(). Fails only if epoll_wait does.
  absl::Status Run();

  // Makes Run() return once the current callback returns. Thread-safe. If Run()
  // is not running, the next Run() returns at once.
  void Stop();

  // Number of descriptors watched now.
  size_t watched() const { return by_fd_.size(); }

 private:
  struct Entry {
    int fd;
    Callback callback;
  };

  EventLoop(UniqueFd epoll, UniqueFd wake) noexcept
      : epoll_(std::move(epoll)), wake_(std::move(wake)) {}

  UniqueFd epoll_;
  UniqueFd wake_;  // An eventfd: Stop() writes to it to wake epoll_wait.
  std::atomic<bool> stop_{false};
  uint64_t next_token_ = 1;  // 0 is the wake eventfd.
  std::unordered_map<int, uint64_t> by_fd_;
  // shared_ptr: a callback that unwatches itself stays alive until it returns.
  std::unordered_map<uint64_t, std::shared_ptr<Entry>> by_token_;
};

}  // namespace multitask

#endif  // MULTITASK_COMMON_EVENT_LOOP_H_
