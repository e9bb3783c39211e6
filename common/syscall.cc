#include "common/syscall.h"

#include <string.h>

#include <string>

namespace multitask {

std::string ErrnoName(int err) {
  // strerrorname_np (glibc 2.32+) gives "ENOENT"; it returns null for unknown
  // values.
  if (const char* name = strerrorname_np(err); name != nullptr) return name;
  return absl::StrCat("errno ", err);
}

absl::Status ErrnoStatusWithCode(int err, absl::string_view what) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat(what, ": ",
                                   strerrordesc_np(err) ? strerrordesc_np(err)
                                                        : "unknown error",
                                   " [", ErrnoName(err), "]"));
}

}  // namespace multitask
