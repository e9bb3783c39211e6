#include "lessons/pool/pool_lesson.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/process_pool.h"
#include "common/status_macros.h"

namespace multitask::pool_lesson {
namespace {

// CLOCK_MONOTONIC is one clock for the whole machine: instants taken in the
// workers compare with the parent's.
int64_t NowNanos() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// What a task sends back: plain bytes, so it crosses the process boundary.
struct TaskMessage {
  int task;
  pid_t pid;
  int64_t start_ns;
  int64_t end_ns;
};

// The tasks. They are plain functions: a worker runs the same code.
TaskMessage SleepTask(int task, int sleep_ms) {
  const int64_t start = NowNanos();
  absl::SleepFor(absl::Milliseconds(sleep_ms));
  return {task, ::getpid(), start, NowNanos()};
}
int Square(int x) { return x * x; }
long long SumTo(long long n) {
  long long sum = 0;
  while (n > 0) sum += n--;
  return sum;
}
int Nop(int x) { return x; }
int CrashOnTwo(int x) {
  if (x == 2) ::raise(SIGSEGV);
  return x;
}

absl::StatusOr<PoolRun> RunSleepTasks(int workers,
                                      const std::vector<int>& sleep_ms) {
  MT_ASSIGN_OR_RETURN(std::unique_ptr<ProcessPool> pool,
                      ProcessPool::Create(workers));
  PoolRun run;
  run.workers = workers;
  run.worker_pids = pool->WorkerPids();
  const int64_t origin = NowNanos();
  std::vector<AsyncResult<TaskMessage>> results;
  for (size_t i = 0; i < sleep_ms.size(); ++i) {
    results.push_back(
        pool->ApplyAsync(SleepTask, static_cast<int>(i), sleep_ms[i]));
  }
  pool->Close();
  MT_RETURN_IF_ERROR(pool->Join());
  run.total = absl::Nanoseconds(NowNanos() - origin);
  for (AsyncResult<TaskMessage>& result : results) {
    MT_ASSIGN_OR_RETURN(TaskMessage m, result.Get());
    run.tasks.push_back({m.task, m.pid, absl::Nanoseconds(m.start_ns - origin),
                         absl::Nanoseconds(m.end_ns - origin)});
  }
  return run;
}

}  // namespace

absl::StatusOr<PoolRun> FiveTasksOnFourWorkers(
    const std::vector<int>& sleep_ms) {
  if (sleep_ms.size() != 5) {
    return absl::InvalidArgumentError("give five sleep times");
  }
  return RunSleepTasks(4, sleep_ms);
}

absl::StatusOr<PoolRun> NineHellosOnThreeWorkers(int task_ms) {
  return RunSleepTasks(3, std::vector<int>(9, task_ms));
}

absl::StatusOr<ApiTour> TourTheApi(long long n) {
  ApiTour tour;
  {
    MT_ASSIGN_OR_RETURN(std::unique_ptr<ProcessPool> pool,
                        ProcessPool::Create(3));
    MT_ASSIGN_OR_RETURN(
        tour.map_squares,
        pool->Map(Square, std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    MT_ASSIGN_OR_RETURN(tour.apply_sum, pool->Apply(SumTo, n));
    AsyncResult<int> later = pool->ApplyAsync(Square, 12);
    MT_ASSIGN_OR_RETURN(tour.apply_async_square, later.Get());
    ImapResults<int> lazy = pool->Imap(Square, std::vector<int>{0, 1, 2, 3, 4});
    while (std::optional<absl::StatusOr<int>> next = lazy.Next()) {
      if (!next->ok()) return next->status();
      tour.imap_in_order.push_back(**next);
    }
    pool->Close();
    tour.submit_after_close_failed = !pool->Apply(Square, 1).ok();
    MT_RETURN_IF_ERROR(pool->Join());
  }
  {
    // Four tasks that would sleep a minute, on two workers: Terminate()
    // stops them now.
    MT_ASSIGN_OR_RETURN(std::unique_ptr<ProcessPool> pool,
                        ProcessPool::Create(2));
    std::vector<AsyncResult<TaskMessage>> results;
    for (int i = 0; i < 4; ++i) {
      results.push_back(pool->ApplyAsync(SleepTask, i, 60'000));
    }
    pool->Terminate();
    for (AsyncResult<TaskMessage>& result : results) {
      if (absl::IsCancelled(result.Get().status())) {
        ++tour.cancelled_by_terminate;
      }
    }
    MT_RETURN_IF_ERROR(pool->Join());
  }
  return tour;
}

absl::StatusOr<std::vector<ChunkCost>> MeasureChunking(
    int workers, int items, const std::vector<size_t>& chunksizes) {
  if (items < 1) return absl::InvalidArgumentError("items must be positive");
  MT_ASSIGN_OR_RETURN(std::unique_ptr<ProcessPool> pool,
                      ProcessPool::Create(workers));
  std::vector<int> input(static_cast<size_t>(items), 1);
  std::vector<ChunkCost> costs;
  for (size_t chunksize : chunksizes) {
    const int64_t start = NowNanos();
    MT_RETURN_IF_ERROR(pool->Map(Nop, input, chunksize).status());
    costs.push_back({chunksize, absl::Nanoseconds(NowNanos() - start) / items});
  }
  pool->Close();
  MT_RETURN_IF_ERROR(pool->Join());
  return costs;
}

absl::StatusOr<CrashRun> CrashAWorker(int tasks) {
  if (tasks < 3) return absl::InvalidArgumentError("need at least 3 tasks");
  MT_ASSIGN_OR_RETURN(std::unique_ptr<ProcessPool> pool,
                      ProcessPool::Create(2));
  CrashRun run;
  run.before = pool->WorkerPids();
  std::vector<AsyncResult<int>> results;
  for (int i = 0; i < tasks; ++i) {
    results.push_back(pool->ApplyAsync(CrashOnTwo, i));
  }
  for (int i = 0; i < tasks; ++i) {
    absl::StatusOr<int> result = results[static_cast<size_t>(i)].Get();
    if (i == 2) {
      run.error = result.status().ToString();
    } else if (result.ok() && *result == i) {
      ++run.others_ok;
    }
  }
  run.after = pool->WorkerPids();
  pool->Close();
  MT_RETURN_IF_ERROR(pool->Join());
  return run;
}

}  // namespace multitask::pool_lesson
