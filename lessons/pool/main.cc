// The pool lesson: Python's multiprocessing.Pool, in C++.
//
//   bazel run //lessons/pool
//   bazel run //lessons/pool -- --task_ms=1000   # the seed's one second
//
// Every section is a port of a seed example; README.md puts them side by side.

#include <unistd.h>

#include <iostream>
#include <random>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/process.h"
#include "gflags/gflags.h"
#include "lessons/pool/pool_lesson.h"

DEFINE_int32(max_sleep_ms, 300,
             "seed 001's tasks sleep random() * this (the seed: 3000)");
DEFINE_int32(seed, 1, "random seed for those sleeps");
DEFINE_int32(task_ms, 100, "seed 002's tasks sleep this long (the seed: 1000)");
DEFINE_int64(sum_to, 1000000, "n for Apply(sum_to, n)");
DEFINE_int32(chunk_items, 20000, "items in the chunking measurement");

namespace multitask::pool_lesson {
namespace {

std::string Ms(absl::Duration d) {
  return absl::StrFormat("%5.0f ms", absl::ToDoubleMilliseconds(d));
}

void PrintRun(const PoolRun& run) {
  std::cout << "  workers made up front: "
            << absl::StrJoin(run.worker_pids, ", ") << "\n";
  for (const TaskRecord& t : run.tasks) {
    std::cout << absl::StrFormat("  task %d  pid %-7d from %s to %s\n", t.task,
                                 t.pid, Ms(t.start), Ms(t.end));
  }
  std::set<pid_t> used;
  for (const TaskRecord& t : run.tasks) used.insert(t.pid);
  std::cout << "  " << run.tasks.size() << " tasks ran in " << used.size()
            << " processes; total " << Ms(run.total) << "\n";
}

absl::Status Main() {
  std::cout << "Parent pid " << getpid() << "; CpuCount() = " << CpuCount()
            << " (the default pool size).\n\n";

  std::cout << "== 1. Pool(4) and five tasks (seed 001) ==\n";
  std::mt19937 random(static_cast<unsigned>(FLAGS_seed));
  std::uniform_int_distribution<int> sleep(FLAGS_max_sleep_ms / 10,
                                           FLAGS_max_sleep_ms);
  std::vector<int> sleeps;
  for (int i = 0; i < 5; ++i) sleeps.push_back(sleep(random));
  absl::StatusOr<PoolRun> five = FiveTasksOnFourWorkers(sleeps);
  if (!five.ok()) return five.status();
  PrintRun(*five);
  std::cout << "Notice: tasks 0-3 start at once; task 4 starts when the "
               "first of them ends, in that worker.\n\n";

  std::cout << "== 2. Pool(3) and nine hellos with ApplyAsync (seed 002) ==\n";
  absl::StatusOr<PoolRun> nine = NineHellosOnThreeWorkers(FLAGS_task_ms);
  if (!nine.ok()) return nine.status();
  PrintRun(*nine);
  std::cout << "Notice: three waves of three, and the same three pids: a "
               "pool makes its processes once, up front.\n\n";

  std::cout << "== 3. map, apply, apply_async, imap, close, terminate, join "
               "(seed 003) ==\n";
  absl::StatusOr<ApiTour> tour = TourTheApi(FLAGS_sum_to);
  if (!tour.ok()) return tour.status();
  std::cout << "  Map(Square, 0..9)       = "
            << absl::StrJoin(tour->map_squares, " ") << "\n"
            << "  Apply(SumTo, " << FLAGS_sum_to << ") = " << tour->apply_sum
            << "\n"
            << "  ApplyAsync(Square, 12).Get() = " << tour->apply_async_square
            << "\n"
            << "  Imap(Square, 0..4), one by one: "
            << absl::StrJoin(tour->imap_in_order, " ") << "\n"
            << "  Apply after Close(): "
            << (tour->submit_after_close_failed ? "an error, at once"
                                                : "accepted?!")
            << "\n"
            << "  Terminate() with four minute-long tasks queued: "
            << tour->cancelled_by_terminate << " cancelled, workers reaped\n\n";

  std::cout << "== 4. Chunking: Map of " << FLAGS_chunk_items
            << " no-op tasks on 2 workers ==\n";
  const size_t items = static_cast<size_t>(FLAGS_chunk_items);
  absl::StatusOr<std::vector<ChunkCost>> costs =
      MeasureChunking(2, FLAGS_chunk_items, {1, 10, 0, items});
  if (!costs.ok()) return costs.status();
  for (const ChunkCost& cost : *costs) {
    std::cout << absl::StrFormat("  chunksize %-6s %7.2f us per item\n",
                                 cost.chunksize == 0
                                     ? std::string("0 (auto)")
                                     : std::to_string(cost.chunksize),
                                 absl::ToDoubleMicroseconds(cost.per_item));
  }
  std::cout << "Notice: one item per task pays a message each way; big "
               "chunks pay it once per chunk.\n\n";

  std::cout << "== 5. Beyond Python: a worker crashes ==\n";
  absl::StatusOr<CrashRun> crash = CrashAWorker(8);
  if (!crash.ok()) return crash.status();
  std::cout << "  task 2 -> " << crash->error << "\n"
            << "  the other " << crash->others_ok << " tasks -> ok\n"
            << "  workers before: " << absl::StrJoin(crash->before, ", ")
            << "; after: " << absl::StrJoin(crash->after, ", ") << "\n"
            << "Notice: Python's Pool would wait for task 2 forever.\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace multitask::pool_lesson

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Python's multiprocessing.Pool in C++: apply, map, imap, chunking, "
      "crashes.\nUsage: pool [--max_sleep_ms=300] [--task_ms=100] ...");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  absl::Status status = multitask::pool_lesson::Main();
  if (!status.ok()) {
    std::cerr << "error: " << status << "\n";
    return 1;
  }
  return 0;
}
