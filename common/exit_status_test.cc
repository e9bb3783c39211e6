// Tests for exit_status.h: every way a process can end is decoded exactly.

#include "common/exit_status.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace multitask {
namespace {

TEST(ExitStatusTest, DecodesExitCodes) {
  // The status word of an exit: the code in bits 8..15 (see
  // <bits/waitstatus.h>).
  for (int code : {0, 3, 255}) {
    ExitStatus status = ExitStatus::FromWaitStatus(code << 8);
    EXPECT_TRUE(status.exited());
    EXPECT_EQ(status.exit_code(), code);
    EXPECT_EQ(status.python_exitcode(), code);
    EXPECT_EQ(status.success(), code == 0);
  }
  EXPECT_EQ(ExitStatus::Exited(3).ToString(), "exited with code 3");
}

TEST(ExitStatusTest, DecodesSignals) {
  ExitStatus killed = ExitStatus::FromWaitStatus(SIGKILL);
  EXPECT_TRUE(killed.signaled());
  EXPECT_EQ(killed.signal(), SIGKILL);
  EXPECT_EQ(killed.python_exitcode(), -9);
  EXPECT_EQ(killed.ToString(), "killed by signal 9 (SIGKILL)");

  ExitStatus dumped = ExitStatus::FromWaitStatus(SIGSEGV | 0x80);  // WCOREFLAG
  EXPECT_TRUE(dumped.core_dumped());
  EXPECT_EQ(dumped.ToString(), "killed by signal 11 (SIGSEGV), core dumped");
}

TEST(SignalNameTest, NamesAndNumbers) {
  EXPECT_EQ(SignalName(SIGABRT), "SIGABRT");
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(1000), "signal 1000");
}

}  // namespace
}  // namespace multitask
