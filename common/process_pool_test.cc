// Tests for process_pool.h. Tasks run in forked workers, so they cannot
// capture: what they share with the test (pipes, a shared counter) is in
// globals set before the pool is created, which the workers inherit.

#include "common/process_pool.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/proc.h"
#include "common/shared_memory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;

int Square(int x) { return x * x; }
std::string Greet(std::string name, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hi " + name + ";";
  return out;
}
std::vector<int> Range(int n) {
  std::vector<int> out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), 0);
  return out;
}
int Fails(int x) {
  if (x == 3) throw std::invalid_argument("three is bad");
  return x;
}
int Crashes(int how) {
  if (how == 1) ::raise(SIGSEGV);
  if (how == 2) std::abort();
  if (how == 3) ::raise(SIGKILL);
  return how;
}
void Nothing() {}
pid_t WorkerPid() { return ::getpid(); }

// For the concurrency test: shared with the workers through fork.
std::atomic<int>* g_running = nullptr;
std::atomic<int>* g_max_running = nullptr;
int g_started_fd = -1;  // a task writes its number here when it starts
int g_release_fd = -1;  // then waits for a byte from here

int Blocking(int number) {
  const int now = g_running->fetch_add(1) + 1;
  int seen = g_max_running->load();
  while (now > seen && !g_max_running->compare_exchange_weak(seen, now)) {
  }
  if (!WriteValue(g_started_fd, number).ok()) return -1;
  char byte;
  if (::read(g_release_fd, &byte, 1) != 1) return -2;
  g_running->fetch_sub(1);
  return number;
}

bool Readable(int fd) {
  pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
  return ::poll(&entry, 1, 0) == 1;
}

TEST(ProcessPoolDeathTest, ApplyAndApplyAsync) {
  auto pool = ProcessPool::Create(2).value();
  EXPECT_EQ(pool->size(), 2);
  EXPECT_EQ(pool->Apply(Square, 7).value(), 49);
  EXPECT_EQ(pool->Apply(Greet, std::string("bob"), 2).value(),
            "hi bob;hi bob;");
  EXPECT_EQ(pool->Apply(Range, 3).value(), std::vector<int>({0, 1, 2}));
  EXPECT_TRUE(pool->Apply(Nothing).ok());
  EXPECT_EQ(pool->Apply([](double x) { return x / 2; }, 5.0).value(), 2.5);
  AsyncResult<int> later = pool->ApplyAsync(Square, 8);
  EXPECT_EQ(later.Get().value(), 64);
  EXPECT_TRUE(later.Ready());
  const pid_t worker = pool->Apply(WorkerPid).value();
  EXPECT_NE(worker, getpid());
  EXPECT_THAT(pool->WorkerPids(), ::testing::Contains(worker));
  pool->Close();
  EXPECT_TRUE(pool->Join().ok());
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessPoolDeathTest, AtMostNRunAndTheNextStartsWhenOneEnds) {
  auto running = SharedObject<std::atomic<int>>::Create(0).value();
  auto max_running = SharedObject<std::atomic<int>>::Create(0).value();
  Pipe started = MakePipe().value();
  Pipe release = MakePipe().value();
  g_running = running.get();
  g_max_running = max_running.get();
  g_started_fd = started.write_end.get();
  g_release_fd = release.read_end.get();
  constexpr int kWorkers = 3;
  auto pool = ProcessPool::Create(kWorkers).value();
  std::vector<AsyncResult<int>> results;
  for (int i = 0; i <= kWorkers; ++i) {
    results.push_back(pool->ApplyAsync(Blocking, i));
  }
  // Tasks 0..N-1 start at once...
  std::set<int> first;
  for (int i = 0; i < kWorkers; ++i) {
    first.insert(ReadValue<int>(started.read_end.get()).value());
  }
  EXPECT_EQ(first, std::set<int>({0, 1, 2}));
  // ...and task N cannot: every worker is blocked.
  EXPECT_FALSE(Readable(started.read_end.get()));
  EXPECT_EQ(running->load(), kWorkers);
  // Let one (any one) finish: task N starts.
  ASSERT_TRUE(WriteAll(release.write_end.get(), "x").ok());
  EXPECT_EQ(ReadValue<int>(started.read_end.get()).value(), kWorkers);
  ASSERT_TRUE(WriteAll(release.write_end.get(), "xxx").ok());
  for (int i = 0; i <= kWorkers; ++i) EXPECT_EQ(results[i].Get().value(), i);
  EXPECT_EQ(max_running->load(), kWorkers);
  pool->Close();
  EXPECT_TRUE(pool->Join().ok());
}

TEST(ProcessPoolDeathTest, MapKeepsOrderForEveryChunksize) {
  auto pool = ProcessPool::Create(3).value();
  const std::vector<int> items = Range(100);
  std::vector<int> squares;
  for (int x : items) squares.push_back(x * x);
  for (size_t chunksize : {0, 1, 7, 100, 1000}) {
    EXPECT_EQ(pool->Map(Square, items, chunksize).value(), squares)
        << chunksize;
  }
  EXPECT_THAT(pool->Map(Square, std::vector<int>{}).value(), IsEmpty());
}

TEST(ProcessPoolDeathTest, ImapInOrderAndUnorderedEachOnce) {
  auto pool = ProcessPool::Create(3).value();
  const std::vector<int> items = Range(50);
  std::vector<int> squares;
  for (int x : items) squares.push_back(x * x);
  for (size_t chunksize : {1, 4}) {
    ImapResults<int> ordered = pool->Imap(Square, items, chunksize);
    std::vector<int> got;
    while (auto next = ordered.Next()) got.push_back(next->value());
    EXPECT_EQ(got, squares);

    ImapResults<int> unordered = pool->ImapUnordered(Square, items, chunksize);
    got.clear();
    while (auto next = unordered.Next()) got.push_back(next->value());
    EXPECT_THAT(got, UnorderedElementsAreArray(squares));  // each exactly once
  }
}

TEST(ProcessPoolDeathTest, ExceptionFailsOnlyItsTask) {
  auto pool = ProcessPool::Create(2).value();
  absl::StatusOr<int> bad = pool->Apply(Fails, 3);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(bad.status().message(), HasSubstr("three is bad"));
  EXPECT_EQ(pool->Apply(Fails, 4).value(), 4);
  // Map fails as a whole; Imap says which items failed.
  EXPECT_THAT(pool->Map(Fails, Range(6), 1).status().message(),
              HasSubstr("three is bad"));
  ImapResults<int> each = pool->Imap(Fails, Range(6), 1);
  std::vector<bool> ok;
  while (auto next = each.Next()) ok.push_back(next->ok());
  EXPECT_THAT(ok, ElementsAre(true, true, true, false, true, true));
}

TEST(ProcessPoolDeathTest, CrashedWorkerFailsItsTaskAndIsReplaced) {
  auto pool = ProcessPool::Create(2).value();
  const std::vector<pid_t> before = pool->WorkerPids();
  struct Case {
    int how;
    const char* signal;
  };
  for (Case c : {Case{1, "SIGSEGV"}, Case{2, "SIGABRT"}, Case{3, "SIGKILL"}}) {
    // Synchronous, and queued among others.
    absl::StatusOr<int> direct = pool->Apply(Crashes, c.how);
    EXPECT_EQ(direct.status().code(), absl::StatusCode::kAborted);
    EXPECT_THAT(direct.status().message(), HasSubstr(c.signal));
    std::vector<AsyncResult<int>> batch;
    for (int i = 10; i < 30; ++i) {
      batch.push_back(pool->ApplyAsync(Crashes, i == 15 ? c.how : i));
    }
    for (int i = 10; i < 30; ++i) {
      absl::StatusOr<int> got = batch[i - 10].Get();
      if (i == 15) {
        EXPECT_EQ(got.status().code(), absl::StatusCode::kAborted);
        EXPECT_THAT(got.status().message(), HasSubstr(c.signal));
      } else {
        EXPECT_EQ(got.value(), i);
      }
    }
  }
  // Still usable, still two workers, new ones.
  EXPECT_EQ(pool->Map(Square, Range(10)).value().back(), 81);
  const std::vector<pid_t> after = pool->WorkerPids();
  EXPECT_EQ(after.size(), 2u);
  EXPECT_NE(after, before);
  pool->Close();
  EXPECT_TRUE(pool->Join().ok());
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessPoolDeathTest, SubmitAfterCloseIsAnError) {
  auto pool = ProcessPool::Create(1).value();
  EXPECT_EQ(pool->Join().code(), absl::StatusCode::kFailedPrecondition);
  AsyncResult<int> before = pool->ApplyAsync(Square, 2);
  pool->Close();
  EXPECT_EQ(pool->Apply(Square, 3).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pool->ApplyAsync(Square, 3).Get().status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pool->Map(Square, Range(3)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(pool->Join().ok());
  EXPECT_EQ(before.Get().value(), 4);  // queued before Close: it ran
}

TEST(ProcessPoolDeathTest, TerminateReapsEveryWorkerAndCancelsTasks) {
  auto running = SharedObject<std::atomic<int>>::Create(0).value();
  auto max_running = SharedObject<std::atomic<int>>::Create(0).value();
  Pipe started = MakePipe().value();
  Pipe release = MakePipe().value();  // never written: tasks block
  g_running = running.get();
  g_max_running = max_running.get();
  g_started_fd = started.write_end.get();
  g_release_fd = release.read_end.get();
  auto pool = ProcessPool::Create(2).value();
  const std::vector<pid_t> pids = pool->WorkerPids();
  ASSERT_EQ(pids.size(), 2u);
  std::vector<AsyncResult<int>> results;
  for (int i = 0; i < 5; ++i) results.push_back(pool->ApplyAsync(Blocking, i));
  (void)ReadValue<int>(started.read_end.get()).value();
  (void)ReadValue<int>(started.read_end.get()).value();
  AsyncResult<int> stuck = results[0];
  EXPECT_EQ(stuck.Get(absl::Milliseconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  pool->Terminate();
  for (pid_t pid : pids) {
    EXPECT_EQ(ProcessState(pid).status().code(), absl::StatusCode::kNotFound);
  }
  for (AsyncResult<int>& result : results) {
    EXPECT_EQ(result.Get().status().code(), absl::StatusCode::kCancelled);
  }
  EXPECT_TRUE(pool->Join().ok());  // after Terminate: nothing to wait for
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
}

TEST(ProcessPoolDeathTest, DestroyingAPoolLeavesNoProcess) {
  {
    auto pool = ProcessPool::Create(3).value();
    EXPECT_EQ(pool->Apply(Square, 2).value(), 4);
  }
  EXPECT_THAT(ChildPids(getpid()), IsEmpty());
  EXPECT_EQ(ProcessPool::Create(-1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcessPoolDeathTest, ManyThreadsApplyAtOnce) {
  auto pool = ProcessPool::Create(2).value();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const int x = t * 1000 + i;
        if (pool->Apply(Square, x).value_or(-1) != x * x) wrong.fetch_add(1);
        if (pool->ApplyAsync(Square, x).Get().value_or(-1) != x * x) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  pool->Close();
  EXPECT_TRUE(pool->Join().ok());
}

TEST(CodecTest, RoundTripsAndRejectsShortInput) {
  std::string bytes = pool_internal::EncodeAll(
      std::string("abc"), std::vector<std::string>{"x", "yz"}, 42);
  pool_internal::Reader r(bytes);
  std::string s;
  std::vector<std::string> v;
  int n = 0;
  pool_internal::Codec<std::string>::Decode(r, s);
  pool_internal::Codec<std::vector<std::string>>::Decode(r, v);
  pool_internal::Codec<int>::Decode(r, n);
  EXPECT_TRUE(r.Finished());
  EXPECT_EQ(s, "abc");
  EXPECT_THAT(v, ElementsAre("x", "yz"));
  EXPECT_EQ(n, 42);
  pool_internal::Reader short_reader(std::string_view(bytes).substr(0, 5));
  pool_internal::Codec<std::string>::Decode(short_reader, s);
  EXPECT_FALSE(short_reader.ok());
  static_assert(!pool_internal::kEncodable<int*>);
  static_assert(!pool_internal::kEncodable<std::string_view>);
  static_assert(pool_internal::kEncodable<std::vector<std::vector<double>>>);
}

}  // namespace
}  // namespace multitask
