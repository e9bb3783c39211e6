// Exercise: one connection per thread (seed 001's threading.local, for real).
//
// A database connection must not be shared between threads (its socket and
// its transaction state are one conversation), and opening one per query is
// slow. The usual answer: each thread opens its own connection the first time
// it needs one, keeps it, and closes it when the thread exits. Implement
// ThisThreadsConnection() so that:
//   - each thread always gets the same Connection, and no other thread's;
//   - a Connection is opened only for a thread that asks (threads that never
//     call it open nothing);
//   - each Connection is closed (destroyed) when its thread exits, by that
//     thread: no connection outlives its thread.
// As given, every thread gets one process-wide Connection: one conversation
// shared by all.
//
// Edit one_connection.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/threadlocal/exercises/...
//
// The grader starts 8 threads, lets 5 of them ask (twice, with all 8 alive in
// between, forced by latches) and checks what each saw and what was opened and
// closed.
//
// Hint: a std::map<std::thread::id, Connection> needs a lock, and still never
// closes anything when a thread exits. C++ has Python's threading.local()
// built in: see "A per-thread connection" in ../README.md.

#ifndef MULTITASK_LESSONS_THREADLOCAL_EXERCISES_ONE_CONNECTION_H_
#define MULTITASK_LESSONS_THREADLOCAL_EXERCISES_ONE_CONNECTION_H_

#include <atomic>
#include <thread>

namespace multitask::threadlocal_exercise {

// A stand-in for a database connection: it remembers the thread that opened
// it and counts every open and close, so the grader can see them. Do not
// change it.
class Connection {
 public:
  Connection() : opened_by_(std::this_thread::get_id()) {
    opened_.fetch_add(1);
  }
  ~Connection() {
    closed_.fetch_add(1);
    if (std::this_thread::get_id() != opened_by_) {
      closed_by_another_thread_.fetch_add(1);
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::thread::id opened_by() const { return opened_by_; }

  // Counters since the program started.
  static int opened() { return opened_.load(); }
  static int closed() { return closed_.load(); }
  static int closed_by_another_thread() {
    return closed_by_another_thread_.load();
  }

 private:
  const std::thread::id opened_by_;
  static inline std::atomic<int> opened_{0};
  static inline std::atomic<int> closed_{0};
  static inline std::atomic<int> closed_by_another_thread_{0};
};

// YOURS: the calling thread's connection, opened on its first call. Callable
// from any number of threads at once.
Connection& ThisThreadsConnection();

}  // namespace multitask::threadlocal_exercise

#endif  // MULTITASK_LESSONS_THREADLOCAL_EXERCISES_ONE_CONNECTION_H_
