// Exercise: collect results from child processes.
//
// Seed 003 computed a sum in a child and printed `process1.exitcode`, hoping
// for the result. It got 0: the exit code says how the child ended, and it is
// only 8 bits wide. A child's variables live in the child's own memory (fork()
// copied it), so whatever it computes is lost unless it sends it back.
//
// Implement SumInChildren: split 1..n into `workers` contiguous ranges, start
// one Process (common/process.h) per range that computes `part(first, last)`,
// deliver each partial sum to the parent, join every child, and return the
// total.
//
// Edit partial_sums.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/process/exercises/...
//
// Hint: one pipe per child (MakePipe, WriteValue<long long> in the child,
// ReadValue<long long> in the parent: common/fd.h), or a SharedObject array
// made *before* Start() (common/shared_memory.h). If you read a pipe to its
// end (ReadAll), the parent must close its own copy of the write end first, or
// the end never comes.

#ifndef MULTITASK_LESSONS_PROCESS_EXERCISES_PARTIAL_SUMS_H_
#define MULTITASK_LESSONS_PROCESS_EXERCISES_PARTIAL_SUMS_H_

#include "absl/status/statusor.h"

namespace multitask::process_exercise {

// The sum of first..last (0 if first > last).
long long SumRange(long long first, long long last);

// How a child computes its part. The grader passes one that also records which
// process ran it; call exactly it, once per child, in the child.
using PartialSum = long long (*)(long long first, long long last);

// 1 + 2 + ... + n, computed by `workers` child processes, one contiguous range
// each (ranges may be empty when n < workers). Every child has been joined when
// it returns. InvalidArgument if n < 0 or workers < 1; an error if a fork, a
// pipe or a child fails.
absl::StatusOr<long long> SumInChildren(long long n, int workers,
                                        PartialSum part = SumRange);

}  // namespace multitask::process_exercise

#endif  // MULTITASK_LESSONS_PROCESS_EXERCISES_PARTIAL_SUMS_H_
