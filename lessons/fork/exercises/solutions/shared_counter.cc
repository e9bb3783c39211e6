// Reference solution for shared_counter.h (graded with --config=solutions).
//
// The counter lives in an anonymous shared mapping made *before* fork(), so
// both children see the same one; fetch_add makes "take a number and count it"
// one indivisible step, so two children can never both take the last slot.

#include "lessons/fork/exercises/shared_counter.h"

#include <atomic>

#include "common/child.h"
#include "common/fd.h"
#include "common/shared_memory.h"
#include "common/status_macros.h"

namespace multitask::fork_exercise {

absl::StatusOr<std::string> PingPongSharingOneCounter(int limit) {
  MT_ASSIGN_OR_RETURN(Pipe words, MakePipe());
  MT_ASSIGN_OR_RETURN(auto counter, SharedObject<std::atomic<int>>::Create(0));
  auto sub_task = [&](absl::string_view word) {
    while (counter->fetch_add(1) < limit) {
      if (!WriteAll(words.write_end.get(), word).ok()) return 1;
    }
    return 0;
  };
  MT_ASSIGN_OR_RETURN(Child ping,
                      Child::Fork([&] { return sub_task("Ping"); }));
  MT_ASSIGN_OR_RETURN(Child pong,
                      Child::Fork([&] { return sub_task("Pong"); }));
  words.write_end.Close();
  MT_ASSIGN_OR_RETURN(std::string output, ReadAll(words.read_end.get()));
  MT_RETURN_IF_ERROR(ping.Wait().status());
  MT_RETURN_IF_ERROR(pong.Wait().status());
  return output;
}

}  // namespace multitask::fork_exercise
