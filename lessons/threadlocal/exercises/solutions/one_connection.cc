// Reference solution for one_connection.h. Look only after trying.

#include "lessons/threadlocal/exercises/one_connection.h"

namespace multitask::threadlocal_exercise {

Connection& ThisThreadsConnection() {
  // One per thread, built on the thread's first call (no lock needed: nobody
  // else can reach it), destroyed by that thread when it exits.
  thread_local Connection connection;
  return connection;
}

}  // namespace multitask::threadlocal_exercise
