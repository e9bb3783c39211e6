// async_io_lesson.h: one echo service, four ways to serve many connections,
// and a load generator that measures them.
//
// Seed 001 ("异步IO": nginx serves many clients from one process with an event
// loop; Apache forks a process per client) and seed 003 (协程, coroutines) as
// running code:
//   kEventLoop            one thread, epoll, callbacks (nginx)
//   kCoroutines           the same loop, but each connection is a C++20
//                         coroutine whose code reads sequentially (asyncio)
//   kThreadPerConnection  a blocking thread for each connection
//   kProcessPerConnection a forked process for each connection (Apache
//                         prefork)
//
// Example:
//   MT_ASSIGN_OR_RETURN(Listener listener, ListenOnLoopback());
//   MT_ASSIGN_OR_RETURN(Pipe stop, MakePipe());
//   std::thread server([&] {
//     ServeEcho(Model::kEventLoop, listener.fd.get(), stop.read_end.get());
//   });
//   MT_ASSIGN_OR_RETURN(LoadResult load,
//                       RunLoad(listener.port, {.connections = 100}));
//   stop.write_end.Close();   // end of file on stop_fd: the server returns
//   server.join();
//
// Every server stops when `stop_fd` becomes readable or reaches end of file;
// it then closes every connection, joins every thread, reaps every process it
// made, and returns. kProcessPerConnection forks: call it only from a process
// with no other threads (run it in a forked server process: see
// StartServerProcess).

#ifndef MULTITASK_LESSONS_ASYNC_IO_ASYNC_IO_LESSON_H_
#define MULTITASK_LESSONS_ASYNC_IO_ASYNC_IO_LESSON_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/child.h"
#include "common/fd.h"

namespace multitask::async_io {

enum class Model {
  kEventLoop,
  kCoroutines,
  kThreadPerConnection,
  kProcessPerConnection,
};
const char* ModelName(Model model);
std::vector<Model> AllModels();

// A listening TCP socket on 127.0.0.1 with a port the kernel chose (port 0),
// non-blocking and close-on-exec.
struct Listener {
  UniqueFd fd;
  int port = 0;
};
absl::StatusOr<Listener> ListenOnLoopback();

// Serves echo on `listen_fd` (from ListenOnLoopback) until `stop_fd` is
// readable or at end of file. See the file comment.
absl::Status ServeEcho(Model model, int listen_fd, int stop_fd);

// A server in a forked process of its own (so that its memory and threads
// can be measured apart from the load generator). Close `stop` to stop it;
// then Wait() on `process` (exit code 0 = clean shutdown). Call before this
// process starts threads.
struct ServerProcess {
  Child process;
  int port = 0;
  UniqueFd stop;
};
absl::StatusOr<ServerProcess> StartServerProcess(Model model);

// What a server (pid, with every child process it has) uses now.
struct ServerFootprint {
  int processes = 0;
  int threads = 0;      // over all its processes
  int64_t rss_kib = 0;  // summed: counts shared pages once per process
  int64_t pss_kib = 0;  // summed: shared pages divided among their sharers
};
absl::StatusOr<ServerFootprint> MeasureServer(pid_t pid);

// The load generator: one thread and epoll, on loopback only. Opens
// `connections` connections; each sends a request of `message_size` bytes
// (a pattern unique to connection and request), waits for the whole echo,
// checks every byte, and sends the next, until `requests` requests are done
// (at least one per connection) or `time_limit` has passed since every
// connection got its first answer. `on_all_answered` runs once at that moment
// (all connections open and served: measure the server then). Fails if the
// connections are not all answered within `setup_limit`.
struct LoadOptions {
  int connections = 10;
  int64_t requests = 1000;
  size_t message_size = 64;
  absl::Duration time_limit = absl::Seconds(2);
  absl::Duration setup_limit = absl::Seconds(30);
  std::function<void()> on_all_answered;
};
struct LoadResult {
  int connections = 0;
  int64_t requests_done = 0;  // after the first round, which is setup
  int64_t bytes_checked = 0;  // echoed bytes compared with what was sent
  int64_t mismatches = 0;     // echoed bytes that differed
  absl::Duration setup;       // until every connection had its first answer
  absl::Duration elapsed;     // the measured part after that
  double RequestsPerSecond() const;
};
absl::StatusOr<LoadResult> RunLoad(int port, const LoadOptions& options);

// Raises this process's soft limit on open files to the hard limit, and
// returns the new soft limit.
absl::StatusOr<int64_t> RaiseOpenFileLimit();

// A blocking client connection to 127.0.0.1:`port` (for tests and demos).
absl::StatusOr<UniqueFd> ConnectToLoopback(int port);

}  // namespace multitask::async_io

#endif  // MULTITASK_LESSONS_ASYNC_IO_ASYNC_IO_LESSON_H_
