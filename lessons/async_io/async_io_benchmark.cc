// Benchmark for the async_io lesson: requests/s of each server model under
// the lesson's load generator, side by side in one run.
//
//   bazel run -c opt //lessons/async_io:async_io_benchmark
//
// Each benchmark starts its server in a process of its own; an iteration opens
// the connections (not timed), then runs kRequests requests (timed: manual
// time). per_request is the time of one request with that many connections
// in flight; requests_per_s its inverse.

#include "benchmark/benchmark.h"
#include "lessons/async_io/async_io_lesson.h"

namespace multitask::async_io {
namespace {

constexpr int kRequests = 5000;

void BM_Echo(benchmark::State& state) {
  const Model model = AllModels()[static_cast<size_t>(state.range(0))];
  absl::StatusOr<ServerProcess> server = StartServerProcess(model);
  if (!server.ok()) {
    state.SkipWithError(server.status().ToString().c_str());
    return;
  }
  LoadOptions options;
  options.connections = static_cast<int>(state.range(1));
  options.requests = kRequests;
  options.time_limit = absl::Seconds(30);
  for (auto _ : state) {
    absl::StatusOr<LoadResult> load = RunLoad(server->port, options);
    if (!load.ok() || load->mismatches != 0 ||
        load->requests_done != kRequests) {
      state.SkipWithError(load.ok() ? "wrong echo or requests missing"
                                    : load.status().ToString().c_str());
      break;
    }
    state.SetIterationTime(absl::ToDoubleSeconds(load->elapsed));
  }
  server->stop.Close();
  const absl::StatusOr<ExitStatus> ended = server->process.Wait();
  if (!ended.ok() || !ended->success()) {
    state.SkipWithError("the server did not shut down cleanly");
  }
  state.counters["per_request"] = benchmark::Counter(
      kRequests, benchmark::Counter::kIsIterationInvariantRate |
                     benchmark::Counter::kInvert);
  state.counters["requests_per_s"] = benchmark::Counter(
      kRequests, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(ModelName(model));
}
// Args: model (0 event loop, 1 coroutines, 2 thread per connection, 3 process
// per connection), connections.
BENCHMARK(BM_Echo)
    ->ArgsProduct({{0, 1, 2, 3}, {10, 100}})
    ->UseManualTime()
    ->Iterations(5);

}  // namespace
}  // namespace multitask::async_io
