// Grader for the worker-loop exercise (worker_loop.h). Its messages are meant
// for the student: they say what went wrong and where to look.
//
// The master is a ManagerServer in this process (127.0.0.1, port 0); the
// student's worker runs in a forked child with a time limit (RunInChild), so a
// worker that never returns fails the grade instead of hanging it. The checks
// read the result queue after the child has ended: every result was put (and
// answered by the server) before the worker returned.

#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/manager_server.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/manager/exercises/worker_loop.h"

namespace multitask::manager_exercise {
namespace {

constexpr char kAuthkey[] = "abc";
constexpr absl::Duration kIdle = absl::Milliseconds(300);
constexpr absl::Duration kTimeLimit = absl::Seconds(10);

std::unique_ptr<ManagerServer> StartMaster(const std::vector<int64_t>& tasks) {
  ManagerServerOptions options;
  options.authkey = kAuthkey;
  auto server = std::make_unique<ManagerServer>(options);
  server->RegisterQueue(kTaskQueue);
  server->RegisterQueue(kResultQueue);
  absl::Status started = server->Start();
  EXPECT_TRUE(started.ok()) << started;
  for (int64_t n : tasks) {
    EXPECT_TRUE(server->Put(kTaskQueue, PyValue::Int(n)).ok());
  }
  return server;
}

// What the workers returned, one line each in their child: "returned N" or
// "failed CODE", after a marker (the student's own prints come before).
struct WorkerRun {
  bool timed_out = false;
  std::vector<int> returned;                  // for the workers that succeeded
  std::vector<absl::StatusCode> failed;       // for those that did not
  std::vector<std::string> failure_messages;  // their statuses, as text
  std::string output;                         // everything the child printed
};

constexpr char kMarker[] = "@@grader: worker ";

// One worker in one child (a child of a threaded process must not start
// threads of its own under TSan); several children run at once.
WorkerRun RunWorkers(const std::string& address, const std::string& authkey,
                     int workers) {
  std::vector<absl::StatusOr<testing::ChildRun>> children(
      workers, absl::UnknownError("not run"));
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < workers; ++i) {
      threads.emplace_back([&, i] {
        children[i] = testing::RunInChild(
            [&] {
              absl::StatusOr<int> outcome =
                  WorkUntilQueueEmpty(address, authkey, kIdle);
              if (outcome.ok()) {
                std::cout << kMarker << "returned " << *outcome << "\n";
              } else {
                std::cout << kMarker << "failed "
                          << static_cast<int>(outcome.status().code()) << " "
                          << outcome.status() << "\n";
              }
              std::cout.flush();
              return 0;
            },
            kTimeLimit);
      });
    }
  }  // joins
  WorkerRun run;
  for (const absl::StatusOr<testing::ChildRun>& child : children) {
    if (!child.ok()) {
      ADD_FAILURE() << "could not run the worker: " << child.status();
      continue;
    }
    run.timed_out = run.timed_out || child->timed_out;
    run.output += child->output;
    for (absl::string_view line : absl::StrSplit(child->output, '\n')) {
      const size_t at = line.find(kMarker);
      if (at == absl::string_view::npos) continue;
      line.remove_prefix(at + sizeof(kMarker) - 1);
      std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
      int value = 0;
      if (words.size() < 2 || !absl::SimpleAtoi(words[1], &value)) continue;
      if (words[0] == "returned") {
        run.returned.push_back(value);
      } else {
        run.failed.push_back(static_cast<absl::StatusCode>(value));
        run.failure_messages.emplace_back(line.substr(words[0].size() + 1));
      }
    }
  }
  return run;
}

// True if the worker(s) ended and all succeeded; otherwise says why.
bool ExpectFinishedOk(const WorkerRun& run, int workers) {
  if (run.timed_out) {
    ADD_FAILURE() << "the worker did not return within " << kTimeLimit
                  << ", although the task queue stayed empty longer than its "
                     "idle timeout ("
                  << kIdle
                  << "). End the loop when tasks.Get(idle_timeout) fails with "
                     "IsQueueEmpty(status); a Get() without a timeout waits "
                     "forever."
                  << (run.output.empty() ? "" : "\nWorker output:\n")
                  << run.output;
    return false;
  }
  if (!run.failed.empty()) {
    ADD_FAILURE() << "WorkUntilQueueEmpty failed: " << run.failure_messages[0]
                  << "\nOnly an empty queue ends the loop, and that is a "
                     "success: return how many tasks were answered.";
    return false;
  }
  if (static_cast<int>(run.returned.size()) != workers) {
    ADD_FAILURE() << "the worker crashed or exited before returning:\n"
                  << run.output;
    return false;
  }
  return true;
}

std::string Expected(int64_t n) {
  return absl::StrCat(n, " * ", n, " = ", n * n);
}

std::vector<std::string> DrainResults(ManagerServer& server) {
  std::vector<std::string> results;
  absl::StatusOr<int64_t> size = server.QueueSize(kResultQueue);
  EXPECT_TRUE(size.ok()) << size.status();
  for (int64_t i = 0; size.ok() && i < *size; ++i) {
    absl::StatusOr<PyValue> r = server.Get(kResultQueue, absl::Seconds(1));
    if (!r.ok()) break;
    results.push_back(r->is_str() ? r->text() : r->Repr());
  }
  return results;
}

// Every task answered exactly once, with the seed's text, and the workers'
// return values add up to the results they put.
void ExpectEachTaskAnsweredOnce(const std::vector<int64_t>& tasks,
                                const std::vector<std::string>& results,
                                const WorkerRun& run, int workers) {
  const size_t want = tasks.size(), got = results.size();
  std::map<std::string, int> count;  // expected text -> times answered
  std::map<int64_t, std::string> by_task;
  for (int64_t n : tasks) {
    count[Expected(n)] = 0;
    by_task[n] = Expected(n);
  }
  std::vector<std::string> unexpected;
  for (const std::string& r : results) {
    auto it = count.find(r);
    if (it == count.end()) {
      unexpected.push_back(r);
    } else {
      ++it->second;
    }
  }
  if (got < want) {
    std::string why =
        got == static_cast<size_t>(workers)
            ? "the worker must loop until the queue is empty (it answered one "
              "task and returned)"
        : got == 10 * static_cast<size_t>(workers)
            ? "the seed's `for i in range(10)` stops after ten tries; loop "
              "until Get(timeout) says the queue is empty, however many tasks "
              "there are"
            : "the worker must keep taking tasks until Get(timeout) says the "
              "queue is empty";
    ADD_FAILURE() << "expected " << want << " results, got " << got << ": "
                  << why;
  } else if (got > want) {
    ADD_FAILURE() << "expected " << want << " results, got " << got
                  << ": some results were put more than once (one put per "
                     "task taken)";
  }
  for (const std::string& r : unexpected) {
    std::string hint =
        "the text is the seed's '%d * %d = %d' % (n, n, n*n), e.g. \"7 * 7 = "
        "49\"";
    std::vector<std::string> parts = absl::StrSplit(r, " * ");
    int64_t n = 0;
    if (!parts.empty() && absl::SimpleAtoi(parts[0], &n) && by_task.count(n)) {
      hint = absl::StrCat("for task ", n, " expected \"", by_task[n], "\"");
      if (n * n > INT32_MAX) {
        hint += ": n * n overflowed an int; compute it in int64_t";
      }
    } else if (!parts.empty() && absl::SimpleAtoi(parts[0], &n)) {
      hint = absl::StrCat("no task was ", n,
                          ": was n cut down to an int? as_int() is an int64_t");
    }
    ADD_FAILURE() << "unexpected result \"" << r << "\": " << hint;
  }
  for (const auto& [text, times] : count) {
    if (times > 1) {
      ADD_FAILURE() << "\"" << text << "\" was put " << times
                    << " times: answer each task exactly once";
    } else if (times == 0 && got == want && unexpected.empty()) {
      ADD_FAILURE() << "no result \"" << text << "\"";
    }
  }
  int returned = 0;
  for (int r : run.returned) returned += r;
  if (returned != static_cast<int>(got)) {
    ADD_FAILURE() << "the worker returned " << returned << " but put " << got
                  << " results: return how many tasks it answered";
  }
}

void GradeOneRun(const std::vector<int64_t>& tasks, int workers) {
  std::unique_ptr<ManagerServer> server = StartMaster(tasks);
  WorkerRun run = RunWorkers(server->address(), kAuthkey, workers);
  if (!ExpectFinishedOk(run, workers)) return;
  ExpectEachTaskAnsweredOnce(tasks, DrainResults(*server), run, workers);
  server->Stop();
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

std::vector<int64_t> OneTo(int n) {
  std::vector<int64_t> tasks;
  for (int i = 1; i <= n; ++i) tasks.push_back(i);
  return tasks;
}

TEST(WorkerLoopDeathTest, AnswersEveryTaskExactlyOnce) {
  GradeOneRun(OneTo(10), 1);
}

TEST(WorkerLoopDeathTest, AnswersMoreTasksThanTheSeedsTenTries) {
  GradeOneRun(OneTo(25), 1);
}

TEST(WorkerLoopDeathTest, WritesTheSeedsTextForBigAndNegativeNumbers) {
  GradeOneRun({0, -7, 46341, 100000, 3037000499}, 1);
}

TEST(WorkerLoopDeathTest, TwoWorkersShareTheQueue) {
  // Each task goes to exactly one of them; together they answer all.
  GradeOneRun(OneTo(40), 2);
}

TEST(WorkerLoopDeathTest, ReturnsZeroOnAnEmptyQueue) { GradeOneRun({}, 1); }

TEST(WorkerLoopDeathTest, WrongAuthkeyIsAnError) {
  std::unique_ptr<ManagerServer> server = StartMaster({1, 2, 3});
  WorkerRun run = RunWorkers(server->address(), "not-the-key", 1);
  ASSERT_FALSE(run.timed_out) << "with a wrong authkey the worker hung";
  if (!run.returned.empty()) {
    ADD_FAILURE() << "with a wrong authkey the worker returned OK ("
                  << run.returned[0]
                  << " tasks): return the error from ManagerClient::Connect "
                     "(PermissionDenied), as the seed's m.connect() raises "
                     "AuthenticationError. Hiding it as \"0 tasks done\" makes "
                     "a misconfigured worker look like an idle one.";
  } else if (run.failed.empty() ||
             run.failed[0] != absl::StatusCode::kPermissionDenied) {
    ADD_FAILURE() << "with a wrong authkey, expected PermissionDenied from "
                     "ManagerClient::Connect, got: "
                  << (run.failure_messages.empty() ? run.output
                                                   : run.failure_messages[0]);
  }
  absl::StatusOr<int64_t> left = server->QueueSize(kTaskQueue);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, 3) << "a worker with the wrong key must take no task";
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

TEST(WorkerLoopDeathTest, NoMasterIsAnError) {
  std::string address;
  {
    std::unique_ptr<ManagerServer> server = StartMaster({});
    address = server->address();
  }  // stopped: nothing listens on that port now
  WorkerRun run = RunWorkers(address, kAuthkey, 1);
  ASSERT_FALSE(run.timed_out) << "with no master the worker hung";
  EXPECT_TRUE(run.returned.empty())
      << "nothing listens at " << address << ", yet the worker returned OK ("
      << (run.returned.empty() ? 0 : run.returned[0])
      << " tasks): return the error from ManagerClient::Connect (Unavailable), "
         "so the caller knows the worker never reached a master";
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

}  // namespace
}  // namespace multitask::manager_exercise
