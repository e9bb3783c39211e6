// Exercise: stop the consumers cleanly, and lose nothing.
//
// Seed 001's reader loops forever (`while True: value = q.get(True)`), so the
// seed can only end it with terminate(), and whatever it had not read yet is
// lost (part 3 of the lesson). Here several producer processes put messages
// into one ipc::Queue and several consumer processes take them out. Make the
// consumers STOP by themselves once every message has been taken, so that the
// parent can wait for (reap) every child and collect every message exactly
// once. No kill, no sleep, no timeout.
//
// As given, each consumer loops on a blocking Get() that never ends, and the
// parent waits for the consumers forever.
//
// Edit stop_consumers.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/queue_ipc/exercises/...
//
// The grader runs your function in a child with a time limit, so consumers
// that never stop fail the grade (with an explanation) instead of hanging it;
// it then kills whatever your processes left running.
//
// Hints: only the parent knows when the LAST producer is done (a producer
// that finishes early cannot tell whether others still put). Then either
// Close() the queue (consumers drain what is left, then Get() fails with
// OutOfRange: ipc::IsQueueClosed) or put one agreed "no more" message per
// consumer. Which of the two still works if a consumer dies? See
// WriterReader() in ../queue_ipc_lesson.cc.

#ifndef MULTITASK_LESSONS_QUEUE_IPC_EXERCISES_STOP_CONSUMERS_H_
#define MULTITASK_LESSONS_QUEUE_IPC_EXERCISES_STOP_CONSUMERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace multitask::queue_ipc_exercise {

// The k-th message (k from 0) of producer p (p from 0): "p:k", e.g. "2:17".
std::string MessageName(int producer, int k);

// Forks `producers` processes that each Put MessageName(p, 0..per_producer-1)
// in that order into one ipc::Queue, and `consumers` processes that Get
// messages from it and hand each one back to the parent. Returns every message
// the consumers got, each exactly once, after every child has exited with code
// 0 and been reaped. Per producer, one consumer gets the messages in order.
// Errors: InvalidArgument for producers < 0, consumers < 1, per_producer < 0;
// Internal if a child fails.
absl::StatusOr<std::vector<std::string>> ProduceAndConsume(int producers,
                                                           int consumers,
                                                           int per_producer);

}  // namespace multitask::queue_ipc_exercise

#endif  // MULTITASK_LESSONS_QUEUE_IPC_EXERCISES_STOP_CONSUMERS_H_
