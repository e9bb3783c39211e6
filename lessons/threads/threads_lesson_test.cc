#include "lessons/threads/threads_lesson.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::threads {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

// Forks: runs first, before the other tests start threads.
TEST(DetachDeathTest, DetachedThreadDiesWithTheProcessMidWork) {
  absl::StatusOr<testing::ChildRun> run = testing::RunInChild(
      [] {
        StartDetachedWorker(absl::Hours(1));
        std::cout << "main: returning" << std::endl;
        return 0;
      },
      absl::Seconds(30));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_FALSE(run->timed_out);
  EXPECT_EQ(run->status, ExitStatus::Exited(0));
  EXPECT_THAT(run->output, HasSubstr("worker: started"));
  EXPECT_THAT(run->output, HasSubstr("main: returning"));
  EXPECT_THAT(run->output, Not(HasSubstr("worker: finished")));
  EXPECT_THAT(ChildPids(getpid()), ::testing::IsEmpty());
}

TEST(NamesTest, SetNameIsReadBack) {
  std::string seen;
  std::jthread([&] {
    ASSERT_TRUE(SetCurrentThreadName("downloader-1").ok());
    seen = CurrentThreadName();
  }).join();
  EXPECT_EQ(seen, "downloader-1");
}

TEST(NamesTest, NamesLongerThanFifteenBytesAreRefused) {
  const absl::Status status = SetCurrentThreadName("a-name-that-is-too-long");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("at most 15"));
}

TEST(NamesTest, EnumerateSeesEveryLiveNamedThread) {
  absl::StatusOr<std::vector<ThreadInfo>> threads = ListWhileNamedThreadsRun(5);
  ASSERT_TRUE(threads.ok()) << threads.status();
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(*threads,
                Contains(Field(&ThreadInfo::name, absl::StrCat("Thread-", i))));
  }
  EXPECT_GE(threads->size(), 6u);  // and the main thread
}

TEST(DownloadsTest, BothStylesReportEveryDownloadAfterJoin) {
  const std::vector<Download> downloads = {{"a.pdf", absl::ZeroDuration()},
                                           {"b.avi", absl::ZeroDuration()}};
  for (const DownloadsRun& run :
       {DownloadWithCallables(downloads), DownloadWithTasks(downloads)}) {
    ASSERT_EQ(run.reports.size(), 2u);
    EXPECT_EQ(run.reports[0].file, "a.pdf");
    EXPECT_EQ(run.reports[1].file, "b.avi");
    EXPECT_NE(run.reports[0].tid, gettid());  // ran on other threads
    EXPECT_NE(run.reports[0].tid, run.reports[1].tid);
  }
}

TEST(JoinTest, WritesBeforeJoinAreVisibleAfterIt) {
  EXPECT_EQ(SumWrittenBeforeJoin(10000), 10000LL * 10001 / 2);
}

TEST(SingAndDanceTest, EachActRunsItsCount) {
  const std::vector<std::string> lines = SingAndDance(3, absl::ZeroDuration());
  EXPECT_EQ(lines.size(), 6u);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "sing ..."), 3);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "dance ..."), 3);
}

TEST(OrderTest, SameThreadsCanFinishInEitherOrder) {
  EXPECT_THAT(FinishInOrder({0, 1, 2, 3, 4}), ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(FinishInOrder({4, 2, 0, 3, 1}), ElementsAre(4, 2, 0, 3, 1));
  EXPECT_THAT(FinishInOrder({1, 0}), ElementsAre(1, 0));
}

TEST(OrderTest, NaturalRunFinishesEveryThreadOnce) {
  std::vector<int> finished = FinishNaturally(8, absl::ZeroDuration());
  std::sort(finished.begin(), finished.end());
  EXPECT_THAT(finished, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
}

TEST(StopTest, StopTokenEndsAnHourLongWaitPromptly) {
  // Without the token the worker would wait an hour; the test's timeout is
  // a minute, so finishing at all proves the wait was cut short.
  const StopRun run = StopWithToken(1, absl::Hours(1));
  EXPECT_TRUE(run.stopped_by_token);
  EXPECT_EQ(run.iterations, 1);
}

TEST(StopTest, JthreadDestructorRequestsStopAndJoins) {
  bool loop_ended = false;
  {
    std::jthread worker([&](std::stop_token stop) {
      while (!stop.stop_requested()) std::this_thread::yield();
      loop_ended = true;
    });
  }  // ~jthread: request_stop(), then join()
  EXPECT_TRUE(loop_ended);
}

}  // namespace
}  // namespace multitask::threads
