#include "lessons/threadlocal/threadlocal_lesson.h"

#include <pthread.h>

#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/child.h"

namespace multitask::threadlocal {
namespace {

struct Student {
  std::string name;
};

// Runs body(i) on one thread per student and returns after joining them all.
template <typename Body>
void OneThreadPerStudent(std::size_t count, Body body) {
  std::vector<std::jthread> threads;
  for (std::size_t i = 0; i < count; ++i) threads.emplace_back(body, i);
}

// ---- Way 1: pass it down ----
void ProcessStudentPassed(const Student& student, Seen& seen) {
  seen.students.push_back(student.name);
}
void DoTask1Passed(const Student& student, Seen& seen) {
  ProcessStudentPassed(student, seen);
}
void DoTask2Passed(const Student& student, Seen& seen) {
  ProcessStudentPassed(student, seen);
}

// ---- Way 2: a global map keyed by thread id ----
std::mutex map_mu;
std::map<std::thread::id, Student> students_by_thread;  // guarded by map_mu

void ProcessStudentFromMap(Seen& seen) {
  std::lock_guard lock(map_mu);
  seen.students.push_back(
      students_by_thread.at(std::this_thread::get_id()).name);
}

// ---- Way 3: thread_local ----
thread_local Student local_student;  // threading.local().student

void ProcessStudentLocal(Seen& seen) {
  seen.students.push_back(local_student.name);
}

}  // namespace

WaysRun PassItDown(const std::vector<std::string>& students) {
  WaysRun run;
  run.seen.resize(students.size());
  OneThreadPerStudent(students.size(), [&](std::size_t i) {
    const Student student{students[i]};
    run.seen[i].bound = student.name;
    DoTask1Passed(student, run.seen[i]);
    DoTask2Passed(student, run.seen[i]);
  });
  return run;
}

WaysRun GlobalMapByThreadId(const std::vector<std::string>& students,
                            bool erase_at_exit) {
  {
    std::lock_guard lock(map_mu);
    students_by_thread.clear();
  }
  WaysRun run;
  run.seen.resize(students.size());
  // All threads live at once, so no two share a (recycled) thread id.
  std::latch all_bound(static_cast<std::ptrdiff_t>(students.size()));
  OneThreadPerStudent(students.size(), [&](std::size_t i) {
    {
      std::lock_guard lock(map_mu);
      students_by_thread[std::this_thread::get_id()] = Student{students[i]};
    }
    all_bound.arrive_and_wait();
    run.seen[i].bound = students[i];
    ProcessStudentFromMap(run.seen[i]);  // do_task_1
    ProcessStudentFromMap(run.seen[i]);  // do_task_2
    if (erase_at_exit) {
      std::lock_guard lock(map_mu);
      students_by_thread.erase(std::this_thread::get_id());
    }
  });
  std::lock_guard lock(map_mu);
  run.entries_left = students_by_thread.size();
  students_by_thread.clear();
  return run;
}

WaysRun WithThreadLocal(const std::vector<std::string>& students) {
  WaysRun run;
  run.seen.resize(students.size());
  OneThreadPerStudent(students.size(), [&](std::size_t i) {
    local_student.name = students[i];  // local_school.student = name
    run.seen[i].bound = students[i];
    ProcessStudentLocal(run.seen[i]);
    ProcessStudentLocal(run.seen[i]);
  });
  return run;
}

// ---- Connections
// ------------------------------------------------------------------

namespace {

std::atomic<int> connections_opened = 0;
std::atomic<int> connections_closed = 0;

class Connection {
 public:
  Connection() : id_(++connections_opened) {}
  ~Connection() { ++connections_closed; }  // runs at thread exit
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  int id() const { return id_; }

 private:
  const int id_;
};

// Constructed the first time each thread calls this; destroyed when that
// thread exits. Threads that never call it never pay for it.
Connection& ThisThreadsConnection() {
  thread_local Connection connection;
  return connection;
}

}  // namespace

ConnectionRun RunConnections(int threads, int users, int uses) {
  connections_opened = 0;
  connections_closed = 0;
  std::vector<std::set<int>> ids(static_cast<std::size_t>(threads));
  OneThreadPerStudent(static_cast<std::size_t>(threads), [&](std::size_t t) {
    if (static_cast<int>(t) >= users) return;
    for (int use = 0; use < uses; ++use) {
      ids[t].insert(ThisThreadsConnection().id());
    }
  });
  ConnectionRun run;
  run.opened = connections_opened;
  run.closed = connections_closed;
  std::set<int> all;
  for (int t = 0; t < users && t < threads; ++t) {
    run.distinct_per_thread.push_back(static_cast<int>(ids[t].size()));
    all.insert(ids[t].begin(), ids[t].end());
  }
  run.distinct_overall = static_cast<int>(all.size());
  return run;
}

// ---- Instances
// -------------------------------------------------------------------

namespace {

struct Counter {
  int value = 0;
};

const Counter* FunctionStatic() {
  static Counter counter;  // one for the process; initialised once, safely
  return &counter;
}

const Counter* ThreadLocal() {
  thread_local Counter counter;  // one per thread
  return &counter;
}

}  // namespace

InstancesRun CountInstances(int threads) {
  std::mutex mu;
  std::set<const Counter*> statics, locals;
  std::latch all_alive(threads);  // so no thread's storage is reused
  OneThreadPerStudent(static_cast<std::size_t>(threads), [&](std::size_t) {
    {
      std::lock_guard lock(mu);
      statics.insert(FunctionStatic());
      locals.insert(ThreadLocal());
    }
    all_alive.arrive_and_wait();
  });
  return InstancesRun{.function_static = static_cast<int>(statics.size()),
                      .thread_local_ = static_cast<int>(locals.size())};
}

// ---- fork()
// ----------------------------------------------------------------------

const char* ToString(ForkOutcome outcome) {
  switch (outcome) {
    case ForkOutcome::kChildGotLock:
      return "the child got the lock";
    case ForkOutcome::kChildTimedOut:
      return "the child timed out: the lock is held by a thread that does not "
             "exist in the child";
  }
  return "?";
}

namespace {

constexpr int kGotLock = 0;
constexpr int kTimedOut = 3;

// In the child: try the lock with a deadline, never block forever.
int TryLockInChild(std::timed_mutex& mutex, absl::Duration patience) {
  if (!mutex.try_lock_for(absl::ToChronoNanoseconds(patience))) {
    return kTimedOut;
  }
  mutex.unlock();
  return kGotLock;
}

absl::StatusOr<ForkOutcome> WaitForChild(Child& child,
                                         absl::Duration patience) {
  // The child decides within `patience`; the extra margin is for a loaded
  // machine. If it still runs after that, Child's destructor kills it.
  absl::StatusOr<std::optional<ExitStatus>> status =
      child.WaitFor(patience + absl::Seconds(30));
  if (!status.ok()) return status.status();
  if (!status->has_value()) {
    return absl::DeadlineExceededError("the child neither locked nor gave up");
  }
  const ExitStatus& exit = **status;
  if (exit == ExitStatus::Exited(kGotLock)) return ForkOutcome::kChildGotLock;
  if (exit == ExitStatus::Exited(kTimedOut)) return ForkOutcome::kChildTimedOut;
  return absl::InternalError(absl::StrCat("child ", exit.ToString()));
}

std::timed_mutex plain_lock;  // no fork handling at all

// A lock with pthread_atfork handlers: taken before fork, released after in
// both processes, so the child's copy is never held by a missing thread.
std::timed_mutex atfork_lock;
std::atomic<std::latch*> release_holder_on_prepare = nullptr;

void RegisterAtforkHandlersOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(
        /*prepare=*/
        [] {
          // Lesson hook: fork() has started while the holder still holds
          // the lock; now tell it to finish, and wait for the lock.
          if (std::latch* release = release_holder_on_prepare.load()) {
            release->count_down();
          }
          atfork_lock.lock();
        },
        /*parent=*/[] { atfork_lock.unlock(); },
        /*child=*/[] { atfork_lock.unlock(); });
  });
}

}  // namespace

absl::StatusOr<ForkOutcome> ForkWhileAnotherThreadHoldsTheLock(
    absl::Duration child_patience) {
  std::latch holding(1);
  std::latch release(1);
  std::jthread holder([&] {
    std::lock_guard lock(plain_lock);
    holding.count_down();
    release.wait();  // holds the lock across the fork, by construction
  });
  holding.wait();
  absl::StatusOr<Child> child =
      Child::Fork([&] { return TryLockInChild(plain_lock, child_patience); });
  release.count_down();
  holder.join();
  if (!child.ok()) return child.status();
  return WaitForChild(*child, child_patience);
}

absl::StatusOr<ForkOutcome> ForkWithAtforkHandlers(
    absl::Duration child_patience) {
  RegisterAtforkHandlersOnce();
  std::latch holding(1);
  std::latch release(1);
  std::jthread holder([&] {
    std::lock_guard lock(atfork_lock);
    holding.count_down();
    release.wait();  // released only from inside fork()'s prepare handler
  });
  holding.wait();
  release_holder_on_prepare = &release;
  absl::StatusOr<Child> child =
      Child::Fork([&] { return TryLockInChild(atfork_lock, child_patience); });
  release_holder_on_prepare = nullptr;
  holder.join();
  if (!child.ok()) return child.status();
  return WaitForChild(*child, child_patience);
}

absl::StatusOr<ForkOutcome> ForkFromAQuiescentPoint(
    absl::Duration child_patience) {
  std::latch holding(1);
  std::latch release(1);
  std::latch released(1);
  std::jthread holder([&] {
    {
      std::lock_guard lock(plain_lock);
      holding.count_down();
      release.wait();
    }
    released.count_down();
  });
  holding.wait();
  release.count_down();
  released.wait();  // quiescent: nobody holds the lock now
  absl::StatusOr<Child> child =
      Child::Fork([&] { return TryLockInChild(plain_lock, child_patience); });
  holder.join();
  if (!child.ok()) return child.status();
  return WaitForChild(*child, child_patience);
}

}  // namespace multitask::threadlocal
