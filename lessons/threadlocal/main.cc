// The threadlocal lesson: run it, read what it prints, then read README.md.
//
//   bazel run //lessons/threadlocal
//   bazel run //lessons/threadlocal -- --threads=100 --patience_ms=500

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gflags/gflags.h"
#include "lessons/threadlocal/threadlocal_lesson.h"

DEFINE_int32(threads, 8, "threads in the connection and instance demos");
DEFINE_int32(patience_ms, 200,
             "how long a forked child tries the lock before giving up");

namespace multitask::threadlocal {
namespace {

void Print(const std::string& line) { std::cout << line << std::endl; }

void PrintWay(const char* way, const WaysRun& run) {
  std::vector<std::string> parts;
  for (const Seen& seen : run.seen) {
    parts.push_back(absl::StrFormat("%s bound %s, saw %s", "thread", seen.bound,
                                    absl::StrJoin(seen.students, "+")));
  }
  Print(absl::StrFormat("  %-22s %s", way, absl::StrJoin(parts, "; ")));
}

int PrintFork(const char* what, const absl::StatusOr<ForkOutcome>& outcome) {
  if (!outcome.ok()) {
    std::cerr << what << ": " << outcome.status() << "\n";
    return 1;
  }
  Print(absl::StrFormat("  %-40s %s", what, ToString(*outcome)));
  return 0;
}

int Main() {
  Print("== 1. Seed 001: three ways to give each thread its own student ==");
  const std::vector<std::string> students = {"aaron", "ss"};
  PrintWay("pass it down:", PassItDown(students));
  const WaysRun seed_map = GlobalMapByThreadId(students, false);
  PrintWay("global map + lock:", seed_map);
  Print(absl::StrFormat(
      "  %-22s %d entries left in the map after the threads ended (the seed "
      "never removes them)",
      "", seed_map.entries_left));
  PrintWay("thread_local:", WithThreadLocal(students));

  Print(
      "\n== 2. A thread_local connection: opened on first use, closed at "
      "thread exit ==");
  const int users = (FLAGS_threads + 1) / 2;
  const ConnectionRun connections = RunConnections(FLAGS_threads, users, 5);
  Print(absl::StrFormat(
      "  %d threads, %d of them used their connection 5 times: %d opened, %d "
      "closed, %d distinct connections",
      FLAGS_threads, users, connections.opened, connections.closed,
      connections.distinct_overall));

  Print("\n== 3. thread_local vs function-static ==");
  const InstancesRun instances = CountInstances(FLAGS_threads);
  Print(absl::StrFormat(
      "  %d threads: %d function-static object, %d thread_local objects",
      FLAGS_threads, instances.function_static, instances.thread_local_));

  Print("\n== 4. fork() while another thread holds a lock ==");
  const absl::Duration patience = absl::Milliseconds(FLAGS_patience_ms);
  int failures = 0;
  failures += PrintFork("lock held by another thread at fork:",
                        ForkWhileAnotherThreadHoldsTheLock(patience));
  failures += PrintFork("fix 1, pthread_atfork handlers:",
                        ForkWithAtforkHandlers(patience));
  failures += PrintFork("fix 2, fork from a quiescent point:",
                        ForkFromAQuiescentPoint(patience));
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace multitask::threadlocal

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Thread-local storage three ways, thread_local destructors, and fork() "
      "in a threaded process.");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_threads < 1 || FLAGS_threads > 1000 || FLAGS_patience_ms < 1) {
    std::cerr << "error: --threads must be 1..1000, --patience_ms >= 1\n";
    return 2;
  }
  return multitask::threadlocal::Main();
}
