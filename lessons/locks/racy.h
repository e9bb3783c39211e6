// racy.h: the seeds' races run "naturally", with no lock and no forced
// schedule, to measure how often the real machine loses updates.
//
//   NaturalRace race = NaturalDeposits(100, absl::Milliseconds(1), 10);
//   // race.runs_with_loss of race.runs runs ended below 100.
//
// This code has data races ON PURPOSE (that is what it measures), which is
// undefined behaviour in C++: the shared counter is `volatile` so the compiler
// keeps every load and store, like Python's bytecode does. It lives in its own
// target, tagged "notsan", so ThreadSanitizer builds never run it; tests never
// assert its numbers (they are luck). The forced, exact versions of the same
// races are in locks_lesson.h.

#ifndef MULTITASK_LESSONS_LOCKS_RACY_H_
#define MULTITASK_LESSONS_LOCKS_RACY_H_

#include "absl/time/time.h"

namespace multitask::locks {

struct NaturalRace {
  int runs = 0;
  int expected = 0;    // the right answer
  int min_result = 0;  // over the runs
  int max_result = 0;
  int runs_with_loss = 0;  // runs whose result was not `expected`
  double mean_lost = 0;    // mean |expected - result|
};

// Seed 000 without a lock: `threads` threads each read the balance, sleep
// `pause`, write read + 1. Repeated `runs` times.
NaturalRace NaturalDeposits(int threads, absl::Duration pause, int runs);

// Seed 001 without a lock: change_it(5) and change_it(8) on two threads,
// `iterations` times each. Repeated `runs` times; the right answer is 0.
NaturalRace NaturalChangeIt(int iterations, int runs);

}  // namespace multitask::locks

#endif  // MULTITASK_LESSONS_LOCKS_RACY_H_
