// async_fd.h: C++20 coroutines on top of EventLoop, so that code serving one
// connection reads top to bottom although one thread serves them all.
//
// Example (an echo handler; seed 003's "协程" with the event loop made
// visible):
//   Task Echo(EventLoop& loop, UniqueFd socket_param) {
//     UniqueFd socket = std::move(socket_param);  // closes at co_return
//     AsyncFd conn(loop, socket.get());
//     if (!conn.ok()) co_return;
//     char buffer[4096];
//     while (true) {
//       ssize_t got = co_await conn.Read(buffer, sizeof(buffer));
//       if (got <= 0) co_return;                    // end of file or error
//       if (co_await conn.WriteAll(buffer, got) < 0) co_return;
//     }
//   }
//   std::vector<Task> tasks;
//   tasks.push_back(Echo(*loop, std::move(socket)));  // runs to its first wait
//   loop->Run();
//
// Each `co_await` tries the system call at once; only if it would block
// (EAGAIN) does the coroutine suspend, and the loop resumes it when the
// descriptor is ready and the call has succeeded. The descriptor must be
// non-blocking.
//
// Contract:
// - Task: owns the coroutine frame. The coroutine starts running when called
//   and runs until its first suspension. done() once it has finished.
//   Destroying a Task destroys the frame wherever it is suspended, running the
//   destructors of its locals (so a server's shutdown closes every connection
//   by destroying its tasks). An exception escaping the coroutine terminates
//   the program. Move-only; not thread-safe (use on the loop's thread).
//   Parameters live until the frame is destroyed, not until co_return: move
//   a descriptor parameter into a local so that it closes when the coroutine
//   ends.
// - AsyncFd: does not own the descriptor; watches it in the loop from
//   construction to destruction (destroy it before closing the descriptor).
//   One operation at a time (one coroutine uses it). Results: bytes (>= 0) or
//   a new descriptor for Accept, or -errno on failure. Destroying a coroutine
//   suspended in an operation is safe (its AsyncFd unwatches on the way out).

#ifndef MULTITASK_COMMON_ASYNC_FD_H_
#define MULTITASK_COMMON_ASYNC_FD_H_

#include <sys/types.h>

#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "common/event_loop.h"

namespace multitask {

class Task {
 public:
  struct promise_type {
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    // Stay suspended at the end, so that the owner can see done() and free it.
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };

  Task() = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      Destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { Destroy(); }

  bool done() const { return !handle_ || handle_.done(); }

 private:
  explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  void Destroy() {
    if (handle_) handle_.destroy();
    handle_ = {};
  }

  std::coroutine_handle<promise_type> handle_;
};

class AsyncFd {
 public:
  // An awaitable for one system call. See the file comment.
  class Operation {
   public:
    bool await_ready() { return TryOnce(); }
    void await_suspend(std::coroutine_handle<> handle);
    ssize_t await_resume() const { return result_; }

   private:
    friend class AsyncFd;
    enum class Kind { kRead, kWriteAll, kAccept };
    Operation(AsyncFd* fd, Kind kind, char* data, size_t size)
        : fd_(fd), kind_(kind), data_(data), size_(size) {}
    // Makes the call; false if it would block.
    bool TryOnce();

    AsyncFd* fd_;
    Kind kind_;
    char* data_;
    size_t size_;
    size_t written_ = 0;  // kWriteAll: progress so far.
    ssize_t result_ = 0;
    std::coroutine_handle<> handle_;
  };

  AsyncFd(EventLoop& loop, int fd);
  ~AsyncFd();
  AsyncFd(const AsyncFd&) = delete;
  AsyncFd& operator=(const AsyncFd&) = delete;

  // False if the loop could not watch the descriptor; status() says why.
  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  int fd() const { return fd_; }

  // Reads at most `size` bytes: > 0 bytes read, 0 at end of file, -errno.
  Operation Read(char* data, size_t size) {
    return Operation(this, Operation::Kind::kRead, data, size);
  }
  // Writes all `size` bytes, suspending as often as the socket buffer is
  // full: `size`, or -errno. On a socket a closed peer is -EPIPE, not
  // SIGPIPE (MSG_NOSIGNAL); other descriptors use write().
  Operation WriteAll(const char* data, size_t size) {
    return Operation(this, Operation::Kind::kWriteAll, const_cast<char*>(data),
                     size);
  }
  // accept4() on a listening socket: the new descriptor (non-blocking,
  // close-on-exec), or -errno.
  Operation Accept() {
    return Operation(this, Operation::Kind::kAccept, nullptr, 0);
  }

 private:
  void OnEvents(uint32_t events);
  // Changes the events the loop watches for.
  void Interest(uint32_t events);

  EventLoop& loop_;
  int fd_;
  absl::Status status_;
  Operation* waiting_ = nullptr;  // The suspended operation, if any.
  uint32_t interest_ = 0;
};

}  // namespace multitask

#endif  // MULTITASK_COMMON_ASYNC_FD_H_
