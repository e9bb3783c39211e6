// list_open_fds: prints the file descriptors open in this process, one per
// line, in order. A test helper: run it as a child to see which descriptors the
// child inherited. The directory handle used for the listing is left out.

#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <set>

int main() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    std::perror("opendir /proc/self/fd");
    return 1;
  }
  std::set<int> fds;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != dirfd(dir)) fds.insert(fd);
  }
  closedir(dir);
  for (int fd : fds) std::printf("%d\n", fd);
  return 0;
}
