// Tests for the fork lesson: every claim the README makes, checked through
// pipes and /proc, never by reading printed text. The suite forks, so it is a
// *DeathTest.

#include "lessons/fork/fork_lesson.h"

#include <signal.h>
#include <unistd.h>

#include "common/child.h"
#include "common/fd.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::fork_lesson {
namespace {

using ::testing::IsEmpty;

class ForkDeathTest : public ::testing::Test {
 protected:
  // Whatever a test did, no child of ours may be left: running, or a zombie.
  void TearDown() override { EXPECT_THAT(ChildPids(getpid()), IsEmpty()); }
};

TEST_F(ForkDeathTest, ReturnsZeroInTheChildAndThePidInTheParent) {
  ForkReport report = ForkReturnsTwice().value();
  EXPECT_EQ(report.returned_in_child, 0);
  EXPECT_EQ(report.returned_in_parent, report.child_pid);
  EXPECT_NE(report.child_pid, getpid());
  EXPECT_EQ(report.child_parent_pid, getpid());
  EXPECT_EQ(report.parent_pid, getpid());
}

TEST_F(ForkDeathTest, EachChildCountsInItsOwnCopy) {
  PingPongReport report =
      PingPongWithPrivateCounters(50, absl::ZeroDuration()).value();
  // The seed hoped for 50 words in all; each child prints 50.
  EXPECT_EQ(report.ping_words, 50);
  EXPECT_EQ(report.pong_words, 50);
  EXPECT_EQ(report.output.size(), 100u * 4);
  EXPECT_EQ(report.ping_final_counter, 50);
  EXPECT_EQ(report.pong_final_counter, 50);
  EXPECT_EQ(report.parent_counter_after, 0);
}

TEST_F(ForkDeathTest, DecodesEveryEndingExactly) {
  EXPECT_EQ(EndAChild(Ending::kReturnZero).value(), ExitStatus::Exited(0));
  EXPECT_EQ(EndAChild(Ending::kExitThree).value(), ExitStatus::Exited(3));
  EXPECT_EQ(EndAChild(Ending::kExit255).value(), ExitStatus::Exited(255));
  EXPECT_EQ(EndAChild(Ending::kKilledByParent).value(),
            ExitStatus::Killed(SIGKILL));
  // A crash may or may not dump core (it depends on `ulimit -c`), so compare
  // the signal.
  ExitStatus segv = EndAChild(Ending::kBadPointer).value();
  EXPECT_TRUE(segv.signaled());
  EXPECT_EQ(segv.signal(), SIGSEGV) << segv;
  ExitStatus abort = EndAChild(Ending::kAbort).value();
  EXPECT_TRUE(abort.signaled());
  EXPECT_EQ(abort.signal(), SIGABRT) << abort;
  EXPECT_EQ(abort.python_exitcode(), -SIGABRT);
}

TEST_F(ForkDeathTest, ZombieExistsBetweenExitAndWait) {
  ZombieReport report = MakeAndReapAZombie().value();
  EXPECT_EQ(report.state_before_wait, 'Z');
  EXPECT_EQ(report.status, ExitStatus::Exited(0));
  EXPECT_TRUE(report.gone_after_wait);
}

TEST_F(ForkDeathTest, OrphanIsAdoptedByTheSubreaper) {
  OrphanReport report = MakeAnOrphan().value();
  EXPECT_EQ(report.parent_before, report.middle_pid);
  EXPECT_EQ(report.parent_after, getpid());
  EXPECT_EQ(report.this_pid, getpid());
  EXPECT_EQ(ProcessState(report.orphan_pid).status().code(),
            absl::StatusCode::kNotFound);
}

// A test that fails half way returns early (that is what ASSERT_* does). The
// Child handles it made must still kill and reap their children. Run such a
// "test" in a child of our own, and check that the grandchild it left running
// is gone.
TEST_F(ForkDeathTest, NoChildOutlivesAFailingAssertion) {
  Pipe pid_pipe = MakePipe().value();
  testing::ChildRun run =
      testing::RunInChild([&]() -> int {
        Pipe never = MakePipe().value();
        absl::StatusOr<Child> sleeper = Child::Fork([&] {
          never.write_end.Close();
          char byte;
          return static_cast<int>(::read(never.read_end.get(), &byte, 1));
        });
        if (!sleeper.ok()) return 2;
        if (!WriteValue(pid_pipe.write_end.get(), sleeper->pid()).ok())
          return 2;
        return 1;  // "the assertion failed": return early with the child
                   // running
      }).value();
  EXPECT_EQ(run.status, ExitStatus::Exited(1)) << run.output;
  pid_pipe.write_end.Close();
  const pid_t sleeper_pid = ReadValue<pid_t>(pid_pipe.read_end.get()).value();
  // The sleeper was the child of our child; its Child handle killed and reaped
  // it.
  EXPECT_EQ(ProcessState(sleeper_pid).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace multitask::fork_lesson
