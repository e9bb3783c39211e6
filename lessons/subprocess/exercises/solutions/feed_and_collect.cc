// Reference solution for feed_and_collect.h. Look only after trying.

#include "lessons/subprocess/exercises/feed_and_collect.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "common/syscall.h"

namespace multitask::subprocess_exercise {
namespace {

// Blocks SIGPIPE in this thread while alive, so that a write to a program
// that stopped reading fails with EPIPE instead of killing us. A SIGPIPE left
// pending by such a write is consumed before the mask is restored.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old_);
  }
  ~SigpipeBlocked() {
    if (got_epipe_ && !sigismember(&old_, SIGPIPE)) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      const timespec now{0, 0};
      sigtimedwait(&pipe_only, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  void NoteEpipe() { got_epipe_ = true; }

 private:
  sigset_t old_;
  bool got_epipe_ = false;
};

}  // namespace

absl::StatusOr<std::string> FeedAndCollect(const std::vector<std::string>& argv,
                                           absl::string_view input) {
  MT_ASSIGN_OR_RETURN(Subprocess child,
                      Subprocess::Start(argv, {
                                                  .stdin_from = Redirect::kPipe,
                                                  .stdout_to = Redirect::kPipe,
                                              }));
  SigpipeBlocked sigpipe_blocked;
  // Non-blocking: a write takes what fits in the pipe and never stalls us.
  if (::fcntl(child.stdin_fd(), F_SETFL, O_NONBLOCK) != 0) {
    return ErrnoStatus("fcntl O_NONBLOCK");
  }
  if (input.empty()) child.CloseStdin();

  std::string output;
  size_t written = 0;
  bool stdout_open = true;
  char buffer[64 * 1024];
  while (child.stdin_fd() >= 0 || stdout_open) {
    pollfd fds[2];
    nfds_t count = 0;
    if (child.stdin_fd() >= 0) fds[count++] = {child.stdin_fd(), POLLOUT, 0};
    if (stdout_open) fds[count++] = {child.stdout_fd(), POLLIN, 0};
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("poll");
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == child.stdin_fd()) {
        const ssize_t n = ::write(child.stdin_fd(), input.data() + written,
                                  input.size() - written);
        if (n >= 0) {
          written += static_cast<size_t>(n);
          if (written == input.size()) child.CloseStdin();  // cat sees EOF
        } else if (errno == EPIPE) {
          sigpipe_blocked.NoteEpipe();  // It stopped reading: not an error.
          child.CloseStdin();
        } else if (errno != EAGAIN && errno != EINTR) {
          return ErrnoStatus("write to ", argv[0]);
        }
      } else {
        const ssize_t n = ::read(child.stdout_fd(), buffer, sizeof(buffer));
        if (n > 0) {
          output.append(buffer, static_cast<size_t>(n));
        } else if (n == 0) {
          stdout_open = false;  // Every writer has closed it.
        } else if (errno != EINTR && errno != EAGAIN) {
          return ErrnoStatus("read from ", argv[0]);
        }
      }
    }
  }
  MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
  if (!status.success()) {
    return absl::UnknownError(
        absl::StrCat(CommandLine(argv), " ", status.ToString()));
  }
  return output;
}

}  // namespace multitask::subprocess_exercise
