// End to end on 127.0.0.1 (port 0): C++ master and workers as processes, the
// seed's Python scripts against our C++ side and the reverse, a worker killed
// mid-task, get timeouts and wrong keys on both sides.

#include "lessons/manager/manager_lesson.h"

#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/child.h"
#include "common/fd.h"
#include "common/manager_client.h"
#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

constexpr char kKey[] = "abc";
constexpr char kWorkerPy[] = "lessons/manager/python/task_worker.py";
constexpr char kMasterPy[] = "lessons/manager/python/task_master.py";

std::vector<int64_t> Range(int64_t count) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < count; ++i) v.push_back(i * 7 + 1);
  return v;
}

std::vector<std::string> Squares(const std::vector<int64_t>& tasks) {
  std::vector<std::string> out;
  for (int64_t n : tasks) out.push_back(SquareLine(n));
  return out;
}

// --- Processes that start before any thread exists (fork-safe, TSan-clean):
// each child waits for the server's port on a pipe.

struct PendingWorker {
  Child child;
  UniqueFd port_pipe;  // write the port here to let it start
};

// Forks a worker that connects once it reads the port. `hang_after_first`:
// report the first task on `report` and then hang (to be SIGKILLed).
PendingWorker ForkWorker(int report_fd, bool hang_after_first,
                         absl::Duration idle_timeout) {
  absl::StatusOr<Pipe> pipe = MakePipe();
  EXPECT_TRUE(pipe.ok());
  absl::StatusOr<Child> child = Child::Fork([&]() -> int {
    pipe->write_end.Close();
    absl::StatusOr<int> port = ReadValue<int>(pipe->read_end.get());
    if (!port.ok()) return 10;
    WorkerOptions options;
    options.idle_timeout = idle_timeout;
    if (hang_after_first) {
      options.on_task = [report_fd](int64_t n) {
        (void)WriteValue(report_fd, n);
        ::pause();  // mid-task, until SIGKILL
      };
    }
    absl::StatusOr<WorkerRun> run =
        RunWorker(absl::StrCat("127.0.0.1:", *port), kKey, options);
    return run.ok() ? 0 : 11;
  });
  EXPECT_TRUE(child.ok()) << child.status();
  pipe->read_end.Close();
  return {*std::move(child), std::move(pipe->write_end)};
}

TEST(ManagerProcessDeathTest, MasterAndTwoWorkerProcessesAnswerEachTaskOnce) {
  PendingWorker a = ForkWorker(-1, false, absl::Seconds(60));
  PendingWorker b = ForkWorker(-1, false, absl::Seconds(60));
  absl::StatusOr<std::unique_ptr<ManagerServer>> server =
      StartMaster("127.0.0.1", 0, kKey);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(WriteValue(a.port_pipe.get(), (*server)->port()).ok());
  ASSERT_TRUE(WriteValue(b.port_pipe.get(), (*server)->port()).ok());

  const std::vector<int64_t> tasks = Range(40);
  absl::StatusOr<MasterRun> run = RunMaster(**server, tasks, absl::Seconds(60));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_THAT(run->results, UnorderedElementsAreArray(Squares(tasks)));
  ASSERT_TRUE((*server)->Put(kTaskQueue, PyValue::None()).ok());
  ASSERT_TRUE((*server)->Put(kTaskQueue, PyValue::None()).ok());
  EXPECT_EQ(*a.child.Wait(), ExitStatus::Exited(0));
  EXPECT_EQ(*b.child.Wait(), ExitStatus::Exited(0));
  EXPECT_EQ(run->stats.requeued, 0);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ManagerProcessDeathTest, WorkerKilledMidTaskItsTaskIsRedelivered) {
  absl::StatusOr<Pipe> report = MakePipe();
  ASSERT_TRUE(report.ok());
  PendingWorker doomed =
      ForkWorker(report->write_end.get(), true, absl::Seconds(60));
  PendingWorker survivor = ForkWorker(-1, false, absl::Seconds(60));
  report->write_end.Close();
  std::vector<std::string> log;
  std::mutex log_mu;
  absl::StatusOr<std::unique_ptr<ManagerServer>> server =
      StartMaster("127.0.0.1", 0, kKey, [&](absl::string_view line) {
        std::lock_guard<std::mutex> lock(log_mu);
        log.emplace_back(line);
      });
  ASSERT_TRUE(server.ok()) << server.status();

  const std::vector<int64_t> tasks = Range(10);
  for (int64_t n : tasks) {
    ASSERT_TRUE((*server)->Put(kTaskQueue, PyValue::Int(n)).ok());
  }
  ASSERT_TRUE(WriteValue(doomed.port_pipe.get(), (*server)->port()).ok());
  absl::StatusOr<int64_t> taken = ReadValue<int64_t>(report->read_end.get());
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(*taken, tasks[0]);
  EXPECT_EQ(*doomed.child.KillAndWait(SIGKILL), ExitStatus::Killed(SIGKILL));

  // The survivor does everything, the killed worker's task included.
  ASSERT_TRUE(WriteValue(survivor.port_pipe.get(), (*server)->port()).ok());
  std::vector<std::string> results;
  for (size_t i = 0; i < tasks.size(); ++i) {
    absl::StatusOr<PyValue> r = (*server)->Get(kResultQueue, absl::Seconds(60));
    ASSERT_TRUE(r.ok()) << r.status();
    results.push_back(r->text());
  }
  EXPECT_THAT(results, UnorderedElementsAreArray(Squares(tasks)));
  ASSERT_TRUE((*server)->Put(kTaskQueue, PyValue::None()).ok());
  EXPECT_EQ(*survivor.child.Wait(), ExitStatus::Exited(0));
  EXPECT_EQ((*server)->stats().requeued, 1);
  (*server)->Stop();
  std::lock_guard<std::mutex> lock(log_mu);
  bool logged = false;
  for (const std::string& line : log) {
    logged = logged || absl::StrContains(
                           line, absl::StrCat("task ", tasks[0], " back on"));
  }
  EXPECT_TRUE(logged);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

// --- Python, found on PATH at test time.

std::optional<std::string> FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// A Python 3.12 or newer: on PATH, or under ~/.pyenv/versions.
std::optional<std::string> FindPython312() {
  for (const char* name : {"python3.13", "python3.12"}) {
    if (auto p = FindOnPath(name)) return p;
  }
  const passwd* pw = ::getpwuid(::getuid());
  if (pw == nullptr) return std::nullopt;
  glob_t g{};
  std::optional<std::string> found;
  const std::string pattern =
      absl::StrCat(pw->pw_dir, "/.pyenv/versions/3.1[2-9]*/bin/python3");
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
    found = g.gl_pathv[g.gl_pathc - 1];
  }
  ::globfree(&g);
  return found;
}

// A spawned program whose stdout+stderr we read.
struct Spawned {
  explicit Spawned(Child c) : child(std::move(c)) {}
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;
  Child child;
  FILE* out = nullptr;  // owns the pipe's read end
  std::string text;     // everything read so far

  ~Spawned() {
    if (out != nullptr) std::fclose(out);
  }
  // Reads one line (without '\n'); nullopt at end of file.
  std::optional<std::string> ReadLine() {
    char buf[4096];
    if (std::fgets(buf, sizeof(buf), out) == nullptr) return std::nullopt;
    std::string line(buf);
    text += line;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }
  // Reads to the end and reaps.
  ExitStatus Finish() {
    while (ReadLine().has_value()) {
    }
    absl::StatusOr<ExitStatus> status = child.Wait();
    return status.ok() ? *status : ExitStatus::Exited(255);
  }
};

std::unique_ptr<Spawned> Spawn(const std::vector<std::string>& argv_in,
                               const std::map<std::string, std::string>& env) {
  absl::StatusOr<Pipe> pipe = MakePipe();
  EXPECT_TRUE(pipe.ok());
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe->write_end.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, pipe->write_end.get(), 2);
  pid_t pid = 0;
  const int rc =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0) << "posix_spawn " << argv[0];
  if (rc != 0) return nullptr;
  pipe->write_end.Close();
  auto spawned = std::make_unique<Spawned>(Child::Adopt(pid));
  spawned->out = ::fdopen(pipe->read_end.release(), "r");
  return spawned;
}

std::map<std::string, std::string> PythonEnv(int port, const char* key = kKey) {
  return {{"MT_MANAGER_HOST", "127.0.0.1"},
          {"MT_MANAGER_PORT", absl::StrCat(port)},
          {"MT_MANAGER_AUTHKEY", key},
          {"MT_TASK_SLEEP", "0"},
          {"PYTHONDONTWRITEBYTECODE", "1"}};
}

// The seed's task_worker.py against our C++ master. Python 3.12+ answers
// our challenge with HMAC-SHA256, older ones with HMAC-MD5.
void CppMasterPythonWorker(const std::string& python, bool sha256) {
  absl::StatusOr<std::unique_ptr<ManagerServer>> server =
      StartMaster("127.0.0.1", 0, kKey);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::vector<int64_t> tasks = Range(10);  // the seed takes 10
  std::unique_ptr<Spawned> worker =
      Spawn({python, "-u", kWorkerPy}, PythonEnv((*server)->port()));
  ASSERT_NE(worker, nullptr);
  absl::StatusOr<MasterRun> run = RunMaster(**server, tasks, absl::Seconds(60));
  ASSERT_TRUE(run.ok()) << run.status() << "\n" << worker->Finish().ToString();
  EXPECT_THAT(run->results, UnorderedElementsAreArray(Squares(tasks)));
  EXPECT_EQ(worker->Finish(), ExitStatus::Exited(0)) << worker->text;
  EXPECT_THAT(worker->text, HasSubstr("worker exit"));
  EXPECT_THAT(worker->text, ::testing::Not(HasSubstr("task queue is empty")));
  const ManagerServerStats stats = (*server)->stats();
  EXPECT_EQ(stats.auth_failures, 0);
  EXPECT_GT(sha256 ? stats.sha256_logins : stats.md5_logins, 0);
  EXPECT_EQ(sha256 ? stats.md5_logins : stats.sha256_logins, 0);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(PythonInteropTest, CppMasterSeedPythonWorker) {
  std::optional<std::string> python = FindOnPath("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: interop not tested";
  // python3 on the test PATH is the system's 3.11 here; tell by asking.
  std::unique_ptr<Spawned> version = Spawn(
      {*python, "-c",
       "import sys; print('sha256' if sys.version_info >= (3, 12) else 'md5')"},
      {});
  ASSERT_NE(version, nullptr);
  version->Finish();
  CppMasterPythonWorker(*python, absl::StartsWith(version->text, "sha256"));
}

TEST(PythonInteropTest, CppMasterPython312WorkerUsesSha256) {
  std::optional<std::string> python = FindPython312();
  if (!python) {
    GTEST_SKIP() << "no Python 3.12+ (PATH or ~/.pyenv/versions): the "
                    "{sha256} handshake is only unit-tested";
  }
  CppMasterPythonWorker(*python, /*sha256=*/true);
}

// The seed's task_master.py (run by `python`) against our C++ worker.
void PythonMasterCppWorker(const std::string& python) {
  std::unique_ptr<Spawned> master =
      Spawn({python, "-u", kMasterPy}, PythonEnv(0));
  ASSERT_NE(master, nullptr);
  int port = 0;
  while (std::optional<std::string> line = master->ReadLine()) {
    absl::string_view rest = *line;
    if (absl::ConsumePrefix(&rest, "master listening on ")) {
      ASSERT_TRUE(absl::SimpleAtoi(rest.substr(rest.rfind(':') + 1), &port));
      break;
    }
  }
  ASSERT_GT(port, 0) << master->Finish().ToString() << master->text;
  // The worker stops when the master shuts down after its 10 results (the
  // long idle timeout only covers a slow Python start on a busy machine).
  WorkerOptions options;
  options.idle_timeout = absl::Seconds(60);
  absl::StatusOr<WorkerRun> run =
      RunWorker(absl::StrCat("127.0.0.1:", port), kKey, options);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->done.size(), 10u);
  EXPECT_TRUE(run->master_gone);
  EXPECT_EQ(master->Finish(), ExitStatus::Exited(0)) << master->text;
  // Every "put task n" has its "result: n * n = n²".
  std::vector<std::string> expected, results;
  for (absl::string_view line : absl::StrSplit(master->text, '\n')) {
    int64_t n = 0;
    if (absl::ConsumePrefix(&line, "put task ") && absl::SimpleAtoi(line, &n)) {
      expected.push_back(SquareLine(n));
    } else if (absl::ConsumePrefix(&line, "result: ")) {
      results.emplace_back(line);
    }
  }
  EXPECT_EQ(expected.size(), 10u) << master->text;
  EXPECT_THAT(results, UnorderedElementsAreArray(expected)) << master->text;
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(PythonInteropTest, SeedPythonMasterCppWorker) {
  std::optional<std::string> python = FindOnPath("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: interop not tested";
  PythonMasterCppWorker(*python);
}

// A 3.12+ master challenges us with {sha256} and answers ours with SHA-256.
TEST(PythonInteropTest, SeedPython312MasterCppWorker) {
  std::optional<std::string> python = FindPython312();
  if (!python) {
    GTEST_SKIP() << "no Python 3.12+ (PATH or ~/.pyenv/versions): the "
                    "{sha256} handshake is only unit-tested";
  }
  PythonMasterCppWorker(*python);
}

// A tiny Python client: except queue.Empty, not the seed's bare except.
constexpr char kPythonGetTimeout[] = R"(
import os, queue
from multiprocessing.managers import BaseManager
class M(BaseManager): pass
M.register('get_task_queue')
m = M(address=('127.0.0.1', int(os.environ['MT_MANAGER_PORT'])),
      authkey=os.environ['MT_MANAGER_AUTHKEY'].encode())
try:
    m.connect()
except Exception as e:
    print('connect failed:', type(e).__name__, e)
    raise SystemExit(3)
try:
    m.get_task_queue().get(timeout=0.05)
except queue.Empty:
    print('got queue.Empty')
)";

TEST(PythonInteropTest, GetTimeoutRaisesQueueEmptyInPython) {
  std::optional<std::string> python = FindOnPath("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: interop not tested";
  absl::StatusOr<std::unique_ptr<ManagerServer>> server =
      StartMaster("127.0.0.1", 0, kKey);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<Spawned> client =
      Spawn({*python, "-c", kPythonGetTimeout}, PythonEnv((*server)->port()));
  EXPECT_EQ(client->Finish(), ExitStatus::Exited(0)) << client->text;
  EXPECT_THAT(client->text, HasSubstr("got queue.Empty"));
}

TEST(PythonInteropTest, WrongKeyRejectedOnBothSides) {
  std::optional<std::string> python = FindOnPath("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: interop not tested";
  std::vector<std::string> log;
  std::mutex log_mu;
  absl::StatusOr<std::unique_ptr<ManagerServer>> server =
      StartMaster("127.0.0.1", 0, kKey, [&](absl::string_view line) {
        std::lock_guard<std::mutex> lock(log_mu);
        log.emplace_back(line);
      });
  ASSERT_TRUE(server.ok());
  // A Python client with the wrong key: refused, with Python's own error.
  std::unique_ptr<Spawned> client = Spawn({*python, "-c", kPythonGetTimeout},
                                          PythonEnv((*server)->port(), "bad"));
  EXPECT_EQ(client->Finish(), ExitStatus::Exited(3)) << client->text;
  EXPECT_THAT(client->text, HasSubstr("AuthenticationError"));
  EXPECT_EQ((*server)->stats().auth_failures, 1);
  // ... and the server still serves the right key.
  std::unique_ptr<Spawned> good =
      Spawn({*python, "-c", kPythonGetTimeout}, PythonEnv((*server)->port()));
  EXPECT_EQ(good->Finish(), ExitStatus::Exited(0)) << good->text;
  (*server)->Stop();
  std::lock_guard<std::mutex> lock(log_mu);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_THAT(log[0], HasSubstr("wrong auth key"));
}

TEST(PythonInteropTest, CppClientWithWrongKeyRejectedByPythonMaster) {
  std::optional<std::string> python = FindOnPath("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: interop not tested";
  std::unique_ptr<Spawned> master =
      Spawn({*python, "-u", kMasterPy}, PythonEnv(0));
  int port = 0;
  while (std::optional<std::string> line = master->ReadLine()) {
    absl::string_view rest = *line;
    if (absl::ConsumePrefix(&rest, "master listening on ")) {
      ASSERT_TRUE(absl::SimpleAtoi(rest.substr(rest.rfind(':') + 1), &port));
      break;
    }
  }
  ASSERT_GT(port, 0);
  absl::StatusOr<std::unique_ptr<ManagerClient>> bad =
      ManagerClient::Connect(absl::StrCat("127.0.0.1:", port), "bad");
  EXPECT_TRUE(absl::IsPermissionDenied(bad.status())) << bad.status();
  EXPECT_THAT(bad.status().message(), HasSubstr("rejected"));
  // A get timeout from the Python server is queue.Empty for us too: take its
  // 10 tasks, time out on the 11th, then answer them so the master ends well.
  absl::StatusOr<std::unique_ptr<ManagerClient>> good =
      ManagerClient::Connect(absl::StrCat("127.0.0.1:", port), kKey);
  ASSERT_TRUE(good.ok()) << good.status();
  absl::StatusOr<RemoteQueue> tasks = (*good)->Queue(kTaskQueue);
  absl::StatusOr<RemoteQueue> results = (*good)->Queue(kResultQueue);
  ASSERT_TRUE(tasks.ok() && results.ok());
  std::vector<int64_t> taken;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<PyValue> n = tasks->Get(absl::Seconds(30));
    ASSERT_TRUE(n.ok()) << n.status();
    taken.push_back(n->as_int());
  }
  absl::Status empty = tasks->Get(absl::Milliseconds(50)).status();
  EXPECT_TRUE(IsQueueEmpty(empty)) << empty;
  for (int64_t n : taken) {
    ASSERT_TRUE(results->Put(PyValue::Str(SquareLine(n))).ok());
  }
  (*good)->Close();
  EXPECT_EQ(master->Finish(), ExitStatus::Exited(0)) << master->text;
}

// Seed 002's Manager dict and list, from Python, served by C++.
constexpr char kPythonDictList[] = R"(
import os
from multiprocessing.managers import BaseManager, DictProxy, ListProxy
class M(BaseManager): pass
M.register('get_dict', proxytype=DictProxy)
M.register('get_list', proxytype=ListProxy)
m = M(address=('127.0.0.1', int(os.environ['MT_MANAGER_PORT'])),
      authkey=os.environ['MT_MANAGER_AUTHKEY'].encode())
m.connect()
d, l = m.get_dict(), m.get_list()
l += list(range(11, 16))  # the seed's range(): see the README
for i in range(1, 6):
    d["key{0}".format(i)] = "val{0}".format(i)
print(d)
print(l)
print(len(d), d['key3'], 'key9' in d, l[-1])
)";

TEST(PythonInteropTest, SeedDictAndListFromPython) {
  std::optional<std::string> python = FindOnPath("python3");
  if (!python) GTEST_SKIP() << "python3 is not on PATH: interop not tested";
  absl::StatusOr<std::unique_ptr<ManagerServer>> server =
      StartMaster("127.0.0.1", 0, kKey);
  ASSERT_TRUE(server.ok());
  std::unique_ptr<Spawned> client =
      Spawn({*python, "-c", kPythonDictList}, PythonEnv((*server)->port()));
  EXPECT_EQ(client->Finish(), ExitStatus::Exited(0)) << client->text;
  EXPECT_THAT(client->text,
              HasSubstr("{'key1': 'val1', 'key2': 'val2', 'key3': 'val3', "
                        "'key4': 'val4', 'key5': 'val5'}\n"
                        "[11, 12, 13, 14, 15]\n5 val3 False 15"));
  EXPECT_EQ((*server)->Value(kList)->Repr(), "[11, 12, 13, 14, 15]");
}

}  // namespace
}  // namespace multitask::manager
