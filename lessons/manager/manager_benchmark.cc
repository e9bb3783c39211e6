// What one manager call costs, next to the TCP round trip under it, and next to
// CPython's BaseManager (tools/bench_manager.py, run at the end of this same
// run when python3 is on PATH).
//
//   bazel run -c opt //lessons/manager:manager_benchmark
//
// BM_RawTcpPingPong: one 64-byte frame there and back on a loopback TCP
// connection (TCP_NODELAY), served by a thread: the floor for any RPC.
// BM_ManagerPutGet: put(i) then get() through ManagerClient to ManagerServer;
// items_per_second counts RPCs (2 per iteration), so 1 / rate is one RPC.
// BM_ConnectFirstProxy: Connect (dummy) + Queue (create) + the first call
// (accept_connection + qsize): what a worker pays before its first task.

#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "common/fd.h"
#include "common/manager_client.h"
#include "common/manager_server.h"
#include "common/manager_wire.h"

namespace multitask {
namespace {

constexpr char kKey[] = "abc";
constexpr int kMaxThreads = 4;

ManagerServer& Server() {
  static ManagerServer* server = [] {
    ManagerServerOptions options;
    options.authkey = kKey;
    // Each benchmark client disconnects after a get: the at-least-once rule
    // puts that item back, and would log it.
    options.log = [](absl::string_view) {};
    auto* s = new ManagerServer(options);
    s->RegisterQueue("get_task_queue");
    s->RegisterQueue("get_result_queue");
    for (int i = 0; i < kMaxThreads; ++i)
      s->RegisterQueue(absl::StrCat("q", i));
    if (!s->Start().ok()) std::abort();
    return s;
  }();
  return *server;
}

// A loopback echo server: one thread per connection, echoes each frame.
class EchoServer {
 public:
  EchoServer() {
    listen_ = *ListenTcp("127.0.0.1", 0);
    port_ = *LocalPort(listen_.get());
    acceptor_ = std::thread([this] {
      while (true) {
        int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        (void)SetNoDelay(fd);
        std::thread([fd] {
          UniqueFd conn(fd);
          while (true) {
            absl::StatusOr<std::string> frame = ReadFrame(fd, 1 << 20);
            if (!frame.ok() || !WriteFrame(fd, *frame).ok()) return;
          }
        }).detach();
      }
    });
    acceptor_.detach();
  }
  int port() const { return port_; }

 private:
  UniqueFd listen_;
  int port_ = 0;
  std::thread acceptor_;
};

EchoServer& Echo() {
  static EchoServer* echo = new EchoServer();
  return *echo;
}

void BM_RawTcpPingPong(benchmark::State& state) {
  UniqueFd fd = *ConnectTcp(absl::StrCat("127.0.0.1:", Echo().port()));
  const std::string payload(64, 'x');  // about a pickled put request
  for (auto _ : state) {
    if (!WriteFrame(fd.get(), payload).ok()) state.SkipWithError("write");
    absl::StatusOr<std::string> back = ReadFrame(fd.get(), 1 << 20);
    if (!back.ok()) state.SkipWithError("read");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawTcpPingPong)->Threads(1)->Threads(4)->UseRealTime();

void BM_ManagerPutGet(benchmark::State& state) {
  std::unique_ptr<ManagerClient> client =
      *ManagerClient::Connect(Server().address(), kKey);
  RemoteQueue q =
      *client->Queue(absl::StrCat("q", state.thread_index() % kMaxThreads));
  int64_t i = 0;
  for (auto _ : state) {
    if (!q.Put(PyValue::Int(i++)).ok()) state.SkipWithError("put");
    if (!q.Get().ok()) state.SkipWithError("get");
  }
  state.SetItemsProcessed(2 * state.iterations());  // RPCs
}
BENCHMARK(BM_ManagerPutGet)->Threads(1)->Threads(4)->UseRealTime();

void BM_ConnectFirstProxy(benchmark::State& state) {
  for (auto _ : state) {
    std::unique_ptr<ManagerClient> client =
        *ManagerClient::Connect(Server().address(), kKey);
    RemoteQueue q = *client->Queue("get_task_queue");
    if (!q.QSize().ok()) state.SkipWithError("qsize");
  }
}
BENCHMARK(BM_ConnectFirstProxy)->UseRealTime();

// Runs tools/bench_manager.py (CPython's BaseManager, and CPython's client
// against this server) if python3 is on PATH.
void RunPythonSide() {
  const char* path = std::getenv("PATH");
  std::string python;
  for (absl::string_view dir : absl::StrSplit(path ? path : "", ':')) {
    std::string candidate = absl::StrCat(dir, "/python3");
    if (::access(candidate.c_str(), X_OK) == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) {
    std::cout << "\npython3 not on PATH: CPython side skipped\n";
    return;
  }
  std::cout << "\nCPython side (" << python
            << " tools/bench_manager.py):" << std::endl;
  std::vector<std::string> args = {python, "tools/bench_manager.py",
                                   "--cpp_server", Server().address()};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    std::cout << "could not start python3\n";
    return;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace
}  // namespace multitask

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  multitask::RunPythonSide();
  return 0;
}
