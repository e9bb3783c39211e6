// manager_fuzz.cc: a libFuzzer target for what a ManagerServer reads from an
// authenticated peer: frames (ReadFrame) and their pickles (Unpickle).
//
// Built and run by tools/fuzz_manager.sh (clang, -fsanitize=fuzzer); Bazel's
// manager_fuzz_test replays fixed inputs through the same function with g++.
// The property: any bytes end in a value or a clean error, never a crash, a
// leak, undefined behaviour or an unbounded allocation.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/fd.h"
#include "common/manager_wire.h"
#include "common/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The input fits a socket buffer (the script passes -max_len=16384).
  if (size > 65536) return 0;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 0;
  multitask::UniqueFd writer(fds[0]);
  multitask::UniqueFd reader(fds[1]);
  const int buffer = 1 << 18;
  ::setsockopt(writer.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
  if (!multitask::WriteAll(
           writer.get(), std::string(reinterpret_cast<const char*>(data), size))
           .ok()) {
    return 0;
  }
  writer.Close();
  multitask::PickleLimits server_limits;
  const multitask::PickleLimits client_limits = multitask::ClientPickleLimits();
  while (true) {
    absl::StatusOr<std::string> frame =
        multitask::ReadFrame(reader.get(), 4096);
    if (!frame.ok()) break;
    absl::StatusOr<multitask::PyValue> v =
        multitask::Unpickle(*frame, server_limits);
    if (v.ok()) {
      // What the server does with a request: print it, pickle it back.
      (void)v->Repr();
      (void)multitask::Unpickle(multitask::Pickle(*v), server_limits);
    }
    (void)multitask::Unpickle(*frame, client_limits);
  }
  // The whole input as one pickle, too.
  (void)multitask::Unpickle(
      absl::string_view(reinterpret_cast<const char*>(data), size),
      client_limits);
  return 0;
}
