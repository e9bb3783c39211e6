// Tests for subprocess.h. The children are started with posix_spawn, not
// fork(), so most suites need not run before threads; the one that forks (to
// capture what a whole process prints) is a *DeathTest.

#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/exit_status.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Every test checks that no child (running or zombie) is left behind.
class SubprocessTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_THAT(ChildPids(getpid()), IsEmpty()); }
};

// 8 MiB that is not all one byte, so a lost or reordered chunk shows.
std::string BigInput() {
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  }
  return data;
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  char resolved[PATH_MAX];
  EXPECT_NE(realpath(dir != nullptr ? dir : "/tmp", resolved), nullptr);
  return resolved;
}

TEST(SubprocessDeathTest, CallFlushesOurBufferedOutputFirst) {
  // In the forked child stdout is a pipe, so std::cout is fully buffered:
  // without the flush in Start(), "after" would come out before "before".
  testing::ChildRun run = testing::RunInChild([] {
                            std::cout << "before\n";
                            return Call({"echo", "after"}).ok() ? 0 : 1;
                          }).value();
  EXPECT_EQ(run.status, ExitStatus::Exited(0));
  EXPECT_EQ(run.output, "before\nafter\n");
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST_F(SubprocessTest, ExitCodes) {
  for (int code : {0, 3, 255}) {
    CompletedProcess done =
        multitask::Run({"sh", "-c", absl::StrCat("exit ", code)}).value();
    EXPECT_EQ(done.status, ExitStatus::Exited(code));
    EXPECT_FALSE(done.timed_out);
  }
}

TEST_F(SubprocessTest, KilledBySignal) {
  CompletedProcess done = multitask::Run({"sh", "-c", "kill -TERM $$"}).value();
  EXPECT_EQ(done.status, ExitStatus::Killed(SIGTERM));
}

TEST_F(SubprocessTest, TerminateAndKill) {
  for (bool terminate : {true, false}) {
    // cat blocks reading its stdin pipe until we close it: it is surely
    // running when the signal comes.
    Subprocess cat =
        Subprocess::Start({"cat"}, {.stdin_from = Redirect::kPipe}).value();
    ASSERT_TRUE((terminate ? cat.Terminate() : cat.Kill()).ok());
    EXPECT_EQ(cat.Wait().value(),
              ExitStatus::Killed(terminate ? SIGTERM : SIGKILL));
    EXPECT_EQ(cat.Kill().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST_F(SubprocessTest, CallSharesOurStreamsAndReturnsTheStatus) {
  EXPECT_EQ(Call({"true"}).value(), ExitStatus::Exited(0));
  EXPECT_EQ(Call({"false"}).value(), ExitStatus::Exited(1));
  EXPECT_EQ(Call({"cat"}, {.stdout_to = Redirect::kPipe}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SubprocessTest, EightMebibytesInAndOutThroughCat) {
  const std::string input = BigInput();
  CompletedProcess done = multitask::Run({"cat"}, {.input = input}).value();
  EXPECT_EQ(done.status, ExitStatus::Exited(0));
  EXPECT_EQ(done.out.size(), input.size());
  EXPECT_TRUE(done.out == input);  // Not EXPECT_EQ: no 8 MiB diff on failure.
  EXPECT_THAT(done.err, IsEmpty());
}

TEST_F(SubprocessTest, AllThreePipesFullAtOnce) {
  // The child first fills stderr (1 MiB, far more than a pipe holds) before
  // reading any input: only a parent that serves all three pipes at once
  // finishes.
  const std::string input = BigInput();
  CompletedProcess done =
      multitask::Run({"sh", "-c", "head -c 1048576 /dev/zero >&2; cat"},
                     {.input = input})
          .value();
  EXPECT_EQ(done.status, ExitStatus::Exited(0));
  EXPECT_TRUE(done.out == input);
  EXPECT_EQ(done.err, std::string(1 << 20, '\0'));
}

TEST_F(SubprocessTest, ConcurrentRunsFromThreadsDoNotLeakPipesIntoEachOther) {
  // If one child inherited another's stdin write end, that cat would never
  // see end of file and its Run would hang: the pipes are O_CLOEXEC and every
  // child gets closefrom(3).
  constexpr int kThreads = 4;
  std::vector<std::string> outputs(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([i, &outputs] {
        absl::StatusOr<CompletedProcess> done = multitask::Run(
            {"cat"},
            {.input = std::string(1 << 20, static_cast<char>('a' + i))});
        if (done.ok()) outputs[i] = std::move(done->out);
      });
    }
  }
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_TRUE(outputs[i] == std::string(1 << 20, static_cast<char>('a' + i)))
        << "thread " << i;
  }
}

TEST_F(SubprocessTest, StderrKeptApartOrMerged) {
  const std::vector<std::string> argv = {"sh", "-c",
                                         "echo out; echo err >&2; echo out2"};
  CompletedProcess apart = multitask::Run(argv).value();
  EXPECT_EQ(apart.out, "out\nout2\n");
  EXPECT_EQ(apart.err, "err\n");
  CompletedProcess merged =
      multitask::Run(argv, {.merge_stderr = true}).value();
  EXPECT_EQ(merged.out, "out\nerr\nout2\n");
  EXPECT_THAT(merged.err, IsEmpty());
}

TEST_F(SubprocessTest, TimeoutKillsAndSaysSo) {
  CompletedProcess done =
      multitask::Run({"sleep", "60"}, {.timeout = absl::Milliseconds(50)})
          .value();
  EXPECT_TRUE(done.timed_out);
  EXPECT_EQ(done.status, ExitStatus::Killed(SIGKILL));

  absl::StatusOr<std::string> out =
      CheckOutput({"sleep", "60"}, {.timeout = absl::Milliseconds(50)});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(out.status().message(), HasSubstr("`sleep 60` timed out"));
  EXPECT_THAT(out.status().message(), HasSubstr("killed by signal 9"));
}

TEST_F(SubprocessTest, TimeoutKeepsTheOutputThatCameBefore) {
  Subprocess p = Subprocess::Start({"sh", "-c", "echo started; exec sleep 60"},
                                   {.stdout_to = Redirect::kPipe})
                     .value();
  // Wait (without a timeout) until "started" is in the pipe, so the short
  // timeout below cannot expire before it arrives.
  pollfd ready{.fd = p.stdout_fd(), .events = POLLIN, .revents = 0};
  ASSERT_EQ(::poll(&ready, 1, -1), 1);
  CompletedProcess done = p.Communicate("", absl::Milliseconds(10)).value();
  EXPECT_TRUE(done.timed_out);
  EXPECT_EQ(done.out, "started\n");
  EXPECT_EQ(done.status, ExitStatus::Killed(SIGKILL));
}

TEST_F(SubprocessTest, WaitWithTimeoutLeavesTheChildRunning) {
  Subprocess cat =
      Subprocess::Start({"cat"}, {.stdin_from = Redirect::kPipe}).value();
  EXPECT_FALSE(cat.Wait(absl::Milliseconds(10)).value().has_value());
  EXPECT_FALSE(cat.Poll().value().has_value());
  cat.CloseStdin();  // End of file: cat exits 0.
  EXPECT_EQ(cat.Wait().value(), ExitStatus::Exited(0));
}

TEST_F(SubprocessTest, MissingProgramIsNotFoundNamingThePath) {
  absl::StatusOr<CompletedProcess> done =
      multitask::Run({"/no/such/program", "x"});
  EXPECT_EQ(done.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(done.status().message(),
              HasSubstr("cannot execute /no/such/program"));
  EXPECT_THAT(done.status().message(), HasSubstr("[ENOENT]"));

  absl::StatusOr<ExitStatus> called = Call({"no-such-program-in-path"});
  EXPECT_EQ(called.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(called.status().message(),
              HasSubstr("no-such-program-in-path (searched PATH)"));
}

TEST_F(SubprocessTest, NotExecutableIsPermissionDenied) {
  const std::string path = TempDir() + "/not_executable";
  {
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  absl::StatusOr<CompletedProcess> done = multitask::Run({path});
  EXPECT_EQ(done.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(done.status().message(), HasSubstr(path));
  EXPECT_THAT(done.status().message(), HasSubstr("[EACCES]"));
}

TEST_F(SubprocessTest, EnvironmentReplacedWhenGiven) {
  CompletedProcess done =
      multitask::Run({"/usr/bin/env"},
                     {.env = {{{"GREETING", "hello"}, {"EMPTY", ""}}}})
          .value();
  EXPECT_EQ(done.out, "EMPTY=\nGREETING=hello\n");
  // Not given: inherited.
  ASSERT_EQ(::setenv("MULTITASK_SUBPROCESS_TEST", "inherited", 1), 0);
  EXPECT_EQ(
      CheckOutput({"sh", "-c", "echo $MULTITASK_SUBPROCESS_TEST"}).value(),
      "inherited\n");
}

TEST_F(SubprocessTest, WorkingDirectoryHonoured) {
  EXPECT_EQ(CheckOutput({"/bin/pwd"}, {.cwd = "/"}).value(), "/\n");
  const std::string dir = TempDir();
  EXPECT_EQ(CheckOutput({"/bin/pwd"}, {.cwd = dir}).value(), dir + "\n");

  absl::StatusOr<std::string> bad =
      CheckOutput({"/bin/pwd"}, {.cwd = "/no/such/dir"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("cannot change directory to /no/such/dir"));
}

TEST_F(SubprocessTest, ChildInheritsOnlyStandardDescriptors) {
  // A descriptor opened without O_CLOEXEC, as careless code would: it must
  // still not reach the program.
  const int leaky = ::dup(STDERR_FILENO);
  ASSERT_GE(leaky, 3);
  ASSERT_EQ(::fcntl(leaky, F_GETFD) & FD_CLOEXEC, 0);
  // All three streams piped, so the parent holds six pipe ends too.
  CompletedProcess done =
      multitask::Run({"common/list_open_fds"}, {.input = "ignored"}).value();
  ::close(leaky);
  EXPECT_EQ(done.status, ExitStatus::Exited(0)) << done.err;
  EXPECT_EQ(done.out, "0\n1\n2\n");
}

TEST_F(SubprocessTest, ChildThatStopsReadingDoesNotKillUsWithSigpipe) {
  // head exits after 10 bytes; our further writes fail with EPIPE, which
  // without care would raise SIGPIPE and kill this test.
  CompletedProcess done =
      multitask::Run({"head", "-c", "10"}, {.input = BigInput()}).value();
  EXPECT_EQ(done.status, ExitStatus::Exited(0));
  EXPECT_EQ(done.out, BigInput().substr(0, 10));
}

TEST_F(SubprocessTest, CheckOutputFailsOnNonZeroExitWithStderr) {
  EXPECT_EQ(CheckOutput({"tr", "a-z", "A-Z"}, {.input = "hello\n"}).value(),
            "HELLO\n");
  absl::StatusOr<std::string> out =
      CheckOutput({"sh", "-c", "echo oops >&2; exit 3"});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(out.status().message(),
              HasSubstr("`sh -c 'echo oops >&2; exit 3'` exited with code 3"));
  EXPECT_THAT(out.status().message(), HasSubstr("stderr: oops"));
}

TEST_F(SubprocessTest, BadArguments) {
  EXPECT_EQ(multitask::Run({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Subprocess::Start({"true"}, {.stdout_to = Redirect::kStdout})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  Subprocess p = Subprocess::Start({"true"}).value();
  EXPECT_EQ(p.Communicate("input").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.Wait().value(), ExitStatus::Exited(0));
}

TEST_F(SubprocessTest, DestructorKillsAndReaps) {
  pid_t pid = 0;
  {
    Subprocess cat =
        Subprocess::Start({"cat"}, {.stdin_from = Redirect::kPipe}).value();
    pid = cat.pid();
    EXPECT_EQ(ParentPid(pid).value(), getpid());
  }
  EXPECT_EQ(ProcessState(pid).status().code(), absl::StatusCode::kNotFound);
}

TEST(CommandLineTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CommandLine({"sort", "-n", "/tmp/a.txt"}), "sort -n /tmp/a.txt");
  EXPECT_EQ(CommandLine({"sh", "-c", "exit 3"}), "sh -c 'exit 3'");
  EXPECT_EQ(CommandLine({"echo", "it's", ""}), "echo 'it'\\''s' ''");
}

}  // namespace
}  // namespace multitask
