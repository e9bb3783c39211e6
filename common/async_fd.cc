#include "common/async_fd.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace multitask {

bool AsyncFd::Operation::TryOnce() {
  while (true) {
    ssize_t n = 0;
    switch (kind_) {
      case Kind::kRead:
        n = ::read(fd_->fd(), data_, size_);
        break;
      case Kind::kWriteAll:
        if (written_ == size_) {
          result_ = static_cast<ssize_t>(size_);
          return true;
        }
        n = ::send(fd_->fd(), data_ + written_, size_ - written_, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) {  // A pipe, say: plain write().
          n = ::write(fd_->fd(), data_ + written_, size_ - written_);
        }
        if (n >= 0) {
          written_ += static_cast<size_t>(n);
          continue;
        }
        break;
      case Kind::kAccept:
        n = ::accept4(fd_->fd(), nullptr, nullptr,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
    }
    if (n >= 0) {
      result_ = n;
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    result_ = -errno;
    return true;
  }
}

void AsyncFd::Operation::await_suspend(std::coroutine_handle<> handle) {
  handle_ = handle;
  fd_->waiting_ = this;
  fd_->Interest(kind_ == Kind::kWriteAll ? EPOLLOUT : EPOLLIN | EPOLLRDHUP);
}

AsyncFd::AsyncFd(EventLoop& loop, int fd) : loop_(loop), fd_(fd) {
  // Level-triggered, interested in what the last suspended operation waited
  // for. That is never stale: while the coroutine runs, the loop does not
  // wait, and when it suspends again it sets its interest anew (an epoll_ctl
  // only when the kind changes, as from reading to a blocked write).
  status_ = loop_.Watch(fd_, 0, [this](uint32_t events) { OnEvents(events); });
}

AsyncFd::~AsyncFd() {
  if (status_.ok()) loop_.Unwatch(fd_);
}

void AsyncFd::Interest(uint32_t events) {
  if (status_.ok() && events != interest_) {
    status_ = loop_.Modify(fd_, events);
    interest_ = events;
  }
}

void AsyncFd::OnEvents(uint32_t events) {
  Operation* op = waiting_;
  if (op == nullptr) return;
  const uint32_t wanted =
      op->kind_ == Operation::Kind::kWriteAll ? EPOLLOUT : EPOLLIN | EPOLLRDHUP;
  if ((events & (wanted | EPOLLERR | EPOLLHUP)) == 0) return;
  if (!op->TryOnce()) return;  // Spurious: keep waiting.
  waiting_ = nullptr;
  // May finish the coroutine and destroy this AsyncFd: touch nothing after.
  op->handle_.resume();
}

}  // namespace multitask
