// manager_client.h: a C++ client for CPython's multiprocessing.managers
// protocol: it talks to ManagerServer and to a Python BaseManager alike.
//
//   MT_ASSIGN_OR_RETURN(std::unique_ptr<ManagerClient> client,
//                       ManagerClient::Connect("127.0.0.1:5000", "abc"));
//   MT_ASSIGN_OR_RETURN(RemoteQueue tasks, client->Queue("get_task_queue"));
//   absl::StatusOr<PyValue> n = tasks.Get(absl::Seconds(1));
//   if (IsQueueEmpty(n.status())) ...                  // nothing within 1 s
//   MT_RETURN_IF_ERROR(results.Put(PyValue::Str("7 * 7 = 49")));
//
// It does what a Python client does: Connect() sends `dummy` on a one-shot
// connection (so a wrong key or address fails at once); each proxy is made by
// `create(typeid)` on a one-shot connection; all method calls then share one
// persistent connection opened with `accept_connection`. It skips
// incref/decref (reference counts are advisory on our server; a Python server
// keeps the object alive a little longer).
//
// Errors: a remote exception becomes a status: queue.Empty -> DeadlineExceeded
// (IsQueueEmpty), KeyError -> NotFound, IndexError -> OutOfRange, ValueError
// and TypeError -> InvalidArgument, AttributeError and NotImplementedError ->
// Unimplemented, anything else (and '#TRACEBACK') -> Unknown, with the text. A
// wrong key -> PermissionDenied. A broken connection -> Unavailable; the
// client does not reconnect.
//
// Like CPython's client, a call waits for its reply with no timeout of its
// own: Get(timeout) is a timeout the server applies.
//
// Thread-safe: calls from several threads take turns on the one connection
// (use one client per thread for parallel calls). Proxies must not outlive
// their client.

#ifndef MULTITASK_COMMON_MANAGER_CLIENT_H_
#define MULTITASK_COMMON_MANAGER_CLIENT_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "common/pickle.h"

namespace multitask {

// True for the status a get on an empty queue returns (queue.Empty).
bool IsQueueEmpty(const absl::Status& status);

// The status for a ('#ERROR', exception) or ('#TRACEBACK', text) reply.
absl::Status RemoteErrorStatus(const std::string& kind, const PyValue& value);

class ManagerClient;

// A proxy for one remote object: any exposed method by name.
class RemoteObject {
 public:
  // Calls `method`(*args, **kwds) and returns its result.
  absl::StatusOr<PyValue> Call(const std::string& method,
                               std::vector<PyValue> args = {},
                               PyValue kwds = PyValue::Dict({})) const;
  const std::string& ident() const { return ident_; }
  const std::vector<std::string>& exposed() const { return exposed_; }

 private:
  friend class ManagerClient;
  ManagerClient* client_ = nullptr;
  std::string ident_;
  std::vector<std::string> exposed_;
};

// A proxy for a remote queue.Queue.
class RemoteQueue : public RemoteObject {
 public:
  absl::Status Put(PyValue item) const;
  // Blocks on the server up to `timeout` (forever if nullopt); IsQueueEmpty()
  // on timeout.
  absl::StatusOr<PyValue> Get(
      std::optional<absl::Duration> timeout = std::nullopt) const;
  absl::StatusOr<PyValue> GetNoWait() const;
  absl::StatusOr<int64_t> QSize() const;
  absl::Status TaskDone() const;
};

class ManagerClient {
 public:
  // Connects to "host:port" and checks the key with a `dummy` request.
  static absl::StatusOr<std::unique_ptr<ManagerClient>> Connect(
      std::string address, std::string authkey);

  // create(type_id) on the server: a proxy for the object it returns.
  absl::StatusOr<RemoteObject> Object(const std::string& type_id);
  absl::StatusOr<RemoteQueue> Queue(const std::string& type_id);

  // One request on the persistent connection (opened on first use).
  absl::StatusOr<PyValue> CallMethod(const std::string& ident,
                                     const std::string& method,
                                     std::vector<PyValue> args, PyValue kwds);

  // Drops the persistent connection (the server settles what it handed out:
  // see ManagerServer's at-least-once rule).
  void Close();

 private:
  ManagerClient(std::string address, std::string authkey)
      : address_(std::move(address)), authkey_(std::move(authkey)) {}
  // A new authenticated connection.
  absl::StatusOr<UniqueFd> Open();
  // Sends `request` on `fd` and reads one reply; returns its value or the
  // remote error.
  absl::StatusOr<PyValue> RoundTrip(int fd, const PyValue& request);
  // A server-level call on a one-shot connection.
  absl::StatusOr<PyValue> ServerCall(const std::string& method,
                                     std::vector<PyValue> args);

  const std::string address_;
  const std::string authkey_;
  std::mutex mu_;
  UniqueFd conn_;  // persistent, guarded by mu_
};

}  // namespace multitask

#endif  // MULTITASK_COMMON_MANAGER_CLIENT_H_
