// process_lesson.h: the demos of the process lesson, as functions that run them
// and return what happened (main.cc prints it; the test checks it).
//
//   DownloadRun run = DownloadInParallel({{"a.pdf", absl::Milliseconds(300)},
//                                         {"b.avi", absl::Milliseconds(200)}})
//                         .value();
//   // run.total is about 300 ms, not 500: the two children overlapped.
//
// Each demo is a port of a Python example from the seeds (see README.md). Every
// child is a common Process; every one is joined before a function returns.

#ifndef MULTITASK_LESSONS_PROCESS_PROCESS_LESSON_H_
#define MULTITASK_LESSONS_PROCESS_PROCESS_LESSON_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace multitask::process_lesson {

// Seed 000: "downloading" a file is sleeping for `duration`.
struct Download {
  std::string name;
  absl::Duration duration;
};

struct DownloadRecord {
  std::string name;
  pid_t pid = 0;         // the process that did it
  absl::Duration start;  // since the run started
  absl::Duration end;
};

struct DownloadRun {
  std::vector<DownloadRecord> records;  // in the order of `downloads`
  absl::Duration total;
};

// One after the other, in this process: total = the sum.
absl::StatusOr<DownloadRun> DownloadSequentially(
    const std::vector<Download>& downloads);

// One Process per download, started together, then all joined: total = the
// longest. With `hold_until_all_started`, each child waits, after recording
// its start, until every child has started: the overlap is then certain, not
// just likely (the test uses it).
absl::StatusOr<DownloadRun> DownloadInParallel(
    const std::vector<Download>& downloads,
    bool hold_until_all_started = false);

// Seed 004 §1.1-1.3: sing() and dance() each print "sing ..." / "dance ..."
// `times` times, `interval` apart. A line as the parent received it.
struct Line {
  std::string text;
  pid_t pid = 0;
  absl::Duration at;  // since the run started
};

struct SingDanceRun {
  std::vector<Line> lines;  // in the order they were printed
  absl::Duration total;
  // §1.2: when the parent printed its own line (index into `lines`).
  size_t main_line_index = 0;
};

// Sequentially in this process, or as two processes (`parallel`). The parent
// adds its own line "main: ..." after `main_waits` (§1.2), or, if `join`, after
// joining both children.
absl::StatusOr<SingDanceRun> SingAndDance(int times, absl::Duration interval,
                                          bool parallel, bool join,
                                          absl::Duration main_waits);

// Seed 004 §1.4: who is whose parent.
struct PidReport {
  pid_t main_pid = 0;
  pid_t main_parent = 0;  // the shell, or bazel
  struct ChildIds {
    std::string name;
    pid_t pid = 0;      // as the parent saw it (Process::pid())
    pid_t getpid = 0;   // as the child saw it
    pid_t getppid = 0;  // as the child saw it: main_pid
  };
  std::vector<ChildIds> children;
};
absl::StatusOr<PidReport> ReportPids();

// Seed 004 §1.5: a "main" process (itself a child, so we can watch it end)
// starts a worker that prints `lines` lines `interval` apart, waits until it
// has seen `main_waits_for` of them, prints its last line and returns.
struct DaemonRun {
  bool daemon = false;
  int lines_printed = 0;     // by the worker, in total
  int main_done_after = 0;   // lines printed before main's last line
  bool worker_gone = false;  // no such process once main has ended
};
absl::StatusOr<DaemonRun> DaemonDemo(bool daemon, int lines,
                                     absl::Duration interval,
                                     int main_waits_for);

// Seed 002: cpu_count, active_children, is_alive, join(timeout), name, pid.
struct InspectRun {
  int cpu_count = 0;
  struct Seen {
    std::string name;
    pid_t pid = 0;
  };
  std::vector<Seen> active_children;  // right after starting three workers
  bool joined_in_time = true;         // Join(timeout) on the longest worker
  bool alive_after_timeout = false;
  std::vector<int> exitcodes;       // after joining all
  std::vector<Seen> active_at_end;  // empty
};
absl::StatusOr<InspectRun> Inspect(absl::Duration unit);

// Seed 003: "The result is", process1.exitcode. The exit code is not the
// function's result: it is 0 for success, and only 8 bits wide.
struct ExitcodeRun {
  long long sum = 0;                // computed in the child, sent on a pipe
  int exitcode_of_void_target = 0;  // what Python prints: 0
  int exitcode_returning_sum = 0;   // sum % 256 in C++
  int exitcode_of_exception = 0;    // 1
  int exitcode_terminated = 0;      // -15
};
absl::StatusOr<ExitcodeRun> Exitcodes(long long n);

}  // namespace multitask::process_lesson

#endif  // MULTITASK_LESSONS_PROCESS_PROCESS_LESSON_H_
