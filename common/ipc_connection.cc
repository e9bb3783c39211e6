#include "common/ipc_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/syscall.h"

namespace multitask::ipc {
namespace {

// Waits until `fd` is readable or `deadline`; DeadlineExceeded then.
absl::Status AwaitReadable(int fd, absl::Time deadline) {
  while (true) {
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      timeout_ms = left <= absl::ZeroDuration()
                       ? 0
                       : static_cast<int>(absl::ToInt64Milliseconds(
                             absl::Ceil(left, absl::Milliseconds(1))));
    }
    pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready > 0) return absl::OkStatus();
    if (ready == 0 && timeout_ms == 0) {
      return absl::DeadlineExceededError("connection: nothing to receive");
    }
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll connection");
  }
}

}  // namespace

absl::Status Connection::Send(absl::string_view message) {
  if (message.size() > kMaxMessageBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("message of ", message.size(), " bytes is over the ",
                     kMaxMessageBytes, "-byte limit"));
  }
  const uint32_t length = static_cast<uint32_t>(message.size());
  iovec parts[2] = {
      {.iov_base = const_cast<uint32_t*>(&length), .iov_len = sizeof(length)},
      {.iov_base = const_cast<char*>(message.data()),
       .iov_len = message.size()}};
  msghdr header{};
  header.msg_iov = parts;
  header.msg_iovlen = 2;
  while (header.msg_iovlen > 0) {
    const ssize_t sent = ::sendmsg(fd_.get(), &header, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("send on connection");
    }
    // Skip what was sent (short writes happen with large messages).
    size_t done = static_cast<size_t>(sent);
    while (header.msg_iovlen > 0 && done >= header.msg_iov[0].iov_len) {
      done -= header.msg_iov[0].iov_len;
      ++header.msg_iov;
      --header.msg_iovlen;
    }
    if (header.msg_iovlen > 0) {
      header.msg_iov[0].iov_base =
          static_cast<char*>(header.msg_iov[0].iov_base) + done;
      header.msg_iov[0].iov_len -= done;
    }
  }
  return absl::OkStatus();
}

absl::Status Connection::ReadFully(char* data, size_t size, absl::Time deadline,
                                   size_t* got) {
  *got = 0;
  while (*got < size) {
    if (absl::Status ready = AwaitReadable(fd_.get(), deadline); !ready.ok()) {
      return ready;
    }
    const ssize_t n = ::read(fd_.get(), data + *got, size - *got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read from connection");
    }
    if (n == 0) return absl::OutOfRangeError("connection closed");
    *got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Connection::Recv(absl::Duration timeout) {
  const absl::Time deadline = timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + timeout;
  uint32_t length = 0;
  size_t got = 0;
  absl::Status status = ReadFully(reinterpret_cast<char*>(&length),
                                  sizeof(length), deadline, &got);
  if (absl::IsOutOfRange(status) && got > 0) {
    return absl::DataLossError("connection closed in the middle of a frame");
  }
  if (!status.ok()) return status;
  std::string message(length, '\0');
  status = ReadFully(message.data(), length, deadline, &got);
  if (absl::IsOutOfRange(status)) {
    return absl::DataLossError(
        absl::StrCat("connection closed in the middle of a frame (", got,
                     " of ", length, " bytes)"));
  }
  if (!status.ok()) return status;
  return message;
}

absl::StatusOr<bool> Connection::Poll(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status ready = AwaitReadable(fd_.get(), deadline);
  if (absl::IsDeadlineExceeded(ready)) return false;
  if (!ready.ok()) return ready;
  return true;
}

absl::StatusOr<ConnectionPair> MakeConnectionPair(bool duplex) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return ErrnoStatus("socketpair");
  }
  ConnectionPair pair{Connection(UniqueFd(fds[0])),
                      Connection(UniqueFd(fds[1]))};
  if (!duplex) {
    if (::shutdown(fds[0], SHUT_WR) != 0 || ::shutdown(fds[1], SHUT_RD) != 0) {
      return ErrnoStatus("shutdown one direction of the socketpair");
    }
  }
  return pair;
}

}  // namespace multitask::ipc
