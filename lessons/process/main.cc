// The process lesson: Python's multiprocessing.Process, in C++.
//
//   bazel run //lessons/process
//   bazel run //lessons/process -- --interval_ms=500 --times=3   # the seed's
//
// Every section is a port of a seed example; README.md puts them side by side.

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/process.h"
#include "gflags/gflags.h"
#include "lessons/process/process_lesson.h"

DEFINE_int32(download1_ms, 300, "how long the first 'download' sleeps");
DEFINE_int32(download2_ms, 500, "how long the second 'download' sleeps");
DEFINE_int32(times, 3, "how many times sing() and dance() print");
DEFINE_int32(interval_ms, 100, "pause between two lines of sing()/dance()");
DEFINE_int32(daemon_lines, 10, "lines the work() process prints");
DEFINE_int32(unit_ms, 100, "one unit of work in the inspection demo");
DEFINE_int64(sum_to, 1000000, "n for the exitcode demo's 1 + 2 + ... + n");

namespace multitask::process_lesson {
namespace {

std::string Ms(absl::Duration d) {
  return absl::StrFormat("%4.0f ms", absl::ToDoubleMilliseconds(d));
}

void PrintDownloads(const char* title, const DownloadRun& run) {
  std::cout << title << "\n";
  for (const DownloadRecord& r : run.records) {
    std::cout << absl::StrFormat("  %-26s pid %-7d from %s to %s\n", r.name,
                                 r.pid, Ms(r.start), Ms(r.end));
  }
  std::cout << "  total " << Ms(run.total) << "\n";
}

void PrintSingDance(const char* title, const SingDanceRun& run) {
  std::cout << title << "\n";
  for (const Line& line : run.lines) {
    std::cout << absl::StrFormat("  %s  pid %-7d %s\n", Ms(line.at), line.pid,
                                 line.text);
  }
  std::cout << "  total " << Ms(run.total) << "\n";
}

absl::Status Main() {
  const absl::Duration interval = absl::Milliseconds(FLAGS_interval_ms);
  std::cout << "This process is pid " << getpid() << "; this machine lets it "
            << "use " << CpuCount() << " CPUs.\n\n";

  std::cout << "== 1. Two downloads (seed 000) ==\n";
  const std::vector<Download> downloads = {
      {"Python从入门到住院.pdf", absl::Milliseconds(FLAGS_download1_ms)},
      {"Peking Hot.avi", absl::Milliseconds(FLAGS_download2_ms)}};
  absl::StatusOr<DownloadRun> sequential = DownloadSequentially(downloads);
  if (!sequential.ok()) return sequential.status();
  PrintDownloads("one after the other, in this process:", *sequential);
  absl::StatusOr<DownloadRun> parallel = DownloadInParallel(downloads);
  if (!parallel.ok()) return parallel.status();
  PrintDownloads("one Process each:", *parallel);
  std::cout << "Notice: in processes the total is about the longest download, "
               "not the sum.\n\n";

  std::cout << "== 2. sing and dance (seed 004 1.1-1.3) ==\n";
  for (bool in_processes : {false, true}) {
    absl::StatusOr<SingDanceRun> run =
        SingAndDance(FLAGS_times, interval, in_processes, /*join=*/true,
                     absl::ZeroDuration());
    if (!run.ok()) return run.status();
    PrintSingDance(in_processes ? "two processes, joined:" : "sequentially:",
                   *run);
  }
  absl::StatusOr<SingDanceRun> unjoined = SingAndDance(
      FLAGS_times, interval, true, /*join=*/false, interval * 3 / 2);
  if (!unjoined.ok()) return unjoined.status();
  PrintSingDance("two processes, main does not join first (1.2):", *unjoined);
  std::cout << "Notice: without join(), main's line comes while the children "
               "still print; with it, after them.\n\n";

  std::cout << "== 3. getpid and getppid (seed 004 1.4) ==\n";
  absl::StatusOr<PidReport> pids = ReportPids();
  if (!pids.ok()) return pids.status();
  std::cout << "  main: pid " << pids->main_pid << ", its parent (the shell "
            << "or bazel) " << pids->main_parent << "\n";
  for (const PidReport::ChildIds& child : pids->children) {
    std::cout << "  " << child.name << ": getpid() " << child.getpid
              << " (Process::pid() said " << child.pid << "), getppid() "
              << child.getppid << "\n";
  }
  std::cout << "\n== 4. Daemon processes (seed 004 1.5) ==\n";
  for (bool daemon : {false, true}) {
    absl::StatusOr<DaemonRun> run =
        DaemonDemo(daemon, FLAGS_daemon_lines, interval, 2);
    if (!run.ok()) return run.status();
    std::cout << absl::StrFormat(
        "  daemon=%-5s main ended after %d 'working ...' lines; the worker "
        "printed %d of %d, and %s\n",
        daemon ? "true" : "false", run->main_done_after, run->lines_printed,
        FLAGS_daemon_lines, run->worker_gone ? "is gone" : "IS STILL RUNNING");
  }
  std::cout << "Notice: main waits for a normal child, and terminates a "
               "daemon child, when it exits.\n\n";

  std::cout << "== 5. cpu_count, active_children, join(timeout) (seed 002) "
               "==\n";
  absl::StatusOr<InspectRun> inspect =
      Inspect(absl::Milliseconds(FLAGS_unit_ms));
  if (!inspect.ok()) return inspect.status();
  std::cout << "  CpuCount() = " << inspect->cpu_count << "\n";
  for (const InspectRun::Seen& seen : inspect->active_children) {
    std::cout << "  active child " << seen.name << " pid " << seen.pid << "\n";
  }
  std::cout << "  Join(" << FLAGS_unit_ms / 2 << " ms) on worker3 returned "
            << (inspect->joined_in_time ? "true" : "false") << "; IsAlive() = "
            << (inspect->alive_after_timeout ? "true" : "false")
            << "\n  after joining all: exit codes";
  for (int code : inspect->exitcodes) std::cout << " " << code;
  std::cout << ", " << inspect->active_at_end.size() << " active children\n\n";

  std::cout << "== 6. exitcode is not a result (seed 003) ==\n";
  absl::StatusOr<ExitcodeRun> codes = Exitcodes(FLAGS_sum_to);
  if (!codes.ok()) return codes.status();
  std::cout << "  1 + ... + " << FLAGS_sum_to << " = " << codes->sum
            << " (sent back on a pipe)\n"
            << "  exitcode of the process that computed it: "
            << codes->exitcode_of_void_target << "\n"
            << "  exitcode of one that returned the sum as its exit code: "
            << codes->exitcode_returning_sum << " (= sum mod 256)\n"
            << "  exitcode after an uncaught exception: "
            << codes->exitcode_of_exception << "\n"
            << "  exitcode after Terminate(): " << codes->exitcode_terminated
            << " (minus SIGTERM)\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace multitask::process_lesson

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Python's multiprocessing.Process in C++: start, join, pids, daemons, "
      "exit codes.\nUsage: process [--interval_ms=100] [--times=3] ...");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  absl::Status status = multitask::process_lesson::Main();
  if (!status.ok()) {
    std::cerr << "error: " << status << "\n";
    return 1;
  }
  return 0;
}
