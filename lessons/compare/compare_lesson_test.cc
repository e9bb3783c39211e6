// Tests for the compare lesson: behaviour, never speed (speed is in
// compare_benchmark.cc and main.cc's table).

#include "lessons/compare/compare_lesson.h"

#include <signal.h>
#include <unistd.h>

#include "common/exit_status.h"
#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::compare {
namespace {

using ::testing::IsEmpty;

// Suites that fork are named *DeathTest: GoogleTest runs them first, while the
// test process has a single thread.

TEST(FaultIsolationDeathTest, SegfaultInAThreadKillsTheWholeProcess) {
  EXPECT_EXIT(CrashInThread(), ::testing::KilledBySignal(SIGSEGV), "");
}

TEST(FaultIsolationDeathTest, SegfaultInAThreadEndsTheOtherThreadsToo) {
  absl::StatusOr<ThreadCrash> crash = CrashOneThreadInAChild();
  ASSERT_TRUE(crash.ok()) << crash.status();
  EXPECT_EQ(crash->status, ExitStatus::Killed(SIGSEGV));
  EXPECT_GT(crash->innocent_thread_count, 0);  // It was running at the crash.
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(FaultIsolationDeathTest, ACrashingChildLeavesTheParentRunning) {
  absl::StatusOr<ExitStatus> status = CrashAChildProcess();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->signaled());
  EXPECT_EQ(status->signal(), SIGSEGV);
  EXPECT_EQ(status->ToString(), "killed by signal 11 (SIGSEGV)");
  // And we are still here to check it, in the parent.
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(CreateDeathTest, ForkAndSpawnRunEveryChildToASuccessfulEnd) {
  absl::StatusOr<Cost> fork = ForkWait(20);
  ASSERT_TRUE(fork.ok()) << fork.status();
  EXPECT_EQ(fork->operations, 20);
  absl::StatusOr<Cost> fork_exec = ForkExecWait(20);
  ASSERT_TRUE(fork_exec.ok()) << fork_exec.status();
  EXPECT_EQ(fork_exec->operations, 20);
  absl::StatusOr<Cost> spawn = SpawnWait(20);
  ASSERT_TRUE(spawn.ok()) << spawn.status();
  EXPECT_EQ(spawn->operations, 20);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(CreateDeathTest, SpawningAProgramThatFailsIsAnError) {
  EXPECT_FALSE(SpawnWait(1, "/bin/false").ok());
  EXPECT_FALSE(SpawnWait(1, "/no/such/program").ok());
  EXPECT_FALSE(ForkExecWait(1, "/bin/false").ok());
  EXPECT_FALSE(ForkExecWait(1, "/no/such/program").ok());
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(CommunicationDeathTest, SharedCounterIsExactAcrossProcesses) {
  absl::StatusOr<CounterResult> r = SharedCounter(Party::kProcesses, 3, 20000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->final_value, 3 * 20000);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(PingPongDeathTest, ProcessesAnswerEveryPingOverBothChannels) {
  for (Channel channel : {Channel::kPipe, Channel::kFutex}) {
    for (bool same_cpu : {true, false}) {
      absl::StatusOr<PingPongResult> r =
          PingPong(Party::kProcesses, channel, 500, same_cpu);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->answers_checked, 500) << ChannelName(channel);
      EXPECT_EQ(r->cost.operations, 500);
    }
  }
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(MemoryDeathTest, IdleProcessesAreAllSeenAndAllReaped) {
  absl::StatusOr<MemoryResult> r = IdleProcessesMemory(8);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->observed, 8);
  EXPECT_GT(r->rss_kib, 0);
  EXPECT_GT(r->pss_kib, 0);
  // PSS divides shared pages among the sharers, so it never exceeds RSS.
  EXPECT_LE(r->pss_kib, r->rss_kib);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(CreateTest, ThreadsAreCreatedAndJoined) {
  absl::StatusOr<Cost> cost = ThreadCreateJoin(50);
  ASSERT_TRUE(cost.ok()) << cost.status();
  EXPECT_EQ(cost->operations, 50);
  EXPECT_GT(cost->PerOp(), absl::ZeroDuration());
}

TEST(CreateTest, BadCountsAreRejected) {
  EXPECT_EQ(ThreadCreateJoin(0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunTasks(Work::kIo, 0, 1, 1, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CommunicationTest, SharedCounterIsExactAcrossThreads) {
  absl::StatusOr<CounterResult> r = SharedCounter(Party::kThreads, 4, 20000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->final_value, 4 * 20000);
}

TEST(CommunicationTest, PipeGivesBackEveryMessage) {
  absl::StatusOr<Cost> cost = PipeMessage(1000);
  ASSERT_TRUE(cost.ok()) << cost.status();
  EXPECT_EQ(cost->operations, 1000);
}

TEST(PingPongTest, ThreadsAnswerEveryPingOverBothChannels) {
  for (Channel channel : {Channel::kPipe, Channel::kFutex}) {
    for (bool same_cpu : {true, false}) {
      absl::StatusOr<PingPongResult> r =
          PingPong(Party::kThreads, channel, 500, same_cpu);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->answers_checked, 500) << ChannelName(channel);
    }
  }
}

TEST(MemoryTest, IdleThreadsAreAllSeenAndAllJoined) {
  const int threads_before = ThreadCount().value();
  absl::StatusOr<MemoryResult> r = IdleThreadsMemory(16);
  ASSERT_TRUE(r.ok()) << r.status();
  // At least: a sanitizer may start a helper thread of its own meanwhile.
  EXPECT_GE(r->observed, 16);
  EXPECT_LE(ThreadCount().value(), threads_before + 1);
}

TEST(ScalingTest, EveryTaskIsDoneWhateverTheWorkerCount) {
  for (Work work : {Work::kCompute, Work::kIo}) {
    for (int workers : {1, 2, 4, 8, 16}) {
      absl::StatusOr<ScalingPoint> p =
          RunTasks(work, workers, 32, 1000, absl::Microseconds(100));
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(p->tasks_done, 32) << WorkName(work) << " " << workers;
      EXPECT_EQ(p->workers, workers);
    }
  }
}

TEST(ScalingTest, ComputeTaskDependsOnEveryRound) {
  EXPECT_NE(ComputeTask(1), ComputeTask(2));
  EXPECT_GE(CalibrateCompute(absl::Milliseconds(1)), 1);
}

}  // namespace
}  // namespace multitask::compare
