// Reference solution for release_for_io.h. Look only after trying.

#include "lessons/gil/exercises/release_for_io.h"

namespace multitask::gil_exercise {

void Download(Gil& gil, PyList& pages, const std::string& url,
              const std::function<std::string(const std::string&)>& fetch) {
  // Released for the fetch only; BlockingCall takes the GIL back on the way
  // out, even if fetch throws. The list is touched after, under the GIL.
  std::string body = gil.BlockingCall([&] { return fetch(url); });
  pages.Append(std::move(body));
}

}  // namespace multitask::gil_exercise
