// compare_lesson.h: processes versus threads, measured.
//
// Seed 001 ("进程 vs 线程") and seed 004 §3 claim that processes cost more to
// create, to talk to and to switch between than threads, use more memory, but
// isolate faults; and that compute-bound work wants as many workers as cores
// while I/O-bound work scales past that. Each function here runs one of those
// experiments and returns what happened, so main.cc can print it, the test can
// check the behaviour and the benchmark can time it.
//
// Example:
//   MT_ASSIGN_OR_RETURN(Cost thread, ThreadCreateJoin(1000));
//   MT_ASSIGN_OR_RETURN(Cost fork, ForkWait(1000));
//   std::cout << fork.PerOp() / thread.PerOp() << "x\n";
//
// Every function that forks reaps all its children before it returns, also on
// error. None of them is meant to be called from two threads at once (they
// change the calling thread's CPU affinity, or fork).

#ifndef MULTITASK_LESSONS_COMPARE_COMPARE_LESSON_H_
#define MULTITASK_LESSONS_COMPARE_COMPARE_LESSON_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/exit_status.h"

namespace multitask::compare {

// How long `operations` operations took in total.
struct Cost {
  int64_t operations = 0;
  absl::Duration total;
  absl::Duration PerOp() const {
    return operations > 0 ? total / operations : absl::ZeroDuration();
  }
};

// --- Creation ---------------------------------------------------------------

// `count` times: start a std::thread that does nothing, join it.
absl::StatusOr<Cost> ThreadCreateJoin(int count);

// `count` times: fork() a child that _exit(0)s at once, waitpid() it.
absl::StatusOr<Cost> ForkWait(int count);

// `count` times: fork(), exec `path` in the child (a new program), waitpid().
// Fails if the program does not exit with code 0 (127: exec failed).
absl::StatusOr<Cost> ForkExecWait(int count,
                                  const std::string& path = "/bin/true");

// The same with posix_spawn(), which glibc implements with
// clone(CLONE_VM | CLONE_VFORK): the child borrows the parent's memory until it
// execs, so no page tables are copied (the vfork idea, made safe).
absl::StatusOr<Cost> SpawnWait(int count,
                               const std::string& path = "/bin/true");

// --- Communication ----------------------------------------------------------

enum class Party { kThreads, kProcesses };
const char* PartyName(Party party);

// `workers` threads or processes each add 1 to one shared std::atomic<int64_t>
// `increments` times (processes share it through an anonymous MAP_SHARED
// mapping). `final_value` is the counter at the end: exactly
// workers * increments. The cost is per increment, as one worker sees it.
struct CounterResult {
  Cost cost;
  int64_t final_value = 0;
};
absl::StatusOr<CounterResult> SharedCounter(Party party, int workers,
                                            int64_t increments);

// `count` times: write 8 bytes into a pipe and read them back, in one thread:
// the price of a message that goes through the kernel, without any switch.
absl::StatusOr<Cost> PipeMessage(int count);

// --- Context switches -------------------------------------------------------

enum class Channel { kPipe, kFutex };
const char* ChannelName(Channel channel);

// Ping-pong: this thread sends the number i, the other side (a thread or a
// forked process) answers i + 1, `round_trips` times, over two pipes or over a
// futex word in shared memory. With `same_cpu` both sides are pinned to the
// CPU the caller runs on, so every round trip is exactly two context switches
// (otherwise it measures a cross-CPU wake-up). `answers_checked` counts the
// answers that were exactly i + 1.
struct PingPongResult {
  Cost cost;  // per round trip
  int64_t answers_checked = 0;
  bool pinned = false;
};
absl::StatusOr<PingPongResult> PingPong(Party party, Channel channel,
                                        int round_trips, bool same_cpu);

// --- Memory -----------------------------------------------------------------

// Starts `count` threads (or forks `count` processes) that block doing
// nothing, measures, then ends and joins (reaps) them all.
struct MemoryResult {
  int count = 0;
  int observed = 0;  // threads in this process (or live children) seen
  // Threads: growth of this process's RSS. Processes: the sum over the
  // children of their RSS (counts pages they share with us once per child),
  // of their PSS (shared pages divided among the sharers: the fair share),
  // and of their page tables (kernel memory, in no RSS).
  int64_t rss_kib = 0;
  int64_t pss_kib = 0;
  int64_t page_tables_kib = 0;
};
absl::StatusOr<MemoryResult> IdleThreadsMemory(int count);
absl::StatusOr<MemoryResult> IdleProcessesMemory(int count);

// "VmRSS" or "Pss" (kB) of `pid` from /proc/<pid>/status or smaps_rollup.
absl::StatusOr<int64_t> ProcKib(pid_t pid, const std::string& file,
                                const std::string& field);

// --- Fault isolation --------------------------------------------------------

// Starts a thread that writes to a PROT_NONE page: a real segmentation fault.
// Never returns: SIGSEGV's default action kills the whole process, every
// thread of it. Only call it in a process you are ready to lose (a death test,
// a forked child).
[[noreturn]] void CrashInThread();

// Forks a child with an innocent thread that counts in shared memory, and,
// once it is counting, a second thread that crashes as CrashInThread() does.
// Returns how the child ended (killed by SIGSEGV: the whole process, the
// innocent thread with it) and how far the innocent thread had counted (> 0:
// it was alive and working when its sibling crashed).
struct ThreadCrash {
  ExitStatus status = ExitStatus::Exited(0);
  int64_t innocent_thread_count = 0;
};
absl::StatusOr<ThreadCrash> CrashOneThreadInAChild();

// Forks a child that segfaults on its own, and returns how it ended. The
// caller (the parent) keeps running: that is the isolation processes give.
absl::StatusOr<ExitStatus> CrashAChildProcess();

// --- Compute-bound versus I/O-bound scaling ---------------------------------

enum class Work { kCompute, kIo };
const char* WorkName(Work work);

// How many loop iterations of ComputeTask take about `length` of CPU time on
// this machine (measured once, on this thread's CPU clock).
int64_t CalibrateCompute(absl::Duration length);

// A compute-bound task: `iterations` rounds of integer mixing. Returns a value
// that depends on every round so the compiler cannot drop the loop.
uint64_t ComputeTask(int64_t iterations);

// `tasks` tasks shared out to `workers` threads through an atomic ticket
// counter. A compute task runs ComputeTask(compute_iterations); an I/O task
// blocks for `io_wait`, as a thread waiting for a disk or the network does.
struct ScalingPoint {
  Work work = Work::kCompute;
  int workers = 0;
  int64_t tasks_done = 0;
  absl::Duration wall;
  absl::Duration cpu;  // CPU time of the whole process during the run
  double TasksPerSecond() const;
  double CoresUsed() const;  // cpu / wall
};
absl::StatusOr<ScalingPoint> RunTasks(Work work, int workers, int tasks,
                                      int64_t compute_iterations,
                                      absl::Duration io_wait);

}  // namespace multitask::compare

#endif  // MULTITASK_LESSONS_COMPARE_COMPARE_LESSON_H_
