// YOUR SOLUTION GOES HERE. See feed_and_collect.h for the task.
//
// As given, this writes ALL the input and only then reads the output: fine
// for a small input, a deadlock for a big one. The grader fails until you fix
// it.

#include "lessons/subprocess/exercises/feed_and_collect.h"

#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/status_macros.h"
#include "common/subprocess.h"

namespace multitask::subprocess_exercise {

absl::StatusOr<std::string> FeedAndCollect(const std::vector<std::string>& argv,
                                           absl::string_view input) {
  MT_ASSIGN_OR_RETURN(Subprocess child,
                      Subprocess::Start(argv, {
                                                  .stdin_from = Redirect::kPipe,
                                                  .stdout_to = Redirect::kPipe,
                                              }));
  // Blocks for good once the program's stdin pipe is full and the program is
  // itself blocked writing to a stdout pipe that nobody reads yet.
  MT_RETURN_IF_ERROR(WriteAll(child.stdin_fd(), input));
  child.CloseStdin();
  MT_ASSIGN_OR_RETURN(std::string output, ReadAll(child.stdout_fd()));
  MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
  if (!status.success()) {
    return absl::UnknownError(
        absl::StrCat(CommandLine(argv), " ", status.ToString()));
  }
  return output;
}

}  // namespace multitask::subprocess_exercise
