// The queue_ipc lesson: `bazel run //lessons/queue_ipc`.
//
// Shows, in order: Ping/Pong fixed with a Queue (seed 000); stopping a reader
// with terminate() versus a sentinel or Close (seed 001); a Lock, a lost
// update forced and fixed, Value and Array (seed 002); Event + JoinableQueue
// workers and a Pipe (seed 003). The experiments live in queue_ipc_lesson.h;
// this file only prints.

#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gflags/gflags.h"
#include "lessons/queue_ipc/queue_ipc_lesson.h"

DEFINE_int32(words, 50, "Ping/Pong: how many words in total");
DEFINE_int32(pause_ms, 1, "Ping/Pong: pause after each word");
DEFINE_int32(increments, 200000,
             "lost updates: how many times each of 2 processes adds 1");
DEFINE_int32(workers, 3, "JoinableQueue: worker processes");
DEFINE_int32(tasks, 30, "JoinableQueue: numbers 1..tasks to add up");

namespace qi = multitask::queue_ipc;
using multitask::ipc::Locking;

namespace {

void Section(const char* title) { std::cout << "\n== " << title << " ==\n"; }

absl::Status Run() {
  Section("1. Ping/Pong, fixed with a Queue (seed 000)");
  MT_ASSIGN_OR_RETURN(qi::PingPongReport copy,
                      qi::PingPong(qi::Counter::kPrivateCopy, FLAGS_words,
                                   absl::ZeroDuration()));
  std::cout << absl::StrFormat(
      "global counter (each child has its own copy): Ping %d + Pong %d = %d "
      "words\n",
      copy.ping_words, copy.pong_words, copy.ping_words + copy.pong_words);
  MT_ASSIGN_OR_RETURN(qi::PingPongReport queue,
                      qi::PingPong(qi::Counter::kQueue, FLAGS_words,
                                   absl::Milliseconds(FLAGS_pause_ms)));
  for (size_t at = 0; at < queue.words.size(); at += 60) {
    std::cout << queue.words.substr(at, 60) << "\n";
  }
  std::cout << absl::StrFormat(
      "counter passed through a Queue: %d words in total\n"
      "(Ping %d, Pong %d: who gets the token next is up to the scheduler)\n",
      queue.ping_words + queue.pong_words, queue.ping_words, queue.pong_words);

  Section("2. Stopping a reader that loops forever (seed 001)");
  const std::pair<qi::StopReader, const char*> ways[] = {
      {qi::StopReader::kTerminate, "terminate() (SIGTERM)"},
      {qi::StopReader::kSentinel, "a sentinel message  "},
      {qi::StopReader::kClose, "closing the queue   "}};
  for (const auto& [how, name] : ways) {
    MT_ASSIGN_OR_RETURN(qi::WriterReaderReport report, qi::WriterReader(how));
    std::cout << absl::StrFormat(
        "%s: wrote %s, reader got %s, never read [%s]; reader %s\n", name,
        absl::StrJoin(report.written, ""), absl::StrJoin(report.read, ""),
        absl::StrJoin(report.left_in_queue, ""),
        report.reader_status.ToString());
  }

  Section("3. A Lock around printing (seed 002)");
  MT_ASSIGN_OR_RETURN(qi::LockedPrintingReport printing,
                      qi::LockedPrinting(2, 5));
  for (const std::string& line : printing.lines) std::cout << line << "\n";

  Section("4. A shared Value: lost updates, and the lock that prevents them");
  MT_ASSIGN_OR_RETURN(int forced_unlocked,
                      qi::ForcedLostUpdate(Locking::kUnlocked));
  MT_ASSIGN_OR_RETURN(int forced_locked,
                      qi::ForcedLostUpdate(Locking::kLocked));
  std::cout << absl::StrFormat(
      "two processes add 1, interleaved load-load-store-store: unlocked %d, "
      "locked %d\n",
      forced_unlocked, forced_locked);
  MT_ASSIGN_OR_RETURN(
      long raced, qi::CountTogether(Locking::kUnlocked, 2, FLAGS_increments));
  MT_ASSIGN_OR_RETURN(long exact,
                      qi::CountTogether(Locking::kLocked, 2, FLAGS_increments));
  std::cout << absl::StrFormat(
      "two processes add 1 %d times each: unlocked %d (expected %d), locked "
      "%d\n",
      FLAGS_increments, raced, 2L * FLAGS_increments, exact);

  Section("5. Value and Array shared with a child");
  MT_ASSIGN_OR_RETURN(qi::ValueArrayReport shared, qi::ValueAndArray());
  std::cout << absl::StrFormat("num = %.7f\narr = [%s]\n", shared.num,
                               absl::StrJoin(shared.arr, ", "));

  Section("6. Event + JoinableQueue workers (seed 003, fixed)");
  MT_ASSIGN_OR_RETURN(qi::WorkersReport workers,
                      qi::EventAndJoinableQueue(FLAGS_workers, FLAGS_tasks));
  for (size_t w = 0; w < workers.sum_per_worker.size(); ++w) {
    std::cout << absl::StrFormat("worker %d: %d tasks, sum %d\n", w,
                                 workers.tasks_per_worker[w],
                                 workers.sum_per_worker[w]);
  }
  std::cout << absl::StrFormat("total %d (expected %d)\n", workers.total,
                               workers.expected_total);

  Section("7. A Pipe: two connected ends, whole messages");
  MT_ASSIGN_OR_RETURN(qi::PipeReport pipe, qi::PipeRoundTrip());
  std::cout << absl::StrFormat(
      "child sent %s; parent answered \"%s\"; child %s\n", pipe.child_sent,
      pipe.parent_answered, pipe.child_status.ToString());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "How processes talk: Queue, JoinableQueue, Pipe, Lock, Value, Array and "
      "Event between forked processes (the queue_ipc lesson).");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_words < 0 || FLAGS_increments < 0 || FLAGS_workers < 1 ||
      FLAGS_tasks < 0 || FLAGS_pause_ms < 0) {
    std::cerr << "flags must be >= 0 (and --workers >= 1)\n";
    return 2;
  }
  if (absl::Status status = Run(); !status.ok()) {
    std::cerr << "error: " << status << "\n";
    return 1;
  }
  return 0;
}
