// Benchmarks for the queue_ipc lesson: ipc::Queue against a raw pipe, side by
// side in one run.
//
//   bazel run -c opt //lessons/queue_ipc:queue_ipc_benchmark
//   python3 tools/bench_queue_ipc.py   # also runs Python's Queue and Pipe
//
// Throughput: N messages of 8 B, 256 B or 4 KiB from P producer processes to C
// consumer processes, timed from the first fork to the last consumer's exit
// (so fork and drain are included; N is large enough that they are noise).
// Counters: Mmsg/s and GB/s. The raw pipe runs 1 -> 1 only: with two readers,
// a read() can return part of a message and the rest goes to the other
// reader, so a pipe shared by several readers needs a lock around each
// message (that is what Python's multiprocessing.Queue adds).
// Round trip: one 8-byte message to a child and back, per iteration.

#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/child.h"
#include "common/fd.h"
#include "common/ipc_queue.h"

namespace multitask {
namespace {

enum Transport { kQueue, kPipe };

int64_t MessagesFor(size_t size) {
  if (size <= 8) return 2'000'000;
  if (size <= 256) return 1'000'000;
  return 200'000;
}

// Reads exactly `size` bytes into `buffer` (no allocation); false at EOF.
bool ReadMessage(int fd, char* buffer, size_t size) {
  size_t got = 0;
  while (got < size) {
    const ssize_t n = read(fd, buffer + got, size - got);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

bool WriteMessage(int fd, const std::string& message) {
  return WriteAll(fd, message).ok();
}

// One run: returns the elapsed seconds, or a negative number on failure.
double RunThroughput(Transport transport, int producers, int consumers,
                     size_t size, int64_t messages) {
  const std::string message(size, 'm');
  const int64_t per_producer = messages / producers;
  const absl::Time start = absl::Now();
  std::vector<Child> children;
  if (transport == kQueue) {
    ipc::Queue queue = ipc::Queue::Create(1 << 20).value();
    for (int c = 0; c < consumers; ++c) {
      children.push_back(Child::Fork([&] {
                           std::string buffer;
                           while (queue.GetInto(&buffer).ok()) {
                           }
                           return 0;
                         }).value());
    }
    std::vector<Child> putters;
    for (int p = 0; p < producers; ++p) {
      putters.push_back(Child::Fork([&] {
                          for (int64_t i = 0; i < per_producer; ++i) {
                            if (!queue.Put(message).ok()) return 1;
                          }
                          return 0;
                        }).value());
    }
    for (Child& putter : putters) {
      if (!putter.Wait().value().success()) return -1;
    }
    queue.Close();
  } else {
    Pipe pipe = MakePipe().value();
    children.push_back(
        Child::Fork([&] {
          pipe.write_end.Close();
          std::vector<char> buffer(size);
          while (ReadMessage(pipe.read_end.get(), buffer.data(), size)) {
          }
          return 0;
        }).value());
    children.push_back(Child::Fork([&] {
                         pipe.read_end.Close();
                         for (int64_t i = 0; i < per_producer; ++i) {
                           if (!WriteMessage(pipe.write_end.get(), message)) {
                             return 1;
                           }
                         }
                         return 0;
                       }).value());
    pipe.read_end.Close();
    pipe.write_end.Close();
  }
  for (Child& child : children) {
    if (!child.Wait().value().success()) return -1;
  }
  return absl::ToDoubleSeconds(absl::Now() - start);
}

void BM_Throughput(benchmark::State& state) {
  const auto transport = static_cast<Transport>(state.range(0));
  const int producers = static_cast<int>(state.range(1));
  const int consumers = static_cast<int>(state.range(2));
  const size_t size = static_cast<size_t>(state.range(3));
  const int64_t messages = MessagesFor(size) / producers * producers;
  double seconds = 0;
  for (auto _ : state) {
    seconds = RunThroughput(transport, producers, consumers, size, messages);
    if (seconds <= 0) {
      state.SkipWithError("a child failed");
      return;
    }
    state.SetIterationTime(seconds);
  }
  state.counters["Mmsg/s"] = static_cast<double>(messages) / seconds / 1e6;
  state.counters["GB/s"] =
      static_cast<double>(messages) * static_cast<double>(size) / seconds / 1e9;
  state.SetLabel(transport == kQueue ? "ipc::Queue" : "raw pipe");
}

void ThroughputArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"queue0_pipe1", "producers", "consumers", "bytes"});
  for (int size : {8, 256, 4096}) {
    b->Args({kQueue, 1, 1, size});
    b->Args({kPipe, 1, 1, size});
    b->Args({kQueue, 2, 2, size});
  }
}
BENCHMARK(BM_Throughput)
    ->Apply(ThroughputArgs)
    ->UseManualTime()
    ->Iterations(1)
    ->Repetitions(3)
    ->ReportAggregatesOnly(false)
    ->Unit(benchmark::kMillisecond);

void BM_RoundTrip(benchmark::State& state) {
  const auto transport = static_cast<Transport>(state.range(0));
  const std::string ping(8, 'p');
  if (transport == kQueue) {
    ipc::Queue to_child = ipc::Queue::Create(4096).value();
    ipc::Queue to_parent = ipc::Queue::Create(4096).value();
    Child child = Child::Fork([&] {
                    std::string buffer;
                    while (to_child.GetInto(&buffer).ok()) {
                      if (!to_parent.Put(buffer).ok()) return 1;
                    }
                    return 0;
                  }).value();
    std::string buffer;
    for (auto _ : state) {
      (void)to_child.Put(ping);
      (void)to_parent.GetInto(&buffer);
    }
    to_child.Close();
    (void)child.Wait();
  } else {
    Pipe to_child = MakePipe().value();
    Pipe to_parent = MakePipe().value();
    Child child = Child::Fork([&] {
                    to_child.write_end.Close();
                    to_parent.read_end.Close();
                    char buffer[8];
                    while (ReadMessage(to_child.read_end.get(), buffer, 8)) {
                      if (write(to_parent.write_end.get(), buffer, 8) != 8) {
                        return 1;
                      }
                    }
                    return 0;
                  }).value();
    to_child.read_end.Close();
    to_parent.write_end.Close();
    char buffer[8];
    for (auto _ : state) {
      (void)!write(to_child.write_end.get(), ping.data(), 8);
      ReadMessage(to_parent.read_end.get(), buffer, 8);
    }
    to_child.write_end.Close();
    (void)child.Wait();
  }
  state.SetLabel(transport == kQueue ? "ipc::Queue" : "raw pipe");
}
BENCHMARK(BM_RoundTrip)
    ->ArgName("queue0_pipe1")
    ->Arg(kQueue)
    ->Arg(kPipe)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace multitask
