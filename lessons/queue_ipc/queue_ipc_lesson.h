// queue_ipc_lesson.h: the queue_ipc lesson's experiments, as functions that
// return what happened.
//
// How processes talk: a Queue between processes (seeds 000, 001 and 003), a
// Lock, a shared Value and Array (seed 002), Event and JoinableQueue workers
// and a Pipe (seed 003), all from common/ipc_*.h. Each function forks, has the
// children do one thing, collects what they did through pipes or shared
// memory (never by parsing printed text) and reaps them. main.cc prints;
// queue_ipc_lesson_test.cc checks.
//
//   PingPongReport report =
//       PingPong(Counter::kQueue, 50, absl::Milliseconds(1)).value();
//   // report.ping_words + report.pong_words == 50
//
// No function leaves a child, a descriptor or a shared mapping behind.

#ifndef MULTITASK_LESSONS_QUEUE_IPC_QUEUE_IPC_LESSON_H_
#define MULTITASK_LESSONS_QUEUE_IPC_QUEUE_IPC_LESSON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/exit_status.h"
#include "common/ipc_shared.h"

namespace multitask::queue_ipc {

using ::multitask::ipc::Locking;

// Seed 000: two children print "Ping" and "Pong" until the counter reaches
// `limit`. kPrivateCopy is the seed's first try (a global counter: each child
// has its own copy, 2 * limit words). kQueue is its fix: the counter is a
// token passed through an ipc::Queue, so `limit` words in total.
enum class Counter { kPrivateCopy, kQueue };
struct PingPongReport {
  std::string words;  // in the order the children wrote them
  int ping_words = 0;
  int pong_words = 0;
};
absl::StatusOr<PingPongReport> PingPong(Counter counter, int limit,
                                        absl::Duration pause_between_words);

// Seed 001: a writer puts A, B, C; a reader gets and prints them in a loop
// that never ends by itself. How the reader is stopped:
// - kTerminate: as the seed, the parent waits for the writer and kills the
//   reader (SIGTERM, Python's terminate()). Whatever the reader had not read
//   yet is never read: we make the reader slow (it is still busy with the
//   first value when the writer finishes) to show that by construction.
// - kSentinel: the writer puts a last, agreed "no more" message.
// - kClose: the writer closes the queue; the reader's Get then fails with
//   OutOfRange once the queue is empty.
enum class StopReader { kTerminate, kSentinel, kClose };
struct WriterReaderReport {
  std::vector<std::string> written;
  std::vector<std::string> read;           // what the reader got, in order
  std::vector<std::string> left_in_queue;  // what nobody read
  ExitStatus reader_status = ExitStatus::Exited(0);
};
absl::StatusOr<WriterReaderReport> WriterReader(StopReader how);

// Seed 002's Lock: `processes` children each print `lines` lines while holding
// one ProcessLock, so each child's lines come out as one block.
struct LockedPrintingReport {
  std::vector<std::string> lines;  // in the order written
};
absl::StatusOr<LockedPrintingReport> LockedPrinting(int processes, int lines);

// A lost update, forced: two children add 1 to a SharedValue<int> that starts
// at 0. With kUnlocked the children are made to interleave as
//   A loads 0; B loads 0; B stores 1; A stores 1     -> 1: B's update is lost
// With kLocked each add is Update() under the lock; B is started while A is
// inside its Update, and has to wait: the result is 2 whatever the timing.
absl::StatusOr<int> ForcedLostUpdate(Locking locking);

// The same race left to chance: `processes` children each add 1 `increments`
// times. Unlocked, the total is usually short (by how much varies); locked,
// it is exact.
absl::StatusOr<long> CountTogether(Locking locking, int processes,
                                   int increments);

// Python's Value/Array example: a child sets num = 3.1415927 and negates
// every element of arr = [0..9]; the parent sees both.
struct ValueArrayReport {
  double num = 0;
  std::vector<int> arr;
};
absl::StatusOr<ValueArrayReport> ValueAndArray();

// Seed 003, what it meant: `workers` processes wait for an Event (the start
// signal), then take numbers from a JoinableQueue, add them up and TaskDone()
// each; the parent Join()s, closes the queue, and each worker sends its sum
// back through a results Queue (the seed's plain dict is not shared).
struct WorkersReport {
  std::vector<long> sum_per_worker;
  std::vector<int> tasks_per_worker;
  long total = 0;
  long expected_total = 0;
};
absl::StatusOr<WorkersReport> EventAndJoinableQueue(int workers, int tasks);

// Python's Pipe example: the child sends a message on its end of a duplex
// pipe, the parent answers on its end, the child checks the answer.
struct PipeReport {
  std::string child_sent;
  std::string parent_answered;
  ExitStatus child_status = ExitStatus::Exited(0);
};
absl::StatusOr<PipeReport> PipeRoundTrip();

}  // namespace multitask::queue_ipc

#endif  // MULTITASK_LESSONS_QUEUE_IPC_QUEUE_IPC_LESSON_H_
