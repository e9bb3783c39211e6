#include "common/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/syscall.h"

namespace multitask {

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return ErrnoStatus("epoll_create1");
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return ErrnoStatus("eventfd");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 0;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &event) != 0) {
    return ErrnoStatus("epoll_ctl ADD eventfd");
  }
  return std::unique_ptr<EventLoop>(
      new EventLoop(std::move(epoll), std::move(wake)));
}

absl::Status EventLoop::Watch(int fd, uint32_t events, Callback callback) {
  if (by_fd_.contains(fd)) {
    return absl::AlreadyExistsError(absl::StrCat("fd ", fd, " is watched"));
  }
  const uint64_t token = next_token_++;
  epoll_event event{};
  event.events = events;
  event.data.u64 = token;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return ErrnoStatus("epoll_ctl ADD fd ", fd);
  }
  by_fd_[fd] = token;
  by_token_[token] = std::make_shared<Entry>(Entry{fd, std::move(callback)});
  return absl::OkStatus();
}

absl::Status EventLoop::Modify(int fd, uint32_t events) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) {
    return absl::NotFoundError(absl::StrCat("fd ", fd, " is not watched"));
  }
  epoll_event event{};
  event.events = events;
  event.data.u64 = it->second;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) {
    return ErrnoStatus("epoll_ctl MOD fd ", fd);
  }
  return absl::OkStatus();
}

void EventLoop::Unwatch(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  // Fails only if fd was closed already, which removed it from epoll anyway.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  by_token_.erase(it->second);
  by_fd_.erase(it);
}

absl::Status EventLoop::Run() {
  epoll_event events[64];
  while (!stop_.load()) {
    const int ready = ::epoll_wait(epoll_.get(), events, 64, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("epoll_wait");
    }
    for (int i = 0; i < ready && !stop_.load(); ++i) {
      const uint64_t token = events[i].data.u64;
      if (token == 0) {
        uint64_t count;
        while (::read(wake_.get(), &count, sizeof(count)) > 0) {
        }
        continue;
      }
      auto it = by_token_.find(token);
      if (it == by_token_.end()) continue;  // Unwatched earlier in the batch.
      std::shared_ptr<Entry> entry = it->second;
      entry->callback(events[i].events);
    }
  }
  return absl::OkStatus();
}

void EventLoop::Stop() {
  stop_.store(true);
  const uint64_t one = 1;
  // Can fail only with EAGAIN when the counter is full: it is awake then.
  [[maybe_unused]] ssize_t unused = ::write(wake_.get(), &one, sizeof(one));
}

}  // namespace multitask
