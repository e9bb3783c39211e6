// manager_lesson.h: seed 001's distributed master and worker, in C++, over
// CPython's own manager protocol (common/manager_server.h), so either side
// can be the seed's Python script.
//
//   MT_ASSIGN_OR_RETURN(auto server, StartMaster("127.0.0.1", 0, "abc"));
//   // ... start workers: RunWorker(server->address(), "abc", {}) elsewhere
//   MT_ASSIGN_OR_RETURN(MasterRun run,
//                       RunMaster(*server, {3, 4}, absl::Seconds(10)));
//   // run.results: {"3 * 3 = 9", "4 * 4 = 16"} in arrival order
//
// The master owns the queues (in its process, like task_master.py's
// manager); workers anywhere on the network connect, take numbers n from
// get_task_queue and put "n * n = n*n" on get_result_queue. A worker stops
// when no task came within its idle timeout (as the seed's get(timeout=1)) or
// when it takes a None (a "poison pill" the demo sends so it need not wait),
// or when the master goes away after it did some work.

#ifndef MULTITASK_LESSONS_MANAGER_MANAGER_LESSON_H_
#define MULTITASK_LESSONS_MANAGER_MANAGER_LESSON_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/manager_server.h"

namespace multitask::manager {

inline constexpr char kTaskQueue[] = "get_task_queue";
inline constexpr char kResultQueue[] = "get_result_queue";
// Seed 002's shared dict and list, served the same way.
inline constexpr char kDict[] = "get_dict";
inline constexpr char kList[] = "get_list";

// The seed's result text: '%d * %d = %d' % (n, n, n*n).
std::string SquareLine(int64_t n);

// A started server with the four objects above. `log` as in
// ManagerServerOptions (nullptr: stderr).
absl::StatusOr<std::unique_ptr<ManagerServer>> StartMaster(
    const std::string& host, int port, const std::string& authkey,
    std::function<void(absl::string_view)> log = nullptr);

struct MasterRun {
  std::vector<int64_t> tasks;        // as put
  std::vector<std::string> results;  // as they arrived
  ManagerServerStats stats;
};

// Puts every task, then waits for as many results, each within
// `result_timeout` (DeadlineExceeded otherwise, as the seed's
// result.get(timeout=10)). `on_event` sees "put task n" / "result: ..." lines.
absl::StatusOr<MasterRun> RunMaster(
    ManagerServer& server, const std::vector<int64_t>& tasks,
    absl::Duration result_timeout,
    const std::function<void(const std::string&)>& on_event = nullptr);

struct WorkerOptions {
  absl::Duration idle_timeout = absl::Seconds(1);   // the seed's timeout=1
  absl::Duration work_time = absl::ZeroDuration();  // the seed's sleep(1)
  // Called after a task is taken, before its result is put (tests block a
  // worker here to kill it mid-task).
  std::function<void(int64_t)> on_task;
};

struct WorkerRun {
  std::vector<int64_t> done;  // tasks answered, in order
  bool stopped_by_pill = false;
  bool master_gone = false;  // the master closed the connection after work
};

// Connects and works until idle or a None task. Errors: connection and
// authentication failures from ManagerClient.
absl::StatusOr<WorkerRun> RunWorker(const std::string& address,
                                    const std::string& authkey,
                                    const WorkerOptions& options);

}  // namespace multitask::manager

#endif  // MULTITASK_LESSONS_MANAGER_MANAGER_LESSON_H_
