// bazel run //lessons/gil -- [--workers=2] [--work_ms=300] [--compare]
//
// Seed 001's "dead loop" threads under a CPython-style GIL, without it, and in
// processes; I/O-bound threads; the convoy effect. Prints what to notice.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gflags/gflags.h"
#include "lessons/gil/gil.h"
#include "lessons/gil/gil_lesson.h"
#include "lessons/gil/interpreter.h"

DEFINE_int32(workers, 2, "threads (or processes) running the busy loop");
DEFINE_int32(work_ms, 200,
             "busy-loop work per worker, in ms of CPU time on one thread");
DEFINE_int32(switch_interval_us, 5000,
             "the GIL's switch interval (CPython: sys.getswitchinterval())");
DEFINE_int32(io_threads, 4, "I/O-bound threads");
DEFINE_int32(io_sleeps, 10, "sleeps per I/O-bound thread");
DEFINE_int32(io_sleep_ms, 20, "length of one sleep");
DEFINE_int32(convoy_ops, 100, "I/O operations in the convoy demo");
DEFINE_int32(convoy_io_us, 500, "length of one I/O operation (a sleep)");
DEFINE_bool(compare, false,
            "print only the wall times in seconds, one 'name value' per "
            "line, for tools/compare_gil.py");
DEFINE_bool(dis, false, "print the busy loop's bytecode and exit");

namespace multitask {
namespace {

std::string Ms(absl::Duration d) {
  return absl::StrFormat("%.1f ms", absl::ToDoubleMilliseconds(d));
}

double Ratio(absl::Duration a, absl::Duration b) {
  return absl::FDivDuration(a, b);
}

struct Measured {
  CpuRun serial, gil_threads, free_threads, processes;
  SleepRun io, io_serial;
};

absl::StatusOr<Measured> Measure(std::int64_t iterations) {
  Measured m;
  // Processes first: fork before this process starts any thread.
  absl::StatusOr<CpuRun> processes =
      RunBusyProcesses(FLAGS_workers, iterations);
  if (!processes.ok()) return processes.status();
  m.processes = *processes;
  const std::chrono::microseconds interval(FLAGS_switch_interval_us);
  m.serial = RunBusySerial(FLAGS_workers, iterations);
  m.gil_threads =
      RunBusyThreads(FLAGS_workers, iterations, Locking::kGil, interval);
  m.free_threads =
      RunBusyThreads(FLAGS_workers, iterations, Locking::kNoGil, interval);
  const std::chrono::milliseconds sleep(FLAGS_io_sleep_ms);
  m.io = RunSleepyThreads(FLAGS_io_threads, FLAGS_io_sleeps, sleep);
  m.io_serial = RunSleepyThreads(1, FLAGS_io_threads * FLAGS_io_sleeps, sleep);
  return m;
}

int Main() {
  if (FLAGS_workers < 1 || FLAGS_work_ms < 1 || FLAGS_switch_interval_us < 1 ||
      FLAGS_io_threads < 1 || FLAGS_io_sleeps < 1 || FLAGS_io_sleep_ms < 0 ||
      FLAGS_convoy_ops < 1 || FLAGS_convoy_io_us < 0) {
    std::fprintf(stderr, "gil: every number flag must be positive\n");
    return 2;
  }
  if (FLAGS_workers > 64 || FLAGS_io_threads > 256) {
    std::fprintf(stderr, "gil: at most 64 --workers and 256 --io_threads\n");
    return 2;
  }
  if (FLAGS_dis) {
    std::printf("%s", Disassemble(BusyLoop(1)).c_str());
    return 0;
  }
  const std::int64_t iterations =
      IterationsFor(absl::Milliseconds(FLAGS_work_ms));
  absl::StatusOr<Measured> m = Measure(iterations);
  if (!m.ok()) {
    std::fprintf(stderr, "gil: %s\n", m.status().ToString().c_str());
    return 1;
  }
  if (FLAGS_compare) {
    // Raw wall times in seconds: tools/compare_gil.py takes the best of
    // several runs of each before dividing (robust to a busy machine).
    const auto seconds = [](absl::Duration d) {
      return absl::ToDoubleSeconds(d);
    };
    std::printf("serial %.4f\n", seconds(m->serial.wall));
    std::printf("threads_gil %.4f\n", seconds(m->gil_threads.wall));
    std::printf("threads_nogil %.4f\n", seconds(m->free_threads.wall));
    std::printf("processes %.4f\n", seconds(m->processes.wall));
    std::printf("io_threads %.4f\n", seconds(m->io.wall));
    std::printf("io_serial %.4f\n", seconds(m->io_serial.wall));
    return 0;
  }

  const int n = FLAGS_workers;
  std::printf("pid %d, %ld CPUs online, GIL switch interval %d us\n", getpid(),
              sysconf(_SC_NPROCESSORS_ONLN), FLAGS_switch_interval_us);
  std::printf(
      "\n1. Seed 001's dead loop (x = x ^ 1), %lld iterations per worker, %d "
      "workers.\n",
      static_cast<long long>(iterations), n);
  std::printf("   %-28s %10s %10s %8s %12s\n", "", "wall", "CPU", "cores",
              "wall/serial");
  auto row = [&](const char* name, const CpuRun& r) {
    std::printf("   %-28s %10s %10s %8.2f %12.2f\n", name, Ms(r.wall).c_str(),
                Ms(r.cpu).c_str(), r.cores(), Ratio(r.wall, m->serial.wall));
  };
  row("serial (1 thread, all work)", m->serial);
  row("threads, one GIL", m->gil_threads);
  row("threads, no GIL (C++)", m->free_threads);
  row("processes, a GIL each", m->processes);
  std::printf(
      "   Notice: with the GIL the threads keep at most 1 core busy (cores = "
      "CPU "
      "time / wall\n   time) and take as long as doing the work serially; "
      "without it, or in processes,\n   they can use up to %d cores.\n",
      n);
  if (n >= 2 && m->free_threads.cores() < 1.5) {
    std::printf(
        "   (This run got only %.2f cores even without the GIL: the machine is "
        "busy, and Linux\n   shares the CPUs between sessions, not between "
        "threads.)\n",
        m->free_threads.cores());
  }
  const Gil::Stats& s = m->gil_threads.gil;
  const std::int64_t switches = std::max<std::int64_t>(1, s.switches);
  std::printf(
      "   The GIL changed hands %lld times (%lld drop requests) in %s: every "
      "%s on average,\n   every %lld bytecodes - not \"every 100 bytecodes\" "
      "(that was Python 2).\n",
      static_cast<long long>(s.switches),
      static_cast<long long>(s.drop_requests), Ms(m->gil_threads.wall).c_str(),
      Ms(m->gil_threads.wall / switches).c_str(),
      static_cast<long long>(m->gil_threads.bytecodes / switches));

  std::printf(
      "\n2. I/O-bound: %d threads each sleep %d x %d ms (GIL released while "
      "sleeping).\n",
      FLAGS_io_threads, FLAGS_io_sleeps, FLAGS_io_sleep_ms);
  const SleepRun held = RunSleepyThreads(
      FLAGS_io_threads, FLAGS_io_sleeps,
      std::chrono::milliseconds(FLAGS_io_sleep_ms), /*release_gil_to_sleep=*/
      false);
  std::printf(
      "   GIL released: wall %s, serial %s, at most %d asleep at once\n",
      Ms(m->io.wall).c_str(), Ms(m->io.serial).c_str(),
      m->io.max_asleep_at_once);
  std::printf(
      "   GIL held:     wall %s, serial %s, at most %d asleep at once\n",
      Ms(held.wall).c_str(), Ms(held.serial).c_str(), held.max_asleep_at_once);
  std::printf(
      "   Notice: the sleeps overlap when the GIL is released, so threads do "
      "help I/O-bound work.\n");

  std::printf(
      "\n3. Convoy effect: an I/O thread does %d operations of %d us each.\n",
      FLAGS_convoy_ops, FLAGS_convoy_io_us);
  const std::chrono::microseconds io(FLAGS_convoy_io_us);
  const std::chrono::microseconds interval(FLAGS_switch_interval_us);
  for (const bool with_cpu : {false, true}) {
    const ConvoyRun c = MeasureConvoy(FLAGS_convoy_ops, io, with_cpu, interval);
    std::printf(
        "   %-34s wall %9s, wait for the GIL after each I/O: mean %s, max "
        "%s\n",
        with_cpu ? "next to a CPU-bound thread:" : "alone:", Ms(c.wall).c_str(),
        Ms(c.mean_gil_wait).c_str(), Ms(c.max_gil_wait).c_str());
  }
  std::printf(
      "   Notice: next to a CPU-bound thread every I/O completion waits for a "
      "drop request,\n   i.e. a switch interval (%d us) or more, for the GIL: "
      "the I/O thread crawls.\n",
      FLAGS_switch_interval_us);
  return 0;
}

}  // namespace
}  // namespace multitask

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Threads under a CPython-style GIL vs no GIL vs processes; I/O-bound "
      "threads; the convoy effect.\nUsage: gil [--workers=2] [--work_ms=300] "
      "[--compare] [--dis]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return multitask::Main();
}
