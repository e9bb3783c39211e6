// Tests for the subprocess lesson: what each demo claims really happens.

#include "lessons/subprocess/subprocess_lesson.h"

#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/proc.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask::subprocess_lesson {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class SubprocessLessonTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_THAT(ChildPids(getpid()), IsEmpty()); }
};

TEST_F(SubprocessLessonTest, CallReturnsTheChildsExitCode) {
  EXPECT_EQ(CallDemo().value(), ExitStatus::Exited(3));
}

TEST_F(SubprocessLessonTest, MissingProgramIsAnErrorNotExitCode127) {
  MissingProgram missing = StartMissingProgram("no-such-program-xyz").value();
  EXPECT_EQ(missing.direct.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.direct.message(), HasSubstr("no-such-program-xyz"));
  EXPECT_EQ(missing.via_shell, ExitStatus::Exited(127));
  EXPECT_THAT(missing.shell_message, HasSubstr("not found"));
}

TEST_F(SubprocessLessonTest, ShellFedThroughStdinKeepsStreamsApart) {
  CompletedProcess shell = CommunicateWithShell().value();
  EXPECT_EQ(shell.status, ExitStatus::Exited(0));
  EXPECT_EQ(shell.out, "HELLO FROM THE SCRIPT\napple\nfig\npear\n");
  EXPECT_EQ(shell.err, "this line goes to stderr\n");
}

TEST_F(SubprocessLessonTest,
       WaitingBeforeReadingNeverEndsWhenOutputExceedsThePipe) {
  // Four pipes' worth: the child cannot finish while nobody reads, whatever
  // the timing, so "not finished" holds for any timeout.
  WaitDeadlock stuck =
      WaitBeforeReading(1 << 20, absl::Milliseconds(100)).value();
  EXPECT_GE(stuck.bytes, 4 * stuck.pipe_capacity);
  EXPECT_FALSE(stuck.finished);
  EXPECT_LE(stuck.bytes_in_pipe, stuck.pipe_capacity);
  EXPECT_NE(stuck.child_state, 'Z');  // Alive, not finished.
  EXPECT_EQ(stuck.status, ExitStatus::Killed(SIGKILL));
  EXPECT_LT(stuck.bytes_read, stuck.bytes);
}

TEST_F(SubprocessLessonTest, WaitingBeforeReadingIsFineWhenOutputFits) {
  WaitDeadlock fine = WaitBeforeReading(1000, absl::Minutes(1)).value();
  EXPECT_TRUE(fine.finished);
  EXPECT_EQ(fine.status, ExitStatus::Exited(0));
  EXPECT_EQ(fine.bytes_read, 1000u);
}

TEST_F(SubprocessLessonTest, WritingEverythingFirstGetsStuckWithBigInput) {
  const std::string input = TestText(8);
  WriteDeadlock stuck =
      WriteAllThenRead(input, absl::Milliseconds(100)).value();
  EXPECT_TRUE(stuck.stuck);
  EXPECT_GT(stuck.written, 0u);
  EXPECT_LT(stuck.written, input.size());
  EXPECT_EQ(stuck.status, ExitStatus::Killed(SIGKILL));
}

TEST_F(SubprocessLessonTest, WritingEverythingFirstWorksWithSmallInput) {
  const std::string input(1000, 'x');  // Fits in the pipe at once.
  WriteDeadlock fine = WriteAllThenRead(input, absl::Minutes(1)).value();
  EXPECT_FALSE(fine.stuck);
  EXPECT_TRUE(fine.output_matches);
  EXPECT_EQ(fine.status, ExitStatus::Exited(0));
}

TEST_F(SubprocessLessonTest, CommunicateSolvesBothDeadlocks) {
  const std::string input = TestText(8);
  Solved solved = CommunicateSolvesBoth(1 << 20, input).value();
  EXPECT_EQ(solved.head_bytes, 1u << 20);
  EXPECT_EQ(solved.cat_bytes, input.size());
  EXPECT_TRUE(solved.cat_output_matches);
}

TEST_F(SubprocessLessonTest, OnlyStandardDescriptorsReachTheProgram) {
  InheritedFds fds = ShowInheritedFds().value();
  EXPECT_EQ(fds.with_subprocess, "0 1 2");
  // Without closefrom, the careless descriptor leaks into the program.
  EXPECT_THAT(fds.with_raw_spawn, HasSubstr(absl::StrCat(" ", fds.leaky_fd)));
}

TEST(TestTextTest, SizeAndLines) {
  const std::string text = TestText(1);
  EXPECT_EQ(text.size(), 1u << 20);
  EXPECT_EQ(text[63], '\n');
  EXPECT_NE(text.substr(0, 63), text.substr(64, 63));
}

}  // namespace
}  // namespace multitask::subprocess_lesson
