// Tests for async_fd.h: a coroutine suspends on EAGAIN and is resumed by the
// loop; WriteAll survives a full pipe; destroying a suspended task cleans up.

#include "common/async_fd.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "common/event_loop.h"
#include "common/fd.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

// Reads until end of file into `out`, then stops the loop.
Task ReadToEnd(EventLoop& loop, int fd, std::string& out) {
  AsyncFd in(loop, fd);
  if (!in.ok()) co_return;
  char buffer[1000];
  while (true) {
    const ssize_t got = co_await in.Read(buffer, sizeof(buffer));
    if (got <= 0) break;
    out.append(buffer, static_cast<size_t>(got));
  }
  loop.Stop();
}

Task WriteThenClose(EventLoop& loop, UniqueFd fd_param, const std::string& data,
                    ssize_t& result) {
  // A coroutine keeps its parameters until its frame is destroyed; a local
  // is destroyed at co_return, which is when the reader must see end of file.
  UniqueFd fd = std::move(fd_param);
  AsyncFd out(loop, fd.get());
  if (!out.ok()) co_return;
  result = co_await out.WriteAll(data.data(), data.size());
}

TEST(AsyncFdTest, ACoroutineWaitsForDataAndSeesEveryByte) {
  auto loop = EventLoop::Create().value();
  Pipe p = MakePipe(O_NONBLOCK).value();
  std::string received;
  // Nothing is written yet: the task starts, finds EAGAIN, and suspends.
  Task reader = ReadToEnd(*loop, p.read_end.get(), received);
  EXPECT_FALSE(reader.done());
  // A writer far larger than the pipe's buffer (64 KiB): it suspends on a
  // full pipe again and again, and the reader drains it in between.
  const std::string data(1 << 20, 'q');
  ssize_t written = 0;
  Task writer = WriteThenClose(*loop, std::move(p.write_end), data, written);
  EXPECT_FALSE(writer.done());
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_TRUE(writer.done());
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(written, static_cast<ssize_t>(data.size()));
  EXPECT_EQ(received, data);
  EXPECT_EQ(loop->watched(), 0u);
}

TEST(AsyncFdTest, DestroyingASuspendedTaskUnwatchesAndRunsDestructors) {
  auto loop = EventLoop::Create().value();
  Pipe p = MakePipe(O_NONBLOCK).value();
  std::string received;
  {
    Task reader = ReadToEnd(*loop, p.read_end.get(), received);
    EXPECT_FALSE(reader.done());
    EXPECT_EQ(loop->watched(), 1u);
  }
  EXPECT_EQ(loop->watched(), 0u);
}

Task AcceptOne(EventLoop& loop, int listen_fd, ssize_t& result) {
  AsyncFd listener(loop, listen_fd);
  result = co_await listener.Accept();
  loop.Stop();
}

TEST(AsyncFdTest, AcceptOnANonSocketReportsTheError) {
  auto loop = EventLoop::Create().value();
  Pipe p = MakePipe(O_NONBLOCK).value();
  ssize_t result = 0;
  Task task = AcceptOne(*loop, p.read_end.get(), result);
  EXPECT_TRUE(task.done());  // Failed at once, never suspended.
  EXPECT_EQ(result, -ENOTSOCK);
}

}  // namespace
}  // namespace multitask
