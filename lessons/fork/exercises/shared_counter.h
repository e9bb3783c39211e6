// Exercise: the Ping/Pong counter, fixed.
//
// Seed 000 wanted two processes to print "Ping" and "Pong" 50 times *in total*,
// but each child counted in its own copy of `counter` and printed 50 words (100
// in all). Make them share one counter, so that they print exactly `limit`
// words together.
//
// Edit shared_counter.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/fork/exercises/...
//
// Hint: common/shared_memory.h, and std::atomic<int>::fetch_add. Why is
// `if (*counter < limit) { print; *counter += 1; }` not enough even with shared
// memory?

#ifndef MULTITASK_LESSONS_FORK_EXERCISES_SHARED_COUNTER_H_
#define MULTITASK_LESSONS_FORK_EXERCISES_SHARED_COUNTER_H_

#include <string>

#include "absl/status/statusor.h"

namespace multitask::fork_exercise {

// Forks a "Ping" child and a "Pong" child. Each writes its word (4 bytes, one
// write) to one shared pipe while the shared count of words is below `limit`.
// Returns everything written, in order, after reaping both children.
absl::StatusOr<std::string> PingPongSharingOneCounter(int limit);

}  // namespace multitask::fork_exercise

#endif  // MULTITASK_LESSONS_FORK_EXERCISES_SHARED_COUNTER_H_
