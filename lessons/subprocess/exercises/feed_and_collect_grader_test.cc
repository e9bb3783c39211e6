// Grader for the feed-and-collect exercise (feed_and_collect.h). Its messages
// are meant for the student: they say what went wrong and where to look.
//
// Each check runs FeedAndCollect() in a child with a time limit (RunInChild):
// a deadlocked parent fails the grade instead of hanging it. When the child is
// killed, the programs it started lose their pipe partner and end too (EOF on
// stdin, EPIPE on stdout).

#include <signal.h>
#include <unistd.h>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/subprocess/exercises/feed_and_collect.h"

namespace multitask::subprocess_exercise {
namespace {

constexpr absl::Duration kTimeLimit = absl::Seconds(5);

// Printable text of `bytes` bytes that shows a lost or reordered chunk.
std::string Text(size_t bytes) {
  std::string text(bytes, '\n');
  for (size_t i = 0; i < text.size(); ++i) {
    if (i % 64 != 63) text[i] = static_cast<char>('a' + (i / 64 + i) % 26);
  }
  return text;
}

// In the child: exit code 0 if FeedAndCollect(argv, input) returns `expected`.
int Check(const std::vector<std::string>& argv, const std::string& input,
          const std::string& expected) {
  absl::StatusOr<std::string> output = FeedAndCollect(argv, input);
  if (!output.ok()) {
    std::cout << "FeedAndCollect returned an error: " << output.status()
              << "\n";
    return 1;
  }
  if (*output != expected) {
    size_t at = 0;
    while (at < output->size() && at < expected.size() &&
           (*output)[at] == expected[at]) {
      ++at;
    }
    std::cout << "expected " << expected.size() << " bytes of output, got "
              << output->size() << "; they differ from byte " << at << "\n";
    return 1;
  }
  return 0;
}

// Runs `body` in a child; `deadlock` explains a timeout.
void ExpectPasses(std::function<int()> body, const std::string& deadlock) {
  absl::StatusOr<testing::ChildRun> run =
      testing::RunInChild(std::move(body), kTimeLimit);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->timed_out)
      << "still not finished after " << kTimeLimit << ": " << deadlock;
  if (run->status.signaled() && run->status.signal() == SIGPIPE) {
    ADD_FAILURE() << "your process was " << run->status
                  << ": it wrote to a program that had stopped reading. "
                     "Block or ignore SIGPIPE while you write, and treat "
                     "EPIPE as \"no more input wanted\".";
  } else {
    EXPECT_EQ(run->status, ExitStatus::Exited(0)) << run->output;
  }
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

constexpr const char* kWriteThenReadDeadlock =
    "a deadlock. You write all the input before reading any output: cat "
    "filled its stdout pipe (64 KiB) and stopped reading, its stdin pipe "
    "filled, and your write() now waits for cat while cat's write() waits "
    "for you. Serve both pipes in one poll() loop.";

TEST(FeedAndCollectDeathTest, EchoesASmallInput) {
  ExpectPasses([] { return Check({"cat"}, "hello\n", "hello\n"); },
               "even 6 bytes did not get through cat: do you close stdin "
               "once all input is sent? cat ends only at end of file.");
}

TEST(FeedAndCollectDeathTest, EchoesNothing) {
  ExpectPasses([] { return Check({"cat"}, "", ""); },
               "with no input, close stdin at once: cat waits for end of "
               "file.");
}

TEST(FeedAndCollectDeathTest, EchoesEightMebibytesWithoutDeadlock) {
  ExpectPasses(
      [] {
        const std::string input = Text(8 << 20);
        return Check({"cat"}, input, input);
      },
      kWriteThenReadDeadlock);
}

TEST(FeedAndCollectDeathTest, ServesAProgramThatWritesBeforeItReads) {
  // It writes 1 MiB before reading any of its 100 KiB of input: more input
  // than a pipe holds, so the input cannot all be written first.
  ExpectPasses(
      [] {
        const std::string input = Text(100 << 10);
        return Check({"sh", "-c", "head -c 1048576 /dev/zero; cat"}, input,
                     std::string(1 << 20, '\0') + input);
      },
      "a deadlock with only 100 KiB of input: the program writes 1 MiB "
      "before it reads anything, so it blocks on its full stdout pipe while "
      "you block writing to its full stdin pipe. Read output whenever there "
      "is some, even while input is still waiting to go.");
}

TEST(FeedAndCollectDeathTest, SurvivesAProgramThatStopsReading) {
  ExpectPasses(
      [] {
        const std::string input = Text(1 << 20);
        return Check({"head", "-c", "10"}, input, input.substr(0, 10));
      },
      "head -c 10 exits after 10 bytes: once its stdin is closed, stop "
      "writing (write() fails with EPIPE) and go on reading to end of file.");
}

TEST(FeedAndCollectDeathTest, ReportsAFailingProgram) {
  ExpectPasses(
      [] {
        absl::StatusOr<std::string> output =
            FeedAndCollect({"sh", "-c", "cat >/dev/null; exit 3"}, "x\n");
        if (output.ok()) {
          std::cout << "the program exited with code 3, and FeedAndCollect "
                       "returned OK: check its exit status after Wait()\n";
          return 1;
        }
        return 0;
      },
      "a program that reads all its input and exits with code 3 never "
      "ended for you.");
}

TEST(FeedAndCollectDeathTest, LeavesNoChildOrDescriptorBehind) {
  ExpectPasses(
      [] {
        const int before = OpenFdCount().value();
        for (int i = 0; i < 3; ++i) {
          if (!FeedAndCollect({"cat"}, Text(200 << 10)).ok()) return 2;
        }
        if (const int after = OpenFdCount().value(); after != before) {
          std::cout << "open descriptors: " << before << " before, " << after
                    << " after three calls: close every pipe end\n";
          return 1;
        }
        if (!ChildPids(getpid()).empty()) {
          std::cout << "a program you started is still running or unreaped: "
                       "Wait() for it\n";
          return 1;
        }
        return 0;
      },
      kWriteThenReadDeadlock);
}

}  // namespace
}  // namespace multitask::subprocess_exercise
