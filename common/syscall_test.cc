// Tests for syscall.h: errno becomes a status with a readable message.

#include "common/syscall.h"

#include <fcntl.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::HasSubstr;

TEST(ErrnoStatusTest, MapsCodeAndNamesTheError) {
  ASSERT_LT(::open("/no/such/file", O_RDONLY), 0);
  absl::Status status = ErrnoStatus("open ", "/no/such/file");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("open /no/such/file"));
  EXPECT_THAT(status.message(), HasSubstr("No such file or directory"));
  EXPECT_THAT(status.message(), HasSubstr("[ENOENT]"));
}

TEST(ErrnoNameTest, KnownAndUnknown) {
  EXPECT_EQ(ErrnoName(EAGAIN), "EAGAIN");
  EXPECT_EQ(ErrnoName(123456), "errno 123456");
}

TEST(RetryOnEintrTest, ReturnsResultOrStatus) {
  int calls = 0;
  absl::StatusOr<int> ok = RetryOnEintr("fake", [&] {
    if (++calls < 3) {
      errno = EINTR;  // Interrupted twice, then succeeds: the helper retries.
      return -1;
    }
    return 7;
  });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 7);
  EXPECT_EQ(calls, 3);

  absl::StatusOr<ssize_t> bad =
      RetryOnEintr("read -1", [] { return ::read(-1, nullptr, 0); });
  EXPECT_EQ(bad.status().code(),
            absl::StatusCode::kFailedPrecondition);  // EBADF
  EXPECT_THAT(bad.status().message(), HasSubstr("[EBADF]"));
}

}  // namespace
}  // namespace multitask
