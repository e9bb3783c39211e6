// Tests for the process lesson: what each demo claims, checked. The suite
// forks, so it is a *DeathTest (run before any thread exists).

#include "lessons/process/process_lesson.h"

#include <unistd.h>

#include <algorithm>

#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::process_lesson {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

TEST(ProcessLessonDeathTest, ParallelDownloadsOverlap) {
  DownloadRun run = DownloadInParallel({{"a.pdf", absl::Milliseconds(20)},
                                        {"b.avi", absl::Milliseconds(10)}},
                                       /*hold_until_all_started=*/true)
                        .value();
  ASSERT_EQ(run.records.size(), 2u);
  const DownloadRecord& a = run.records[0];
  const DownloadRecord& b = run.records[1];
  EXPECT_EQ(a.name, "a.pdf");
  EXPECT_NE(a.pid, b.pid);
  EXPECT_NE(a.pid, getpid());
  // Each started before the other ended.
  EXPECT_LT(std::max(a.start, b.start), std::min(a.end, b.end));
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessLessonDeathTest, SequentialDownloadsDoNotOverlap) {
  DownloadRun run = DownloadSequentially({{"a.pdf", absl::Milliseconds(5)},
                                          {"b.avi", absl::Milliseconds(5)}})
                        .value();
  ASSERT_EQ(run.records.size(), 2u);
  EXPECT_LE(run.records[0].end, run.records[1].start);
  EXPECT_EQ(run.records[0].pid, getpid());
}

int Count(const SingDanceRun& run, absl::string_view text) {
  return static_cast<int>(
      std::count_if(run.lines.begin(), run.lines.end(),
                    [&](const Line& line) { return line.text == text; }));
}

TEST(ProcessLessonDeathTest, SequentialSingsThenDances) {
  SingDanceRun run = SingAndDance(3, absl::ZeroDuration(), /*parallel=*/false,
                                  true, absl::ZeroDuration())
                         .value();
  EXPECT_THAT(run.lines, ElementsAre(Field(&Line::text, "sing ..."),
                                     Field(&Line::text, "sing ..."),
                                     Field(&Line::text, "sing ..."),
                                     Field(&Line::text, "dance ..."),
                                     Field(&Line::text, "dance ..."),
                                     Field(&Line::text, "dance ..."),
                                     Field(&Line::text, "main: done")));
}

TEST(ProcessLessonDeathTest, JoinedProcessesPrintBeforeMain) {
  SingDanceRun run = SingAndDance(3, absl::Milliseconds(1), /*parallel=*/true,
                                  /*join=*/true, absl::ZeroDuration())
                         .value();
  EXPECT_EQ(Count(run, "sing ..."), 3);
  EXPECT_EQ(Count(run, "dance ..."), 3);
  ASSERT_EQ(run.lines.size(), 7u);
  EXPECT_EQ(run.main_line_index, 6u);
  EXPECT_NE(run.lines[0].pid, getpid());
  EXPECT_EQ(run.lines[6].pid, getpid());
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessLessonDeathTest, ChildrenSeeMainAsTheirParent) {
  PidReport report = ReportPids().value();
  EXPECT_EQ(report.main_pid, getpid());
  ASSERT_EQ(report.children.size(), 2u);
  for (const PidReport::ChildIds& child : report.children) {
    EXPECT_EQ(child.getpid, child.pid);
    EXPECT_EQ(child.getppid, getpid());
  }
  EXPECT_NE(report.children[0].pid, report.children[1].pid);
}

TEST(ProcessLessonDeathTest, MainWaitsForANormalChild) {
  DaemonRun run = DaemonDemo(false, 5, absl::ZeroDuration(), 2).value();
  EXPECT_EQ(run.lines_printed, 5);
  EXPECT_GE(run.main_done_after, 2);
  EXPECT_TRUE(run.worker_gone);
}

TEST(ProcessLessonDeathTest, MainTerminatesADaemonChild) {
  // 10000 lines 10 ms apart would take 100 s: the worker is stopped long
  // before, when main returns right after line 2.
  DaemonRun run = DaemonDemo(true, 10000, absl::Milliseconds(10), 2).value();
  EXPECT_GE(run.lines_printed, 2);
  EXPECT_LT(run.lines_printed, 10000);
  EXPECT_TRUE(run.worker_gone);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessLessonDeathTest, InspectSeesThreeWorkersAndJoinTimesOut) {
  InspectRun run = Inspect(absl::Milliseconds(2)).value();
  EXPECT_GE(run.cpu_count, 1);
  EXPECT_THAT(run.active_children,
              ElementsAre(Field(&InspectRun::Seen::name, "worker1"),
                          Field(&InspectRun::Seen::name, "worker2"),
                          Field(&InspectRun::Seen::name, "worker3")));
  EXPECT_FALSE(run.joined_in_time);
  EXPECT_TRUE(run.alive_after_timeout);
  EXPECT_THAT(run.exitcodes, ElementsAre(0, 0, 0));
  EXPECT_THAT(run.active_at_end, IsEmpty());
}

TEST(ProcessLessonDeathTest, ExitcodeIsNotTheResult) {
  ExitcodeRun run = Exitcodes(1000000).value();
  EXPECT_EQ(run.sum, 500000500000LL);
  EXPECT_EQ(run.exitcode_of_void_target, 0);
  EXPECT_EQ(run.exitcode_returning_sum, static_cast<int>(run.sum & 0xff));
  EXPECT_EQ(run.exitcode_of_exception, 1);
  EXPECT_EQ(run.exitcode_terminated, -15);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessLessonTest, BadInputIsAnError) {
  EXPECT_EQ(
      SingAndDance(0, absl::ZeroDuration(), false, true, absl::ZeroDuration())
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DaemonDemo(true, 1, absl::ZeroDuration(), 5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace multitask::process_lesson
