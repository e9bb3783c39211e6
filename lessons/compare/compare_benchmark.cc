// Benchmarks for the compare lesson: the same costs main.cc prints, under
// Google Benchmark, side by side in one run.
//
//   bazel run -c opt //lessons/compare:compare_benchmark
//
// Costs that need a set-up (a second thread or process to talk to) run a batch
// of operations per iteration, timed without the set-up (manual time); the
// per_op counter is the time of one operation.

#include "benchmark/benchmark.h"
#include "lessons/compare/compare_lesson.h"

namespace multitask::compare {
namespace {

template <typename F>
void Batch(benchmark::State& state, int batch, F run) {
  for (auto _ : state) {
    auto cost = run(batch);
    if (!cost.ok()) {
      state.SkipWithError(cost.status().ToString().c_str());
      return;
    }
    state.SetIterationTime(absl::ToDoubleSeconds(cost->total));
  }
  state.counters["per_op"] =
      benchmark::Counter(batch, benchmark::Counter::kIsIterationInvariantRate |
                                    benchmark::Counter::kInvert);
}

void BM_CreateJoinThread(benchmark::State& state) {
  Batch(state, 1, ThreadCreateJoin);
}
BENCHMARK(BM_CreateJoinThread)->UseManualTime();

void BM_CreateJoinFork(benchmark::State& state) { Batch(state, 1, ForkWait); }
BENCHMARK(BM_CreateJoinFork)->UseManualTime();

void BM_CreateJoinForkExecTrue(benchmark::State& state) {
  Batch(state, 1, [](int n) { return ForkExecWait(n); });
}
BENCHMARK(BM_CreateJoinForkExecTrue)->UseManualTime();

void BM_CreateJoinPosixSpawnTrue(benchmark::State& state) {
  Batch(state, 1, [](int n) { return SpawnWait(n); });
}
BENCHMARK(BM_CreateJoinPosixSpawnTrue)->UseManualTime();

void BM_SharedCounterAdd(benchmark::State& state) {
  const Party party = static_cast<Party>(state.range(0));
  Batch(state, 10000, [party](int n) -> absl::StatusOr<Cost> {
    absl::StatusOr<CounterResult> r = SharedCounter(party, 2, n);
    if (!r.ok()) return r.status();
    return r->cost;
  });
  state.SetLabel(PartyName(party));
}
BENCHMARK(BM_SharedCounterAdd)->Arg(0)->Arg(1)->UseManualTime();

void BM_PipeMessage(benchmark::State& state) {
  Batch(state, 1000, PipeMessage);
}
BENCHMARK(BM_PipeMessage)->UseManualTime();

// Args: party (0 threads, 1 processes), channel (0 pipe, 1 futex).
void BM_PingPongRoundTrip(benchmark::State& state) {
  const Party party = static_cast<Party>(state.range(0));
  const Channel channel = static_cast<Channel>(state.range(1));
  Batch(state, 1000, [&](int n) -> absl::StatusOr<Cost> {
    absl::StatusOr<PingPongResult> r =
        PingPong(party, channel, n, /*same_cpu=*/true);
    if (!r.ok()) return r.status();
    return r->cost;
  });
  state.SetLabel(std::string(PartyName(party)) + " " + ChannelName(channel));
}
BENCHMARK(BM_PingPongRoundTrip)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->UseManualTime();

}  // namespace
}  // namespace multitask::compare
