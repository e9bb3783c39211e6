// fd.h: file descriptors that close themselves, CLOEXEC pipes, and whole
// reads/writes.
//
//   MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
//   // ... fork; the child writes to pipe.write_end, the parent reads
//   pipe.read_end: pipe.write_end.Close();                      // or the
//   parent never sees EOF MT_ASSIGN_OR_RETURN(std::string all,
//   ReadAll(pipe.read_end.get()));
//
// Every descriptor the course creates has O_CLOEXEC, so a program started with
// exec inherits only what it was meant to (fds 0, 1 and 2).

#ifndef MULTITASK_COMMON_FD_H_
#define MULTITASK_COMMON_FD_H_

#include <sys/types.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace multitask {

// Owns one file descriptor and closes it when destroyed. Move-only. -1 means
// empty.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Close(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release();
  // Closes now (errors from close are ignored: the descriptor is gone either
  // way).
  void Close();

 private:
  int fd_ = -1;
};

// The two ends of a pipe(2).
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

// A pipe whose ends are O_CLOEXEC, plus any extra pipe2() `flags` (e.g.
// O_NONBLOCK).
absl::StatusOr<Pipe> MakePipe(int flags = 0);

// Writes all of `data`, retrying short writes and EINTR.
absl::Status WriteAll(int fd, absl::string_view data);

// Reads until end of file. Fails with ResourceExhausted past `max_bytes`.
absl::StatusOr<std::string> ReadAll(int fd, size_t max_bytes = size_t{1} << 30);

// Reads exactly `size` bytes; OutOfRange if end of file comes first.
absl::StatusOr<std::string> ReadExactly(int fd, size_t size);

// Writes a plain value (int, struct of ints, ...) as its bytes; read it back
// with ReadValue<T>. For messages between a parent and a child it forked (same
// binary).
template <typename T>
absl::Status WriteValue(int fd, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>,
                "WriteValue needs a plain type");
  return WriteAll(fd, absl::string_view(reinterpret_cast<const char*>(&value),
                                        sizeof(value)));
}

template <typename T>
absl::StatusOr<T> ReadValue(int fd) {
  static_assert(std::is_trivially_copyable_v<T>,
                "ReadValue needs a plain type");
  absl::StatusOr<std::string> bytes = ReadExactly(fd, sizeof(T));
  if (!bytes.ok()) return bytes.status();
  T value;
  std::memcpy(&value, bytes->data(), sizeof(T));
  return value;
}

}  // namespace multitask

#endif  // MULTITASK_COMMON_FD_H_
