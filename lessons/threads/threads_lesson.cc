#include "lessons/threads/threads_lesson.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <memory>
#include <mutex>
#include <semaphore>
#include <stop_token>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace multitask::threads {

// ---- Names and listing
// -------------------------------------------------------

absl::Status SetCurrentThreadName(std::string_view name) {
  if (name.size() > 15) {
    return absl::InvalidArgumentError(
        absl::StrCat("thread name '", std::string(name), "' is ", name.size(),
                     " bytes; Linux allows at most 15"));
  }
  const std::string copy(name);
  if (const int error = pthread_setname_np(pthread_self(), copy.c_str());
      error != 0) {
    return absl::InternalError(
        absl::StrCat("pthread_setname_np: error ", error));
  }
  return absl::OkStatus();
}

std::string CurrentThreadName() {
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof(name)) != 0) return "";
  return name;
}

absl::StatusOr<std::vector<ThreadInfo>> ListThreads() {
  std::vector<ThreadInfo> threads;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task", error)) {
    ThreadInfo info;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &info.tid)) {
      continue;
    }
    std::ifstream comm(entry.path() / "comm");
    std::getline(comm, info.name);  // a thread that just ended reads as ""
    threads.push_back(std::move(info));
  }
  if (error) {
    return absl::InternalError(
        absl::StrCat("listing /proc/self/task: ", error.message()));
  }
  std::sort(
      threads.begin(), threads.end(),
      [](const ThreadInfo& a, const ThreadInfo& b) { return a.tid < b.tid; });
  return threads;
}

absl::StatusOr<std::vector<ThreadInfo>> ListWhileNamedThreadsRun(int count) {
  std::latch all_named(count);
  std::latch may_finish(1);
  std::vector<std::jthread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      (void)SetCurrentThreadName(absl::StrCat("Thread-", i));
      all_named.count_down();
      may_finish.wait();
    });
  }
  all_named.wait();
  absl::StatusOr<std::vector<ThreadInfo>> listed = ListThreads();
  may_finish.count_down();
  return listed;  // the jthreads join here
}

// ---- Downloads
// ---------------------------------------------------------------

namespace {

DownloadReport DoDownload(const Download& download) {
  const absl::Time start = absl::Now();
  absl::SleepFor(download.time);  // the pretend download (seed: sleep)
  return DownloadReport{
      .file = download.file, .tid = gettid(), .took = absl::Now() - start};
}

}  // namespace

DownloadsRun DownloadWithCallables(const std::vector<Download>& downloads) {
  DownloadsRun run;
  run.reports.resize(downloads.size());
  const absl::Time start = absl::Now();
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < downloads.size(); ++i) {
      // The callable and its arguments, copied into the new thread.
      threads.emplace_back(
          [](const Download& download, DownloadReport& report) {
            report = DoDownload(download);
          },
          downloads[i], std::ref(run.reports[i]));
    }
  }  // join both
  run.total = absl::Now() - start;
  return run;
}

void DownloadTask::Start() {
  thread_ = std::jthread([this] { Run(); });
}
void DownloadTask::Join() { thread_.join(); }
void DownloadTask::Run() { report_ = DoDownload(download_); }

DownloadsRun DownloadWithTasks(const std::vector<Download>& downloads) {
  DownloadsRun run;
  const absl::Time start = absl::Now();
  std::vector<std::unique_ptr<DownloadTask>> tasks;
  for (const Download& download : downloads) {
    tasks.push_back(std::make_unique<DownloadTask>(download));
    tasks.back()->Start();
  }
  for (auto& task : tasks) {
    task->Join();
    run.reports.push_back(task->report());
  }
  run.total = absl::Now() - start;
  return run;
}

// ---- join()
// ------------------------------------------------------------------

long long SumWrittenBeforeJoin(int count) {
  std::vector<int> values;  // no lock, no atomics
  std::thread writer([&] {
    for (int i = 1; i <= count; ++i) values.push_back(i);
  });
  writer.join();  // everything the writer did happens-before this line
  long long sum = 0;
  for (int value : values) sum += value;
  return sum;
}

// ---- Sing and dance
// ------------------------------------------------------------

std::vector<std::string> SingAndDance(int times, absl::Duration beat) {
  std::mutex log_mu;
  std::vector<std::string> log;
  const auto act = [&](std::string line, int count) {  // sing(num), dance(num)
    for (int i = 0; i < count; ++i) {
      {
        std::lock_guard lock(log_mu);
        log.push_back(line);
      }
      absl::SleepFor(beat);
    }
  };
  {
    std::jthread singer(act, "sing ...", times);            // args=(3,)
    std::jthread dancer([&] { act("dance ...", times); });  // kwargs
  }
  return log;
}

// ---- Order
// -----------------------------------------------------------------------

std::vector<int> FinishInOrder(const std::vector<int>& order) {
  const int n = static_cast<int>(order.size());
  // turn[k] lets the thread that must finish k-th go.
  std::vector<std::unique_ptr<std::binary_semaphore>> turn;
  std::vector<int> position(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) {
    turn.push_back(std::make_unique<std::binary_semaphore>(0));
    position[order[k]] = k;
  }
  std::vector<int> finished;  // each thread appends during its own turn
  {
    std::vector<std::jthread> threads;
    for (int id = 0; id < n; ++id) {  // created in order 0, 1, 2, ...
      threads.emplace_back([&, id] {
        const int k = position[id];
        turn[k]->acquire();
        finished.push_back(id);
        if (k + 1 < n) turn[k + 1]->release();
      });
    }
    if (n > 0) turn[0]->release();
  }
  return finished;
}

std::vector<int> FinishNaturally(int n, absl::Duration work) {
  std::mutex mu;
  std::vector<int> finished;
  {
    std::vector<std::jthread> threads;
    for (int id = 0; id < n; ++id) {
      threads.emplace_back([&, id] {
        absl::SleepFor(work);
        std::lock_guard lock(mu);
        finished.push_back(id);
      });
    }
  }
  return finished;
}

// ---- Stopping
// ---------------------------------------------------------------------

StopRun StopWithToken(int iterations_before_stop, absl::Duration idle) {
  StopRun run;
  std::mutex mu;
  std::condition_variable_any more_work;  // never notified: only stop wakes it
  std::counting_semaphore<> iteration_done(0);
  std::jthread worker([&](std::stop_token stop) {
    int iterations = 0;
    while (!stop.stop_requested()) {
      ++iterations;  // one unit of "work"
      iteration_done.release();
      std::unique_lock lock(mu);
      // Returns early when stop is requested: the token wakes the wait.
      more_work.wait_for(lock, stop, absl::ToChronoNanoseconds(idle),
                         [] { return false; });
    }
    std::lock_guard lock(mu);
    run.iterations = iterations;
    run.stopped_by_token = stop.stop_requested();
  });
  for (int i = 0; i < iterations_before_stop; ++i) iteration_done.acquire();
  const absl::Time asked = absl::Now();
  worker.request_stop();
  worker.join();
  run.stop_latency = absl::Now() - asked;
  return run;
}

void StartDetachedWorker(absl::Duration work) {
  auto started = std::make_shared<std::latch>(1);  // shared: outlives us
  std::thread([started, work] {
    std::cout << "worker: started" << std::endl;
    started->count_down();
    absl::SleepFor(work);
    std::cout << "worker: finished" << std::endl;
  }).detach();
  started->wait();
}

}  // namespace multitask::threads
