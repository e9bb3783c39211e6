// manager_wire.h: the bytes of CPython's multiprocessing.connection, for a
// socket: length-prefixed frames, the mutual HMAC handshake, and TCP helpers.
//
//   MT_ASSIGN_OR_RETURN(UniqueFd fd, ConnectTcp("127.0.0.1:50000"));
//   MT_RETURN_IF_ERROR(ClientHandshake(fd.get(), "abc"));  // as Client()
//   MT_RETURN_IF_ERROR(WriteFrame(fd.get(), Pickle(request)));
//   MT_ASSIGN_OR_RETURN(std::string reply, ReadFrame(fd.get(), kMaxFrame));
//
// Frames: a 4-byte big-endian signed length, then the payload; a payload over
// 0x7fffffff bytes has the length -1 (ff ff ff ff) and then an 8-byte
// big-endian length. CPython's reader has no size limit after the handshake;
// ReadFrame always takes one.
//
// Handshake (each side proves it knows the key; nothing is encrypted):
//   server -> client  "#CHALLENGE#{sha256}" + 40 random bytes
//   client -> server  HMAC of everything after "#CHALLENGE#"
//   server -> client  "#WELCOME#" or "#FAILURE#"
//   ... and the same again with the roles swapped.
// An answer is either "{sha256}" + HMAC-SHA256 (CPython 3.12+) or a raw
// 16-byte HMAC-MD5 (CPython up to 3.11, which treats the whole text after
// "#CHALLENGE#" as an opaque challenge). Both are accepted, compared in
// constant time. Challenges come from getrandom().
//
// All functions block; they retry EINTR and never raise SIGPIPE (MSG_NOSIGNAL).

#ifndef MULTITASK_COMMON_MANAGER_WIRE_H_
#define MULTITASK_COMMON_MANAGER_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/fd.h"

namespace multitask {

// Our default limit for one frame after the handshake.
inline constexpr size_t kDefaultMaxFrame = size_t{16} << 20;
// CPython's limit during the handshake.
inline constexpr size_t kHandshakeMaxFrame = 256;

// The 4- or 12-byte header for a payload of `size` bytes.
std::string FrameHeader(uint64_t size);

// Sends header + payload with one send() call (looping only on a short
// write): two small writes would meet Nagle's algorithm and the peer's delayed
// ACK, a ~40 ms stall.
absl::Status WriteFrame(int fd, absl::string_view payload);

// Reads one frame. Errors: OutOfRange "connection closed" on end of file
// before the first byte (a clean close); DataLoss if it ends inside a frame;
// ResourceExhausted if the length is over `max_size`; InvalidArgument for a
// negative length other than -1.
absl::StatusOr<std::string> ReadFrame(int fd, size_t max_size);

// HMAC(key, message) with "md5" or "sha256"; empty for another name.
std::string Hmac(absl::string_view digest, absl::string_view key,
                 absl::string_view message);

// The answer CPython would give to a challenge payload (the bytes after
// "#CHALLENGE#"): "{name}" + HMAC-name for a "{name}"-prefixed payload, raw
// HMAC-MD5 for a legacy 20-byte one.
absl::StatusOr<std::string> AnswerFor(absl::string_view key,
                                      absl::string_view challenge);

// Whether `response` is a valid answer to `challenge` (constant-time
// comparison).
bool VerifyAnswer(absl::string_view key, absl::string_view challenge,
                  absl::string_view response);

// One half of the handshake: we challenge the peer. PermissionDenied if its
// answer is wrong (after telling it "#FAILURE#"). On success `digest` (if
// not null) says how the peer answered: "sha256" (CPython 3.12+, us) or
// "md5 (legacy)" (CPython 3.11 and older).
absl::Status DeliverChallenge(int fd, absl::string_view key,
                              std::string* digest = nullptr);
// The other half: we answer the peer's challenge. PermissionDenied if the peer
// says "#FAILURE#".
absl::Status AnswerChallenge(int fd, absl::string_view key);

// Server side: DeliverChallenge then AnswerChallenge. Client side: the
// reverse. Errors say which side rejected whom, e.g. "authentication failed:
// the server rejected our answer (wrong auth key?)".
absl::Status ServerHandshake(int fd, absl::string_view key,
                             std::string* digest = nullptr);
absl::Status ClientHandshake(int fd, absl::string_view key);

// "host:port" -> a connected TCP socket with TCP_NODELAY (IPv4 or a name).
absl::StatusOr<UniqueFd> ConnectTcp(absl::string_view address);

// A listening TCP socket on host:port (port 0: the kernel picks one; read it
// back with LocalPort).
absl::StatusOr<UniqueFd> ListenTcp(absl::string_view host, int port,
                                   int backlog = 128);
absl::StatusOr<int> LocalPort(int fd);

// Sets TCP_NODELAY (small frames leave at once).
absl::Status SetNoDelay(int fd);

// Asks the kernel to acknowledge the next data at once (TCP_QUICKACK, which
// Linux clears by itself, so call it before each read that matters). A peer
// without TCP_NODELAY that sends two small writes in a row (CPython's client:
// "#WELCOME#" then its first request) otherwise waits for our delayed ACK,
// ~40 ms, before its second write leaves.
void QuickAck(int fd);

}  // namespace multitask

#endif  // MULTITASK_COMMON_MANAGER_WIRE_H_
