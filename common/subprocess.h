// subprocess.h: start other programs, feed them input and collect their output,
// without deadlocks and without leaks. Modelled on Python's subprocess module.
//
//   // subprocess.run(["sort"], input=b"b\na\n", capture_output=True)
//   MT_ASSIGN_OR_RETURN(CompletedProcess done,
//                       Run({"sort"}, {.input = "b\na\n"}));
//   // done.status == ExitStatus::Exited(0), done.out == "a\nb\n"
//
//   // subprocess.call(["ls", "-l"]): the child writes straight to our stdout
//   MT_ASSIGN_OR_RETURN(ExitStatus status, Call({"ls", "-l"}));
//
//   // Popen(..., stdin=PIPE, stdout=PIPE, stderr=PIPE).communicate(input)
//   MT_ASSIGN_OR_RETURN(Subprocess p, Subprocess::Start({"tr", "a-z", "A-Z"},
//       {.stdin_from = Redirect::kPipe, .stdout_to = Redirect::kPipe}));
//   MT_ASSIGN_OR_RETURN(CompletedProcess done, p.Communicate("hello\n"));
//
// Contract:
// - argv[0] without a '/' is searched for in this process's PATH (execvp
//   rules; not in the PATH of an `env` option); with a '/' it is used as is
//   (relative to `cwd` if one is given).
// - A program that cannot be started (missing, not executable, bad cwd) is an
//   error in the parent that names the path and the errno, e.g. NotFound
//   "cannot execute /no/such: No such file or directory [ENOENT]". It is never
//   disguised as exit code 127, and no process is left behind.
// - The child inherits only fds 0, 1 and 2 (every other descriptor is closed,
//   even one opened without O_CLOEXEC), an empty signal mask, and default
//   SIGPIPE/SIGXFSZ handling (as Python's restore_signals=True).
// - If the child shares any of our standard streams (Redirect::kInherit),
//   Start() flushes std::cout, std::cerr and C stdio first, so what we printed
//   before comes before what the child prints (Python does not: see the
//   lesson).
// - The child is started with posix_spawn (a vfork-style clone: it does not
//   copy the parent's memory, so it is cheap even for a big parent and safe
//   in a process with threads).
// - Writing to a child that has stopped reading never kills the parent with
//   SIGPIPE: Communicate blocks SIGPIPE in the calling thread while it writes.
// - Run, Call, CheckOutput and Subprocess::Start may be called from several
//   threads at once (children never get each other's pipe ends).
// - A Subprocess is move-only and not thread-safe. Destroying one whose child
//   was not waited for SIGKILLs and reaps the child (see common/child.h), and
//   closes the parent's pipe ends.

#ifndef MULTITASK_COMMON_SUBPROCESS_H_
#define MULTITASK_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/child.h"
#include "common/exit_status.h"
#include "common/fd.h"

namespace multitask {

// Where one of the child's standard streams is connected.
enum class Redirect {
  kInherit,  // The parent's own fd 0, 1 or 2 (Python's None).
  kPipe,     // A pipe whose other end the parent holds (Python's PIPE).
  kDevNull,  // /dev/null (Python's DEVNULL).
  kStdout,   // For stderr only: wherever stdout goes (Python's STDOUT).
};

struct SubprocessOptions {
  Redirect stdin_from = Redirect::kInherit;
  Redirect stdout_to = Redirect::kInherit;
  Redirect stderr_to = Redirect::kInherit;
  // The child's working directory; nullopt keeps the parent's.
  std::optional<std::string> cwd = std::nullopt;
  // The child's whole environment; nullopt inherits the parent's.
  std::optional<std::map<std::string, std::string>> env = std::nullopt;
};

// What a finished child did.
struct CompletedProcess {
  ExitStatus status = ExitStatus::Exited(0);
  std::string out = "";  // What it wrote to stdout (if piped).
  std::string err = "";  // What it wrote to stderr (if piped separately).
  // True if the timeout expired: the child was then killed with SIGKILL, so
  // `status` says "killed by signal 9", and out/err hold what came before.
  bool timed_out = false;
};

// A running child program with optional pipes to its stdin, stdout and stderr:
// Python's Popen.
class Subprocess {
 public:
  // Starts argv[0] with arguments argv. See the contract above for errors.
  static absl::StatusOr<Subprocess> Start(
      const std::vector<std::string>& argv,
      const SubprocessOptions& options = {});

  Subprocess(Subprocess&&) = default;
  Subprocess& operator=(Subprocess&&) = default;

  pid_t pid() const { return child_.pid(); }
  const std::vector<std::string>& argv() const { return argv_; }

  // The parent's ends of the pipes (-1 if that stream is not kPipe). Reading or
  // writing them directly is allowed; Communicate() is the safe way.
  int stdin_fd() const { return stdin_.get(); }
  int stdout_fd() const { return stdout_.get(); }
  int stderr_fd() const { return stderr_.get(); }
  // Closes the parent's end of the stdin pipe: the child reads end of file.
  void CloseStdin() { stdin_.Close(); }

  // Writes `input` to the child's stdin (then closes it) while reading its
  // stdout and stderr, all at once with poll(), so neither side can block the
  // other however much data flows; then waits for the child to end. Non-empty
  // `input` needs stdin_from == kPipe (else InvalidArgument). If `timeout`
  // expires first, the child is killed and the result says timed_out (unlike
  // Python's communicate(), which raises and leaves the child running). Note:
  // output ends only when every holder of the pipes' write ends has exited,
  // grandchildren included. Call at most once.
  absl::StatusOr<CompletedProcess> Communicate(
      absl::string_view input = "",
      absl::Duration timeout = absl::InfiniteDuration());

  // Blocks until the child ends. Careful: a child writing more than a pipe
  // holds (64 KiB) to a kPipe stream nobody reads never ends (the lesson's
  // deadlock). Use Communicate() to read while waiting.
  absl::StatusOr<ExitStatus> Wait() { return child_.Wait(); }
  // Waits at most `timeout`; nullopt if the child is still running then (it is
  // left running).
  absl::StatusOr<std::optional<ExitStatus>> Wait(absl::Duration timeout) {
    return child_.WaitFor(timeout);
  }
  // Reaps the child if it has ended; nullopt if it is still running.
  absl::StatusOr<std::optional<ExitStatus>> Poll() { return child_.TryWait(); }

  // Sends SIGTERM / SIGKILL. FailedPrecondition once the child was reaped.
  absl::Status Terminate();
  absl::Status Kill();

 private:
  Subprocess(std::vector<std::string> argv, Child child)
      : argv_(std::move(argv)), child_(std::move(child)) {}

  std::vector<std::string> argv_;
  Child child_;
  UniqueFd stdin_;
  UniqueFd stdout_;
  UniqueFd stderr_;
};

struct RunOptions {
  // Sent to the child's stdin, which then reads end of file (/dev/null if
  // empty).
  std::string input = "";
  // Past this the child is killed and the result says timed_out.
  absl::Duration timeout = absl::InfiniteDuration();
  // Send stderr into `out` (interleaved as written) instead of `err`.
  bool merge_stderr = false;
  std::optional<std::string> cwd = std::nullopt;
  std::optional<std::map<std::string, std::string>> env = std::nullopt;
};

// Python's subprocess.run(argv, input=..., capture_output=True, timeout=...):
// runs the program to the end, capturing stdout and stderr. A non-zero exit is
// not an error here (see CheckOutput); failing to start it is.
absl::StatusOr<CompletedProcess> Run(const std::vector<std::string>& argv,
                                     const RunOptions& options = {});

// Python's subprocess.call(argv): the child shares our stdin/stdout/stderr;
// returns how it ended.
absl::StatusOr<ExitStatus> Call(const std::vector<std::string>& argv,
                                const SubprocessOptions& options = {});

// Python's subprocess.check_output(argv): Run() and return stdout, or an error
// if the program did not exit with 0: Unknown "command `sh -c 'exit 3'` exited
// with code 3; stderr: ...", DeadlineExceeded if it timed out.
absl::StatusOr<std::string> CheckOutput(const std::vector<std::string>& argv,
                                        const RunOptions& options = {});

// argv as a shell would need it typed: sh -c 'exit 3'. For messages.
std::string CommandLine(const std::vector<std::string>& argv);

}  // namespace multitask

#endif  // MULTITASK_COMMON_SUBPROCESS_H_
