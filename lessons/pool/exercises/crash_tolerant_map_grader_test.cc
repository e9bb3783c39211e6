// Grader for the crash-tolerant-map exercise (crash_tolerant_map.h). Its
// messages are meant for the student: they say what went wrong and where to
// look.
//
// Each case runs in a child with a time limit (RunInChild), so a solution that
// waits for ever fails the grade instead of hanging it. The pool lives and
// dies in that child.

#include <unistd.h>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "common/exit_status.h"
#include "common/proc.h"
#include "common/process_pool.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/pool/exercises/crash_tolerant_map.h"

namespace multitask::pool_exercise {
namespace {

constexpr int kWorkers = 2;

// Runs `check` in a child with a time limit; it prints what is wrong and
// returns 1, or returns 0.
void Grade(std::function<int()> check) {
  absl::StatusOr<testing::ChildRun> run =
      testing::RunInChild(std::move(check), absl::Seconds(30));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->timed_out)
      << "SquareAll did not return within 30 s: is something waiting for a "
         "result that can never come?\n"
      << run->output;
  EXPECT_EQ(run->status, ExitStatus::Exited(0)) << run->output;
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

// Checks SquareAll(inputs) on a fresh pool: a square for each input >= 0, a
// worker's death for each negative one. 0 if all is right.
int CheckSquares(const std::vector<int>& inputs) {
  absl::StatusOr<std::unique_ptr<ProcessPool>> pool =
      ProcessPool::Create(kWorkers);
  if (!pool.ok()) {
    std::cout << pool.status() << "\n";
    return 2;
  }
  const std::vector<absl::StatusOr<int>> results = SquareAll(**pool, inputs);
  // Stop the pool's thread before reading the results: the errors share
  // reference-counted storage with it, counted inside the system Abseil, which
  // ThreadSanitizer cannot see (it would report a false race).
  pool->reset();
  if (results.size() != inputs.size()) {
    std::cout << "expected one result per input (" << inputs.size() << "), got "
              << results.size() << "\n";
    return 1;
  }
  int wrong = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int x = inputs[i];
    const absl::StatusOr<int>& result = results[i];
    if (x >= 0 && !result.ok()) {
      std::cout << "input " << x << " (position " << i << ") failed with \""
                << result.status() << "\", but Risky(" << x
                << ") does not crash: it shared a task (a Map chunk) with an "
                   "input that did, or Map's first error was given to every "
                   "input. Run each input as its own task.\n";
      ++wrong;
    } else if (x >= 0 && *result != x * x) {
      std::cout << "input " << x << " (position " << i << "): expected "
                << x * x << ", got " << *result
                << ". Are the results in input order?\n";
      ++wrong;
    } else if (x < 0 && result.ok()) {
      std::cout << "input " << x << " (position " << i << ") crashes its "
                << "worker, but its result is a value (" << *result
                << "): keep the pool's error for it\n";
      ++wrong;
    } else if (x < 0 &&
               (result.status().code() != absl::StatusCode::kAborted ||
                !absl::StrContains(result.status().message(), "SIGSEGV"))) {
      std::cout << "input " << x << " (position " << i << "): expected the "
                << "pool's error for a crashed worker (ABORTED, \"... killed "
                   "by signal 11 (SIGSEGV)\"), got \""
                << result.status() << "\"\n";
      ++wrong;
    }
    if (wrong == 3) break;  // enough to see the pattern
  }
  return wrong == 0 ? 0 : 1;
}

std::vector<int> ZeroTo(int n) {
  std::vector<int> inputs;
  for (int i = 0; i < n; ++i) inputs.push_back(i);
  return inputs;
}

TEST(CrashTolerantMapDeathTest, KeepsEveryGoodResultNextToACrash) {
  Grade([] {
    std::vector<int> inputs = ZeroTo(12);
    inputs[3] = -1;  // Map's default chunk for 12 items on 2 workers is 2
    return CheckSquares(inputs);
  });
}

TEST(CrashTolerantMapDeathTest, ManyInputsFewCrashes) {
  Grade([] {
    std::vector<int> inputs = ZeroTo(100);
    inputs[17] = -17;
    inputs[60] = -60;
    inputs[61] = -61;
    return CheckSquares(inputs);
  });
}

TEST(CrashTolerantMapDeathTest, ResultsInInputOrderWithoutCrashes) {
  Grade([] { return CheckSquares({9, 3, 7, 0, 5, 1, 8}); });
}

TEST(CrashTolerantMapDeathTest, EveryInputCrashes) {
  Grade([] { return CheckSquares({-1, -2, -3, -4, -5}); });
}

TEST(CrashTolerantMapDeathTest, NoInputs) {
  Grade([] { return CheckSquares({}); });
}

TEST(CrashTolerantMapDeathTest, PoolStillWorksAfterwards) {
  Grade([] {
    absl::StatusOr<std::unique_ptr<ProcessPool>> pool =
        ProcessPool::Create(kWorkers);
    if (!pool.ok()) return 2;
    // Kept until the pool is gone (see CheckSquares).
    const std::vector<absl::StatusOr<int>> results =
        SquareAll(**pool, {-1, 2, -3, 4});
    absl::StatusOr<int> after = (*pool)->Apply(Risky, 6);
    if (!after.ok() || *after != 36) {
      std::cout << "after SquareAll, Apply(Risky, 6) gave "
                << (after.ok() ? std::to_string(*after)
                               : after.status().ToString())
                << " instead of 36: leave the pool open and usable\n";
      return 1;
    }
    (*pool)->Close();
    if (!(*pool)->Join().ok()) return 1;
    if (!ChildPids(getpid()).empty()) {
      std::cout << "workers left behind after Close() and Join()\n";
      return 1;
    }
    pool->reset();
    return 0;
  });
}

}  // namespace
}  // namespace multitask::pool_exercise
