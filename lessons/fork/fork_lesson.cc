#include "lessons/fork/fork_lesson.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/child.h"
#include "common/fd.h"
#include "common/proc.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask::fork_lesson {
namespace {

// Seed 000's global `counter`. After fork() each process has its own copy of
// it.
int counter = 0;

struct FinalCount {
  char who;  // 'i' for Ping, 'o' for Pong
  int counter;
};

// Blocks until the other end of `pipe` is closed by everyone else (never,
// here).
int WaitForever(const Pipe& pipe) {
  char byte;
  return static_cast<int>(::read(pipe.read_end.get(), &byte, 1));
}

}  // namespace

absl::StatusOr<ForkReport> ForkReturnsTwice() {
  MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  ForkReport report{};
  report.parent_pid = ::getpid();

  // This is the one place the lesson calls fork() by hand: seed 001's code, in
  // C++.
  std::fflush(
      nullptr);  // or text buffered before fork() would be printed twice
  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) {
    // Child: fork() returned 0 here. Tell the parent what we saw, then leave.
    const ForkReport seen{.parent_pid = 0,
                          .returned_in_parent = 0,
                          .returned_in_child = pid,
                          .child_pid = ::getpid(),
                          .child_parent_pid = ::getppid()};
    _exit(WriteValue(pipe.write_end.get(), seen).ok() ? 0 : 1);
  }
  // Parent: fork() returned the child's pid. From here on a Child handle owns
  // it.
  Child child = Child::Adopt(pid);
  report.returned_in_parent = pid;
  pipe.write_end.Close();
  MT_ASSIGN_OR_RETURN(ForkReport seen,
                      ReadValue<ForkReport>(pipe.read_end.get()));
  report.returned_in_child = seen.returned_in_child;
  report.child_pid = seen.child_pid;
  report.child_parent_pid = seen.child_parent_pid;
  MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
  if (!status.success()) {
    return absl::InternalError(absl::StrCat("fork child ", status.ToString()));
  }
  return report;
}

absl::StatusOr<PingPongReport> PingPongWithPrivateCounters(
    int limit, absl::Duration pause_between_words) {
  MT_ASSIGN_OR_RETURN(Pipe words, MakePipe());
  MT_ASSIGN_OR_RETURN(Pipe finals, MakePipe());

  // Seed 000's sub_task, with print() replaced by a write to the shared pipe
  // (one write of 4 bytes is atomic, so words never mix) and the final count
  // reported.
  auto sub_task = [&](absl::string_view word, char who) {
    while (counter < limit) {
      if (!WriteAll(words.write_end.get(), word).ok()) return 1;
      counter += 1;
      absl::SleepFor(
          pause_between_words);  // the seed's sleep(0.01): lets them interleave
    }
    return WriteValue(finals.write_end.get(), FinalCount{who, counter}).ok()
               ? 0
               : 1;
  };
  MT_ASSIGN_OR_RETURN(Child ping,
                      Child::Fork([&] { return sub_task("Ping", 'i'); }));
  MT_ASSIGN_OR_RETURN(Child pong,
                      Child::Fork([&] { return sub_task("Pong", 'o'); }));
  words.write_end.Close();
  finals.write_end.Close();

  PingPongReport report;
  MT_ASSIGN_OR_RETURN(report.output, ReadAll(words.read_end.get()));
  for (int i = 0; i < 2; ++i) {
    MT_ASSIGN_OR_RETURN(FinalCount final_count,
                        ReadValue<FinalCount>(finals.read_end.get()));
    (final_count.who == 'i' ? report.ping_final_counter
                            : report.pong_final_counter) = final_count.counter;
  }
  for (Child* child : {&ping, &pong}) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child->Wait());
    if (!status.success()) {
      return absl::InternalError(
          absl::StrCat("ping/pong child ", status.ToString()));
    }
  }
  for (size_t at = 0; at + 4 <= report.output.size(); at += 4) {
    const absl::string_view word =
        absl::string_view(report.output).substr(at, 4);
    if (word == "Ping") ++report.ping_words;
    if (word == "Pong") ++report.pong_words;
  }
  report.parent_counter_after = counter;
  return report;
}

std::string Describe(Ending ending) {
  switch (ending) {
    case Ending::kReturnZero:
      return "returns 0";
    case Ending::kExitThree:
      return "calls _exit(3)";
    case Ending::kExit255:
      return "calls _exit(255)";
    case Ending::kKilledByParent:
      return "is sent SIGKILL by its parent";
    case Ending::kBadPointer:
      return "writes through a bad pointer";
    case Ending::kAbort:
      return "calls std::abort()";
  }
  return "?";
}

absl::StatusOr<ExitStatus> EndAChild(Ending ending) {
  MT_ASSIGN_OR_RETURN(Pipe never_written, MakePipe());
  MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&]() -> int {
                        switch (ending) {
                          case Ending::kReturnZero:
                            return 0;
                          case Ending::kExitThree:
                            _exit(3);
                          case Ending::kExit255:
                            _exit(255);
                          case Ending::kKilledByParent:
                            never_written.write_end.Close();
                            return WaitForever(never_written);
                          case Ending::kBadPointer: {
                            // Address 16: not null (so UBSan's null check stays
                            // quiet) and never mapped, so the store faults.
                            volatile int* bad = reinterpret_cast<volatile int*>(
                                static_cast<uintptr_t>(16));
                            *bad = 1;
                            return 0;
                          }
                          case Ending::kAbort:
                            std::abort();
                        }
                        return 0;
                      }));
  if (ending == Ending::kKilledByParent) return child.KillAndWait(SIGKILL);
  return child.Wait();
}

absl::StatusOr<ZombieReport> MakeAndReapAZombie() {
  MT_ASSIGN_OR_RETURN(Child child, Child::Fork([] { return 0; }));
  ZombieReport report{.pid = child.pid(),
                      .state_before_wait = '?',
                      .status = ExitStatus::Exited(0),
                      .gone_after_wait = false};
  // Wait until it has exited, without reaping it (waitid with WNOWAIT).
  MT_RETURN_IF_ERROR(child.WaitForExitWithoutReaping().status());
  MT_ASSIGN_OR_RETURN(report.state_before_wait, ProcessState(child.pid()));
  MT_ASSIGN_OR_RETURN(report.status,
                      child.Wait());  // waitpid(): the zombie is reaped
  report.gone_after_wait = absl::IsNotFound(ProcessState(report.pid).status());
  return report;
}

absl::StatusOr<OrphanReport> MakeAnOrphan() {
  int was_subreaper = 0;
  if (::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper) != 0 ||
      ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return ErrnoStatus("prctl PR_SET_CHILD_SUBREAPER");
  }
  struct RestoreSubreaper {
    int was;
    ~RestoreSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, was); }
  } restore{was_subreaper};

  MT_ASSIGN_OR_RETURN(Pipe report_pipe, MakePipe());  // orphan -> us
  MT_ASSIGN_OR_RETURN(Pipe ready_pipe, MakePipe());   // orphan -> middle
  const pid_t this_pid = ::getpid();

  MT_ASSIGN_OR_RETURN(
      Child middle, Child::Fork([&]() -> int {
        // The middle child forks by hand: a Child handle would kill the
        // grandchild when this function returns, and the point is to leave it
        // behind.
        const pid_t grandchild = ::fork();
        if (grandchild < 0) return 1;
        if (grandchild == 0) {
          // Ask for SIGUSR1 when our parent dies (the kernel sends it after
          // giving us the new parent), and keep it blocked so sigwaitinfo() can
          // take it.
          sigset_t usr1;
          sigemptyset(&usr1);
          sigaddset(&usr1, SIGUSR1);
          sigprocmask(SIG_BLOCK, &usr1, nullptr);
          ::prctl(PR_SET_PDEATHSIG, SIGUSR1);
          const pid_t before = ::getppid();
          const std::array<pid_t, 2> ids = {::getpid(), before};
          if (!WriteValue(report_pipe.write_end.get(), ids).ok()) _exit(1);
          if (!WriteAll(ready_pipe.write_end.get(), "r").ok()) _exit(1);
          // The signal comes when the thread that forked us exits. If the
          // parent has other threads (ThreadSanitizer runs one), we first pass
          // to one of them, in the same process, and get the signal again when
          // it exits: so loop. Checking before waiting also covers a parent
          // that died before prctl().
          while (::getppid() == before) sigwaitinfo(&usr1, nullptr);
          const pid_t after = ::getppid();
          _exit(WriteValue(report_pipe.write_end.get(), after).ok() ? 0 : 1);
        }
        // Middle: wait until the grandchild has read its parent's pid, then
        // exit.
        ready_pipe.write_end.Close();
        return ReadExactly(ready_pipe.read_end.get(), 1).ok() ? 0 : 1;
      }));

  using OrphanIds = std::array<pid_t, 2>;  // {orphan's pid, its parent before}
  MT_ASSIGN_OR_RETURN(OrphanIds ids,
                      ReadValue<OrphanIds>(report_pipe.read_end.get()));
  MT_RETURN_IF_ERROR(middle.Wait().status());
  MT_ASSIGN_OR_RETURN(pid_t after,
                      ReadValue<pid_t>(report_pipe.read_end.get()));
  // The orphan is our child now (we are its subreaper): own it, and reap it.
  Child orphan = Child::Adopt(ids[0]);
  MT_RETURN_IF_ERROR(orphan.Wait().status());
  return OrphanReport{.middle_pid = middle.pid(),
                      .orphan_pid = ids[0],
                      .parent_before = ids[1],
                      .parent_after = after,
                      .this_pid = this_pid};
}

}  // namespace multitask::fork_lesson
