// Grader for the isolate-a-crash exercise (isolate_crash.h). Its messages are
// meant for the student: they say what went wrong and where to look.
//
// Each check runs RunIsolated() in a child of the grader (RunInChild) with a
// time limit: if the task's crash kills the caller, or its hang hangs it, that
// child dies or times out, and the grader reports it instead of dying too.

#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>

#include "absl/time/time.h"
#include "common/exit_status.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/compare/compare_lesson.h"
#include "lessons/compare/exercises/isolate_crash.h"

namespace multitask::compare_exercise {
namespace {

constexpr int kCallerSurvived = 0;
constexpr int kWrongResult = 2;

// A task that writes to a page it may not touch: a real segmentation fault.
int Segfault() {
  void* page =
      ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *static_cast<volatile int*>(page) = 1;
  return 0;
}

// Runs `task` through RunIsolated() as the caller would, and checks, in the
// caller, that the result is `expected` and that no process is left. Exit code
// kCallerSurvived if all is well.
int CallerExpects(const std::function<int()>& task, int expected_signal,
                  int expected_code, absl::Duration time_limit) {
  absl::StatusOr<ExitStatus> ended = RunIsolated(task, time_limit);
  if (!ended.ok()) {
    std::cout << "RunIsolated returned an error: " << ended.status() << "\n";
    return kWrongResult;
  }
  const bool right =
      expected_signal != 0
          ? ended->signaled() && ended->signal() == expected_signal
          : ended->exited() && ended->exit_code() == expected_code;
  if (!right) {
    std::cout << "RunIsolated said the task " << *ended << "; expected "
              << (expected_signal != 0 ? ExitStatus::Killed(expected_signal)
                                       : ExitStatus::Exited(expected_code))
              << "\n";
    return kWrongResult;
  }
  if (!ChildPids(getpid()).empty()) {
    std::cout << "the task's process is still there (running or a zombie): "
                 "RunIsolated must reap it before it returns\n";
    return kWrongResult;
  }
  return kCallerSurvived;
}

// Runs `caller` in a child of the grader and explains how it went wrong.
void ExpectCallerSurvives(std::function<int()> caller,
                          const std::string& task_did) {
  absl::StatusOr<testing::ChildRun> run =
      testing::RunInChild(std::move(caller), absl::Seconds(10));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->timed_out)
      << "the caller was still waiting after 10 s for a task that " << task_did
      << ": RunIsolated must stop waiting at the time limit and kill the task "
         "(Child::WaitFor, then KillAndWait(SIGKILL)). A thread cannot be "
         "killed from outside; a process can.";
  ASSERT_FALSE(run->status.signaled())
      << "the caller itself was " << run->status << " when the task "
      << task_did
      << ": the task ran inside the caller's process (a thread?), and a fatal "
         "signal ends the whole process, every thread of it. Run the task in a "
         "child process (Child::Fork) and read its ExitStatus.\n"
      << run->output;
  EXPECT_EQ(run->status, ExitStatus::Exited(kCallerSurvived)) << run->output;
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

TEST(IsolateCrashDeathTest, ReturnsTheTasksExitCode) {
  ExpectCallerSurvives(
      [] { return CallerExpects([] { return 7; }, 0, 7, absl::Seconds(10)); },
      "returned 7");
}

TEST(IsolateCrashDeathTest, SurvivesASegfaultAndDecodesIt) {
  ExpectCallerSurvives(
      [] { return CallerExpects(Segfault, SIGSEGV, 0, absl::Seconds(10)); },
      "segfaulted");
}

TEST(IsolateCrashDeathTest, SurvivesACrashInOneOfTheTasksThreads) {
  // The lesson's CrashInThread(): the task's second thread segfaults.
  ExpectCallerSurvives(
      [] {
        return CallerExpects([]() -> int { compare::CrashInThread(); }, SIGSEGV,
                             0, absl::Seconds(10));
      },
      "crashed in one of its threads");
}

TEST(IsolateCrashDeathTest, SurvivesAnAbortAndKeepsItsMemory) {
  ExpectCallerSurvives(
      [] {
        int balance = 100;
        const int code = CallerExpects(
            [&] {
              balance = -1;  // A wild write, then a crash.
              std::abort();
              return 0;
            },
            SIGABRT, 0, absl::Seconds(10));
        if (code == kCallerSurvived && balance != 100) {
          std::cout << "the task's write reached the caller's memory "
                       "(balance is "
                    << balance << ", was 100): run it in its own process\n";
          return kWrongResult;
        }
        return code;
      },
      "aborted");
}

TEST(IsolateCrashDeathTest, KillsATaskThatHangs) {
  ExpectCallerSurvives(
      [] {
        return CallerExpects(
            [] {
              while (true) ::pause();
              return 0;
            },
            SIGKILL, 0, absl::Milliseconds(100));
      },
      "never ended");
}

}  // namespace
}  // namespace multitask::compare_exercise
