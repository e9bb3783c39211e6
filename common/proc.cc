#include "common/proc.h"

#include <dirent.h>
#include <fcntl.h>

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/fd.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask {
namespace {

struct StatFields {
  char state;
  pid_t ppid;
};

absl::StatusOr<std::string> ReadProcFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open ", path);
  return ReadAll(fd.get());
}

absl::StatusOr<StatFields> ReadStat(pid_t pid) {
  MT_ASSIGN_OR_RETURN(std::string stat,
                      ReadProcFile(absl::StrCat("/proc/", pid, "/stat")));
  // The command name is in parentheses and may itself contain spaces or ')', so
  // parse from the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) {
    return absl::InternalError(absl::StrCat("malformed /proc/", pid, "/stat"));
  }
  std::vector<absl::string_view> rest =
      absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ');
  StatFields fields{};
  int ppid = 0;
  if (rest.size() < 2 || rest[0].size() != 1 ||
      !absl::SimpleAtoi(rest[1], &ppid)) {
    return absl::InternalError(absl::StrCat("malformed /proc/", pid, "/stat"));
  }
  fields.state = rest[0][0];
  fields.ppid = ppid;
  return fields;
}

}  // namespace

absl::StatusOr<char> ProcessState(pid_t pid) {
  MT_ASSIGN_OR_RETURN(StatFields fields, ReadStat(pid));
  return fields.state;
}

absl::StatusOr<pid_t> ParentPid(pid_t pid) {
  MT_ASSIGN_OR_RETURN(StatFields fields, ReadStat(pid));
  return fields.ppid;
}

std::vector<pid_t> ChildPids(pid_t parent) {
  std::vector<pid_t> children;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return children;
  while (const dirent* entry = ::readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    absl::StatusOr<StatFields> fields = ReadStat(pid);
    if (fields.ok() && fields->ppid == parent) children.push_back(pid);
  }
  ::closedir(proc);
  return children;
}

absl::StatusOr<int> ThreadCount() {
  MT_ASSIGN_OR_RETURN(std::string status, ReadProcFile("/proc/self/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "Threads:")) {
      int count = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &count))
        return count;
    }
  }
  return absl::InternalError("no Threads: line in /proc/self/status");
}

absl::StatusOr<int> OpenFdCount() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return ErrnoStatus("opendir /proc/self/fd");
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // Not the descriptor opendir itself holds.
}

}  // namespace multitask
