// proc.h: reading what Linux's /proc says about processes.
//
//   MT_ASSIGN_OR_RETURN(char state, ProcessState(pid));   // 'R', 'S', 'Z'
//   (zombie), ... std::vector<pid_t> kids = ChildPids(getpid());         // for
//   leak checks in tests
//
// See proc(5): /proc/<pid>/stat is "pid (comm) state ppid ...".

#ifndef MULTITASK_COMMON_PROC_H_
#define MULTITASK_COMMON_PROC_H_

#include <sys/types.h>

#include <vector>

#include "absl/status/statusor.h"

namespace multitask {

// The one-letter state of process `pid`: R running, S sleeping, D disk wait,
// Z zombie, T stopped, ... NotFound once the process is gone (reaped).
absl::StatusOr<char> ProcessState(pid_t pid);

// The parent pid of `pid` as the kernel sees it now.
absl::StatusOr<pid_t> ParentPid(pid_t pid);

// Every process whose parent is `parent` (zombies included), by scanning /proc.
std::vector<pid_t> ChildPids(pid_t parent);

// Number of threads in this process (from /proc/self/status).
absl::StatusOr<int> ThreadCount();

// Number of file descriptors open in this process (entries of /proc/self/fd,
// not counting the one used to read it). For "no descriptor leaked" checks.
absl::StatusOr<int> OpenFdCount();

}  // namespace multitask

#endif  // MULTITASK_COMMON_PROC_H_
