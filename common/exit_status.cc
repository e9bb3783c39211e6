#include "common/exit_status.h"

#include <string.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"

namespace multitask {

std::string SignalName(int signal_number) {
  // sigabbrev_np (glibc 2.32+) gives "KILL" for 9, or null for an unknown
  // number.
  if (const char* abbrev = sigabbrev_np(signal_number); abbrev != nullptr) {
    return absl::StrCat("SIG", abbrev);
  }
  return absl::StrCat("signal ", signal_number);
}

ExitStatus ExitStatus::FromWaitStatus(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    return Killed(WTERMSIG(wait_status), WCOREDUMP(wait_status));
  }
  return Exited(WEXITSTATUS(wait_status));
}

ExitStatus ExitStatus::Exited(int code) {
  return ExitStatus(false, code, false);
}

ExitStatus ExitStatus::Killed(int signal_number, bool core_dumped) {
  return ExitStatus(true, signal_number, core_dumped);
}

std::string ExitStatus::ToString() const {
  if (exited()) return absl::StrCat("exited with code ", value_);
  return absl::StrCat("killed by signal ", value_, " (", SignalName(value_),
                      ")", core_dumped_ ? ", core dumped" : "");
}

}  // namespace multitask
