// What the lesson teaches, checked without timing thresholds: the interpreter
// computes seed 001's loop, GIL-bound CPU work keeps at most ~one core busy
// (load can only lower CPU/wall), I/O-bound threads sleep at the same time,
// and processes each with their own GIL run and are reaped.
#include "lessons/gil/gil_lesson.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lessons/gil/gil.h"
#include "lessons/gil/interpreter.h"

namespace multitask {
namespace {

using ::testing::Ge;
using ::testing::IsEmpty;
using ::testing::Le;

// Only turns a would-be deadlock into a failure; never reached when correct.
constexpr std::chrono::seconds kDeadlockGuard{60};

// Forks, so it runs first (GoogleTest runs *DeathTest suites before the rest),
// while this process has no other thread.
TEST(GilLessonDeathTest, ProcessesEachWithTheirOwnGilRunAndAreReaped) {
  absl::StatusOr<CpuRun> run = RunBusyProcesses(3, 10'000);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->workers, 3);
  EXPECT_GT(run->cpu, absl::ZeroDuration());
  absl::StatusOr<std::vector<pid_t>> children = ChildPids(getpid());
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_THAT(*children, IsEmpty());
}

TEST(InterpreterTest, BusyLoopComputesTheSeedsLoop) {
  const RunResult r = Interpret(BusyLoop(1001), nullptr);
  EXPECT_EQ(r.locals[kX], 1);  // x flipped an odd number of times
  EXPECT_EQ(r.locals[kN], 0);
  // 11 bytecodes per iteration, then LOAD_FAST n, JUMP_IF_ZERO, RETURN.
  EXPECT_EQ(r.bytecodes, 11 * 1001 + 3);
}

TEST(InterpreterTest, SameResultUnderTheGil) {
  Gil gil;
  const RunResult r = Interpret(BusyLoop(1000), &gil);
  EXPECT_EQ(r.locals[kX], 0);
  EXPECT_EQ(r.bytecodes, 11 * 1000 + 3);
  EXPECT_FALSE(gil.HeldByMe());  // released at RETURN
}

TEST(InterpreterTest, StopEndsAnEndlessLoopAndReleasesTheGil) {
  Gil gil;
  std::atomic<bool> stop{true};
  RunOptions options;
  options.stop = &stop;
  const RunResult r = Interpret(BusyLoop(std::int64_t{1} << 62), &gil, options);
  EXPECT_TRUE(r.stopped);
  EXPECT_FALSE(gil.HeldByMe());
}

TEST(InterpreterTest, DisassemblyShowsTheLoop) {
  const std::string dis = Disassemble(BusyLoop(1));
  EXPECT_THAT(dis, ::testing::HasSubstr("BINARY_XOR"));
  EXPECT_THAT(dis, ::testing::HasSubstr("JUMP"));
}

// CPU time / wall time <= 1.2: whatever the machine's load, threads under one
// GIL never keep more than one core busy (load only lowers the ratio).
TEST(GilLessonTest, GilBoundThreadsUseAtMostAboutOneCore) {
  const CpuRun run = RunBusyThreads(4, 100'000, Locking::kGil);
  EXPECT_THAT(run.cores(), Le(1.2));
  EXPECT_THAT(run.gil.switches, Ge(4));
  RecordProperty("cores_x1000", static_cast<int>(run.cores() * 1000));
}

TEST(GilLessonTest, IterationsForIsPositive) {
  EXPECT_THAT(IterationsFor(absl::Milliseconds(1)), Ge(1));
}

// All I/O-bound threads are inside their sleep at the same moment: each
// sleeper waits until every other one has arrived. Possible only because the
// GIL is released around the blocking call (else: the guard fails the test).
TEST(GilLessonTest, SleepingThreadsOverlap) {
  constexpr int kThreads = 4;
  Gil gil;
  std::mutex mu;
  std::condition_variable cv;
  int asleep = 0;
  bool all_met = true;
  RunOptions options;
  options.sleep = [&](std::chrono::microseconds) {
    std::unique_lock lock(mu);
    ++asleep;
    cv.notify_all();
    if (!cv.wait_for(lock, kDeadlockGuard,
                     [&] { return asleep == kThreads; })) {
      all_met = false;
    }
  };
  const Code code = SleepLoop(1, std::chrono::microseconds(1));
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] { Interpret(code, &gil, options); });
    }
  }
  EXPECT_TRUE(all_met);
  EXPECT_EQ(asleep, kThreads);
}

// The contrast: sleeping while holding the GIL (a C extension that forgets to
// release it) never has two sleepers at once.
TEST(GilLessonTest, SleepingWithTheGilHeldNeverOverlaps) {
  const SleepRun run = RunSleepyThreads(4, 3, std::chrono::microseconds(200),
                                        /*release_gil_to_sleep=*/false);
  EXPECT_EQ(run.max_asleep_at_once, 1);
}

}  // namespace
}  // namespace multitask
