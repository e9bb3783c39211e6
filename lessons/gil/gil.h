// gil.h: a global interpreter lock that behaves like CPython's (3.2 and later).
//
// C++ threads have no GIL; this one exists to show what CPython's does to
// threads. It follows Python/ceval_gil.c:
// - One lock. A thread that wants it and finds it held waits on a condition
//   variable for at most the switch interval (5 ms by default, as
//   sys.getswitchinterval()). If the interval passes and no other thread took
//   the lock in the meantime, the waiter sets a "drop request".
// - The holder looks at the drop request between bytecodes
//   (DropRequested(), a relaxed atomic load, as CPython's eval_breaker) and
//   then calls Yield(): it drops the lock and waits until another thread has
//   taken it (CPython's FORCE_SWITCHING), so the waiter really gets a turn
//   instead of the old holder taking it straight back.
// - A blocking call (sleep, read, ...) releases the lock first and takes it
//   back afterwards: BlockingCall(fn), as Py_BEGIN/END_ALLOW_THREADS.
//
// Example:
//   Gil gil;                      // 5 ms switch interval
//   gil.Acquire();
//   for (...) {
//     RunOneBytecode();
//     if (gil.DropRequested()) gil.Yield();   // another thread waited 5 ms
//   }
//   gil.BlockingCall([] { ::usleep(1000); }); // others run during the sleep
//   gil.Release();
//
// Thread-safety: all methods may be called from any thread. Acquire() must not
// be called by the thread that holds the lock (it would wait for itself), and
// Release()/Yield()/BlockingCall() only by the holder (checked: they abort).
// Destroying a Gil that is held or waited for is undefined, as for std::mutex.
// Built on std::mutex and std::condition_variable so ThreadSanitizer sees it.
#ifndef MULTITASK_LESSONS_GIL_GIL_H_
#define MULTITASK_LESSONS_GIL_GIL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>

namespace multitask {

class Gil {
 public:
  // CPython's default: sys.getswitchinterval() == 0.005.
  static constexpr std::chrono::microseconds kDefaultSwitchInterval{5000};

  // Counters since construction. `switches` counts handovers to a different
  // thread (CPython's gil->switch_number); `drop_requests` how often a waiter
  // timed out and asked the holder to drop; `forced_switches` how often a
  // holder dropped because it was asked (in Yield() or a release).
  struct Stats {
    std::int64_t acquisitions = 0;
    std::int64_t switches = 0;
    std::int64_t drop_requests = 0;
    std::int64_t forced_switches = 0;
  };

  explicit Gil(
      std::chrono::microseconds switch_interval = kDefaultSwitchInterval);
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

  // What one Acquire() waited for: a starvation measure.
  struct AcquireReport {
    // Times the lock passed between OTHER threads while this one waited (0:
    // it got the lock at the first handover).
    std::int64_t handovers_to_others = 0;
    // Drop requests this call made (each one: a whole switch interval waited).
    std::int64_t drop_requests = 0;
  };

  // Blocks until this thread holds the lock (CPython's take_gil).
  AcquireReport Acquire();

  // Drops the lock (CPython's drop_gil). If a waiter had asked for it, also
  // waits until some other thread has taken it, so the caller cannot win it
  // straight back.
  void Release();

  // True when a waiter has waited a whole switch interval. Cheap: call it at
  // every bytecode boundary.
  bool DropRequested() const {
    return drop_request_.load(std::memory_order_relaxed);
  }

  // Hands the lock over to the waiter and takes it back afterwards.
  void Yield() {
    Release();
    Acquire();
  }

  // Runs `fn` with the lock released (a blocking call: sleep, I/O), then takes
  // it back, even if `fn` throws.
  template <typename Fn>
  decltype(auto) BlockingCall(Fn&& fn) {
    Release();
    struct Reacquire {
      Gil* gil;
      ~Reacquire() { gil->Acquire(); }
    } reacquire{this};
    return std::forward<Fn>(fn)();
  }

  // True if the calling thread holds the lock.
  bool HeldByMe() const;

  std::chrono::microseconds switch_interval() const { return interval_; }
  Stats stats() const;

 private:
  const std::chrono::microseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cond_;         // "the lock was released"
  std::condition_variable switch_cond_;  // "another thread took it"
  bool locked_ = false;                  // guarded by mu_
  std::thread::id last_holder_;          // guarded by mu_
  Stats stats_;                          // guarded by mu_
  std::atomic<bool> drop_request_{false};
};

}  // namespace multitask

#endif  // MULTITASK_LESSONS_GIL_GIL_H_
