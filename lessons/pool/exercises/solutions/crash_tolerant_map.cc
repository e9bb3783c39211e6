// Reference solution for crash_tolerant_map.h (graded with --config=solutions).
//
// Chunk size 1: each input is its own task, so a crash fails that input only.
// All tasks are submitted first (ApplyAsync returns at once) so the workers
// run them in parallel, then the results are collected in input order. The
// pool fails a crashed task instead of hanging, so Get() needs no timeout.
// (Cheaper when crashes are rare: Map in big chunks, then redo only the failed
// chunks one item at a time.)

#include "lessons/pool/exercises/crash_tolerant_map.h"

namespace multitask::pool_exercise {

std::vector<absl::StatusOr<int>> SquareAll(ProcessPool& pool,
                                           const std::vector<int>& inputs) {
  std::vector<AsyncResult<int>> pending;
  pending.reserve(inputs.size());
  for (int x : inputs) pending.push_back(pool.ApplyAsync(Risky, x));
  std::vector<absl::StatusOr<int>> results;
  results.reserve(inputs.size());
  for (const AsyncResult<int>& result : pending)
    results.push_back(result.Get());
  return results;
}

}  // namespace multitask::pool_exercise
