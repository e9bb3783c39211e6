// Exercise: feed a program and read its output at the same time.
//
// FeedAndCollect() starts a program (e.g. `cat`) with its stdin and stdout
// piped, sends it `input`, and returns everything it wrote to stdout. Do it
// yourself with the raw pipe ends of a Subprocess (stdin_fd(), stdout_fd(),
// CloseStdin(), Wait()): Communicate() and Run() are not allowed here, since
// they are the answer.
//
// As given, it writes all of the input first and reads the output afterwards.
// That works for a few KiB and hangs for more (part 4 of the lesson): `cat`
// fills its stdout pipe (64 KiB), stops reading, its stdin pipe fills, and our
// write() blocks while cat's write() blocks: each waits for the other forever.
//
// Edit feed_and_collect.cc (next to this file), then grade it:
//
//   bazel test --config=grade //lessons/subprocess/exercises/...
//
// The grader runs your function in a child with a time limit, so a deadlock
// fails the grade (with an explanation) instead of hanging it.
//
// Hints: put both pipe ends in one poll(): write when stdin has room (make the
// stdin end O_NONBLOCK, so a write takes only what fits), read when stdout has
// data, close stdin when all input is sent, stop when stdout says end of file,
// then Wait(). A program may stop reading before it has all the input (`head
// -c 10`): then write() fails with EPIPE, and first raises SIGPIPE, which
// kills the writer unless it is blocked or ignored. Communicate() in
// common/subprocess.cc does all of this: read it after you have tried.

#ifndef MULTITASK_LESSONS_SUBPROCESS_EXERCISES_FEED_AND_COLLECT_H_
#define MULTITASK_LESSONS_SUBPROCESS_EXERCISES_FEED_AND_COLLECT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace multitask::subprocess_exercise {

// Runs `argv` with stdin and stdout piped (stderr is ours), writes `input` to
// its stdin, then closes it, and returns all that the program wrote to stdout.
// Reaps the program. Errors: the program cannot be started, or it did not exit
// with code 0 (e.g. Unknown "cat exited with code 3"). A program that stops
// reading early is not an error (like Python's communicate()): the rest of
// the input is dropped, and the process must not die of SIGPIPE.
absl::StatusOr<std::string> FeedAndCollect(const std::vector<std::string>& argv,
                                           absl::string_view input);

}  // namespace multitask::subprocess_exercise

#endif  // MULTITASK_LESSONS_SUBPROCESS_EXERCISES_FEED_AND_COLLECT_H_
