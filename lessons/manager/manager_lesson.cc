#include "lessons/manager/manager_lesson.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/manager_client.h"
#include "common/status_macros.h"

namespace multitask::manager {

std::string SquareLine(int64_t n) {
  return absl::StrCat(n, " * ", n, " = ", n * n);
}

absl::StatusOr<std::unique_ptr<ManagerServer>> StartMaster(
    const std::string& host, int port, const std::string& authkey,
    std::function<void(absl::string_view)> log) {
  ManagerServerOptions options;
  options.host = host;
  options.port = port;
  options.authkey = authkey;
  options.log = std::move(log);
  auto server = std::make_unique<ManagerServer>(std::move(options));
  server->RegisterQueue(kTaskQueue);
  server->RegisterQueue(kResultQueue);
  server->RegisterDict(kDict);
  server->RegisterList(kList);
  MT_RETURN_IF_ERROR(server->Start());
  return server;
}

absl::StatusOr<MasterRun> RunMaster(
    ManagerServer& server, const std::vector<int64_t>& tasks,
    absl::Duration result_timeout,
    const std::function<void(const std::string&)>& on_event) {
  MasterRun run;
  for (int64_t n : tasks) {
    if (on_event) on_event(absl::StrCat("put task ", n));
    MT_RETURN_IF_ERROR(server.Put(kTaskQueue, PyValue::Int(n)));
    run.tasks.push_back(n);
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    absl::StatusOr<PyValue> r = server.Get(kResultQueue, result_timeout);
    if (!r.ok()) {
      return absl::Status(
          r.status().code(),
          absl::StrCat("waiting for result ", i + 1, " of ", tasks.size(), ": ",
                       r.status().message()));
    }
    std::string text = r->is_str() ? r->text() : r->Repr();
    if (on_event) on_event(absl::StrCat("result: ", text));
    run.results.push_back(std::move(text));
  }
  run.stats = server.stats();
  return run;
}

absl::StatusOr<WorkerRun> RunWorker(const std::string& address,
                                    const std::string& authkey,
                                    const WorkerOptions& options) {
  MT_ASSIGN_OR_RETURN(std::unique_ptr<ManagerClient> client,
                      ManagerClient::Connect(address, authkey));
  MT_ASSIGN_OR_RETURN(RemoteQueue tasks, client->Queue(kTaskQueue));
  MT_ASSIGN_OR_RETURN(RemoteQueue results, client->Queue(kResultQueue));
  WorkerRun run;
  while (true) {
    absl::StatusOr<PyValue> task = tasks.Get(options.idle_timeout);
    if (IsQueueEmpty(task.status())) return run;
    if (absl::IsUnavailable(task.status()) && !run.done.empty()) {
      run.master_gone = true;  // e.g. the seed's master shut down when done
      return run;
    }
    if (!task.ok()) return task.status();
    if (task->is_none()) {
      // Settle the pill, or the server's at-least-once rule would put it
      // back when we disconnect.
      MT_RETURN_IF_ERROR(tasks.TaskDone());
      run.stopped_by_pill = true;
      return run;
    }
    if (!task->is_int()) {
      return absl::InvalidArgumentError(
          absl::StrCat("task is not an int: ", task->Repr()));
    }
    const int64_t n = task->as_int();
    if (options.on_task) options.on_task(n);
    if (options.work_time > absl::ZeroDuration()) {
      absl::SleepFor(options.work_time);  // stands for real work
    }
    absl::Status put = results.Put(PyValue::Str(SquareLine(n)));
    if (absl::IsUnavailable(put)) {
      // The master went away while we answered; whether this last result
      // reached it we cannot know (it may have, and quit at once).
      run.master_gone = true;
      return run;
    }
    MT_RETURN_IF_ERROR(put);
    run.done.push_back(n);
  }
}

}  // namespace multitask::manager
