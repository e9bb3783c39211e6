// Reference solution for echo_handler.h (graded with --config=solutions).
//
// Each co_await tries the call at once and suspends only when it would block
// (EAGAIN): the loop then serves other connections and resumes this one when
// its socket is ready. The socket is moved into a local so that it closes at
// co_return (a parameter lives as long as the frame), and the AsyncFd is
// declared after it, so it unwatches before the socket closes.

#include "lessons/async_io/exercises/echo_handler.h"

#include <utility>

namespace multitask::async_io_exercise {

Task EchoHandler(EventLoop& loop, UniqueFd socket_param) {
  UniqueFd socket = std::move(socket_param);
  AsyncFd conn(loop, socket.get());
  if (!conn.ok()) co_return;
  char buffer[4096];
  while (true) {
    const ssize_t got = co_await conn.Read(buffer, sizeof(buffer));
    if (got <= 0) co_return;  // End of file, or an error.
    if (co_await conn.WriteAll(buffer, static_cast<size_t>(got)) < 0) {
      co_return;
    }
  }
}

}  // namespace multitask::async_io_exercise
