// Grader for the safe-account exercise (safe_account.h). Its messages are
// meant for the student: they say what went wrong and where to look.
//
// Each schedule runs in a child process with a time limit (RunInChild), so a
// Deposit() that blocks outside the scheduler fails the grade, not hangs it.

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/proc.h"
#include "common/step_scheduler.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/locks/exercises/safe_account.h"

namespace multitask::locks_exercise {
namespace {

// Runs every script with `threads` depositors of 1 and prints one line per
// script whose balance is wrong or whose pause was removed. Exit code 0 when
// all were right.
int RunScripts(int threads, const std::vector<std::vector<int>>& scripts) {
  int wrong = 0;
  for (const std::vector<int>& script : scripts) {
    Account account;
    StepScheduler scheduler(threads, script);
    scheduler.Run([&](int id) {
      scheduler.Step(id);
      account.Deposit(1, scheduler, id);
    });
    std::vector<int> steps(static_cast<std::size_t>(threads), 0);
    for (int id : scheduler.trace()) ++steps[id];
    if (*std::min_element(steps.begin(), steps.end()) < 2) {
      std::cout << "a depositor took no step between its read and its write: "
                   "keep the scheduler.Step(id) pause\n";
      ++wrong;
    } else if (account.balance() != threads) {
      std::cout << threads << " deposits of 1 left a balance of "
                << account.balance() << ": " << threads - account.balance()
                << " lost, because another thread ran between a read and its "
                   "write. Hold a lock across both.\n";
      ++wrong;
    }
  }
  return wrong == 0 ? 0 : 1;
}

void ExpectAllExact(int threads, const std::vector<std::vector<int>>& scripts) {
  absl::StatusOr<testing::ChildRun> run = testing::RunInChild(
      [&] { return RunScripts(threads, scripts); }, absl::Seconds(10));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->timed_out)
      << "Deposit() hung: a plain mutex.lock() blocks where the scheduler "
         "cannot see it while every other thread waits for its turn. Use "
         "try_lock() and call scheduler.Step(id) each time it fails.";
  EXPECT_EQ(run->status, ExitStatus::Exited(0)) << run->output;
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

TEST(SafeAccountDeathTest, EveryoneReadsThenEveryoneWrites) {
  std::vector<int> script;
  for (int round = 0; round < 2; ++round) {
    for (int id = 0; id < 20; ++id) script.push_back(id);
  }
  ExpectAllExact(20, {script});
}

TEST(SafeAccountDeathTest, EveryInterleavingOfThreeDepositors) {
  std::vector<std::vector<int>> scripts;
  std::vector<int> script = {0, 0, 1, 1, 2, 2};
  do {
    scripts.push_back(script);
  } while (std::next_permutation(script.begin(), script.end()));
  ExpectAllExact(3, scripts);
}

TEST(SafeAccountDeathTest, ShuffledSchedulesOfTenDepositors) {
  std::vector<std::vector<int>> scripts;
  for (unsigned seed = 0; seed < 20; ++seed) {
    scripts.push_back(ShuffledScript(10, 4, seed));
  }
  ExpectAllExact(10, scripts);
}

}  // namespace
}  // namespace multitask::locks_exercise
