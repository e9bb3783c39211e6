#include "common/testing/run_in_child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <utility>

#include "common/child.h"
#include "common/fd.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask::testing {

absl::StatusOr<ChildRun> RunInChild(std::function<int()> fn,
                                    absl::Duration timeout) {
  MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
                        pipe.read_end.Close();
                        if (::dup2(pipe.write_end.get(), STDOUT_FILENO) < 0 ||
                            ::dup2(pipe.write_end.get(), STDERR_FILENO) < 0) {
                          return 127;
                        }
                        pipe.write_end.Close();
                        return fn();
                      }));
  pipe.write_end.Close();

  // Read until EOF or the deadline, whichever is first.
  ChildRun run;
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[16 * 1024];
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      run.timed_out = true;
      break;
    }
    pollfd entry{.fd = pipe.read_end.get(), .events = POLLIN, .revents = 0};
    const int ready = ::poll(
        &entry, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll");
    if (ready <= 0) continue;
    MT_ASSIGN_OR_RETURN(ssize_t got, RetryOnEintr("read", [&] {
                          return ::read(pipe.read_end.get(), buffer,
                                        sizeof(buffer));
                        }));
    if (got == 0) break;
    run.output.append(buffer, static_cast<size_t>(got));
  }
  if (run.timed_out) {
    MT_ASSIGN_OR_RETURN(run.status, child.KillAndWait(SIGKILL));
  } else {
    MT_ASSIGN_OR_RETURN(run.status, child.Wait());
  }
  return run;
}

}  // namespace multitask::testing
