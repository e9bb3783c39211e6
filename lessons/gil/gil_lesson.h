// gil_lesson.h: the lesson's experiments with the Gil, each returning what
// happened (times, CPU use, counts) for main.cc to print and tests to check.
//
// Example:
//   const std::int64_t n = IterationsFor(absl::Milliseconds(300));
//   CpuRun gil = RunBusyThreads(2, n, Locking::kGil);
//   CpuRun free = RunBusyThreads(2, n, Locking::kNoGil);
//   // gil.cores() ~ 1.0, free.cores() ~ 2.0 on two idle cores
//
// "Serial" baselines run the same total work on one thread, so
// wall / serial ~ 1 means "no faster than one thread" and 1/N is perfect
// scaling on N cores. None of these functions print. Thread-safety: call them
// from one thread at a time (they start and join their own threads).
#ifndef MULTITASK_LESSONS_GIL_GIL_LESSON_H_
#define MULTITASK_LESSONS_GIL_GIL_LESSON_H_

#include <chrono>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lessons/gil/gil.h"

namespace multitask {

// CPU time used so far by all threads of this process
// (clock_gettime(CLOCK_PROCESS_CPUTIME_ID)).
absl::Duration ProcessCpuTime();
// CPU time used by this process's reaped children (getrusage(RUSAGE_CHILDREN)).
absl::Duration ReapedChildrenCpuTime();

// How many BusyLoop iterations take about `target` of CPU time on one thread
// here (with the GIL, uncontended), measured on the spot.
std::int64_t IterationsFor(absl::Duration target);

enum class Locking { kGil, kNoGil };

struct CpuRun {
  int workers = 0;
  absl::Duration wall;
  absl::Duration cpu;  // process (or children's) CPU time during the run
  Gil::Stats gil;      // zero for kNoGil and for processes
  std::int64_t bytecodes = 0;  // executed by all threads (0 for processes)
  // Cores kept busy on average: CPU time / wall time.
  double cores() const { return absl::FDivDuration(cpu, wall); }
};

// `workers` threads each run BusyLoop(iterations) under one shared Gil (kGil)
// or each under its own (kNoGil: nothing shared, as in C++ or free-threaded
// Python, at the same cost per bytecode).
CpuRun RunBusyThreads(
    int workers, std::int64_t iterations, Locking locking,
    std::chrono::microseconds switch_interval = Gil::kDefaultSwitchInterval);

// One thread runs BusyLoop(workers * iterations): the same total work.
CpuRun RunBusySerial(int workers, std::int64_t iterations);

// `workers` forked processes each run BusyLoop(iterations) under their own Gil
// (every Python process has its own). Every child is reaped before returning.
// Call it before starting other threads (fork in a threaded process is only
// safe for async-signal-safe code).
absl::StatusOr<CpuRun> RunBusyProcesses(int workers, std::int64_t iterations);

struct SleepRun {
  int threads = 0;
  absl::Duration wall;
  absl::Duration serial;  // threads * sleeps * sleep: one after the other
  int max_asleep_at_once = 0;
};

// `threads` threads each run SleepLoop(sleeps, sleep) under one Gil: an
// I/O-bound program. With release_gil_to_sleep = false they sleep holding it.
SleepRun RunSleepyThreads(int threads, std::int64_t sleeps,
                          std::chrono::microseconds sleep,
                          bool release_gil_to_sleep = true);

struct ConvoyRun {
  bool with_cpu_thread = false;
  std::int64_t io_ops = 0;
  absl::Duration wall;  // of the I/O-bound thread
  // From "the I/O is done" to "running bytecodes again", per operation.
  absl::Duration mean_gil_wait;
  absl::Duration max_gil_wait;
  Gil::Stats gil;
};

// The convoy effect: an I/O-bound thread does `io_ops` short blocking calls
// (`io` each); with_cpu_thread adds a CPU-bound thread on the same Gil that
// never blocks, so after every I/O the I/O thread waits for a drop request
// (a whole switch interval) before it can run again.
ConvoyRun MeasureConvoy(
    std::int64_t io_ops, std::chrono::microseconds io, bool with_cpu_thread,
    std::chrono::microseconds switch_interval = Gil::kDefaultSwitchInterval);

}  // namespace multitask

#endif  // MULTITASK_LESSONS_GIL_GIL_LESSON_H_
