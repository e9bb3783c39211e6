#include "lessons/process/process_lesson.h"

#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/proc.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace multitask::process_lesson {
namespace {

// CLOCK_MONOTONIC is one clock for the whole machine, so instants taken in
// different processes compare.
int64_t NowNanos() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

absl::Duration Since(int64_t origin, int64_t instant) {
  return absl::Nanoseconds(instant - origin);
}

void Sleep(absl::Duration d) { absl::SleepFor(d); }

// What a download child sends back: fixed size, so one write is atomic.
struct DownloadMessage {
  int index;
  pid_t pid;
  int64_t start_ns;
  int64_t end_ns;
};

// A printed line as it travels through a pipe (< PIPE_BUF bytes: atomic).
struct LineMessage {
  char text[24];
  pid_t pid;
  int64_t at_ns;
};

LineMessage MakeLine(absl::string_view text) {
  LineMessage message{};
  std::memcpy(message.text, text.data(),
              std::min(text.size(), sizeof(message.text) - 1));
  message.pid = ::getpid();
  message.at_ns = NowNanos();
  return message;
}

// Blocks until `fd` has a byte or end of file.
void BlockOn(int fd) {
  char byte;
  while (::read(fd, &byte, 1) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<DownloadRun> DownloadSequentially(
    const std::vector<Download>& downloads) {
  DownloadRun run;
  const int64_t origin = NowNanos();
  for (const Download& download : downloads) {
    const int64_t start = NowNanos();
    Sleep(download.duration);
    run.records.push_back({download.name, ::getpid(), Since(origin, start),
                           Since(origin, NowNanos())});
  }
  run.total = Since(origin, NowNanos());
  return run;
}

absl::StatusOr<DownloadRun> DownloadInParallel(
    const std::vector<Download>& downloads, bool hold_until_all_started) {
  MT_ASSIGN_OR_RETURN(Pipe results, MakePipe());
  MT_ASSIGN_OR_RETURN(Pipe started, MakePipe());
  MT_ASSIGN_OR_RETURN(Pipe all_started, MakePipe());
  const int64_t origin = NowNanos();
  std::deque<Process> children;  // a Process cannot move: deque keeps them put
  for (size_t i = 0; i < downloads.size(); ++i) {
    children.emplace_back(
        [&, i]() -> int {
          all_started.write_end.Close();
          const int64_t start = NowNanos();
          if (hold_until_all_started) {
            if (!WriteAll(started.write_end.get(), "s").ok()) return 1;
            BlockOn(all_started.read_end.get());  // until the parent closes it
          }
          Sleep(downloads[i].duration);
          const DownloadMessage message{static_cast<int>(i), ::getpid(), start,
                                        NowNanos()};
          return WriteValue(results.write_end.get(), message).ok() ? 0 : 1;
        },
        downloads[i].name);
    MT_RETURN_IF_ERROR(children.back().Start());
  }
  results.write_end.Close();
  started.write_end.Close();
  if (hold_until_all_started) {
    MT_RETURN_IF_ERROR(
        ReadExactly(started.read_end.get(), downloads.size()).status());
  }
  all_started.write_end.Close();  // lets them all go on

  DownloadRun run;
  run.records.resize(downloads.size());
  for (size_t n = 0; n < downloads.size(); ++n) {
    MT_ASSIGN_OR_RETURN(DownloadMessage message,
                        ReadValue<DownloadMessage>(results.read_end.get()));
    run.records[message.index] = {downloads[message.index].name, message.pid,
                                  Since(origin, message.start_ns),
                                  Since(origin, message.end_ns)};
  }
  for (Process& child : children) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Join());
    if (!status.success()) {
      return absl::InternalError(
          absl::StrCat(child.name(), " ", status.ToString()));
    }
  }
  run.total = Since(origin, NowNanos());
  return run;
}

absl::StatusOr<SingDanceRun> SingAndDance(int times, absl::Duration interval,
                                          bool parallel, bool join,
                                          absl::Duration main_waits) {
  // The lines wait in a pipe until the end: keep them well under its 64 KiB.
  if (times < 1 || times > 500) {
    return absl::InvalidArgumentError(
        absl::StrCat("times must be in 1..500, not ", times));
  }
  MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  const int fd = pipe.write_end.get();
  auto perform = [fd, times, interval](absl::string_view what) {
    for (int i = 0; i < times; ++i) {
      (void)WriteValue(fd, MakeLine(absl::StrCat(what, " ...")));
      Sleep(interval);
    }
  };
  const int64_t origin = NowNanos();
  if (!parallel) {
    perform("sing");
    perform("dance");
    (void)WriteValue(fd, MakeLine("main: done"));
  } else {
    // Python's args=(3,) and kwargs={'num': 3} become lambda captures.
    Process sing([&] { perform("sing"); }, "sing");
    Process dance([&] { perform("dance"); }, "dance");
    MT_RETURN_IF_ERROR(sing.Start());
    MT_RETURN_IF_ERROR(dance.Start());
    if (join) {
      MT_RETURN_IF_ERROR(sing.Join().status());
      MT_RETURN_IF_ERROR(dance.Join().status());
    } else {
      Sleep(main_waits);
    }
    MT_RETURN_IF_ERROR(WriteValue(fd, MakeLine("main: done")));
    MT_RETURN_IF_ERROR(sing.Join().status());
    MT_RETURN_IF_ERROR(dance.Join().status());
  }
  const int64_t end = NowNanos();
  pipe.write_end.Close();
  SingDanceRun run;
  MT_ASSIGN_OR_RETURN(std::string bytes, ReadAll(pipe.read_end.get()));
  for (size_t at = 0; at + sizeof(LineMessage) <= bytes.size();
       at += sizeof(LineMessage)) {
    LineMessage message;
    std::memcpy(&message, bytes.data() + at, sizeof(message));
    if (absl::string_view(message.text) == "main: done") {
      run.main_line_index = run.lines.size();
    }
    run.lines.push_back(
        {message.text, message.pid, Since(origin, message.at_ns)});
  }
  run.total = Since(origin, end);
  return run;
}

absl::StatusOr<PidReport> ReportPids() {
  struct Ids {
    pid_t pid;
    pid_t ppid;
  };
  MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  PidReport report;
  report.main_pid = ::getpid();
  report.main_parent = ::getppid();
  for (const char* name : {"sing", "dance"}) {
    Process child(
        [&] {
          return WriteValue(pipe.write_end.get(), Ids{::getpid(), ::getppid()})
                         .ok()
                     ? 0
                     : 1;
        },
        name);
    MT_RETURN_IF_ERROR(child.Start());
    MT_ASSIGN_OR_RETURN(Ids ids, ReadValue<Ids>(pipe.read_end.get()));
    MT_RETURN_IF_ERROR(child.Join().status());
    report.children.push_back({name, child.pid(), ids.pid, ids.ppid});
  }
  return report;
}

absl::StatusOr<DaemonRun> DaemonDemo(bool daemon, int lines,
                                     absl::Duration interval,
                                     int main_waits_for) {
  if (lines < 1 || lines > 10000 || main_waits_for < 0 ||
      main_waits_for > lines) {
    return absl::InvalidArgumentError(
        "need 1 <= lines <= 10000 and 0 <= main_waits_for <= lines");
  }
  MT_ASSIGN_OR_RETURN(Pipe to_parent, MakePipe());  // 'w' per line, 'M'
  MT_ASSIGN_OR_RETURN(Pipe worker_pid, MakePipe());
  Process main_process(
      [&]() -> int {
        to_parent.read_end.Close();
        worker_pid.read_end.Close();
        absl::StatusOr<Pipe> to_main = MakePipe();
        if (!to_main.ok()) return 1;
        Process worker(
            [&] {
              for (int i = 0; i < lines; ++i) {
                Sleep(interval);
                (void)WriteAll(to_parent.write_end.get(), "w");
                (void)WriteAll(to_main->write_end.get(), "w");
              }
            },
            "work");
        if (!worker.SetDaemon(daemon).ok() || !worker.Start().ok()) return 2;
        to_main->write_end.Close();
        if (!WriteValue(worker_pid.write_end.get(), worker.pid()).ok()) {
          return 3;
        }
        if (!ReadExactly(to_main->read_end.get(), main_waits_for).ok()) {
          return 4;
        }
        // print('任务执行结束！'), then main ends: ~Process terminates a daemon
        // worker, or waits for a normal one.
        return WriteAll(to_parent.write_end.get(), "M").ok() ? 0 : 5;
      },
      "main");
  MT_RETURN_IF_ERROR(main_process.Start());
  to_parent.write_end.Close();
  worker_pid.write_end.Close();
  MT_ASSIGN_OR_RETURN(pid_t worker,
                      ReadValue<pid_t>(worker_pid.read_end.get()));
  // End of file once both main and its worker are gone.
  MT_ASSIGN_OR_RETURN(std::string events, ReadAll(to_parent.read_end.get()));
  MT_ASSIGN_OR_RETURN(ExitStatus main_status, main_process.Join());
  if (!main_status.success()) {
    return absl::InternalError(absl::StrCat("main ", main_status.ToString()));
  }
  DaemonRun run;
  run.daemon = daemon;
  for (char c : events) {
    if (c == 'w') ++run.lines_printed;
    if (c == 'M') run.main_done_after = run.lines_printed;
  }
  run.worker_gone =
      ProcessState(worker).status().code() == absl::StatusCode::kNotFound;
  return run;
}

absl::StatusOr<InspectRun> Inspect(absl::Duration unit) {
  MT_ASSIGN_OR_RETURN(Pipe release, MakePipe());
  InspectRun run;
  run.cpu_count = CpuCount();
  std::deque<Process> workers;
  for (int k = 1; k <= 3; ++k) {
    // Each worker waits until main lets it go, then works k units.
    workers.emplace_back(
        [&, k] {
          release.write_end.Close();
          BlockOn(release.read_end.get());
          Sleep(unit * k);
        },
        absl::StrCat("worker", k));
    MT_RETURN_IF_ERROR(workers.back().Start());
  }
  for (Process* p : ActiveChildren()) {
    run.active_children.push_back({p->name(), p->pid()});
  }
  MT_ASSIGN_OR_RETURN(run.joined_in_time, workers.back().Join(unit / 2));
  run.alive_after_timeout = workers.back().IsAlive();
  release.write_end.Close();
  for (Process& p : workers) {
    MT_RETURN_IF_ERROR(p.Join().status());
    run.exitcodes.push_back(p.exitcode().value_or(-999));
  }
  for (Process* p : ActiveChildren()) {
    run.active_at_end.push_back({p->name(), p->pid()});
  }
  return run;
}

absl::StatusOr<ExitcodeRun> Exitcodes(long long n) {
  auto sum_to = [](long long n) {
    long long sum = 0;
    while (n > 0) sum += n--;
    return sum;
  };
  MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  MT_ASSIGN_OR_RETURN(Pipe never, MakePipe());
  ExitcodeRun run;
  // As in the seed: the result is thrown away (here: sent on a pipe).
  Process sends_result(
      [&] { (void)WriteValue(pipe.write_end.get(), sum_to(n)); });
  // The C++ temptation: return the sum as the exit code.
  Process returns_sum([&] { return static_cast<int>(sum_to(n)); });
  Process throws([]() -> int { throw std::runtime_error("bad input"); });
  Process blocks([&] {
    never.write_end.Close();
    BlockOn(never.read_end.get());  // until terminated
  });
  for (Process* p : {&sends_result, &returns_sum, &throws, &blocks}) {
    MT_RETURN_IF_ERROR(p->Start());
  }
  MT_ASSIGN_OR_RETURN(run.sum, ReadValue<long long>(pipe.read_end.get()));
  MT_RETURN_IF_ERROR(blocks.Terminate());
  for (Process* p : {&sends_result, &returns_sum, &throws, &blocks}) {
    MT_RETURN_IF_ERROR(p->Join().status());
  }
  run.exitcode_of_void_target = *sends_result.exitcode();
  run.exitcode_returning_sum = *returns_sum.exitcode();
  run.exitcode_of_exception = *throws.exitcode();
  run.exitcode_terminated = *blocks.exitcode();
  return run;
}

}  // namespace multitask::process_lesson
