// Tests for ipc_sync.h, ipc_shared.h and ipc_connection.h, across processes.

#include <signal.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/child.h"
#include "common/fd.h"
#include "common/ipc_connection.h"
#include "common/ipc_shared.h"
#include "common/ipc_sync.h"
#include "common/ipc_testing.h"
#include "gtest/gtest.h"

namespace multitask::ipc {
namespace {

class PrimitivesTest : public testing::NoLeaksTest {};
class PrimitivesDeathTest : public testing::NoLeaksTest {};

TEST_F(PrimitivesDeathTest, EventWakesWaitersInOtherProcesses) {
  ProcessEvent event = ProcessEvent::Create().value();
  EXPECT_FALSE(event.IsSet());
  EXPECT_FALSE(event.Wait(absl::Milliseconds(5)));  // clear: Wait blocks
  std::vector<Child> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(
        Child::Fork([&] { return event.Wait() ? 0 : 1; }).value());
  }
  event.Set();
  EXPECT_TRUE(event.Wait(absl::ZeroDuration()));  // set: returns at once
  for (Child& waiter : waiters) EXPECT_TRUE(waiter.Wait().value().success());
  event.Clear();
  EXPECT_FALSE(event.IsSet());
}

TEST_F(PrimitivesDeathTest, SemaphoreCountsPermitsAcrossProcesses) {
  ProcessSemaphore semaphore = ProcessSemaphore::Create(0).value();
  EXPECT_TRUE(absl::IsInvalidArgument(ProcessSemaphore::Create(-1).status()));
  EXPECT_TRUE(
      absl::IsDeadlineExceeded(semaphore.Acquire(absl::Milliseconds(5))));
  Child child = Child::Fork([&] {
                  for (int i = 0; i < 2; ++i) {
                    if (!semaphore.Acquire().ok()) return 1;
                  }
                  return 0;
                }).value();
  semaphore.Release(2);
  EXPECT_TRUE(child.Wait().value().success());
  EXPECT_EQ(semaphore.Value(), 0);
  semaphore.Release();
  EXPECT_TRUE(semaphore.TryAcquire());
  EXPECT_FALSE(semaphore.TryAcquire());
}

TEST_F(PrimitivesDeathTest, LockHeldByAKilledProcessIsRecovered) {
  ProcessLock lock = ProcessLock::Create().value();
  Pipe locked = MakePipe().value();
  Child holder = Child::Fork([&] {
                   (void)lock.Lock();
                   (void)WriteAll(locked.write_end.get(), "L");
                   while (true) pause();
                   return 0;
                 }).value();
  locked.write_end.Close();
  ASSERT_TRUE(ReadExactly(locked.read_end.get(), 1).ok());
  EXPECT_FALSE(lock.try_lock());
  ASSERT_TRUE(holder.KillAndWait(SIGKILL).ok());
  EXPECT_EQ(lock.Lock(), ProcessLock::Acquired::kOwnerDied);
  lock.Unlock();
  EXPECT_EQ(lock.Lock(), ProcessLock::Acquired::kClean);
  lock.Unlock();
  {
    std::lock_guard<ProcessLock> guard(lock);
    EXPECT_TRUE(
        absl::IsUnavailable(lock.LockFor(absl::ZeroDuration()).status()));
  }
}

TEST_F(PrimitivesDeathTest, LockedSharedValueCountsExactly) {
  SharedValue<long> counter = SharedValue<long>::Create(0).value();
  constexpr int kIncrements = 20000;
  std::vector<Child> children;
  for (int i = 0; i < 2; ++i) {
    children.push_back(Child::Fork([&] {
                         for (int j = 0; j < kIncrements; ++j) {
                           counter.Update([](long n) { return n + 1; });
                         }
                         return 0;
                       }).value());
  }
  for (Child& child : children) ASSERT_TRUE(child.Wait().value().success());
  EXPECT_EQ(counter.Load(), 2 * kIncrements);
}

TEST_F(PrimitivesDeathTest, SharedArrayWritesOfAChildAreSeen) {
  SharedArray<int> array =
      SharedArray<int>::Create({0, 1, 2, 3, 4}, Locking::kUnlocked).value();
  EXPECT_FALSE(array.locked());
  Child child = Child::Fork([&] {
                  for (size_t i = 0; i < array.size(); ++i) {
                    array.Set(i, -array.Get(i));
                  }
                  return 0;
                }).value();
  ASSERT_TRUE(child.Wait().value().success());
  EXPECT_EQ(array.Snapshot(), (std::vector<int>{0, -1, -2, -3, -4}));
  SharedValue<double> value = SharedValue<double>::Create(0.0).value();
  value.Store(3.1415927);
  EXPECT_EQ(value.WithLock([](double& v) { return v * 2; }), 2 * 3.1415927);
}

TEST_F(PrimitivesDeathTest, ConnectionCarriesWholeMessagesBothWays) {
  ConnectionPair pipe = MakeConnectionPair().value();
  const std::string big(1 << 20, 'b');  // larger than the socket buffer
  Child child = Child::Fork([&] {
                  pipe.parent_end.Close();
                  absl::StatusOr<std::string> got = pipe.child_end.Recv();
                  if (!got.ok() || *got != "ping") return 1;
                  if (!pipe.child_end.Send("").ok()) return 2;
                  if (!pipe.child_end.Send(big).ok()) return 3;
                  return 0;
                }).value();
  pipe.child_end.Close();
  EXPECT_FALSE(pipe.parent_end.Poll().value());
  ASSERT_TRUE(pipe.parent_end.Send("ping").ok());
  EXPECT_EQ(pipe.parent_end.Recv().value(), "");
  EXPECT_EQ(pipe.parent_end.Recv().value(), big);
  EXPECT_TRUE(child.Wait().value().success());
  absl::StatusOr<std::string> end = pipe.parent_end.Recv();
  EXPECT_TRUE(absl::IsOutOfRange(end.status())) << end.status();
  EXPECT_FALSE(pipe.parent_end.Send("anyone?").ok());
}

TEST_F(PrimitivesTest, ConnectionTimesOutAndDetectsATornFrame) {
  ConnectionPair pipe = MakeConnectionPair().value();
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      pipe.parent_end.Recv(absl::Milliseconds(5)).status()));
  // A length that promises 100 bytes, then the writer goes away.
  const uint32_t length = 100;
  ASSERT_TRUE(WriteValue(pipe.child_end.fd(), length).ok());
  ASSERT_TRUE(WriteAll(pipe.child_end.fd(), "only ten..").ok());
  pipe.child_end.Close();
  absl::StatusOr<std::string> torn = pipe.parent_end.Recv();
  EXPECT_TRUE(absl::IsDataLoss(torn.status())) << torn.status();
}

TEST_F(PrimitivesTest, OneWayConnectionRefusesTheOtherDirection) {
  ConnectionPair pipe = MakeConnectionPair(/*duplex=*/false).value();
  ASSERT_TRUE(pipe.child_end.Send("one way").ok());
  EXPECT_EQ(pipe.parent_end.Recv().value(), "one way");
  EXPECT_FALSE(pipe.parent_end.Send("back").ok());
}

}  // namespace
}  // namespace multitask::ipc
