#include "lessons/locks/locks_lesson.h"

#include <pthread.h>

#include <atomic>
#include <barrier>
#include <latch>
#include <semaphore>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/step_scheduler.h"
#include "lessons/locks/lock_graph.h"

namespace multitask::locks {
namespace {

void NameThisThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

// Takes `mu` without ever blocking outside the scheduler: a failed try_lock
// gives the turn away so the holder can run and release it.
void LockUnderScheduler(std::mutex& mu, StepScheduler& scheduler, int id) {
  while (!mu.try_lock()) scheduler.Step(id);
}

}  // namespace

// ---- Seed 000 ---------------------------------------------------------------

DepositRun RunDeposits(int threads, const std::vector<int>& script,
                       Guard guard) {
  int balance = 0;  // touched only inside scheduler steps
  std::mutex mu;
  StepScheduler scheduler(threads, script);
  scheduler.Run([&](int id) {
    scheduler.Step(id);
    if (guard == Guard::kMutex) LockUnderScheduler(mu, scheduler, id);
    const int seen = balance;  // new_balance = self._balance + money
    scheduler.Step(id);        // sleep(0.01): someone else may run here
    balance = seen + 1;        // self._balance = new_balance
    if (guard == Guard::kMutex) mu.unlock();
  });
  return DepositRun{.deposits = threads, .balance = balance};
}

std::vector<int> AllReadThenAllWrite(int threads) {
  std::vector<int> script;
  for (int round = 0; round < 2; ++round) {
    for (int id = 0; id < threads; ++id) script.push_back(id);
  }
  return script;
}

std::vector<int> OneAfterAnother(int threads) {
  std::vector<int> script;
  for (int id = 0; id < threads; ++id) script.insert(script.end(), {id, id});
  return script;
}

std::vector<int> InPairs(int threads) {
  std::vector<int> script;
  for (int id = 0; id + 1 < threads; id += 2) {
    script.insert(script.end(), {id, id + 1, id, id + 1});
  }
  if (threads % 2 == 1) script.insert(script.end(), {threads - 1, threads - 1});
  return script;
}

int SimulateDeposits(int threads, const std::vector<int>& script) {
  int balance = 0;
  std::vector<int> steps_done(static_cast<std::size_t>(threads), 0);
  std::vector<int> seen(static_cast<std::size_t>(threads), 0);
  int last = -1;
  const auto run_step = [&](int id) {
    if (steps_done[id]++ == 0) {
      seen[id] = balance;
    } else {
      balance = seen[id] + 1;
    }
    last = id;
  };
  for (int id : script) {
    if (id >= 0 && id < threads && steps_done[id] < 2) run_step(id);
  }
  // The scheduler's fallback: round-robin from the last thread that ran.
  while (true) {
    int next = -1;
    for (int offset = 1; offset <= threads && next < 0; ++offset) {
      const int candidate = (last + offset + threads) % threads;
      if (steps_done[candidate] < 2) next = candidate;
    }
    if (next < 0) return balance;
    run_step(next);
  }
}

// ---- Seed 001 ---------------------------------------------------------------

int RunChangeIt(int iterations, const std::vector<int>& script, Guard guard) {
  int balance = 0;
  std::mutex mu;
  const int amounts[] = {5, 8};  // run_thread(5), run_thread(8)
  StepScheduler scheduler(2, script);
  scheduler.Run([&](int id) {
    const int n = amounts[id];
    for (int i = 0; i < iterations; ++i) {
      scheduler.Step(id);
      if (guard == Guard::kMutex) LockUnderScheduler(mu, scheduler, id);
      int seen = balance;  // balance = balance + n
      scheduler.Step(id);
      balance = seen + n;
      scheduler.Step(id);
      seen = balance;  // balance = balance - n
      scheduler.Step(id);
      balance = seen - n;
      if (guard == Guard::kMutex) mu.unlock();
    }
  });
  return balance;
}

// ---- RLock ------------------------------------------------------------------

namespace {

class Wallet {
 public:
  void Deposit(int amount) {
    std::lock_guard lock(mu_);
    balance_ += amount;
  }
  // Takes the lock, then calls Deposit(), which takes it again.
  void DepositWithBonus(int amount, int bonus) {
    std::lock_guard lock(mu_);
    Deposit(amount);
    Deposit(bonus);
  }
  int balance() {
    std::lock_guard lock(mu_);
    return balance_;
  }

 private:
  std::recursive_mutex mu_;  // threading.RLock()
  int balance_ = 0;
};

}  // namespace

std::string TransferWithReentrantLock() {
  Wallet wallet;
  wallet.DepositWithBonus(100, 5);
  return wallet.balance() == 105
             ? ""
             : absl::StrCat("balance is ", wallet.balance(), ", not 105");
}

std::string TransferWithPlainLock(absl::Duration patience) {
  LockGraph graph(patience);
  TrackedMutex wallet(graph, "wallet");  // threading.Lock(): not reentrant
  std::string report;
  std::jthread([&] {
    NameThisThread("depositor");
    if (!wallet.Lock().ok()) return;                        // DepositWithBonus
    if (absl::Status inner = wallet.Lock(); !inner.ok()) {  // Deposit
      report = std::string(inner.message());
    } else {
      wallet.Unlock();
    }
    wallet.Unlock();
  }).join();
  return report;
}

// ---- Condition --------------------------------------------------------------

bool BoundedQueue::Push(int value) {
  std::unique_lock lock(mu_);
  not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
  if (closed_) return false;
  items_.push_back(value);
  not_empty_.notify_one();
  return true;
}

std::optional<int> BoundedQueue::Pop() {
  std::unique_lock lock(mu_);
  // The loop is the point: a wake-up only means "look again".
  while (items_.empty() && !closed_) {
    not_empty_.wait(lock);
    if (items_.empty() && !closed_) ++empty_wakeups_;
  }
  if (items_.empty()) return std::nullopt;  // closed and drained
  const int value = items_.front();
  items_.pop_front();
  not_full_.notify_one();
  return value;
}

void BoundedQueue::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  not_empty_.notify_all();
  not_full_.notify_all();
}

void BoundedQueue::WakeEveryoneForNoReason() {
  not_empty_.notify_all();
  not_full_.notify_all();
}

int BoundedQueue::empty_wakeups() const {
  std::lock_guard lock(mu_);
  return empty_wakeups_;
}

ProducerConsumerRun RunProducerConsumer(int items, int consumers,
                                        std::size_t capacity,
                                        int spurious_wakeups) {
  BoundedQueue queue(capacity);
  std::atomic<long long> consumed_sum = 0;
  std::atomic<int> consumed_count = 0;
  ProducerConsumerRun run;
  {
    std::vector<std::jthread> threads;
    for (int c = 0; c < consumers; ++c) {
      threads.emplace_back([&] {
        while (std::optional<int> value = queue.Pop()) {
          consumed_sum += *value;
          ++consumed_count;
        }
      });
    }
    threads.emplace_back([&] {
      for (int i = 1; i <= items; ++i) queue.Push(i);
      queue.Close();
    });
    for (int i = 0; i < spurious_wakeups; ++i) queue.WakeEveryoneForNoReason();
  }
  run.produced_sum = static_cast<long long>(items) * (items + 1) / 2;
  run.consumed_sum = consumed_sum;
  run.consumed_count = consumed_count;
  run.empty_wakeups = queue.empty_wakeups();
  return run;
}

// ---- Semaphore --------------------------------------------------------------

int MaxConcurrentUnderSemaphore(int workers, int permits) {
  std::counting_semaphore<> slots(permits);  // threading.Semaphore(permits)
  std::counting_semaphore<> entered(0);
  std::latch leave(1);
  std::atomic<int> inside = 0;
  std::atomic<int> max_inside = 0;
  {
    std::vector<std::jthread> threads;
    for (int w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        slots.acquire();
        const int now = ++inside;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        entered.release();
        leave.wait();  // the first `permits` workers stay until all are in
        --inside;
        slots.release();
      });
    }
    for (int p = 0; p < std::min(workers, permits); ++p) entered.acquire();
    leave.count_down();
    // The rest enter one permit at a time; collect their tickets too.
    for (int w = std::min(workers, permits); w < workers; ++w) {
      entered.acquire();
    }
  }
  return max_inside;
}

// ---- Event ------------------------------------------------------------------

void Event::Set() {
  {
    std::lock_guard lock(mu_);
    set_ = true;
  }
  changed_.notify_all();
}

void Event::Clear() {
  std::lock_guard lock(mu_);
  set_ = false;
}

bool Event::IsSet() const {
  std::lock_guard lock(mu_);
  return set_;
}

void Event::Wait() const {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return set_; });
}

bool Event::WaitFor(absl::Duration timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                           [&] { return set_; });
}

int WaitersThatSawTheValue(int waiters) {
  Event ready;
  int value = 0;  // plain int: Set() publishes it, Wait() makes it visible
  std::atomic<int> saw = 0;
  {
    std::vector<std::jthread> threads;
    for (int w = 0; w < waiters; ++w) {
      threads.emplace_back([&] {
        ready.Wait();
        if (value == 42) ++saw;
      });
    }
    value = 42;
    ready.Set();
  }
  return saw;
}

// ---- Barrier ----------------------------------------------------------------

BarrierRun RunBarrierPhases(int threads, int phases) {
  BarrierRun run;
  run.sums_seen.assign(static_cast<std::size_t>(threads * phases), 0);
  std::vector<long long> slots(static_cast<std::size_t>(threads), 0);
  int completions = 0;  // the completion step runs while everyone waits
  std::barrier barrier(threads, [&]() noexcept { ++completions; });
  {
    std::vector<std::jthread> workers;
    for (int id = 0; id < threads; ++id) {
      workers.emplace_back([&, id] {
        for (int phase = 0; phase < phases; ++phase) {
          slots[id] = static_cast<long long>(phase + 1) * (id + 1);
          barrier.arrive_and_wait();  // everyone has written
          long long sum = 0;
          for (long long slot : slots) sum += slot;
          run.sums_seen[phase * threads + id] = sum;
          barrier.arrive_and_wait();  // everyone has read
        }
      });
    }
  }
  run.completions = completions;
  return run;
}

// ---- Deadlock ---------------------------------------------------------------

namespace {

struct Bank {
  explicit Bank(absl::Duration patience)
      : graph(patience), a(graph, "account A"), b(graph, "account B") {}
  LockGraph graph;
  TrackedMutex a;
  TrackedMutex b;
  long long balance_a = 100;  // guarded by a
  long long balance_b = 100;  // guarded by b
};

}  // namespace

DeadlockRun TransferInOppositeOrders(absl::Duration patience) {
  Bank bank(patience);
  std::latch both_hold_one(2);
  std::atomic<int> done = 0;
  std::mutex report_mu;
  DeadlockRun run;
  const auto transfer = [&](const char* name, TrackedMutex& first,
                            TrackedMutex& second, long long& from,
                            long long& to) {
    NameThisThread(name);
    if (!first.Lock().ok()) return;
    both_hold_one.arrive_and_wait();  // now each holds what the other wants
    if (absl::Status status = second.Lock(); !status.ok()) {
      std::lock_guard lock(report_mu);
      ++run.victims;
      run.report = std::string(status.message());
      first.Unlock();  // the victim lets go, so the other can finish
      return;
    }
    from -= 10;
    to += 10;
    ++done;
    second.Unlock();
    first.Unlock();
  };
  {
    std::jthread alice(transfer, "alice", std::ref(bank.a), std::ref(bank.b),
                       std::ref(bank.balance_a), std::ref(bank.balance_b));
    std::jthread bob(transfer, "bob", std::ref(bank.b), std::ref(bank.a),
                     std::ref(bank.balance_b), std::ref(bank.balance_a));
  }
  run.transfers_done = done;
  run.total_money = bank.balance_a + bank.balance_b;
  return run;
}

DeadlockRun TransferInOneOrder(int transfers, absl::Duration patience) {
  Bank bank(patience);
  std::latch start(2);
  std::atomic<int> done = 0;
  std::atomic<int> victims = 0;
  // Whatever the direction of the transfer, lock A before B.
  const auto transfer = [&](const char* name, long long& from, long long& to) {
    NameThisThread(name);
    start.arrive_and_wait();
    for (int i = 0; i < transfers; ++i) {
      if (!bank.a.Lock().ok()) {
        ++victims;
        continue;
      }
      if (!bank.b.Lock().ok()) {
        ++victims;
        bank.a.Unlock();
        continue;
      }
      from -= 1;
      to += 1;
      ++done;
      bank.b.Unlock();
      bank.a.Unlock();
    }
  };
  {
    std::jthread alice(transfer, "alice", std::ref(bank.balance_a),
                       std::ref(bank.balance_b));
    std::jthread bob(transfer, "bob", std::ref(bank.balance_b),
                     std::ref(bank.balance_a));
  }
  return DeadlockRun{.victims = victims,
                     .report = "",
                     .transfers_done = done,
                     .total_money = bank.balance_a + bank.balance_b};
}

DeadlockRun TransferWithScopedLock(int transfers) {
  std::mutex mu_a, mu_b;
  long long balance_a = 100, balance_b = 100;
  std::latch start(2);
  std::atomic<int> done = 0;
  {
    // Opposite orders on purpose: scoped_lock avoids the deadlock anyway.
    std::jthread alice([&] {
      start.arrive_and_wait();
      for (int i = 0; i < transfers; ++i) {
        std::scoped_lock both(mu_a, mu_b);
        balance_a -= 1;
        balance_b += 1;
        ++done;
      }
    });
    std::jthread bob([&] {
      start.arrive_and_wait();
      for (int i = 0; i < transfers; ++i) {
        std::scoped_lock both(mu_b, mu_a);
        balance_b -= 1;
        balance_a += 1;
        ++done;
      }
    });
  }
  return DeadlockRun{.victims = 0,
                     .report = "",
                     .transfers_done = done,
                     .total_money = balance_a + balance_b};
}

}  // namespace multitask::locks
