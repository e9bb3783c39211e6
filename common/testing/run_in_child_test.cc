// Tests for run_in_child.h: output captured, endings decoded, hung children
// killed.

#include "common/testing/run_in_child.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::testing {
namespace {

using ::testing::IsEmpty;

TEST(RunInChildDeathTest, CapturesStdoutAndStderr) {
  ChildRun run = RunInChild([] {
                   std::cout << "out ";
                   std::cout.flush();
                   std::cerr << "err";
                   return 4;
                 }).value();
  EXPECT_EQ(run.output, "out err");
  EXPECT_EQ(run.status, ExitStatus::Exited(4));
  EXPECT_FALSE(run.timed_out);
}

TEST(RunInChildDeathTest, ReportsACrash) {
  ChildRun run = RunInChild([]() -> int {
                   std::printf("before ");
                   std::fflush(stdout);
                   ::raise(SIGSEGV);
                   return 0;
                 }).value();
  EXPECT_EQ(run.output, "before ");
  EXPECT_TRUE(run.status.signaled());
  EXPECT_EQ(run.status.signal(), SIGSEGV);
}

TEST(RunInChildDeathTest, KillsAChildThatHangs) {
  ChildRun run = RunInChild(
                     [] {
                       ::pause();  // Waits for a signal that never comes.
                       return 0;
                     },
                     absl::Milliseconds(50))
                     .value();
  EXPECT_TRUE(run.timed_out);
  EXPECT_EQ(run.status, ExitStatus::Killed(SIGKILL));
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

}  // namespace
}  // namespace multitask::testing
