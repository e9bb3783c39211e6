// Exercise: release the GIL around a blocking call.
//
// Download() is a "C extension function" that Python code calls with the GIL
// held: it fetches one page (a blocking call: a socket read, here `fetch`) and
// appends the body to a Python list. Python objects are protected by the GIL
// alone, so the list may be touched only while holding it. As given, it
// fetches while still holding the GIL, like an extension that forgets
// Py_BEGIN_ALLOW_THREADS: while one thread waits for the network, no other
// thread can run any Python, so K downloads take K times as long. Make it so
// that:
//   - `fetch` runs with the GIL released, so K threads can all wait on the
//     network at the same time;
//   - the list is touched only with the GIL held;
//   - Download() returns holding the GIL, as its caller expects, even when
//     `fetch` throws (the exception must reach the caller).
//
// Edit release_for_io.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/gil/exercises/...
//
// The grader proves overlap by construction, not by timing: its `fetch` waits
// until all 4 threads are inside their fetch at once, which is possible only
// if none of them holds the GIL there. Each run is in a child process with a
// time limit, so a deadlock fails the grade instead of hanging it.
//
// Hint: gil.h has Py_BEGIN/END_ALLOW_THREADS in one call. Releasing and
// re-acquiring by hand works too, until `fetch` throws.

#ifndef MULTITASK_LESSONS_GIL_EXERCISES_RELEASE_FOR_IO_H_
#define MULTITASK_LESSONS_GIL_EXERCISES_RELEASE_FOR_IO_H_

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "lessons/gil/gil.h"

namespace multitask::gil_exercise {

// A Python list: safe only under the GIL. Append() counts a call made
// without holding it, so the grader can tell you (a real list would be
// corrupted by two such calls at once; this one has a private mutex so the
// grader's report stays readable). Do not change it.
class PyList {
 public:
  explicit PyList(const Gil& gil) : gil_(gil) {}
  void Append(std::string item) {
    const bool held = gil_.HeldByMe();
    std::lock_guard lock(mu_);
    if (!held) ++appends_without_gil_;
    items_.push_back(std::move(item));
  }
  std::vector<std::string> items() const {
    std::lock_guard lock(mu_);
    return items_;
  }
  int appends_without_gil() const {
    std::lock_guard lock(mu_);
    return appends_without_gil_;
  }

 private:
  const Gil& gil_;
  mutable std::mutex mu_;
  std::vector<std::string> items_;
  int appends_without_gil_ = 0;
};

// YOURS. Called by a thread that holds `gil`; must return holding it (also
// when `fetch` throws: let the exception through). Appends fetch(url) to
// `pages`.
void Download(Gil& gil, PyList& pages, const std::string& url,
              const std::function<std::string(const std::string&)>& fetch);

}  // namespace multitask::gil_exercise

#endif  // MULTITASK_LESSONS_GIL_EXERCISES_RELEASE_FOR_IO_H_
