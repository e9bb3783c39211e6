#include "common/ipc_queue.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/ipc_futex.h"
#include "common/ipc_robust_mutex.h"

namespace multitask::ipc {

bool IsQueueFull(const absl::Status& status) {
  return absl::IsResourceExhausted(status);
}
bool IsQueueEmpty(const absl::Status& status) {
  return absl::IsUnavailable(status);
}
bool IsQueueClosed(const absl::Status& status) {
  return absl::IsOutOfRange(status) || absl::IsFailedPrecondition(status);
}

namespace internal {

namespace {
std::atomic<QueueHook> g_hook{nullptr};
}  // namespace

void SetQueueHookForTesting(QueueHook hook) { g_hook.store(hook); }

// The queue's counters. Offsets (head, tail) grow forever; the ring index is
// offset & (capacity - 1). Only the lock holder reads or writes them.
struct QueueCounters {
  uint64_t head = 0;  // offset of the oldest message's header
  uint64_t tail = 0;  // offset where the next message goes
  uint64_t count = 0;
  uint64_t puts = 0;
  uint64_t gets = 0;
  uint64_t unfinished = 0;
  uint64_t closed = 0;
};

struct QueueHeader {
  QueueHeader(uint64_t capacity, uint64_t max_messages, bool joinable)
      : capacity(capacity), max_messages(max_messages), joinable(joinable) {}

  RobustMutex mutex;
  // Which of counters[] is the committed one: THE commit point.
  std::atomic<uint32_t> current{0};
  QueueCounters counters[2];
  // Futex words, bumped (under the mutex) to wake sleepers.
  std::atomic<uint32_t> not_empty{0};  // Get sleeps here
  std::atomic<uint32_t> not_full{0};   // Put sleeps here
  std::atomic<uint32_t> all_done{0};   // Join sleeps here
  // "Someone may be asleep on ...": set by a sleeper, cleared by the waker, so
  // an uncontended queue makes no system call. A killed sleeper leaves at most
  // one useless wake behind.
  bool getters_asleep = false;
  bool putters_asleep = false;
  bool joiners_asleep = false;
  // How many times a locker found the previous owner dead (statistics).
  uint64_t owner_deaths = 0;

  const uint64_t capacity;  // ring bytes, a power of two
  const uint64_t max_messages;
  const bool joinable;
};

}  // namespace internal

namespace {

using internal::QueueCounters;
using internal::QueueHeader;
using internal::QueueStep;

constexpr uint64_t kHeaderBytes = 8;  // the message length, as a uint64_t
constexpr size_t kRingOffset = (sizeof(QueueHeader) + 63) / 64 * 64;

uint64_t RecordBytes(uint64_t length) {
  return kHeaderBytes + (length + 7) / 8 * 8;
}

void Hook(QueueStep step) {
  if (internal::QueueHook hook =
          internal::g_hook.load(std::memory_order_relaxed);
      hook != nullptr) {
    hook(step);
  }
}

absl::Time DeadlineFor(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return absl::InfiniteFuture();
  return absl::Now() + timeout;
}

void Bump(std::atomic<uint32_t>* word) {
  word->fetch_add(1, std::memory_order_release);
  FutexWake(word, kFutexWakeAll);
}

}  // namespace

// Holds the queue's lock; wakes everyone if the previous owner died.
class Queue::Locked {
 public:
  explicit Locked(QueueHeader* header) : header_(header) { Acquire(); }
  ~Locked() {
    if (locked_) header_->mutex.Unlock();
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

  const QueueCounters& counters() const {
    return header_->counters[header_->current.load(std::memory_order_acquire)];
  }

  // THE commit point: everything before it is invisible, everything after it
  // is done.
  void Commit(const QueueCounters& next) {
    const uint32_t spare =
        header_->current.load(std::memory_order_relaxed) ^ 1u;
    header_->counters[spare] = next;
    header_->current.store(spare, std::memory_order_release);
  }

  // Sleeps on `word` (flagging `asleep`) with the lock released; retakes it.
  // DeadlineExceeded once `deadline` has passed.
  absl::Status Sleep(std::atomic<uint32_t>* word, bool* asleep,
                     absl::Time deadline) {
    if (deadline != absl::InfiniteFuture() && absl::Now() >= deadline) {
      return absl::DeadlineExceededError("");
    }
    *asleep = true;
    const uint32_t seen = word->load(std::memory_order_acquire);
    header_->mutex.Unlock();
    locked_ = false;
    absl::Status slept = FutexWait(word, seen, deadline);
    Acquire();
    return slept;
  }

  // Wakes the sleepers flagged by `asleep`, if any.
  void WakeIfAsleep(std::atomic<uint32_t>* word, bool* asleep) {
    if (!*asleep) return;
    *asleep = false;
    Bump(word);
  }

 private:
  // Takes the lock (no spinning first: on this course's loaded 2-core machine
  // a bounded spin made round trips 3x slower, see the README). Wakes
  // everyone if the previous owner died.
  void Acquire() {
    const RobustMutex::Acquired acquired = header_->mutex.Lock();
    locked_ = true;
    if (acquired == RobustMutex::Acquired::kOwnerDied) {
      // The counters are consistent (single commit point); but the dead owner
      // may have committed without waking the sleepers. Wake them all.
      header_->owner_deaths += 1;
      Bump(&header_->not_empty);
      Bump(&header_->not_full);
      Bump(&header_->all_done);
    }
  }

  QueueHeader* header_;
  bool locked_ = true;
};

absl::StatusOr<Queue> Queue::Create(size_t capacity_bytes,
                                    size_t max_messages) {
  return CreateImpl(capacity_bytes, max_messages, /*joinable=*/false);
}

absl::StatusOr<Queue> Queue::CreateImpl(size_t capacity_bytes,
                                        size_t max_messages, bool joinable) {
  if (capacity_bytes > (size_t{1} << 40)) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue capacity of ", capacity_bytes, " bytes is absurd"));
  }
  uint64_t capacity = 64;
  while (capacity < capacity_bytes) capacity *= 2;
  absl::StatusOr<SharedMapping> mapping =
      SharedMapping::Create(kRingOffset + capacity);
  if (!mapping.ok()) return mapping.status();
  new (mapping->data()) QueueHeader(capacity, max_messages, joinable);
  return Queue(*std::move(mapping));
}

absl::StatusOr<JoinableQueue> JoinableQueue::Create(size_t capacity_bytes,
                                                    size_t max_messages) {
  absl::StatusOr<Queue> queue =
      CreateImpl(capacity_bytes, max_messages, /*joinable=*/true);
  if (!queue.ok()) return queue.status();
  return JoinableQueue(*std::move(queue));
}

Queue::Queue(SharedMapping mapping)
    : mapping_(std::move(mapping)),
      header_(static_cast<QueueHeader*>(mapping_.data())),
      ring_(static_cast<char*>(mapping_.data()) + kRingOffset) {}

size_t Queue::capacity_bytes() const { return header_->capacity; }

size_t Queue::max_message_bytes() const {
  return header_->capacity - kHeaderBytes;
}

absl::Status Queue::Put(absl::string_view message, absl::Duration timeout) {
  if (message.size() > max_message_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message of ", message.size(),
        " bytes is larger than the queue (at most ", max_message_bytes(),
        " bytes per message); messages are not chunked"));
  }
  const uint64_t record = RecordBytes(message.size());
  const uint64_t mask = header_->capacity - 1;
  const absl::Time deadline = DeadlineFor(timeout);
  Locked lock(header_);
  bool timed_out = false;
  while (true) {
    const QueueCounters& now = lock.counters();
    if (now.closed) return absl::FailedPreconditionError("queue closed");
    const bool room =
        now.tail - now.head + record <= header_->capacity &&
        (header_->max_messages == 0 || now.count < header_->max_messages);
    if (room) break;
    if (timed_out) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "queue full (", now.count, " messages, ", now.tail - now.head, " of ",
          header_->capacity, " bytes used)"));
    }
    absl::Status slept =
        lock.Sleep(&header_->not_full, &header_->putters_asleep, deadline);
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
  QueueCounters next = lock.counters();
  // Write the record into free space: invisible until the commit.
  const uint64_t length = message.size();
  std::memcpy(ring_ + (next.tail & mask), &length, kHeaderBytes);
  const uint64_t start = (next.tail + kHeaderBytes) & mask;
  const uint64_t first = std::min<uint64_t>(length, header_->capacity - start);
  std::memcpy(ring_ + start, message.data(), first);
  std::memcpy(ring_, message.data() + first, length - first);
  Hook(QueueStep::kPutCopied);
  next.tail += record;
  next.count += 1;
  next.puts += 1;
  if (header_->joinable) next.unfinished += 1;
  lock.Commit(next);
  Hook(QueueStep::kPutCommitted);
  lock.WakeIfAsleep(&header_->not_empty, &header_->getters_asleep);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Queue::Get(absl::Duration timeout) {
  std::string message;
  absl::Status got = GetInto(&message, timeout);
  if (!got.ok()) return got;
  return message;
}

absl::Status Queue::GetInto(std::string* message, absl::Duration timeout) {
  const uint64_t mask = header_->capacity - 1;
  const absl::Time deadline = DeadlineFor(timeout);
  Locked lock(header_);
  bool timed_out = false;
  while (lock.counters().count == 0) {
    if (lock.counters().closed) {
      return absl::OutOfRangeError("queue closed (and empty)");
    }
    if (timed_out) return absl::UnavailableError("queue empty");
    absl::Status slept =
        lock.Sleep(&header_->not_empty, &header_->getters_asleep, deadline);
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
  QueueCounters next = lock.counters();
  uint64_t length;
  std::memcpy(&length, ring_ + (next.head & mask), kHeaderBytes);
  const uint64_t start = (next.head + kHeaderBytes) & mask;
  const uint64_t first = std::min<uint64_t>(length, header_->capacity - start);
  message->resize(length);
  std::memcpy(message->data(), ring_ + start, first);
  std::memcpy(message->data() + first, ring_, length - first);
  Hook(QueueStep::kGetCopied);
  next.head += RecordBytes(length);
  next.count -= 1;
  next.gets += 1;
  lock.Commit(next);
  Hook(QueueStep::kGetCommitted);
  lock.WakeIfAsleep(&header_->not_full, &header_->putters_asleep);
  return absl::OkStatus();
}

void Queue::Close() {
  Locked lock(header_);
  if (lock.counters().closed) return;
  QueueCounters next = lock.counters();
  next.closed = 1;
  lock.Commit(next);
  lock.WakeIfAsleep(&header_->not_empty, &header_->getters_asleep);
  lock.WakeIfAsleep(&header_->not_full, &header_->putters_asleep);
}

Queue::Stats Queue::GetStats() {
  Locked lock(header_);
  const QueueCounters& now = lock.counters();
  return Stats{.messages = now.count,
               .bytes_used = now.tail - now.head,
               .puts = now.puts,
               .gets = now.gets,
               .unfinished = now.unfinished,
               .closed = now.closed != 0,
               .owner_deaths = header_->owner_deaths};
}

absl::Status Queue::TaskDoneImpl() {
  if (!header_->joinable) {
    return absl::FailedPreconditionError("TaskDone on a plain Queue");
  }
  Locked lock(header_);
  QueueCounters next = lock.counters();
  if (next.unfinished == 0) {
    return absl::FailedPreconditionError(
        "TaskDone called more times than messages were put");
  }
  next.unfinished -= 1;
  lock.Commit(next);
  if (next.unfinished == 0) {
    lock.WakeIfAsleep(&header_->all_done, &header_->joiners_asleep);
  }
  return absl::OkStatus();
}

absl::Status Queue::JoinImpl(absl::Duration timeout) {
  if (!header_->joinable) {
    return absl::FailedPreconditionError("Join on a plain Queue");
  }
  const absl::Time deadline = DeadlineFor(timeout);
  Locked lock(header_);
  bool timed_out = false;
  while (lock.counters().unfinished > 0) {
    if (timed_out) {
      return absl::DeadlineExceededError(
          absl::StrCat("Join timed out with ", lock.counters().unfinished,
                       " tasks not done"));
    }
    absl::Status slept =
        lock.Sleep(&header_->all_done, &header_->joiners_asleep, deadline);
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
  return absl::OkStatus();
}

}  // namespace multitask::ipc
