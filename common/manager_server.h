// manager_server.h: a server that speaks CPython's multiprocessing.managers
// protocol, so Python's BaseManager clients (and ManagerClient) can use the
// queues, dict and list it serves.
//
//   ManagerServerOptions options;
//   options.authkey = "abc";                      // 127.0.0.1, port 0
//   ManagerServer server(options);
//   server.RegisterQueue("get_task_queue");
//   server.RegisterQueue("get_result_queue");
//   MT_RETURN_IF_ERROR(server.Start());           // listening, serving
//   server.Put("get_task_queue", PyValue::Int(7));  // the master, in process
//   MT_ASSIGN_OR_RETURN(PyValue r, server.Get("get_result_queue",
//                                             absl::Seconds(10)));
//
// A Python worker then does, unchanged:
//   QueueManager.register('get_task_queue'); m = QueueManager(address=...,
//   authkey=b'abc'); m.connect(); q = m.get_task_queue(); q.get(timeout=1)
//
// What it serves (see manager_wire.h for the bytes):
// - Server calls (ident None): dummy, create(typeid) -> (ident, exposed),
//   incref/decref (advisory: objects live as long as the server),
//   accept_connection(name) (the connection then carries method calls),
//   number_of_objects. As CPython, a connection that did not call
//   accept_connection is closed after its one request.
// - Queue methods: put, put_nowait, get(block=True, timeout=None) (keyword
//   or positional), get_nowait, qsize, empty, full, task_done, join. An empty
//   queue answers ('#ERROR', queue.Empty()).
// - Dict and list methods, __repr__/__str__ and #GETVALUE (see the README).
//
// At-least-once delivery: an item a connection takes with get is provisional
// until that connection sends its next request (normally the put of the
// result) or task_done. If the connection ends first (the worker died), the
// item goes back to the FRONT of its queue, logged. CPython loses it.
//
// Bad input never harms the server: a failed handshake, a truncated, oversized
// or unparseable frame, or a pickle with class references, REDUCE or deep
// nesting closes that one connection with a logged reason.
//
// Threading: one thread per connection; all methods of ManagerServer are
// thread-safe. Objects are guarded by one std::mutex. Stop() (or the
// destructor) closes every connection, wakes blocked gets and joins all
// threads.

#ifndef MULTITASK_COMMON_MANAGER_SERVER_H_
#define MULTITASK_COMMON_MANAGER_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fd.h"
#include "common/manager_wire.h"
#include "common/pickle.h"

namespace multitask {

struct ManagerServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: the kernel picks; read port() after Start()
  std::string authkey;
  size_t max_frame = kDefaultMaxFrame;
  PickleLimits limits;  // for requests: no classes at all
  // A client must finish the handshake within this time.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Where the reasons for closed connections go (called from connection
  // threads; must be thread-safe). Default: stderr, "manager: ...".
  std::function<void(absl::string_view)> log;
};

struct ManagerServerStats {
  int64_t connections = 0;      // accepted TCP connections
  int64_t auth_failures = 0;    // closed during the handshake
  int64_t protocol_errors = 0;  // closed for a bad frame or pickle
  int64_t requests = 0;         // requests answered
  int64_t requeued = 0;         // tasks put back after their taker vanished
  int64_t sha256_logins = 0;    // clients that answered with HMAC-SHA256
  int64_t md5_logins = 0;       // ... with HMAC-MD5 (CPython 3.11 and older)
};

class ManagerServer {
 public:
  explicit ManagerServer(ManagerServerOptions options);
  ~ManagerServer();  // Stop()
  ManagerServer(const ManagerServer&) = delete;
  ManagerServer& operator=(const ManagerServer&) = delete;

  // Register before Start(): `typeid` is the name clients call (e.g.
  // "get_task_queue" becomes manager.get_task_queue() in Python).
  void RegisterQueue(const std::string& type_id);
  void RegisterDict(const std::string& type_id);
  void RegisterList(const std::string& type_id);

  // Binds, listens and starts the accept thread.
  absl::Status Start();
  int port() const { return port_; }
  // "host:port" for clients.
  std::string address() const;
  // Idempotent; see the contract above.
  void Stop();

  // The master's own access, in process (no pickling, no socket).
  absl::Status Put(const std::string& type_id, PyValue item);
  // Waits up to `timeout` (forever if nullopt). DeadlineExceeded
  // "queue.Empty" if nothing came; Cancelled once the server stops.
  absl::StatusOr<PyValue> Get(const std::string& type_id,
                              std::optional<absl::Duration> timeout);
  absl::StatusOr<int64_t> QueueSize(const std::string& type_id);
  // A copy of a dict's or list's value.
  absl::StatusOr<PyValue> Value(const std::string& type_id);

  ManagerServerStats stats() const;

 private:
  struct Object;
  struct Connection;
  struct Reply {
    std::string kind;  // "#RETURN", "#ERROR", "#TRACEBACK"
    PyValue value;
  };

  void Register(const std::string& type_id, int type);
  void AcceptLoop();
  void Serve(Connection* conn);
  void Log(absl::string_view message);
  // Puts a connection's provisional item back (or drops it: committed).
  void SettlePending(Connection* conn, bool requeue);
  Reply ServerCall(Connection* conn, const std::string& method,
                   const PyValue& args, bool* persistent);
  Reply MethodCall(Connection* conn, Object* obj, const std::string& method,
                   const PyValue& args, const PyValue& kwds);
  Reply QueueCall(Connection* conn, Object* obj, const std::string& method,
                  const PyValue& args, const PyValue& kwds,
                  std::unique_lock<std::mutex>& lock);
  Reply DictCall(Object* obj, const std::string& method, const PyValue& args);
  Reply ListCall(Object* obj, const std::string& method, const PyValue& args);
  // Waits for an item; nullopt on timeout or stop.
  std::optional<PyValue> TakeLocked(Object* obj,
                                    std::optional<absl::Duration> timeout,
                                    std::unique_lock<std::mutex>& lock);
  Object* FindLocked(const std::string& type_id);

  const ManagerServerOptions options_;
  UniqueFd listen_fd_;
  int port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> started_{false};

  mutable std::mutex mu_;
  bool stopping_ = false;                                   // guarded by mu_
  std::map<std::string, std::unique_ptr<Object>> by_type_;  // by type id
  std::map<std::string, Object*> by_ident_;
  std::list<std::unique_ptr<Connection>> connections_;  // guarded by mu_
  ManagerServerStats stats_;                            // guarded by mu_
  int64_t next_connection_id_ = 1;                      // guarded by mu_
};

}  // namespace multitask

#endif  // MULTITASK_COMMON_MANAGER_SERVER_H_
