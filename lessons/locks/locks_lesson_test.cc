#include "lessons/locks/locks_lesson.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/step_scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lessons/locks/lock_graph.h"

namespace multitask::locks {
namespace {

using ::testing::AllOf;
using ::testing::Each;
using ::testing::HasSubstr;

// ---- Seed 000 ---------------------------------------------------------------

TEST(DepositsTest, EveryoneReadsBeforeAnyoneWritesLosesAllButOne) {
  const DepositRun run =
      RunDeposits(100, AllReadThenAllWrite(100), Guard::kNone);
  EXPECT_EQ(run.balance, 1);
  EXPECT_EQ(run.lost(), 99);
}

TEST(DepositsTest, PairsLoseHalf) {
  EXPECT_EQ(RunDeposits(100, InPairs(100), Guard::kNone).balance, 50);
  EXPECT_EQ(RunDeposits(7, InPairs(7), Guard::kNone).balance, 4);
}

TEST(DepositsTest, OneAfterAnotherLosesNothingEvenWithoutALock) {
  EXPECT_EQ(RunDeposits(100, OneAfterAnother(100), Guard::kNone).balance, 100);
}

TEST(DepositsTest, ThreadsFollowTheScriptExactly) {
  // The threaded run matches a thread-free simulation of the same schedule.
  for (unsigned seed = 0; seed < 30; ++seed) {
    const std::vector<int> script = ShuffledScript(20, 2, seed);
    EXPECT_EQ(RunDeposits(20, script, Guard::kNone).balance,
              SimulateDeposits(20, script))
        << "seed " << seed;
  }
}

TEST(DepositsTest, WithAMutexEveryScheduleIsExact) {
  for (const auto& script :
       {AllReadThenAllWrite(100), InPairs(100), OneAfterAnother(100)}) {
    EXPECT_EQ(RunDeposits(100, script, Guard::kMutex).balance, 100);
  }
  for (unsigned seed = 0; seed < 30; ++seed) {
    EXPECT_EQ(
        RunDeposits(20, ShuffledScript(20, 4, seed), Guard::kMutex).balance, 20)
        << "seed " << seed;
  }
}

TEST(DepositsTest, EveryInterleavingOfThreeThreads) {
  // All 6!/(2!2!2!) = 90 schedules of three depositors.
  std::vector<int> script = {0, 0, 1, 1, 2, 2};
  int schedules = 0;
  int lossy = 0;
  do {
    ++schedules;
    const int racy = RunDeposits(3, script, Guard::kNone).balance;
    EXPECT_EQ(racy, SimulateDeposits(3, script));
    if (racy < 3) ++lossy;
    EXPECT_EQ(RunDeposits(3, script, Guard::kMutex).balance, 3);
  } while (std::next_permutation(script.begin(), script.end()));
  EXPECT_EQ(schedules, 90);
  EXPECT_EQ(lossy, 90 - 6);  // only the 3! serial orders lose nothing
}

// ---- Seed 001 ---------------------------------------------------------------

TEST(ChangeItTest, OneBadInterleavingLeavesMinusFive) {
  // t5 reads 0, t8 reads 0, t5 writes 5, t8 writes 8, t5 reads 8 and writes
  // 3, t8 reads 3 and writes -5.
  const std::vector<int> script = {0, 1, 0, 1, 0, 0, 1, 1};
  EXPECT_EQ(RunChangeIt(1, script, Guard::kNone), -5);
  EXPECT_EQ(RunChangeIt(1, script, Guard::kMutex), 0);
}

TEST(ChangeItTest, SerialScheduleIsZeroWithoutALock) {
  EXPECT_EQ(RunChangeIt(1, {0, 0, 0, 0, 1, 1, 1, 1}, Guard::kNone), 0);
}

TEST(ChangeItTest, WithAMutexShuffledSchedulesAreAllZero) {
  int nonzero_without_lock = 0;
  for (unsigned seed = 0; seed < 20; ++seed) {
    const std::vector<int> script = ShuffledScript(2, 4 * 50, seed);
    if (RunChangeIt(50, script, Guard::kNone) != 0) ++nonzero_without_lock;
    EXPECT_EQ(RunChangeIt(50, script, Guard::kMutex), 0) << "seed " << seed;
  }
  EXPECT_GT(nonzero_without_lock, 0);
}

// ---- RLock ------------------------------------------------------------------

TEST(RLockTest, RecursiveMutexLetsTheHolderLockAgain) {
  EXPECT_EQ(TransferWithReentrantLock(), "");
}

TEST(RLockTest, PlainLockDeadlocksOnItselfAndTheWatchdogSaysSo) {
  EXPECT_THAT(TransferWithPlainLock(absl::Milliseconds(10)),
              AllOf(HasSubstr("thread 'depositor' waits for 'wallet'"),
                    HasSubstr("held by 'depositor'")));
}

// ---- Condition --------------------------------------------------------------

TEST(ConditionTest, EveryItemConsumedOnceDespiteSpuriousWakeups) {
  const ProducerConsumerRun run = RunProducerConsumer(5000, 3, 4, 500);
  EXPECT_EQ(run.consumed_count, 5000);
  EXPECT_EQ(run.consumed_sum, run.produced_sum);
}

TEST(ConditionTest, SpuriousWakeupsMakeAConsumerWaitAgain) {
  BoundedQueue queue(1);
  std::optional<int> got;
  std::jthread consumer([&] { got = queue.Pop(); });
  // Keep waking it for no reason until it has woken up empty three times.
  while (queue.empty_wakeups() < 3) {
    queue.WakeEveryoneForNoReason();
    std::this_thread::yield();
  }
  ASSERT_TRUE(queue.Push(42));
  consumer.join();
  EXPECT_EQ(got, 42);
}

TEST(ConditionTest, ClosedQueueRefusesPushAndDrains) {
  BoundedQueue queue(2);
  ASSERT_TRUE(queue.Push(1));
  queue.Close();
  EXPECT_FALSE(queue.Push(2));
  EXPECT_EQ(queue.Pop(), 1);
  EXPECT_EQ(queue.Pop(), std::nullopt);
}

// ---- Semaphore, Event, Barrier ----------------------------------------------

TEST(SemaphoreTest, AtMostKInsideAndKIsReached) {
  EXPECT_EQ(MaxConcurrentUnderSemaphore(10, 3), 3);
  EXPECT_EQ(MaxConcurrentUnderSemaphore(5, 1), 1);
  EXPECT_EQ(MaxConcurrentUnderSemaphore(2, 4), 2);
}

TEST(EventTest, EveryWaiterSeesWhatWasWrittenBeforeSet) {
  EXPECT_EQ(WaitersThatSawTheValue(8), 8);
}

TEST(EventTest, ClearAndTimedWait) {
  Event event;
  EXPECT_FALSE(event.IsSet());
  EXPECT_FALSE(event.WaitFor(absl::Milliseconds(1)));
  event.Set();
  EXPECT_TRUE(event.WaitFor(absl::ZeroDuration()));
  event.Clear();
  EXPECT_FALSE(event.IsSet());
}

TEST(BarrierTest, EveryoneSeesEveryoneElsesWritesEachPhase) {
  const int threads = 4;
  const int phases = 5;
  const BarrierRun run = RunBarrierPhases(threads, phases);
  for (int phase = 0; phase < phases; ++phase) {
    const long long expected = (phase + 1) * threads * (threads + 1) / 2;
    for (int id = 0; id < threads; ++id) {
      EXPECT_EQ(run.sums_seen[phase * threads + id], expected);
    }
  }
  EXPECT_EQ(run.completions, 2 * phases);
}

// ---- Deadlock ---------------------------------------------------------------

TEST(DeadlockTest, WatchdogFindsTheCycleAndOneTransferStillFinishes) {
  const DeadlockRun run = TransferInOppositeOrders(absl::Milliseconds(10));
  EXPECT_EQ(run.victims, 1);
  EXPECT_EQ(run.transfers_done, 1);
  EXPECT_EQ(run.total_money, 200);
  // Both edges of the cycle, with who holds what.
  EXPECT_THAT(run.report,
              AllOf(HasSubstr("deadlock: "), HasSubstr("waits for 'account A'"),
                    HasSubstr("waits for 'account B'"),
                    HasSubstr("held by 'alice' (who holds 'account A')"),
                    HasSubstr("held by 'bob' (who holds 'account B')")));
}

TEST(DeadlockTest, OneLockOrderNeverDeadlocks) {
  const DeadlockRun run = TransferInOneOrder(2000, absl::Milliseconds(10));
  EXPECT_EQ(run.victims, 0);
  EXPECT_EQ(run.transfers_done, 4000);
  EXPECT_EQ(run.total_money, 200);
}

TEST(DeadlockTest, ScopedLockTakesBothInAnyOrder) {
  const DeadlockRun run = TransferWithScopedLock(20000);
  EXPECT_EQ(run.transfers_done, 40000);
  EXPECT_EQ(run.total_money, 200);
}

TEST(LockGraphTest, ThreeThreadCycleHasOneVictimAndThreeLinks) {
  LockGraph graph(absl::Milliseconds(10));
  TrackedMutex a(graph, "A"), b(graph, "B"), c(graph, "C");
  TrackedMutex* locks[] = {&a, &b, &c};
  std::latch all_hold_one(3);
  std::atomic<int> victims = 0;
  std::atomic<int> finished = 0;
  std::string report;
  std::mutex report_mu;
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < 3; ++i) {
      threads.emplace_back([&, i] {
        const std::string name = "t" + std::to_string(i);
        pthread_setname_np(pthread_self(), name.c_str());
        TrackedMutex& mine = *locks[i];
        TrackedMutex& next =
            *locks[(i + 1) % 3];  // t0: A->B, t1: B->C, t2: C->A
        ASSERT_TRUE(mine.Lock().ok());
        all_hold_one.arrive_and_wait();
        if (absl::Status status = next.Lock(); !status.ok()) {
          ++victims;
          std::lock_guard lock(report_mu);
          report = std::string(status.message());
        } else {
          ++finished;
          next.Unlock();
        }
        mine.Unlock();
      });
    }
  }
  EXPECT_EQ(victims, 1);
  EXPECT_EQ(finished, 2);
  EXPECT_EQ(graph.deadlocks_found(), 1);
  EXPECT_THAT(report, AllOf(HasSubstr("held by 't0' (who holds 'A')"),
                            HasSubstr("held by 't1' (who holds 'B')"),
                            HasSubstr("held by 't2' (who holds 'C')")));
}

TEST(LockGraphTest, LongWaitWithoutACycleIsNotADeadlock) {
  LockGraph graph(absl::Milliseconds(1));
  TrackedMutex mutex(graph, "m");
  ASSERT_TRUE(mutex.Lock().ok());
  std::latch waiting(1);
  absl::Status status = absl::UnknownError("not run");
  std::jthread waiter([&] {
    waiting.count_down();
    status = mutex.Lock();
    mutex.Unlock();
  });
  waiting.wait();
  // However long the waiter has waited by now, it is not on a cycle.
  mutex.Unlock();
  waiter.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(graph.deadlocks_found(), 0);
}

}  // namespace
}  // namespace multitask::locks
