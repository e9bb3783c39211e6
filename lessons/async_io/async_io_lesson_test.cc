// Tests for the async_io lesson: every model echoes every byte to many
// concurrent clients, a slow client stalls nobody, and shutdown leaves no
// descriptor, thread or process behind.

#include "lessons/async_io/async_io_lesson.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "common/fd.h"
#include "common/proc.h"
#include "gtest/gtest.h"

namespace multitask::async_io {
namespace {

// A server running on a thread of this process; Stop() ends it and returns
// its status.
class InProcessServer {
 public:
  explicit InProcessServer(Model model)
      : listener_(ListenOnLoopback().value()), stop_(MakePipe().value()) {
    thread_ = std::thread([this, model] {
      status_ = ServeEcho(model, listener_.fd.get(), stop_.read_end.get());
    });
  }
  ~InProcessServer() { Stop().IgnoreError(); }
  int port() const { return listener_.port; }
  absl::Status Stop() {
    if (!thread_.joinable()) return status_;
    stop_.write_end.Close();  // End of file on stop_fd: the server returns.
    thread_.join();
    listener_.fd.Close();
    stop_.read_end.Close();
    return status_;
  }

 private:
  Listener listener_;
  Pipe stop_;
  absl::Status status_;
  std::thread thread_;
};

LoadOptions Options(int connections, int64_t requests, size_t size) {
  LoadOptions options;
  options.connections = connections;
  options.requests = requests;
  options.message_size = size;
  // Limits are a safety net that turns a hang into a failure, never a
  // threshold: the work finishes far sooner.
  options.time_limit = absl::Seconds(120);
  options.setup_limit = absl::Seconds(120);
  return options;
}

void ExpectAllEchoed(const LoadResult& r, int connections, int64_t requests,
                     size_t size) {
  EXPECT_EQ(r.connections, connections);
  EXPECT_EQ(r.requests_done, requests);
  EXPECT_EQ(r.mismatches, 0);
  // The first round (one request per connection) plus the measured ones.
  EXPECT_EQ(r.bytes_checked,
            static_cast<int64_t>(size) * (connections + requests));
}

// Sends half a message and stops, then checks that `others` clients are all
// served meanwhile, then completes the message and gets it all back.
void SlowClientStallsNobody(int port) {
  UniqueFd slow = ConnectToLoopback(port).value();
  const std::string message(2000, 's');
  ASSERT_TRUE(WriteAll(slow.get(), message.substr(0, 1000)).ok());
  // The half message is with the server now (it echoes what it has: the
  // first 1000 bytes come back), and the slow client says nothing more.
  EXPECT_EQ(ReadExactly(slow.get(), 1000).value(), message.substr(0, 1000));

  absl::StatusOr<LoadResult> others = RunLoad(port, Options(20, 400, 100));
  ASSERT_TRUE(others.ok()) << others.status();
  ExpectAllEchoed(*others, 20, 400, 100);

  ASSERT_TRUE(WriteAll(slow.get(), message.substr(1000)).ok());
  EXPECT_EQ(ReadExactly(slow.get(), 1000).value(), message.substr(1000));
}

// --- The process model forks: its tests run first, in a single thread. ------

TEST(ProcessPerConnectionDeathTest, EchoesEveryByteAndShutsDownCleanly) {
  const int fds_before = OpenFdCount().value();
  {
    ServerProcess server =
        StartServerProcess(Model::kProcessPerConnection).value();
    absl::StatusOr<LoadResult> r = RunLoad(server.port, Options(30, 300, 1000));
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectAllEchoed(*r, 30, 300, 1000);
    absl::StatusOr<ServerFootprint> footprint =
        MeasureServer(server.process.pid());
    ASSERT_TRUE(footprint.ok()) << footprint.status();
    EXPECT_GE(footprint->processes, 1);
    server.stop.Close();
    EXPECT_EQ(server.process.Wait().value(), ExitStatus::Exited(0));
  }
  EXPECT_TRUE(ChildPids(getpid()).empty());
  EXPECT_EQ(OpenFdCount().value(), fds_before);
}

TEST(ProcessPerConnectionDeathTest, SlowClientStallsNobody) {
  ServerProcess server =
      StartServerProcess(Model::kProcessPerConnection).value();
  SlowClientStallsNobody(server.port);
  server.stop.Close();
  EXPECT_EQ(server.process.Wait().value(), ExitStatus::Exited(0));
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

TEST(ProcessPerConnectionDeathTest, StopsWithClientsStillConnected) {
  ServerProcess server =
      StartServerProcess(Model::kProcessPerConnection).value();
  UniqueFd idle = ConnectToLoopback(server.port).value();
  ASSERT_TRUE(WriteAll(idle.get(), "hi").ok());
  EXPECT_EQ(ReadExactly(idle.get(), 2).value(), "hi");  // A worker serves it.
  server.stop.Close();  // Its worker sees stop_fd too, and exits.
  EXPECT_EQ(server.process.Wait().value(), ExitStatus::Exited(0));
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

// --- In-process models ------------------------------------------------------

class InProcessTest : public ::testing::TestWithParam<Model> {};

TEST_P(InProcessTest, ManyConcurrentClientsGetEveryByteBack) {
  const int fds_before = OpenFdCount().value();
  {
    InProcessServer server(GetParam());
    absl::StatusOr<LoadResult> r =
        RunLoad(server.port(), Options(100, 2000, 700));
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectAllEchoed(*r, 100, 2000, 700);
    EXPECT_TRUE(server.Stop().ok());
  }
  EXPECT_EQ(OpenFdCount().value(), fds_before);  // No descriptor leaked.
}

TEST_P(InProcessTest, MessagesLargerThanSocketBuffersSurvive) {
  // 1 MiB each way cannot fit in the kernel's buffers: the server must cope
  // with partial writes (and, in the event loop, stop reading meanwhile).
  InProcessServer server(GetParam());
  absl::StatusOr<LoadResult> r =
      RunLoad(server.port(), Options(4, 4, size_t{1} << 20));
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectAllEchoed(*r, 4, 4, size_t{1} << 20);
  EXPECT_TRUE(server.Stop().ok());
}

TEST_P(InProcessTest, SlowClientStallsNobody) {
  InProcessServer server(GetParam());
  SlowClientStallsNobody(server.port());
  EXPECT_TRUE(server.Stop().ok());
}

TEST_P(InProcessTest, StopsWithClientsStillConnectedAndLeaksNothing) {
  const int fds_before = OpenFdCount().value();
  const int threads_before = ThreadCount().value();
  {
    InProcessServer server(GetParam());
    UniqueFd a = ConnectToLoopback(server.port()).value();
    UniqueFd b = ConnectToLoopback(server.port()).value();
    for (int fd : {a.get(), b.get()}) {
      ASSERT_TRUE(WriteAll(fd, "ping").ok());
      EXPECT_EQ(ReadExactly(fd, 4).value(), "ping");
    }
    EXPECT_TRUE(server.Stop().ok());  // a and b are still open.
    // The server closed its ends: the clients see end of file.
    char byte;
    EXPECT_EQ(::read(a.get(), &byte, 1), 0);
    EXPECT_EQ(::read(b.get(), &byte, 1), 0);
  }
  EXPECT_EQ(OpenFdCount().value(), fds_before);
  // At most a sanitizer's own helper thread more.
  EXPECT_LE(ThreadCount().value(), threads_before + 1);
}

INSTANTIATE_TEST_SUITE_P(Models, InProcessTest,
                         ::testing::Values(Model::kEventLoop,
                                           Model::kCoroutines,
                                           Model::kThreadPerConnection),
                         [](const ::testing::TestParamInfo<Model>& info) {
                           switch (info.param) {
                             case Model::kEventLoop:
                               return "EventLoop";
                             case Model::kCoroutines:
                               return "Coroutines";
                             default:
                               return "ThreadPerConnection";
                           }
                         });

TEST(LoadTest, BadOptionsAreRejected) {
  EXPECT_EQ(RunLoad(1, Options(0, 1, 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LoadTest, OpenFileLimitIsRaisedToTheHardLimit) {
  absl::StatusOr<int64_t> limit = RaiseOpenFileLimit();
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_GT(*limit, 0);
}

}  // namespace
}  // namespace multitask::async_io
