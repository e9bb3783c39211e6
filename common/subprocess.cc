#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/syscall.h"

extern char** environ;

namespace multitask {
namespace {

// The child's copy of a pipe end must not sit on fd 0, 1 or 2 (possible when
// the parent closed its own): dup2 onto another standard fd would clobber it
// first.
absl::StatusOr<UniqueFd> AboveStdio(UniqueFd fd) {
  if (fd.get() > STDERR_FILENO) return fd;
  UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1));
  if (!moved.valid()) return ErrnoStatus("fcntl F_DUPFD_CLOEXEC");
  return moved;
}

// posix_spawn's setup functions return an error number instead of setting
// errno.
absl::Status SpawnSetup(int error, absl::string_view what) {
  if (error == 0) return absl::OkStatus();
  return ErrnoStatusWithCode(error, what);
}

// posix_spawn's two argument objects, destroyed on every path out.
class SpawnArgs {
 public:
  SpawnArgs() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnArgs() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnArgs(const SpawnArgs&) = delete;
  SpawnArgs& operator=(const SpawnArgs&) = delete;

  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// Blocks SIGPIPE in this thread while it lives, so a write to a pipe whose
// reader has gone fails with EPIPE instead of killing the process; on the way
// out it discards a SIGPIPE that such a write left pending.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &old_mask_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~ScopedSigpipeBlock() {
    if (got_epipe_ && !was_pending_) {
      const timespec no_wait{};
      while (sigtimedwait(&sigpipe_, nullptr, &no_wait) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

  void NoteEpipe() { got_epipe_ = true; }

 private:
  sigset_t sigpipe_;
  sigset_t old_mask_;
  bool was_pending_ = false;
  bool got_epipe_ = false;
};

// Milliseconds for poll() until `deadline`, rounded up; -1 for never.
int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration left =
      std::max(deadline - absl::Now(), absl::ZeroDuration());
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
      INT_MAX));
}

// Reads what is available from `fd` into `sink`; closes `fd` at end of file.
absl::Status Drain(UniqueFd& fd, std::string& sink) {
  char buffer[64 * 1024];
  const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
  if (n > 0) {
    sink.append(buffer, static_cast<size_t>(n));
  } else if (n == 0) {
    fd.Close();
  } else if (errno != EINTR && errno != EAGAIN) {
    return ErrnoStatus("read from child");
  }
  return absl::OkStatus();
}

bool NeedsQuoting(absl::string_view arg) {
  if (arg.empty()) return true;
  return std::any_of(arg.begin(), arg.end(), [](char c) {
    return !(absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
             absl::string_view("_-./=:,+@%").find(c) !=
                 absl::string_view::npos);
  });
}

}  // namespace

std::string CommandLine(const std::vector<std::string>& argv) {
  return absl::StrJoin(argv, " ", [](std::string* out, const std::string& arg) {
    if (!NeedsQuoting(arg)) return absl::StrAppend(out, arg);
    out->push_back('\'');
    for (char c : arg) {
      if (c == '\'') {
        out->append("'\\''");
      } else {
        out->push_back(c);
      }
    }
    out->push_back('\'');
  });
}

absl::StatusOr<Subprocess> Subprocess::Start(
    const std::vector<std::string>& argv, const SubprocessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  if (options.stdin_from == Redirect::kStdout ||
      options.stdout_to == Redirect::kStdout) {
    return absl::InvalidArgumentError(
        "Redirect::kStdout is only for stderr_to");
  }
  SpawnArgs spawn;
  posix_spawn_file_actions_t* actions = spawn.actions();

  // The parent's ends, kept; the child's ends, closed once it has started.
  UniqueFd parent_ends[3];
  UniqueFd child_ends[3];
  UniqueFd dev_null;
  const Redirect redirects[3] = {options.stdin_from, options.stdout_to,
                                 options.stderr_to};
  for (int target = 0; target < 3; ++target) {
    switch (redirects[target]) {
      case Redirect::kInherit:
        break;
      case Redirect::kPipe: {
        MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
        const bool child_reads = target == STDIN_FILENO;
        parent_ends[target] =
            std::move(child_reads ? pipe.write_end : pipe.read_end);
        MT_ASSIGN_OR_RETURN(child_ends[target],
                            AboveStdio(std::move(
                                child_reads ? pipe.read_end : pipe.write_end)));
        MT_RETURN_IF_ERROR(
            SpawnSetup(posix_spawn_file_actions_adddup2(
                           actions, child_ends[target].get(), target),
                       "posix_spawn_file_actions_adddup2"));
        break;
      }
      case Redirect::kDevNull:
        if (!dev_null.valid()) {
          dev_null = UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC));
          if (!dev_null.valid()) return ErrnoStatus("open /dev/null");
          MT_ASSIGN_OR_RETURN(dev_null, AboveStdio(std::move(dev_null)));
        }
        MT_RETURN_IF_ERROR(SpawnSetup(
            posix_spawn_file_actions_adddup2(actions, dev_null.get(), target),
            "posix_spawn_file_actions_adddup2"));
        break;
      case Redirect::kStdout:  // After stdout's own dup2: follows it.
        MT_RETURN_IF_ERROR(SpawnSetup(
            posix_spawn_file_actions_adddup2(actions, STDOUT_FILENO, target),
            "posix_spawn_file_actions_adddup2"));
        break;
    }
  }
  if (options.cwd.has_value()) {
    MT_RETURN_IF_ERROR(SpawnSetup(
        posix_spawn_file_actions_addchdir_np(actions, options.cwd->c_str()),
        "posix_spawn_file_actions_addchdir_np"));
  }
  // Python's close_fds=True: even a descriptor someone opened without
  // O_CLOEXEC does not leak into the program.
  MT_RETURN_IF_ERROR(SpawnSetup(
      posix_spawn_file_actions_addclosefrom_np(actions, STDERR_FILENO + 1),
      "posix_spawn_file_actions_addclosefrom_np"));

  // Python's restore_signals=True, plus an empty signal mask: the program
  // starts as if from a shell, whatever this process blocked or ignored.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  MT_RETURN_IF_ERROR(
      SpawnSetup(posix_spawnattr_setsigdefault(spawn.attr(), &defaults),
                 "posix_spawnattr_setsigdefault"));
  MT_RETURN_IF_ERROR(
      SpawnSetup(posix_spawnattr_setsigmask(spawn.attr(), &empty_mask),
                 "posix_spawnattr_setsigmask"));
  MT_RETURN_IF_ERROR(SpawnSetup(
      posix_spawnattr_setflags(spawn.attr(),
                               POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK),
      "posix_spawnattr_setflags"));

  std::vector<char*> c_argv;
  for (const std::string& arg : argv) {
    c_argv.push_back(const_cast<char*>(arg.c_str()));
  }
  c_argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  std::vector<char*> c_env;
  char** envp = environ;
  if (options.env.has_value()) {
    for (const auto& [name, value] : *options.env) {
      env_strings.push_back(absl::StrCat(name, "=", value));
    }
    for (std::string& entry : env_strings) c_env.push_back(entry.data());
    c_env.push_back(nullptr);
    envp = c_env.data();
  }

  if (std::find(std::begin(redirects), std::end(redirects),
                Redirect::kInherit) != std::end(redirects)) {
    // The child writes straight to our stdout/stderr: text we buffered must
    // come out first, or it would appear after the child's (when piped).
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
  }

  pid_t pid = -1;
  // posix_spawnp returns the errno of a failed chdir or exec in the child (and
  // has reaped that child already).
  const int error =
      posix_spawnp(&pid, c_argv[0], actions, spawn.attr(), c_argv.data(), envp);
  if (error != 0) {
    if (options.cwd.has_value() && ::access(options.cwd->c_str(), X_OK) != 0) {
      return ErrnoStatus("cannot change directory to ", *options.cwd,
                         " to run ", argv[0]);
    }
    const bool searched = argv[0].find('/') == std::string::npos;
    return ErrnoStatusWithCode(
        error, absl::StrCat("cannot execute ", argv[0],
                            searched ? " (searched PATH)" : ""));
  }
  Subprocess process(argv, Child::Adopt(pid));
  process.stdin_ = std::move(parent_ends[STDIN_FILENO]);
  process.stdout_ = std::move(parent_ends[STDOUT_FILENO]);
  process.stderr_ = std::move(parent_ends[STDERR_FILENO]);
  return process;  // child_ends and dev_null close here: the child has its own.
}

absl::StatusOr<CompletedProcess> Subprocess::Communicate(
    absl::string_view input, absl::Duration timeout) {
  if (!input.empty() && !stdin_.valid()) {
    return absl::InvalidArgumentError(
        "Communicate: input given but stdin is not a pipe");
  }
  const absl::Time deadline = timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + timeout;
  CompletedProcess result;
  ScopedSigpipeBlock sigpipe_blocked;
  if (stdin_.valid()) {
    if (input.empty()) {
      stdin_.Close();
    } else if (::fcntl(stdin_.get(), F_SETFL, O_NONBLOCK) != 0) {
      // Non-blocking, so a write takes only what fits and poll() stays in
      // charge.
      return ErrnoStatus("fcntl O_NONBLOCK");
    }
  }
  size_t written = 0;
  bool timed_out = false;
  while (stdin_.valid() || stdout_.valid() || stderr_.valid()) {
    pollfd fds[3];
    int count = 0;
    if (stdin_.valid()) fds[count++] = {stdin_.get(), POLLOUT, 0};
    if (stdout_.valid()) fds[count++] = {stdout_.get(), POLLIN, 0};
    if (stderr_.valid()) fds[count++] = {stderr_.get(), POLLIN, 0};
    const int ready =
        ::poll(fds, static_cast<nfds_t>(count), PollTimeoutMs(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("poll child pipes");
    }
    if (ready == 0) {
      if (absl::Now() >= deadline) {
        timed_out = true;
        break;
      }
      continue;
    }
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == stdin_.get()) {
        const ssize_t n = ::write(stdin_.get(), input.data() + written,
                                  input.size() - written);
        if (n >= 0) {
          written += static_cast<size_t>(n);
          if (written == input.size()) stdin_.Close();
        } else if (errno == EPIPE) {
          // The child stopped reading (exited, or closed its stdin): like
          // Python, not an error; what it did with the rest is its business.
          sigpipe_blocked.NoteEpipe();
          stdin_.Close();
        } else if (errno != EINTR && errno != EAGAIN) {
          return ErrnoStatus("write to child stdin");
        }
      } else if (fds[i].fd == stdout_.get()) {
        MT_RETURN_IF_ERROR(Drain(stdout_, result.out));
      } else {
        MT_RETURN_IF_ERROR(Drain(stderr_, result.err));
      }
    }
  }
  if (!timed_out) {
    if (deadline == absl::InfiniteFuture()) {
      MT_ASSIGN_OR_RETURN(result.status, child_.Wait());
      return result;
    }
    MT_ASSIGN_OR_RETURN(std::optional<ExitStatus> status,
                        child_.WaitFor(deadline - absl::Now()));
    if (status.has_value()) {
      result.status = *status;
      return result;
    }
  }
  // Out of time: kill, reap, and say so.
  stdin_.Close();
  stdout_.Close();
  stderr_.Close();
  MT_ASSIGN_OR_RETURN(result.status, child_.KillAndWait(SIGKILL));
  result.timed_out = true;
  return result;
}

absl::Status Subprocess::Terminate() { return child_.Signal(SIGTERM); }

absl::Status Subprocess::Kill() { return child_.Signal(SIGKILL); }

absl::StatusOr<CompletedProcess> Run(const std::vector<std::string>& argv,
                                     const RunOptions& options) {
  SubprocessOptions spawn_options{
      .stdin_from =
          options.input.empty() ? Redirect::kDevNull : Redirect::kPipe,
      .stdout_to = Redirect::kPipe,
      .stderr_to = options.merge_stderr ? Redirect::kStdout : Redirect::kPipe,
      .cwd = options.cwd,
      .env = options.env,
  };
  MT_ASSIGN_OR_RETURN(Subprocess process,
                      Subprocess::Start(argv, spawn_options));
  return process.Communicate(options.input, options.timeout);
}

absl::StatusOr<ExitStatus> Call(const std::vector<std::string>& argv,
                                const SubprocessOptions& options) {
  if (options.stdin_from == Redirect::kPipe ||
      options.stdout_to == Redirect::kPipe ||
      options.stderr_to == Redirect::kPipe) {
    return absl::InvalidArgumentError(
        "Call does not read or write pipes (it could deadlock): use Run");
  }
  MT_ASSIGN_OR_RETURN(Subprocess process, Subprocess::Start(argv, options));
  return process.Wait();
}

absl::StatusOr<std::string> CheckOutput(const std::vector<std::string>& argv,
                                        const RunOptions& options) {
  MT_ASSIGN_OR_RETURN(CompletedProcess done, Run(argv, options));
  const std::string command = CommandLine(argv);
  if (done.timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(
        "command `", command, "` timed out after ",
        absl::FormatDuration(options.timeout), "; ", done.status.ToString()));
  }
  if (!done.status.success()) {
    constexpr size_t kTail = 1000;  // Enough to show why, not a whole log.
    const absl::string_view err = done.err;
    return absl::UnknownError(
        absl::StrCat("command `", command, "` ", done.status.ToString(),
                     err.empty() ? "" : "; stderr: ",
                     err.substr(err.size() > kTail ? err.size() - kTail : 0)));
  }
  return std::move(done.out);
}

}  // namespace multitask
