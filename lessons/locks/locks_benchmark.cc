// What a lock costs: "why not lock everything".
//
//   bazel run -c opt //lessons/locks:locks_benchmark
//   # with Python's threading.Lock side by side, in one run:
//   bazel build -c opt //lessons/locks:locks_benchmark &&
//     python3 tools/bench_locks.py bazel-bin/lessons/locks/locks_benchmark
//
// Each benchmark counts to the iteration count; with Threads(2) both threads
// hammer the same counter (except the per-thread one). Times are wall-clock
// nanoseconds per increment as one thread sees it.

#include <atomic>
#include <mutex>

#include "benchmark/benchmark.h"

namespace {

std::mutex shared_mutex;
long long shared_counter = 0;  // guarded by shared_mutex
std::atomic<long long> shared_atomic = 0;

void BM_PlainIncrement(benchmark::State& state) {
  long long counter = 0;
  for (auto _ : state) {
    ++counter;
    benchmark::DoNotOptimize(counter);
  }
}
BENCHMARK(BM_PlainIncrement);

void BM_MutexIncrement(benchmark::State& state) {
  for (auto _ : state) {
    std::lock_guard lock(shared_mutex);
    ++shared_counter;
    benchmark::DoNotOptimize(shared_counter);
  }
}
// Threads(1): uncontended; Threads(2): contended by two threads.
BENCHMARK(BM_MutexIncrement)->Threads(1)->Threads(2)->UseRealTime();

void BM_AtomicIncrement(benchmark::State& state) {
  for (auto _ : state) {
    shared_atomic.fetch_add(1, std::memory_order_relaxed);
  }
}
BENCHMARK(BM_AtomicIncrement)->Threads(1)->Threads(2)->UseRealTime();

// Each thread counts in its own variable and adds it to the total once, at
// the end, under the lock: one lock per thread instead of one per increment.
void BM_PerThreadCountersMerged(benchmark::State& state) {
  long long mine = 0;
  for (auto _ : state) {
    ++mine;
    benchmark::DoNotOptimize(mine);
  }
  std::lock_guard lock(shared_mutex);
  shared_counter += mine;
}
BENCHMARK(BM_PerThreadCountersMerged)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
