#include "lessons/locks/racy.h"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/time/clock.h"

namespace multitask::locks {
namespace {

// Racy on purpose (see racy.h): volatile keeps every load and store.
volatile int balance = 0;

NaturalRace Summarise(const std::vector<int>& results, int expected) {
  NaturalRace race{.runs = static_cast<int>(results.size()),
                   .expected = expected};
  if (results.empty()) return race;
  race.min_result = *std::min_element(results.begin(), results.end());
  race.max_result = *std::max_element(results.begin(), results.end());
  long long lost = 0;
  for (int result : results) {
    if (result != expected) ++race.runs_with_loss;
    lost += std::abs(expected - result);
  }
  race.mean_lost = static_cast<double>(lost) / race.runs;
  return race;
}

}  // namespace

NaturalRace NaturalDeposits(int threads, absl::Duration pause, int runs) {
  std::vector<int> results;
  for (int run = 0; run < runs; ++run) {
    balance = 0;
    {
      std::vector<std::jthread> depositors;
      for (int t = 0; t < threads; ++t) {
        depositors.emplace_back([pause] {
          const int seen = balance;
          absl::SleepFor(pause);
          balance = seen + 1;
        });
      }
    }
    results.push_back(static_cast<int>(balance));
  }
  return Summarise(results, threads);
}

NaturalRace NaturalChangeIt(int iterations, int runs) {
  std::vector<int> results;
  for (int run = 0; run < runs; ++run) {
    balance = 0;
    {
      const auto run_thread = [iterations](int n) {
        for (int i = 0; i < iterations; ++i) {
          balance = balance + n;
          balance = balance - n;
        }
      };
      std::jthread t1(run_thread, 5);
      std::jthread t2(run_thread, 8);
    }
    results.push_back(static_cast<int>(balance));
  }
  return Summarise(results, 0);
}

}  // namespace multitask::locks
