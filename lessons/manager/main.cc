// The manager lesson: seed 001's distributed master and workers, over
// CPython's multiprocessing.managers protocol.
//
//   bazel run //lessons/manager          # master + 2 worker processes, here
//   bazel run //lessons/manager -- --role=master --port=5000 --authkey=abc
//   bazel run //lessons/manager -- --role=worker --server=HOST:5000
//   --authkey=abc python3 lessons/manager/python/task_worker.py   # the seed's
//   worker, too

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/child.h"
#include "gflags/gflags.h"
#include "lessons/manager/manager_lesson.h"

DEFINE_string(role, "demo",
              "demo (master + --workers worker processes on 127.0.0.1), "
              "master, or worker");
DEFINE_string(host, "127.0.0.1",
              "master: the address to listen on (0.0.0.0: every interface)");
DEFINE_int32(port, 5000, "master: the TCP port (0: any free port)");
DEFINE_string(server, "127.0.0.1:5000", "worker: the master's host:port");
DEFINE_string(authkey, "abc",
              "the shared key (proves who may connect; encrypts nothing)");
DEFINE_int32(tasks, 10, "master/demo: how many numbers to square");
DEFINE_int32(workers, 2, "demo: how many worker processes to start");
DEFINE_int32(work_ms, 100, "worker: pretend each task takes this long");
DEFINE_int32(idle_timeout_ms, 1000,
             "worker: stop when no task came for this long");
DEFINE_int32(result_timeout_s, 10,
             "master: give up when no result came for this long");

namespace multitask::manager {
namespace {

void Say(const std::string& line) {
  std::cout << line << std::endl;  // flush: workers share the terminal
}

std::vector<int64_t> RandomTasks(int count) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> dist(0, 10000);  // random.randint
  std::vector<int64_t> tasks;
  for (int i = 0; i < count; ++i) tasks.push_back(dist(rng));
  return tasks;
}

// Each task's line exactly once, whatever the order?
bool EachAnsweredOnce(const MasterRun& run) {
  std::vector<std::string> expected;
  for (int64_t n : run.tasks) expected.push_back(SquareLine(n));
  std::vector<std::string> got = run.results;
  std::sort(expected.begin(), expected.end());
  std::sort(got.begin(), got.end());
  return expected == got;
}

int Worker() {
  Say(absl::StrCat("worker ", getpid(), ": connect to server ", FLAGS_server));
  WorkerOptions options;
  options.idle_timeout = absl::Milliseconds(FLAGS_idle_timeout_ms);
  options.work_time = absl::Milliseconds(FLAGS_work_ms);
  options.on_task = [](int64_t n) {
    Say(absl::StrFormat("worker %d: task run %d * %d", getpid(), n, n));
  };
  absl::StatusOr<WorkerRun> run =
      RunWorker(FLAGS_server, FLAGS_authkey, options);
  if (!run.ok()) {
    std::cerr << "worker " << getpid() << ": " << run.status() << "\n";
    return 1;
  }
  Say(absl::StrCat("worker ", getpid(), " exit: did ", run->done.size(),
                   " tasks, ",
                   run->stopped_by_pill ? "stopped by the master's None"
                   : run->master_gone   ? "the master has gone"
                                        : "no task within the idle timeout"));
  return 0;
}

void PrintRun(const MasterRun& run) {
  Say(absl::StrCat("every task answered exactly once: ",
                   EachAnsweredOnce(run) ? "yes" : "NO"));
  Say(absl::StrCat("server: ", run.stats.connections, " connections, ",
                   run.stats.requests, " requests, ", run.stats.auth_failures,
                   " failed handshakes, ", run.stats.requeued,
                   " tasks requeued"));
}

int Master() {
  absl::StatusOr<std::unique_ptr<ManagerServer>> server =
      StartMaster(FLAGS_host, FLAGS_port, FLAGS_authkey);
  if (!server.ok()) {
    std::cerr << "master: " << server.status() << "\n";
    return 1;
  }
  Say(absl::StrCat("master ", getpid(), " listening on ", FLAGS_host, ":",
                   (*server)->port(),
                   "; start workers with --role=worker "
                   "--server=<this host>:",
                   (*server)->port()));
  absl::StatusOr<MasterRun> run =
      RunMaster(**server, RandomTasks(FLAGS_tasks),
                absl::Seconds(FLAGS_result_timeout_s), Say);
  if (!run.ok()) {
    std::cerr << "master: " << run.status() << "\n";
    return 1;
  }
  PrintRun(*run);
  Say("master exit");
  return 0;
}

int Demo() {
  absl::StatusOr<std::unique_ptr<ManagerServer>> server =
      StartMaster("127.0.0.1", 0, FLAGS_authkey);
  if (!server.ok()) {
    std::cerr << "master: " << server.status() << "\n";
    return 1;
  }
  const std::string address = (*server)->address();
  Say(absl::StrCat("master serving ", kTaskQueue, " and ", kResultQueue, " on ",
                   address, " (port 0: the kernel chose)"));
  Say(absl::StrCat("master pid ", getpid()));

  // Workers are separate programs (this one, re-run with --role=worker), just
  // as they would be on other machines.
  std::vector<Child> workers;
  for (int i = 0; i < FLAGS_workers; ++i) {
    std::vector<std::string> args = {
        "manager",
        "--role=worker",
        "--server=" + address,
        "--authkey=" + FLAGS_authkey,
        absl::StrCat("--work_ms=", FLAGS_work_ms),
        absl::StrCat("--idle_timeout_ms=", FLAGS_idle_timeout_ms)};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr,
                             argv.data(), environ);
        rc != 0) {
      std::cerr << "posix_spawn: " << std::strerror(rc) << "\n";
      return 1;
    }
    workers.push_back(Child::Adopt(pid));
    Say(absl::StrCat("started worker process ", pid));
  }

  const absl::Time start = absl::Now();
  absl::StatusOr<MasterRun> run =
      RunMaster(**server, RandomTasks(FLAGS_tasks),
                absl::Seconds(FLAGS_result_timeout_s), Say);
  const absl::Duration took = absl::Now() - start;
  // One None per worker: each stops at once instead of waiting to be idle.
  for (size_t i = 0; i < workers.size(); ++i) {
    (void)(*server)->Put(kTaskQueue, PyValue::None());
  }
  size_t clean_exits = 0;
  for (Child& w : workers) {
    absl::StatusOr<ExitStatus> status = w.Wait();
    Say(absl::StrCat("worker ", w.pid(), " ",
                     status.ok() ? status->ToString()
                                 : std::string(status.status().message())));
    if (status.ok() && *status == ExitStatus::Exited(0)) ++clean_exits;
  }
  Say(absl::StrCat(clean_exits, " of ", workers.size(),
                   " workers exited with code 0"));
  if (!run.ok()) {
    std::cerr << "master: " << run.status() << "\n";
    return 1;
  }
  run->stats = (*server)->stats();  // final: every worker has finished
  PrintRun(*run);
  Say(absl::StrFormat("%d tasks in %.1f ms with %d workers of %d ms per task",
                      run->tasks.size(), absl::ToDoubleMilliseconds(took),
                      workers.size(), FLAGS_work_ms));
  return EachAnsweredOnce(*run) ? 0 : 1;
}

}  // namespace
}  // namespace multitask::manager

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "seed 001's distributed master/worker over CPython's manager protocol.\n"
      "  manager                       master + 2 workers on 127.0.0.1\n"
      "  manager --role=master --port=5000 --authkey=KEY\n"
      "  manager --role=worker --server=HOST:5000 --authkey=KEY");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_role == "worker") return multitask::manager::Worker();
  if (FLAGS_role == "master") return multitask::manager::Master();
  if (FLAGS_role == "demo") return multitask::manager::Demo();
  std::cerr << "--role must be demo, master or worker\n";
  return 2;
}
