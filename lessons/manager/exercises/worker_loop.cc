// YOUR SOLUTION GOES HERE. See worker_loop.h for the task.
//
// As given, this worker answers one task and returns, and like the seed's bare
// `except:` it turns every error into "0 tasks done". The grader fails until
// you fix both.

#include "lessons/manager/exercises/worker_loop.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/manager_client.h"

namespace multitask::manager_exercise {

absl::StatusOr<int> WorkUntilQueueEmpty(const std::string& address,
                                        const std::string& authkey,
                                        absl::Duration idle_timeout) {
  absl::StatusOr<std::unique_ptr<ManagerClient>> client =
      ManagerClient::Connect(address, authkey);
  if (!client.ok()) return 0;  // Hides the real error. Fix that.
  absl::StatusOr<RemoteQueue> tasks = (*client)->Queue(kTaskQueue);
  absl::StatusOr<RemoteQueue> results = (*client)->Queue(kResultQueue);
  if (!tasks.ok() || !results.ok()) return 0;

  // One task only. Make this a loop that ends when the queue is empty.
  absl::StatusOr<PyValue> task = tasks->Get(idle_timeout);
  if (!task.ok() || !task->is_int()) return 0;
  const int64_t n = task->as_int();
  absl::Status put =
      results->Put(PyValue::Str(absl::StrCat(n, " * ", n, " = ", n * n)));
  if (!put.ok()) return 0;
  return 1;
}

}  // namespace multitask::manager_exercise
