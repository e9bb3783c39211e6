// exit_status.h: what waitpid() says about how a process ended, decoded.
//
//   MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
//   if (status.signaled()) std::cout << status;   // "killed by signal 9
//   (SIGKILL)"
//
// A process ends in one of two ways: it exits with a code 0..255 (exit(),
// _exit(), or returning from main), or a signal kills it (SIGKILL, SIGSEGV,
// SIGABRT, ...).

#ifndef MULTITASK_COMMON_EXIT_STATUS_H_
#define MULTITASK_COMMON_EXIT_STATUS_H_

#include <ostream>
#include <string>

namespace multitask {

// "SIGKILL" for 9, "SIGSEGV" for 11, ...; "signal N" for a number with no name.
std::string SignalName(int signal_number);

class ExitStatus {
 public:
  // From the status word of waitpid()/wait(): only for a process that ended
  // (WIFEXITED or WIFSIGNALED), not one that stopped.
  static ExitStatus FromWaitStatus(int wait_status);
  static ExitStatus Exited(int code);
  static ExitStatus Killed(int signal_number, bool core_dumped = false);

  bool exited() const { return !signaled_; }
  bool signaled() const { return signaled_; }
  // Meaningful only when exited().
  int exit_code() const { return exited() ? value_ : -1; }
  // Meaningful only when signaled().
  int signal() const { return signaled() ? value_ : 0; }
  bool core_dumped() const { return core_dumped_; }
  // True for exit code 0.
  bool success() const { return exited() && value_ == 0; }

  // Python's Process.exitcode convention: the code, or minus the signal number.
  int python_exitcode() const { return exited() ? value_ : -value_; }

  // "exited with code 3", "killed by signal 11 (SIGSEGV), core dumped".
  std::string ToString() const;

  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
  friend std::ostream& operator<<(std::ostream& os, const ExitStatus& s) {
    return os << s.ToString();
  }

 private:
  ExitStatus(bool signaled, int value, bool core_dumped)
      : signaled_(signaled), value_(value), core_dumped_(core_dumped) {}

  bool signaled_;
  int value_;
  bool core_dumped_;
};

}  // namespace multitask

#endif  // MULTITASK_COMMON_EXIT_STATUS_H_
