// Grader for the one-connection-per-thread exercise (one_connection.h). Its
// messages are meant for the student: they say what went wrong and why.
//
// The order is forced with latches, never left to luck: every asking thread
// makes its first call, then all threads wait until every thread exists and
// every first call is done, then the askers call again. So all the threads are
// alive at once (their ids are distinct, and no thread's storage can be reused
// by another) while each one asks twice. The threads are started and joined
// once; every test checks a property of that one run.

#include <latch>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lessons/threadlocal/exercises/one_connection.h"

namespace multitask::threadlocal_exercise {
namespace {

constexpr int kThreads = 8;
constexpr int kAskers = 5;  // threads 0..4 ask; 5..7 never do

struct Seen {
  const Connection* first = nullptr;
  const Connection* second = nullptr;
  bool opened_by_me = false;  // first->opened_by() was this thread
};

struct ThreadsRun {
  std::vector<Seen> seen;  // one per asking thread
  int opened = 0;          // during the run
  int closed = 0;          // during the run, after every thread was joined
  int closed_by_another_thread = 0;
};

ThreadsRun RunThreads() {
  const int opened_before = Connection::opened();
  const int closed_before = Connection::closed();
  const int foreign_before = Connection::closed_by_another_thread();
  ThreadsRun run;
  run.seen.resize(kAskers);
  std::latch first_calls_done(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        if (t < kAskers) {
          Connection& mine = ThisThreadsConnection();
          run.seen[t].first = &mine;
          run.seen[t].opened_by_me =
              mine.opened_by() == std::this_thread::get_id();
        }
        first_calls_done.arrive_and_wait();  // all 8 alive, all asked once
        if (t < kAskers) run.seen[t].second = &ThisThreadsConnection();
      });
    }
  }  // joined
  run.opened = Connection::opened() - opened_before;
  run.closed = Connection::closed() - closed_before;
  run.closed_by_another_thread =
      Connection::closed_by_another_thread() - foreign_before;
  return run;
}

// Every test checks the same single run, so the counts do not depend on which
// tests ran before (a function-static connection, say, is opened only once per
// program).
const ThreadsRun& TheRun() {
  static const ThreadsRun* const run = new ThreadsRun(RunThreads());
  return *run;
}

TEST(OneConnectionTest, EachThreadGetsItsOwnConnection) {
  const ThreadsRun& run = TheRun();
  std::set<const Connection*> distinct;
  for (const Seen& seen : run.seen) distinct.insert(seen.first);
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kAskers))
      << kAskers << " threads asked at the same time and got "
      << distinct.size()
      << " distinct connection(s): threads are sharing one, so their queries "
         "and transactions would interleave on one socket. Give each thread "
         "its own.";
  for (int t = 0; t < kAskers; ++t) {
    EXPECT_TRUE(run.seen[t].opened_by_me)
        << "thread " << t
        << " got a connection that another thread opened: it should get only "
           "the one it opened itself.";
  }
}

TEST(OneConnectionTest, AThreadKeepsItsConnection) {
  const ThreadsRun& run = TheRun();
  for (int t = 0; t < kAskers; ++t) {
    EXPECT_EQ(run.seen[t].first, run.seen[t].second)
        << "thread " << t
        << " asked twice and got two different connections: open it once "
           "per thread and keep it (opening one per query is what this "
           "avoids).";
  }
}

TEST(OneConnectionTest, OpensOneForEachThreadThatAsks) {
  const ThreadsRun& run = TheRun();
  EXPECT_EQ(run.opened, kAskers)
      << kThreads << " threads ran, " << kAskers
      << " of them asked for a connection, and connections opened: "
      << run.opened
      << ". Expected exactly one per thread that asked: none for "
         "the threads that never ask, none shared.";
}

TEST(OneConnectionTest, ClosesEachWhenItsThreadExits) {
  const ThreadsRun& run = TheRun();
  EXPECT_EQ(run.closed, run.opened)
      << run.opened << " connection(s) opened but " << run.closed
      << " closed once every thread had exited: a connection that outlives "
         "its thread is a leak (a global map, or a static, keeps it until the "
         "program ends). Make each one go away with its thread.";
  EXPECT_EQ(run.closed_by_another_thread, 0)
      << run.closed_by_another_thread
      << " connection(s) were closed by a thread other than the one that "
         "opened them: each thread should close its own, as it exits.";
}

}  // namespace
}  // namespace multitask::threadlocal_exercise
