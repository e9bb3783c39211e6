#include "common/ipc_queue.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

// One side's commit word: where it is in the ring (a byte offset) and how many
// messages it has moved, both modulo 2^32, in one 64-bit word so that a single
// store publishes both. The ring is at most 2^31 bytes (so it holds fewer than
// 2^32 messages), so differences of these counters are exact.
struct Position {
  uint32_t offset = 0;
  uint32_t messages = 0;

  static Position Unpack(uint64_t word) {
    return Position{static_cast<uint32_t>(word),
                    static_cast<uint32_t>(word >> 32)};
  }
  uint64_t Pack() const { return uint64_t{messages} << 32 | offset; }
};

// What only one side's lock holder touches. `seen` caches the other side's
// last commit word: it is always a value the other side once published, so
// it understates progress (less room, fewer messages) and is re-read only
// when it says "wait". `total` extends `messages` to 64 bits for Stats.
struct alignas(64) Side {
  RobustMutex mutex;
  std::atomic<uint64_t> seen{0};
  std::atomic<uint64_t> total{0};
};

// A condition some processes sleep on (not empty, not full, all done): the
// futex word they sleep on, whether anyone is (about to be) asleep, and how
// long to spin before sleeping (adapted to what spinning achieved lately).
struct alignas(64) Sleepers {
  std::atomic<uint32_t> word{0};
  std::atomic<uint32_t> asleep{0};
  std::atomic<uint32_t> spin_ns{0};
};

struct QueueHeader {
  QueueHeader(uint32_t capacity, uint32_t max_messages, bool joinable)
      : capacity(capacity), max_messages(max_messages), joinable(joinable) {}

  Side producers;                                   // Put and Close
  Side consumers;                                   // Get and TaskDone
  alignas(64) std::atomic<uint64_t> put_at{0};      // producers' commit word
  std::atomic<int32_t> put_cpu{-1};                 // where the last Put ran
  alignas(64) std::atomic<uint64_t> got_at{0};      // consumers' commit word
  std::atomic<int32_t> got_cpu{-1};                 // where the last Get ran
  alignas(64) std::atomic<uint32_t> tasks_done{0};  // TaskDones, mod 2^32
  std::atomic<uint32_t> closed{0};
  std::atomic<uint64_t> owner_deaths{0};
  Sleepers not_empty;  // Get sleeps here; Put ends the wait
  Sleepers not_full;   // Put sleeps here; Get ends the wait
  Sleepers all_done;   // Join sleeps here; TaskDone ends the wait

  alignas(64) const uint32_t capacity;  // ring bytes, a power of two
  const uint32_t max_messages;
  const bool joinable;
};

}  // namespace internal

namespace {

using internal::Position;
using internal::QueueHeader;
using internal::QueueStep;
using internal::Side;
using internal::Sleepers;

constexpr uint32_t kHeaderBytes = 8;  // the message length, as a uint64_t
constexpr size_t kRingOffset = (sizeof(QueueHeader) + 63) / 64 * 64;
constexpr uint64_t kMaxCapacity = uint64_t{1} << 31;

// Spinning before sleeping: at most kMaxSpin, at least kMinSpin (so that a
// machine that gets quieter is noticed), starting at kFirstSpin.
constexpr uint32_t kMinSpinNs = 1'000;
constexpr uint32_t kFirstSpinNs = 20'000;
constexpr uint32_t kMaxSpinNs = 100'000;
constexpr int kMaxPauses = 64;

uint32_t RecordBytes(uint64_t length) {
  return static_cast<uint32_t>(kHeaderBytes + (length + 7) / 8 * 8);
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

// `total` (64 bits) moved forward to agree with `low`, its low 32 bits as
// committed. A holder killed between its commit and updating `total` leaves
// it behind; this catches it up.
uint64_t Extend(uint64_t total, uint32_t low) {
  return total + static_cast<uint32_t>(low - static_cast<uint32_t>(total));
}

// Spins until `changed()` is true, or `sleepers`' spin budget runs out, or
// `deadline`; true if it changed. The budget adapts: a spin that succeeded
// after t makes it at least 2t; a spin that failed halves it. On a quiet
// machine, where waking a sleeping process costs tens of microseconds, the
// budget grows and the other side's next message is caught without a system
// call; on a machine where the other process shares our core (so it cannot run
// while we spin), spins fail and the budget falls to kMinSpinNs.
template <typename Changed>
bool Spin(Sleepers& sleepers, absl::Time deadline, Changed changed) {
  // Each look at the other side's commit word pulls its cache line away from
  // the other side, which has to take it back to commit again. So look less
  // often the longer we wait (1, 2, 4, ... 64 pauses, each ~15-40 ns): a busy
  // producer then runs ahead and a consumer takes several messages per look.
  // The first ~2 us need no clock: most waits end there.
  int pauses = 1;
  for (; pauses < kMaxPauses; pauses *= 2) {
    if (changed()) return true;
    for (int i = 0; i < pauses; ++i) CpuRelax();
  }
  using Clock = std::chrono::steady_clock;
  uint32_t budget = sleepers.spin_ns.load(std::memory_order_relaxed);
  if (budget == 0) budget = kFirstSpinNs;
  const Clock::time_point start = Clock::now();
  while (true) {
    if (changed()) {
      const int64_t spent =
          std::chrono::nanoseconds(Clock::now() - start).count();
      if (spent > budget / 2) {
        sleepers.spin_ns.store(static_cast<uint32_t>(std::min<int64_t>(
                                   kMaxSpinNs, 2 * spent + kMinSpinNs)),
                               std::memory_order_relaxed);
      }
      return true;
    }
    for (int i = 0; i < kMaxPauses; ++i) CpuRelax();
    if (deadline != absl::InfiniteFuture() && absl::Now() >= deadline) {
      return false;
    }
    if (Clock::now() - start >= std::chrono::nanoseconds(budget)) {
      sleepers.spin_ns.store(std::max(kMinSpinNs, budget / 2),
                             std::memory_order_relaxed);
      return false;
    }
  }
}

// Records the CPU we run on, for waiters deciding whether to spin.
void NoteCpu(std::atomic<int32_t>& cpu) {
  const int32_t now = sched_getcpu();
  if (cpu.load(std::memory_order_relaxed) != now) {
    cpu.store(now, std::memory_order_relaxed);
  }
}

// Wakes everyone asleep on `sleepers`, if anyone said it might be. Called after
// a commit (a seq_cst store): with the seq_cst stores and loads in Sleep, a
// sleeper either sees the commit before it sleeps, or is seen here.
void WakeAll(Sleepers& sleepers) {
  if (sleepers.asleep.load(std::memory_order_seq_cst) == 0) return;
  if (sleepers.asleep.exchange(0, std::memory_order_seq_cst) == 0) return;
  sleepers.word.fetch_add(1, std::memory_order_seq_cst);
  FutexWake(&sleepers.word, kFutexWakeAll);
}

// Waits, holding no lock, until `changed()` or `deadline`: spins a little,
// then sleeps on the futex. `waker_cpu` is where the process that will end
// the wait last ran. OK means "look again" (it may be spurious);
// DeadlineExceeded once the deadline has passed.
template <typename Changed>
absl::Status Sleep(Sleepers& sleepers, const std::atomic<int32_t>& waker_cpu,
                   absl::Time deadline, Changed changed) {
  if (deadline != absl::InfiniteFuture() && absl::Now() >= deadline) {
    return absl::DeadlineExceededError("");
  }
  // Spin only if the process that will end the wait last ran on another
  // CPU: on ours, it cannot run while we spin.
  if (waker_cpu.load(std::memory_order_relaxed) != sched_getcpu() &&
      Spin(sleepers, deadline, changed)) {
    return absl::OkStatus();
  }
  // The order matters: read the word, then say we are asleep, then look
  // once more. A waker that cleared `asleep` before we set it has already
  // bumped `word` past `seen` or published what we look for.
  const uint32_t seen = sleepers.word.load(std::memory_order_seq_cst);
  sleepers.asleep.store(1, std::memory_order_seq_cst);
  if (changed()) return absl::OkStatus();
  return FutexWait(&sleepers.word, seen, deadline);
}

}  // namespace

// Holds one side's lock; wakes everyone if the previous owner died.
class Queue::Locked {
 public:
  Locked(QueueHeader* header, Side* side) : header_(header), side_(side) {
    Acquire();
  }
  ~Locked() {
    if (locked_) side_->mutex.Unlock();
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

  // Lets go of the lock while waiting for `changed()` (see Sleep), then takes
  // it again.
  template <typename Changed>
  absl::Status Wait(Sleepers& sleepers, const std::atomic<int32_t>& waker_cpu,
                    absl::Time deadline, Changed changed) {
    side_->mutex.Unlock();
    locked_ = false;
    absl::Status slept = Sleep(sleepers, waker_cpu, deadline, changed);
    Acquire();
    return slept;
  }

 private:
  void Acquire() {
    const RobustMutex::Acquired acquired = side_->mutex.Lock();
    locked_ = true;
    if (acquired == RobustMutex::Acquired::kOwnerDied) {
      // The state is consistent (each side commits with one store), but the
      // dead owner may have committed without waking the sleepers.
      header_->owner_deaths.fetch_add(1, std::memory_order_relaxed);
      for (Sleepers* sleepers :
           {&header_->not_empty, &header_->not_full, &header_->all_done}) {
        sleepers->asleep.store(0, std::memory_order_seq_cst);
        sleepers->word.fetch_add(1, std::memory_order_seq_cst);
        FutexWake(&sleepers->word, kFutexWakeAll);
      }
    }
  }

  QueueHeader* header_;
  Side* side_;
  bool locked_ = true;
};

void internal::SetCountersForTesting(Queue& queue, uint32_t offset,
                                     uint32_t messages) {
  QueueHeader& h = *queue.header_;
  const uint64_t word = Position{offset, messages}.Pack();
  for (Side* side : {&h.producers, &h.consumers}) {
    side->seen.store(word);
    side->total.store(messages);
  }
  h.put_at.store(word);
  h.got_at.store(word);
  h.tasks_done.store(messages);
}

absl::StatusOr<Queue> Queue::Create(size_t capacity_bytes,
                                    size_t max_messages) {
  return CreateImpl(capacity_bytes, max_messages, /*joinable=*/false);
}

absl::StatusOr<Queue> Queue::CreateImpl(size_t capacity_bytes,
                                        size_t max_messages, bool joinable) {
  if (capacity_bytes > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue capacity of ", capacity_bytes,
                     " bytes is more than the 2 GiB a queue can hold"));
  }
  uint64_t capacity = 64;
  while (capacity < capacity_bytes) capacity *= 2;
  absl::StatusOr<SharedMapping> mapping =
      SharedMapping::Create(kRingOffset + capacity);
  if (!mapping.ok()) return mapping.status();
  // More messages than the ring can hold records is the same as no limit.
  const uint64_t limit = std::min<uint64_t>(max_messages, capacity / 8);
  new (mapping->data()) QueueHeader(static_cast<uint32_t>(capacity),
                                    static_cast<uint32_t>(limit), joinable);
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
  QueueHeader& h = *header_;
  const uint32_t record = RecordBytes(message.size());
  const uint32_t mask = h.capacity - 1;
  // Room for the record after `at`, given the consumers are at `got`.
  auto room = [&](Position at, Position got) {
    return static_cast<uint32_t>(at.offset - got.offset) + record <=
               h.capacity &&
           (h.max_messages == 0 ||
            static_cast<uint32_t>(at.messages - got.messages) < h.max_messages);
  };
  const absl::Time deadline = DeadlineFor(timeout);
  Locked lock(header_, &h.producers);
  Position at, got;
  bool timed_out = false;
  while (true) {
    if (h.closed.load(std::memory_order_relaxed)) {
      return absl::FailedPreconditionError("queue closed");
    }
    at = Position::Unpack(h.put_at.load(std::memory_order_relaxed));
    got = Position::Unpack(h.producers.seen.load(std::memory_order_relaxed));
    if (room(at, got)) break;
    const uint64_t got_word = h.got_at.load(std::memory_order_acquire);
    h.producers.seen.store(got_word, std::memory_order_relaxed);
    got = Position::Unpack(got_word);
    if (room(at, got)) break;
    if (timed_out) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "queue full (", static_cast<uint32_t>(at.messages - got.messages),
          " messages, ", static_cast<uint32_t>(at.offset - got.offset), " of ",
          h.capacity, " bytes used)"));
    }
    absl::Status slept = lock.Wait(h.not_full, h.got_cpu, deadline, [&] {
      return h.got_at.load(std::memory_order_seq_cst) != got_word ||
             h.closed.load(std::memory_order_seq_cst) != 0;
    });
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
  // Write the record into free space: invisible until the commit.
  const uint64_t length = message.size();
  std::memcpy(ring_ + (at.offset & mask), &length, kHeaderBytes);
  const uint32_t start = (at.offset + kHeaderBytes) & mask;
  const size_t first = std::min<size_t>(length, h.capacity - start);
  std::memcpy(ring_ + start, message.data(), first);
  std::memcpy(ring_, message.data() + first, length - first);
  NoteCpu(h.put_cpu);
  Hook(QueueStep::kPutCopied);
  const Position next{at.offset + record, at.messages + 1};
  h.put_at.store(next.Pack(), std::memory_order_seq_cst);  // THE commit
  h.producers.total.store(
      Extend(h.producers.total.load(std::memory_order_relaxed), next.messages),
      std::memory_order_relaxed);
  Hook(QueueStep::kPutCommitted);
  WakeAll(h.not_empty);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Queue::Get(absl::Duration timeout) {
  std::string message;
  absl::Status got = GetInto(&message, timeout);
  if (!got.ok()) return got;
  return message;
}

absl::Status Queue::GetInto(std::string* message, absl::Duration timeout) {
  QueueHeader& h = *header_;
  const uint32_t mask = h.capacity - 1;
  const absl::Time deadline = DeadlineFor(timeout);
  Locked lock(header_, &h.consumers);
  Position got;
  bool timed_out = false;
  while (true) {
    got = Position::Unpack(h.got_at.load(std::memory_order_relaxed));
    uint64_t put_word = h.consumers.seen.load(std::memory_order_relaxed);
    if (Position::Unpack(put_word).messages != got.messages) break;
    // Read `closed` before the producers' position: Close() is committed
    // after every Put, so "closed, and then still empty" is the end.
    const bool closed = h.closed.load(std::memory_order_acquire) != 0;
    put_word = h.put_at.load(std::memory_order_acquire);
    h.consumers.seen.store(put_word, std::memory_order_relaxed);
    if (Position::Unpack(put_word).messages != got.messages) break;
    if (closed) return absl::OutOfRangeError("queue closed (and empty)");
    if (timed_out) return absl::UnavailableError("queue empty");
    absl::Status slept = lock.Wait(h.not_empty, h.put_cpu, deadline, [&] {
      return h.put_at.load(std::memory_order_seq_cst) != put_word ||
             h.closed.load(std::memory_order_seq_cst) != 0;
    });
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
  uint64_t length;
  std::memcpy(&length, ring_ + (got.offset & mask), kHeaderBytes);
  const uint32_t start = (got.offset + kHeaderBytes) & mask;
  const size_t first = std::min<size_t>(length, h.capacity - start);
  message->resize(length);
  std::memcpy(message->data(), ring_ + start, first);
  std::memcpy(message->data() + first, ring_, length - first);
  NoteCpu(h.got_cpu);
  Hook(QueueStep::kGetCopied);
  const Position next{got.offset + RecordBytes(length), got.messages + 1};
  h.got_at.store(next.Pack(), std::memory_order_seq_cst);  // THE commit
  h.consumers.total.store(
      Extend(h.consumers.total.load(std::memory_order_relaxed), next.messages),
      std::memory_order_relaxed);
  Hook(QueueStep::kGetCommitted);
  WakeAll(h.not_full);
  return absl::OkStatus();
}

void Queue::Close() {
  QueueHeader& h = *header_;
  Locked lock(header_, &h.producers);
  if (h.closed.load(std::memory_order_relaxed)) return;
  h.closed.store(1, std::memory_order_seq_cst);
  WakeAll(h.not_empty);
  WakeAll(h.not_full);
}

Queue::Stats Queue::GetStats() {
  QueueHeader& h = *header_;
  // Both locks, always in this order (nothing else takes both).
  Locked producers(header_, &h.producers);
  Locked consumers(header_, &h.consumers);
  const Position at = Position::Unpack(h.put_at.load());
  const Position got = Position::Unpack(h.got_at.load());
  return Stats{.messages = static_cast<uint32_t>(at.messages - got.messages),
               .bytes_used = static_cast<uint32_t>(at.offset - got.offset),
               .puts = Extend(h.producers.total.load(), at.messages),
               .gets = Extend(h.consumers.total.load(), got.messages),
               .unfinished = h.joinable ? static_cast<uint32_t>(
                                              at.messages - h.tasks_done.load())
                                        : 0,
               .closed = h.closed.load() != 0,
               .owner_deaths = h.owner_deaths.load()};
}

absl::Status Queue::TaskDoneImpl() {
  QueueHeader& h = *header_;
  if (!h.joinable) {
    return absl::FailedPreconditionError("TaskDone on a plain Queue");
  }
  Locked lock(header_, &h.consumers);
  const uint32_t puts = Position::Unpack(h.put_at.load()).messages;
  const uint32_t done = h.tasks_done.load(std::memory_order_relaxed);
  if (puts == done) {
    return absl::FailedPreconditionError(
        "TaskDone called more times than messages were put");
  }
  h.tasks_done.store(done + 1, std::memory_order_seq_cst);  // the commit
  if (done + 1 == puts) WakeAll(h.all_done);
  return absl::OkStatus();
}

absl::Status Queue::JoinImpl(absl::Duration timeout) {
  QueueHeader& h = *header_;
  if (!h.joinable) {
    return absl::FailedPreconditionError("Join on a plain Queue");
  }
  const absl::Time deadline = DeadlineFor(timeout);
  auto unfinished = [&] {
    return static_cast<uint32_t>(Position::Unpack(h.put_at.load()).messages -
                                 h.tasks_done.load());
  };
  bool timed_out = false;
  while (const uint32_t left = unfinished()) {
    if (timed_out) {
      return absl::DeadlineExceededError(
          absl::StrCat("Join timed out with ", left, " tasks not done"));
    }
    absl::Status slept = Sleep(h.all_done, h.got_cpu, deadline,
                               [&] { return unfinished() == 0; });
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
  return absl::OkStatus();
}

}  // namespace multitask::ipc
