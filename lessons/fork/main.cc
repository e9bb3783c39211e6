// The fork lesson: `bazel run //lessons/fork`.
//
// Shows, in order: fork() returning twice; each process having its own memory
// (seed 000's Ping/Pong surprise); how a child ended, decoded; a zombie; an
// orphan. The experiments live in fork_lesson.h; this file only prints.

#include <unistd.h>

#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gflags/gflags.h"
#include "lessons/fork/fork_lesson.h"

DEFINE_int32(ping_pong_limit, 50,
             "each Ping/Pong child loops while its counter is below this");
DEFINE_int32(
    pause_ms, 2,
    "pause between two words of one Ping/Pong child, so they interleave");

namespace fl = multitask::fork_lesson;

namespace {

void Section(const char* title) { std::cout << "\n== " << title << " ==\n"; }

absl::Status Run() {
  Section("1. fork() returns twice (seed 001)");
  MT_ASSIGN_OR_RETURN(fl::ForkReport fork, fl::ForkReturnsTwice());
  std::cout << absl::StrFormat(
      "parent: my pid is %d; fork() returned %d to me (the child's pid)\n"
      "child:  fork() returned %d to me; my pid is %d, my parent is %d\n",
      fork.parent_pid, fork.returned_in_parent, fork.returned_in_child,
      fork.child_pid, fork.child_parent_pid);

  Section("2. Each process has its own memory (seed 000's Ping/Pong)");
  MT_ASSIGN_OR_RETURN(
      fl::PingPongReport ping_pong,
      fl::PingPongWithPrivateCounters(FLAGS_ping_pong_limit,
                                      absl::Milliseconds(FLAGS_pause_ms)));
  // The words in the order the two children wrote them, 15 to a line.
  for (size_t at = 0; at < ping_pong.output.size(); at += 60) {
    std::cout << ping_pong.output.substr(at, 60) << "\n";
  }
  std::cout << absl::StrFormat(
      "Ping printed %d times and Pong %d times: %d words, not %d.\n"
      "Each child counted to %d and %d in its own copy of `counter`;\n"
      "the parent's copy is still %d.\n",
      ping_pong.ping_words, ping_pong.pong_words,
      ping_pong.ping_words + ping_pong.pong_words, FLAGS_ping_pong_limit,
      ping_pong.ping_final_counter, ping_pong.pong_final_counter,
      ping_pong.parent_counter_after);

  Section("3. How a child ended, as waitpid() reports it");
  for (fl::Ending ending : fl::kAllEndings) {
    MT_ASSIGN_OR_RETURN(multitask::ExitStatus status, fl::EndAChild(ending));
    std::cout << absl::StrFormat(
        "a child that %-32s -> %s (Python exitcode %d)\n", fl::Describe(ending),
        status.ToString(), status.python_exitcode());
  }

  Section("4. A zombie, seen and then reaped");
  MT_ASSIGN_OR_RETURN(fl::ZombieReport zombie, fl::MakeAndReapAZombie());
  std::cout << absl::StrFormat(
      "child %d has exited; before we wait for it, /proc/%d/stat says state %c "
      "(zombie)\n"
      "waitpid() returned \"%s\"; afterwards /proc/%d is %s\n",
      zombie.pid, zombie.pid, zombie.state_before_wait,
      zombie.status.ToString(), zombie.pid,
      zombie.gone_after_wait ? "gone" : "STILL THERE");

  Section("5. An orphan gets a new parent");
  MT_ASSIGN_OR_RETURN(fl::OrphanReport orphan, fl::MakeAnOrphan());
  std::cout << absl::StrFormat(
      "grandchild %d had parent %d; when %d exited, its parent became %d\n"
      "(%d is this program, which asked to be a subreaper; otherwise it would "
      "be "
      "pid 1 or the nearest subreaper)\n",
      orphan.orphan_pid, orphan.parent_before, orphan.middle_pid,
      orphan.parent_after, orphan.this_pid);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "The fork lesson: fork() returns twice, copies memory, and leaves "
      "zombies and "
      "orphans.\nUsage: bazel run //lessons/fork -- [--ping_pong_limit=N] "
      "[--pause_ms=N]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_ping_pong_limit < 0 || FLAGS_pause_ms < 0) {
    std::cerr << "--ping_pong_limit and --pause_ms must not be negative\n";
    return 2;
  }
  if (absl::Status status = Run(); !status.ok()) {
    std::cerr << "fork lesson failed: " << status << "\n";
    return 1;
  }
  return 0;
}
