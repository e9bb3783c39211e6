// Tests for process.h. Suites that fork are named *DeathTest so GoogleTest runs
// them before any test starts a thread. Nothing here sleeps to synchronise:
// children block on pipes until the test lets them go.

#include "common/process.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "common/child.h"
#include "common/fd.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

// Blocks until `fd` has data or end of file (then returns what read() said).
int BlockOn(int fd) {
  char byte;
  return static_cast<int>(::read(fd, &byte, 1));
}

[[noreturn]] void PauseForever() {
  while (true) ::pause();
}

int64_t MonotonicNanos() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// True once process `pid` (not necessarily our child) has ended, waiting at
// most 60 s: a pidfd becomes readable when its process exits.
bool WaitUntilGone(pid_t pid) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) return errno == ESRCH;
  pollfd entry{.fd = pidfd.get(), .events = POLLIN, .revents = 0};
  return ::poll(&entry, 1, 60'000) == 1;
}

bool Running(pid_t pid) {
  absl::StatusOr<char> state = ProcessState(pid);
  return state.ok() && *state != 'Z';
}

TEST(ProcessDeathTest, ExitCodes) {
  Process returns_void([] {});
  Process returns_int([] { return 7; });
  Process calls_exit([] { std::exit(3); });
  Process aborts([] { std::abort(); });
  Process throws([]() -> int { throw std::runtime_error("boom"); });
  for (Process* p :
       {&returns_void, &returns_int, &calls_exit, &aborts, &throws}) {
    ASSERT_TRUE(p->Start().ok());
    ASSERT_TRUE(p->Join().ok());
  }
  EXPECT_EQ(returns_void.exitcode(), 0);
  EXPECT_EQ(returns_int.exitcode(), 7);
  EXPECT_EQ(calls_exit.exitcode(), 3);
  EXPECT_EQ(aborts.exitcode(), -SIGABRT);
  EXPECT_EQ(throws.exitcode(), 1);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessDeathTest, UncaughtExceptionIsPrintedWithTheName) {
  testing::ChildRun run =
      testing::RunInChild([] {
        Process p([]() -> int { throw std::runtime_error("boom"); }, "thrower");
        if (!p.Start().ok()) return 10;
        return p.Join().value().exit_code();
      }).value();
  EXPECT_EQ(run.status, ExitStatus::Exited(1));
  EXPECT_THAT(run.output, MatchesRegex("Process thrower \\(pid [0-9]+\\): "
                                       "uncaught exception: boom\n"));
}

TEST(ProcessDeathTest, TerminateAndKillGiveMinusTheSignal) {
  Pipe never = MakePipe().value();
  Process terminated([&] { return BlockOn(never.read_end.get()); });
  Process killed([&] { return BlockOn(never.read_end.get()); });
  ASSERT_TRUE(terminated.Start().ok());
  ASSERT_TRUE(killed.Start().ok());
  ASSERT_TRUE(terminated.Terminate().ok());
  ASSERT_TRUE(killed.Kill().ok());
  EXPECT_EQ(terminated.Join().value(), ExitStatus::Killed(SIGTERM));
  EXPECT_EQ(killed.Join().value(), ExitStatus::Killed(SIGKILL));
  EXPECT_EQ(terminated.exitcode(), -SIGTERM);
  EXPECT_EQ(killed.exitcode(), -SIGKILL);
  // Terminating a process that has ended is a no-op, as in Python.
  EXPECT_TRUE(terminated.Terminate().ok());
}

TEST(ProcessDeathTest, JoinWithTimeoutOnABlockedChild) {
  Pipe release = MakePipe().value();
  Process p([&] {
    release.write_end.Close();
    return BlockOn(release.read_end.get());  // 0 at end of file
  });
  EXPECT_FALSE(p.IsAlive());  // not started yet
  ASSERT_TRUE(p.Start().ok());
  release.read_end.Close();
  EXPECT_FALSE(p.Join(absl::Milliseconds(20)).value());
  EXPECT_TRUE(p.IsAlive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  release.write_end.Close();  // end of file: the child returns 0
  EXPECT_TRUE(p.Join(absl::Seconds(60)).value());
  EXPECT_FALSE(p.IsAlive());
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ProcessDeathTest, NamesAndPids) {
  Process first([] {});
  Process second([] {});
  Process named([] {}, "downloader");
  EXPECT_THAT(first.name(), MatchesRegex("Process-[0-9]+"));
  const int n = std::stoi(first.name().substr(8));
  EXPECT_EQ(second.name(), "Process-" + std::to_string(n + 1));
  EXPECT_EQ(named.name(), "downloader");
  EXPECT_EQ(first.pid(), 0);
  Pipe pids = MakePipe().value();
  Process reporter([&] {
    (void)WriteValue(pids.write_end.get(), ::getpid());
    (void)WriteValue(pids.write_end.get(), ::getppid());
  });
  ASSERT_TRUE(reporter.Start().ok());
  EXPECT_EQ(ReadValue<pid_t>(pids.read_end.get()).value(), reporter.pid());
  EXPECT_EQ(ReadValue<pid_t>(pids.read_end.get()).value(), ::getpid());
  ASSERT_TRUE(reporter.Join().ok());
}

TEST(ProcessDeathTest, NoZombieIsLeft) {
  Process p([] { return 0; });
  ASSERT_TRUE(p.Start().ok());
  const pid_t pid = p.pid();
  ASSERT_TRUE(p.Join().ok());
  EXPECT_EQ(ProcessState(pid).status().code(), absl::StatusCode::kNotFound);
  {
    // Destroyed without Join: the destructor joins it.
    Process unjoined([] { return 0; });
    ASSERT_TRUE(unjoined.Start().ok());
  }
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessDeathTest, StartTwiceAndLateSettingsAreErrors) {
  Process p([] {});
  ASSERT_TRUE(p.Start().ok());
  EXPECT_EQ(p.Start().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.SetDaemon(true).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.SetParentDeathSignal(SIGKILL).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(p.Join().ok());
  Process q([] {});
  EXPECT_EQ(q.Join().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(q.SetParentDeathSignal(0).code(),
            absl::StatusCode::kInvalidArgument);
}

// Two children that each report when they start, then wait until both have
// started, then report when they end: their [start, end] intervals intersect.
TEST(ProcessDeathTest, ChildrenRunAtTheSameTime) {
  Pipe reports = MakePipe().value();
  Pipe release = MakePipe().value();
  auto body = [&] {
    release.write_end.Close();
    (void)WriteValue(reports.write_end.get(), MonotonicNanos());
    BlockOn(release.read_end.get());
    (void)WriteValue(reports.write_end.get(), MonotonicNanos());
  };
  Process a(body);
  Process b(body);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  reports.write_end.Close();
  release.read_end.Close();
  const int64_t start1 = ReadValue<int64_t>(reports.read_end.get()).value();
  const int64_t start2 = ReadValue<int64_t>(reports.read_end.get()).value();
  EXPECT_EQ(ActiveChildren().size(), 2u);
  release.write_end.Close();
  const int64_t end1 = ReadValue<int64_t>(reports.read_end.get()).value();
  const int64_t end2 = ReadValue<int64_t>(reports.read_end.get()).value();
  EXPECT_LT(std::max(start1, start2), std::min(end1, end2));
  ASSERT_TRUE(a.Join().ok());
  ASSERT_TRUE(b.Join().ok());
  EXPECT_THAT(ActiveChildren(), IsEmpty());
}

TEST(ProcessDeathTest, ActiveChildrenListsOnlyRunningOnes) {
  Pipe release = MakePipe().value();
  Process done([] {});
  Process running([&] {
    release.write_end.Close();
    return BlockOn(release.read_end.get());
  });
  ASSERT_TRUE(done.Start().ok());
  ASSERT_TRUE(done.Join().ok());
  ASSERT_TRUE(running.Start().ok());
  EXPECT_THAT(ActiveChildren(), ElementsAre(&running));
  release.write_end.Close();
  ASSERT_TRUE(running.Join().ok());
  EXPECT_THAT(ActiveChildren(), IsEmpty());
  EXPECT_GE(CpuCount(), 1);
}

// How the middle process of the daemon test ends.
enum class Ending { kTargetReturns, kCallsExit, kDestructors };

// The grandchild setup: the test starts `middle`, which starts a daemon child
// (blocked forever) and a worker child (blocked until the test writes to
// `go`), reports both pids, and ends as `ending` says. Python's rule: the
// daemon is terminated at once, and the middle process waits for the worker.
void CheckDaemonsStopAndOthersAreWaitedFor(Ending ending) {
  Pipe report = MakePipe().value();
  Pipe go = MakePipe().value();
  auto worker_body = [&] {
    if (BlockOn(go.read_end.get()) != 1) return 2;
    return WriteAll(report.write_end.get(), "W").ok() ? 0 : 3;
  };
  auto daemon_body = [] { PauseForever(); };
  auto start_and_report = [&](Process& worker, Process& daemon) {
    if (!daemon.SetDaemon(true).ok() || !daemon.Start().ok() ||
        !worker.Start().ok()) {
      return false;
    }
    return WriteValue(report.write_end.get(), daemon.pid()).ok() &&
           WriteValue(report.write_end.get(), worker.pid()).ok();
  };
  Process middle([&]() -> int {
    report.read_end.Close();
    go.write_end.Close();
    switch (ending) {
      case Ending::kTargetReturns: {
        // Still alive when the target returns (never deleted: the child ends
        // with _exit).
        auto* worker = new Process(worker_body);
        auto* daemon = new Process(daemon_body);
        return start_and_report(*worker, *daemon) ? 0 : 1;
      }
      case Ending::kCallsExit: {
        Process worker(worker_body);
        Process daemon(daemon_body);
        std::exit(start_and_report(worker, daemon) ? 0 : 1);
      }
      case Ending::kDestructors: {
        Process worker(worker_body);  // destroyed last: joined
        Process daemon(daemon_body);  // destroyed first: terminated
        return start_and_report(worker, daemon) ? 0 : 1;
      }
    }
    return 1;
  });
  ASSERT_TRUE(middle.Start().ok());
  report.write_end.Close();
  go.read_end.Close();
  const pid_t daemon = ReadValue<pid_t>(report.read_end.get()).value();
  const pid_t worker = ReadValue<pid_t>(report.read_end.get()).value();

  ASSERT_TRUE(WaitUntilGone(daemon));
  // The middle process cannot have ended: it is waiting for the worker, which
  // is waiting for us.
  EXPECT_TRUE(middle.IsAlive());
  EXPECT_TRUE(Running(worker));

  ASSERT_TRUE(WriteAll(go.write_end.get(), "g").ok());
  EXPECT_EQ(middle.Join().value(), ExitStatus::Exited(0));
  EXPECT_EQ(ReadAll(report.read_end.get()).value(), "W");  // it finished
  EXPECT_EQ(ProcessState(worker).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ProcessState(daemon).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessDeathTest, AtExitOfAProcessTargetDaemonsStopOthersAreJoined) {
  CheckDaemonsStopAndOthersAreWaitedFor(Ending::kTargetReturns);
}

TEST(ProcessDeathTest, AtExitDaemonsStopOthersAreJoined) {
  CheckDaemonsStopAndOthersAreWaitedFor(Ending::kCallsExit);
}

TEST(ProcessDeathTest, DestructorsStopDaemonsAndJoinOthers) {
  CheckDaemonsStopAndOthersAreWaitedFor(Ending::kDestructors);
}

// A child forked without Process (here common::Child) that calls exit() must
// not treat its parent's Process objects as its own children.
TEST(ProcessDeathTest, ExitInAPlainForkLeavesTheParentsDaemonAlone) {
  Pipe never = MakePipe().value();
  Process daemon([&] { return BlockOn(never.read_end.get()); });
  ASSERT_TRUE(daemon.SetDaemon(true).ok());
  ASSERT_TRUE(daemon.Start().ok());
  Child plain = Child::Fork([]() -> int { std::exit(0); }).value();
  EXPECT_EQ(plain.Wait().value(), ExitStatus::Exited(0));
  // Had the child run the daemon rule, it would have waited for the daemon to
  // die before exiting.
  EXPECT_TRUE(daemon.IsAlive());
  ASSERT_TRUE(daemon.Terminate().ok());
  EXPECT_EQ(daemon.Join().value(), ExitStatus::Killed(SIGTERM));
}

TEST(ProcessDeathTest, DaemonMayNotStartProcesses) {
  Process daemon([] {
    Process grandchild([] {});
    return grandchild.Start().code() == absl::StatusCode::kFailedPrecondition
               ? 0
               : 1;
  });
  ASSERT_TRUE(daemon.SetDaemon(true).ok());
  ASSERT_TRUE(daemon.Start().ok());
  EXPECT_EQ(daemon.Join().value(), ExitStatus::Exited(0));
}

// Kills a middle process whose child (a Process) blocks forever, inside a
// child that is a subreaper so the orphan comes back to it. Returns 0 if the
// orphan was still running (no death signal asked) or was killed by SIGKILL
// (asked), else a code saying what went wrong.
int OrphanScenario(bool ask_for_death_signal) {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return 10;
  absl::StatusOr<Pipe> report = MakePipe();
  if (!report.ok()) return 11;
  absl::StatusOr<Child> middle = Child::Fork([&] {
    Process grandchild([] { PauseForever(); });
    if (ask_for_death_signal && !grandchild.SetParentDeathSignal(SIGKILL).ok())
      return 1;
    if (!grandchild.Start().ok()) return 2;
    if (!WriteValue(report->write_end.get(), grandchild.pid()).ok()) return 3;
    PauseForever();
  });
  if (!middle.ok()) return 12;
  absl::StatusOr<pid_t> orphan_pid = ReadValue<pid_t>(report->read_end.get());
  if (!orphan_pid.ok()) return 13;
  if (!middle->KillAndWait(SIGKILL).ok()) return 14;
  // By the time the middle process is reaped, its child has been re-parented
  // to us.
  Child orphan = Child::Adopt(*orphan_pid);
  if (ask_for_death_signal) {
    absl::StatusOr<ExitStatus> status = orphan.Wait();
    return status.ok() && *status == ExitStatus::Killed(SIGKILL) ? 0 : 15;
  }
  if (ParentPid(*orphan_pid).value_or(0) != ::getpid()) return 16;
  if (!Running(*orphan_pid)) return 17;
  return orphan.KillAndWait(SIGKILL).ok() ? 0 : 18;
}

TEST(ProcessDeathTest, OrphanKeepsRunningWhenItsParentIsKilled) {
  testing::ChildRun run =
      testing::RunInChild([] { return OrphanScenario(false); }).value();
  EXPECT_EQ(run.status, ExitStatus::Exited(0)) << run.output;
}

TEST(ProcessDeathTest, ParentDeathSignalKillsTheOrphan) {
  testing::ChildRun run =
      testing::RunInChild([] { return OrphanScenario(true); }).value();
  EXPECT_EQ(run.status, ExitStatus::Exited(0)) << run.output;
}

TEST(ProcessTest, CpuCountIsPositive) { EXPECT_GE(CpuCount(), 1); }

}  // namespace
}  // namespace multitask
