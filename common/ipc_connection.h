// ipc_connection.h: Python's multiprocessing.Pipe(): two connected ends that
// send and receive whole messages (not bytes), both ways.
//
//   MT_ASSIGN_OR_RETURN(ipc::ConnectionPair pipe, ipc::MakeConnectionPair());
//   MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
//     pipe.parent_end.Close();                   // each process keeps one end
//     return pipe.child_end.Send("hello").ok() ? 0 : 1;
//   }));
//   pipe.child_end.Close();
//   MT_ASSIGN_OR_RETURN(std::string message, pipe.parent_end.Recv());
//
// Underneath: a socketpair(AF_UNIX, SOCK_STREAM) (both fds O_CLOEXEC), and
// each message is a frame: its length as 4 bytes, then its bytes. A reader
// gets exactly what one Send sent, however the kernel split it.
//
// Errors: Recv returns OutOfRange "connection closed" when the other end was
// closed (by Close, by exit or by a kill) between messages, DataLoss if it
// died in the middle of a frame, DeadlineExceeded after `timeout`. Send fails
// (an EPIPE status, never the SIGPIPE signal) when the other end is closed,
// and InvalidArgument for a message over 1 GiB.
//
// Like Python's, one Connection end is meant for one process (or thread) at a
// time: two processes sending on the same end at once can interleave their
// frames' bytes. Move-only; closes its descriptor when destroyed.

#ifndef MULTITASK_COMMON_IPC_CONNECTION_H_
#define MULTITASK_COMMON_IPC_CONNECTION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fd.h"

namespace multitask::ipc {

class Connection {
 public:
  static constexpr size_t kMaxMessageBytes = size_t{1} << 30;

  Connection() = default;
  explicit Connection(UniqueFd fd) : fd_(std::move(fd)) {}

  absl::Status Send(absl::string_view message);
  absl::StatusOr<std::string> Recv(
      absl::Duration timeout = absl::InfiniteDuration());
  // True if a message (or end of file) can be read within `timeout`.
  absl::StatusOr<bool> Poll(absl::Duration timeout = absl::ZeroDuration());
  void Close() { fd_.Close(); }
  int fd() const { return fd_.get(); }

 private:
  // Reads exactly `size` bytes by `deadline`; `got` counts what arrived.
  absl::Status ReadFully(char* data, size_t size, absl::Time deadline,
                         size_t* got);
  UniqueFd fd_;
};

struct ConnectionPair {
  Connection parent_end;
  Connection child_end;
};

// duplex = false: child_end only sends and parent_end only receives (Python's
// Pipe(duplex=False) returns (reader, writer)).
absl::StatusOr<ConnectionPair> MakeConnectionPair(bool duplex = true);

}  // namespace multitask::ipc

#endif  // MULTITASK_COMMON_IPC_CONNECTION_H_
