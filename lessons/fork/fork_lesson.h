// fork_lesson.h: the fork lesson's experiments, as functions that return what
// happened.
//
// Each function forks, makes the children do one thing, collects what they saw
// through pipes (never by parsing printed text) and reaps them. main.cc prints
// the results; fork_lesson_test.cc checks them.
//
//   ForkReport report = ForkReturnsTwice().value();
//   // report.returned_in_child == 0, report.returned_in_parent ==
//   report.child_pid
//
// Every function leaves no child behind, whatever happens (common/child.h).

#ifndef MULTITASK_LESSONS_FORK_FORK_LESSON_H_
#define MULTITASK_LESSONS_FORK_FORK_LESSON_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/exit_status.h"

namespace multitask::fork_lesson {

// Seed 001: `pid = os.fork()` returns twice, 0 in the child and the child's pid
// in the parent.
struct ForkReport {
  pid_t parent_pid;          // getpid() in the parent
  pid_t returned_in_parent;  // what fork() returned to the parent
  pid_t returned_in_child;   // what fork() returned to the child (sent back by
                             // pipe)
  pid_t child_pid;           // getpid() in the child
  pid_t child_parent_pid;    // getppid() in the child
};
absl::StatusOr<ForkReport> ForkReturnsTwice();

// Seed 000's Ping/Pong: two children each loop `while (counter < limit)` on a
// global counter, printing a word each time. Each has its own copy of the
// counter, so each prints `limit` words: 2 * limit in all, not limit as the
// author hoped.
struct PingPongReport {
  std::string output;  // the words in the order the children wrote them
  int ping_words = 0;
  int pong_words = 0;
  int ping_final_counter = 0;  // the child's own counter when it stopped
  int pong_final_counter = 0;
  int parent_counter_after = 0;  // the parent's counter after both ended
};
absl::StatusOr<PingPongReport> PingPongWithPrivateCounters(
    int limit, absl::Duration pause_between_words);

// The ways a child can end, and what waitpid() reports for each.
enum class Ending {
  kReturnZero,      // the child's function returns 0
  kExitThree,       // _exit(3)
  kExit255,         // _exit(255): the largest exit code
  kKilledByParent,  // the parent sends SIGKILL while the child waits
  kBadPointer,      // the child writes through an invalid pointer: SIGSEGV
  kAbort,           // std::abort(): SIGABRT
};
inline constexpr Ending kAllEndings[] = {
    Ending::kReturnZero,     Ending::kExitThree,  Ending::kExit255,
    Ending::kKilledByParent, Ending::kBadPointer, Ending::kAbort};

// What the child does, in words: "calls std::abort()".
std::string Describe(Ending ending);

// Forks a child that ends in the given way, waits for it and returns the
// decoded status.
absl::StatusOr<ExitStatus> EndAChild(Ending ending);

// A child that has exited but has not been waited for is a zombie: its pid and
// exit status stay in the process table (state Z) until the parent reaps it.
struct ZombieReport {
  pid_t pid;
  char state_before_wait;  // 'Z', from /proc/<pid>/stat (what `ps` shows as Z)
  ExitStatus status;       // what wait returned
  bool gone_after_wait;    // /proc/<pid> no longer exists
};
absl::StatusOr<ZombieReport> MakeAndReapAZombie();

// A child whose parent exits first is an orphan: the kernel gives it a new
// parent, the nearest "subreaper" ancestor or else pid 1. This function makes
// itself a subreaper (prctl PR_SET_CHILD_SUBREAPER) for the duration, so the
// orphan's new parent is this process and it can reap it.
struct OrphanReport {
  pid_t middle_pid;     // the child that exits first
  pid_t orphan_pid;     // its child, the grandchild
  pid_t parent_before;  // orphan's getppid() while the middle child lived
  pid_t parent_after;   // orphan's getppid() after the middle child exited
  pid_t this_pid;       // getpid() of the caller: the subreaper
};
absl::StatusOr<OrphanReport> MakeAnOrphan();

}  // namespace multitask::fork_lesson

#endif  // MULTITASK_LESSONS_FORK_FORK_LESSON_H_
