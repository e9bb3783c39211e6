// Exercise: seed 000's bank account, made exact under every schedule.
//
// Deposit() reads the balance, pauses (the seed's sleep(0.01), here a
// StepScheduler step where any other thread may run), and writes read +
// amount. As given it loses deposits: with the schedule "everyone reads, then
// everyone writes", 100 deposits of 1 leave a balance of 1. Make every
// schedule give the exact sum, keeping the pause between read and write.
//
// Edit safe_account.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/locks/exercises/...
//
// Hint: a std::mutex held from before the read until after the write. But a
// plain lock() blocks where the scheduler cannot see it, and every other
// thread is parked waiting for its turn: take the lock with try_lock(), and
// give your turn away with scheduler.Step(id) each time it fails (see
// LockUnderScheduler in ../locks_lesson.cc). The grader runs each schedule
// with a time limit, so a hang fails the grade instead of hanging it.

#ifndef MULTITASK_LESSONS_LOCKS_EXERCISES_SAFE_ACCOUNT_H_
#define MULTITASK_LESSONS_LOCKS_EXERCISES_SAFE_ACCOUNT_H_

#include <mutex>

#include "common/step_scheduler.h"

namespace multitask::locks_exercise {

class Account {
 public:
  // Called by thread `id` of `scheduler`, which has already had its first
  // Step(id). Must call scheduler.Step(id) at least once between reading and
  // writing the balance (the seed's pause).
  void Deposit(int amount, StepScheduler& scheduler, int id);

  // Read after every depositor has finished.
  int balance() const { return balance_; }

 private:
  int balance_ = 0;
  std::mutex mu_;  // yours to use
};

}  // namespace multitask::locks_exercise

#endif  // MULTITASK_LESSONS_LOCKS_EXERCISES_SAFE_ACCOUNT_H_
