#include "lessons/subprocess/subprocess_lesson.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/child.h"
#include "common/fd.h"
#include "common/proc.h"
#include "common/status_macros.h"
#include "common/syscall.h"

extern char** environ;

namespace multitask::subprocess_lesson {

absl::StatusOr<ExitStatus> CallDemo() {
  return Call({"sh", "-c", kCallScript});
}

absl::StatusOr<MissingProgram> StartMissingProgram(const std::string& name) {
  MissingProgram result;
  result.direct = Call({name}).status();
  MT_ASSIGN_OR_RETURN(CompletedProcess shell, Run({"sh", "-c", name}));
  result.via_shell = shell.status;
  result.shell_message = shell.err;
  return result;
}

absl::StatusOr<CompletedProcess> CommunicateWithShell() {
  MT_ASSIGN_OR_RETURN(
      Subprocess shell,
      Subprocess::Start({"sh"}, {
                                    .stdin_from = Redirect::kPipe,
                                    .stdout_to = Redirect::kPipe,
                                    .stderr_to = Redirect::kPipe,
                                }));
  return shell.Communicate(kShellInput);
}

absl::StatusOr<WaitDeadlock> WaitBeforeReading(size_t bytes,
                                               absl::Duration timeout) {
  WaitDeadlock result;
  result.bytes = bytes;
  MT_ASSIGN_OR_RETURN(
      Subprocess head,
      Subprocess::Start({"head", "-c", absl::StrCat(bytes), "/dev/zero"},
                        {.stdout_to = Redirect::kPipe}));
  const int capacity = ::fcntl(head.stdout_fd(), F_GETPIPE_SZ);
  if (capacity < 0) return ErrnoStatus("fcntl F_GETPIPE_SZ");
  result.pipe_capacity = static_cast<size_t>(capacity);

  // The mistake: wait for the child first, read its output afterwards.
  MT_ASSIGN_OR_RETURN(std::optional<ExitStatus> ended, head.Wait(timeout));
  result.finished = ended.has_value();
  if (!result.finished) {
    int unread = 0;
    if (::ioctl(head.stdout_fd(), FIONREAD, &unread) != 0) {
      return ErrnoStatus("ioctl FIONREAD");
    }
    result.bytes_in_pipe = static_cast<size_t>(unread);
    MT_ASSIGN_OR_RETURN(result.child_state, ProcessState(head.pid()));
    MT_RETURN_IF_ERROR(head.Kill());
  }
  // Killed or finished, the child's end is closed now: read what is there.
  MT_ASSIGN_OR_RETURN(std::string out, ReadAll(head.stdout_fd()));
  result.bytes_read = out.size();
  MT_ASSIGN_OR_RETURN(result.status, head.Wait());
  return result;
}

absl::StatusOr<WriteDeadlock> WriteAllThenRead(const std::string& input,
                                               absl::Duration timeout) {
  WriteDeadlock result;
  result.input_size = input.size();
  MT_ASSIGN_OR_RETURN(
      Subprocess cat,
      Subprocess::Start({"cat"}, {
                                     .stdin_from = Redirect::kPipe,
                                     .stdout_to = Redirect::kPipe,
                                 }));
  // The mistake: first write everything, then read. The writes are
  // non-blocking only so that the demo can notice it is stuck and stop.
  if (::fcntl(cat.stdin_fd(), F_SETFL, O_NONBLOCK) != 0) {
    return ErrnoStatus("fcntl O_NONBLOCK");
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (result.written < input.size()) {
    const ssize_t n = ::write(cat.stdin_fd(), input.data() + result.written,
                              input.size() - result.written);
    if (n > 0) {
      result.written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return ErrnoStatus("write to cat");
    }
    // The pipe is full: wait until cat reads some, or give up.
    pollfd entry{.fd = cat.stdin_fd(), .events = POLLOUT, .revents = 0};
    const absl::Duration left = deadline - absl::Now();
    const int ready =
        left <= absl::ZeroDuration()
            ? 0
            : ::poll(&entry, 1,
                     static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll");
    if (ready == 0 && absl::Now() >= deadline) {
      result.stuck = true;
      break;
    }
  }
  if (result.stuck) {
    MT_RETURN_IF_ERROR(cat.Kill());
  } else {
    cat.CloseStdin();
    MT_ASSIGN_OR_RETURN(std::string out, ReadAll(cat.stdout_fd()));
    result.output_size = out.size();
    result.output_matches = out == input;
  }
  MT_ASSIGN_OR_RETURN(result.status, cat.Wait());
  return result;
}

absl::StatusOr<Solved> CommunicateSolvesBoth(size_t bytes,
                                             const std::string& input) {
  Solved result;
  const absl::Time start = absl::Now();
  MT_ASSIGN_OR_RETURN(
      Subprocess head,
      Subprocess::Start({"head", "-c", absl::StrCat(bytes), "/dev/zero"},
                        {.stdout_to = Redirect::kPipe}));
  MT_ASSIGN_OR_RETURN(CompletedProcess from_head, head.Communicate());
  result.head_bytes = from_head.out.size();

  MT_ASSIGN_OR_RETURN(CompletedProcess from_cat,
                      Run({"cat"}, {.input = input}));
  result.cat_bytes = from_cat.out.size();
  result.cat_output_matches = from_cat.out == input;
  result.elapsed = absl::Now() - start;
  return result;
}

namespace {

// The shell lists its own descriptors (ls runs as its child, so ls's own
// directory handle is not in the list); "; true" keeps sh from exec'ing ls.
constexpr char kListFds[] = "ls -v /proc/$$/fd; true";

std::string OneLine(absl::string_view lines) {
  return absl::StrJoin(absl::StrSplit(lines, '\n', absl::SkipEmpty()), " ");
}

// posix_spawn with only stdout redirected: no closefrom, the way most code
// starts programs.
absl::StatusOr<std::string> ListFdsWithRawSpawn() {
  MT_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out.write_end.get(),
                                   STDOUT_FILENO);
  const char* argv[] = {"sh", "-c", kListFds, nullptr};
  pid_t pid = -1;
  const int error = posix_spawnp(&pid, "sh", &actions, nullptr,
                                 const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return ErrnoStatusWithCode(error, "posix_spawnp sh");
  Child child = Child::Adopt(pid);
  out.write_end.Close();
  MT_ASSIGN_OR_RETURN(std::string listing, ReadAll(out.read_end.get()));
  MT_RETURN_IF_ERROR(child.Wait().status());
  return OneLine(listing);
}

}  // namespace

absl::StatusOr<InheritedFds> ShowInheritedFds() {
  InheritedFds result;
  UniqueFd leaky(::dup(STDERR_FILENO));  // dup() does not set O_CLOEXEC.
  if (!leaky.valid()) return ErrnoStatus("dup");
  result.leaky_fd = leaky.get();
  MT_ASSIGN_OR_RETURN(std::string listing, CheckOutput({"sh", "-c", kListFds}));
  result.with_subprocess = OneLine(listing);
  MT_ASSIGN_OR_RETURN(result.with_raw_spawn, ListFdsWithRawSpawn());
  return result;
}

std::string TestText(size_t mib) {
  std::string text(mib << 20, '\n');
  for (size_t i = 0; i < text.size(); ++i) {
    if (i % 64 != 63) text[i] = static_cast<char>('a' + (i / 64 + i) % 26);
  }
  return text;
}

}  // namespace multitask::subprocess_lesson
