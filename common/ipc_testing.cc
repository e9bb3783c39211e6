#include "common/ipc_testing.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/proc.h"

namespace multitask::ipc::testing {
namespace {

int CountSharedMappings() {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms;
    fields >> range >> perms;
    if (perms.size() == 4 && perms[3] == 's') ++count;
  }
  return count;
}

}  // namespace

ResourceSnapshot ResourceSnapshot::Take() {
  return ResourceSnapshot{
      .open_fds = OpenFdCount().value_or(-1),
      .shared_mappings = CountSharedMappings(),
      .children = static_cast<int>(ChildPids(getpid()).size())};
}

std::string ResourceSnapshot::ToString() const {
  return absl::StrCat(open_fds, " fds, ", shared_mappings, " shared mappings, ",
                      children, " child processes");
}

}  // namespace multitask::ipc::testing
