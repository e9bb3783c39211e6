// YOUR SOLUTION GOES HERE. See safe_account.h for the task.
//
// As given, this is seed 000's deposit(): read, pause, write. Another thread
// can run in the pause, so deposits are lost. The grader fails until you fix
// it.

#include "lessons/locks/exercises/safe_account.h"

namespace multitask::locks_exercise {

void Account::Deposit(int amount, StepScheduler& scheduler, int id) {
  const int new_balance = balance_ + amount;
  scheduler.Step(id);  // sleep(0.01): someone else may run here
  balance_ = new_balance;
}

}  // namespace multitask::locks_exercise
