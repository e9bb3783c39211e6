// pool_lesson.h: the demos of the pool lesson, as functions that run them and
// return what happened (main.cc prints it; the test checks it).
//
//   PoolRun run = FiveTasksOnFourWorkers({300, 100, 200, 250, 50}).value();
//   // run.tasks[4].start comes after the first of tasks 0..3 ended.
//
// Every demo uses common/process_pool.h; see README.md for the Python
// originals (seeds 001, 002, 003).

#ifndef MULTITASK_LESSONS_POOL_POOL_LESSON_H_
#define MULTITASK_LESSONS_POOL_POOL_LESSON_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace multitask::pool_lesson {

// One task as it ran in a worker.
struct TaskRecord {
  int task = 0;
  pid_t pid = 0;         // the worker that ran it
  absl::Duration start;  // since the demo started
  absl::Duration end;
};

struct PoolRun {
  int workers = 0;
  std::vector<pid_t> worker_pids;  // right after the pool was created
  std::vector<TaskRecord> tasks;   // by task number
  absl::Duration total;
};

// Seed 001: Pool(4), five tasks sleeping `sleep_ms[i]` each, submitted with
// ApplyAsync, then Close() and Join(). Tasks 0..3 start at once; task 4 waits
// for a free worker.
absl::StatusOr<PoolRun> FiveTasksOnFourWorkers(
    const std::vector<int>& sleep_ms);

// Seed 002: Pool(3), nine "hello i" tasks of `task_ms` each via ApplyAsync.
// Three workers, made once, run all nine: three waves.
absl::StatusOr<PoolRun> NineHellosOnThreeWorkers(int task_ms);

// Seed 003: map, apply, apply_async, imap, close, terminate, join.
struct ApiTour {
  std::vector<int> map_squares;    // Map(square, 0..9)
  long long apply_sum = 0;         // Apply(sum_to, n)
  int apply_async_square = 0;      // ApplyAsync(square, 12).Get()
  std::vector<int> imap_in_order;  // Imap(square, 0..4), as consumed
  bool submit_after_close_failed = false;
  int cancelled_by_terminate = 0;  // of 4 long tasks on 2 workers
};
absl::StatusOr<ApiTour> TourTheApi(long long n);

// Chunking: Map of `items` no-op tasks with a given chunk size; the time per
// item.
struct ChunkCost {
  size_t chunksize = 0;
  absl::Duration per_item;
};
absl::StatusOr<std::vector<ChunkCost>> MeasureChunking(
    int workers, int items, const std::vector<size_t>& chunksizes);

// Beyond Python: a task crashes its worker (SIGSEGV); only that task fails.
struct CrashRun {
  std::string error;          // the crashed task's error
  int others_ok = 0;          // of the other tasks
  std::vector<pid_t> before;  // worker pids
  std::vector<pid_t> after;   // one of them replaced
};
absl::StatusOr<CrashRun> CrashAWorker(int tasks);

}  // namespace multitask::pool_lesson

#endif  // MULTITASK_LESSONS_POOL_POOL_LESSON_H_
