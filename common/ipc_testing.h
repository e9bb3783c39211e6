// ipc_testing.h: test helpers for the ipc_* primitives: a leak check that a
// test left no child process, file descriptor or shared mapping behind.
//
//   class MyTest : public ipc::testing::NoLeaksTest {};   // checks in TearDown
//
// Shared memory is counted as the shared mappings ("s" in the permissions) in
// /proc/self/maps: an anonymous shared mapping shows there as
// "/dev/zero (deleted)", and there is no name in /dev/shm to count.

#ifndef MULTITASK_COMMON_IPC_TESTING_H_
#define MULTITASK_COMMON_IPC_TESTING_H_

#include <string>

#include "gtest/gtest.h"

namespace multitask::ipc::testing {

struct ResourceSnapshot {
  int open_fds = 0;
  int shared_mappings = 0;
  int children = 0;

  static ResourceSnapshot Take();
  std::string ToString() const;
  bool operator==(const ResourceSnapshot&) const = default;
};

class NoLeaksTest : public ::testing::Test {
 protected:
  void SetUp() override { before_ = ResourceSnapshot::Take(); }
  void TearDown() override {
    const ResourceSnapshot after = ResourceSnapshot::Take();
    EXPECT_EQ(after, before_)
        << "before: " << before_.ToString() << "\nafter:  " << after.ToString();
  }

 private:
  ResourceSnapshot before_;
};

}  // namespace multitask::ipc::testing

#endif  // MULTITASK_COMMON_IPC_TESTING_H_
