// Grader for the shared-counter exercise (shared_counter.h). Its messages are
// meant for the student: they say what went wrong and where to look.

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/proc.h"
#include "gtest/gtest.h"
#include "lessons/fork/exercises/shared_counter.h"

namespace multitask::fork_exercise {
namespace {

int CountWords(const std::string& output, int* malformed) {
  int words = 0;
  *malformed = output.size() % 4 == 0 ? 0 : 1;
  for (size_t at = 0; at + 4 <= output.size(); at += 4) {
    const std::string word = output.substr(at, 4);
    if (word == "Ping" || word == "Pong") {
      ++words;
    } else {
      ++*malformed;
    }
  }
  return words;
}

TEST(SharedCounterDeathTest, PrintsExactlyLimitWordsInTotal) {
  for (int limit : {1, 10, 50, 1000}) {
    absl::StatusOr<std::string> output = PingPongSharingOneCounter(limit);
    ASSERT_TRUE(output.ok()) << output.status();
    int malformed = 0;
    const int words = CountWords(*output, &malformed);
    EXPECT_EQ(malformed, 0)
        << "every write must be one whole word, \"Ping\" or \"Pong\"";
    if (words == 2 * limit) {
      ADD_FAILURE() << "expected " << limit << " words in total, got " << words
                    << ": each child counted to " << limit
                    << " in its own copy of the counter. fork() copies memory; "
                       "put the counter in memory both children share.";
    } else if (words > limit) {
      ADD_FAILURE() << "expected " << limit << " words in total, got " << words
                    << ": both children saw the counter below the limit and "
                       "both printed. Make 'check and count' one atomic step.";
    } else {
      EXPECT_EQ(words, limit) << "too few words: did a child stop early?";
    }
  }
}

TEST(SharedCounterDeathTest, LeavesNoChildBehind) {
  ASSERT_TRUE(PingPongSharingOneCounter(5).ok());
  EXPECT_TRUE(ChildPids(getpid()).empty())
      << "a child is still running or unreaped: wait for both children";
}

}  // namespace
}  // namespace multitask::fork_exercise
