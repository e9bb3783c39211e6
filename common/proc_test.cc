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
  // pthread_create), so compare the count with our thread alive and after it
  // ended.
  std::latch started(1);
  std::latch may_finish(1);
  std::jthread thread([&] {
    started.count_down();
    may_finish.wait();
  });
  started.wait();
  const int with_thread = ThreadCount().value();
  may_finish.count_down();
  thread.join();
  EXPECT_EQ(ThreadCount().value(), with_thread - 1);
}

}  // namespace
}  // namespace multitask
