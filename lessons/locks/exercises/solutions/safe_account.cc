// Reference solution for safe_account.h. Look only after trying.

#include "lessons/locks/exercises/safe_account.h"

namespace multitask::locks_exercise {

void Account::Deposit(int amount, StepScheduler& scheduler, int id) {
  // lock() would block outside the scheduler's sight and hang it; try, and
  // let the holder run when we fail.
  while (!mu_.try_lock()) scheduler.Step(id);
  const int new_balance = balance_ + amount;
  scheduler.Step(id);  // the pause stays; the lock keeps others out
  balance_ = new_balance;
  mu_.unlock();
}

}  // namespace multitask::locks_exercise
