// ipc_queue.h: a multi-producer multi-consumer message queue between processes
// (Python's multiprocessing.Queue and JoinableQueue), in shared memory, that
// keeps working when a process using it is SIGKILLed.
//
//   MT_ASSIGN_OR_RETURN(ipc::Queue queue, ipc::Queue::Create());
//   MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
//     return queue.Put("hello").ok() ? 0 : 1;       // in the child
//   }));
//   MT_ASSIGN_OR_RETURN(std::string message, queue.Get());   // "hello"
//
// Create it before fork(): the processes forked afterwards share it. It lives
// in one anonymous shared mapping (nothing in /dev/shm, no file descriptor),
// released when the last process holding it unmaps it or exits.
//
// Messages are byte strings of any size up to max_message_bytes(): each is
// stored whole in a ring of `capacity_bytes` bytes (8-byte header + payload
// rounded up to 8). A larger message is REJECTED with InvalidArgument, not
// chunked: a chunked message could be interleaved with other producers'
// chunks or half-delivered by a killed producer.
//
// Errors (each operation takes a timeout; absl::ZeroDuration() = do not block,
// absl::InfiniteDuration() = block, the default):
//   Put:  ResourceExhausted "queue full"    no room before the timeout
//         FailedPrecondition "queue closed" after Close()
//         InvalidArgument                    message larger than the ring
//   Get:  Unavailable "queue empty"          nothing before the timeout
//         OutOfRange "queue closed"          closed AND empty (the end)
// IsQueueFull/IsQueueEmpty/IsQueueClosed below name these tests.
// Close() lets consumers drain what is left, then wakes every blocked Get with
// OutOfRange, and every blocked Put with FailedPrecondition.
//
// How it works, and why it survives SIGKILL:
// - Two robust process-shared pthread mutexes (ipc_robust_mutex.h): one for
//   the producers (Put, Close, TaskDone), one for the consumers (Get). A
//   producer and a consumer never wait for each other's lock. If a process
//   dies holding a lock, the next locker of that side gets it with EOWNERDEAD
//   instead of hanging.
// - Every change has ONE commit point, a single 8-byte store. Put copies the
//   message into free ring space, then stores the record's header (the
//   message's number and length) in front of it: that store is the commit. A
//   consumer sees a message when the header at its position names the number
//   it expects (the slot is cleared before the record in front of it is
//   committed, so it never holds a stale look-alike). Get copies the message
//   out, then stores the consumers' position (offset and count in one 64-bit
//   word): that store is the commit. A process killed anywhere before its
//   store changed nothing; killed after it, the operation is complete. So the
//   new lock owner has nothing to roll back: it only wakes every sleeper, in
//   case the dead one was killed between its commit and its wake-up call. (The
//   producers' own position is a hint, moved after the commit; a producer that
//   finds committed records past it steps over them.)
// - A process that must wait (Get on an empty queue, Put on a full one, Join)
//   spins first: briefly holding its lock, then up to an adaptive budget
//   (at most 100 us, learnt from how long waits last, as KVM's halt polling
//   does) without it, and not at all if the process it waits for last ran on
//   its own CPU, where it could not run while we spin. A consumer that keeps
//   finding messages in batches looks a little later each time, so that the
//   two CPUs do not pass the ring's cache lines back and forth per message.
//   Then it sleeps on a futex word (ipc_futex.h): never a sleep-poll. We use
//   futexes rather than pthread condition variables because a process-shared
//   condvar whose waiter or signaller is killed can be left in a state that
//   blocks the others (glibc's condvar keeps internal counters that a dead
//   waiter never decrements); a futex word holds no such state. Wakes go to
//   ALL sleepers: if we woke one and it were killed before taking the
//   message, the others would sleep with a message in the queue.
// - Waiting for a mutex itself spins briefly, then sleeps with a 20 ms
//   backstop (ipc_robust_mutex.h explains the kernel race it covers); the
//   backstop never fires in normal operation.
// - The counters are 32-bit (modulo 2^32), so the ring holds at most 2 GiB:
//   Create rejects more with InvalidArgument. Stats extend them to 64 bits.
//
// The guarantee, precisely:
// - A message whose Put returned OK is in the queue, and is delivered by
//   exactly one Get (or stays in the queue). Never twice, never torn.
// - A Put whose process was killed before it returned may or may not have
//   enqueued its message (whole, never partial).
// - A message is delivered when a Get commits (the single store above). If the
//   consumer is killed before that point the message stays in the queue and
//   another Get receives it. If it is killed after that point (inside Get
//   after the commit, or after Get returned) the message was delivered to a
//   process that then died: it is gone, exactly as bytes read from a pipe are
//   gone with a reader that dies. So each killed consumer loses at most the
//   one message it was taking at the moment it died. Stats() counts commits,
//   so a test can account for every message.
// - Per producer, messages are delivered in the order they were Put (FIFO).
// - Nobody sleeps forever next to a message, with one window: a process
//   killed between its commit and its wake-up call leaves the sleepers it
//   should have woken asleep until a process takes that side's lock (the next
//   Put, Close, TaskDone or GetStats after a dead producer; Get or GetStats
//   after a dead consumer). A parent that reaps a killed child can call
//   GetStats() to wake them.
// - JoinableQueue: a consumer killed between Get and TaskDone never marks its
//   task done, so Join() waits for it forever (as in Python); use a timeout.
//
// Thread-safety: a Queue may be used by many threads of many processes at
// once. The Queue object (the handle) is move-only; each process holds its own
// copy of it after fork and unmaps its view when the copy is destroyed.
// Performance: one uncontended lock round trip per message and side (a
// producer and a consumer do not contend); no system call when nobody sleeps.
// See lessons/queue_ipc/README.md for measurements against a pipe.

#ifndef MULTITASK_COMMON_IPC_QUEUE_H_
#define MULTITASK_COMMON_IPC_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/shared_memory.h"

namespace multitask::ipc {

bool IsQueueFull(const absl::Status& status);    // ResourceExhausted
bool IsQueueEmpty(const absl::Status& status);   // Unavailable
bool IsQueueClosed(const absl::Status& status);  // OutOfRange (Get) or
                                                 // FailedPrecondition (Put)

class Queue;
namespace internal {
struct QueueHeader;
struct Position;
// Test hook: moves an empty, unused queue's counters to `offset` (bytes) and
// `messages`, so that a test can cross the point where they wrap at 2^32.
void SetCountersForTesting(Queue& queue, uint32_t offset, uint32_t messages);
}  // namespace internal

class Queue {
 public:
  struct Stats {
    uint64_t messages = 0;    // in the queue now
    uint64_t bytes_used = 0;  // of the ring, headers and padding included
    uint64_t puts = 0;        // committed Puts since Create
    uint64_t gets = 0;        // committed Gets since Create
    uint64_t unfinished = 0;  // JoinableQueue: Puts not yet TaskDone
    bool closed = false;
    uint64_t owner_deaths = 0;  // locks taken over from a dead owner
  };

  // A queue whose ring holds `capacity_bytes` (rounded up to a power of two,
  // at least 64, at most 2 GiB) and, if `max_messages` > 0, at most that many
  // messages.
  static absl::StatusOr<Queue> Create(size_t capacity_bytes = 64 * 1024,
                                      size_t max_messages = 0);

  Queue(Queue&&) = default;
  Queue& operator=(Queue&&) = default;

  absl::Status Put(absl::string_view message,
                   absl::Duration timeout = absl::InfiniteDuration());
  absl::StatusOr<std::string> Get(
      absl::Duration timeout = absl::InfiniteDuration());
  // Get into `*message`, reusing its buffer (no allocation once it is large
  // enough). On error *message is unchanged.
  absl::Status GetInto(std::string* message,
                       absl::Duration timeout = absl::InfiniteDuration());

  // No more Puts; Gets drain what is left, then fail with OutOfRange.
  // Idempotent.
  void Close();

  Stats GetStats();
  size_t capacity_bytes() const;
  size_t max_message_bytes() const;

 protected:
  static absl::StatusOr<Queue> CreateImpl(size_t capacity_bytes,
                                          size_t max_messages, bool joinable);
  explicit Queue(SharedMapping mapping);
  // JoinableQueue's operations; FailedPrecondition on a plain Queue.
  absl::Status TaskDoneImpl();
  absl::Status JoinImpl(absl::Duration timeout);

 private:
  class Locked;
  // The 8-byte record header at `offset` in the ring.
  std::atomic_ref<uint64_t> SlotAt(uint32_t offset) const;
  // Where the next record goes (producers' lock held).
  internal::Position Tail();
  // After a Get waited: how long the next one lets a batch build up.
  void AdaptBatching(internal::Position head);
  friend void internal::SetCountersForTesting(Queue&, uint32_t, uint32_t);

  SharedMapping mapping_;
  internal::QueueHeader* header_ = nullptr;
  char* ring_ = nullptr;
};

// A Queue whose consumers say when they have finished each message, so that a
// producer can Join() until all work is done (Python's JoinableQueue).
//
//   producer: for (task : tasks) queue.Put(task);  queue.Join();
//   consumer: task = queue.Get();  Work(task);  queue.TaskDone();
class JoinableQueue : public Queue {
 public:
  static absl::StatusOr<JoinableQueue> Create(size_t capacity_bytes = 64 * 1024,
                                              size_t max_messages = 0);

  // Marks one Put message as processed. FailedPrecondition if called more
  // times than messages were Put (Python raises ValueError).
  absl::Status TaskDone() { return TaskDoneImpl(); }
  // Blocks until every Put message has been TaskDone. DeadlineExceeded after
  // `timeout`.
  absl::Status Join(absl::Duration timeout = absl::InfiniteDuration()) {
    return JoinImpl(timeout);
  }

 private:
  explicit JoinableQueue(Queue queue) : Queue(std::move(queue)) {}
};

namespace internal {
// Test hook: where a process can be stopped (and killed) inside Put/Get to
// prove the guarantee by construction. Each point is reached with its side's
// lock held.
enum class QueueStep {
  kPutCopied,     // message in the ring, not committed
  kPutCommitted,  // committed, waiters not woken yet
  kGetCopied,     // message copied out, not committed
  kGetCommitted,  // committed, lock still held
};
using QueueHook = void (*)(QueueStep);
// Process-wide; set it in a child before the operation. nullptr to remove.
void SetQueueHookForTesting(QueueHook hook);
}  // namespace internal

}  // namespace multitask::ipc

#endif  // MULTITASK_COMMON_IPC_QUEUE_H_
