// Exercise: write the worker loop of seed 001's distributed worker.
//
// The master (task_master.py, or `bazel run //lessons/manager --
// --role=master`) serves two queues over the network: "get_task_queue" holds
// numbers n, "get_result_queue" collects answers. Write the worker: connect to
// the master at `address` ("host:port") with `authkey`, then take a number n
// from the task queue, put the text "n * n = n²" on the result queue (the
// seed's
// '%d * %d = %d' % (n, n, n*n), e.g. "7 * 7 = 49"), and repeat until the task
// queue stays empty for `idle_timeout`. Return how many tasks you answered.
//
// The seed's worker does `for i in range(10)` with a bare `except:` around
// each get: it stops after ten tries however many tasks there are, and it hides
// every error as "task queue is empty". Yours must loop until the queue is
// empty (any number of tasks, shared with other workers), and only the empty
// queue ends it normally: a wrong authkey or a lost master is an error the
// caller must see.
//
// As given, worker_loop.cc answers ONE task and returns, and turns every error
// into "0 tasks done". Edit it (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/manager/exercises/...
//
// The grader starts a ManagerServer on 127.0.0.1 port 0 in its own process,
// puts tasks, runs your worker in a child with a time limit, and checks that
// every task was answered exactly once with the right text.
//
// Hints: common/manager_client.h (ManagerClient::Connect, Queue, and
// RemoteQueue::Get(timeout) / Put) and IsQueueEmpty(status). RunWorker() in
// ../manager_lesson.cc is a fuller worker (poison pills, a master that quits);
// try without it first. What does tasks.Get() with no timeout do once the
// queue is empty? What is n * n for n = 100000 in an int?

#ifndef MULTITASK_LESSONS_MANAGER_EXERCISES_WORKER_LOOP_H_
#define MULTITASK_LESSONS_MANAGER_EXERCISES_WORKER_LOOP_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace multitask::manager_exercise {

// The master's queues, as task_master.py registers them.
inline constexpr char kTaskQueue[] = "get_task_queue";
inline constexpr char kResultQueue[] = "get_result_queue";

// Answers tasks until none came within `idle_timeout`; returns how many it
// answered. Errors: connecting or authenticating (e.g. PermissionDenied for a
// wrong key), or any failed get/put other than the queue being empty.
absl::StatusOr<int> WorkUntilQueueEmpty(const std::string& address,
                                        const std::string& authkey,
                                        absl::Duration idle_timeout);

}  // namespace multitask::manager_exercise

#endif  // MULTITASK_LESSONS_MANAGER_EXERCISES_WORKER_LOOP_H_
