// Grader for the partial-sums exercise (partial_sums.h). Its messages are
// meant for the student: they say what went wrong and where to look.
//
// Each case runs in a child with a time limit (RunInChild), so a parent that
// waits for ever on a pipe fails the grade instead of hanging it. The partial
// sum function the grader passes records, in shared memory made before any
// fork, which process ran each range.

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <iostream>
#include <set>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/exit_status.h"
#include "common/proc.h"
#include "common/shared_memory.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/process/exercises/partial_sums.h"

namespace multitask::process_exercise {
namespace {

constexpr int kMaxCalls = 64;

// Who computed what. Trivially destructible, so it can live in a SharedObject.
struct Calls {
  std::atomic<int> count{0};
  pid_t pid[kMaxCalls] = {};
  long long sum[kMaxCalls] = {};
};
Calls* g_calls = nullptr;  // set in the grading child before any fork

long long RecordingSum(long long first, long long last) {
  const long long sum = SumRange(first, last);
  const int at = g_calls->count.fetch_add(1);
  if (at < kMaxCalls) {
    g_calls->pid[at] = getpid();
    g_calls->sum[at] = sum;
  }
  return sum;
}

// Runs `check` in a child with a time limit; it prints what is wrong and
// returns 1, or returns 0.
void Grade(std::function<int()> check) {
  absl::StatusOr<testing::ChildRun> run =
      testing::RunInChild(std::move(check), absl::Seconds(20));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->timed_out)
      << "SumInChildren did not return within 20 s. Is the parent reading a "
         "pipe whose write end it still holds itself? A read waits for the end "
         "of the data until EVERY copy of the write end is closed.\n"
      << run->output;
  EXPECT_EQ(run->status, ExitStatus::Exited(0)) << run->output;
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

// Sums 1..n with `workers` children; checks the total. 0 if right.
int CheckTotal(long long n, int workers) {
  absl::StatusOr<SharedObject<Calls>> calls = SharedObject<Calls>::Create();
  if (!calls.ok()) return 2;
  g_calls = calls->get();
  absl::StatusOr<long long> total = SumInChildren(n, workers, RecordingSum);
  if (!total.ok()) {
    std::cout << "SumInChildren(" << n << ", " << workers
              << ") failed: " << total.status() << "\n";
    return 1;
  }
  const long long expected = n * (n + 1) / 2;
  if (*total == expected) return 0;
  long long exit_codes = 0;  // what returning the sums as exit codes gives
  for (int i = 0; i < std::min(g_calls->count.load(), kMaxCalls); ++i) {
    exit_codes += g_calls->sum[i] & 0xff;
  }
  std::cout << "1 + ... + " << n << " with " << workers
            << " children: expected " << expected << ", got " << *total;
  if (*total == 0) {
    std::cout << ". 0 is what seed 003 printed: the exit codes of children "
                 "that ended well. Each child's sum stays in the child's own "
                 "memory; send it to the parent through a pipe (WriteValue / "
                 "ReadValue in common/fd.h) or shared memory.\n";
  } else if (*total == exit_codes) {
    std::cout << ". That is the partial sums modulo 256: an exit code has 8 "
                 "bits. Send the sums through a pipe or shared memory.\n";
  } else {
    std::cout << ". Check the ranges: together they must cover 1..n, each "
                 "number once.\n";
  }
  return 1;
}

TEST(PartialSumsDeathTest, ReturnsTheTotal) {
  Grade([] { return CheckTotal(10, 2); });
  Grade([] { return CheckTotal(1000000, 4); });
  Grade([] { return CheckTotal(7, 3); });
}

TEST(PartialSumsDeathTest, MoreChildrenThanNumbers) {
  Grade([] { return CheckTotal(2, 4); });
  Grade([] { return CheckTotal(0, 1); });
}

TEST(PartialSumsDeathTest, EachRangeIsSummedInItsOwnChild) {
  Grade([] {
    absl::StatusOr<SharedObject<Calls>> calls = SharedObject<Calls>::Create();
    if (!calls.ok()) return 2;
    g_calls = calls->get();
    const int workers = 3;
    if (!SumInChildren(30, workers, RecordingSum).ok()) return 1;
    const int count = g_calls->count.load();
    if (count != workers) {
      std::cout << "expected `part` to be called " << workers
                << " times (once in each child), it was called " << count
                << " times\n";
      return 1;
    }
    std::set<pid_t> pids(g_calls->pid, g_calls->pid + count);
    if (pids.count(getpid()) != 0) {
      std::cout << "a range was summed in the parent (pid " << getpid()
                << "): call `part` inside the Process target\n";
      return 1;
    }
    if (static_cast<int>(pids.size()) != workers) {
      std::cout << "expected " << workers << " different child processes, "
                << "saw " << pids.size() << "\n";
      return 1;
    }
    return 0;
  });
}

TEST(PartialSumsDeathTest, JoinsEveryChild) {
  Grade([] {
    absl::StatusOr<SharedObject<Calls>> calls = SharedObject<Calls>::Create();
    if (!calls.ok()) return 2;
    g_calls = calls->get();
    if (!SumInChildren(100, 4, RecordingSum).ok()) return 1;
    if (!ChildPids(getpid()).empty()) {
      std::cout << "a child is still running or unreaped after "
                   "SumInChildren returned: Join() every Process\n";
      return 1;
    }
    return 0;
  });
}

TEST(PartialSumsDeathTest, RejectsBadInput) {
  for (auto [n, workers] : {std::pair{-1LL, 2}, std::pair{10LL, 0}}) {
    absl::StatusOr<long long> total = SumInChildren(n, workers);
    EXPECT_EQ(total.status().code(), absl::StatusCode::kInvalidArgument)
        << "SumInChildren(" << n << ", " << workers
        << ") should say InvalidArgument, got " << total.status();
  }
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

}  // namespace
}  // namespace multitask::process_exercise
