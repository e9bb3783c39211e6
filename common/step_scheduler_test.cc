#include "common/step_scheduler.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::ElementsAre;

TEST(StepSchedulerTest, StepsRunInScriptOrder) {
  StepScheduler scheduler(3, {2, 0, 1, 1, 0, 2});
  std::vector<int> order;  // touched only inside steps
  scheduler.Run([&](int id) {
    for (int i = 0; i < 2; ++i) {
      scheduler.Step(id);
      order.push_back(id);
    }
  });
  EXPECT_THAT(order, ElementsAre(2, 0, 1, 1, 0, 2));
  EXPECT_EQ(scheduler.trace(), order);
}

TEST(StepSchedulerTest, ReadReadWriteWriteLosesOneUpdate) {
  int balance = 0;
  StepScheduler scheduler(2, {0, 1, 0, 1});
  scheduler.Run([&](int id) {
    scheduler.Step(id);
    const int seen = balance;
    scheduler.Step(id);
    balance = seen + 1;
  });
  EXPECT_EQ(balance, 1);
}

TEST(StepSchedulerTest, ShortScriptFallsBackToRoundRobin) {
  StepScheduler scheduler(2, {1});
  std::vector<int> order;
  scheduler.Run([&](int id) {
    for (int i = 0; i < 3; ++i) {
      scheduler.Step(id);
      order.push_back(id);
    }
  });
  EXPECT_THAT(order, ElementsAre(1, 0, 1, 0, 1, 0));
}

TEST(StepSchedulerTest, FinishedThreadsAreSkipped) {
  // Thread 0 has one step; the script's later 0s are skipped.
  StepScheduler scheduler(2, {0, 0, 0, 1, 1});
  std::vector<int> order;
  scheduler.Run([&](int id) {
    const int steps = id == 0 ? 1 : 2;
    for (int i = 0; i < steps; ++i) {
      scheduler.Step(id);
      order.push_back(id);
    }
  });
  EXPECT_THAT(order, ElementsAre(0, 1, 1));
}

TEST(StepSchedulerTest, ShuffledScriptIsAPermutationAndRepeatable) {
  const std::vector<int> script = ShuffledScript(3, 4, 7);
  EXPECT_EQ(script, ShuffledScript(3, 4, 7));
  std::vector<int> counts(3, 0);
  for (int id : script) ++counts[id];
  EXPECT_THAT(counts, ElementsAre(4, 4, 4));
}

}  // namespace
}  // namespace multitask
