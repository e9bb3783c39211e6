// The locks lesson: run it, read what it prints, then read README.md.
//
//   bazel run //lessons/locks
//   bazel run //lessons/locks -- --threads=1000 --natural_runs=50

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/step_scheduler.h"
#include "gflags/gflags.h"
#include "lessons/locks/locks_lesson.h"
#include "lessons/locks/racy.h"

DEFINE_int32(threads, 100, "depositing threads (seed 000 uses 100)");
DEFINE_int32(natural_runs, 10, "how many times to run each natural race");
DEFINE_int32(pause_ms, 10,
             "pause between read and write in the natural deposit race "
             "(seed 000: sleep(0.01))");
DEFINE_int32(iterations, 1000000,
             "change_it() calls per thread in the natural race (seed 001)");
DEFINE_int32(patience_ms, 100,
             "how long a blocked lock waits before the deadlock watchdog "
             "looks for a cycle");

namespace multitask::locks {
namespace {

void Print(const std::string& line) { std::cout << line << "\n"; }

void PrintNatural(const NaturalRace& race) {
  Print(absl::StrFormat(
      "  %d runs: results from %d to %d (right answer %d); %d of %d runs wrong,"
      " mean error %.1f",
      race.runs, race.min_result, race.max_result, race.expected,
      race.runs_with_loss, race.runs, race.mean_lost));
}

int Main() {
  const int n = FLAGS_threads;
  Print("== 1. Seed 000: " + std::to_string(n) +
        " threads each deposit 1 into one account ==");
  Print("Forced schedules (a StepScheduler decides who runs each step):");
  const struct {
    const char* name;
    std::vector<int> script;
  } schedules[] = {
      {"everyone reads, then everyone writes", AllReadThenAllWrite(n)},
      {"in pairs: read, read, write, write", InPairs(n)},
      {"one after another", OneAfterAnother(n)},
      {"shuffled (seed 1)", ShuffledScript(n, 2, 1)},
  };
  for (const auto& schedule : schedules) {
    const DepositRun racy = RunDeposits(n, schedule.script, Guard::kNone);
    const DepositRun locked = RunDeposits(n, schedule.script, Guard::kMutex);
    Print(absl::StrFormat(
        "  %-38s no lock: balance %3d (lost %3d)   std::mutex: balance %d",
        schedule.name, racy.balance, racy.lost(), locked.balance));
  }
  Print(absl::StrFormat(
      "Natural run, no lock, %d ms pause between read and write:",
      FLAGS_pause_ms));
  PrintNatural(NaturalDeposits(n, absl::Milliseconds(FLAGS_pause_ms),
                               FLAGS_natural_runs));

  Print("");
  Print("== 2. Seed 001: balance = balance + n; balance = balance - n ==");
  const std::vector<int> tiny = {0, 1, 0, 1, 0, 0, 1, 1};
  Print(absl::StrFormat(
      "Forced schedule %s for one call each: no lock -> %d, std::mutex -> %d",
      "t5 read, t8 read, t5 write, t8 write, t5 -, t5 -, t8 -, t8 -",
      RunChangeIt(1, tiny, Guard::kNone), RunChangeIt(1, tiny, Guard::kMutex)));
  const std::vector<int> shuffled = ShuffledScript(2, 4 * 1000, 1);
  Print(absl::StrFormat(
      "Shuffled schedule, 1000 calls each: no lock -> %d, std::mutex -> %d",
      RunChangeIt(1000, shuffled, Guard::kNone),
      RunChangeIt(1000, shuffled, Guard::kMutex)));
  Print(absl::StrFormat("Natural run, no lock, %d calls per thread:",
                        FLAGS_iterations));
  PrintNatural(NaturalChangeIt(FLAGS_iterations, FLAGS_natural_runs));

  Print("");
  Print("== 3. RLock: a lock you already hold ==");
  const std::string reentrant = TransferWithReentrantLock();
  Print("  std::recursive_mutex: DepositWithBonus() -> " +
        (reentrant.empty() ? std::string("ok, balance 105") : reentrant));
  const absl::Duration patience = absl::Milliseconds(FLAGS_patience_ms);
  Print("  plain (non-reentrant) lock: " + TransferWithPlainLock(patience));

  Print("");
  Print("== 4. Condition, Semaphore, Event, Barrier ==");
  const ProducerConsumerRun pc = RunProducerConsumer(10000, 3, 8, 1000);
  Print(absl::StrFormat(
      "  Condition: produced sum %d, consumed sum %d (%d items), with 1000 "
      "spurious wake-ups injected;",
      pc.produced_sum, pc.consumed_sum, pc.consumed_count));
  Print(absl::StrFormat(
      "    consumers woke %d times to an empty queue and waited again",
      pc.empty_wakeups));
  Print(absl::StrFormat("  Semaphore(3): 10 workers, at most %d inside at once",
                        MaxConcurrentUnderSemaphore(10, 3)));
  Print(
      absl::StrFormat("  Event: %d of 8 waiters saw the value set before Set()",
                      WaitersThatSawTheValue(8)));
  const BarrierRun barrier = RunBarrierPhases(4, 3);
  Print(absl::StrFormat(
      "  Barrier: 4 threads x 3 phases, phase sums seen %d/%d/%d..., "
      "completion step ran %d times",
      barrier.sums_seen[0], barrier.sums_seen[4], barrier.sums_seen[8],
      barrier.completions));

  Print("");
  Print("== 5. Deadlock: alice locks A then B, bob locks B then A ==");
  const DeadlockRun deadlock = TransferInOppositeOrders(patience);
  Print(absl::StrFormat("  the watchdog broke %d deadlock; its report:",
                        deadlock.victims));
  Print("    " + deadlock.report);
  Print(absl::StrFormat(
      "  transfers done %d, money in the bank %d (was 200): nothing lost",
      deadlock.transfers_done, deadlock.total_money));
  const DeadlockRun ordered = TransferInOneOrder(10000, patience);
  Print(absl::StrFormat(
      "  fix 1, one lock order:   %d transfers, %d deadlocks, money %d",
      ordered.transfers_done, ordered.victims, ordered.total_money));
  const DeadlockRun scoped = TransferWithScopedLock(10000);
  Print(absl::StrFormat("  fix 2, std::scoped_lock: %d transfers, money %d",
                        scoped.transfers_done, scoped.total_money));
  return 0;
}

}  // namespace
}  // namespace multitask::locks

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Races made to happen on purpose and fixed with locks; Python's "
      "Lock/RLock/Event/Condition/Semaphore/Barrier in C++; a deadlock caught "
      "by a watchdog.");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_threads < 1 || FLAGS_natural_runs < 1 || FLAGS_iterations < 1 ||
      FLAGS_pause_ms < 0 || FLAGS_patience_ms < 1) {
    std::cerr << "error: --threads, --natural_runs, --iterations and "
                 "--patience_ms must be >= 1, --pause_ms >= 0\n";
    return 2;
  }
  return multitask::locks::Main();
}
