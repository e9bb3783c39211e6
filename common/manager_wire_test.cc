#include "common/manager_wire.h"

#include <sys/socket.h>

#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "common/fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::HasSubstr;

struct SocketPair {
  UniqueFd a;
  UniqueFd b;
};

SocketPair MakeSocketPair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

TEST(FrameTest, HeaderIsBigEndianWithTheLargeForm) {
  EXPECT_EQ(absl::BytesToHexString(FrameHeader(5)), "00000005");
  EXPECT_EQ(absl::BytesToHexString(FrameHeader(0x7fffffff)), "7fffffff");
  EXPECT_EQ(absl::BytesToHexString(FrameHeader(0x80000000ull)),
            "ffffffff0000000080000000");
}

TEST(FrameTest, RoundTrip) {
  SocketPair p = MakeSocketPair();
  ASSERT_TRUE(WriteFrame(p.a.get(), "hello").ok());
  ASSERT_TRUE(WriteFrame(p.a.get(), "").ok());
  EXPECT_EQ(*ReadFrame(p.b.get(), 100), "hello");
  EXPECT_EQ(*ReadFrame(p.b.get(), 100), "");
  p.a.Close();
  EXPECT_TRUE(absl::IsOutOfRange(ReadFrame(p.b.get(), 100).status()));
}

TEST(FrameTest, ReadsTheLargeFormUnderTheLimit) {
  SocketPair p = MakeSocketPair();
  const std::string frame =
      absl::HexStringToBytes("ffffffff0000000000000003") + "abc";
  ASSERT_TRUE(WriteAll(p.a.get(), frame).ok());
  EXPECT_EQ(*ReadFrame(p.b.get(), 100), "abc");
}

TEST(FrameTest, RefusesOversizedNegativeAndTruncated) {
  {
    SocketPair p = MakeSocketPair();
    ASSERT_TRUE(WriteAll(p.a.get(), FrameHeader(1000)).ok());
    absl::Status s = ReadFrame(p.b.get(), 999).status();
    EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  }
  {
    SocketPair p = MakeSocketPair();
    ASSERT_TRUE(WriteAll(p.a.get(), FrameHeader(0x100000000ull)).ok());
    EXPECT_TRUE(absl::IsResourceExhausted(ReadFrame(p.b.get(), 999).status()));
  }
  {
    SocketPair p = MakeSocketPair();
    ASSERT_TRUE(WriteAll(p.a.get(), absl::HexStringToBytes("fffffffe")).ok());
    EXPECT_TRUE(absl::IsInvalidArgument(ReadFrame(p.b.get(), 999).status()));
  }
  {
    SocketPair p = MakeSocketPair();
    ASSERT_TRUE(WriteAll(p.a.get(), FrameHeader(10) + "abc").ok());
    p.a.Close();
    absl::Status s = ReadFrame(p.b.get(), 999).status();
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  }
  {
    SocketPair p = MakeSocketPair();
    ASSERT_TRUE(WriteAll(p.a.get(), std::string("\0\0", 2)).ok());
    p.a.Close();
    EXPECT_TRUE(absl::IsDataLoss(ReadFrame(p.b.get(), 999).status()));
  }
}

// Known answers, computed with Python's hmac module.
TEST(HmacTest, MatchesPython) {
  // hmac.new(b'abc', b'x'*20, 'md5').hexdigest()
  EXPECT_EQ(absl::BytesToHexString(Hmac("md5", "abc", std::string(20, 'x'))),
            "77debd1517b7b6290ade7300a628cc63");
  // hmac.new(b'abc', b'{sha256}' + b'x'*40, 'sha256').hexdigest()
  EXPECT_EQ(absl::BytesToHexString(
                Hmac("sha256", "abc", "{sha256}" + std::string(40, 'x'))),
            "72a3d08960097bf922aeab98f1c5848c9f3f2e5bd5f0e690fb11c992e0d1a43a");
  EXPECT_EQ(Hmac("sha1", "abc", "x"), "");
}

TEST(HmacTest, AnswersBothChallengeForms) {
  const std::string legacy(20, 'y');
  EXPECT_EQ(*AnswerFor("k", legacy), Hmac("md5", "k", legacy));
  const std::string modern = "{sha256}" + std::string(40, 'y');
  const std::string answer = *AnswerFor("k", modern);
  EXPECT_EQ(answer, "{sha256}" + Hmac("sha256", "k", modern));
  EXPECT_TRUE(VerifyAnswer("k", modern, answer));
  // A pre-3.12 client answers our {sha256} challenge with raw MD5 of it all.
  EXPECT_TRUE(VerifyAnswer("k", modern, Hmac("md5", "k", modern)));
  EXPECT_FALSE(VerifyAnswer("other", modern, answer));
  EXPECT_FALSE(VerifyAnswer("k", modern, "{sha256}short"));
  EXPECT_FALSE(VerifyAnswer("k", modern, "{sha1}" + std::string(20, 'z')));
  EXPECT_FALSE(AnswerFor("k", "{sha1}" + std::string(40, 'y')).ok());
}

TEST(HandshakeTest, SameKeyBothSidesWelcome) {
  SocketPair p = MakeSocketPair();
  absl::Status server_status;
  std::thread server(
      [&] { server_status = ServerHandshake(p.a.get(), "secret"); });
  absl::Status client_status = ClientHandshake(p.b.get(), "secret");
  server.join();
  EXPECT_TRUE(server_status.ok()) << server_status;
  EXPECT_TRUE(client_status.ok()) << client_status;
}

TEST(HandshakeTest, WrongKeyRejectedWithAClearMessageOnBothSides) {
  SocketPair p = MakeSocketPair();
  absl::Status server_status;
  std::thread server(
      [&] { server_status = ServerHandshake(p.a.get(), "secret"); });
  absl::Status client_status = ClientHandshake(p.b.get(), "wrong");
  server.join();
  EXPECT_TRUE(absl::IsPermissionDenied(server_status)) << server_status;
  EXPECT_THAT(server_status.message(), HasSubstr("wrong auth key"));
  EXPECT_TRUE(absl::IsPermissionDenied(client_status)) << client_status;
  EXPECT_THAT(client_status.message(), HasSubstr("rejected"));
}

TEST(HandshakeTest, ClientRejectsAnImpostorServerThatLetsEveryoneIn) {
  // The handshake is mutual: a server that does not know our key cannot pass
  // our challenge, even if it welcomes us.
  SocketPair p = MakeSocketPair();
  absl::Status impostor_status;
  std::thread impostor([&] {
    (void)WriteFrame(p.a.get(), "#CHALLENGE#" + std::string(20, 'z'));
    (void)ReadFrame(p.a.get(), 256);
    (void)WriteFrame(p.a.get(), "#WELCOME#");
    impostor_status = AnswerChallenge(p.a.get(), "not the key");
  });
  absl::Status client_status = ClientHandshake(p.b.get(), "secret");
  impostor.join();
  EXPECT_TRUE(absl::IsPermissionDenied(client_status)) << client_status;
  EXPECT_THAT(client_status.message(), HasSubstr("failed our challenge"));
  EXPECT_TRUE(absl::IsPermissionDenied(impostor_status));
}

TEST(TcpTest, ListenOnPortZeroAndConnect) {
  absl::StatusOr<UniqueFd> listener = ListenTcp("127.0.0.1", 0);
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<int> port = LocalPort(listener->get());
  ASSERT_TRUE(port.ok());
  EXPECT_GT(*port, 0);
  absl::StatusOr<UniqueFd> conn =
      ConnectTcp("127.0.0.1:" + std::to_string(*port));
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_FALSE(ConnectTcp("no-port").ok());
}

}  // namespace
}  // namespace multitask
