// Exercise: map over inputs that may crash a worker, and keep every good
// result.
//
// Python's Pool hangs for ever when a worker dies. common/process_pool.h does
// better: a worker that crashes fails only the task it was running (kAborted,
// "... killed by signal 11 (SIGSEGV)"), and a new worker replaces it. But
// Map() is all or nothing: it sends the items in chunks (several items per
// task), so one crashing item fails its whole chunk, and the first failed
// chunk fails the whole Map. One bad input loses every result.
//
// Implement SquareAll: Risky(x) for every input, on `pool`, returning one
// result per input, in input order: the square for each input that does not
// crash, and the worker's error for each one that does.
//
// Edit crash_tolerant_map.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/pool/exercises/...
//
// Hint: what is the largest chunk size that cannot mix a crashing input with a
// good one? ApplyAsync returns one AsyncResult per task; Imap yields one
// StatusOr per item. Bonus: why does a crashing input cost more than a good
// one (count the forks)?

#ifndef MULTITASK_LESSONS_POOL_EXERCISES_CRASH_TOLERANT_MAP_H_
#define MULTITASK_LESSONS_POOL_EXERCISES_CRASH_TOLERANT_MAP_H_

#include <csignal>
#include <vector>

#include "absl/status/statusor.h"
#include "common/process_pool.h"

namespace multitask::pool_exercise {

// The task: x * x, but a negative input crashes the worker that runs it
// (SIGSEGV), as a bug in a C extension would crash a Python worker.
inline int Risky(int x) {
  if (x < 0) std::raise(SIGSEGV);
  return x * x;
}

// One result per input, in order: Risky(input), or the error the pool reports
// for the task that crashed. `pool` stays usable afterwards.
std::vector<absl::StatusOr<int>> SquareAll(ProcessPool& pool,
                                           const std::vector<int>& inputs);

}  // namespace multitask::pool_exercise

#endif  // MULTITASK_LESSONS_POOL_EXERCISES_CRASH_TOLERANT_MAP_H_
