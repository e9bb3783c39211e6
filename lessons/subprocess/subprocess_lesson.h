// subprocess_lesson.h: the demos of the subprocess lesson, as functions that
// run other programs and return what happened (main.cc prints it).
//
//   MT_ASSIGN_OR_RETURN(WaitDeadlock stuck,
//                       WaitBeforeReading(1 << 20, absl::Milliseconds(300)));
//   // stuck.finished == false: the child filled the pipe and waits for us.
//
// Seed 001 runs `nslookup` (needs the network); these demos use local programs
// (sh, sort, tr, cat, head) so they run anywhere, offline, deterministically.
// Every demo that can get stuck is bounded by a timeout after which the child
// is killed: nothing here can hang.

#ifndef MULTITASK_LESSONS_SUBPROCESS_SUBPROCESS_LESSON_H_
#define MULTITASK_LESSONS_SUBPROCESS_SUBPROCESS_LESSON_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/exit_status.h"
#include "common/subprocess.h"

namespace multitask::subprocess_lesson {

// The script the Call demo runs: it prints to the terminal we share, then
// exits with code 3.
inline constexpr char kCallScript[] =
    "echo \"hello from $0, pid $$; my stdout is your stdout\"; exit 3";

// Part 1, subprocess.call: runs `sh -c kCallScript`, which writes straight to
// our stdout, and returns how it ended (exited with code 3).
absl::StatusOr<ExitStatus> CallDemo();

// Part 1b: a program that does not exist, started directly and through a shell.
struct MissingProgram {
  absl::Status direct;  // Call({name}): NotFound naming the program.
  ExitStatus via_shell =
      ExitStatus::Exited(0);  // Call({"sh", "-c", name}): exit code 127...
  std::string shell_message;  // ...and the shell's complaint on stderr.
};
absl::StatusOr<MissingProgram> StartMissingProgram(const std::string& name);

// Part 2, Popen(...).communicate(input): seed 001 drives the interactive
// `nslookup` through its stdin; here the interactive program is `sh`, fed a
// script on stdin, with stdout and stderr piped apart.
inline constexpr char kShellInput[] =
    "echo hello from the script | tr a-z A-Z\n"
    "printf 'pear\\napple\\nfig\\n' | sort\n"
    "echo 'this line goes to stderr' >&2\n"
    "exit 0\n";
absl::StatusOr<CompletedProcess> CommunicateWithShell();

// Part 3, deadlock 1: the parent waits for the child before reading its
// stdout, while the child writes `bytes` (head -c bytes /dev/zero). A pipe
// holds `pipe_capacity` bytes (64 KiB by default): past that the child blocks
// in write() until someone reads, and the parent blocks in wait() until the
// child ends. Bounded by `timeout`, after which the child is killed.
struct WaitDeadlock {
  size_t bytes = 0;          // What the child wanted to write.
  size_t pipe_capacity = 0;  // fcntl(F_GETPIPE_SZ) of its stdout pipe.
  bool finished = false;     // Did the child end within the timeout?
  size_t bytes_in_pipe = 0;  // Unread bytes when the timeout expired.
  char child_state = '?';    // Its /proc state then ('S': blocked).
  ExitStatus status = ExitStatus::Exited(0);  // Killed by SIGKILL if stuck.
  size_t bytes_read = 0;  // What the parent read in the end.
};
absl::StatusOr<WaitDeadlock> WaitBeforeReading(size_t bytes,
                                               absl::Duration timeout);

// Part 4, deadlock 2: the parent writes all of `input` to `cat` before reading
// any output. cat's stdout pipe fills, cat stops reading, its stdin pipe fills,
// and the parent's write blocks: both wait for each other. The writes are
// non-blocking with poll() so the demo can give up after `timeout` (and kill
// cat) instead of hanging.
struct WriteDeadlock {
  size_t input_size = 0;
  bool stuck = false;      // Could not write everything within the timeout.
  size_t written = 0;      // How far the parent got.
  size_t output_size = 0;  // What came back (when not stuck).
  bool output_matches = false;
  ExitStatus status = ExitStatus::Exited(0);
};
absl::StatusOr<WriteDeadlock> WriteAllThenRead(const std::string& input,
                                               absl::Duration timeout);

// Part 5, solved: Communicate() serves stdin, stdout and stderr at once with
// poll(), so the same two workloads finish.
struct Solved {
  size_t head_bytes = 0;  // Read from `head -c bytes /dev/zero`.
  bool cat_output_matches = false;
  size_t cat_bytes = 0;
  absl::Duration elapsed;  // For both runs.
};
absl::StatusOr<Solved> CommunicateSolvesBoth(size_t bytes,
                                             const std::string& input);

// Part 6: which descriptors a program inherits. Opens a descriptor the
// careless way (dup(), no O_CLOEXEC), then lists a shell's /proc/<pid>/fd when
// started by Subprocess (closes everything above 2) and by a bare posix_spawn
// (keeps every descriptor without O_CLOEXEC).
struct InheritedFds {
  int leaky_fd = -1;
  std::string with_subprocess;  // "0 1 2"
  std::string with_raw_spawn;   // "0 1 2 <leaky_fd> ..."
};
absl::StatusOr<InheritedFds> ShowInheritedFds();

// `mib` MiB of printable text (not one repeated byte, so a lost or reordered
// chunk shows when compared).
std::string TestText(size_t mib);

}  // namespace multitask::subprocess_lesson

#endif  // MULTITASK_LESSONS_SUBPROCESS_SUBPROCESS_LESSON_H_
