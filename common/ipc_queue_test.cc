// Tests for ipc_queue.h: exactly-once delivery between processes, timeouts,
// Close, JoinableQueue, and processes killed at each step of Put and Get
// (forced with the test hook, not by luck). The random kill storm is in
// ipc_queue_kill_storm_test.cc.

#include "common/ipc_queue.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/child.h"
#include "common/fd.h"
#include "common/ipc_testing.h"
#include "common/proc.h"
#include "common/shared_memory.h"
#include "gtest/gtest.h"

namespace multitask::ipc {
namespace {

using internal::QueueStep;

class QueueTest : public testing::NoLeaksTest {};
class QueueDeathTest : public testing::NoLeaksTest {};

TEST_F(QueueTest, RoundTripsMessagesOfEverySizeAcrossTheWrap) {
  Queue queue = Queue::Create(256).value();
  EXPECT_EQ(queue.capacity_bytes(), 256u);
  EXPECT_EQ(queue.max_message_bytes(), 248u);
  // Sizes that are not multiples of 8 move the records around the ring.
  for (size_t size = 0; size <= 248; size += 13) {
    const std::string message(size, static_cast<char>('a' + size % 26));
    ASSERT_TRUE(queue.Put(message).ok()) << size;
    ASSERT_EQ(queue.Get().value(), message) << size;
  }
  const std::string largest(248, 'x');
  ASSERT_TRUE(queue.Put(largest).ok());
  EXPECT_EQ(queue.Get().value(), largest);
}

TEST_F(QueueTest, RejectsAMessageLargerThanTheRing) {
  Queue queue = Queue::Create(64).value();
  absl::Status put = queue.Put(std::string(57, 'x'));
  EXPECT_TRUE(absl::IsInvalidArgument(put)) << put;
  EXPECT_NE(put.message().find("not chunked"), std::string::npos) << put;
}

TEST_F(QueueTest, RejectsACapacityOverTwoGigabytes) {
  absl::StatusOr<Queue> queue = Queue::Create((size_t{2} << 30) + 1);
  EXPECT_TRUE(absl::IsInvalidArgument(queue.status())) << queue.status();
}

// The commit words count bytes and messages modulo 2^32; a queue that has
// moved more than 4 GiB or 4 billion messages must not notice.
TEST_F(QueueTest, CountersWrapAroundTwoToThe32Unnoticed) {
  JoinableQueue queue = JoinableQueue::Create(256).value();
  const uint32_t near_end = 0xFFFFFFFFu - 39;  // a multiple of 8
  internal::SetCountersForTesting(queue, /*offset=*/near_end,
                                  /*messages=*/0xFFFFFFFFu - 2);
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(queue.Put(absl::StrCat("first ", round)).ok());
    ASSERT_TRUE(queue.Put(absl::StrCat("second ", round)).ok());
    EXPECT_EQ(queue.GetStats().messages, 2u);
    EXPECT_EQ(queue.GetStats().unfinished, 2u);
    EXPECT_EQ(queue.Get(absl::ZeroDuration()).value(),
              absl::StrCat("first ", round));
    EXPECT_EQ(queue.Get(absl::ZeroDuration()).value(),
              absl::StrCat("second ", round));
    ASSERT_TRUE(queue.TaskDone().ok());
    ASSERT_TRUE(queue.TaskDone().ok());
  }
  const Queue::Stats stats = queue.GetStats();
  EXPECT_EQ(stats.messages, 0u);
  EXPECT_EQ(stats.bytes_used, 0u);
  EXPECT_EQ(stats.puts, uint64_t{0xFFFFFFFFu} - 2 + 20);  // past 2^32
  EXPECT_EQ(stats.gets, stats.puts);
  EXPECT_TRUE(queue.Join(absl::ZeroDuration()).ok());
  EXPECT_TRUE(IsQueueEmpty(queue.Get(absl::ZeroDuration()).status()));
}

TEST_F(QueueTest, GetOnAnEmptyQueueFailsWithEmptyAfterItsTimeout) {
  Queue queue = Queue::Create().value();
  EXPECT_TRUE(IsQueueEmpty(queue.Get(absl::ZeroDuration()).status()));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> got = queue.Get(absl::Milliseconds(20));
  EXPECT_TRUE(IsQueueEmpty(got.status())) << got.status();
  EXPECT_EQ(got.status().message(), "queue empty");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
}

TEST_F(QueueTest, PutOnAFullQueueFailsWithFullAfterItsTimeout) {
  Queue queue = Queue::Create(64).value();  // room for 4 of 8+8 bytes
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue.Put("12345678").ok());
  const absl::Time start = absl::Now();
  absl::Status put = queue.Put("12345678", absl::Milliseconds(20));
  EXPECT_TRUE(IsQueueFull(put)) << put;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
  ASSERT_TRUE(queue.Get().ok());
  EXPECT_TRUE(queue.Put("12345678", absl::ZeroDuration()).ok());

  Queue two = Queue::Create(1024, /*max_messages=*/2).value();
  ASSERT_TRUE(two.Put("a").ok());
  ASSERT_TRUE(two.Put("b").ok());
  EXPECT_TRUE(IsQueueFull(two.Put("c", absl::ZeroDuration())));
}

TEST_F(QueueTest, CloseRefusesPutsAndDrainsBeforeEndOfQueue) {
  Queue queue = Queue::Create().value();
  ASSERT_TRUE(queue.Put("last").ok());
  queue.Close();
  queue.Close();  // idempotent
  absl::Status put = queue.Put("late");
  EXPECT_TRUE(absl::IsFailedPrecondition(put)) << put;
  EXPECT_TRUE(IsQueueClosed(put));
  EXPECT_EQ(queue.Get().value(), "last");
  absl::StatusOr<std::string> end = queue.Get();
  EXPECT_TRUE(absl::IsOutOfRange(end.status())) << end.status();
  EXPECT_TRUE(IsQueueClosed(end.status()));
  EXPECT_TRUE(queue.GetStats().closed);
}

TEST_F(QueueTest, JoinableQueueCountsTasks) {
  JoinableQueue queue = JoinableQueue::Create().value();
  EXPECT_TRUE(queue.Join(absl::ZeroDuration()).ok());
  ASSERT_TRUE(queue.Put("task").ok());
  absl::Status join = queue.Join(absl::Milliseconds(10));
  EXPECT_TRUE(absl::IsDeadlineExceeded(join)) << join;
  ASSERT_TRUE(queue.Get().ok());
  ASSERT_TRUE(queue.TaskDone().ok());
  EXPECT_TRUE(queue.Join().ok());
  absl::Status extra = queue.TaskDone();
  EXPECT_TRUE(absl::IsFailedPrecondition(extra)) << extra;
}

// Waits (bounded) until `pid` sleeps in the kernel: then it is blocked.
void AwaitSleeping(pid_t pid) {
  for (int i = 0; i < 100000; ++i) {
    absl::StatusOr<char> state = ProcessState(pid);
    if (state.ok() && *state == 'S') return;
    sched_yield();
  }
}

TEST_F(QueueDeathTest, CloseWakesEveryBlockedGetter) {
  Queue queue = Queue::Create().value();
  std::vector<Child> getters;
  for (int i = 0; i < 3; ++i) {
    getters.push_back(Child::Fork([&] {
                        absl::StatusOr<std::string> got = queue.Get();
                        return absl::IsOutOfRange(got.status()) ? 0 : 1;
                      }).value());
  }
  // Not needed for correctness (a Get that starts after Close fails the same
  // way), but makes the test exercise the wake-up of sleeping getters.
  for (Child& getter : getters) AwaitSleeping(getter.pid());
  queue.Close();
  for (Child& getter : getters) {
    EXPECT_TRUE(getter.Wait().value().success());
  }
}

TEST_F(QueueDeathTest, CloseWakesABlockedPutterWithClosed) {
  Queue queue = Queue::Create(64).value();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue.Put("12345678").ok());  // full
  Child putter = Child::Fork([&] {
                   absl::Status put = queue.Put("12345678");
                   return absl::IsFailedPrecondition(put) ? 0 : 1;
                 }).value();
  AwaitSleeping(putter.pid());
  queue.Close();
  EXPECT_TRUE(putter.Wait().value().success());
  EXPECT_EQ(queue.GetStats().messages, 4u);  // still there to drain
}

TEST_F(QueueDeathTest, JoinReturnsWhenWorkersMarkEveryTaskDone) {
  JoinableQueue queue = JoinableQueue::Create().value();
  constexpr int kTasks = 50;
  for (int i = 0; i < kTasks; ++i) ASSERT_TRUE(queue.Put("task").ok());
  std::vector<Child> workers;
  for (int w = 0; w < 2; ++w) {
    workers.push_back(Child::Fork([&] {
                        while (queue.Get(absl::ZeroDuration()).ok()) {
                          if (!queue.TaskDone().ok()) return 1;
                        }
                        return 0;
                      }).value());
  }
  EXPECT_TRUE(queue.Join().ok());
  EXPECT_EQ(queue.GetStats().unfinished, 0u);
  for (Child& worker : workers) EXPECT_TRUE(worker.Wait().value().success());
}

// P producers x M messages, C consumers. Every message carries its producer,
// sequence number and a size-varying payload; consumers log what they got in
// shared memory.
class QueueExactlyOnceDeathTest
    : public testing::NoLeaksTest,
      public ::testing::WithParamInterface<std::tuple<int, int>> {};

constexpr int kMessagesPerProducer = 3000;
constexpr int kMaxProcesses = 4;

std::string MakeMessage(int producer, int seq) {
  // "p:seq:" then filler of a length that varies with seq, then a checksum.
  std::string message = absl::StrCat(producer, ":", seq, ":");
  message.append(static_cast<size_t>(seq % 37),
                 static_cast<char>('a' + seq % 26));
  uint32_t sum = 0;
  for (char c : message) sum = sum * 31 + static_cast<unsigned char>(c);
  absl::StrAppend(&message, "#", sum);
  return message;
}

struct ConsumerLog {
  std::atomic<uint32_t> count{0};
  uint32_t ids[kMaxProcesses * kMessagesPerProducer];  // producer << 16 | seq
  std::atomic<uint32_t> corrupt{0};
};

// Parses a message back; -1 producer if it is not one MakeMessage wrote.
std::pair<int, int> ParseMessage(const std::string& message) {
  int producer = -1, seq = -1;
  if (std::sscanf(message.c_str(), "%d:%d:", &producer, &seq) != 2 ||
      producer < 0 || seq < 0 || MakeMessage(producer, seq) != message) {
    return {-1, -1};
  }
  return {producer, seq};
}

TEST_P(QueueExactlyOnceDeathTest, EveryMessageArrivesExactlyOnceInOrder) {
  const auto [producers, consumers] = GetParam();
  // A small ring, so producers often find it full and sleep.
  Queue queue = Queue::Create(1024).value();
  std::vector<SharedObject<ConsumerLog>> logs;
  for (int c = 0; c < consumers; ++c) {
    logs.push_back(SharedObject<ConsumerLog>::Create().value());
  }
  std::vector<Child> children;
  for (int c = 0; c < consumers; ++c) {
    ConsumerLog* log = logs[c].get();
    children.push_back(Child::Fork([&queue, log] {
                         std::string message;
                         while (queue.GetInto(&message).ok()) {
                           auto [producer, seq] = ParseMessage(message);
                           if (producer < 0) {
                             log->corrupt.fetch_add(1);
                             continue;
                           }
                           log->ids[log->count.load()] =
                               static_cast<uint32_t>(producer << 16 | seq);
                           log->count.fetch_add(1);
                         }
                         return 0;
                       }).value());
  }
  std::vector<Child> producer_children;
  for (int p = 0; p < producers; ++p) {
    producer_children.push_back(Child::Fork([&queue, p] {
                                  for (int i = 0; i < kMessagesPerProducer;
                                       ++i) {
                                    if (!queue.Put(MakeMessage(p, i)).ok()) {
                                      return 1;
                                    }
                                  }
                                  return 0;
                                }).value());
  }
  for (Child& child : producer_children) {
    ASSERT_TRUE(child.Wait().value().success());
  }
  queue.Close();
  for (Child& child : children) ASSERT_TRUE(child.Wait().value().success());

  std::vector<int> seen(kMaxProcesses * kMessagesPerProducer, 0);
  uint64_t received = 0;
  for (int c = 0; c < consumers; ++c) {
    EXPECT_EQ(logs[c]->corrupt.load(), 0u);
    std::vector<int> last_seq(producers, -1);
    for (uint32_t i = 0; i < logs[c]->count.load(); ++i) {
      const int producer = static_cast<int>(logs[c]->ids[i] >> 16);
      const int seq = static_cast<int>(logs[c]->ids[i] & 0xffff);
      ASSERT_LT(producer, producers);
      EXPECT_GT(seq, last_seq[producer]) << "FIFO per producer broken";
      last_seq[producer] = seq;
      ++seen[producer * kMessagesPerProducer + seq];
      ++received;
    }
  }
  EXPECT_EQ(received, static_cast<uint64_t>(producers) * kMessagesPerProducer);
  for (int p = 0; p < producers; ++p) {
    for (int i = 0; i < kMessagesPerProducer; ++i) {
      ASSERT_EQ(seen[p * kMessagesPerProducer + i], 1)
          << "producer " << p << " message " << i;
    }
  }
  const Queue::Stats stats = queue.GetStats();
  EXPECT_EQ(stats.puts, received);
  EXPECT_EQ(stats.gets, received);
  EXPECT_EQ(stats.messages, 0u);
}

INSTANTIATE_TEST_SUITE_P(ProducersConsumers, QueueExactlyOnceDeathTest,
                         ::testing::Combine(::testing::Values(1, 2, 4),
                                            ::testing::Values(1, 2, 4)),
                         [](const auto& info) {
                           return absl::StrCat(
                               std::get<0>(info.param), "Producers",
                               std::get<1>(info.param), "Consumers");
                         });

// The same between threads of one process: ThreadSanitizer (--config=tsan)
// sees these, so it checks the queue's memory ordering, which it cannot do
// across processes.
TEST_F(QueueTest, ThreadsOfOneProcessShareAQueueExactlyOnceInOrder) {
  constexpr int kProducers = 2, kConsumers = 2, kMessages = 5000;
  Queue queue = Queue::Create(512).value();  // small: Put often waits
  std::vector<std::vector<std::pair<int, int>>> received(kConsumers);
  std::atomic<int> corrupt{0};
  {
    std::vector<std::jthread> threads;
    for (int c = 0; c < kConsumers; ++c) {
      threads.emplace_back([&, c] {
        std::string message;
        while (queue.GetInto(&message).ok()) {
          const auto [producer, seq] = ParseMessage(message);
          if (producer < 0) corrupt.fetch_add(1);
          received[c].emplace_back(producer, seq);
        }
      });
    }
    {
      std::vector<std::jthread> producers;
      for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&, p] {
          for (int i = 0; i < kMessages; ++i) {
            ASSERT_TRUE(queue.Put(MakeMessage(p, i)).ok());
          }
        });
      }
    }  // producers joined
    queue.Close();
  }  // consumers joined
  EXPECT_EQ(corrupt.load(), 0);
  std::vector<int> count(kProducers * kMessages, 0);
  for (const auto& log : received) {
    std::vector<int> last(kProducers, -1);
    for (const auto& [producer, seq] : log) {
      ASSERT_GE(producer, 0);
      EXPECT_GT(seq, last[producer]) << "out of order";
      last[producer] = seq;
      ++count[producer * kMessages + seq];
    }
  }
  EXPECT_EQ(std::count(count.begin(), count.end(), 1), kProducers * kMessages)
      << "a message lost or received twice";
}

// ---- Killed at each step of Put and Get, by construction ----

int g_stop_fd = -1;  // the child tells the parent "I am at the step" here
QueueStep g_stop_at;

void StopHere(QueueStep step) {
  if (step != g_stop_at) return;
  const char byte = 1;
  if (write(g_stop_fd, &byte, 1) != 1) _exit(3);
  while (true) pause();  // killed here, holding the queue's lock
}

// Runs `operation` in a child that stops at `step` (lock held), and SIGKILLs
// it there.
void KillAt(QueueStep step, const std::function<void()>& operation) {
  Pipe pipe = MakePipe().value();
  Child child = Child::Fork([&] {
                  g_stop_fd = pipe.write_end.get();
                  g_stop_at = step;
                  internal::SetQueueHookForTesting(&StopHere);
                  operation();
                  return 2;  // never reached the step
                }).value();
  pipe.write_end.Close();
  ASSERT_TRUE(ReadExactly(pipe.read_end.get(), 1).ok())
      << "child did not reach the step";
  EXPECT_EQ(child.KillAndWait(SIGKILL).value().ToString(),
            "killed by signal 9 (SIGKILL)");
}

TEST_F(QueueDeathTest, ProducerKilledBeforeCommitLeavesNoTrace) {
  Queue queue = Queue::Create(256).value();
  ASSERT_TRUE(queue.Put("before").ok());
  KillAt(QueueStep::kPutCopied, [&] { (void)queue.Put("half-put"); });
  // The lock is usable again (EOWNERDEAD, repaired), and the queue unchanged.
  EXPECT_EQ(queue.GetStats().puts, 1u);
  ASSERT_TRUE(queue.Put("after").ok());
  EXPECT_EQ(queue.Get(absl::ZeroDuration()).value(), "before");
  EXPECT_EQ(queue.Get(absl::ZeroDuration()).value(), "after");
  EXPECT_TRUE(IsQueueEmpty(queue.Get(absl::ZeroDuration()).status()));
}

TEST_F(QueueDeathTest, ProducerKilledAfterCommitHasEnqueuedItsMessage) {
  Queue queue = Queue::Create(256).value();
  KillAt(QueueStep::kPutCommitted, [&] { (void)queue.Put("committed"); });
  EXPECT_EQ(queue.Get(absl::ZeroDuration()).value(), "committed");
  EXPECT_TRUE(IsQueueEmpty(queue.Get(absl::ZeroDuration()).status()));
}

TEST_F(QueueDeathTest, ConsumerKilledBeforeCommitLeavesTheMessageForOthers) {
  Queue queue = Queue::Create(256).value();
  ASSERT_TRUE(queue.Put("first").ok());
  ASSERT_TRUE(queue.Put("second").ok());
  KillAt(QueueStep::kGetCopied, [&] { (void)queue.Get(); });
  EXPECT_EQ(queue.GetStats().gets, 0u);
  EXPECT_EQ(queue.Get(absl::ZeroDuration()).value(), "first");
  EXPECT_EQ(queue.Get(absl::ZeroDuration()).value(), "second");
}

TEST_F(QueueDeathTest, ConsumerKilledAfterCommitTookTheMessageWithIt) {
  Queue queue = Queue::Create(256).value();
  ASSERT_TRUE(queue.Put("first").ok());
  ASSERT_TRUE(queue.Put("second").ok());
  KillAt(QueueStep::kGetCommitted, [&] { (void)queue.Get(); });
  // Delivered to the dead consumer: counted as a Get, gone from the queue.
  EXPECT_EQ(queue.GetStats().gets, 1u);
  EXPECT_EQ(queue.Get(absl::ZeroDuration()).value(), "second");
}

TEST_F(QueueDeathTest, SleepersAreWokenWhenTheWakerDiesBeforeWakingThem) {
  Queue queue = Queue::Create(256).value();
  // A getter sleeps on the empty queue; the producer commits its message and
  // is killed before it wakes anyone. The next lock owner (here the parent's
  // GetStats) sees EOWNERDEAD and wakes every sleeper.
  Child getter = Child::Fork([&] {
                   return queue.Get().value_or("") == "wake up" ? 0 : 1;
                 }).value();
  AwaitSleeping(getter.pid());
  KillAt(QueueStep::kPutCommitted, [&] { (void)queue.Put("wake up"); });
  (void)queue.GetStats();
  EXPECT_TRUE(getter.Wait().value().success());
}

}  // namespace
}  // namespace multitask::ipc
