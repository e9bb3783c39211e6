// What a ProcessPool task costs, next to what it is built on.
//
//   bazel run -c opt //lessons/pool:pool_benchmark
//
// - BM_PipePingPong: the floor for a synchronous round trip: a parent and a
//   child bounce a 32-byte message over two pipes.
// - BM_PoolApply: Apply() of a no-op, a synchronous round trip through the
//   pool (issue target: <= 1.3x the ping-pong).
// - BM_PoolApplyAsync: 1000 ApplyAsync() no-ops submitted back to back, then
//   all waited for: the pipelined cost per task (target: <= 2 us).
// - BM_PoolMap/chunksize: Map() of 1000 no-ops with chunk size 1 and 1000.
// Per-task figures are in the "us_per_task" counter.

#include <unistd.h>

#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/child.h"
#include "common/fd.h"
#include "common/process_pool.h"

namespace multitask {
namespace {

constexpr int kBatch = 1000;

int Nop(int x) { return x; }

void SetPerTask(benchmark::State& state, int tasks_per_iteration) {
  state.counters["us_per_task"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * tasks_per_iteration / 1e6,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_PipePingPong(benchmark::State& state) {
  Pipe to_child = MakePipe().value();
  Pipe to_parent = MakePipe().value();
  Child child = Child::Fork([&] {
                  to_child.write_end.Close();  // or no end of file, ever
                  to_parent.read_end.Close();
                  char message[32] = {};
                  while (ReadExactly(to_child.read_end.get(), 32).ok()) {
                    if (!WriteAll(to_parent.write_end.get(),
                                  absl::string_view(message, 32))
                             .ok()) {
                      return 1;
                    }
                  }
                  return 0;
                }).value();
  to_child.read_end.Close();
  to_parent.write_end.Close();
  char message[32] = {};
  for (auto _ : state) {
    (void)WriteAll(to_child.write_end.get(), absl::string_view(message, 32));
    benchmark::DoNotOptimize(ReadExactly(to_parent.read_end.get(), 32).ok());
  }
  to_child.write_end.Close();
  (void)child.Wait();
  SetPerTask(state, 1);
}
BENCHMARK(BM_PipePingPong)->UseRealTime();

void BM_PoolApply(benchmark::State& state) {
  auto pool = ProcessPool::Create(2).value();
  for (auto _ : state) benchmark::DoNotOptimize(pool->Apply(Nop, 1).ok());
  SetPerTask(state, 1);
}
BENCHMARK(BM_PoolApply)->UseRealTime();

void BM_PoolApplyAsync(benchmark::State& state) {
  auto pool = ProcessPool::Create(2).value();
  std::vector<AsyncResult<int>> results;
  results.reserve(kBatch);
  for (auto _ : state) {
    results.clear();
    for (int i = 0; i < kBatch; ++i)
      results.push_back(pool->ApplyAsync(Nop, i));
    for (AsyncResult<int>& result : results) result.Wait();
  }
  SetPerTask(state, kBatch);
}
BENCHMARK(BM_PoolApplyAsync)->UseRealTime();

void BM_PoolMap(benchmark::State& state) {
  auto pool = ProcessPool::Create(2).value();
  const std::vector<int> items(kBatch, 1);
  const size_t chunksize = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(pool->Map(Nop, items, chunksize).ok());
  }
  SetPerTask(state, kBatch);
}
BENCHMARK(BM_PoolMap)->ArgName("chunksize")->Arg(1)->Arg(kBatch)->UseRealTime();

}  // namespace
}  // namespace multitask
