// process_pool.h: a pool of worker processes modelled on Python's
// multiprocessing.Pool, that survives crashing workers.
//
//   int Square(int x) { return x * x; }
//   ...
//   MT_ASSIGN_OR_RETURN(std::unique_ptr<ProcessPool> pool,
//                       ProcessPool::Create(4));
//   MT_ASSIGN_OR_RETURN(int nine, pool->Apply(Square, 3));
//   AsyncResult<int> later = pool->ApplyAsync(Square, 4);
//   MT_ASSIGN_OR_RETURN(std::vector<int> squares,
//                       pool->Map(Square, std::vector<int>{1, 2, 3}));
//   pool->Close();
//   MT_RETURN_IF_ERROR(pool->Join());
//
// Tasks. A task is a function, or a lambda without captures, plus arguments.
// The workers are forked from this process when the pool is created (and when
// one is replaced), so they hold the same code at the same addresses: a task
// travels as two code addresses and its encoded arguments, and its result
// travels back encoded. Captured state could not travel, so a capturing
// lambda is a compile-time error; pass the state as arguments. The workers
// also see a copy of this process's globals as they were at the fork.
//
// Encoding (a compile-time error with a message for anything else):
// - trivially copyable types (int, double, structs of those...) as their bytes;
//   but not pointers or string views, which would point into another process;
// - std::string: its length (8 bytes) then its bytes;
// - std::vector<T> of an encodable T: its size (8 bytes) then each element.
// A task returning void gives a std::monostate result.
//
// Workers. Each worker runs one task at a time, so at most N tasks run at
// once; queued tasks wait in the parent and go to whichever worker is free
// next (as Python's shared queue does). When many are queued they travel in
// batches (up to 1/(2N) of the queue, at most 64 tasks or 16 KiB), which is
// what makes a no-op task cost about a microsecond.
//
// Failures, beyond Python (whose Pool hangs forever when a worker dies):
// - An exception escaping a task fails that task only: its result is an
//   absl::Status (kUnknown) carrying the exception's what().
// - A worker that dies while running a task (segfault, abort, SIGKILL, even
//   exit()) fails that task only, with kAborted and a message naming the
//   signal ("... killed by signal 11 (SIGSEGV)"); the tasks queued behind it
//   go to other workers and a new worker replaces it. Each worker notes the
//   task it is running in shared memory, so the parent knows which one it was.
// - Submitting after Close() or Terminate() fails at once (FailedPrecondition)
//   instead of hanging.
//
// Lifetime. Close() stops new submissions; Join() (after Close) waits for
// every queued task and reaps every worker. Terminate() stops the workers at
// once (SIGTERM, then SIGKILL after 2 s), fails every unfinished task with
// kCancelled, and reaps the workers before it returns. Destroying a pool
// terminates it, as Python's `with Pool() as p:` does; Close() and Join()
// first to let the queued work finish.
//
// Threads. All methods are thread-safe. The pool runs one thread of its own
// (which reads results and replaces dead workers), so a worker forked to
// replace another is forked from a multi-threaded process: like any task,
// it is single-threaded and should not rely on locks held by other threads
// of the parent at that moment.

#ifndef MULTITASK_COMMON_PROCESS_POOL_H_
#define MULTITASK_COMMON_PROCESS_POOL_H_

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fd.h"

namespace multitask {

namespace pool_internal {

// ---- Encoding of values that cross the process boundary -------------------

// Appends to / consumes from a byte string. A Reader that runs out of bytes
// turns !ok() and yields zeros, so a bad message cannot read out of bounds.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void Bytes(const void* data, size_t size) {
    out_.append(static_cast<const char*>(data), size);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Bytes(void* data, size_t size) {
    if (size > in_.size()) {
      ok_ = false;
      std::memset(data, 0, size);
      return false;
    }
    std::memcpy(data, in_.data(), size);
    in_.remove_prefix(size);
    return true;
  }
  // Done and nothing left over.
  bool Finished() const { return ok_ && in_.empty(); }
  bool ok() const { return ok_; }
  size_t left() const { return in_.size(); }

 private:
  std::string_view in_;
  bool ok_ = true;
};

template <typename T>
struct Codec {
  static constexpr bool kSupported = false;
};

template <typename T>
requires(std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
         !std::is_member_pointer_v<T> && !std::is_same_v<T, std::string_view> &&
         !std::is_same_v<T, absl::string_view>) struct Codec<T> {
  static constexpr bool kSupported = true;
  static void Encode(Writer& w, const T& value) { w.Bytes(&value, sizeof(T)); }
  static void Decode(Reader& r, T& value) { r.Bytes(&value, sizeof(T)); }
};

template <>
struct Codec<std::string> {
  static constexpr bool kSupported = true;
  static void Encode(Writer& w, const std::string& value) {
    const uint64_t size = value.size();
    w.Bytes(&size, sizeof(size));
    w.Bytes(value.data(), value.size());
  }
  static void Decode(Reader& r, std::string& value) {
    uint64_t size = 0;
    if (!r.Bytes(&size, sizeof(size)) || size > r.left()) {
      r.Bytes(&size, r.left() + 1);  // marks the reader bad
      return;
    }
    value.resize(size);
    r.Bytes(value.data(), size);
  }
};

template <typename T>
struct Codec<std::vector<T>> {
  static constexpr bool kSupported = Codec<T>::kSupported;
  static void Encode(Writer& w, const std::vector<T>& values) {
    const uint64_t size = values.size();
    w.Bytes(&size, sizeof(size));
    for (const T& value : values) Codec<T>::Encode(w, value);
  }
  static void Decode(Reader& r, std::vector<T>& values) {
    uint64_t size = 0;
    // Every element takes at least one byte, except empty structs: bound the
    // size by what is left so a bad message cannot allocate gigabytes.
    if (!r.Bytes(&size, sizeof(size)) || size > r.left() + 1024) {
      uint64_t bad;
      r.Bytes(&bad, r.left() + 1);
      return;
    }
    values.resize(size);
    for (T& value : values) Codec<T>::Decode(r, value);
  }
};

template <>
struct Codec<std::monostate> {
  static constexpr bool kSupported = true;
  static void Encode(Writer&, const std::monostate&) {}
  static void Decode(Reader&, std::monostate&) {}
};

template <typename T>
inline constexpr bool kEncodable = Codec<std::remove_cvref_t<T>>::kSupported;

template <typename... T>
std::string EncodeAll(const T&... values) {
  std::string out;
  Writer w(out);
  (Codec<T>::Encode(w, values), ...);
  return out;
}

// ---- Task functions ----------------------------------------------------

// A function pointer, or a lambda without captures (which converts to one).
template <typename F>
constexpr bool IsPlainFunction() {
  if constexpr (requires(F f) { +f; }) {
    using P = decltype(+std::declval<F>());
    return std::is_pointer_v<P> && std::is_function_v<std::remove_pointer_t<P>>;
  } else {
    return false;
  }
}

template <typename P>
struct Signature;
template <typename R, typename... A>
struct Signature<R (*)(A...)> {
  using Result = R;
  using Args = std::tuple<std::remove_cvref_t<A>...>;
};

template <typename R>
using ValueOf = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

// Runs in a worker: decodes the arguments for the function at `fn`, calls it
// and returns the encoded result. Throws on a malformed message.
using Invoker = std::string (*)(uintptr_t fn, std::string_view payload);

[[noreturn]] void ThrowBadMessage();

template <typename P>
std::string InvokeCall(uintptr_t fn, std::string_view payload) {
  using Sig = Signature<P>;
  typename Sig::Args args;
  Reader r(payload);
  std::apply(
      [&](auto&... a) {
        (Codec<std::remove_cvref_t<decltype(a)>>::Decode(r, a), ...);
      },
      args);
  if (!r.Finished()) ThrowBadMessage();
  P function = reinterpret_cast<P>(fn);
  std::string out;
  Writer w(out);
  if constexpr (std::is_void_v<typename Sig::Result>) {
    std::apply(function, std::move(args));
  } else {
    Codec<typename Sig::Result>::Encode(w,
                                        std::apply(function, std::move(args)));
  }
  return out;
}

// A Map chunk: a vector of single arguments in, a vector of results out.
template <typename P>
std::string InvokeChunk(uintptr_t fn, std::string_view payload) {
  using Sig = Signature<P>;
  using Arg = std::tuple_element_t<0, typename Sig::Args>;
  std::vector<Arg> items;
  Reader r(payload);
  Codec<std::vector<Arg>>::Decode(r, items);
  if (!r.Finished()) ThrowBadMessage();
  P function = reinterpret_cast<P>(fn);
  std::vector<typename Sig::Result> results;
  results.reserve(items.size());
  for (Arg& item : items) results.push_back(function(std::move(item)));
  std::string out;
  Writer w(out);
  Codec<std::vector<typename Sig::Result>>::Encode(w, results);
  return out;
}

// Where ImapUnordered learns which chunk finished.
struct CompletionQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<size_t> done;
};

// The parent's side of one submitted task: filled once with the encoded
// result or an error.
class Slot {
 public:
  Slot() = default;
  Slot(std::shared_ptr<CompletionQueue> queue, size_t index)
      : queue_(std::move(queue)), index_(index) {}

  void Set(absl::StatusOr<std::string> outcome);
  bool Ready() const;
  // False on timeout (absl::InfiniteDuration() waits for ever).
  bool Wait(absl::Duration timeout) const;
  // After Wait() returned true.
  const absl::StatusOr<std::string>& outcome() const { return *outcome_; }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::optional<absl::StatusOr<std::string>> outcome_;
  std::shared_ptr<CompletionQueue> queue_;
  size_t index_ = 0;
};

template <typename T>
absl::StatusOr<T> DecodeResult(const absl::StatusOr<std::string>& outcome) {
  if (!outcome.ok()) return outcome.status();
  T value{};
  Reader r(*outcome);
  Codec<T>::Decode(r, value);
  if (!r.Finished()) {
    return absl::InternalError("ProcessPool: malformed result message");
  }
  return value;
}

}  // namespace pool_internal

// The result of ApplyAsync: like Python's AsyncResult. Copyable; all copies
// share the one result. Thread-safe.
template <typename R>
class AsyncResult {
 public:
  using Value = pool_internal::ValueOf<R>;

  bool Ready() const { return slot_->Ready(); }
  void Wait() const { slot_->Wait(absl::InfiniteDuration()); }
  // True if the result is there within `timeout`.
  bool Wait(absl::Duration timeout) const { return slot_->Wait(timeout); }
  // The value, or the task's error; DeadlineExceeded if not ready in time.
  absl::StatusOr<Value> Get(
      absl::Duration timeout = absl::InfiniteDuration()) const {
    if (!slot_->Wait(timeout)) {
      return absl::DeadlineExceededError("ProcessPool: result not ready");
    }
    return pool_internal::DecodeResult<Value>(slot_->outcome());
  }

 private:
  friend class ProcessPool;
  explicit AsyncResult(std::shared_ptr<pool_internal::Slot> slot)
      : slot_(std::move(slot)) {}
  std::shared_ptr<pool_internal::Slot> slot_;
};

// Results of Imap / ImapUnordered, one at a time: Next() blocks until the next
// one is there and returns nullopt after the last. A failed chunk yields its
// error once for each of its items. Not thread-safe (one consumer).
template <typename R>
class ImapResults {
 public:
  std::optional<absl::StatusOr<R>> Next() {
    while (position_ == current_size_) {
      if (taken_ == slots_.size()) return std::nullopt;
      size_t chunk = taken_;
      if (queue_ != nullptr) {  // unordered: whichever chunk finished first
        std::unique_lock<std::mutex> lock(queue_->mu);
        queue_->cv.wait(lock, [&] { return !queue_->done.empty(); });
        chunk = queue_->done.front();
        queue_->done.pop_front();
      }
      ++taken_;
      slots_[chunk]->Wait(absl::InfiniteDuration());
      absl::StatusOr<std::vector<R>> items =
          pool_internal::DecodeResult<std::vector<R>>(slots_[chunk]->outcome());
      current_error_ = items.status();
      if (items.ok() && items->size() != sizes_[chunk]) {
        current_error_ =
            absl::InternalError("ProcessPool: chunk of the wrong size");
      }
      current_ = items.ok() ? *std::move(items) : std::vector<R>();
      current_size_ = sizes_[chunk];
      position_ = 0;
    }
    const size_t at = position_++;
    if (!current_error_.ok()) {
      return std::optional<absl::StatusOr<R>>(current_error_);
    }
    return std::optional<absl::StatusOr<R>>(std::move(current_[at]));
  }

 private:
  friend class ProcessPool;
  std::vector<std::shared_ptr<pool_internal::Slot>> slots_;
  std::vector<size_t> sizes_;
  std::shared_ptr<pool_internal::CompletionQueue> queue_;  // null: in order
  size_t taken_ = 0;
  // The chunk being handed out: its items, or its error for each item.
  std::vector<R> current_;
  absl::Status current_error_;
  size_t current_size_ = 0;
  size_t position_ = 0;
};

class ProcessPool {
 public:
  // Starts `processes` workers (0: CpuCount()). Fails if a fork or pipe does.
  static absl::StatusOr<std::unique_ptr<ProcessPool>> Create(int processes = 0);

  ProcessPool(const ProcessPool&) = delete;
  ProcessPool& operator=(const ProcessPool&) = delete;
  ~ProcessPool();  // Terminate()

  int size() const { return size_; }
  // The workers' pids now (they change when a dead worker is replaced).
  std::vector<pid_t> WorkerPids() const;

  // fn(args...) in a worker; blocks until done. The round trip goes straight
  // between this thread and an idle worker when there is one.
  template <typename F, typename... A>
  auto Apply(F fn, const A&... args) {
    using P = decltype(CheckedPointer<F, A...>(fn));
    using Value =
        pool_internal::ValueOf<typename pool_internal::Signature<P>::Result>;
    absl::StatusOr<std::string> outcome =
        Call(&pool_internal::InvokeCall<P>, reinterpret_cast<uintptr_t>(+fn),
             EncodeArgs<P>(args...));
    return pool_internal::DecodeResult<Value>(outcome);
  }

  // fn(args...) in a worker; returns at once. If the pool is closed the result
  // is already there: FailedPrecondition.
  template <typename F, typename... A>
  auto ApplyAsync(F fn, const A&... args) {
    using P = decltype(CheckedPointer<F, A...>(fn));
    return AsyncResult<typename pool_internal::Signature<P>::Result>(
        Submit(&pool_internal::InvokeCall<P>, reinterpret_cast<uintptr_t>(+fn),
               EncodeArgs<P>(args...)));
  }

  // fn(item) for every item, results in order. `chunksize` items travel as one
  // task; 0 picks Python's default (len / (4 * size()), rounded up). The first
  // failed chunk's error fails the whole Map.
  template <typename F, typename T>
  auto Map(F fn, const std::vector<T>& items, size_t chunksize = 0) {
    using P = decltype(CheckedPointer<F, T>(fn));
    using R = typename pool_internal::Signature<P>::Result;
    using Out = absl::StatusOr<std::vector<R>>;
    ImapResults<R> results = StartImap(fn, items, chunksize, false);
    std::vector<R> out;
    out.reserve(items.size());
    while (std::optional<absl::StatusOr<R>> next = results.Next()) {
      if (!next->ok()) return Out(next->status());
      out.push_back(*std::move(*next));
    }
    return Out(std::move(out));
  }

  // Like Map, but returns at once and yields results as they come: Imap in
  // order, ImapUnordered in the order chunks finish (default chunksize 1).
  template <typename F, typename T>
  auto Imap(F fn, const std::vector<T>& items, size_t chunksize = 1) {
    return StartImap(fn, items, chunksize, false);
  }
  template <typename F, typename T>
  auto ImapUnordered(F fn, const std::vector<T>& items, size_t chunksize = 1) {
    return StartImap(fn, items, chunksize, true);
  }

  // No more submissions; queued tasks still run.
  void Close();
  // After Close(): waits for every task, then stops and reaps the workers.
  // FailedPrecondition if the pool was not closed (Python raises too).
  absl::Status Join();
  // Stops every worker now and reaps them; unfinished tasks fail (kCancelled).
  void Terminate();

 private:
  struct Worker;
  struct Task;

  explicit ProcessPool(int processes);

  template <typename F, typename... A>
  static auto CheckedPointer(F fn) {
    static_assert(pool_internal::IsPlainFunction<F>(),
                  "ProcessPool: a task must be a function or a lambda without "
                  "captures (captured state cannot cross the process "
                  "boundary; pass it as an argument)");
    using P = decltype(+fn);
    using Sig = pool_internal::Signature<P>;
    static_assert(std::tuple_size_v<typename Sig::Args> == sizeof...(A),
                  "ProcessPool: wrong number of arguments for the task");
    static_assert(
        pool_internal::kEncodable<pool_internal::ValueOf<typename Sig::Result>>,
        "ProcessPool: the task's result type cannot cross the "
        "process boundary: use a trivially copyable type (no "
        "pointers), std::string, or a std::vector of those");
    return +fn;
  }

  template <typename P, typename... A>
  static std::string EncodeArgs(const A&... args) {
    using Args = typename pool_internal::Signature<P>::Args;
    auto refs = std::forward_as_tuple(args...);
    return [&]<size_t... I>(std::index_sequence<I...>) {
      static_assert(
          (pool_internal::kEncodable<std::tuple_element_t<I, Args>> && ...),
          "ProcessPool: an argument type cannot cross the process boundary: "
          "use a trivially copyable type (no pointers), std::string, or a "
          "std::vector of those");
      // Converted to the parameter types first, so that the worker decodes
      // exactly what was encoded.
      return pool_internal::EncodeAll(
          std::tuple_element_t<I, Args>(std::get<I>(refs))...);
    }
    (std::index_sequence_for<A...>{});
  }

  template <typename F, typename T>
  auto StartImap(F fn, const std::vector<T>& items, size_t chunksize,
                 bool unordered) {
    using P = decltype(CheckedPointer<F, T>(fn));
    using Arg =
        std::tuple_element_t<0, typename pool_internal::Signature<P>::Args>;
    using R = typename pool_internal::Signature<P>::Result;
    static_assert(!std::is_void_v<R>,
                  "ProcessPool: Map needs a task that returns a value");
    ImapResults<R> results;
    if (chunksize == 0) chunksize = DefaultChunksize(items.size());
    if (unordered) {
      results.queue_ = std::make_shared<pool_internal::CompletionQueue>();
    }
    for (size_t begin = 0; begin < items.size(); begin += chunksize) {
      const size_t end = std::min(items.size(), begin + chunksize);
      std::vector<Arg> chunk(items.begin() + begin, items.begin() + end);
      std::string payload;
      pool_internal::Writer w(payload);
      pool_internal::Codec<std::vector<Arg>>::Encode(w, chunk);
      results.slots_.push_back(Submit(
          &pool_internal::InvokeChunk<P>, reinterpret_cast<uintptr_t>(+fn),
          std::move(payload), results.queue_, results.slots_.size()));
      results.sizes_.push_back(end - begin);
    }
    return results;
  }

  size_t DefaultChunksize(size_t items) const;

  std::shared_ptr<pool_internal::Slot> Submit(
      pool_internal::Invoker invoker, uintptr_t fn, std::string payload,
      std::shared_ptr<pool_internal::CompletionQueue> queue = nullptr,
      size_t index = 0);
  absl::StatusOr<std::string> Call(pool_internal::Invoker invoker, uintptr_t fn,
                                   std::string payload);

  // Everything below is in process_pool.cc.
  absl::Status StartWorker(size_t index);
  void ManagerLoop();
  void WakeManagerLocked();
  void DispatchLocked();
  void ReadResultsLocked(Worker& worker);
  void HandleDeathLocked(Worker& worker);
  bool ConsumeFramesLocked(Worker& worker);
  void StopWorkers(bool terminate);

  const int size_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::deque<Task> pending_;
  uint64_t next_id_ = 1;
  bool closed_ = false;
  bool terminating_ = false;
  bool manager_done_ = false;
  bool manager_asleep_ = false;
  bool wake_pending_ = false;
  Pipe wake_;  // non-blocking; a byte wakes the manager thread
  std::thread manager_;
  std::mutex join_mu_;  // one Join/Terminate at a time
};

}  // namespace multitask

#endif  // MULTITASK_COMMON_PROCESS_POOL_H_
