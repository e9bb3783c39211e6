// threads_lesson.h: the threads lesson. Starting, naming, listing and joining
// threads; what join() guarantees; why execution order is not creation order;
// and how to stop a thread (C++ has no daemon threads: detach() vs
// std::jthread + std::stop_token).
//
//   DownloadsRun run = DownloadWithCallables(
//       {{"book.pdf", absl::Seconds(1)}, {"film.avi", absl::Seconds(2)}});
//   // run.total is about 2 s, not 3: the two "downloads" overlapped.
//
// Functions return what happened; main.cc prints it. Nothing here relies on
// timing for correctness: orders are forced with semaphores and latches.

#ifndef MULTITASK_LESSONS_THREADS_THREADS_LESSON_H_
#define MULTITASK_LESSONS_THREADS_THREADS_LESSON_H_

#include <sys/types.h>

#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace multitask::threads {

// ---- Names and listing (seed 001 current_thread().name, seed 003) ----------

// Names the calling thread (pthread_setname_np; shows in ps -L, top -H, gdb).
// InvalidArgument if `name` is longer than 15 bytes (the kernel's limit).
absl::Status SetCurrentThreadName(std::string_view name);
// The calling thread's name. A new thread inherits its creator's name.
std::string CurrentThreadName();

struct ThreadInfo {
  pid_t tid = 0;  // the kernel's thread id (gettid), unique system-wide
  std::string name;
};
// threading.enumerate(): every thread of this process, from /proc/self/task.
absl::StatusOr<std::vector<ThreadInfo>> ListThreads();

// Seed 003: starts `count` threads named "Thread-0".."Thread-<count-1>", lists
// the process's threads while all of them are alive (held by a latch), then
// lets them finish and joins them.
absl::StatusOr<std::vector<ThreadInfo>> ListWhileNamedThreadsRun(int count);

// ---- Seed 000: two downloads, two styles ------------------------------------

struct Download {
  std::string file;
  absl::Duration time;  // how long the pretend download takes
};
struct DownloadReport {
  std::string file;
  pid_t tid = 0;
  absl::Duration took;
};
struct DownloadsRun {
  std::vector<DownloadReport> reports;  // in the order of `downloads`
  absl::Duration total;
};

// Style 1 (Thread(target=download, args=...)): one std::jthread per download,
// given a callable and its arguments.
DownloadsRun DownloadWithCallables(const std::vector<Download>& downloads);

// Style 2 (class DownloadTask(Thread)): a class that OWNS a std::jthread
// (composition; C++ threads are not meant to be subclassed). Start() starts
// it, Join() waits; report() is valid after Join(). Destroying a started task
// joins it (jthread), so it cannot outlive the data it uses.
class DownloadTask {
 public:
  explicit DownloadTask(Download download) : download_(std::move(download)) {}
  void Start();
  void Join();
  const DownloadReport& report() const { return report_; }

 private:
  void Run();  // the thread's body: Python's run()
  Download download_;
  DownloadReport report_;  // written by the thread, read after Join()
  std::jthread thread_;    // last member: joined before the others die
};
DownloadsRun DownloadWithTasks(const std::vector<Download>& downloads);

// ---- join() gives happens-before
// -----------------------------------------------

// A thread fills a plain (non-atomic) vector with 1..count; after join() the
// caller sums it. No lock needed: join() makes every write visible.
long long SumWrittenBeforeJoin(int count);

// ---- Seed 004 section 2: sing and dance, with arguments
// ----------------------

// sing(times) and dance(times) on two threads, each line then a `beat` pause.
// Returns the lines in the order they were printed (shared log, locked).
std::vector<std::string> SingAndDance(int times, absl::Duration beat);

// ---- Seed 004 section 2.5: execution order is not creation order
// -------------

// Creates threads 0..n-1 in that order, then lets them finish in `order` (a
// permutation of 0..n-1), forced with semaphores. Returns the finishing order:
// equal to `order`, whatever the creation order was.
std::vector<int> FinishInOrder(const std::vector<int>& order);

// Creates `n` threads that each sleep `work` (the seed's time.sleep(1)) and
// records the order they finish in, unforced: the scheduler decides, and it
// differs from run to run.
std::vector<int> FinishNaturally(int n, absl::Duration work);

// ---- Stopping a thread: no daemon threads in C++
// -----------------------------

struct StopRun {
  int iterations = 0;             // loop iterations done before stopping
  bool stopped_by_token = false;  // the loop saw stop_requested()
  absl::Duration stop_latency;    // request_stop() to join() returning
};
// A std::jthread loops: one unit of work, then waits up to `idle` (long) for
// more work on a std::condition_variable_any with its stop_token. After
// `iterations_before_stop` iterations the caller calls request_stop(); the
// wait wakes at once, so the thread ends promptly, not after `idle`.
StopRun StopWithToken(int iterations_before_stop, absl::Duration idle);

// Daemon-like: starts a detached thread that prints "worker: started", then
// sleeps `work` before printing "worker: finished"; the calling thread waits
// until "started" is printed and returns. Call it in a process that then
// exits (the lesson does it in a child): the process ends and takes the
// detached thread with it, mid-work. Prints to stdout.
void StartDetachedWorker(absl::Duration work);

}  // namespace multitask::threads

#endif  // MULTITASK_LESSONS_THREADS_THREADS_LESSON_H_
