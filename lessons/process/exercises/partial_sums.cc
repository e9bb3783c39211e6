// YOUR SOLUTION GOES HERE. See partial_sums.h for the task.
//
// As given, this is seed 003's mistake: each child computes its part and keeps
// it, and the parent adds up the exit codes (all 0). The grader fails until
// you fix it.

#include "lessons/process/exercises/partial_sums.h"

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace multitask::process_exercise {

long long SumRange(long long first, long long last) {
  long long sum = 0;
  for (long long i = first; i <= last; ++i) sum += i;
  return sum;
}

absl::StatusOr<long long> SumInChildren(long long n, int workers,
                                        PartialSum part) {
  if (n < 0 || workers < 1) {
    return absl::InvalidArgumentError("need n >= 0 and workers >= 1");
  }
  std::vector<std::unique_ptr<Process>> children;  // a Process cannot move
  for (int w = 0; w < workers; ++w) {
    const long long first = n * w / workers + 1;
    const long long last = n * (w + 1) / workers;
    children.push_back(std::make_unique<Process>([=] {
      long long sum = part(first, last);
      (void)sum;  // Stays in this child's memory. Fix that.
    }));
  }
  for (auto& child : children) MT_RETURN_IF_ERROR(child->Start());
  long long total = 0;
  for (auto& child : children) {
    MT_RETURN_IF_ERROR(child->Join().status());
    total += child->exitcode().value_or(0);  // "The result is", exitcode
  }
  return total;
}

}  // namespace multitask::process_exercise
