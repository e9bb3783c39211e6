// Tests for event_loop.h: dispatch, unwatching (also mid-batch), Stop from
// another thread.

#include "common/event_loop.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

std::unique_ptr<EventLoop> NewLoop() { return EventLoop::Create().value(); }

TEST(EventLoopTest, CallsTheCallbackOfTheReadyDescriptor) {
  auto loop = NewLoop();
  Pipe a = MakePipe(O_NONBLOCK).value();
  Pipe b = MakePipe(O_NONBLOCK).value();
  std::string seen;
  ASSERT_TRUE(loop->Watch(a.read_end.get(), EPOLLIN,
                          [&](uint32_t) {
                            seen += "a";
                            loop->Stop();
                          })
                  .ok());
  ASSERT_TRUE(
      loop->Watch(b.read_end.get(), EPOLLIN, [&](uint32_t) { seen += "b"; })
          .ok());
  ASSERT_TRUE(WriteAll(a.write_end.get(), "x").ok());
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(seen, "a");  // b was never ready.
  EXPECT_EQ(loop->watched(), 2u);
}

TEST(EventLoopTest, WatchingTwiceIsAnError) {
  auto loop = NewLoop();
  Pipe p = MakePipe().value();
  ASSERT_TRUE(loop->Watch(p.read_end.get(), EPOLLIN, [](uint32_t) {}).ok());
  EXPECT_EQ(loop->Watch(p.read_end.get(), EPOLLIN, [](uint32_t) {}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(loop->Modify(p.write_end.get(), EPOLLOUT).code(),
            absl::StatusCode::kNotFound);
}

TEST(EventLoopTest, AnUnwatchedDescriptorGetsNoMoreCallsEvenInTheSameBatch) {
  auto loop = NewLoop();
  Pipe a = MakePipe(O_NONBLOCK).value();
  Pipe b = MakePipe(O_NONBLOCK).value();
  // Both are ready before Run(), so one epoll_wait returns both: whichever
  // runs first unwatches the other, which must then not be called.
  int calls = 0;
  const int fa = a.read_end.get();
  const int fb = b.read_end.get();
  ASSERT_TRUE(loop->Watch(fa, EPOLLIN,
                          [&](uint32_t) {
                            ++calls;
                            loop->Unwatch(fb);
                            loop->Unwatch(
                                fa);  // Itself: safe inside its callback.
                            loop->Stop();
                          })
                  .ok());
  ASSERT_TRUE(loop->Watch(fb, EPOLLIN,
                          [&](uint32_t) {
                            ++calls;
                            loop->Unwatch(fa);
                            loop->Unwatch(fb);
                            loop->Stop();
                          })
                  .ok());
  ASSERT_TRUE(WriteAll(a.write_end.get(), "x").ok());
  ASSERT_TRUE(WriteAll(b.write_end.get(), "y").ok());
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(loop->watched(), 0u);
}

TEST(EventLoopTest, StopFromAnotherThreadWakesTheLoop) {
  auto loop = NewLoop();
  Pipe never = MakePipe().value();
  ASSERT_TRUE(loop->Watch(never.read_end.get(), EPOLLIN, [](uint32_t) {}).ok());
  std::thread stopper([&] { loop->Stop(); });
  EXPECT_TRUE(loop->Run().ok());  // Returns whether Stop came before or after.
  stopper.join();
}

TEST(EventLoopTest, ModifyChangesTheEvents) {
  auto loop = NewLoop();
  Pipe p = MakePipe(O_NONBLOCK).value();
  std::vector<uint32_t> seen;
  ASSERT_TRUE(loop->Watch(p.write_end.get(), 0,
                          [&](uint32_t events) {
                            seen.push_back(events);
                            loop->Stop();
                          })
                  .ok());
  ASSERT_TRUE(loop->Modify(p.write_end.get(), EPOLLOUT).ok());
  ASSERT_TRUE(loop->Run().ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0] & EPOLLOUT);
}

}  // namespace
}  // namespace multitask
