// What a Process costs: start + join of a child that returns at once, next to
// the raw system calls it is built on (fork + waitpid), and common's Child.
//
//   bazel run -c opt //lessons/process:process_benchmark
//
// Issue target: Process start+join <= 1.2x raw fork+waitpid.

#include <sys/wait.h>
#include <unistd.h>

#include "benchmark/benchmark.h"
#include "common/child.h"
#include "common/process.h"

namespace multitask {
namespace {

void BM_RawForkWaitpid(benchmark::State& state) {
  for (auto _ : state) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    benchmark::DoNotOptimize(status);
  }
}
BENCHMARK(BM_RawForkWaitpid)->UseRealTime();

void BM_ChildForkWait(benchmark::State& state) {
  for (auto _ : state) {
    Child child = Child::Fork([] { return 0; }).value();
    benchmark::DoNotOptimize(child.Wait().value());
  }
}
BENCHMARK(BM_ChildForkWait)->UseRealTime();

void BM_ProcessStartJoin(benchmark::State& state) {
  for (auto _ : state) {
    Process p([] {});
    (void)p.Start();
    benchmark::DoNotOptimize(p.Join().value());
  }
}
BENCHMARK(BM_ProcessStartJoin)->UseRealTime();

}  // namespace
}  // namespace multitask
