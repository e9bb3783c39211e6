#include "lessons/threadlocal/threadlocal_lesson.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::threadlocal {
namespace {

using ::testing::Each;

std::vector<std::string> ManyStudents(int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back(absl::StrCat("student-", i));
  return names;
}

void ExpectEachSawOnlyItsOwn(const WaysRun& run, int count) {
  ASSERT_EQ(run.seen.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(run.seen[i].bound, absl::StrCat("student-", i));
    EXPECT_EQ(run.seen[i].students,
              std::vector<std::string>(2, run.seen[i].bound));
  }
}

TEST(ThreeWaysTest, PassingItDownKeepsThreadsApart) {
  ExpectEachSawOnlyItsOwn(PassItDown(ManyStudents(50)), 50);
}

TEST(ThreeWaysTest, GlobalMapKeepsThreadsApartAndCleanVersionLeavesNothing) {
  const WaysRun run = GlobalMapByThreadId(ManyStudents(50), true);
  ExpectEachSawOnlyItsOwn(run, 50);
  EXPECT_EQ(run.entries_left, 0u);
}

TEST(ThreeWaysTest, SeedsGlobalMapKeepsDeadThreadsEntries) {
  const WaysRun run = GlobalMapByThreadId(ManyStudents(50), false);
  ExpectEachSawOnlyItsOwn(run, 50);
  // One entry per finished thread is still in the map.
  EXPECT_EQ(run.entries_left, 50u);
}

TEST(ThreeWaysTest, ThreadLocalKeepsThreadsApart) {
  ExpectEachSawOnlyItsOwn(WithThreadLocal(ManyStudents(50)), 50);
}

TEST(ConnectionTest, DestructorRunsExactlyOncePerThreadThatTouchedIt) {
  const ConnectionRun run = RunConnections(20, 12, 7);
  EXPECT_EQ(run.opened, 12);
  EXPECT_EQ(run.closed, 12);  // the 8 threads that never touched it: nothing
  EXPECT_THAT(run.distinct_per_thread, Each(1));  // one per thread, reused
  EXPECT_EQ(run.distinct_overall, 12);
}

TEST(ConnectionTest, NobodyUsesItNothingIsOpened) {
  const ConnectionRun run = RunConnections(5, 0, 3);
  EXPECT_EQ(run.opened, 0);
  EXPECT_EQ(run.closed, 0);
}

TEST(InstancesTest, OneStaticForAllThreadLocalForEach) {
  const InstancesRun run = CountInstances(16);
  EXPECT_EQ(run.function_static, 1);
  EXPECT_EQ(run.thread_local_, 16);
}

}  // namespace
}  // namespace multitask::threadlocal
