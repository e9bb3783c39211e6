// Reference solution for stop_consumers.h. Look only after trying.

#include "lessons/queue_ipc/exercises/stop_consumers.h"

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/child.h"
#include "common/ipc_queue.h"
#include "common/status_macros.h"

namespace multitask::queue_ipc_exercise {
namespace {

absl::Status WaitForAll(std::vector<Child>& children) {
  for (Child& child : children) {
    MT_ASSIGN_OR_RETURN(ExitStatus status, child.Wait());
    if (!status.success()) {
      return absl::InternalError(
          absl::StrCat("child ", child.pid(), " ", status.ToString()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string MessageName(int producer, int k) {
  return absl::StrCat(producer, ":", k);
}

absl::StatusOr<std::vector<std::string>> ProduceAndConsume(int producers,
                                                           int consumers,
                                                           int per_producer) {
  if (producers < 0 || consumers < 1 || per_producer < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ProduceAndConsume(", producers, ", ", consumers, ", ", per_producer,
        "): need producers >= 0, consumers >= 1, "
        "per_producer >= 0"));
  }
  MT_ASSIGN_OR_RETURN(ipc::Queue work, ipc::Queue::Create(4096));
  const size_t total = static_cast<size_t>(producers) * per_producer;
  MT_ASSIGN_OR_RETURN(ipc::Queue results, ipc::Queue::Create(32 * total + 64));

  std::vector<Child> producer_children;
  for (int p = 0; p < producers; ++p) {
    MT_ASSIGN_OR_RETURN(Child producer, Child::Fork([&, p] {
                          for (int k = 0; k < per_producer; ++k) {
                            if (!work.Put(MessageName(p, k)).ok()) return 1;
                          }
                          return 0;
                        }));
    producer_children.push_back(std::move(producer));
  }
  std::vector<Child> consumer_children;
  for (int c = 0; c < consumers; ++c) {
    MT_ASSIGN_OR_RETURN(Child consumer, Child::Fork([&] {
                          while (true) {
                            absl::StatusOr<std::string> message = work.Get();
                            // Closed and drained: the normal end.
                            if (ipc::IsQueueClosed(message.status())) return 0;
                            if (!message.ok()) return 1;
                            if (!results.Put(*message).ok()) return 1;
                          }
                        }));
    consumer_children.push_back(std::move(consumer));
  }
  // Only once EVERY producer is done may the queue be closed: a producer that
  // closed it after its own last Put would make the others' Puts fail.
  MT_RETURN_IF_ERROR(WaitForAll(producer_children));
  work.Close();
  MT_RETURN_IF_ERROR(WaitForAll(consumer_children));

  std::vector<std::string> got;
  while (true) {
    absl::StatusOr<std::string> message = results.Get(absl::ZeroDuration());
    if (!message.ok()) break;
    got.push_back(*std::move(message));
  }
  return got;
}

}  // namespace multitask::queue_ipc_exercise
