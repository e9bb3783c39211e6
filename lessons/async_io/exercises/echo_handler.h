// Exercise: write a connection handler as a coroutine on the event loop.
//
// One thread runs an EventLoop (common/event_loop.h) and serves every
// connection. Each connection gets a handler, EchoHandler(), that echoes back
// every byte it receives until the client closes. As given, the handler is
// written the way a thread per connection would be: it waits for data with a
// blocking poll() and read(). On the loop's only thread that wait stalls every
// other connection: while one client is silent, nobody else is served.
//
// Rewrite it as a coroutine that never blocks: `co_await` an AsyncFd's Read()
// and WriteAll() (common/async_fd.h), so that whenever the socket has nothing
// to read (or no room to write) the handler suspends and the loop serves the
// other connections. The code still reads top to bottom.
//
// Edit echo_handler.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/async_io/exercises/...
//
// Hint: the example at the top of common/async_fd.h, and what it says about
// parameters and AsyncFd's lifetime. The grader serves its clients from a loop
// in a thread and bounds every wait, so a handler that blocks fails the grade
// (after a few seconds) instead of hanging it.

#ifndef MULTITASK_LESSONS_ASYNC_IO_EXERCISES_ECHO_HANDLER_H_
#define MULTITASK_LESSONS_ASYNC_IO_EXERCISES_ECHO_HANDLER_H_

#include "common/async_fd.h"
#include "common/event_loop.h"
#include "common/fd.h"

namespace multitask::async_io_exercise {

// Serves one connection on `loop`: reads what the client sends and writes it
// all back, in order, until the client closes its end (or an error); then
// closes `socket` and finishes (Task::done()). `socket` is non-blocking and a
// stream (TCP or a Unix socket). Called on the loop's thread; returns at its
// first suspension. Destroying the Task early closes the socket too.
Task EchoHandler(EventLoop& loop, UniqueFd socket);

}  // namespace multitask::async_io_exercise

#endif  // MULTITASK_LESSONS_ASYNC_IO_EXERCISES_ECHO_HANDLER_H_
