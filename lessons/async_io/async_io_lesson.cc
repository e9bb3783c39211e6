#include "lessons/async_io/async_io_lesson.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <list>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/async_fd.h"
#include "common/event_loop.h"
#include "common/proc.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask::async_io {
namespace {

constexpr size_t kBufferSize = 16 * 1024;

// --- Model 1: one thread, an epoll loop, callbacks ---------------------------

absl::Status ServeEventLoop(int listen_fd, int stop_fd) {
  MT_ASSIGN_OR_RETURN(std::unique_ptr<EventLoop> loop, EventLoop::Create());
  // What a connection must remember between callbacks: the echo it could not
  // send yet. While it has one, it waits for EPOLLOUT and stops reading
  // (backpressure: a client that does not read cannot make us buffer more).
  struct Connection {
    UniqueFd fd;
    std::string pending;
    size_t sent = 0;
  };
  std::unordered_map<int, std::unique_ptr<Connection>> connections;
  char buffer[kBufferSize];  // Shared by all: callbacks never overlap.

  auto close_connection = [&](int fd) {
    loop->Unwatch(fd);
    connections.erase(fd);  // Closes it.
  };
  auto serve = [&](Connection* c) {
    const int fd = c->fd.get();
    if (!c->pending.empty()) {  // Flushing an echo that did not fit.
      const ssize_t n = ::send(fd, c->pending.data() + c->sent,
                               c->pending.size() - c->sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) close_connection(fd);
        return;
      }
      c->sent += static_cast<size_t>(n);
      if (c->sent < c->pending.size()) return;
      c->pending.clear();
      c->sent = 0;
      if (!loop->Modify(fd, EPOLLIN).ok()) close_connection(fd);
      return;
    }
    const ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got <= 0) {  // End of file, or an error such as ECONNRESET.
      close_connection(fd);
      return;
    }
    ssize_t sent = ::send(fd, buffer, static_cast<size_t>(got), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EINTR) {
      close_connection(fd);
      return;
    }
    sent = std::max<ssize_t>(sent, 0);
    if (sent < got) {
      c->pending.assign(buffer + sent, buffer + got);
      if (!loop->Modify(fd, EPOLLOUT).ok()) close_connection(fd);
    }
  };
  absl::Status error;
  auto accept_all = [&](uint32_t) {
    while (true) {
      const int fd =
          ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
        error = ErrnoStatus("accept4");
        loop->Stop();
        return;
      }
      auto connection = std::make_unique<Connection>();
      connection->fd = UniqueFd(fd);
      Connection* c = connection.get();
      connections[fd] = std::move(connection);
      if (!loop->Watch(fd, EPOLLIN, [&serve, c](uint32_t) { serve(c); }).ok()) {
        connections.erase(fd);
      }
    }
  };
  MT_RETURN_IF_ERROR(loop->Watch(listen_fd, EPOLLIN, accept_all));
  MT_RETURN_IF_ERROR(
      loop->Watch(stop_fd, EPOLLIN, [&](uint32_t) { loop->Stop(); }));
  MT_RETURN_IF_ERROR(loop->Run());
  loop->Unwatch(listen_fd);
  loop->Unwatch(stop_fd);
  for (auto& [fd, connection] : connections) loop->Unwatch(fd);
  connections.clear();
  return error;
}

// --- Model 2: the same loop, one coroutine per connection --------------------

Task EchoConnection(EventLoop& loop, UniqueFd socket_param) {
  // Parameters live as long as the frame; a local closes at co_return.
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

Task AcceptConnections(EventLoop& loop, int listen_fd,
                       std::list<Task>& connections, absl::Status& error) {
  AsyncFd listener(loop, listen_fd);
  if (!listener.ok()) {
    error = listener.status();
    loop.Stop();
    co_return;
  }
  while (true) {
    const ssize_t fd = co_await listener.Accept();
    if (fd < 0) {
      if (fd == -ECONNABORTED || fd == -EINTR) continue;
      error = ErrnoStatusWithCode(static_cast<int>(-fd), "accept4");
      loop.Stop();
      co_return;
    }
    connections.remove_if([](const Task& t) { return t.done(); });
    connections.push_back(EchoConnection(loop, UniqueFd(static_cast<int>(fd))));
  }
}

absl::Status ServeCoroutines(int listen_fd, int stop_fd) {
  MT_ASSIGN_OR_RETURN(std::unique_ptr<EventLoop> loop, EventLoop::Create());
  std::list<Task> connections;
  absl::Status error;
  Task acceptor = AcceptConnections(*loop, listen_fd, connections, error);
  MT_RETURN_IF_ERROR(
      loop->Watch(stop_fd, EPOLLIN, [&](uint32_t) { loop->Stop(); }));
  const absl::Status run = loop->Run();
  loop->Unwatch(stop_fd);
  // Destroying a suspended coroutine runs its locals' destructors: every
  // AsyncFd unwatches, every socket closes.
  acceptor = Task();
  connections.clear();
  MT_RETURN_IF_ERROR(run);
  return error;
}

// --- Models 3 and 4: a blocking worker per connection ------------------------

// Sends all of `data` (MSG_NOSIGNAL: a vanished peer is an error, not SIGPIPE).
bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Echoes with blocking calls until the peer closes or `stop_fd` is readable.
// Returns the worker's exit code (0: normal end).
int EchoBlocking(int conn, int stop_fd) {
  char buffer[kBufferSize];
  pollfd fds[2] = {{conn, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[1].revents != 0) return 0;  // The server is stopping.
    const ssize_t got = ::read(conn, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 0;  // End of file or reset: the client is gone.
    if (!SendAll(conn, buffer, static_cast<size_t>(got))) return 0;
  }
}

// Waits until `listen_fd` has a connection (returns it) or `stop_fd` is
// readable (returns -1), reaping finished workers every `reap_every` if set.
absl::StatusOr<int> AcceptOrStop(int listen_fd, int stop_fd, int timeout_ms,
                                 bool* stop) {
  pollfd fds[2] = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  if (::poll(fds, 2, timeout_ms) < 0) {
    if (errno == EINTR) return -1;
    return ErrnoStatus("poll");
  }
  if (fds[1].revents != 0) {
    *stop = true;
    return -1;
  }
  if (fds[0].revents == 0) return -1;
  // The listening socket is non-blocking: another waiter may have taken the
  // connection (EAGAIN). Accepted sockets are blocking (flags not inherited).
  const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return -1;
    return ErrnoStatus("accept4");
  }
  return fd;
}

absl::Status ServeThreadPerConnection(int listen_fd, int stop_fd) {
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::list<Worker> workers;
  absl::Status status;
  bool stop = false;
  while (!stop) {
    absl::StatusOr<int> fd = AcceptOrStop(listen_fd, stop_fd, -1, &stop);
    if (!fd.ok()) {
      status = fd.status();
      break;
    }
    if (*fd < 0) continue;
    workers.remove_if([](Worker& w) {
      if (!w.done.load()) return false;
      w.thread.join();
      return true;
    });
    Worker& worker = workers.emplace_back();
    const int conn = *fd;
    try {
      worker.thread = std::thread([conn, stop_fd, &worker] {
        UniqueFd owned(conn);
        EchoBlocking(conn, stop_fd);
        worker.done.store(true);
      });
    } catch (const std::system_error& e) {  // EAGAIN: too many threads.
      ::close(conn);
      workers.pop_back();
      status = absl::ResourceExhaustedError(
          absl::StrCat("cannot start a thread: ", e.what()));
      break;
    }
  }
  // Every worker sees stop_fd readable (or its client gone) and returns.
  for (Worker& w : workers) w.thread.join();
  return status;
}

absl::Status ServeProcessPerConnection(int listen_fd, int stop_fd) {
  std::list<Child> children;
  absl::Status status;
  int failed = 0;
  auto reap_finished = [&] {
    children.remove_if([&](Child& child) {
      absl::StatusOr<std::optional<ExitStatus>> ended = child.TryWait();
      if (!ended.ok() || !ended->has_value()) return false;
      if (!(*ended)->success()) ++failed;
      return true;
    });
  };
  bool stop = false;
  while (!stop) {
    // The timeout only paces the reaping of workers whose clients left.
    absl::StatusOr<int> fd = AcceptOrStop(listen_fd, stop_fd, 100, &stop);
    reap_finished();
    if (!fd.ok()) {
      status = fd.status();
      break;
    }
    if (*fd < 0) continue;
    UniqueFd conn(*fd);
    absl::StatusOr<Child> child = Child::Fork([&] {
      ::close(listen_fd);  // The worker serves one client, it never accepts.
      return EchoBlocking(conn.get(), stop_fd);
    });
    if (!child.ok()) {
      status = child.status();
      break;
    }
    children.push_back(*std::move(child));
    // conn closes here: the parent's copy. The child has its own.
  }
  for (Child& child : children) {
    absl::StatusOr<ExitStatus> ended = child.Wait();
    if (!ended.ok() || !ended->success()) ++failed;
  }
  if (status.ok() && failed > 0) {
    status = absl::InternalError(absl::StrCat(failed, " workers failed"));
  }
  return status;
}

// --- Measuring ---------------------------------------------------------------

absl::StatusOr<int64_t> ProcField(pid_t pid, const std::string& file,
                                  const std::string& field) {
  const std::string path = absl::StrCat("/proc/", pid, "/", file);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, field + ":")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "kB");
    int64_t value = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &value)) {
      return value;
    }
  }
  return absl::NotFoundError(absl::StrCat("no ", field, " in ", path));
}

// The request a connection sends: a pattern unique to connection and request.
void FillMessage(int connection, int64_t request, std::string& message) {
  for (size_t i = 0; i < message.size(); ++i) {
    message[i] = static_cast<char>(
        'a' + (connection * 7 + request * 3 + static_cast<int64_t>(i)) % 26);
  }
}

}  // namespace

const char* ModelName(Model model) {
  switch (model) {
    case Model::kEventLoop:
      return "event loop (epoll, callbacks)";
    case Model::kCoroutines:
      return "event loop + coroutines";
    case Model::kThreadPerConnection:
      return "thread per connection";
    case Model::kProcessPerConnection:
      return "process per connection";
  }
  return "?";
}

std::vector<Model> AllModels() {
  return {Model::kEventLoop, Model::kCoroutines, Model::kThreadPerConnection,
          Model::kProcessPerConnection};
}

absl::StatusOr<Listener> ListenOnLoopback() {
  Listener listener;
  listener.fd = UniqueFd(
      ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener.fd.valid()) return ErrnoStatus("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // The kernel picks a free port.
  if (::bind(listener.fd.get(), reinterpret_cast<sockaddr*>(&address),
             sizeof(address)) != 0) {
    return ErrnoStatus("bind 127.0.0.1:0");
  }
  if (::listen(listener.fd.get(), SOMAXCONN) != 0) return ErrnoStatus("listen");
  socklen_t length = sizeof(address);
  if (::getsockname(listener.fd.get(), reinterpret_cast<sockaddr*>(&address),
                    &length) != 0) {
    return ErrnoStatus("getsockname");
  }
  listener.port = ntohs(address.sin_port);
  return listener;
}

absl::Status ServeEcho(Model model, int listen_fd, int stop_fd) {
  switch (model) {
    case Model::kEventLoop:
      return ServeEventLoop(listen_fd, stop_fd);
    case Model::kCoroutines:
      return ServeCoroutines(listen_fd, stop_fd);
    case Model::kThreadPerConnection:
      return ServeThreadPerConnection(listen_fd, stop_fd);
    case Model::kProcessPerConnection:
      return ServeProcessPerConnection(listen_fd, stop_fd);
  }
  return absl::InvalidArgumentError("unknown model");
}

absl::StatusOr<ServerProcess> StartServerProcess(Model model) {
  MT_ASSIGN_OR_RETURN(Listener listener, ListenOnLoopback());
  MT_ASSIGN_OR_RETURN(Pipe stop, MakePipe());
  MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
                        stop.write_end.Close();  // Or end of file never comes.
                        const absl::Status served = ServeEcho(
                            model, listener.fd.get(), stop.read_end.get());
                        if (!served.ok()) {
                          std::cerr << "echo server " << getpid() << ": "
                                    << served << "\n";
                          return 1;
                        }
                        return 0;
                      }));
  // Our copies of the listening socket and the stop pipe's read end close
  // here: the server process has its own.
  return ServerProcess{std::move(child), listener.port,
                       std::move(stop.write_end)};
}

absl::StatusOr<ServerFootprint> MeasureServer(pid_t pid) {
  std::vector<pid_t> pids = ChildPids(pid);
  pids.insert(pids.begin(), pid);
  ServerFootprint footprint;
  for (pid_t p : pids) {
    absl::StatusOr<int64_t> threads = ProcField(p, "status", "Threads");
    absl::StatusOr<int64_t> rss = ProcField(p, "smaps_rollup", "Rss");
    absl::StatusOr<int64_t> pss = ProcField(p, "smaps_rollup", "Pss");
    if (!threads.ok() || !rss.ok() || !pss.ok()) {
      if (p == pid) return absl::NotFoundError("server process is gone");
      continue;  // A worker that just ended.
    }
    ++footprint.processes;
    footprint.threads += static_cast<int>(*threads);
    footprint.rss_kib += *rss;
    footprint.pss_kib += *pss;
  }
  return footprint;
}

double LoadResult::RequestsPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? requests_done / seconds : 0;
}

absl::StatusOr<LoadResult> RunLoad(int port, const LoadOptions& options) {
  if (options.connections < 1 || options.message_size < 1 ||
      options.requests < 0) {
    return absl::InvalidArgumentError(
        "need at least 1 connection, 1 byte per message, requests >= 0");
  }
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return ErrnoStatus("epoll_create1");

  struct Conn {
    UniqueFd fd;
    int64_t request = 0;
    std::string message;
    size_t sent = 0;
    size_t received = 0;
    bool connected = false;
  };
  const int n = options.connections;
  std::vector<Conn> conns(n);
  auto watch = [&](int id, uint32_t events, int op) -> absl::Status {
    epoll_event event{};
    event.events = events;
    event.data.u32 = static_cast<uint32_t>(id);
    if (::epoll_ctl(epoll.get(), op, conns[id].fd.get(), &event) != 0) {
      return ErrnoStatus("epoll_ctl client ", id);
    }
    return absl::OkStatus();
  };
  auto start_request = [&](int id) -> absl::Status {
    Conn& c = conns[id];
    FillMessage(id, c.request, c.message);
    c.sent = 0;
    c.received = 0;
    return watch(id, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
  };

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const absl::Time start = absl::Now();
  for (int id = 0; id < n; ++id) {
    Conn& c = conns[id];
    c.message.resize(options.message_size);
    c.fd = UniqueFd(
        ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!c.fd.valid()) return ErrnoStatus("socket for client ", id);
    if (::connect(c.fd.get(), reinterpret_cast<sockaddr*>(&address),
                  sizeof(address)) != 0 &&
        errno != EINPROGRESS) {
      return ErrnoStatus("connect client ", id);
    }
    FillMessage(id, 0, c.message);
    MT_RETURN_IF_ERROR(watch(id, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD));
  }

  LoadResult result;
  result.connections = n;
  int answered = 0;        // connections done with their first request
  bool measuring = false;  // after every connection's first answer
  int64_t started = 0;     // requests started in the measured part
  int active = n;          // connections still sending requests
  absl::Time measure_start;
  auto finish_or_next = [&](int id) -> absl::Status {
    Conn& c = conns[id];
    if (measuring) ++result.requests_done;
    ++c.request;
    if (!measuring) {
      // Wait for the others: the measured part starts with all connected.
      MT_RETURN_IF_ERROR(watch(id, 0, EPOLL_CTL_MOD));
      if (++answered < n) return absl::OkStatus();
      result.setup = absl::Now() - start;
      if (options.on_all_answered) options.on_all_answered();
      measuring = true;
      measure_start = absl::Now();
      for (int other = 0; other < n; ++other) {
        if (started < options.requests) {
          ++started;
          MT_RETURN_IF_ERROR(start_request(other));
        } else {
          conns[other].fd.Close();
          --active;
        }
      }
      return absl::OkStatus();
    }
    if (started < options.requests) {
      ++started;
      return start_request(id);
    }
    c.fd.Close();  // Also removes it from the epoll set.
    --active;
    return absl::OkStatus();
  };

  char buffer[64 * 1024];
  epoll_event events[256];
  while (active > 0) {
    const absl::Time deadline = measuring ? measure_start + options.time_limit
                                          : start + options.setup_limit;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      if (measuring) break;
      return absl::DeadlineExceededError(absl::StrCat(
          "only ", answered, " of ", n, " connections were answered within ",
          absl::FormatDuration(options.setup_limit)));
    }
    const int ready =
        ::epoll_wait(epoll.get(), events, 256,
                     static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("epoll_wait");
    }
    for (int e = 0; e < ready; ++e) {
      const int id = static_cast<int>(events[e].data.u32);
      Conn& c = conns[id];
      if (!c.fd.valid()) continue;
      const uint32_t ev = events[e].events;
      if (!c.connected && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int error = 0;
        socklen_t length = sizeof(error);
        ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          return ErrnoStatusWithCode(error,
                                     absl::StrCat("connect client ", id));
        }
        c.connected = true;
      }
      if ((ev & EPOLLOUT) && c.sent < c.message.size()) {
        const ssize_t sent = ::send(c.fd.get(), c.message.data() + c.sent,
                                    c.message.size() - c.sent, MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EINTR) {
          return ErrnoStatus("send client ", id);
        }
        if (sent > 0) c.sent += static_cast<size_t>(sent);
        if (c.sent == c.message.size()) {
          MT_RETURN_IF_ERROR(watch(id, EPOLLIN, EPOLL_CTL_MOD));
        }
      }
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        const size_t want =
            std::min(sizeof(buffer), c.message.size() - c.received);
        const ssize_t got = ::read(c.fd.get(), buffer, want);
        if (got < 0) {
          if (errno == EAGAIN || errno == EINTR) continue;
          return ErrnoStatus("read client ", id);
        }
        if (got == 0) {
          return absl::UnavailableError(absl::StrCat(
              "the server closed client ", id, "'s connection early"));
        }
        for (ssize_t i = 0; i < got; ++i) {
          if (buffer[i] != c.message[c.received + static_cast<size_t>(i)]) {
            ++result.mismatches;
          }
        }
        result.bytes_checked += got;
        c.received += static_cast<size_t>(got);
        if (c.received == c.message.size()) {
          MT_RETURN_IF_ERROR(finish_or_next(id));
        }
      }
    }
  }
  result.elapsed = absl::Now() - measure_start;
  return result;
}

absl::StatusOr<int64_t> RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return ErrnoStatus("getrlimit NOFILE");
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return ErrnoStatus("setrlimit NOFILE");
    }
  }
  return static_cast<int64_t>(limit.rlim_cur);
}

absl::StatusOr<UniqueFd> ConnectToLoopback(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address),
                sizeof(address)) != 0) {
    return ErrnoStatus("connect 127.0.0.1:", port);
  }
  return fd;
}

}  // namespace multitask::async_io
