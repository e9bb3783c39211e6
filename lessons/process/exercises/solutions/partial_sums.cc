// Reference solution for partial_sums.h (graded with --config=solutions).
//
// One pipe per child: the child writes its 8-byte partial sum and exits; the
// parent reads exactly 8 bytes from each pipe, then joins. A child that dies
// before writing closes its write end, so ReadValue fails instead of waiting.
// The parent closes its copies of the write ends right after Start(), so only
// the child holds one.

#include "lessons/process/exercises/partial_sums.h"

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/fd.h"
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
  std::vector<Pipe> pipes;
  std::vector<std::unique_ptr<Process>> children;  // a Process cannot move
  for (int w = 0; w < workers; ++w) {
    MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
    pipes.push_back(std::move(pipe));
    const long long first = n * w / workers + 1;
    const long long last = n * (w + 1) / workers;
    const int fd = pipes.back().write_end.get();
    children.push_back(std::make_unique<Process>(
        [=] { return WriteValue(fd, part(first, last)).ok() ? 0 : 1; }));
    MT_RETURN_IF_ERROR(children.back()->Start());
    pipes.back().write_end.Close();
  }
  long long total = 0;
  for (int w = 0; w < workers; ++w) {
    absl::StatusOr<long long> sum =
        ReadValue<long long>(pipes[w].read_end.get());
    MT_ASSIGN_OR_RETURN(ExitStatus status, children[w]->Join());
    if (!sum.ok()) {
      return absl::InternalError(absl::StrCat(
          children[w]->name(), " sent no result: ", status.ToString()));
    }
    total += *sum;
  }
  return total;
}

}  // namespace multitask::process_exercise
