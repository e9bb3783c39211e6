// Tests for shared_memory.h: a forked child's writes are seen by the parent.

#include "common/shared_memory.h"

#include <atomic>

#include "common/child.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

TEST(SharedMemoryDeathTest, ChildWritesAreVisibleToTheParent) {
  SharedObject<std::atomic<int>> counter =
      SharedObject<std::atomic<int>>::Create(0).value();
  int private_counter =
      0;  // An ordinary variable: the child changes its own copy.
  Child child = Child::Fork([&] {
                  counter->fetch_add(41);
                  private_counter += 41;
                  return 0;
                }).value();
  ASSERT_TRUE(child.Wait().value().success());
  counter->fetch_add(1);
  EXPECT_EQ(counter->load(), 42);
  EXPECT_EQ(private_counter, 0);
}

TEST(SharedMappingTest, ZeroFilledAndMovable) {
  SharedMapping mapping = SharedMapping::Create(4096).value();
  const char* bytes = static_cast<const char*>(mapping.data());
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[4095], 0);
  SharedMapping moved = std::move(mapping);
  EXPECT_EQ(moved.data(), bytes);
  EXPECT_EQ(mapping.data(), nullptr);
  EXPECT_EQ(SharedMapping::Create(0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace multitask
