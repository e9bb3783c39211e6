// Tests for the pool lesson: what each demo claims, checked without timing
// assumptions. The suite forks, so it is a *DeathTest.

#include "lessons/pool/pool_lesson.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::pool_lesson {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::set<pid_t> PidsOf(const PoolRun& run) {
  std::set<pid_t> pids;
  for (const TaskRecord& t : run.tasks) pids.insert(t.pid);
  return pids;
}

TEST(PoolLessonDeathTest, FifthTaskStartsOnlyAfterOneOfTheFirstFourEnds) {
  PoolRun run = FiveTasksOnFourWorkers({30, 10, 20, 25, 5}).value();
  ASSERT_EQ(run.tasks.size(), 5u);
  absl::Duration first_end = absl::InfiniteDuration();
  for (int i = 0; i < 4; ++i) first_end = std::min(first_end, run.tasks[i].end);
  EXPECT_GE(run.tasks[4].start, first_end);
  // It ran in a worker that had finished a task: one of the four pids.
  const std::set<pid_t> workers(run.worker_pids.begin(), run.worker_pids.end());
  EXPECT_EQ(workers.size(), 4u);
  EXPECT_TRUE(workers.count(run.tasks[4].pid));
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(PoolLessonDeathTest, NineTasksRunInTheThreeWorkersMadeUpFront) {
  PoolRun run = NineHellosOnThreeWorkers(1).value();
  ASSERT_EQ(run.tasks.size(), 9u);
  const std::set<pid_t> workers(run.worker_pids.begin(), run.worker_pids.end());
  for (pid_t pid : PidsOf(run)) EXPECT_TRUE(workers.count(pid)) << pid;
  EXPECT_LE(PidsOf(run).size(), 3u);
  // Never more than three at once: when any task started, at most three
  // (itself included) were running.
  for (const TaskRecord& a : run.tasks) {
    int running_at_start = 0;
    for (const TaskRecord& b : run.tasks) {
      if (b.start <= a.start && a.start < b.end) ++running_at_start;
    }
    EXPECT_LE(running_at_start, 3) << a.task;
  }
}

TEST(PoolLessonDeathTest, TourOfTheApi) {
  ApiTour tour = TourTheApi(1000).value();
  EXPECT_THAT(tour.map_squares,
              ElementsAre(0, 1, 4, 9, 16, 25, 36, 49, 64, 81));
  EXPECT_EQ(tour.apply_sum, 500500);
  EXPECT_EQ(tour.apply_async_square, 144);
  EXPECT_THAT(tour.imap_in_order, ElementsAre(0, 1, 4, 9, 16));
  EXPECT_TRUE(tour.submit_after_close_failed);
  EXPECT_EQ(tour.cancelled_by_terminate, 4);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(PoolLessonDeathTest, ChunkingGivesEveryChunkSizeAResult) {
  std::vector<ChunkCost> costs = MeasureChunking(2, 100, {1, 0, 100}).value();
  ASSERT_EQ(costs.size(), 3u);
  for (const ChunkCost& cost : costs)
    EXPECT_GT(cost.per_item, absl::ZeroDuration());
}

TEST(PoolLessonDeathTest, ACrashFailsOnlyItsTask) {
  CrashRun run = CrashAWorker(8).value();
  EXPECT_THAT(run.error, HasSubstr("SIGSEGV"));
  EXPECT_EQ(run.others_ok, 7);
  EXPECT_EQ(run.after.size(), 2u);
  EXPECT_NE(run.before, run.after);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(PoolLessonTest, BadInputIsAnError) {
  EXPECT_EQ(FiveTasksOnFourWorkers({1, 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CrashAWorker(1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace multitask::pool_lesson
