// YOUR SOLUTION GOES HERE. See one_connection.h for the task.
//
// As given, every thread shares one process-wide connection (a function-static
// object: built once, by whichever thread comes first, and destroyed only at
// program exit). The grader fails until you fix it.

#include "lessons/threadlocal/exercises/one_connection.h"

namespace multitask::threadlocal_exercise {

Connection& ThisThreadsConnection() {
  static Connection shared;  // one for the whole process
  return shared;
}

}  // namespace multitask::threadlocal_exercise
