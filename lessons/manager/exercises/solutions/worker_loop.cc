// Reference solution for worker_loop.h. Look only after trying.

#include "lessons/manager/exercises/worker_loop.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/manager_client.h"
#include "common/status_macros.h"

namespace multitask::manager_exercise {

absl::StatusOr<int> WorkUntilQueueEmpty(const std::string& address,
                                        const std::string& authkey,
                                        absl::Duration idle_timeout) {
  // A wrong key or address fails here, and the caller sees why.
  MT_ASSIGN_OR_RETURN(std::unique_ptr<ManagerClient> client,
                      ManagerClient::Connect(address, authkey));
  MT_ASSIGN_OR_RETURN(RemoteQueue tasks, client->Queue(kTaskQueue));
  MT_ASSIGN_OR_RETURN(RemoteQueue results, client->Queue(kResultQueue));
  int done = 0;
  while (true) {
    // The timeout is applied by the server: without one, the last get would
    // wait forever for a task that never comes.
    absl::StatusOr<PyValue> task = tasks.Get(idle_timeout);
    if (IsQueueEmpty(task.status())) return done;  // the only normal end
    if (!task.ok()) return task.status();
    if (!task->is_int()) {
      return absl::InvalidArgumentError(
          absl::StrCat("task is not an int: ", task->Repr()));
    }
    const int64_t n = task->as_int();  // int64_t: n * n overflows an int
    MT_RETURN_IF_ERROR(
        results.Put(PyValue::Str(absl::StrCat(n, " * ", n, " = ", n * n))));
    ++done;
  }
}

}  // namespace multitask::manager_exercise
