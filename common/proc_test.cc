// Tests for proc.h: states and parents read from /proc.

#include "common/proc.h"

#include <unistd.h>

#include <latch>
#include <thread>

#include "common/child.h"
#include "common/fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::ElementsAre;

TEST(ProcDeathTest, StateParentAndChildren) {
  EXPECT_EQ(ProcessState(getpid()).value(),
            'R');  // we are reading it, so running
  EXPECT_EQ(ParentPid(getpid()).value(), getppid());

  Pipe pipe = MakePipe().value();
  Child child =
      Child::Fork([&] {
        pipe.write_end.Close();
        char byte;
        return static_cast<int>(::read(pipe.read_end.get(), &byte, 1));
      }).value();
  EXPECT_EQ(ParentPid(child.pid()).value(), getpid());
  EXPECT_THAT(ChildPids(getpid()), ElementsAre(child.pid()));
  pipe.write_end.Close();
  ASSERT_TRUE(child.Wait().ok());
  EXPECT_EQ(ProcessState(child.pid()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ProcTest, ThreadCountSeesANewThread) {
  // Sanitizers may start helper threads of their own (TSan does, at the first
  // pthread_create), and an exited thread may still be counted a moment after
  // join() returns, so compare one live thread of ours with two.
  std::latch first_started(1);
  std::latch second_started(1);
  std::latch may_finish(1);
  std::jthread first([&] {
    first_started.count_down();
    may_finish.wait();
  });
  first_started.wait();
  const int with_one = ThreadCount().value();
  std::jthread second([&] {
    second_started.count_down();
    may_finish.wait();
  });
  second_started.wait();
  EXPECT_EQ(ThreadCount().value(), with_one + 1);
  may_finish.count_down();
}

TEST(ProcTest, OpenFdCountSeesAPipe) {
  const int before = OpenFdCount().value();
  {
    Pipe pipe = MakePipe().value();
    EXPECT_EQ(OpenFdCount().value(), before + 2);
  }
  EXPECT_EQ(OpenFdCount().value(), before);
}

}  // namespace
}  // namespace multitask
