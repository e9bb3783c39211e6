// threadlocal_lesson.h: the threadlocal lesson. Seed 001's three ways to give
// each thread its own object (pass it down; a global map keyed by thread id;
// threading.local -> thread_local), a per-thread "connection" whose destructor
// runs at thread exit, thread_local vs function-static, and what fork() does
// to a lock another thread was holding.
//
//   std::vector<Seen> seen = WithThreadLocal({"aaron", "ss"});
//   // seen[i].student == the name thread i bound: each sees only its own.
//
// Everything is deterministic: orders come from latches, never from timing.

#ifndef MULTITASK_LESSONS_THREADLOCAL_THREADLOCAL_LESSON_H_
#define MULTITASK_LESSONS_THREADLOCAL_THREADLOCAL_LESSON_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace multitask::threadlocal {

// ---- Seed 001: three ways
// -----------------------------------------------------

// What process_student() saw, twice per thread (via do_task_1 and do_task_2).
struct Seen {
  std::string bound;                  // the student this thread bound
  std::vector<std::string> students;  // what process_student() found
};
struct WaysRun {
  std::vector<Seen> seen;        // one per thread, in the order of `students`
  std::size_t entries_left = 0;  // global map only: entries after all joined
};

// One thread per name. Way 1: the Student is passed to every function.
WaysRun PassItDown(const std::vector<std::string>& students);
// Way 2: a global std::map<std::thread::id, Student> with its std::mutex.
// If `erase_at_exit` is false (the seed's code), entries of finished threads
// stay in the map forever, and a later thread that gets a recycled id would
// find a dead thread's student. (The threads are all alive at once here, so
// their ids are distinct.)
WaysRun GlobalMapByThreadId(const std::vector<std::string>& students,
                            bool erase_at_exit);
// Way 3: `thread_local Student` (threading.local()).
WaysRun WithThreadLocal(const std::vector<std::string>& students);

// ---- A per-thread connection
// ----------------------------------------------------

// The typical use: one connection per thread, opened on first use, closed
// when the thread exits (its thread_local destructor).
struct ConnectionRun {
  int opened = 0;  // constructors run
  int closed = 0;  // destructors run (after every thread was joined)
  // For each thread that used it, how many distinct connections it saw.
  std::vector<int> distinct_per_thread;
  int distinct_overall = 0;
};
// `threads` threads; the first `users` of them call ThisThreadsConnection()
// `uses` times each; the others never touch it. Not reentrant (uses global
// counters): one call at a time.
ConnectionRun RunConnections(int threads, int users, int uses);

// ---- thread_local vs function-static
// -------------------------------------------

struct InstancesRun {
  int function_static = 0;  // distinct addresses of a function-static object
  int thread_local_ = 0;    // distinct addresses of a thread_local object
};
// `threads` threads each take the address of both.
InstancesRun CountInstances(int threads);

// ---- fork() in a threaded process
// ------------------------------------------------

enum class ForkOutcome {
  kChildGotLock,   // the child locked the mutex within its patience
  kChildTimedOut,  // the child's try_lock_for gave up: the lock stays held
};
const char* ToString(ForkOutcome outcome);

// A second thread holds a std::timed_mutex (think: a logger's or malloc's
// lock) while the main thread forks. The child has only the forking thread;
// the holder does not exist there, so the child's copy of the mutex is locked
// forever: its try_lock_for(child_patience) times out. The child is a
// common/child.h Child, waited for with a deadline, so this never hangs.
absl::StatusOr<ForkOutcome> ForkWhileAnotherThreadHoldsTheLock(
    absl::Duration child_patience);

// Fix 1: pthread_atfork handlers take the lock before fork (waiting for the
// holder to let go) and release it after, in parent and child. By
// construction the holder still holds it when fork() starts.
absl::StatusOr<ForkOutcome> ForkWithAtforkHandlers(
    absl::Duration child_patience);

// Fix 2: fork only from a quiescent point: ask the holder to release, wait
// until it has, then fork.
absl::StatusOr<ForkOutcome> ForkFromAQuiescentPoint(
    absl::Duration child_patience);

}  // namespace multitask::threadlocal

#endif  // MULTITASK_LESSONS_THREADLOCAL_THREADLOCAL_LESSON_H_
