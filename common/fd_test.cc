// Tests for fd.h: descriptors close themselves, pipes are CLOEXEC, reads are
// whole.

#include "common/fd.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFdTest, ClosesOnDestructionAndMove) {
  int raw = -1;
  {
    Pipe pipe = MakePipe().value();
    raw = pipe.read_end.get();
    UniqueFd moved = std::move(pipe.read_end);
    EXPECT_FALSE(pipe.read_end.valid());
    EXPECT_EQ(moved.get(), raw);
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(UniqueFdTest, ReleaseGivesUpOwnership) {
  Pipe pipe = MakePipe().value();
  const int raw = pipe.write_end.release();
  pipe = Pipe{};
  EXPECT_TRUE(IsOpen(raw));
  ::close(raw);
}

TEST(MakePipeTest, BothEndsAreCloseOnExec) {
  Pipe pipe = MakePipe().value();
  EXPECT_TRUE(::fcntl(pipe.read_end.get(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(pipe.write_end.get(), F_GETFD) & FD_CLOEXEC);
}

TEST(ReadWriteTest, WholeMessagesRoundTrip) {
  Pipe pipe = MakePipe().value();
  ASSERT_TRUE(WriteAll(pipe.write_end.get(), "hello").ok());
  ASSERT_TRUE(WriteValue(pipe.write_end.get(), 42).ok());
  pipe.write_end.Close();
  EXPECT_EQ(ReadExactly(pipe.read_end.get(), 5).value(), "hello");
  EXPECT_EQ(ReadValue<int>(pipe.read_end.get()).value(), 42);
  EXPECT_EQ(ReadAll(pipe.read_end.get()).value(), "");
}

TEST(ReadWriteTest, ShortReadIsAnError) {
  Pipe pipe = MakePipe().value();
  ASSERT_TRUE(WriteAll(pipe.write_end.get(), "abc").ok());
  pipe.write_end.Close();
  absl::StatusOr<std::string> got = ReadExactly(pipe.read_end.get(), 8);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(got.status().message(), ::testing::HasSubstr("after 3 of 8"));
}

TEST(ReadWriteTest, ReadAllHonoursItsLimit) {
  Pipe pipe = MakePipe().value();
  ASSERT_TRUE(WriteAll(pipe.write_end.get(), std::string(100, 'x')).ok());
  pipe.write_end.Close();
  EXPECT_EQ(ReadAll(pipe.read_end.get(), 10).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(ReadWriteTest, WriteToClosedPipeFailsWithEpipe) {
  Pipe pipe = MakePipe().value();
  pipe.read_end.Close();
  // GoogleTest leaves SIGPIPE at its default, which would kill us; ignore it
  // here so write() reports EPIPE instead.
  sighandler_t old = ::signal(SIGPIPE, SIG_IGN);
  absl::Status status = WriteAll(pipe.write_end.get(), "x");
  ::signal(SIGPIPE, old);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("[EPIPE]"));
}

}  // namespace
}  // namespace multitask
