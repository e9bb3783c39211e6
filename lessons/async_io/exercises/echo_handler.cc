// YOUR SOLUTION GOES HERE. See echo_handler.h for the task.
//
// As given, this handler waits for its client with a blocking poll(), as a
// thread per connection may: on the event loop's one thread it serves the
// first client until that client leaves, and nobody else meanwhile. The
// grader fails until you fix it.

#include "lessons/async_io/exercises/echo_handler.h"

#include <poll.h>
#include <unistd.h>

#include <utility>

namespace multitask::async_io_exercise {

Task EchoHandler(EventLoop& loop, UniqueFd socket_param) {
  (void)loop;  // Not used yet: that is the bug.
  UniqueFd socket = std::move(socket_param);
  char buffer[4096];
  while (true) {
    pollfd ready = {socket.get(), POLLIN, 0};
    ::poll(&ready, 1, -1);  // Blocks the loop's thread until this client talks.
    const ssize_t got = ::read(socket.get(), buffer, sizeof(buffer));
    if (got <= 0) co_return;
    if (!WriteAll(socket.get(), {buffer, static_cast<size_t>(got)}).ok()) {
      co_return;
    }
  }
}

}  // namespace multitask::async_io_exercise
