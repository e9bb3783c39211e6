// lock_graph.h: mutexes that know who holds them, and a watchdog that turns a
// deadlock into an error message instead of a hung program.
//
//   LockGraph graph(absl::Milliseconds(50));      // the watchdog's patience
//   TrackedMutex a(graph, "account A"), b(graph, "account B");
//   if (absl::Status s = a.Lock(); !s.ok()) ...   // never hangs on a cycle
//   ...
//   a.Unlock();
//
// How it works: every TrackedMutex records its owner, and every blocked
// Lock() records what it waits for, in one wait-for graph. A thread that has
// waited longer than `patience` becomes the watchdog for itself: it follows
// "waits for lock L, which thread T holds, which waits for ..." and, if the
// chain comes back to itself, there is a deadlock cycle. That thread gives up:
// Lock() returns an Aborted status whose message says who holds what and who
// wants what (as a database picks a deadlock victim). The caller must then
// release the locks it holds, so the other threads in the cycle can go on.
// Waiting long without a cycle is not an error: Lock() keeps waiting.
//
// Threads are named by their OS thread name (pthread_setname_np), so name
// your threads. Thread-safe. A TrackedMutex must be unlocked by the thread
// that locked it, and destroyed unlocked; the graph must outlive its mutexes.
// Not reentrant: locking a TrackedMutex you hold is a one-thread cycle, and is
// reported like any other deadlock (see the RLock part of the lesson).

#ifndef MULTITASK_LESSONS_LOCKS_LOCK_GRAPH_H_
#define MULTITASK_LESSONS_LOCKS_LOCK_GRAPH_H_

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace multitask::locks {

class TrackedMutex;

class LockGraph {
 public:
  explicit LockGraph(absl::Duration patience) : patience_(patience) {}
  LockGraph(const LockGraph&) = delete;
  LockGraph& operator=(const LockGraph&) = delete;

  // How many deadlocks the watchdog has broken so far.
  int deadlocks_found() const;

 private:
  friend class TrackedMutex;
  absl::Status Lock(TrackedMutex& mutex);
  void Unlock(TrackedMutex& mutex);
  // The "A holds X and waits for Y; ..." message if `me` is on a cycle.
  std::string FindCycleLocked(std::thread::id me) const;

  const absl::Duration patience_;
  mutable std::mutex mu_;
  std::condition_variable released_;
  std::map<const TrackedMutex*, std::thread::id> owner_;
  std::map<std::thread::id, const TrackedMutex*> waiting_for_;
  std::map<std::thread::id, std::string> thread_names_;
  int deadlocks_found_ = 0;
};

class TrackedMutex {
 public:
  TrackedMutex(LockGraph& graph, std::string name)
      : graph_(graph), name_(std::move(name)) {}
  TrackedMutex(const TrackedMutex&) = delete;
  TrackedMutex& operator=(const TrackedMutex&) = delete;

  // Blocks until the mutex is ours (OK), or until the watchdog finds that we
  // are on a deadlock cycle (Aborted, message says who holds what; the mutex
  // is then NOT ours).
  absl::Status Lock() { return graph_.Lock(*this); }
  void Unlock() { graph_.Unlock(*this); }
  const std::string& name() const { return name_; }

 private:
  LockGraph& graph_;
  const std::string name_;
};

// The calling thread's OS name ("" if it cannot be read).
std::string CurrentThreadName();

}  // namespace multitask::locks

#endif  // MULTITASK_LESSONS_LOCKS_LOCK_GRAPH_H_
