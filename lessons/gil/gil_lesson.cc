#include "lessons/gil/gil_lesson.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/child.h"
#include "common/status_macros.h"
#include "lessons/gil/interpreter.h"

namespace multitask {
namespace {

// Wall time and process CPU time around fn().
template <typename Fn>
std::pair<absl::Duration, absl::Duration> Timed(Fn&& fn) {
  const absl::Duration cpu0 = ProcessCpuTime();
  const absl::Time t0 = absl::Now();
  fn();
  return {absl::Now() - t0, ProcessCpuTime() - cpu0};
}

void RecordMax(std::atomic<int>& max, int value) {
  int seen = max.load();
  while (value > seen && !max.compare_exchange_weak(seen, value)) {
  }
}

}  // namespace

absl::Duration ProcessCpuTime() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

absl::Duration ReapedChildrenCpuTime() {
  rusage usage{};
  ::getrusage(RUSAGE_CHILDREN, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) +
         absl::DurationFromTimeval(usage.ru_stime);
}

std::int64_t IterationsFor(absl::Duration target) {
  // Thread CPU time, not wall time: on a busy machine the wall clock would
  // also count the time other processes ran.
  const auto thread_cpu = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return absl::DurationFromTimespec(ts);
  };
  Gil gil;
  std::int64_t n = 10'000;
  for (;;) {
    const absl::Duration t0 = thread_cpu();
    Interpret(BusyLoop(n), &gil);
    const absl::Duration took = thread_cpu() - t0;
    if (took >= absl::Milliseconds(20) || n >= (std::int64_t{1} << 40)) {
      return std::max<std::int64_t>(
          1, static_cast<std::int64_t>(static_cast<double>(n) *
                                       absl::FDivDuration(target, took)));
    }
    n *= 4;
  }
}

CpuRun RunBusyThreads(int workers, std::int64_t iterations, Locking locking,
                      std::chrono::microseconds switch_interval) {
  Gil shared(switch_interval);
  const Code code = BusyLoop(iterations);
  CpuRun run;
  run.workers = workers;
  std::atomic<std::int64_t> bytecodes{0};
  std::tie(run.wall, run.cpu) = Timed([&] {
    std::vector<std::jthread> threads;
    for (int i = 0; i < workers; ++i) {
      threads.emplace_back([&] {
        // kNoGil: a private, never contended Gil per thread, so that every
        // bytecode costs the same as under the shared one (the same eval
        // breaker check) and only the sharing differs.
        Gil own(switch_interval);
        Gil* gil = locking == Locking::kGil ? &shared : &own;
        bytecodes += Interpret(code, gil).bytecodes;
      });
    }
  });
  run.bytecodes = bytecodes.load();
  if (locking == Locking::kGil) run.gil = shared.stats();
  return run;
}

CpuRun RunBusySerial(int workers, std::int64_t iterations) {
  Gil gil;
  const Code code = BusyLoop(workers * iterations);
  CpuRun run;
  run.workers = 1;
  std::tie(run.wall, run.cpu) =
      Timed([&] { run.bytecodes = Interpret(code, &gil).bytecodes; });
  run.gil = gil.stats();
  return run;
}

absl::StatusOr<CpuRun> RunBusyProcesses(int workers, std::int64_t iterations) {
  const absl::Duration cpu0 = ReapedChildrenCpuTime();
  const absl::Time t0 = absl::Now();
  std::vector<Child> children;
  for (int i = 0; i < workers; ++i) {
    MT_ASSIGN_OR_RETURN(Child child, Child::Fork([iterations] {
                          Gil gil;  // each process has its own
                          Interpret(BusyLoop(iterations), &gil);
                          return 0;
                        }));
    children.push_back(std::move(child));
  }
  for (Child& child : children) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) {
      return absl::InternalError("worker process " + status.ToString());
    }
  }
  CpuRun run;
  run.workers = workers;
  run.wall = absl::Now() - t0;
  run.cpu = ReapedChildrenCpuTime() - cpu0;
  return run;
}

SleepRun RunSleepyThreads(int threads, std::int64_t sleeps,
                          std::chrono::microseconds sleep,
                          bool release_gil_to_sleep) {
  Gil gil;
  std::atomic<int> asleep{0};
  std::atomic<int> max_asleep{0};
  RunOptions options;
  options.sleep = [&](std::chrono::microseconds d) {
    RecordMax(max_asleep, asleep.fetch_add(1) + 1);
    std::this_thread::sleep_for(d);
    asleep.fetch_sub(1);
  };
  options.release_gil_to_sleep = release_gil_to_sleep;
  const Code code = SleepLoop(sleeps, sleep);
  SleepRun run;
  run.threads = threads;
  run.wall = Timed([&] {
               std::vector<std::jthread> workers;
               for (int i = 0; i < threads; ++i) {
                 workers.emplace_back([&] { Interpret(code, &gil, options); });
               }
             }).first;
  run.serial = absl::FromChrono(sleep) * (threads * sleeps);
  run.max_asleep_at_once = max_asleep.load();
  return run;
}

ConvoyRun MeasureConvoy(std::int64_t io_ops, std::chrono::microseconds io,
                        bool with_cpu_thread,
                        std::chrono::microseconds switch_interval) {
  Gil gil(switch_interval);
  std::atomic<bool> stop{false};
  ConvoyRun run;
  run.with_cpu_thread = with_cpu_thread;
  run.io_ops = io_ops;
  // Declared before the thread: it must outlive the thread's count_down().
  std::latch running(1);
  std::jthread cpu_thread;
  if (with_cpu_thread) {
    cpu_thread = std::jthread([&] {
      // Effectively endless: stopped once the I/O thread is done.
      const Code forever = BusyLoop(std::int64_t{1} << 62);
      RunOptions options;
      options.stop = &stop;
      running.count_down();
      Interpret(forever, &gil, options);
    });
    running.wait();
  }
  const absl::Time t0 = absl::Now();
  const RunResult io_result = Interpret(SleepLoop(io_ops, io), &gil);
  run.wall = absl::Now() - t0;
  stop.store(true);
  if (cpu_thread.joinable()) cpu_thread.join();
  run.mean_gil_wait = absl::FromChrono(io_result.gil_wait_after_sleep) /
                      std::max<std::int64_t>(1, io_ops);
  run.max_gil_wait = absl::FromChrono(io_result.max_gil_wait_after_sleep);
  run.gil = gil.stats();
  return run;
}

}  // namespace multitask
