#include "lessons/compare/compare_lesson.h"

#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <latch>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/child.h"
#include "common/fd.h"
#include "common/ipc_futex.h"
#include "common/proc.h"
#include "common/shared_memory.h"
#include "common/status_macros.h"
#include "common/syscall.h"

extern char** environ;

namespace multitask::compare {
namespace {

absl::Status CheckCount(int count) {
  if (count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("count must be at least 1, got ", count));
  }
  return absl::OkStatus();
}

// --- futex ping-pong, on common/ipc_futex.h (shared futexes: the word may live
// in memory two processes share) ---------------------------------------------

// Sleeps while *word == expected; callers re-check the word in a loop.
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected) {
  ipc::FutexWait(word, expected, absl::InfiniteFuture()).IgnoreError();
}

void FutexWakeAll(std::atomic<uint32_t>* word) {
  ipc::FutexWake(word, ipc::kFutexWakeAll);
}

constexpr uint32_t kStop = 0xFFFFFFFF;  // Odd, and never a ping value.

// The answering side of a futex ping-pong: waits for an odd value v, answers
// v + 1, until it sees kStop.
void FutexAnswer(std::atomic<uint32_t>* word) {
  uint32_t last_written = 0;
  while (true) {
    const uint32_t v = word->load(std::memory_order_acquire);
    if (v == last_written) {
      FutexWait(word, v);
      continue;
    }
    if (v == kStop) return;
    last_written = v + 1;
    word->store(last_written, std::memory_order_release);
    FutexWakeAll(word);
  }
}

// The asking side. Returns how many answers were right.
int64_t FutexAsk(std::atomic<uint32_t>* word, int round_trips) {
  int64_t right = 0;
  for (int i = 0; i < round_trips; ++i) {
    const uint32_t ping = 2 * static_cast<uint32_t>(i) + 1;
    word->store(ping, std::memory_order_release);
    FutexWakeAll(word);
    uint32_t v;
    while ((v = word->load(std::memory_order_acquire)) == ping) {
      FutexWait(word, ping);
    }
    if (v == ping + 1) ++right;
  }
  word->store(kStop, std::memory_order_release);
  FutexWakeAll(word);
  return right;
}

// The answering side of a pipe ping-pong: reads int64 values until end of
// file, writes back each value + 1.
int PipeAnswer(int in, int out) {
  while (true) {
    absl::StatusOr<int64_t> v = ReadValue<int64_t>(in);
    if (!v.ok()) return absl::IsOutOfRange(v.status()) ? 0 : 1;
    if (!WriteValue<int64_t>(out, *v + 1).ok()) return 1;
  }
}

absl::StatusOr<int64_t> PipeAsk(int out, int in, int round_trips) {
  int64_t right = 0;
  for (int64_t i = 0; i < round_trips; ++i) {
    MT_RETURN_IF_ERROR(WriteValue<int64_t>(out, i));
    MT_ASSIGN_OR_RETURN(int64_t answer, ReadValue<int64_t>(in));
    if (answer == i + 1) ++right;
  }
  return right;
}

// Pins the calling thread to the CPU it runs on now; restores the old mask
// when destroyed. Threads and processes started meanwhile inherit the pin.
class PinToCurrentCpu {
 public:
  PinToCurrentCpu() {
    if (::sched_getaffinity(0, sizeof(old_), &old_) != 0) return;
    const int cpu = ::sched_getcpu();
    if (cpu < 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = ::sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~PinToCurrentCpu() {
    if (pinned_) ::sched_setaffinity(0, sizeof(old_), &old_);
  }
  PinToCurrentCpu(const PinToCurrentCpu&) = delete;
  PinToCurrentCpu& operator=(const PinToCurrentCpu&) = delete;
  bool pinned() const { return pinned_; }

 private:
  cpu_set_t old_;
  bool pinned_ = false;
};

absl::Duration ProcessCpuTime() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) +
         absl::DurationFromTimeval(usage.ru_stime);
}

// Sums a "Name:  123 kB" field over the lines of a /proc file's text.
absl::StatusOr<int64_t> FindKib(const std::string& text,
                                const std::string& field) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, field + ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) return kib;
  }
  return absl::NotFoundError(absl::StrCat("no ", field, " in /proc text"));
}

}  // namespace

// --- Creation ---------------------------------------------------------------

absl::StatusOr<Cost> ThreadCreateJoin(int count) {
  MT_RETURN_IF_ERROR(CheckCount(count));
  const absl::Time start = absl::Now();
  for (int i = 0; i < count; ++i) {
    std::thread t([] {});
    t.join();
  }
  return Cost{count, absl::Now() - start};
}

absl::StatusOr<Cost> ForkWait(int count) {
  MT_RETURN_IF_ERROR(CheckCount(count));
  const absl::Time start = absl::Now();
  for (int i = 0; i < count; ++i) {
    MT_ASSIGN_OR_RETURN(Child child, Child::Fork([] { return 0; }));
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) {
      return absl::InternalError(
          absl::StrCat("forked child ", status.ToString()));
    }
  }
  return Cost{count, absl::Now() - start};
}

absl::StatusOr<Cost> ForkExecWait(int count, const std::string& path) {
  MT_RETURN_IF_ERROR(CheckCount(count));
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  const absl::Time start = absl::Now();
  for (int i = 0; i < count; ++i) {
    MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
                          ::execv(path.c_str(), argv);
                          return 127;  // Only if exec failed.
                        }));
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) {
      return absl::InternalError(absl::StrCat(path, " ", status.ToString()));
    }
  }
  return Cost{count, absl::Now() - start};
}

absl::StatusOr<Cost> SpawnWait(int count, const std::string& path) {
  MT_RETURN_IF_ERROR(CheckCount(count));
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  const absl::Time start = absl::Now();
  for (int i = 0; i < count; ++i) {
    pid_t pid = -1;
    // posix_spawn returns the error number; it does not set errno.
    const int err =
        ::posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, environ);
    if (err != 0) {
      return ErrnoStatusWithCode(err, absl::StrCat("posix_spawn ", path));
    }
    Child child = Child::Adopt(pid);
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) {
      return absl::InternalError(absl::StrCat(path, " ", status.ToString()));
    }
  }
  return Cost{count, absl::Now() - start};
}

// --- Communication ----------------------------------------------------------

const char* PartyName(Party party) {
  return party == Party::kThreads ? "threads" : "processes";
}

absl::StatusOr<CounterResult> SharedCounter(Party party, int workers,
                                            int64_t increments) {
  MT_RETURN_IF_ERROR(CheckCount(workers));
  if (increments < 1) return absl::InvalidArgumentError("increments < 1");
  struct Shared {
    std::atomic<int64_t> counter{0};
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<int64_t> nanos{0};  // summed over the workers
  };
  MT_ASSIGN_OR_RETURN(SharedObject<Shared> shared,
                      SharedObject<Shared>::Create());
  auto work = [&shared, increments] {
    shared->ready.fetch_add(1);
    while (!shared->go.load()) std::this_thread::yield();
    const absl::Time start = absl::Now();
    for (int64_t i = 0; i < increments; ++i) {
      shared->counter.fetch_add(1, std::memory_order_relaxed);
    }
    shared->nanos.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - start));
    return 0;
  };
  std::vector<std::thread> threads;
  std::vector<Child> children;
  for (int w = 0; w < workers; ++w) {
    if (party == Party::kThreads) {
      threads.emplace_back(work);
    } else {
      MT_ASSIGN_OR_RETURN(Child child, Child::Fork(work));
      children.push_back(std::move(child));
    }
  }
  // Start together, so that the workers really contend for the counter.
  while (shared->ready.load() < workers) std::this_thread::yield();
  shared->go.store(true);
  for (std::thread& t : threads) t.join();
  for (Child& child : children) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) return absl::InternalError("counting child failed");
  }
  CounterResult result;
  result.final_value = shared->counter.load();
  // Per increment as one worker sees it: average worker time / increments.
  result.cost =
      Cost{increments, absl::Nanoseconds(shared->nanos.load() / workers)};
  return result;
}

absl::StatusOr<Cost> PipeMessage(int count) {
  MT_RETURN_IF_ERROR(CheckCount(count));
  MT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < count; ++i) {
    MT_RETURN_IF_ERROR(WriteValue<int64_t>(pipe.write_end.get(), i));
    MT_ASSIGN_OR_RETURN(int64_t back, ReadValue<int64_t>(pipe.read_end.get()));
    if (back != i) return absl::InternalError("pipe returned another value");
  }
  return Cost{count, absl::Now() - start};
}

// --- Context switches -------------------------------------------------------

const char* ChannelName(Channel channel) {
  return channel == Channel::kPipe ? "pipe" : "futex";
}

absl::StatusOr<PingPongResult> PingPong(Party party, Channel channel,
                                        int round_trips, bool same_cpu) {
  MT_RETURN_IF_ERROR(CheckCount(round_trips));
  std::optional<PinToCurrentCpu> pin;
  if (same_cpu) pin.emplace();
  PingPongResult result;
  result.pinned = pin.has_value() && pin->pinned();

  MT_ASSIGN_OR_RETURN(Pipe to_answerer, MakePipe());
  MT_ASSIGN_OR_RETURN(Pipe to_asker, MakePipe());
  MT_ASSIGN_OR_RETURN(SharedObject<std::atomic<uint32_t>> word,
                      SharedObject<std::atomic<uint32_t>>::Create(0u));
  const int answer_in = to_answerer.read_end.get();
  const int answer_out = to_asker.write_end.get();
  auto answer = [&] {
    if (channel == Channel::kFutex) {
      FutexAnswer(word.get());
      return 0;
    }
    return PipeAnswer(answer_in, answer_out);
  };

  std::thread thread;
  std::optional<Child> child;
  if (party == Party::kThreads) {
    thread = std::thread(answer);
  } else {
    MT_ASSIGN_OR_RETURN(child, Child::Fork([&] {
                          // Keep only the answering ends, so that end of file
                          // arrives when the asker closes its end.
                          to_answerer.write_end.Close();
                          to_asker.read_end.Close();
                          return answer();
                        }));
  }

  const absl::Time start = absl::Now();
  absl::StatusOr<int64_t> right =
      channel == Channel::kFutex
          ? absl::StatusOr<int64_t>(FutexAsk(word.get(), round_trips))
          : PipeAsk(to_answerer.write_end.get(), to_asker.read_end.get(),
                    round_trips);
  const absl::Duration elapsed = absl::Now() - start;

  // End the answerer: end of file on its pipe (or kStop, sent by FutexAsk).
  to_answerer.write_end.Close();
  if (thread.joinable()) thread.join();
  if (child.has_value()) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child->Wait());
    if (!status.success()) {
      return absl::InternalError(
          absl::StrCat("answering child ", status.ToString()));
    }
  }
  MT_RETURN_IF_ERROR(right.status());
  result.cost = Cost{round_trips, elapsed};
  result.answers_checked = *right;
  return result;
}

// --- Memory -----------------------------------------------------------------

absl::StatusOr<int64_t> ProcKib(pid_t pid, const std::string& file,
                                const std::string& field) {
  const std::string path = absl::StrCat("/proc/", pid, "/", file);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return FindKib(text.str(), field);
}

absl::StatusOr<MemoryResult> IdleThreadsMemory(int count) {
  MT_RETURN_IF_ERROR(CheckCount(count));
  MemoryResult result;
  result.count = count;
  MT_ASSIGN_OR_RETURN(const int64_t before,
                      ProcKib(getpid(), "status", "VmRSS"));
  MT_ASSIGN_OR_RETURN(const int threads_before, ThreadCount());
  std::latch started(count);
  std::latch release(1);
  std::vector<std::thread> threads;
  threads.reserve(count);
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&] {
      started.count_down();
      release.wait();
    });
  }
  started.wait();
  absl::StatusOr<int> threads_now = ThreadCount();
  absl::StatusOr<int64_t> after = ProcKib(getpid(), "status", "VmRSS");
  release.count_down();
  for (std::thread& t : threads) t.join();
  MT_RETURN_IF_ERROR(threads_now.status());
  MT_RETURN_IF_ERROR(after.status());
  result.observed = *threads_now - threads_before;
  result.rss_kib = *after - before;
  result.pss_kib = result.rss_kib;  // Nothing of it is shared.
  return result;
}

absl::StatusOr<MemoryResult> IdleProcessesMemory(int count) {
  MT_RETURN_IF_ERROR(CheckCount(count));
  MemoryResult result;
  result.count = count;
  MT_ASSIGN_OR_RETURN(Pipe ready, MakePipe());
  MT_ASSIGN_OR_RETURN(Pipe gate, MakePipe());
  std::vector<Child> children;
  children.reserve(count);
  for (int i = 0; i < count; ++i) {
    MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
                          gate.write_end.Close();  // Or EOF never comes.
                          ready.read_end.Close();
                          if (::write(ready.write_end.get(), "r", 1) != 1) {
                            return 1;
                          }
                          char byte;
                          // Blocks until the parent closes the gate: EOF.
                          return ::read(gate.read_end.get(), &byte, 1) == 0 ? 0
                                                                            : 1;
                        }));
    children.push_back(std::move(child));
  }
  ready.write_end.Close();
  absl::StatusOr<std::string> all_ready =
      ReadExactly(ready.read_end.get(), count);
  absl::Status measured = all_ready.status();
  if (measured.ok()) {
    for (const Child& child : children) {
      absl::StatusOr<int64_t> rss = ProcKib(child.pid(), "smaps_rollup", "Rss");
      absl::StatusOr<int64_t> pss = ProcKib(child.pid(), "smaps_rollup", "Pss");
      absl::StatusOr<int64_t> pte = ProcKib(child.pid(), "status", "VmPTE");
      if (!rss.ok() || !pss.ok() || !pte.ok()) {
        measured = absl::InternalError("cannot read a child's memory");
        break;
      }
      result.rss_kib += *rss;
      result.pss_kib += *pss;
      result.page_tables_kib += *pte;
      ++result.observed;
    }
  }
  gate.write_end.Close();  // Releases every child.
  for (Child& child : children) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) return absl::InternalError("idle child failed");
  }
  MT_RETURN_IF_ERROR(measured);
  return result;
}

// --- Fault isolation --------------------------------------------------------

void CrashInThread() {
  // A page that may not be touched: writing to it is a genuine segmentation
  // fault (not undefined behaviour a sanitizer would report first).
  void* page =
      ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  std::thread crasher([page] { *static_cast<volatile int*>(page) = 1; });
  crasher.join();  // Never returns: the fault kills the whole process.
  ::abort();       // Only if mmap failed and the write somehow worked.
}

absl::StatusOr<ThreadCrash> CrashOneThreadInAChild() {
  MT_ASSIGN_OR_RETURN(SharedObject<std::atomic<int64_t>> progress,
                      SharedObject<std::atomic<int64_t>>::Create(0));
  MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&]() -> int {
                        // An innocent thread, busy with its own work...
                        std::thread innocent([&] {
                          while (true) progress->fetch_add(1);
                        });
                        innocent.detach();
                        while (progress->load() == 0) std::this_thread::yield();
                        CrashInThread();  // ...dies with its process.
                      }));
  MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
  return ThreadCrash{status, progress->load()};
}

absl::StatusOr<ExitStatus> CrashAChildProcess() {
  MT_ASSIGN_OR_RETURN(Child child, Child::Fork([]() -> int {
                        void* page = ::mmap(nullptr, 4096, PROT_NONE,
                                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        *static_cast<volatile int*>(page) = 1;
                        return 0;
                      }));
  return child.Wait();
}

// --- Compute-bound versus I/O-bound scaling ---------------------------------

const char* WorkName(Work work) {
  return work == Work::kCompute ? "compute-bound" : "I/O-bound";
}

uint64_t ComputeTask(int64_t iterations) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

int64_t CalibrateCompute(absl::Duration length) {
  // Timed on this thread's CPU clock, not the wall clock, so that a busy
  // machine (other programs taking turns on our core) does not shrink tasks.
  auto thread_cpu = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return absl::DurationFromTimespec(ts);
  };
  int64_t iterations = 1 << 16;
  while (true) {
    const absl::Duration start = thread_cpu();
    volatile uint64_t sink = ComputeTask(iterations);
    (void)sink;
    const absl::Duration took = thread_cpu() - start;
    if (took >= absl::Milliseconds(20) || iterations > (int64_t{1} << 40)) {
      return std::max<int64_t>(
          1,
          static_cast<int64_t>(iterations * absl::FDivDuration(length, took)));
    }
    iterations *= 4;
  }
}

double ScalingPoint::TasksPerSecond() const {
  return tasks_done / absl::ToDoubleSeconds(wall);
}

double ScalingPoint::CoresUsed() const {
  return absl::ToDoubleSeconds(cpu) / absl::ToDoubleSeconds(wall);
}

absl::StatusOr<ScalingPoint> RunTasks(Work work, int workers, int tasks,
                                      int64_t compute_iterations,
                                      absl::Duration io_wait) {
  MT_RETURN_IF_ERROR(CheckCount(workers));
  MT_RETURN_IF_ERROR(CheckCount(tasks));
  std::atomic<int> next_ticket{0};
  std::atomic<int64_t> done{0};
  std::atomic<uint64_t> sink{0};
  auto worker = [&] {
    while (next_ticket.fetch_add(1) < tasks) {
      if (work == Work::kCompute) {
        sink.fetch_xor(ComputeTask(compute_iterations));
      } else {
        absl::SleepFor(io_wait);  // Blocked in the kernel, using no CPU.
      }
      done.fetch_add(1);
    }
  };
  const absl::Duration cpu_before = ProcessCpuTime();
  const absl::Time start = absl::Now();
  {
    std::vector<std::jthread> threads;
    for (int w = 0; w < workers; ++w) threads.emplace_back(worker);
  }
  ScalingPoint point;
  point.wall = absl::Now() - start;
  point.cpu = ProcessCpuTime() - cpu_before;
  point.work = work;
  point.workers = workers;
  point.tasks_done = done.load();
  return point;
}

}  // namespace multitask::compare
