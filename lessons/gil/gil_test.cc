// The guarantees of Gil, each made to happen by construction, with no timing
// threshold: mutual exclusion, forced handover to a waiter, release around a
// blocking call.
#include "lessons/gil/gil.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::Ge;
using ::testing::Le;

// A short interval so that the tests see many handovers quickly.
constexpr std::chrono::microseconds kShortInterval{50};
// Only turns a would-be deadlock into a failure; never reached when correct.
constexpr std::chrono::seconds kDeadlockGuard{60};

TEST(GilDeathTest, ReleaseByNonHolderAborts) {
  Gil gil;
  EXPECT_DEATH(gil.Release(), "does not hold the GIL");
}

TEST(GilDeathTest, AcquireTwiceAborts) {
  Gil gil;
  gil.Acquire();
  EXPECT_DEATH(gil.Acquire(), "already holds the GIL");
  gil.Release();
}

TEST(GilTest, NeverTwoHoldersAtOnce) {
  constexpr int kThreads = 4;
  constexpr int kBytecodesPerThread = 1'000'000;
  Gil gil(kShortInterval);
  std::atomic<int> holders{0};
  std::atomic<int> max_holders{0};
  std::atomic<std::int64_t> yields{0};
  std::latch all_started(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        all_started.arrive_and_wait();
        gil.Acquire();
        for (int i = 0; i < kBytecodesPerThread; ++i) {
          // One "bytecode": count the holders while inside it.
          const int now = holders.fetch_add(1) + 1;
          int seen = max_holders.load();
          while (now > seen && !max_holders.compare_exchange_weak(seen, now)) {
          }
          holders.fetch_sub(1);
          if (gil.DropRequested()) {
            gil.Yield();
            yields.fetch_add(1);
          }
        }
        gil.Release();
      });
    }
  }
  EXPECT_EQ(max_holders.load(), 1);
  const Gil::Stats stats = gil.stats();
  // Every thread took the GIL at least once, each time from another thread.
  EXPECT_THAT(stats.switches, Ge(kThreads));
  // Every Yield() was a forced switch; so may be each thread's final Release()
  // (if a request was pending then).
  EXPECT_THAT(stats.forced_switches, Ge(yields.load()));
  EXPECT_THAT(stats.forced_switches, Le(yields.load() + kThreads));
  RecordProperty("switches", static_cast<int>(stats.switches));
  RecordProperty("yields", static_cast<int>(yields.load()));
}

// A CPU-bound holder never lets go by itself; a waiter still gets the GIL, at
// the very first handover and after at most one drop request (one switch
// interval), because it asks and the holder must then wait until it has taken
// the GIL (forced switching). Repeated for many rounds.
TEST(GilTest, WaiterGetsTheGilAtTheFirstHandover) {
  constexpr int kRounds = 200;
  Gil gil(kShortInterval);
  std::atomic<bool> stop{false};
  std::latch hog_holds(1);
  int yields = 0;
  int yields_without_handover = 0;
  std::jthread hog([&] {
    gil.Acquire();
    hog_holds.count_down();
    while (!stop.load(std::memory_order_relaxed)) {
      if (gil.DropRequested()) {  // the only way it lets go
        const std::int64_t before = gil.stats().switches;
        gil.Yield();
        // Forced switching: the GIL went to the waiter and back.
        if (gil.stats().switches - before < 2) ++yields_without_handover;
        ++yields;
      }
    }
    gil.Release();
  });
  hog_holds.wait();
  for (int round = 0; round < kRounds; ++round) {
    const Gil::AcquireReport report = gil.Acquire();
    ASSERT_EQ(report.handovers_to_others, 0) << "round " << round;
    ASSERT_THAT(report.drop_requests, Le(1)) << "round " << round;
    gil.Release();
  }
  stop.store(true);
  hog.join();
  EXPECT_EQ(yields_without_handover, 0) << "of " << yields << " yields";
  const Gil::Stats stats = gil.stats();
  // The hog never releases on its own, so every round needed a drop request
  // (the first round certainly; later the hog may not have it back yet).
  EXPECT_THAT(stats.drop_requests, Ge(1));
  EXPECT_THAT(stats.forced_switches, Ge(1));
}

// While one thread is inside a blocking call, another can take the GIL: the
// blocking call waits for the other thread to have run under the GIL, which
// would deadlock if the GIL were not released around it.
TEST(GilTest, BlockingCallReleasesTheGil) {
  Gil gil;
  std::mutex mu;
  std::condition_variable cv;
  bool other_ran = false;
  std::latch in_blocking_call(1);
  std::jthread other([&] {
    in_blocking_call.wait();
    gil.Acquire();
    {
      std::lock_guard lock(mu);
      other_ran = true;
    }
    cv.notify_all();
    gil.Release();
  });
  gil.Acquire();
  const bool saw_other = gil.BlockingCall([&] {
    in_blocking_call.count_down();
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kDeadlockGuard, [&] { return other_ran; });
  });
  EXPECT_TRUE(saw_other);
  EXPECT_TRUE(gil.HeldByMe());  // taken back after the call
  gil.Release();
  EXPECT_FALSE(gil.HeldByMe());
}

TEST(GilTest, BlockingCallTakesTheGilBackWhenTheCallThrows) {
  Gil gil;
  gil.Acquire();
  EXPECT_THROW(gil.BlockingCall([]() -> int { throw 42; }), int);
  EXPECT_TRUE(gil.HeldByMe());
  gil.Release();
}

TEST(GilTest, DefaultSwitchIntervalIsCPythons) {
  EXPECT_EQ(Gil().switch_interval(), std::chrono::milliseconds(5));
}

}  // namespace
}  // namespace multitask
