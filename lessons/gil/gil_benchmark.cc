// What the GIL costs, side by side in one run:
//   bazel run -c opt //lessons/gil:gil_benchmark
// - BM_Interpret/0 vs /1: bytecodes without and with an (uncontended) GIL:
//   the price of checking the drop request at every bytecode.
// - BM_AcquireRelease: taking and dropping a free GIL (a blocking call's cost).
// - BM_ForcedHandover: one handover between two threads that both want the
//   GIL, with a 1 us switch interval, so the time is the handover itself
//   (condition variable wake-ups and a context switch), not the interval.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "benchmark/benchmark.h"
#include "lessons/gil/gil.h"
#include "lessons/gil/interpreter.h"

namespace multitask {
namespace {

void BM_Interpret(benchmark::State& state) {
  const bool with_gil = state.range(0) != 0;
  constexpr std::int64_t kIterations = 100'000;
  const Code code = BusyLoop(kIterations);
  Gil gil;
  std::int64_t bytecodes = 0;
  for (auto _ : state) {
    bytecodes += Interpret(code, with_gil ? &gil : nullptr).bytecodes;
  }
  state.SetItemsProcessed(bytecodes);  // items/s = bytecodes per second
  state.SetLabel(with_gil ? "under a Gil" : "no Gil");
}
BENCHMARK(BM_Interpret)->Arg(0)->Arg(1);

void BM_AcquireRelease(benchmark::State& state) {
  Gil gil;
  for (auto _ : state) {
    gil.Acquire();
    gil.Release();
  }
}
BENCHMARK(BM_AcquireRelease);

void BM_ForcedHandover(benchmark::State& state) {
  Gil gil(std::chrono::microseconds(1));
  std::atomic<bool> stop{false};
  gil.Acquire();
  std::thread other([&] {
    gil.Acquire();
    while (!stop.load(std::memory_order_relaxed)) {
      if (gil.DropRequested()) gil.Yield();
    }
    gil.Release();
  });
  const std::int64_t switches_before = gil.stats().switches;
  for (auto _ : state) {
    // Wait for the other thread to ask, then hand over; Yield() returns once
    // the GIL has come back: two handovers per iteration.
    while (!gil.DropRequested()) {
    }
    gil.Yield();
  }
  const std::int64_t switches = gil.stats().switches - switches_before;
  stop.store(true);
  gil.Release();
  other.join();
  state.counters["handovers"] = static_cast<double>(switches);
  state.counters["per_handover"] = benchmark::Counter(
      static_cast<double>(switches),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ForcedHandover)->UseRealTime();

}  // namespace
}  // namespace multitask
