// YOUR SOLUTION GOES HERE. See release_for_io.h for the task.
//
// As given, the fetch runs with the GIL held: correct, but no other thread
// runs meanwhile. The grader fails until you fix it.

#include "lessons/gil/exercises/release_for_io.h"

namespace multitask::gil_exercise {

void Download(Gil& gil, PyList& pages, const std::string& url,
              const std::function<std::string(const std::string&)>& fetch) {
  (void)gil;
  pages.Append(fetch(url));  // blocks with the GIL held
}

}  // namespace multitask::gil_exercise
