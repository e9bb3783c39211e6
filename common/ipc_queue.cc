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

// A side's position: where it is in the ring (a byte offset) and how many
// messages it has moved, both modulo 2^32, packed in one 64-bit word so that
// one store publishes both. The ring is at most 2^31 bytes (so it holds fewer
// than 2^32 messages), so differences of these counters are exact.
struct Position {
  uint32_t offset = 0;
  uint32_t messages = 0;

  static Position Unpack(uint64_t word) {
    return Position{static_cast<uint32_t>(word),
                    static_cast<uint32_t>(word >> 32)};
  }
  uint64_t Pack() const { return uint64_t{messages} << 32 | offset; }
};

// The producers' state, touched only under their lock (others may read it).
// `tail` is where the next record goes; it is a hint, updated after each
// commit, and repaired from the ring (see Queue::Tail) if a producer died
// between the two. `seen_head` caches the consumers' `head`: it is always a
// value they once published, so it understates the room, and is re-read only
// when it says "full". `total` extends the message count to 64 bits for
// Stats.
struct alignas(64) Producers {
  RobustMutex mutex;
  std::atomic<uint64_t> tail{0};
  std::atomic<uint64_t> seen_head{0};
  std::atomic<uint64_t> total{0};
};

// The consumers' state. `head` (the oldest record) is their commit word: one
// store of it takes a message.
struct alignas(64) Consumers {
  RobustMutex mutex;
  std::atomic<uint64_t> head{0};
  std::atomic<uint64_t> total{0};
};

// A condition some processes sleep on (not empty, not full, all done): the
// futex word they sleep on, whether anyone is (about to be) asleep, and how
// long to spin before sleeping (adapted to what spinning achieved lately).
struct alignas(64) Sleepers {
  std::atomic<uint32_t> word{0};
  std::atomic<uint32_t> asleep{0};
  std::atomic<uint32_t> spin_ns{0};
  std::atomic<uint32_t> batch_pauses{0};  // see Queue::GetInto
};

struct QueueHeader {
  QueueHeader(uint32_t capacity, uint32_t max_messages, bool joinable)
      : capacity(capacity), max_messages(max_messages), joinable(joinable) {}

  Producers producers;                              // Put, Close, TaskDone
  Consumers consumers;                              // Get
  alignas(64) std::atomic<int32_t> put_cpu{-1};     // where the last Put ran
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
using internal::Sleepers;

// Each record in the ring starts with an 8-byte header, stored last, in one
// atomic store: THE commit point of a Put. It holds the message's number
// (mod 2^32) in its high half and its length + 1 in its low half, so it is
// never 0. A consumer at message n knows record n is there when the header at
// its offset says n: the slot where the next record goes is always either 0
// (the producer of the record before it cleared it, before committing) or an
// older record's header.
constexpr uint32_t kHeaderBytes = 8;
constexpr size_t kRingOffset = (sizeof(QueueHeader) + 63) / 64 * 64;
constexpr uint64_t kMaxCapacity = uint64_t{1} << 31;

// Spinning before sleeping (see LearnFromSleep): at most kMaxSpin, at least
// kMinSpin (so that a machine that gets quieter is noticed), starting at
// kFirstSpin.
constexpr uint32_t kMinSpinNs = 1'000;
constexpr uint32_t kFirstSpinNs = 20'000;
constexpr uint32_t kMaxSpinNs = 100'000;
constexpr int kMaxPauses = 64;
// The longest a waiting consumer lets a batch build up (see AdaptBatching).
constexpr uint32_t kMaxBatchPauses = 128;

uint32_t RecordBytes(uint64_t length) {
  return static_cast<uint32_t>(kHeaderBytes + (length + 7) / 8 * 8);
}

uint64_t RecordHeader(uint32_t number, uint64_t length) {
  return uint64_t{number} << 32 | (length + 1);
}

// The length of message `number` if `header` commits it; -1 if not (yet).
int64_t CommittedLength(uint64_t header, uint32_t number) {
  if (static_cast<uint32_t>(header >> 32) != number) return -1;
  const uint32_t length_plus_one = static_cast<uint32_t>(header);
  if (length_plus_one == 0) return -1;
  return int64_t{length_plus_one} - 1;
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

// Looks at `changed()` for about a microsecond; true if it changed. Each
// look pulls the watched cache line away from the other side, which has to
// take it back to commit again, so look less often the longer we wait (1, 2,
// 4, ... 32 pauses, each ~15-40 ns): a busy producer then runs ahead, and a
// consumer takes several messages per look. No clock: most waits end here.
template <typename Changed>
bool SpinBriefly(Changed changed, uint32_t first_look_after = 0) {
  for (uint32_t i = 0; i < first_look_after; ++i) CpuRelax();
  for (int pauses = 1; pauses < kMaxPauses; pauses *= 2) {
    if (changed()) return true;
    for (int i = 0; i < pauses; ++i) CpuRelax();
  }
  return changed();
}

using Clock = std::chrono::steady_clock;

uint32_t SpinBudgetNs(const Sleepers& sleepers) {
  const uint32_t budget = sleepers.spin_ns.load(std::memory_order_relaxed);
  return budget == 0 ? kFirstSpinNs : budget;
}

// Then spins until `changed()` is true, or the spin budget (counted from
// `start`) runs out, or `deadline`; true if it changed.
template <typename Changed>
bool Spin(const Sleepers& sleepers, Clock::time_point start,
          absl::Time deadline, Changed changed) {
  const std::chrono::nanoseconds budget(SpinBudgetNs(sleepers));
  while (true) {
    if (changed()) return true;
    for (int i = 0; i < kMaxPauses; ++i) CpuRelax();
    if (deadline != absl::InfiniteFuture() && absl::Now() >= deadline) {
      return false;
    }
    if (Clock::now() - start >= budget) return false;
  }
}

// After a wait that spun from `start` and then had to sleep: adapts the spin
// budget, as KVM does for a virtual CPU's halt polling. A wait that ended
// within kMaxSpinNs would have been caught by spinning that long, without a
// system call on either side (on an idle machine, waking a sleeping process
// costs tens of microseconds, for the waker too): spin up to twice as long
// next time. A longer wait would not have been: spin half as long.
void LearnFromSleep(Sleepers& sleepers, Clock::time_point start) {
  const int64_t waited = std::chrono::nanoseconds(Clock::now() - start).count();
  const uint32_t budget = SpinBudgetNs(sleepers);
  const uint32_t next =
      waited < kMaxSpinNs
          ? std::max(budget, static_cast<uint32_t>(
                                 std::min<int64_t>(kMaxSpinNs, 2 * waited)))
          : std::max(kMinSpinNs, budget / 2);
  if (next != budget) {
    sleepers.spin_ns.store(next, std::memory_order_relaxed);
  }
}

// Spin only if the process that will end the wait last ran on another CPU:
// on ours, it cannot run while we spin.
bool WorthSpinning(const std::atomic<int32_t>& waker_cpu) {
  return waker_cpu.load(std::memory_order_relaxed) != sched_getcpu();
}

// Records the CPU we run on, for waiters deciding whether to spin.
void NoteCpu(std::atomic<int32_t>& cpu) {
  const int32_t now = sched_getcpu();
  if (cpu.load(std::memory_order_relaxed) != now) {
    cpu.store(now, std::memory_order_relaxed);
  }
}

// Wakes everyone asleep on `sleepers`, if anyone said it might be. Called after
// a commit (a seq_cst store): with the seq_cst stores and loads in
// Locked::Wait, a sleeper either sees the commit before it sleeps, or is seen
// here.
void WakeAll(Sleepers& sleepers) {
  if (sleepers.asleep.load(std::memory_order_seq_cst) == 0) return;
  if (sleepers.asleep.exchange(0, std::memory_order_seq_cst) == 0) return;
  sleepers.word.fetch_add(1, std::memory_order_seq_cst);
  FutexWake(&sleepers.word, kFutexWakeAll);
}

}  // namespace

// Holds one side's lock; wakes everyone if the previous owner died.
class Queue::Locked {
 public:
  Locked(QueueHeader* header, RobustMutex* mutex)
      : header_(header), mutex_(mutex) {
    Acquire();
  }
  ~Locked() {
    if (locked_) mutex_->Unlock();
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

  // Waits until the other side changes something or `deadline`: spins a
  // little (the first look after `first_look_after` pauses), then sleeps on
  // the futex, letting go of the lock while it sleeps or spins for long and
  // holding it again when it returns. `changed_locked()` may read what the
  // lock protects (the ring at our position); `changed_unlocked()` only
  // atomics. `waker_cpu` is where the process that will end the wait last
  // ran. OK means "look again" (it may be spurious); DeadlineExceeded once
  // the deadline has passed.
  template <typename ChangedLocked, typename ChangedUnlocked>
  absl::Status Wait(Sleepers& sleepers, const std::atomic<int32_t>& waker_cpu,
                    absl::Time deadline, uint32_t first_look_after,
                    ChangedLocked changed_locked,
                    ChangedUnlocked changed_unlocked) {
    if (deadline != absl::InfiniteFuture() && absl::Now() >= deadline) {
      return absl::DeadlineExceededError("");
    }
    const bool spin = WorthSpinning(waker_cpu);
    if (spin && SpinBriefly(changed_locked, first_look_after)) {
      return absl::OkStatus();
    }
    Clock::time_point start;
    if (spin) {
      start = Clock::now();
      Release();
      const bool changed = Spin(sleepers, start, deadline, changed_unlocked);
      Acquire();
      if (changed) return absl::OkStatus();
    }
    // The order matters: read the word, then say we are asleep, then look
    // once more. A waker that cleared `asleep` before we set it has already
    // bumped `word` past `seen` or published what we look for.
    const uint32_t seen = sleepers.word.load(std::memory_order_seq_cst);
    sleepers.asleep.store(1, std::memory_order_seq_cst);
    if (changed_locked()) return absl::OkStatus();
    Release();
    absl::Status slept = FutexWait(&sleepers.word, seen, deadline);
    if (spin) LearnFromSleep(sleepers, start);
    Acquire();
    return slept;
  }

 private:
  void Release() {
    mutex_->Unlock();
    locked_ = false;
  }

  void Acquire() {
    const RobustMutex::Acquired acquired = mutex_->Lock();
    locked_ = true;
    if (acquired == RobustMutex::Acquired::kOwnerDied) {
      // The state is consistent (each operation commits with one store), but
      // the dead owner may have committed without waking the sleepers.
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
  RobustMutex* mutex_;
  bool locked_ = true;
};

void internal::SetCountersForTesting(Queue& queue, uint32_t offset,
                                     uint32_t messages) {
  QueueHeader& h = *queue.header_;
  const uint64_t word = Position{offset, messages}.Pack();
  h.producers.tail.store(word);
  h.producers.seen_head.store(word);
  h.producers.total.store(messages);
  h.consumers.head.store(word);
  h.consumers.total.store(messages);
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

std::atomic_ref<uint64_t> Queue::SlotAt(uint32_t offset) const {
  return std::atomic_ref<uint64_t>(
      *reinterpret_cast<uint64_t*>(ring_ + (offset & (header_->capacity - 1))));
}

Position Queue::Tail() {
  QueueHeader& h = *header_;
  Position tail = Position::Unpack(h.producers.tail.load());
  // A producer killed after its commit but before it moved `tail` left a
  // committed record there: step over it (and any after it).
  bool repaired = false;
  while (true) {
    const int64_t length = CommittedLength(
        SlotAt(tail.offset).load(std::memory_order_acquire), tail.messages);
    if (length < 0) break;
    tail = Position{tail.offset + RecordBytes(length), tail.messages + 1};
    repaired = true;
  }
  if (repaired) {
    h.producers.tail.store(tail.Pack());
    h.producers.total.store(Extend(h.producers.total.load(), tail.messages));
  }
  return tail;
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
  // Room for the record after `tail`, given the consumers are at `head`.
  auto room = [&](Position tail, Position head) {
    return static_cast<uint32_t>(tail.offset - head.offset) + record <=
               h.capacity &&
           (h.max_messages == 0 ||
            static_cast<uint32_t>(tail.messages - head.messages) <
                h.max_messages);
  };
  const absl::Time deadline = DeadlineFor(timeout);
  Locked lock(header_, &h.producers.mutex);
  Position tail, head;
  bool timed_out = false;
  while (true) {
    if (h.closed.load(std::memory_order_relaxed)) {
      return absl::FailedPreconditionError("queue closed");
    }
    tail = Tail();
    head =
        Position::Unpack(h.producers.seen_head.load(std::memory_order_relaxed));
    if (room(tail, head)) break;
    const uint64_t head_word = h.consumers.head.load(std::memory_order_acquire);
    h.producers.seen_head.store(head_word, std::memory_order_relaxed);
    head = Position::Unpack(head_word);
    if (room(tail, head)) break;
    if (timed_out) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "queue full (", static_cast<uint32_t>(tail.messages - head.messages),
          " messages, ", static_cast<uint32_t>(tail.offset - head.offset),
          " of ", h.capacity, " bytes used)"));
    }
    auto changed = [&] {
      return h.consumers.head.load(std::memory_order_seq_cst) != head_word ||
             h.closed.load(std::memory_order_seq_cst) != 0;
    };
    absl::Status slept =
        lock.Wait(h.not_full, h.got_cpu, deadline, 0, changed, changed);
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
  // Write the record into free space, where no consumer looks: first clear
  // the slot after it (unless that is the oldest record's header: the ring is
  // then exactly full), then the message, then the header.
  const Position next{tail.offset + record, tail.messages + 1};
  if (static_cast<uint32_t>(tail.offset - head.offset) + record < h.capacity) {
    SlotAt(next.offset).store(0, std::memory_order_relaxed);
  }
  const uint32_t mask = h.capacity - 1;
  const uint32_t start = (tail.offset + kHeaderBytes) & mask;
  const size_t first = std::min<size_t>(message.size(), h.capacity - start);
  std::memcpy(ring_ + start, message.data(), first);
  std::memcpy(ring_, message.data() + first, message.size() - first);
  NoteCpu(h.put_cpu);
  Hook(QueueStep::kPutCopied);
  SlotAt(tail.offset)
      .store(RecordHeader(tail.messages, message.size()),
             std::memory_order_seq_cst);  // THE commit
  h.producers.tail.store(next.Pack(), std::memory_order_release);
  h.producers.total.store(
      Extend(h.producers.total.load(std::memory_order_relaxed), next.messages),
      std::memory_order_relaxed);
  Hook(QueueStep::kPutCommitted);
  WakeAll(h.not_empty);
  return absl::OkStatus();
}

// A consumer that keeps up with a fast producer takes each message the moment
// it is committed, so the two CPUs pass the ring's cache lines back and forth
// for every message (at 8 bytes a message, 4 times per line): on this
// course's machine that halves the throughput. So when a wait ends with
// several messages ready (a producer in full flow), the next wait looks
// later, and lets a batch build up; when it ends with only one (a
// request/reply), waits look at once again.
void Queue::AdaptBatching(internal::Position head) {
  Sleepers& sleepers = header_->not_empty;
  const uint32_t ready =
      Position::Unpack(header_->producers.tail.load(std::memory_order_relaxed))
          .messages -
      head.messages;
  const uint32_t now = sleepers.batch_pauses.load(std::memory_order_relaxed);
  const uint32_t next =
      ready >= 2 ? std::min(kMaxBatchPauses, 2 * now + 8) : now / 2;
  if (next != now) {
    sleepers.batch_pauses.store(next, std::memory_order_relaxed);
  }
}

absl::StatusOr<std::string> Queue::Get(absl::Duration timeout) {
  std::string message;
  absl::Status got = GetInto(&message, timeout);
  if (!got.ok()) return got;
  return message;
}

absl::Status Queue::GetInto(std::string* message, absl::Duration timeout) {
  QueueHeader& h = *header_;
  const absl::Time deadline = DeadlineFor(timeout);
  Locked lock(header_, &h.consumers.mutex);
  Position head;
  int64_t length;
  bool timed_out = false;
  bool waited = false;
  while (true) {
    head = Position::Unpack(h.consumers.head.load(std::memory_order_relaxed));
    const std::atomic_ref<uint64_t> slot = SlotAt(head.offset);
    uint64_t header = slot.load(std::memory_order_acquire);
    length = CommittedLength(header, head.messages);
    if (length >= 0) break;
    // Read `closed` before looking again: Close() comes after every Put's
    // commit, so "closed, and then still nothing" is the end.
    const bool closed = h.closed.load(std::memory_order_acquire) != 0;
    // Read before the ring: `tail` moves (release) after each commit.
    const uint64_t tail = h.producers.tail.load(std::memory_order_acquire);
    header = slot.load(std::memory_order_acquire);
    length = CommittedLength(header, head.messages);
    if (length >= 0) break;
    if (closed) return absl::OutOfRangeError("queue closed (and empty)");
    if (timed_out) return absl::UnavailableError("queue empty");
    // Without the lock, another consumer may take this message and a producer
    // reuse its space: watch the producers' `tail` then, not the ring.
    waited = true;
    absl::Status slept = lock.Wait(
        h.not_empty, h.put_cpu, deadline,
        h.not_empty.batch_pauses.load(std::memory_order_relaxed),
        [&] {
          // If another consumer moved `head` while we let go of the lock, our
          // slot may be free space now: do not read it.
          return h.consumers.head.load(std::memory_order_relaxed) !=
                     head.Pack() ||
                 slot.load(std::memory_order_seq_cst) != header ||
                 h.closed.load(std::memory_order_seq_cst) != 0;
        },
        [&] {
          return h.producers.tail.load(std::memory_order_relaxed) != tail ||
                 h.closed.load(std::memory_order_relaxed) != 0;
        });
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
  if (waited) AdaptBatching(head);
  const uint32_t mask = h.capacity - 1;
  const uint32_t start = (head.offset + kHeaderBytes) & mask;
  const size_t first = std::min<size_t>(length, h.capacity - start);
  message->resize(length);
  std::memcpy(message->data(), ring_ + start, first);
  std::memcpy(message->data() + first, ring_, length - first);
  NoteCpu(h.got_cpu);
  Hook(QueueStep::kGetCopied);
  const Position next{head.offset + RecordBytes(length), head.messages + 1};
  h.consumers.head.store(next.Pack(), std::memory_order_seq_cst);  // THE commit
  h.consumers.total.store(
      Extend(h.consumers.total.load(std::memory_order_relaxed), next.messages),
      std::memory_order_relaxed);
  Hook(QueueStep::kGetCommitted);
  WakeAll(h.not_full);
  return absl::OkStatus();
}

void Queue::Close() {
  QueueHeader& h = *header_;
  Locked lock(header_, &h.producers.mutex);
  if (h.closed.load(std::memory_order_relaxed)) return;
  h.closed.store(1, std::memory_order_seq_cst);
  WakeAll(h.not_empty);
  WakeAll(h.not_full);
}

Queue::Stats Queue::GetStats() {
  QueueHeader& h = *header_;
  // Both locks, always in this order (nothing else takes both).
  Locked producers(header_, &h.producers.mutex);
  Locked consumers(header_, &h.consumers.mutex);
  const Position tail = Tail();
  const Position head = Position::Unpack(h.consumers.head.load());
  return Stats{.messages = static_cast<uint32_t>(tail.messages - head.messages),
               .bytes_used = static_cast<uint32_t>(tail.offset - head.offset),
               .puts = Extend(h.producers.total.load(), tail.messages),
               .gets = Extend(h.consumers.total.load(), head.messages),
               .unfinished = h.joinable
                                 ? static_cast<uint32_t>(tail.messages -
                                                         h.tasks_done.load())
                                 : 0,
               .closed = h.closed.load() != 0,
               .owner_deaths = h.owner_deaths.load()};
}

absl::Status Queue::TaskDoneImpl() {
  QueueHeader& h = *header_;
  if (!h.joinable) {
    return absl::FailedPreconditionError("TaskDone on a plain Queue");
  }
  // The producers' lock: TaskDone is checked against the number of Puts.
  Locked lock(header_, &h.producers.mutex);
  const uint32_t puts = Tail().messages;
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
  Locked lock(header_, &h.producers.mutex);
  bool timed_out = false;
  while (true) {
    const uint64_t tail_word = Tail().Pack();
    const uint32_t done = h.tasks_done.load(std::memory_order_relaxed);
    const uint32_t left = Position::Unpack(tail_word).messages - done;
    if (left == 0) return absl::OkStatus();
    if (timed_out) {
      return absl::DeadlineExceededError(
          absl::StrCat("Join timed out with ", left, " tasks not done"));
    }
    auto changed = [&] {
      return h.tasks_done.load(std::memory_order_seq_cst) != done ||
             h.producers.tail.load(std::memory_order_seq_cst) != tail_word;
    };
    absl::Status slept =
        lock.Wait(h.all_done, h.got_cpu, deadline, 0, changed, changed);
    timed_out = absl::IsDeadlineExceeded(slept);
    if (!slept.ok() && !timed_out) return slept;
  }
}

}  // namespace multitask::ipc
