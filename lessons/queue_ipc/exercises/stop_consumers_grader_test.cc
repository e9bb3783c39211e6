// Grader for the stop-consumers exercise (stop_consumers.h). Its messages are
// meant for the student: they say what went wrong and where to look.
//
// Each check runs ProduceAndConsume() in a child with a time limit
// (RunInChild), so consumers that never stop fail the grade instead of
// hanging it. This test process is a child subreaper: the producers and
// consumers that a killed child leaves behind become OUR children, and we
// kill and reap them, so that nothing outlives the grader.
//
// Consumers that never stop fail every check by construction. A producer
// that closes the queue itself is caught by ThreeProducersFourConsumers with
// near certainty (the others would have to finish all 500 Puts before the
// first Close), not by construction.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/queue_ipc/exercises/stop_consumers.h"

namespace multitask::queue_ipc_exercise {
namespace {

constexpr absl::Duration kTimeLimit = absl::Seconds(5);

// Kills and reaps every child of ours (orphans adopted as a subreaper).
// Returns how many there were.
int KillLeftovers() {
  int killed = 0;
  for (std::vector<pid_t> pids = ChildPids(getpid()); !pids.empty();
       pids = ChildPids(getpid())) {
    for (pid_t pid : pids) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      ++killed;
    }
  }
  return killed;
}

// In the child: exit code 0 if ProduceAndConsume returns each message exactly
// once (and, with one consumer, each producer's messages in order).
int Check(int producers, int consumers, int per_producer) {
  absl::StatusOr<std::vector<std::string>> got =
      ProduceAndConsume(producers, consumers, per_producer);
  if (!got.ok()) {
    std::cout
        << "ProduceAndConsume returned an error: " << got.status()
        << "\nIf a producer failed: did it find the queue closed? A "
           "producer that closes the queue after its own last Put "
           "breaks the others' Puts. Only the parent knows when the "
           "LAST producer is done: wait for all of them, then Close(). If "
           "a consumer failed: does it treat \"queue closed\" "
           "(ipc::IsQueueClosed) as the normal end, exit code 0?\n";
    return 1;
  }
  std::map<std::string, int> times;
  for (const std::string& message : *got) ++times[message];
  int missing = 0;
  int duplicated = 0;
  for (int p = 0; p < producers; ++p) {
    for (int k = 0; k < per_producer; ++k) {
      const int seen = times[MessageName(p, k)];
      if (seen == 0) ++missing;
      if (seen > 1) ++duplicated;
      times.erase(MessageName(p, k));
    }
  }
  const int total = producers * per_producer;
  if (missing > 0 || duplicated > 0 || !times.empty()) {
    std::cout << "expected " << total << " messages, each once; got "
              << got->size() << ": " << missing << " missing, " << duplicated
              << " more than once, " << times.size() << " never put\n";
    return 1;
  }
  if (consumers == 1) {
    std::vector<int> next(static_cast<size_t>(producers), 0);
    for (const std::string& message : *got) {
      const int p = std::stoi(message);
      if (message != MessageName(p, next[static_cast<size_t>(p)]++)) {
        std::cout << "with one consumer, each producer's messages must come "
                     "back in the order it put them; \""
                  << message << "\" came out of order\n";
        return 1;
      }
    }
  }
  return 0;
}

class StopConsumersDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }

  // Runs `body` in a child with the time limit; `hang` explains a timeout.
  void ExpectPasses(std::function<int()> body, const std::string& hang) {
    absl::StatusOr<testing::ChildRun> run =
        testing::RunInChild(std::move(body), kTimeLimit);
    const int leftovers = KillLeftovers();
    ASSERT_TRUE(run.ok()) << run.status();
    ASSERT_FALSE(run->timed_out)
        << "still not finished after " << kTimeLimit << ": " << hang
        << " (the grader killed " << leftovers
        << " process(es) of yours that were still there)";
    EXPECT_EQ(run->status, ExitStatus::Exited(0)) << run->output;
    EXPECT_EQ(leftovers, 0)
        << "ProduceAndConsume returned while some of its children still ran";
  }
};

constexpr const char* kNeverStopped =
    "your consumers never stopped. Once the queue is empty a blocking Get() "
    "waits for a message that will never come, and the parent waits for the "
    "consumer. After the last producer has exited, tell the consumers there "
    "is no more: Close() the queue (Get() then fails with OutOfRange once "
    "drained) or put one \"no more\" message per consumer.";

TEST_F(StopConsumersDeathTest, OneProducerOneConsumer) {
  ExpectPasses([] { return Check(1, 1, 100); }, kNeverStopped);
}

TEST_F(StopConsumersDeathTest, ThreeProducersFourConsumers) {
  ExpectPasses([] { return Check(3, 4, 500); }, kNeverStopped);
}

TEST_F(StopConsumersDeathTest, ProducersWithNothingToSay) {
  ExpectPasses([] { return Check(2, 3, 0); },
               "with no message at all, the consumers must still stop.");
}

TEST_F(StopConsumersDeathTest, MoreConsumersThanMessages) {
  ExpectPasses([] { return Check(1, 5, 2); },
               "with 5 consumers and 2 messages, some consumer never stopped. "
               "A sentinel stops ONE consumer: put one per consumer (or "
               "Close() the queue, which stops them all).");
}

TEST_F(StopConsumersDeathTest, LeavesNoChildBehind) {
  ExpectPasses(
      [] {
        if (Check(2, 2, 50) != 0) return 1;
        if (!ChildPids(getpid()).empty()) {
          std::cout << "a producer or consumer is still running or "
                       "unreaped: Wait() for every child\n";
          return 1;
        }
        return 0;
      },
      kNeverStopped);
}

TEST_F(StopConsumersDeathTest, RejectsBadArguments) {
  ExpectPasses(
      [] {
        return ProduceAndConsume(1, 0, 1).status().code() ==
                       absl::StatusCode::kInvalidArgument
                   ? 0
                   : 1;
      },
      "ProduceAndConsume(1, 0, 1) must fail at once: nobody would consume.");
}

}  // namespace
}  // namespace multitask::queue_ipc_exercise
