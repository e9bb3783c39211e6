// Tests for child.h. The suite is named *DeathTest because it forks: GoogleTest
// runs such suites first, before any test has started a thread.

#include "common/child.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "common/fd.h"
#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::IsEmpty;

TEST(ChildDeathTest, ReturnValueIsTheExitCode) {
  for (int code : {0, 3, 255}) {
    Child child = Child::Fork([code] { return code; }).value();
    EXPECT_EQ(child.Wait().value(), ExitStatus::Exited(code));
    EXPECT_TRUE(child.reaped());
  }
}

TEST(ChildDeathTest, UncaughtExceptionExitsWithOne) {
  Child child =
      Child::Fork([]() -> int { throw std::runtime_error("boom"); }).value();
  EXPECT_EQ(child.Wait().value(), ExitStatus::Exited(1));
}

TEST(ChildDeathTest, AbortIsReportedAsSignal) {
  Child child = Child::Fork([]() -> int { std::abort(); }).value();
  ExitStatus status = child.Wait().value();
  EXPECT_TRUE(status.signaled());
  EXPECT_EQ(status.signal(), SIGABRT);
}

TEST(ChildDeathTest, WaitForTimesOutOnABlockedChildThenKillReaps) {
  Pipe pipe = MakePipe().value();
  Child child =
      Child::Fork([&] {
        pipe.write_end.Close();
        char byte;
        // Blocks until the parent writes or closes: it never does.
        return static_cast<int>(::read(pipe.read_end.get(), &byte, 1));
      }).value();
  std::optional<ExitStatus> early =
      child.WaitFor(absl::Milliseconds(20)).value();
  EXPECT_FALSE(early.has_value());
  EXPECT_EQ(ProcessState(child.pid()).value(),
            'S');  // still there, sleeping in read
  EXPECT_EQ(child.KillAndWait(SIGTERM).value(), ExitStatus::Killed(SIGTERM));
}

TEST(ChildDeathTest, WaitForReturnsOnceTheChildEnds) {
  Pipe pipe = MakePipe().value();
  Child child = Child::Fork([&] {
                  pipe.write_end.Close();
                  char byte;
                  return ::read(pipe.read_end.get(), &byte, 1) == 0 ? 7 : 8;
                }).value();
  pipe.write_end.Close();  // EOF for the child: it exits with 7.
  std::optional<ExitStatus> status = child.WaitFor(absl::Hours(1)).value();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, ExitStatus::Exited(7));
}

TEST(ChildDeathTest, DestructorKillsAndReapsARunningChild) {
  pid_t pid = 0;
  Pipe pipe = MakePipe().value();
  {
    Child child =
        Child::Fork([&] {
          pipe.write_end.Close();
          char byte;
          return static_cast<int>(::read(pipe.read_end.get(), &byte, 1));
        }).value();
    pid = child.pid();
  }  // Not waited for: the destructor must kill it and reap it.
  EXPECT_EQ(ProcessState(pid).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ChildDeathTest, ZombieUntilReaped) {
  Child child = Child::Fork([] { return 0; }).value();
  EXPECT_EQ(child.WaitForExitWithoutReaping().value(), ExitStatus::Exited(0));
  EXPECT_EQ(ProcessState(child.pid()).value(), 'Z');
  const pid_t pid = child.pid();
  EXPECT_TRUE(child.Wait().ok());
  EXPECT_EQ(ProcessState(pid).status().code(), absl::StatusCode::kNotFound);
}

TEST(ChildDeathTest, SignalAfterReapIsRefused) {
  Child child = Child::Fork([] { return 0; }).value();
  ASSERT_TRUE(child.Wait().ok());
  EXPECT_EQ(child.Signal(SIGKILL).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ChildDeathTest, MoveTransfersOwnership) {
  Child first = Child::Fork([] { return 5; }).value();
  Child second = std::move(first);
  EXPECT_EQ(second.Wait().value(), ExitStatus::Exited(5));
}

}  // namespace
}  // namespace multitask
