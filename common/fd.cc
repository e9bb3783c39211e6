#include "common/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.release();
  }
  return *this;
}

int UniqueFd::release() { return std::exchange(fd_, -1); }

void UniqueFd::Close() {
  // Never retry close() on EINTR: on Linux the descriptor is already released.
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

absl::StatusOr<Pipe> MakePipe(int flags) {
  int fds[2];
  if (::pipe2(fds, flags | O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    MT_ASSIGN_OR_RETURN(ssize_t written, RetryOnEintr("write", [&] {
                          return ::write(fd, data.data(), data.size());
                        }));
    data.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAll(int fd, size_t max_bytes) {
  std::string result;
  char buffer[64 * 1024];
  while (true) {
    MT_ASSIGN_OR_RETURN(ssize_t got, RetryOnEintr("read", [&] {
                          return ::read(fd, buffer, sizeof(buffer));
                        }));
    if (got == 0) return result;
    if (result.size() + static_cast<size_t>(got) > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("read more than the limit of ", max_bytes, " bytes"));
    }
    result.append(buffer, static_cast<size_t>(got));
  }
}

absl::StatusOr<std::string> ReadExactly(int fd, size_t size) {
  std::string result(size, '\0');
  size_t have = 0;
  while (have < size) {
    MT_ASSIGN_OR_RETURN(ssize_t got, RetryOnEintr("read", [&] {
                          return ::read(fd, result.data() + have, size - have);
                        }));
    if (got == 0) {
      return absl::OutOfRangeError(
          absl::StrCat("end of file after ", have, " of ", size, " bytes"));
    }
    have += static_cast<size_t>(got);
  }
  return result;
}

}  // namespace multitask
