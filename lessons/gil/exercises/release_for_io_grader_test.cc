// Grader for the release-the-GIL exercise (release_for_io.h). Its messages are
// meant for the student: they say what went wrong and why.
//
// 4 threads each take the GIL and call Download() for their own url. The
// grader's fetch() is where overlap is proven by construction: one called
// without the GIL waits (at most 10 s) until all 4 fetches are inside at once;
// one called with the GIL held returns at once and is counted, so a wrong
// Download() fails fast instead of waiting. Each run is in a child process
// with a time limit (RunInChild): a deadlock or an abort fails the grade, it
// does not hang or crash the grader.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/exit_status.h"
#include "common/proc.h"
#include "common/testing/run_in_child.h"
#include "gtest/gtest.h"
#include "lessons/gil/exercises/release_for_io.h"
#include "lessons/gil/gil.h"

namespace multitask::gil_exercise {
namespace {

constexpr int kThreads = 4;
constexpr auto kMeetingPatience = std::chrono::seconds(10);

struct Observed {
  int fetched_holding_gil = 0;
  int most_inside_at_once = 0;  // fetches waiting at the same time
  int returned_without_gil = 0;
  int exceptions_caught = 0;
  int appends_without_gil = 0;
  std::vector<std::string> pages;
};

// Runs the 4 downloads (each fetch throws if `fetch_throws`) and reports.
Observed RunDownloads(bool fetch_throws) {
  Gil gil;
  PyList pages(gil);
  std::mutex mu;
  std::condition_variable everyone_inside;
  int inside = 0;
  Observed seen;

  auto fetch = [&](const std::string& url) -> std::string {
    if (gil.HeldByMe()) {
      std::lock_guard lock(mu);
      ++seen.fetched_holding_gil;
    } else {
      std::unique_lock lock(mu);
      ++inside;
      seen.most_inside_at_once = std::max(seen.most_inside_at_once, inside);
      everyone_inside.notify_all();
      everyone_inside.wait_for(lock, kMeetingPatience, [&] {
        return seen.most_inside_at_once == kThreads;
      });
      --inside;
    }
    if (fetch_throws) throw std::runtime_error("connection reset by peer");
    return "page " + url;
  };

  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        gil.Acquire();
        try {
          Download(gil, pages, "url" + std::to_string(t), fetch);
        } catch (const std::runtime_error&) {
          std::lock_guard lock(mu);
          ++seen.exceptions_caught;
        }
        if (gil.HeldByMe()) {
          gil.Release();
        } else {
          std::lock_guard lock(mu);
          ++seen.returned_without_gil;
        }
      });
    }
  }  // joined
  seen.pages = pages.items();
  seen.appends_without_gil = pages.appends_without_gil();
  return seen;
}

// Runs `check` on a fresh run in a child; the child prints what was wrong and
// exits 1 if anything was.
void ExpectInChild(bool fetch_throws, int (*check)(const Observed&)) {
  absl::StatusOr<testing::ChildRun> run = testing::RunInChild(
      [&] { return check(RunDownloads(fetch_throws)); }, absl::Seconds(30));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_FALSE(run->timed_out)
      << "the downloads did not finish in 30 s: a deadlock. Did a thread call "
         "gil.Acquire() while already holding the GIL?\n"
      << run->output;
  EXPECT_EQ(run->status, ExitStatus::Exited(0)) << run->output;
  EXPECT_TRUE(ChildPids(getpid()).empty());
}

TEST(DownloadDeathTest, FetchesRunAtTheSameTime) {
  ExpectInChild(/*fetch_throws=*/false, [](const Observed& seen) {
    if (seen.fetched_holding_gil > 0) {
      std::cout << seen.fetched_holding_gil << " of " << kThreads
                << " fetches ran while their thread held the GIL: no other "
                   "thread could run any Python until the network answered, "
                   "so the downloads ran one after another. Release the GIL "
                   "around the blocking call.\n";
      return 1;
    }
    if (seen.most_inside_at_once != kThreads) {
      std::cout << "at most " << seen.most_inside_at_once << " of " << kThreads
                << " fetches were waiting at the same time (after 10 s): "
                   "something still serialises them.\n";
      return 1;
    }
    return 0;
  });
}

TEST(DownloadDeathTest, ThePagesAreAppendedUnderTheGil) {
  ExpectInChild(/*fetch_throws=*/false, [](const Observed& seen) {
    int wrong = 0;
    if (seen.appends_without_gil > 0) {
      std::cout << seen.appends_without_gil
                << " append(s) to the list were made without the GIL: Python "
                   "objects are protected by the GIL alone, so two threads "
                   "appending at once corrupt the list. Take it back first.\n";
      ++wrong;
    }
    if (seen.pages.size() != static_cast<std::size_t>(kThreads)) {
      std::cout << "expected " << kThreads << " pages in the list, found "
                << seen.pages.size() << ": append each fetched page once.\n";
      ++wrong;
    } else {
      std::vector<std::string> pages = seen.pages;
      std::sort(pages.begin(), pages.end());
      for (int t = 0; t < kThreads; ++t) {
        const std::string expected = "page url" + std::to_string(t);
        if (pages[static_cast<std::size_t>(t)] != expected) {
          std::cout << "the list should hold \"" << expected << "\" (what "
                    << "fetch returned), found \""
                    << pages[static_cast<std::size_t>(t)] << "\".\n";
          ++wrong;
        }
      }
    }
    return wrong == 0 ? 0 : 1;
  });
}

TEST(DownloadDeathTest, ReturnsHoldingTheGil) {
  ExpectInChild(/*fetch_throws=*/false, [](const Observed& seen) {
    if (seen.returned_without_gil > 0) {
      std::cout << seen.returned_without_gil << " of " << kThreads
                << " Download() calls returned without the GIL: the Python "
                   "code that called it would run unprotected. Take it back "
                   "before returning.\n";
      return 1;
    }
    return 0;
  });
}

TEST(DownloadDeathTest, ReturnsHoldingTheGilWhenFetchThrows) {
  ExpectInChild(/*fetch_throws=*/true, [](const Observed& seen) {
    int wrong = 0;
    if (seen.exceptions_caught != kThreads) {
      std::cout << "fetch threw in " << kThreads << " threads but only "
                << seen.exceptions_caught
                << " exception(s) reached Download()'s caller: let them "
                   "through.\n";
      ++wrong;
    }
    if (seen.returned_without_gil > 0) {
      std::cout << seen.returned_without_gil << " of " << kThreads
                << " Download() calls left by an exception without the GIL: "
                   "a Release() ... Acquire() pair is skipped by a throw. "
                   "Take it back on every way out (an RAII guard, or "
                   "gil.BlockingCall).\n";
      ++wrong;
    }
    return wrong == 0 ? 0 : 1;
  });
}

}  // namespace
}  // namespace multitask::gil_exercise
