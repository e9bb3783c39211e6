// syscall.h: checked system calls that report failures as absl::Status.
//
// Every system call in the course goes through these helpers (TLPI's lesson:
// never ignore a return value, and never hide a call inside assert(), which
// NDEBUG removes).
//
//   int fd = open(path, O_RDONLY | O_CLOEXEC);
//   if (fd < 0) return ErrnoStatus("open ", path);   // "open /x: No such file
//   ... [ENOENT]"
//
//   MT_ASSIGN_OR_RETURN(ssize_t n, RetryOnEintr([&] { return read(fd, buf,
//   size); }));

#ifndef MULTITASK_COMMON_SYSCALL_H_
#define MULTITASK_COMMON_SYSCALL_H_

#include <cerrno>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace multitask {

// The status for a failed call that set `err` (errno): the code follows the
// errno (ENOENT -> NotFound, EAGAIN -> Unavailable, ...) and the message reads
// "<what>: <strerror> [<ENAME>]".
absl::Status ErrnoStatusWithCode(int err, absl::string_view what);

// As above with the current errno; the arguments are concatenated with
// absl::StrCat.
template <typename... Args>
absl::Status ErrnoStatus(const Args&... what) {
  const int err =
      errno;  // Read errno before StrCat can allocate and change it.
  return ErrnoStatusWithCode(err, absl::StrCat(what...));
}

// The symbolic name of an errno value, e.g. "ENOENT" (or "errno 1234" if
// unknown).
std::string ErrnoName(int err);

// Calls `call` until it does not fail with EINTR. `call` returns a signed
// integer where -1 means failure with errno set (the convention of read, write,
// waitpid, ...). Returns the call's result, or the errno status for `what`.
template <typename Call>
auto RetryOnEintr(absl::string_view what, Call&& call)
    -> absl::StatusOr<std::invoke_result_t<Call&>> {
  while (true) {
    auto result = call();
    if (result != -1) return result;
    if (errno != EINTR) return ErrnoStatus(what);
  }
}

}  // namespace multitask

#endif  // MULTITASK_COMMON_SYSCALL_H_
