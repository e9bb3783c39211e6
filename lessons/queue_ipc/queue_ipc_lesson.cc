#include "lessons/queue_ipc/queue_ipc_lesson.h"

#include <sched.h>
#include <signal.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/child.h"
#include "common/fd.h"
#include "common/ipc_connection.h"
#include "common/ipc_queue.h"
#include "common/ipc_sync.h"
#include "common/status_macros.h"

namespace multitask::queue_ipc {
namespace {

int CountOccurrences(absl::string_view text, absl::string_view word) {
  int count = 0;
  for (size_t at = text.find(word); at != absl::string_view::npos;
       at = text.find(word, at + word.size())) {
    ++count;
  }
  return count;
}

// Gets an int sent as text; -1 on any error.
int GetInt(ipc::Queue& queue) {
  absl::StatusOr<std::string> got = queue.Get();
  int value = -1;
  if (!got.ok() || !absl::SimpleAtoi(*got, &value)) return -1;
  return value;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

}  // namespace

absl::StatusOr<PingPongReport> PingPong(Counter counter, int limit,
                                        absl::Duration pause_between_words) {
  MT_ASSIGN_OR_RETURN(Pipe words, MakePipe());
  MT_ASSIGN_OR_RETURN(ipc::Queue queue, ipc::Queue::Create(4096));
  int global_counter = 0;  // kPrivateCopy: the seed's global

  auto sub_task = [&](absl::string_view word) -> int {
    if (counter == Counter::kPrivateCopy) {
      while (global_counter < limit) {  // each child's
        if (!WriteAll(words.write_end.get(), word).ok()) return 1;  // own copy
        global_counter += 1;
        absl::SleepFor(pause_between_words);
      }
      return 0;
    }
    // The seed's fix: the counter is a token in the queue; only the process
    // holding it prints.
    int count = GetInt(queue);             // counter = queue.get()
    while (count >= 0 && count < limit) {  // while counter < 50:
      if (!WriteAll(words.write_end.get(), word).ok()) return 1;  // print
      count += 1;                                          //   counter += 1
      if (!queue.Put(absl::StrCat(count)).ok()) return 1;  // queue.put(counter)
      absl::SleepFor(pause_between_words);                 //   time.sleep(0.01)
      count = GetInt(queue);  //   counter = queue.get()
    }
    // Hand the final count on, so the other child stops too (the seed has the
    // parent busy-wait and put 50 instead).
    return count >= 0 && queue.Put(absl::StrCat(count)).ok() ? 0 : 1;
  };

  if (counter == Counter::kQueue) MT_RETURN_IF_ERROR(queue.Put("0"));
  MT_ASSIGN_OR_RETURN(Child ping,
                      Child::Fork([&] { return sub_task("Ping"); }));
  MT_ASSIGN_OR_RETURN(Child pong,
                      Child::Fork([&] { return sub_task("Pong"); }));
  words.write_end.Close();
  PingPongReport report;
  MT_ASSIGN_OR_RETURN(report.words, ReadAll(words.read_end.get()));
  for (Child* child : {&ping, &pong}) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child->Wait());
    if (!status.success()) {
      return absl::InternalError(
          absl::StrCat("Ping/Pong child ", status.ToString()));
    }
  }
  report.ping_words = CountOccurrences(report.words, "Ping");
  report.pong_words = CountOccurrences(report.words, "Pong");
  return report;
}

absl::StatusOr<WriterReaderReport> WriterReader(StopReader how) {
  constexpr absl::string_view kSentinel = "STOP";
  MT_ASSIGN_OR_RETURN(ipc::Queue queue, ipc::Queue::Create());
  MT_ASSIGN_OR_RETURN(ipc::ProcessEvent may_continue,
                      ipc::ProcessEvent::Create());
  MT_ASSIGN_OR_RETURN(Pipe log, MakePipe());
  WriterReaderReport report;
  report.written = {"A", "B", "C"};

  MT_ASSIGN_OR_RETURN(Child writer, Child::Fork([&] {
                        for (const std::string& value : report.written) {
                          if (!queue.Put(value).ok()) return 1;  // q.put(value)
                        }
                        if (how == StopReader::kSentinel)
                          return queue.Put(kSentinel).ok() ? 0 : 1;
                        if (how == StopReader::kClose) queue.Close();
                        return 0;
                      }));
  MT_ASSIGN_OR_RETURN(
      Child reader, Child::Fork([&] {
        log.read_end.Close();
        bool first = true;
        while (true) {  // while True:
          absl::StatusOr<std::string> value =
              queue.Get();  // value = q.get(True)
          if (!value.ok()) return absl::IsOutOfRange(value.status()) ? 0 : 1;
          if (how == StopReader::kSentinel && *value == kSentinel) return 0;
          if (!WriteAll(log.write_end.get(), *value + "\n").ok()) return 1;
          if (first) {  // a slow reader: still busy with the first value
            first = false;
            may_continue.Wait();
          }
        }
      }));
  log.write_end.Close();
  // The reader has read the first value...
  MT_ASSIGN_OR_RETURN(std::string first_line,
                      ReadExactly(log.read_end.get(), 2));
  // ...and the writer has put everything.
  MT_ASSIGN_OR_RETURN(ExitStatus writer_status, writer.Wait());
  if (!writer_status.success()) {
    return absl::InternalError(
        absl::StrCat("writer ", writer_status.ToString()));
  }
  if (how == StopReader::kTerminate) {
    MT_ASSIGN_OR_RETURN(report.reader_status, reader.KillAndWait(SIGTERM));
  } else {
    may_continue.Set();
    MT_ASSIGN_OR_RETURN(report.reader_status, reader.Wait());
  }
  MT_ASSIGN_OR_RETURN(std::string rest, ReadAll(log.read_end.get()));
  report.read = Lines(first_line + rest);
  // The queue still works after a process using it was killed.
  while (true) {
    absl::StatusOr<std::string> left = queue.Get(absl::ZeroDuration());
    if (!left.ok()) break;
    report.left_in_queue.push_back(*left);
  }
  return report;
}

absl::StatusOr<LockedPrintingReport> LockedPrinting(int processes, int lines) {
  MT_ASSIGN_OR_RETURN(ipc::ProcessLock lock, ipc::ProcessLock::Create());
  MT_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  std::vector<Child> children;
  for (int p = 0; p < processes; ++p) {
    const int value =
        2 * p + 1;  // the seed adds 1 in one process, 3 in the other
    MT_ASSIGN_OR_RETURN(
        Child child, Child::Fork([&] {
          std::lock_guard<ipc::ProcessLock> hold(lock);  // with lock:
          int number = 0;  // each process's own copy, as in the seed
          std::string line =
              absl::StrCat("init add", value, " number = ", number);
          if (!WriteAll(out.write_end.get(), line + "\n").ok()) return 1;
          for (int i = 0; i < lines; ++i) {
            number += value;
            line = absl::StrCat("add", value, " number = ", number);
            if (!WriteAll(out.write_end.get(), line + "\n").ok()) return 1;
            sched_yield();  // invite the others in: the lock keeps them out
          }
          return 0;
        }));
    children.push_back(std::move(child));
  }
  out.write_end.Close();
  MT_ASSIGN_OR_RETURN(std::string all, ReadAll(out.read_end.get()));
  for (Child& child : children) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) {
      return absl::InternalError(absl::StrCat("printer ", status.ToString()));
    }
  }
  return LockedPrintingReport{.lines = Lines(all)};
}

absl::StatusOr<int> ForcedLostUpdate(Locking locking) {
  MT_ASSIGN_OR_RETURN(ipc::SharedValue<int> value,
                      ipc::SharedValue<int>::Create(0, locking));
  MT_ASSIGN_OR_RETURN(ipc::ProcessEvent a_loaded, ipc::ProcessEvent::Create());
  MT_ASSIGN_OR_RETURN(ipc::ProcessEvent b_done, ipc::ProcessEvent::Create());
  const bool locked = locking == Locking::kLocked;
  MT_ASSIGN_OR_RETURN(
      Child a, Child::Fork([&] {
        if (locked) {
          value.Update([&](int v) {  // holds the lock from load to store
            a_loaded.Set();
            b_done.Wait(
                absl::Milliseconds(50));  // B cannot finish: it waits for
            return v + 1;                 // the lock. Give up waiting.
          });
        } else {
          const int v = value.Load();  // A loads 0
          a_loaded.Set();
          b_done.Wait();       // B loads 0, stores 1
          value.Store(v + 1);  // A stores 1: B's update is lost
        }
        return 0;
      }));
  MT_ASSIGN_OR_RETURN(Child b, Child::Fork([&] {
                        a_loaded.Wait();
                        value.Update([](int v) { return v + 1; });
                        b_done.Set();
                        return 0;
                      }));
  for (Child* child : {&a, &b}) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child->Wait());
    if (!status.success()) {
      return absl::InternalError(absl::StrCat("adder ", status.ToString()));
    }
  }
  return value.Load();
}

absl::StatusOr<long> CountTogether(Locking locking, int processes,
                                   int increments) {
  MT_ASSIGN_OR_RETURN(ipc::SharedValue<long> counter,
                      ipc::SharedValue<long>::Create(0, locking));
  std::vector<Child> children;
  for (int p = 0; p < processes; ++p) {
    MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
                          for (int i = 0; i < increments; ++i) {
                            counter.Update([](long n) { return n + 1; });
                          }
                          return 0;
                        }));
    children.push_back(std::move(child));
  }
  for (Child& child : children) MT_RETURN_IF_ERROR(child.Wait().status());
  return counter.Load();
}

absl::StatusOr<ValueArrayReport> ValueAndArray() {
  MT_ASSIGN_OR_RETURN(auto num, ipc::SharedValue<double>::Create(0.0));
  MT_ASSIGN_OR_RETURN(
      auto arr, ipc::SharedArray<int>::Create({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  MT_ASSIGN_OR_RETURN(
      Child child, Child::Fork([&] {
        num.Store(3.1415927);                       // n.value = 3.1415927
        for (size_t i = 0; i < arr.size(); ++i) {   // for i in range(len(a)):
          arr.Update(i, [](int v) { return -v; });  //     a[i] = -a[i]
        }
        return 0;
      }));
  MT_RETURN_IF_ERROR(child.Wait().status());
  return ValueArrayReport{.num = num.Load(), .arr = arr.Snapshot()};
}

absl::StatusOr<WorkersReport> EventAndJoinableQueue(int workers, int tasks) {
  MT_ASSIGN_OR_RETURN(ipc::JoinableQueue queue, ipc::JoinableQueue::Create());
  MT_ASSIGN_OR_RETURN(ipc::Queue results, ipc::Queue::Create());
  MT_ASSIGN_OR_RETURN(ipc::ProcessEvent go, ipc::ProcessEvent::Create());
  std::vector<Child> children;
  for (int w = 0; w < workers; ++w) {
    MT_ASSIGN_OR_RETURN(
        Child child, Child::Fork([&] {
          go.Wait();  // blocks while the event is CLEAR
          long sum = 0;
          int done = 0;
          while (true) {
            absl::StatusOr<std::string> task = queue.Get();
            if (!task.ok()) {
              if (!absl::IsOutOfRange(task.status())) return 1;
              break;  // closed and empty: no more work
            }
            long number = 0;
            if (!absl::SimpleAtoi(*task, &number)) return 2;
            sum += number;
            ++done;
            if (!queue.TaskDone().ok()) return 3;
          }
          return results.Put(absl::StrCat(w, " ", sum, " ", done)).ok() ? 0 : 4;
        }));
    children.push_back(std::move(child));
  }
  go.Set();
  WorkersReport report;
  report.sum_per_worker.assign(workers, 0);
  report.tasks_per_worker.assign(workers, 0);
  for (int i = 1; i <= tasks; ++i) {
    MT_RETURN_IF_ERROR(queue.Put(absl::StrCat(i)));
    report.expected_total += i;
  }
  MT_RETURN_IF_ERROR(queue.Join());  // every task TaskDone()
  queue.Close();                     // lets the workers' Get end
  for (int w = 0; w < workers; ++w) {
    MT_ASSIGN_OR_RETURN(std::string line, results.Get());
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    int who = 0, done = 0;
    long sum = 0;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[0], &who) ||
        !absl::SimpleAtoi(fields[1], &sum) ||
        !absl::SimpleAtoi(fields[2], &done) || who < 0 || who >= workers) {
      return absl::InternalError(absl::StrCat("bad result: ", line));
    }
    report.sum_per_worker[who] = sum;
    report.tasks_per_worker[who] = done;
    report.total += sum;
  }
  for (Child& child : children) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) {
      return absl::InternalError(absl::StrCat("worker ", status.ToString()));
    }
  }
  return report;
}

absl::StatusOr<PipeReport> PipeRoundTrip() {
  MT_ASSIGN_OR_RETURN(ipc::ConnectionPair pipe, ipc::MakeConnectionPair());
  PipeReport report;
  report.child_sent = "[42, None, 'hello']";
  report.parent_answered = "got it";
  MT_ASSIGN_OR_RETURN(
      Child child, Child::Fork([&] {
        pipe.parent_end.Close();
        if (!pipe.child_end.Send(report.child_sent).ok()) return 1;
        absl::StatusOr<std::string> answer = pipe.child_end.Recv();
        return answer.ok() && *answer == report.parent_answered ? 0 : 2;
      }));
  pipe.child_end.Close();
  MT_ASSIGN_OR_RETURN(std::string received, pipe.parent_end.Recv());
  if (received != report.child_sent) {
    return absl::InternalError(absl::StrCat("parent received ", received));
  }
  MT_RETURN_IF_ERROR(pipe.parent_end.Send(report.parent_answered));
  MT_ASSIGN_OR_RETURN(report.child_status, child.Wait());
  return report;
}

}  // namespace multitask::queue_ipc
