// The threads lesson: run it, read what it prints, then read README.md.
//
//   bazel run //lessons/threads
//   bazel run //lessons/threads -- --download_ms=2000 --threads=8

#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/child.h"
#include "gflags/gflags.h"
#include "lessons/threads/threads_lesson.h"

DEFINE_int32(download_ms, 500,
             "how long the pretend downloads take (the "
             "seed uses 5-10 s); the second takes twice that");
DEFINE_int32(threads, 5, "threads in the naming and ordering demos (seed: 5)");
DEFINE_int32(beat_ms, 100, "pause after each sing/dance line (seed: 1 s)");

namespace multitask::threads {
namespace {

void Print(const std::string& line) { std::cout << line << std::endl; }

void PrintDownloads(const char* style, const DownloadsRun& run) {
  absl::Duration sum;
  for (const DownloadReport& report : run.reports) {
    Print(absl::StrFormat(
        "  %s: %s took %s on thread %d", style, report.file,
        absl::FormatDuration(absl::Trunc(report.took, absl::Milliseconds(1))),
        report.tid));
    sum += report.took;
  }
  Print(absl::StrFormat(
      "  total %s for %s of downloads: they overlapped",
      absl::FormatDuration(absl::Trunc(run.total, absl::Milliseconds(1))),
      absl::FormatDuration(absl::Trunc(sum, absl::Milliseconds(1)))));
}

int Main() {
  Print(
      absl::StrFormat("Main thread: pid %d, tid %d, name '%s' (Python calls "
                      "it MainThread; Linux names it after the program)",
                      getpid(), gettid(), CurrentThreadName()));

  Print("\n== 1. Seed 000: two downloads in two threads ==");
  const std::vector<Download> downloads = {
      {"Python从入门到住院.pdf", absl::Milliseconds(FLAGS_download_ms)},
      {"Peking Hot.avi", absl::Milliseconds(2 * FLAGS_download_ms)}};
  PrintDownloads("callable", DownloadWithCallables(downloads));
  PrintDownloads("DownloadTask", DownloadWithTasks(downloads));

  Print(
      absl::StrFormat("\n== 2. Seed 003: %d named threads, listed while "
                      "alive (threading.enumerate) ==",
                      FLAGS_threads));
  absl::StatusOr<std::vector<ThreadInfo>> listed =
      ListWhileNamedThreadsRun(FLAGS_threads);
  if (!listed.ok()) {
    std::cerr << listed.status() << "\n";
    return 1;
  }
  for (const ThreadInfo& info : *listed) {
    Print(absl::StrFormat("  tid %d  %s", info.tid, info.name));
  }

  Print("\n== 3. join() publishes what the thread wrote ==");
  Print(
      absl::StrFormat("  a thread wrote 1..1000 into a plain vector; after "
                      "join the sum is %d (expected 500500)",
                      SumWrittenBeforeJoin(1000)));

  Print("\n== 4. Seed 004: sing and dance, 3 times each, with arguments ==");
  const absl::Time start = absl::Now();
  const std::vector<std::string> lines =
      SingAndDance(3, absl::Milliseconds(FLAGS_beat_ms));
  Print("  " + absl::StrJoin(lines, " | "));
  Print(absl::StrFormat("  took %s (6 beats of %d ms, but overlapped)",
                        absl::FormatDuration(absl::Trunc(
                            absl::Now() - start, absl::Milliseconds(1))),
                        FLAGS_beat_ms));

  Print("\n== 5. Execution order is not creation order ==");
  std::vector<int> forced;
  for (int i = FLAGS_threads - 1; i >= 0; --i) forced.push_back(i);
  Print("  created 0.." + std::to_string(FLAGS_threads - 1) +
        ", forced to finish " + absl::StrJoin(FinishInOrder(forced), " "));
  for (int run = 0; run < 3; ++run) {
    Print("  unforced run " + std::to_string(run + 1) + ": finished " +
          absl::StrJoin(FinishNaturally(FLAGS_threads, absl::Milliseconds(1)),
                        " "));
  }

  Print("\n== 6. Stopping a thread: std::jthread + std::stop_token ==");
  const StopRun stop = StopWithToken(1, absl::Hours(1));
  Print(absl::StrFormat(
      "  the worker was waiting up to 1 hour for work; request_stop() ended it "
      "after %d iteration(s) in %s (stopped by token: %s)",
      stop.iterations, absl::FormatDuration(stop.stop_latency),
      stop.stopped_by_token ? "yes" : "no"));

  Print(
      "\n== 7. Detached threads (Python's daemon=True) die with the process "
      "==");
  absl::StatusOr<Child> child = Child::Fork([] {
    StartDetachedWorker(absl::Seconds(10));
    std::cout << "main: returning from main while the worker works"
              << std::endl;
    return 0;  // the process exits: the detached worker is gone, mid-sleep
  });
  if (!child.ok()) {
    std::cerr << child.status() << "\n";
    return 1;
  }
  absl::StatusOr<ExitStatus> status = child->Wait();
  if (!status.ok()) {
    std::cerr << status.status() << "\n";
    return 1;
  }
  Print("  child " + status->ToString() +
        "; the worker never got to print its last line");
  return 0;
}

}  // namespace
}  // namespace multitask::threads

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Threads: start, name, list, join; execution order; stopping a thread "
      "with std::jthread and std::stop_token; detached threads.");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_download_ms < 0 || FLAGS_threads < 1 || FLAGS_threads > 1000 ||
      FLAGS_beat_ms < 0) {
    std::cerr << "error: --threads must be 1..1000, --download_ms and "
                 "--beat_ms >= 0\n";
    return 2;
  }
  return multitask::threads::Main();
}
