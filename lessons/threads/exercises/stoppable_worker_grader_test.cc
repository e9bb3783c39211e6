// Grader for the stoppable-worker exercise (stoppable_worker.h). Its messages
// are meant for the student: they say what went wrong and where to look.
//
// The worker runs in a child with a time limit (RunInChild), so a worker that
// never stops fails the grade instead of hanging it.

#include <unistd.h>

#include <functional>
#include <iostream>
#include <thread>

#include "absl/time/time.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/threads/exercises/stoppable_worker.h"

namespace multitask::threads_exercise {
namespace {

constexpr const char* kNeverStopped =
    "the worker never stopped: request_stop() came while it was waiting for "
    "an item, and its wait does not watch the stop token. Use "
    "condition_variable_any::wait(lock, stop, predicate).";

// Pushes 1..items (items >= 1), waits until all are taken, so the worker is
// waiting for more, then stops it. Exit code 0 if the sum is right.
int SumThenStop(int items) {
  Inbox inbox;
  long long sum = 0;
  {
    std::jthread worker(SumUntilStopped, std::ref(inbox), std::ref(sum));
    for (int i = 1; i <= items; ++i) inbox.Push(i);
    inbox.WaitUntilTaken(items);
    worker.request_stop();
  }  // joins
  const long long expected = static_cast<long long>(items) * (items + 1) / 2;
  if (sum != expected) {
    std::cout << "sum of 1.." << items << " should be " << expected << ", got "
              << sum << "\n";
    return 1;
  }
  return 0;
}

void ExpectFinishes(std::function<int()> body) {
  absl::StatusOr<testing::ChildRun> run =
      testing::RunInChild(std::move(body), absl::Seconds(10));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->timed_out) << kNeverStopped;
  EXPECT_EQ(run->status, ExitStatus::Exited(0)) << run->output;
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

TEST(StoppableWorkerDeathTest, StopsWhileWaitingForTheNextItem) {
  // WaitUntilTaken(1) returns only once the worker has released the mutex,
  // i.e. once it waits for a second item: the stop arrives mid-wait.
  ExpectFinishes([] { return SumThenStop(1); });
}

TEST(StoppableWorkerDeathTest, TakesEveryItemThenStops) {
  ExpectFinishes([] { return SumThenStop(100); });
}

TEST(StoppableWorkerDeathTest, StopsWithoutEverBeingStarted) {
  // Stop requested before the worker even runs: it must not wait at all.
  ExpectFinishes([] {
    Inbox inbox;
    long long sum = 0;
    std::stop_source source;
    source.request_stop();
    SumUntilStopped(source.get_token(), inbox, sum);
    return sum == 0 ? 0 : 1;
  });
}

}  // namespace
}  // namespace multitask::threads_exercise
