// fork() in a process that has threads. These tests fork after starting
// threads on purpose, which ThreadSanitizer cannot follow: the target is
// tagged notsan.

#include <unistd.h>

#include "absl/time/time.h"
#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lessons/threadlocal/threadlocal_lesson.h"

namespace multitask::threadlocal {
namespace {

// Long enough for a loaded machine to run the child, short enough to be quick
// when it must time out.
constexpr absl::Duration kPatience = absl::Milliseconds(300);

TEST(ForkWithLocksDeathTest, ChildTimesOutOnALockHeldByAMissingThread) {
  absl::StatusOr<ForkOutcome> outcome =
      ForkWhileAnotherThreadHoldsTheLock(kPatience);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, ForkOutcome::kChildTimedOut);
  EXPECT_THAT(ChildPids(getpid()), ::testing::IsEmpty());
}

TEST(ForkWithLocksDeathTest, AtforkHandlersHandTheChildAFreeLock) {
  absl::StatusOr<ForkOutcome> outcome = ForkWithAtforkHandlers(kPatience);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, ForkOutcome::kChildGotLock);
  EXPECT_THAT(ChildPids(getpid()), ::testing::IsEmpty());
}

TEST(ForkWithLocksDeathTest, ForkingFromAQuiescentPointIsSafe) {
  absl::StatusOr<ForkOutcome> outcome = ForkFromAQuiescentPoint(kPatience);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, ForkOutcome::kChildGotLock);
  EXPECT_THAT(ChildPids(getpid()), ::testing::IsEmpty());
}

TEST(ForkWithLocksDeathTest, BrokenCaseStillBrokenAfterTheFixWasRegistered) {
  // The atfork handlers guard their own lock only, not every lock.
  ASSERT_TRUE(ForkWithAtforkHandlers(kPatience).ok());
  absl::StatusOr<ForkOutcome> outcome =
      ForkWhileAnotherThreadHoldsTheLock(kPatience);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, ForkOutcome::kChildTimedOut);
}

}  // namespace
}  // namespace multitask::threadlocal
