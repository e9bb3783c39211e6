// Grader for the coroutine-handler exercise (echo_handler.h). Its messages are
// meant for the student: they say what went wrong and where to look.
//
// Each check runs in a child of the grader (RunInChild, with a time limit).
// There, one thread runs an EventLoop that serves socket pairs with
// EchoHandler, and the child's main thread plays the clients with blocking
// sockets, waiting at most kPatience for each echo: a handler that blocks the
// loop fails the check instead of hanging it.

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/event_loop.h"
#include "common/exit_status.h"
#include "common/fd.h"
#include "common/proc.h"
#include "common/status_macros.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/async_io/async_io_lesson.h"
#include "lessons/async_io/exercises/echo_handler.h"

namespace multitask::async_io_exercise {
namespace {

// How long a client waits for each piece of an echo. A handler that works
// answers in microseconds; this only bounds a handler that blocks.
constexpr absl::Duration kPatience = absl::Seconds(5);

// `connections` socket pairs; the server ends (non-blocking) are served with
// EchoHandler on an event loop in a thread of its own, the client ends
// (blocking) belong to the caller. The destructor closes the client ends,
// stops the loop, destroys the handlers on the loop's thread and joins it.
class EchoServer {
 public:
  static absl::StatusOr<std::unique_ptr<EchoServer>> Start(int connections) {
    auto server = std::unique_ptr<EchoServer>(new EchoServer());
    MT_ASSIGN_OR_RETURN(server->loop_, EventLoop::Create());
    std::vector<UniqueFd> server_ends;
    for (int i = 0; i < connections; ++i) {
      int ends[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0 ||
          ::fcntl(ends[1], F_SETFL, O_NONBLOCK) != 0) {
        return absl::InternalError("socketpair failed");
      }
      server->clients_.emplace_back(ends[0]);
      server_ends.emplace_back(ends[1]);
    }
    EventLoop* loop = server->loop_.get();
    server->thread_ =
        std::thread([loop, ends = std::move(server_ends)]() mutable {
          std::vector<Task> handlers;
          for (UniqueFd& end : ends) {
            handlers.push_back(EchoHandler(*loop, std::move(end)));
          }
          if (absl::Status run = loop->Run(); !run.ok()) {
            std::cout << "the event loop failed: " << run << "\n";
          }
        });  // `handlers` are destroyed here, on the loop's thread.
    return server;
  }

  ~EchoServer() {
    clients_.clear();  // A handler stuck waiting for its client wakes up.
    loop_->Stop();
    thread_.join();
  }

  int client(int i) const { return clients_[i].get(); }

 private:
  EchoServer() = default;
  std::unique_ptr<EventLoop> loop_;
  std::vector<UniqueFd> clients_;
  std::thread thread_;
};

bool Send(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n =
        ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads `size` bytes, waiting at most kPatience for each piece. Returns what
// came; `*why` says why it is short (timed out, end of file).
std::string Receive(int fd, size_t size, std::string* why) {
  std::string got;
  char buffer[64 * 1024];
  while (got.size() < size) {
    pollfd ready = {fd, POLLIN, 0};
    if (::poll(&ready, 1, absl::ToInt64Milliseconds(kPatience)) == 0) {
      *why =
          absl::StrCat("nothing came within ", absl::FormatDuration(kPatience));
      return got;
    }
    const ssize_t n =
        ::read(fd, buffer, std::min(sizeof(buffer), size - got.size()));
    if (n <= 0) {
      *why = "the server closed the connection";
      return got;
    }
    got.append(buffer, static_cast<size_t>(n));
  }
  return got;
}

std::string Message(int connection, int request, size_t size) {
  std::string message(size, ' ');
  for (size_t i = 0; i < size; ++i) {
    message[i] =
        static_cast<char>('a' + (connection * 7 + request * 3 + i) % 26);
  }
  return message;
}

// Expects `expected` back on client `c`; prints what went wrong if not.
bool ExpectEcho(int fd, const std::string& expected, const std::string& who,
                const std::string& blocked_hint) {
  std::string why;
  const std::string got = Receive(fd, expected.size(), &why);
  if (got == expected) return true;
  if (got.size() < expected.size()) {
    std::cout << who << " expected an echo of " << expected.size()
              << " bytes, got " << got.size() << ": " << why << ". "
              << blocked_hint << "\n";
  } else {
    std::cout << who << " got " << got.size()
              << " bytes back, but not the bytes it sent: echo every byte, in "
                 "order (a Read fills only part of the buffer: write back "
                 "`got` bytes, all of them)\n";
  }
  return false;
}

constexpr const char* kBlocksTheLoop =
    "The loop has one thread: while your handler waits for one client in a "
    "blocking call (poll, read, or a write that cannot finish), no other "
    "connection is served. co_await conn.Read(...) and conn.WriteAll(...) "
    "instead: they suspend the coroutine and return to the loop.";

// Runs `clients` against a fresh EchoServer of `connections` in a child of
// the grader, and checks that no descriptor was left open.
void ExpectServed(int connections,
                  std::function<bool(const EchoServer&)> clients) {
  absl::StatusOr<testing::ChildRun> run = testing::RunInChild(
      [&] {
        // A broken handler may write to a client that has gone: let that be
        // an error it sees (EPIPE), not a signal that kills the grader.
        std::signal(SIGPIPE, SIG_IGN);
        const int fds_before = OpenFdCount().value();
        bool ok = false;
        {
          absl::StatusOr<std::unique_ptr<EchoServer>> server =
              EchoServer::Start(connections);
          if (!server.ok()) {
            std::cout << server.status() << "\n";
            return 2;
          }
          ok = clients(**server);
          std::cout.flush();  // Before a teardown that could go wrong.
        }
        const int leaked = OpenFdCount().value() - fds_before;
        if (ok && leaked != 0) {
          std::cout << leaked
                    << " descriptors still open after every handler ended: "
                       "each handler must close its socket (move it into a "
                       "local UniqueFd) and destroy its AsyncFd\n";
          ok = false;
        }
        return ok ? 0 : 1;
      },
      absl::Seconds(60));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->timed_out)
      << "the grader's server did not shut down within 60 s: after its client "
         "closed (or the Task was destroyed), a handler must end\n"
      << run->output;
  EXPECT_EQ(run->status, ExitStatus::Exited(0)) << run->output;
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

TEST(EchoHandlerDeathTest, EchoesEveryByteOfALargeMessage) {
  // 1 MiB: more than the socket buffers hold, so writes are partial and the
  // handler must wait for room to write, as well as for data to read.
  ExpectServed(1, [](const EchoServer& server) {
    const std::string message = Message(0, 0, 1 << 20);
    bool sent = false;
    std::thread writer([&] { sent = Send(server.client(0), message); });
    const bool echoed = ExpectEcho(
        server.client(0), message, "the client",
        "A non-blocking socket takes only what fits in its buffer; when it is "
        "full, write() fails with EAGAIN. co_await conn.WriteAll(...) "
        "suspends until there is room, and writes every byte.");
    if (!echoed) ::shutdown(server.client(0), SHUT_RDWR);  // Frees the writer.
    writer.join();
    return echoed && sent;
  });
}

TEST(EchoHandlerDeathTest, ServesManyClientsAtOnce) {
  // 50 connections stay open; each round, every client sends, then every
  // client reads its echo. Client 0 gets its echo first and then says
  // nothing until all the others have theirs.
  constexpr int kClients = 50;
  ExpectServed(kClients, [](const EchoServer& server) {
    for (int round = 0; round < 3; ++round) {
      for (int c = 0; c < kClients; ++c) {
        if (!Send(server.client(c), Message(c, round, 100))) return false;
      }
      for (int c = 0; c < kClients; ++c) {
        const std::string who =
            absl::StrCat("client ", c, " of ", kClients, " (round ", round,
                         ", the other clients still connected)");
        if (!ExpectEcho(server.client(c), Message(c, round, 100), who,
                        kBlocksTheLoop)) {
          return false;
        }
      }
    }
    return true;
  });
}

TEST(EchoHandlerDeathTest, ASlowClientStallsNobody) {
  // Client 0 sends half a request and goes quiet; 10 others make 20 requests
  // each meanwhile; then client 0 sends the rest and gets all of it back.
  constexpr int kClients = 11;
  ExpectServed(kClients, [](const EchoServer& server) {
    const std::string slow = Message(0, 0, 1000);
    if (!Send(server.client(0), slow.substr(0, 500))) return false;
    for (int request = 0; request < 20; ++request) {
      for (int c = 1; c < kClients; ++c) {
        const std::string message = Message(c, request, 64);
        const std::string who = absl::StrCat(
            "client ", c, " (request ", request,
            ", while client 0 had sent half a message and gone quiet)");
        if (!Send(server.client(c), message) ||
            !ExpectEcho(server.client(c), message, who, kBlocksTheLoop)) {
          return false;
        }
      }
    }
    return Send(server.client(0), slow.substr(500)) &&
           ExpectEcho(server.client(0), slow, "the slow client 0",
                      "It was waiting for its second half.");
  });
}

TEST(EchoHandlerDeathTest, ClosesTheConnectionWhenTheClientLeaves) {
  ExpectServed(1, [](const EchoServer& server) {
    const int client = server.client(0);
    if (!Send(client, "bye") ||
        !ExpectEcho(client, "bye", "the client", kBlocksTheLoop)) {
      return false;
    }
    ::shutdown(client, SHUT_WR);  // The client is done sending.
    std::string why;
    const std::string more = Receive(client, 1, &why);
    if (!more.empty() || why != "the server closed the connection") {
      std::cout << "the client closed its end, and the server's end stayed "
                   "open ("
                << why
                << "): when Read returns 0 (end of file) the handler must "
                   "co_return, and its socket must close then. A parameter "
                   "lives as long as the coroutine's frame: move it into a "
                   "local UniqueFd so that it closes at co_return.\n";
      return false;
    }
    return true;
  });
}

}  // namespace
}  // namespace multitask::async_io_exercise
