// What starting a program costs: Subprocess Run/Call of /bin/true next to the
// raw system calls they are built on (posix_spawn + waitpid) and the classic
// fork + exec + waitpid; the argument is how many MiB the parent has mapped.
// tools/bench_subprocess.py runs this binary and Python's subprocess.run in the
// same run and prints the ratios.
//
//   bazel run -c opt //lessons/subprocess:subprocess_benchmark

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/subprocess.h"

extern char** environ;

namespace multitask {
namespace {

constexpr char kTrue[] = "/bin/true";

// CPU seconds used so far by this process and its reaped children: unlike wall
// time, it barely depends on how busy the machine is.
double CpuSeconds() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    ::getrusage(who, &usage);
    total +=
        static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) *
            1e-6;
  }
  return total;
}

// Reports "cpu_us": CPU microseconds (parent + child) per start.
class CpuCounter {
 public:
  explicit CpuCounter(benchmark::State& state)
      : state_(state), start_(CpuSeconds()) {}
  ~CpuCounter() {
    if (state_.iterations() == 0) return;
    state_.counters["cpu_us"] = (CpuSeconds() - start_) * 1e6 /
                                static_cast<double>(state_.iterations());
  }

 private:
  benchmark::State& state_;
  double start_;
};

// Makes this process `mib` MiB bigger (touched, so the pages are really
// mapped): fork() must copy the page tables of all of it, posix_spawn none.
void SetParentSize(int64_t mib) {
  static std::vector<char>* ballast = new std::vector<char>;
  ballast->assign(static_cast<size_t>(mib) << 20, 1);
  ballast->shrink_to_fit();
}

void WaitOrDie(benchmark::State& state, pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    state.SkipWithError("/bin/true did not exit with 0");
  }
}

// Subprocess: stdout and stderr piped and read to the end, stdin /dev/null.
void BM_SubprocessRun(benchmark::State& state) {
  SetParentSize(state.range(0));
  CpuCounter cpu(state);
  for (auto _ : state) {
    absl::StatusOr<CompletedProcess> done = Run({kTrue});
    if (!done.ok() || !done->status.success()) {
      state.SkipWithError("Run failed");
      break;
    }
  }
}
BENCHMARK(BM_SubprocessRun)->Arg(0)->Arg(256)->UseRealTime();

// Subprocess without pipes: the child shares our streams.
void BM_SubprocessCall(benchmark::State& state) {
  SetParentSize(0);
  CpuCounter cpu(state);
  for (auto _ : state) {
    absl::StatusOr<ExitStatus> status = Call({kTrue});
    if (!status.ok() || !status->success()) {
      state.SkipWithError("Call failed");
      break;
    }
  }
}
BENCHMARK(BM_SubprocessCall)->UseRealTime();

// The floor: one posix_spawn and one waitpid, no pipes, no file actions.
void BM_RawPosixSpawn(benchmark::State& state) {
  SetParentSize(state.range(0));
  CpuCounter cpu(state);
  char* argv[] = {const_cast<char*>(kTrue), nullptr};
  for (auto _ : state) {
    pid_t pid = -1;
    if (posix_spawn(&pid, kTrue, nullptr, nullptr, argv, environ) != 0) {
      state.SkipWithError("posix_spawn failed");
      break;
    }
    WaitOrDie(state, pid);
  }
}
BENCHMARK(BM_RawPosixSpawn)->Arg(0)->Arg(256)->UseRealTime();

// The textbook way: fork (copies the page tables), exec, waitpid.
void BM_RawForkExec(benchmark::State& state) {
  SetParentSize(state.range(0));
  CpuCounter cpu(state);
  char* argv[] = {const_cast<char*>(kTrue), nullptr};
  for (auto _ : state) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execv(kTrue, argv);
      ::_exit(127);
    }
    if (pid < 0) {
      state.SkipWithError("fork failed");
      break;
    }
    WaitOrDie(state, pid);
  }
}
BENCHMARK(BM_RawForkExec)->Arg(0)->Arg(256)->UseRealTime();

}  // namespace
}  // namespace multitask

BENCHMARK_MAIN();
