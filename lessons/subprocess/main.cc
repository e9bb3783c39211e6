// The subprocess lesson: run other programs, talk to them through pipes, and
// see the pipe-buffer deadlock happen (bounded by a timeout) and go away.
//
//   bazel run //lessons/subprocess
//   bazel run //lessons/subprocess -- --child_bytes=4194304 --input_mib=32

#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gflags/gflags.h"
#include "lessons/subprocess/subprocess_lesson.h"

DEFINE_uint64(child_bytes, 1 << 20,
              "bytes the child writes in the wait-before-reading demo");
DEFINE_uint64(input_mib, 8, "MiB sent through cat in the write-then-read demo");
DEFINE_int32(timeout_ms, 300,
             "how long each deadlock demo waits before killing the child");

namespace multitask::subprocess_lesson {
namespace {

int Main() {
  std::cout << "parent pid " << getpid() << "\n\n";

  std::cout << "== 1. subprocess.call: the child shares our terminal ==\n";
  std::cout << "$ sh -c '" << kCallScript << "'\n";
  absl::StatusOr<ExitStatus> called = CallDemo();
  if (!called.ok()) {
    std::cerr << called.status() << "\n";
    return 1;
  }
  std::cout << "exit code: " << called->exit_code() << "  (" << *called
            << ")\n\n";

  std::cout << "== 1b. a program that does not exist ==\n";
  absl::StatusOr<MissingProgram> missing = StartMissingProgram("nslookup-xyz");
  if (!missing.ok()) {
    std::cerr << missing.status() << "\n";
    return 1;
  }
  std::cout << "Call({\"nslookup-xyz\"}) -> " << missing->direct << "\n"
            << "Call({\"sh\", \"-c\", \"nslookup-xyz\"}) -> "
            << missing->via_shell
            << ", and the shell says: " << missing->shell_message
            << "   (127 is only a convention: a real program may exit 127 "
               "too)\n\n";

  std::cout << "== 2. Popen(...).communicate(input): a script on sh's stdin "
               "==\n";
  absl::StatusOr<CompletedProcess> shell = CommunicateWithShell();
  if (!shell.ok()) {
    std::cerr << shell.status() << "\n";
    return 1;
  }
  std::cout << "stdout:\n"
            << shell->out << "stderr:\n"
            << shell->err << "exit code: " << shell->status.exit_code()
            << "\n\n";

  const absl::Duration timeout = absl::Milliseconds(FLAGS_timeout_ms);
  std::cout << "== 3. deadlock: wait() before reading stdout ==\n";
  absl::StatusOr<WaitDeadlock> waited =
      WaitBeforeReading(FLAGS_child_bytes, timeout);
  if (!waited.ok()) {
    std::cerr << waited.status() << "\n";
    return 1;
  }
  std::cout << absl::StrFormat(
      "child: head -c %d /dev/zero; its stdout pipe holds %d bytes\n",
      waited->bytes, waited->pipe_capacity);
  if (waited->finished) {
    std::cout << "the child finished within " << timeout
              << ": its output fits in the pipe, no deadlock\n";
  } else {
    std::cout << absl::StrFormat(
        "after %s the child has not ended: %d bytes sit unread in the pipe "
        "and the child is in state '%c' (blocked in write)\n"
        "the parent waits for the child, the child waits for the parent: "
        "killed it -> %s\n",
        absl::FormatDuration(timeout), waited->bytes_in_pipe,
        waited->child_state, waited->status.ToString());
  }
  std::cout << "\n";

  std::cout << "== 4. deadlock: write all input, then read output ==\n";
  const std::string input = TestText(FLAGS_input_mib);
  absl::StatusOr<WriteDeadlock> written = WriteAllThenRead(input, timeout);
  if (!written.ok()) {
    std::cerr << written.status() << "\n";
    return 1;
  }
  if (written->stuck) {
    std::cout << absl::StrFormat(
        "cat: stuck after writing %d of %d bytes (its stdin pipe, cat's own "
        "buffer and its stdout pipe are all full)\nkilled it -> %s\n",
        written->written, written->input_size, written->status.ToString());
  } else {
    std::cout << absl::StrFormat(
        "cat: wrote all %d bytes, read back %d: the input was small enough\n",
        written->input_size, written->output_size);
  }
  std::cout << "\n";

  std::cout << "== 5. solved: Communicate() polls stdin, stdout and stderr "
               "together ==\n";
  absl::StatusOr<Solved> solved =
      CommunicateSolvesBoth(FLAGS_child_bytes, input);
  if (!solved.ok()) {
    std::cerr << solved.status() << "\n";
    return 1;
  }
  std::cout << absl::StrFormat(
      "head: read all %d bytes\ncat: sent %d bytes, got %d back, %s\n"
      "both in %.3f s\n",
      solved->head_bytes, input.size(), solved->cat_bytes,
      solved->cat_output_matches ? "identical" : "DIFFERENT",
      absl::ToDoubleSeconds(solved->elapsed));
  std::cout << "\n== 6. which descriptors does the program inherit? ==\n";
  absl::StatusOr<InheritedFds> fds = ShowInheritedFds();
  if (!fds.ok()) {
    std::cerr << fds.status() << "\n";
    return 1;
  }
  std::cout << "we opened fd " << fds->leaky_fd
            << " without O_CLOEXEC; the shell's /proc/$$/fd lists:\n"
            << "  started by Subprocess:         " << fds->with_subprocess
            << "\n"
            << "  started by a bare posix_spawn: " << fds->with_raw_spawn
            << "\n";
  return 0;
}

}  // namespace
}  // namespace multitask::subprocess_lesson

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Runs other programs like Python's subprocess module, and shows the "
      "pipe-buffer deadlock and its fix.");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return multitask::subprocess_lesson::Main();
}
