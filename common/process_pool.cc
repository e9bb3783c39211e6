#include "common/process_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "common/child.h"
#include "common/process.h"
#include "common/shared_memory.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask {
namespace pool_internal {

void ThrowBadMessage() {
  throw std::runtime_error("ProcessPool: malformed task message");
}

void Slot::Set(absl::StatusOr<std::string> outcome) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (outcome_.has_value()) return;
    outcome_ = std::move(outcome);
  }
  cv_.notify_all();
  if (queue_ != nullptr) {
    {
      std::lock_guard<std::mutex> lock(queue_->mu);
      queue_->done.push_back(index_);
    }
    queue_->cv.notify_all();
  }
}

bool Slot::Ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outcome_.has_value();
}

bool Slot::Wait(absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  if (timeout == absl::InfiniteDuration()) {
    cv_.wait(lock, [&] { return outcome_.has_value(); });
    return true;
  }
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [&] { return outcome_.has_value(); });
}

}  // namespace pool_internal

namespace {

using pool_internal::Invoker;
using pool_internal::Slot;

// The wire format between the parent and a worker (same binary, same machine,
// so native byte order). A task: header then `size` payload bytes. id 0 asks
// the worker to exit.
struct TaskHeader {
  uint64_t id;
  uint64_t invoker;
  uint64_t fn;
  uint64_t size;
};
// A result: header then `size` bytes, the encoded value or, if `failed`, the
// exception's message.
struct ResultHeader {
  uint64_t id;
  uint64_t failed;
  uint64_t size;
};
constexpr uint64_t kStopId = 0;
constexpr size_t kBatchBytes = 16 * 1024;
constexpr size_t kBatchTasks = 64;
constexpr int kMaxProcesses = 1024;

// Blocks SIGPIPE in this thread while it lives, so that writing to a dead
// worker's pipe fails with EPIPE instead of killing the whole process; a
// SIGPIPE left pending by such a write is consumed before unblocking.
class SigpipeBlocker {
 public:
  SigpipeBlocker() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocker() {
    if (hit_) {
      const timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  // Writes all of `data`; false if the reader is gone (or another error).
  bool Write(int fd, absl::string_view data) {
    if (WriteAll(fd, data).ok()) return true;
    hit_ = true;
    return false;
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool hit_ = false;
};

void AppendTask(std::string& out, uint64_t id, Invoker invoker, uintptr_t fn,
                const std::string& payload) {
  const TaskHeader header{id, reinterpret_cast<uint64_t>(invoker), fn,
                          payload.size()};
  out.append(reinterpret_cast<const char*>(&header), sizeof(header));
  out.append(payload);
}

// Parses the first complete result frame of `inbox`, if there is one.
struct ParsedResult {
  uint64_t id;
  absl::StatusOr<std::string> outcome;
};
std::optional<ParsedResult> TakeResult(std::string& inbox) {
  if (inbox.size() < sizeof(ResultHeader)) return std::nullopt;
  ResultHeader header;
  std::memcpy(&header, inbox.data(), sizeof(header));
  if (inbox.size() - sizeof(header) < header.size) return std::nullopt;
  std::string payload = inbox.substr(sizeof(header), header.size);
  inbox.erase(0, sizeof(header) + header.size);
  if (header.failed != 0) {
    return ParsedResult{header.id, absl::UnknownError(payload)};
  }
  return ParsedResult{header.id, std::move(payload)};
}

// A worker's life: read tasks, run them one by one, write each result at
// once. Ends at a stop message or when the parent is gone (end of file).
int WorkerMain(int task_fd, int result_fd, std::atomic<uint64_t>* running) {
  std::string inbox;
  std::string frame;
  char buffer[64 * 1024];
  size_t at = 0;
  while (true) {
    while (inbox.size() - at >= sizeof(TaskHeader)) {
      TaskHeader header;
      std::memcpy(&header, inbox.data() + at, sizeof(header));
      if (header.id == kStopId) return 0;
      if (inbox.size() - at - sizeof(header) < header.size) break;
      const std::string_view payload(inbox.data() + at + sizeof(header),
                                     header.size);
      // Noted before running, so the parent knows which task a crash hit.
      running->store(header.id, std::memory_order_release);
      std::string out;
      uint64_t failed = 0;
      try {
        out = reinterpret_cast<Invoker>(header.invoker)(header.fn, payload);
      } catch (const std::exception& e) {
        failed = 1;
        out = e.what();
      } catch (...) {
        failed = 1;
        out = "unknown exception";
      }
      const ResultHeader result{header.id, failed, out.size()};
      frame.assign(reinterpret_cast<const char*>(&result), sizeof(result));
      frame.append(out);
      if (!WriteAll(result_fd, frame).ok()) return 1;
      running->store(0, std::memory_order_release);
      at += sizeof(header) + header.size;
    }
    inbox.erase(0, at);
    at = 0;
    ssize_t got;
    do {
      got = ::read(task_fd, buffer, sizeof(buffer));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return 0;
    inbox.append(buffer, static_cast<size_t>(got));
  }
}

}  // namespace

struct ProcessPool::Task {
  uint64_t id;
  Invoker invoker;
  uintptr_t fn;
  std::string payload;
  std::shared_ptr<Slot> slot;
};

struct ProcessPool::Worker {
  std::optional<Child> child;
  UniqueFd task_fd;    // we write tasks
  UniqueFd result_fd;  // we read results (non-blocking)
  UniqueFd pidfd;      // readable once the worker has ended
  // The id of the task the worker is running, 0 if none: shared memory the
  // worker writes, so it survives the worker's crash.
  std::optional<SharedObject<std::atomic<uint64_t>>> running;
  std::deque<Task> in_flight;  // sent to it, in order, no result yet
  std::string inbox;           // result bytes read but not yet parsed
  bool checked_out = false;    // an Apply() thread talks to it directly
  bool dead = false;           // could not be replaced
};

absl::StatusOr<std::unique_ptr<ProcessPool>> ProcessPool::Create(
    int processes) {
  if (processes < 0 || processes > kMaxProcesses) {
    return absl::InvalidArgumentError(
        absl::StrCat("ProcessPool: processes must be in 0..", kMaxProcesses,
                     ", not ", processes));
  }
  if (processes == 0) processes = CpuCount();
  std::unique_ptr<ProcessPool> pool(new ProcessPool(processes));
  MT_ASSIGN_OR_RETURN(pool->wake_, MakePipe(O_NONBLOCK));
  {
    std::lock_guard<std::mutex> lock(pool->mu_);
    for (int i = 0; i < processes; ++i) {
      pool->workers_.push_back(std::make_unique<Worker>());
      MT_RETURN_IF_ERROR(pool->StartWorker(static_cast<size_t>(i)));
    }
  }
  // The thread starts after the first forks: those happen single-threaded.
  pool->manager_ = std::thread([p = pool.get()] { p->ManagerLoop(); });
  return pool;
}

ProcessPool::ProcessPool(int processes) : size_(processes) {}

ProcessPool::~ProcessPool() { Terminate(); }

std::vector<pid_t> ProcessPool::WorkerPids() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<pid_t> pids;
  for (const auto& worker : workers_) {
    if (worker->child.has_value() && !worker->child->reaped()) {
      pids.push_back(worker->child->pid());
    }
  }
  return pids;
}

size_t ProcessPool::DefaultChunksize(size_t items) const {
  // Python's Pool.map: divmod(len, 4 * processes), rounded up.
  const size_t per = 4 * static_cast<size_t>(size_);
  return std::max<size_t>(1, (items + per - 1) / per);
}

absl::Status ProcessPool::StartWorker(size_t index) {
  Worker& worker = *workers_[index];
  MT_ASSIGN_OR_RETURN(Pipe tasks, MakePipe());
  MT_ASSIGN_OR_RETURN(Pipe results, MakePipe());
  MT_ASSIGN_OR_RETURN(SharedObject<std::atomic<uint64_t>> running,
                      SharedObject<std::atomic<uint64_t>>::Create(0));
  MT_ASSIGN_OR_RETURN(Child child, Child::Fork([&] {
                        // Keep only our own ends: another worker's pipe held
                        // open here would hide that worker's end of file from
                        // the parent.
                        for (auto& other : workers_) {
                          other->task_fd.Close();
                          other->result_fd.Close();
                          other->pidfd.Close();
                        }
                        wake_.read_end.Close();
                        wake_.write_end.Close();
                        tasks.write_end.Close();
                        results.read_end.Close();
                        return WorkerMain(tasks.read_end.get(),
                                          results.write_end.get(),
                                          running.get());
                      }));
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child.pid(), 0)));
  if (!pidfd.valid()) return ErrnoStatus("pidfd_open ", child.pid());
  const int flags = ::fcntl(results.read_end.get(), F_GETFL);
  if (flags < 0 ||
      ::fcntl(results.read_end.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return ErrnoStatus("fcntl O_NONBLOCK");
  }
  worker.child.emplace(std::move(child));
  worker.task_fd = std::move(tasks.write_end);
  worker.result_fd = std::move(results.read_end);
  worker.pidfd = std::move(pidfd);
  worker.running.emplace(std::move(running));
  worker.inbox.clear();
  worker.dead = false;
  return absl::OkStatus();
}

std::shared_ptr<Slot> ProcessPool::Submit(
    Invoker invoker, uintptr_t fn, std::string payload,
    std::shared_ptr<pool_internal::CompletionQueue> queue, size_t index) {
  auto slot = std::make_shared<Slot>(std::move(queue), index);
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    slot->Set(absl::FailedPreconditionError(
        "ProcessPool: cannot submit a task after Close() or Terminate()"));
    return slot;
  }
  pending_.push_back(Task{next_id_++, invoker, fn, std::move(payload), slot});
  WakeManagerLocked();
  return slot;
}

absl::StatusOr<std::string> ProcessPool::Call(Invoker invoker, uintptr_t fn,
                                              std::string payload) {
  auto slot = std::make_shared<Slot>();
  Worker* worker = nullptr;
  uint64_t id = 0;
  std::string frame;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      return absl::FailedPreconditionError(
          "ProcessPool: cannot submit a task after Close() or Terminate()");
    }
    id = next_id_++;
    if (pending_.empty()) {
      for (auto& w : workers_) {
        if (!w->dead && !w->checked_out && w->in_flight.empty()) {
          worker = w.get();
          break;
        }
      }
    }
    if (worker == nullptr) {  // all busy: queue it like ApplyAsync
      pending_.push_back(Task{id, invoker, fn, std::move(payload), slot});
      WakeManagerLocked();
    } else {
      AppendTask(frame, id, invoker, fn, payload);
      worker->checked_out = true;
      worker->in_flight.push_back(
          Task{id, invoker, fn, std::move(payload), slot});
    }
  }
  if (worker == nullptr) {
    slot->Wait(absl::InfiniteDuration());
    return slot->outcome();
  }

  // The direct round trip: this thread writes the task and reads the result;
  // the manager thread leaves this worker alone meanwhile.
  std::optional<ParsedResult> result;
  bool sent;
  {
    SigpipeBlocker blocker;
    sent = blocker.Write(worker->task_fd.get(), frame);
  }
  while (sent && !result.has_value()) {
    pollfd fds[2] = {{worker->result_fd.get(), POLLIN, 0},
                     {worker->pidfd.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    char buffer[16 * 1024];
    ssize_t got;
    while ((got = ::read(worker->result_fd.get(), buffer, sizeof(buffer))) >
           0) {
      worker->inbox.append(buffer, static_cast<size_t>(got));
      if (got < static_cast<ssize_t>(sizeof(buffer))) break;
    }
    result = TakeResult(worker->inbox);
    if (!result.has_value() && (fds[1].revents & POLLIN) != 0) break;  // died
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    worker->checked_out = false;
    if (result.has_value() && !worker->in_flight.empty() &&
        worker->in_flight.front().id == id) {
      worker->in_flight.pop_front();
    }
    // Let the manager dispatch what queued up meanwhile, or see the death.
    // (Not otherwise: waking it for nothing costs a context switch.)
    if (!pending_.empty() || !result.has_value()) WakeManagerLocked();
  }
  if (result.has_value() && result->id == id) return std::move(result->outcome);
  // The worker died (or the pool was terminated): the manager fails or
  // re-queues the task.
  slot->Wait(absl::InfiniteDuration());
  return slot->outcome();
}

void ProcessPool::WakeManagerLocked() {
  if (manager_asleep_ && !wake_pending_) {
    wake_pending_ = true;
    const char byte = 1;
    (void)::write(wake_.write_end.get(), &byte, 1);
  }
}

void ProcessPool::DispatchLocked() {
  std::string frames;
  for (auto& worker : workers_) {
    if (pending_.empty()) return;
    if (worker->dead || worker->checked_out || !worker->in_flight.empty()) {
      continue;
    }
    // Guided scheduling: big batches while the queue is long, single tasks
    // at the end, so that no worker sits idle behind another's backlog.
    const size_t batch = std::clamp<size_t>(
        pending_.size() / (2 * static_cast<size_t>(size_)), 1, kBatchTasks);
    frames.clear();
    for (size_t n = 0; n < batch && !pending_.empty(); ++n) {
      Task& task = pending_.front();
      if (n > 0 && frames.size() + sizeof(TaskHeader) + task.payload.size() >
                       kBatchBytes) {
        break;
      }
      AppendTask(frames, task.id, task.invoker, task.fn, task.payload);
      worker->in_flight.push_back(std::move(task));
      pending_.pop_front();
    }
    // A dead worker's pipe fails with EPIPE (the manager thread blocks
    // SIGPIPE): its pidfd tells the rest.
    (void)WriteAll(worker->task_fd.get(), frames);
  }
}

void ProcessPool::ReadResultsLocked(Worker& worker) {
  char buffer[64 * 1024];
  const ssize_t got = ::read(worker.result_fd.get(), buffer, sizeof(buffer));
  if (got > 0) worker.inbox.append(buffer, static_cast<size_t>(got));
  ConsumeFramesLocked(worker);
}

bool ProcessPool::ConsumeFramesLocked(Worker& worker) {
  bool any = false;
  while (std::optional<ParsedResult> result = TakeResult(worker.inbox)) {
    if (worker.in_flight.empty() || worker.in_flight.front().id != result->id) {
      continue;  // cannot happen: a worker answers in order
    }
    worker.in_flight.front().slot->Set(std::move(result->outcome));
    worker.in_flight.pop_front();
    any = true;
  }
  return any;
}

void ProcessPool::HandleDeathLocked(Worker& worker) {
  // Whatever it wrote before dying is still in the pipe.
  char buffer[64 * 1024];
  ssize_t got;
  while ((got = ::read(worker.result_fd.get(), buffer, sizeof(buffer))) > 0) {
    worker.inbox.append(buffer, static_cast<size_t>(got));
  }
  ConsumeFramesLocked(worker);
  const pid_t pid = worker.child->pid();
  absl::StatusOr<ExitStatus> status = worker.child->Wait();
  const uint64_t running = (*worker.running)->load(std::memory_order_acquire);
  std::deque<Task> again;
  for (Task& task : worker.in_flight) {
    if (task.id == running) {
      task.slot->Set(absl::AbortedError(absl::StrCat(
          "ProcessPool: the worker (pid ", pid, ") running this task ended: ",
          status.ok() ? status->ToString() : status.status().ToString())));
    } else {
      again.push_back(std::move(task));  // never started: run it elsewhere
    }
  }
  worker.in_flight.clear();
  pending_.insert(pending_.begin(), std::make_move_iterator(again.begin()),
                  std::make_move_iterator(again.end()));
  worker.dead = true;
  if (terminating_) return;
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].get() == &worker) {
      worker.task_fd.Close();
      worker.result_fd.Close();
      worker.pidfd.Close();
      if (!StartWorker(i).ok()) worker.dead = true;
    }
  }
  if (std::all_of(workers_.begin(), workers_.end(),
                  [](const auto& w) { return w->dead; })) {
    for (Task& task : pending_) {
      task.slot->Set(absl::UnavailableError(
          "ProcessPool: no worker left (cannot fork a new one)"));
    }
    pending_.clear();
  }
}

void ProcessPool::ManagerLoop() {
  // The manager writes to workers that may have died: EPIPE, not SIGPIPE.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

  std::unique_lock<std::mutex> lock(mu_);
  std::vector<pollfd> fds;
  std::vector<Worker*> owners;  // fds[i] belongs to owners[i] (null: wake)
  while (!terminating_) {
    DispatchLocked();
    const bool busy =
        !pending_.empty() ||
        std::any_of(workers_.begin(), workers_.end(), [](const auto& w) {
          return !w->in_flight.empty() || w->checked_out;
        });
    if (closed_ && !busy) break;
    fds.clear();
    owners.clear();
    fds.push_back({wake_.read_end.get(), POLLIN, 0});
    owners.push_back(nullptr);
    for (auto& worker : workers_) {
      if (worker->dead || worker->checked_out) continue;
      if (!worker->in_flight.empty()) {
        fds.push_back({worker->result_fd.get(), POLLIN, 0});
        owners.push_back(worker.get());
      }
      fds.push_back({worker->pidfd.get(), POLLIN, 0});
      owners.push_back(worker.get());
    }
    manager_asleep_ = true;
    lock.unlock();
    const int ready = ::poll(fds.data(), fds.size(), -1);
    lock.lock();
    manager_asleep_ = false;
    if (ready <= 0) continue;
    if (fds[0].revents != 0) {
      char drain[64];
      while (::read(wake_.read_end.get(), drain, sizeof(drain)) > 0) {
      }
      wake_pending_ = false;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      Worker* worker = owners[i];
      if (fds[i].revents == 0 || worker->dead || worker->checked_out) continue;
      if (fds[i].fd == worker->result_fd.get()) {
        ReadResultsLocked(*worker);
      } else if (fds[i].fd == worker->pidfd.get()) {
        HandleDeathLocked(*worker);
      }
    }
  }
  manager_done_ = true;
}

void ProcessPool::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  WakeManagerLocked();
}

absl::Status ProcessPool::Join() {
  std::lock_guard<std::mutex> join_lock(join_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      return absl::FailedPreconditionError(
          "ProcessPool: Join() needs Close() or Terminate() first");
    }
  }
  if (manager_.joinable()) manager_.join();
  StopWorkers(/*terminate=*/false);
  return absl::OkStatus();
}

void ProcessPool::Terminate() {
  std::lock_guard<std::mutex> join_lock(join_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    terminating_ = true;
    WakeManagerLocked();
  }
  if (manager_.joinable()) manager_.join();
  StopWorkers(/*terminate=*/true);
}

void ProcessPool::StopWorkers(bool terminate) {
  std::lock_guard<std::mutex> lock(mu_);
  SigpipeBlocker blocker;
  for (auto& worker : workers_) {
    if (!worker->child.has_value() || worker->child->reaped()) continue;
    if (terminate) {
      (void)worker->child->Signal(SIGTERM);
    } else {
      std::string stop;
      AppendTask(stop, kStopId, nullptr, 0, "");
      (void)blocker.Write(worker->task_fd.get(), stop);
    }
  }
  for (auto& worker : workers_) {
    if (!worker->child.has_value() || worker->child->reaped()) continue;
    absl::StatusOr<std::optional<ExitStatus>> ended =
        worker->child->WaitFor(Process::kTerminateGrace);
    if (!ended.ok() || !ended->has_value()) {
      (void)worker->child->KillAndWait(SIGKILL);
    }
  }
  const absl::Status cancelled =
      absl::CancelledError("ProcessPool: terminated before the task finished");
  for (auto& worker : workers_) {
    for (Task& task : worker->in_flight) task.slot->Set(cancelled);
    worker->in_flight.clear();
    worker->dead = true;
  }
  for (Task& task : pending_) task.slot->Set(cancelled);
  pending_.clear();
}

}  // namespace multitask
