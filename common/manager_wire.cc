#include "common/manager_wire.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask {
namespace {

constexpr absl::string_view kChallenge = "#CHALLENGE#";
constexpr absl::string_view kWelcome = "#WELCOME#";
constexpr absl::string_view kFailure = "#FAILURE#";
constexpr absl::string_view kSha256Prefix = "{sha256}";
constexpr size_t kRandomBytes = 40;  // as CPython 3.12+

absl::Status RecvExactly(int fd, char* buf, size_t size, size_t* got) {
  *got = 0;
  while (*got < size) {
    MT_ASSIGN_OR_RETURN(ssize_t n, RetryOnEintr("recv", [&] {
                          return ::recv(fd, buf + *got, size - *got, 0);
                        }));
    if (n == 0) return absl::OutOfRangeError("end of stream");
    *got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t have = 0;
  while (have < n) {
    MT_ASSIGN_OR_RETURN(ssize_t got, RetryOnEintr("getrandom", [&] {
                          return ::getrandom(out.data() + have, n - have, 0);
                        }));
    have += static_cast<size_t>(got);
  }
  return out;
}

absl::StatusOr<std::string> ReadHandshakeFrame(int fd) {
  QuickAck(fd);
  absl::StatusOr<std::string> frame = ReadFrame(fd, kHandshakeMaxFrame);
  if (!frame.ok()) {
    return absl::UnavailableError(
        absl::StrCat("handshake: ", frame.status().message()));
  }
  return frame;
}

}  // namespace

std::string FrameHeader(uint64_t size) {
  std::string header;
  auto put_be = [&header](uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) {
      header.push_back(static_cast<char>(v >> (8 * i)));
    }
  };
  if (size > 0x7fffffff) {
    put_be(0xffffffffu, 4);
    put_be(size, 8);
  } else {
    put_be(size, 4);
  }
  return header;
}

absl::Status WriteFrame(int fd, absl::string_view payload) {
  std::string frame = FrameHeader(payload.size());
  frame.append(payload.data(), payload.size());
  size_t sent = 0;
  while (sent < frame.size()) {
    MT_ASSIGN_OR_RETURN(ssize_t n, RetryOnEintr("send", [&] {
                          return ::send(fd, frame.data() + sent,
                                        frame.size() - sent, MSG_NOSIGNAL);
                        }));
    sent += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFrame(int fd, size_t max_size) {
  char header[4];
  size_t got = 0;
  if (absl::Status s = RecvExactly(fd, header, 4, &got); !s.ok()) {
    if (absl::IsOutOfRange(s)) {
      if (got == 0) return absl::OutOfRangeError("connection closed");
      return absl::DataLossError("connection closed inside a frame header");
    }
    return s;
  }
  int64_t size = 0;
  for (char c : header) size = (size << 8) | static_cast<uint8_t>(c);
  if (size == 0xffffffff) {  // -1: the large-frame form
    char big[8];
    if (absl::Status s = RecvExactly(fd, big, 8, &got); !s.ok()) {
      if (absl::IsOutOfRange(s)) {
        return absl::DataLossError("connection closed inside a frame header");
      }
      return s;
    }
    uint64_t big_size = 0;
    for (char c : big) big_size = (big_size << 8) | static_cast<uint8_t>(c);
    if (big_size > max_size) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "frame of ", big_size, " bytes is over the limit of ", max_size));
    }
    size = static_cast<int64_t>(big_size);
  } else if (size & 0x80000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("negative frame length ", static_cast<int32_t>(size)));
  }
  if (static_cast<uint64_t>(size) > max_size) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "frame of ", size, " bytes is over the limit of ", max_size));
  }
  std::string payload(static_cast<size_t>(size), '\0');
  if (absl::Status s = RecvExactly(fd, payload.data(), payload.size(), &got);
      !s.ok()) {
    if (absl::IsOutOfRange(s)) {
      return absl::DataLossError(absl::StrCat("connection closed after ", got,
                                              " of ", size, " payload bytes"));
    }
    return s;
  }
  return payload;
}

std::string Hmac(absl::string_view digest, absl::string_view key,
                 absl::string_view message) {
  const EVP_MD* md = digest == "md5"      ? EVP_md5()
                     : digest == "sha256" ? EVP_sha256()
                                          : nullptr;
  if (md == nullptr) return "";
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (HMAC(md, key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), out, &out_len) == nullptr) {
    return "";
  }
  return std::string(reinterpret_cast<char*>(out), out_len);
}

absl::StatusOr<std::string> AnswerFor(absl::string_view key,
                                      absl::string_view challenge) {
  if (challenge.size() == 20 || challenge.size() == 16) {
    return Hmac("md5", key, challenge);  // a legacy (pre-3.12) challenge
  }
  if (absl::StartsWith(challenge, kSha256Prefix)) {
    return absl::StrCat(kSha256Prefix, Hmac("sha256", key, challenge));
  }
  if (absl::StartsWith(challenge, "{md5}")) {
    return absl::StrCat("{md5}", Hmac("md5", key, challenge));
  }
  return absl::PermissionDeniedError(
      "challenge with an unsupported digest (we speak md5 and sha256)");
}

bool VerifyAnswer(absl::string_view key, absl::string_view challenge,
                  absl::string_view response) {
  std::string digest = "md5";
  absl::string_view mac = response;
  if (response.size() != 16 && response.size() != 20) {
    if (absl::ConsumePrefix(&mac, kSha256Prefix)) {
      digest = "sha256";
    } else if (!absl::ConsumePrefix(&mac, "{md5}")) {
      return false;
    }
  }
  const std::string expected = Hmac(digest, key, challenge);
  return !expected.empty() && expected.size() == mac.size() &&
         CRYPTO_memcmp(expected.data(), mac.data(), mac.size()) == 0;
}

absl::Status DeliverChallenge(int fd, absl::string_view key,
                              std::string* digest) {
  MT_ASSIGN_OR_RETURN(std::string random, RandomBytes(kRandomBytes));
  const std::string challenge = absl::StrCat(kSha256Prefix, random);
  MT_RETURN_IF_ERROR(WriteFrame(fd, absl::StrCat(kChallenge, challenge)));
  MT_ASSIGN_OR_RETURN(std::string response, ReadHandshakeFrame(fd));
  if (!VerifyAnswer(key, challenge, response)) {
    (void)WriteFrame(fd, kFailure);  // the peer may be gone already
    return absl::PermissionDeniedError(
        "authentication failed: the peer's answer to our challenge is wrong "
        "(wrong auth key?)");
  }
  if (digest != nullptr) {
    *digest = absl::StartsWith(response, kSha256Prefix) ? "sha256"
              : absl::StartsWith(response, "{md5}")     ? "md5"
                                                        : "md5 (legacy)";
  }
  return WriteFrame(fd, kWelcome);
}

absl::Status AnswerChallenge(int fd, absl::string_view key) {
  MT_ASSIGN_OR_RETURN(std::string message, ReadHandshakeFrame(fd));
  absl::string_view challenge = message;
  if (!absl::ConsumePrefix(&challenge, kChallenge) || challenge.size() < 20) {
    return absl::PermissionDeniedError(
        "authentication failed: expected a challenge from the peer");
  }
  MT_ASSIGN_OR_RETURN(std::string answer, AnswerFor(key, challenge));
  MT_RETURN_IF_ERROR(WriteFrame(fd, answer));
  MT_ASSIGN_OR_RETURN(std::string verdict, ReadHandshakeFrame(fd));
  if (verdict != kWelcome) {
    return absl::PermissionDeniedError(
        "authentication failed: the peer rejected our answer (wrong auth "
        "key?)");
  }
  return absl::OkStatus();
}

absl::Status ServerHandshake(int fd, absl::string_view key,
                             std::string* digest) {
  if (absl::Status s = DeliverChallenge(fd, key, digest); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("client failed our challenge: ", s.message()));
  }
  if (absl::Status s = AnswerChallenge(fd, key); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("answering the client: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status ClientHandshake(int fd, absl::string_view key) {
  if (absl::Status s = AnswerChallenge(fd, key); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("the server rejected us: ", s.message()));
  }
  if (absl::Status s = DeliverChallenge(fd, key); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("the server failed our "
                                               "challenge: ",
                                               s.message()));
  }
  return absl::OkStatus();
}

void QuickAck(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

absl::Status SetNoDelay(int fd) {
  const int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return ErrnoStatus("setsockopt TCP_NODELAY");
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> ConnectTcp(absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == address.npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", address, "' is not host:port"));
  }
  const std::string host(address.substr(0, colon));
  const std::string service = absl::StrCat(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve '", host, "': ", gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError("no address");
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                         ai->ai_protocol));
    if (!fd.valid()) {
      last = ErrnoStatus("socket");
      continue;
    }
    absl::StatusOr<int> rc = RetryOnEintr("connect", [&] {
      return ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    });
    if (!rc.ok()) {
      last =
          absl::Status(rc.status().code(),
                       absl::StrCat(rc.status().message(), " (", address, ")"));
      continue;
    }
    ::freeaddrinfo(found);
    MT_RETURN_IF_ERROR(SetNoDelay(fd.get()));
    return fd;
  }
  ::freeaddrinfo(found);
  return last;
}

absl::StatusOr<UniqueFd> ListenTcp(absl::string_view host, int port,
                                   int backlog) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const std::string host_str = host.empty() ? "0.0.0.0" : std::string(host);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host_str.c_str(), nullptr, &hints, &found);
      rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve '", host_str, "': ", gai_strerror(rc)));
  }
  addr.sin_addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
  ::freeaddrinfo(found);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoStatus("bind ", host_str, ":", port);
  }
  if (::listen(fd.get(), backlog) != 0) return ErrnoStatus("listen");
  return fd;
}

absl::StatusOr<int> LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoStatus("getsockname");
  }
  return ntohs(addr.sin_port);
}

}  // namespace multitask
