// bazel run //lessons/compare: processes versus threads, as one table of
// measured costs, a fault-isolation demo, and compute-bound versus I/O-bound
// scaling with 1, 2, 4, 8, 16 workers.

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "common/proc.h"
#include "common/status_macros.h"
#include "gflags/gflags.h"
#include "lessons/compare/compare_lesson.h"

DEFINE_int32(creates, 300, "threads / processes to create and join per kind");
DEFINE_int32(messages, 100000, "shared-counter increments and pipe messages");
DEFINE_int32(round_trips, 20000, "ping-pong round trips per kind");
DEFINE_bool(same_cpu, true,
            "pin both ping-pong sides to one CPU, so a round trip is two "
            "context switches");
DEFINE_int32(idle, 200, "idle threads / processes for the memory row");
DEFINE_int32(tasks, 32, "tasks per scaling run");
DEFINE_int32(task_ms, 2, "length of one task in milliseconds");
DEFINE_int32(max_workers, 16, "scaling runs use 1, 2, 4, ... up to this");
DEFINE_string(csv_dir, "",
              "if set, also write costs.csv and scaling.csv into this folder");

namespace multitask::compare {
namespace {

std::string Time(absl::Duration d) {
  const double ns = absl::ToDoubleNanoseconds(d);
  if (ns < 1e3) return absl::StrFormat("%.1f ns", ns);
  if (ns < 1e6) return absl::StrFormat("%.2f us", ns / 1e3);
  return absl::StrFormat("%.2f ms", ns / 1e6);
}

struct Row {
  std::string what;
  std::string unit;  // "ns" or "KiB"
  double threads;
  double processes;
};

std::string Show(const Row& row, double value) {
  if (row.unit == "ns") return Time(absl::Nanoseconds(value));
  return absl::StrFormat("%.0f KiB", value);
}

absl::Status Run() {
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  std::ifstream loadavg("/proc/loadavg");
  std::string load;
  loadavg >> load;
  std::cout << "Processes versus threads on this machine (" << cpus
            << " CPUs, load average " << load << "), pid " << getpid()
            << ".\n\n";
  std::vector<Row> rows;
  auto ns = [](const Cost& c) { return absl::ToDoubleNanoseconds(c.PerOp()); };

  // Creation.
  MT_ASSIGN_OR_RETURN(Cost thread, ThreadCreateJoin(FLAGS_creates));
  MT_ASSIGN_OR_RETURN(Cost fork, ForkWait(FLAGS_creates));
  MT_ASSIGN_OR_RETURN(Cost fork_exec, ForkExecWait(FLAGS_creates));
  MT_ASSIGN_OR_RETURN(Cost spawn, SpawnWait(FLAGS_creates));
  rows.push_back({"create + join: std::thread | fork()+waitpid()", "ns",
                  ns(thread), ns(fork)});
  rows.push_back({"create + join: std::thread | fork()+exec(/bin/true)", "ns",
                  ns(thread), ns(fork_exec)});
  rows.push_back({"create + join: std::thread | posix_spawn(/bin/true)", "ns",
                  ns(thread), ns(spawn)});

  // Communication.
  MT_ASSIGN_OR_RETURN(CounterResult counter_t,
                      SharedCounter(Party::kThreads, 2, FLAGS_messages));
  MT_ASSIGN_OR_RETURN(CounterResult counter_p,
                      SharedCounter(Party::kProcesses, 2, FLAGS_messages));
  // The cost row uses one worker: with two, the price depends on whether the
  // scheduler runs them at the same moment on two cores (the cache line then
  // bounces between them), which is luck, not threads versus processes.
  MT_ASSIGN_OR_RETURN(CounterResult alone_t,
                      SharedCounter(Party::kThreads, 1, FLAGS_messages));
  MT_ASSIGN_OR_RETURN(CounterResult alone_p,
                      SharedCounter(Party::kProcesses, 1, FLAGS_messages));
  rows.push_back({"add to a shared std::atomic counter", "ns", ns(alone_t.cost),
                  ns(alone_p.cost)});
  MT_ASSIGN_OR_RETURN(Cost pipe, PipeMessage(FLAGS_messages));
  rows.push_back(
      {"8-byte message through a pipe (write+read)", "ns", ns(pipe), ns(pipe)});

  // Context switches.
  bool pinned = false;
  for (Channel channel : {Channel::kPipe, Channel::kFutex}) {
    MT_ASSIGN_OR_RETURN(
        PingPongResult t,
        PingPong(Party::kThreads, channel, FLAGS_round_trips, FLAGS_same_cpu));
    MT_ASSIGN_OR_RETURN(PingPongResult p,
                        PingPong(Party::kProcesses, channel, FLAGS_round_trips,
                                 FLAGS_same_cpu));
    pinned = t.pinned && p.pinned;
    rows.push_back(
        {absl::StrCat("ping-pong round trip over a ", ChannelName(channel)),
         "ns", ns(t.cost), ns(p.cost)});
  }

  // Memory.
  MT_ASSIGN_OR_RETURN(MemoryResult idle_t, IdleThreadsMemory(FLAGS_idle));
  MT_ASSIGN_OR_RETURN(MemoryResult idle_p, IdleProcessesMemory(FLAGS_idle));
  const double n = FLAGS_idle;
  rows.push_back({"memory per idle one: RSS", "KiB", idle_t.rss_kib / n,
                  idle_p.rss_kib / n});
  rows.push_back({"memory per idle one: PSS (fair share)", "KiB",
                  idle_t.pss_kib / n, idle_p.pss_kib / n});
  rows.push_back({"memory per idle one: page tables (kernel)", "KiB", 0,
                  idle_p.page_tables_kib / n});

  std::cout << absl::StrFormat("%-52s %12s %12s %10s\n", "", "threads",
                               "processes", "proc/thr");
  for (const Row& row : rows) {
    const std::string ratio =
        row.threads > 0 ? absl::StrFormat("%.1fx", row.processes / row.threads)
                        : "-";
    std::cout << absl::StrFormat("%-52s %12s %12s %10s\n", row.what,
                                 Show(row, row.threads),
                                 Show(row, row.processes), ratio);
  }
  std::cout << "\nThe shared counter ended at " << counter_t.final_value
            << " (threads) and " << counter_p.final_value
            << " (processes): exact, atomics work in shared memory too.\n"
            << "Ping-pong sides " << (pinned ? "pinned to one CPU" : "free")
            << ": a round trip is "
            << (pinned ? "two context switches" : "two wake-ups")
            << ". Threads of one process share page tables (nothing to add).\n"
            << FLAGS_idle << " idle threads: " << idle_t.observed
            << " more threads seen in /proc/self/status; " << FLAGS_idle
            << " idle processes: " << idle_p.observed
            << " children measured, all reaped.\n\n";

  // Fault isolation.
  MT_ASSIGN_OR_RETURN(ThreadCrash thread_crash, CrashOneThreadInAChild());
  MT_ASSIGN_OR_RETURN(ExitStatus child_crash, CrashAChildProcess());
  std::cout << "Fault isolation:\n"
            << "  a thread segfaults: its whole process was "
            << thread_crash.status << ";\n"
            << "    its other thread, busy counting (it had reached "
            << thread_crash.innocent_thread_count << "), died with it.\n"
            << "  a child process segfaults: the child was " << child_crash
            << "; this parent (pid " << getpid() << ") is still running.\n\n";

  // Scaling.
  const int64_t iterations =
      CalibrateCompute(absl::Milliseconds(FLAGS_task_ms));
  std::cout << "Scaling: " << FLAGS_tasks << " tasks of " << FLAGS_task_ms
            << " ms each (compute: " << iterations
            << " loop rounds; I/O: blocked in the kernel), shared out to N "
               "worker threads.\n";
  std::cout << absl::StrFormat("%8s %18s %12s %18s %12s\n", "workers",
                               "compute tasks/s", "cores used", "I/O tasks/s",
                               "cores used");
  std::vector<std::pair<ScalingPoint, ScalingPoint>> points;
  for (int workers = 1; workers <= FLAGS_max_workers; workers *= 2) {
    MT_ASSIGN_OR_RETURN(
        ScalingPoint compute,
        RunTasks(Work::kCompute, workers, FLAGS_tasks, iterations,
                 absl::Milliseconds(FLAGS_task_ms)));
    MT_ASSIGN_OR_RETURN(ScalingPoint io,
                        RunTasks(Work::kIo, workers, FLAGS_tasks, iterations,
                                 absl::Milliseconds(FLAGS_task_ms)));
    std::cout << absl::StrFormat("%8d %18.0f %12.2f %18.0f %12.2f\n", workers,
                                 compute.TasksPerSecond(), compute.CoresUsed(),
                                 io.TasksPerSecond(), io.CoresUsed());
    points.emplace_back(compute, io);
  }
  std::cout << "Compute-bound throughput stops growing at " << cpus
            << " workers (one per core; sooner if other programs keep the "
               "cores busy: see \"cores used\"); I/O-bound keeps growing, "
               "because a waiting thread uses no core.\n";

  if (!FLAGS_csv_dir.empty()) {
    std::ofstream costs(FLAGS_csv_dir + "/costs.csv");
    costs << "what,unit,threads,processes\n";
    for (const Row& row : rows) {
      costs << '"' << row.what << "\"," << row.unit << ',' << row.threads << ','
            << row.processes << '\n';
    }
    std::ofstream scaling(FLAGS_csv_dir + "/scaling.csv");
    scaling << "workers,compute_tasks_per_s,io_tasks_per_s,compute_cores_used,"
               "io_cores_used\n";
    for (const auto& [compute, io] : points) {
      scaling << compute.workers << ',' << compute.TasksPerSecond() << ','
              << io.TasksPerSecond() << ',' << compute.CoresUsed() << ','
              << io.CoresUsed() << '\n';
    }
    if (!costs || !scaling) {
      return absl::InternalError("cannot write CSV files in " + FLAGS_csv_dir);
    }
    std::cout << "Wrote costs.csv and scaling.csv in " << FLAGS_csv_dir << "\n";
  }
  if (!ChildPids(getpid()).empty()) {
    return absl::InternalError("a child process was left behind");
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace multitask::compare

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Measures processes against threads: creation, communication, context "
      "switches, memory, fault isolation, and compute- vs I/O-bound scaling.\n"
      "Usage: bazel run //lessons/compare -- [--creates=300] "
      "[--round_trips=20000] ...");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  const absl::Status status = multitask::compare::Run();
  if (!status.ok()) {
    std::cerr << "compare: " << status << "\n";
    return 1;
  }
  return 0;
}
