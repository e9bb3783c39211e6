// Tests for the queue_ipc lesson: each claim of the README, checked. Every
// suite forks, so all are DeathTests (GoogleTest runs them first), and each
// test checks it left no child, descriptor or shared mapping behind.

#include "lessons/queue_ipc/queue_ipc_lesson.h"

#include <signal.h>

#include <map>
#include <string>
#include <vector>

#include "common/ipc_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::queue_ipc {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class QueueIpcDeathTest : public ipc::testing::NoLeaksTest {};

TEST_F(QueueIpcDeathTest, PingPongThroughAQueuePrintsExactlyTheLimit) {
  PingPongReport report =
      PingPong(Counter::kQueue, 50, absl::ZeroDuration()).value();
  EXPECT_EQ(report.ping_words + report.pong_words, 50);
  EXPECT_EQ(report.words.size(), 50u * 4);  // nothing but the 50 words
}

TEST_F(QueueIpcDeathTest, PingPongWithAGlobalCounterPrintsTwiceTheLimit) {
  PingPongReport report =
      PingPong(Counter::kPrivateCopy, 50, absl::ZeroDuration()).value();
  EXPECT_EQ(report.ping_words, 50);
  EXPECT_EQ(report.pong_words, 50);
}

TEST_F(QueueIpcDeathTest, TerminateLosesWhatTheReaderHadNotRead) {
  WriterReaderReport report = WriterReader(StopReader::kTerminate).value();
  EXPECT_THAT(report.read, ElementsAre("A"));
  EXPECT_THAT(report.left_in_queue, ElementsAre("B", "C"));
  EXPECT_EQ(report.reader_status, ExitStatus::Killed(SIGTERM));
}

TEST_F(QueueIpcDeathTest, SentinelAndCloseLetTheReaderFinish) {
  for (StopReader how : {StopReader::kSentinel, StopReader::kClose}) {
    WriterReaderReport report = WriterReader(how).value();
    EXPECT_THAT(report.read, ElementsAre("A", "B", "C"));
    EXPECT_THAT(report.left_in_queue, IsEmpty());
    EXPECT_EQ(report.reader_status, ExitStatus::Exited(0));
  }
}

TEST_F(QueueIpcDeathTest, LockedPrintersWriteWholeBlocks) {
  LockedPrintingReport report = LockedPrinting(3, 5).value();
  ASSERT_EQ(report.lines.size(), 3u * 6);
  // Each block of 6 lines comes from one process: "init addV ..." then
  // "addV ..." five times.
  for (size_t block = 0; block < 3; ++block) {
    const std::string& init = report.lines[block * 6];
    ASSERT_EQ(init.rfind("init add", 0), 0u) << init;
    const std::string tag = init.substr(5, init.find(' ', 5) - 5);  // "addV"
    for (size_t i = 1; i < 6; ++i) {
      EXPECT_EQ(report.lines[block * 6 + i].rfind(tag + " ", 0), 0u)
          << report.lines[block * 6 + i];
    }
  }
  EXPECT_THAT(report.lines, ::testing::Contains("add1 number = 5"));
  EXPECT_THAT(report.lines, ::testing::Contains("add3 number = 15"));
}

TEST_F(QueueIpcDeathTest,
       UnlockedValueLosesAnUpdateUnderTheForcedInterleaving) {
  EXPECT_EQ(ForcedLostUpdate(ipc::Locking::kUnlocked).value(), 1);
}

TEST_F(QueueIpcDeathTest, LockedValueKeepsBothUpdates) {
  EXPECT_EQ(ForcedLostUpdate(ipc::Locking::kLocked).value(), 2);
  EXPECT_EQ(CountTogether(ipc::Locking::kLocked, 2, 20000).value(), 40000);
  EXPECT_LE(CountTogether(ipc::Locking::kUnlocked, 2, 20000).value(), 40000);
}

TEST_F(QueueIpcDeathTest, ValueAndArrayChangesOfAChildAreSeen) {
  ValueArrayReport report = ValueAndArray().value();
  EXPECT_EQ(report.num, 3.1415927);
  EXPECT_THAT(report.arr, ElementsAre(0, -1, -2, -3, -4, -5, -6, -7, -8, -9));
}

TEST_F(QueueIpcDeathTest, WorkersProcessEveryTaskOnceAndReportTheirSums) {
  WorkersReport report = EventAndJoinableQueue(3, 100).value();
  EXPECT_EQ(report.expected_total, 5050);
  EXPECT_EQ(report.total, 5050);
  int tasks = 0;
  for (int done : report.tasks_per_worker) tasks += done;
  EXPECT_EQ(tasks, 100);
}

TEST_F(QueueIpcDeathTest, PipeCarriesAMessageEachWay) {
  PipeReport report = PipeRoundTrip().value();
  EXPECT_EQ(report.child_status, ExitStatus::Exited(0));
}

}  // namespace
}  // namespace multitask::queue_ipc
