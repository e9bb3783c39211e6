#include "common/manager_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/syscall.h"

namespace multitask {

struct ManagerServer::Object {
  enum Type { kQueue, kDict, kList } type = kQueue;
  std::string type_id;
  std::string ident;
  std::deque<PyValue> items;  // kQueue
  int64_t unfinished = 0;     // kQueue: puts not yet task_done
  PyValue value;              // kDict, kList
  std::condition_variable not_empty;
  std::condition_variable all_done;
};

struct ManagerServer::Connection {
  int64_t id = 0;
  std::string peer;
  UniqueFd fd;
  std::thread thread;
  bool done = false;  // guarded by mu_: the thread no longer touches mu_
  // The item taken by this connection's last get, until it is settled.
  Object* pending_from = nullptr;  // guarded by mu_
  PyValue pending;                 // guarded by mu_
};

namespace {

PyValue Builtin(const char* name, std::string message) {
  return PyValue::Exception("builtins", name,
                            {PyValue::Str(std::move(message))});
}

PyValue ExposedTuple(const std::vector<const char*>& names) {
  std::vector<PyValue> items;
  for (const char* n : names) items.push_back(PyValue::Str(n));
  return PyValue::Tuple(std::move(items));
}

const std::vector<const char*>& QueueExposed() {
  static const auto* names = new std::vector<const char*>{
      "empty", "full",       "get",   "get_nowait", "join",
      "put",   "put_nowait", "qsize", "task_done"};
  return *names;
}

// As CPython's DictProxy/ListProxy._exposed_ (a Python client checks nothing,
// our server checks calls against these).
const std::vector<const char*>& DictExposed() {
  static const auto* names = new std::vector<const char*>{
      "__contains__", "__delitem__", "__getitem__", "__iter__",
      "__len__",      "__setitem__", "clear",       "copy",
      "get",          "items",       "keys",        "pop",
      "popitem",      "setdefault",  "update",      "values"};
  return *names;
}

const std::vector<const char*>& ListExposed() {
  static const auto* names = new std::vector<const char*>{
      "__add__", "__contains__", "__delitem__", "__getitem__", "__len__",
      "__mul__", "__reversed__", "__rmul__",    "__setitem__", "append",
      "count",   "extend",       "index",       "insert",      "pop",
      "remove",  "reverse",      "sort",        "__imul__"};
  return *names;
}

bool IsNumber(const PyValue& v) {
  return v.kind() == PyValue::Kind::kInt || v.kind() == PyValue::Kind::kFloat ||
         v.kind() == PyValue::Kind::kBool;
}

double AsDouble(const PyValue& v) {
  return v.kind() == PyValue::Kind::kFloat  ? v.as_float()
         : v.kind() == PyValue::Kind::kBool ? (v.as_bool() ? 1.0 : 0.0)
                                            : static_cast<double>(v.as_int());
}

// Python truthiness for the `block` argument.
bool Truthy(const PyValue& v) {
  switch (v.kind()) {
    case PyValue::Kind::kNone:
      return false;
    case PyValue::Kind::kBool:
      return v.as_bool();
    case PyValue::Kind::kInt:
      return v.as_int() != 0;
    case PyValue::Kind::kFloat:
      return v.as_float() != 0;
    default:
      return true;
  }
}

std::string PeerName(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      addr.sin_family != AF_INET) {
    return "?";
  }
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  return absl::StrCat(text, ":", ntohs(addr.sin_port));
}

void SetReceiveTimeout(int fd, absl::Duration timeout) {
  timeval tv = absl::ToTimeval(timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

// Python's list index rules: negative counts from the end.
std::optional<size_t> ListIndex(const PyValue& index, size_t size) {
  if (!index.is_int()) return std::nullopt;
  int64_t i = index.as_int();
  if (i < 0) i += static_cast<int64_t>(size);
  if (i < 0 || i >= static_cast<int64_t>(size)) return std::nullopt;
  return static_cast<size_t>(i);
}

}  // namespace

ManagerServer::ManagerServer(ManagerServerOptions options)
    : options_(std::move(options)) {}

ManagerServer::~ManagerServer() { Stop(); }

void ManagerServer::Register(const std::string& type_id, int type) {
  std::lock_guard<std::mutex> lock(mu_);
  auto obj = std::make_unique<Object>();
  obj->type = static_cast<Object::Type>(type);
  obj->type_id = type_id;
  obj->ident = absl::StrFormat("%x", reinterpret_cast<uintptr_t>(obj.get()));
  if (obj->type == Object::kDict) obj->value = PyValue::Dict({});
  if (obj->type == Object::kList) obj->value = PyValue::List({});
  by_ident_[obj->ident] = obj.get();
  by_type_[type_id] = std::move(obj);
}

void ManagerServer::RegisterQueue(const std::string& type_id) {
  Register(type_id, Object::kQueue);
}
void ManagerServer::RegisterDict(const std::string& type_id) {
  Register(type_id, Object::kDict);
}
void ManagerServer::RegisterList(const std::string& type_id) {
  Register(type_id, Object::kList);
}

absl::Status ManagerServer::Start() {
  if (started_.exchange(true)) {
    return absl::FailedPreconditionError("ManagerServer already started");
  }
  MT_ASSIGN_OR_RETURN(listen_fd_, ListenTcp(options_.host, options_.port));
  MT_ASSIGN_OR_RETURN(port_, LocalPort(listen_fd_.get()));
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

std::string ManagerServer::address() const {
  return absl::StrCat(options_.host.empty() ? "127.0.0.1" : options_.host, ":",
                      port_);
}

void ManagerServer::Log(absl::string_view message) {
  if (options_.log) {
    options_.log(message);
    return;
  }
  static std::mutex log_mu;
  std::lock_guard<std::mutex> lock(log_mu);
  std::fprintf(stderr, "manager: %.*s\n", static_cast<int>(message.size()),
               message.data());
}

void ManagerServer::Stop() {
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [type_id, obj] : by_type_) {
      obj->not_empty.notify_all();
      obj->all_done.notify_all();
    }
    // Wakes threads blocked in recv; their fds stay open until joined.
    for (auto& conn : connections_) ::shutdown(conn->fd.get(), SHUT_RDWR);
  }
  if (listen_fd_.valid()) ::shutdown(listen_fd_.get(), SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    connections.swap(connections_);
  }
  for (auto& conn : connections) conn->thread.join();
  listen_fd_.Close();
}

void ManagerServer::AcceptLoop() {
  while (true) {
    const int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    std::list<std::unique_ptr<Connection>> finished;
    std::unique_lock<std::mutex> lock(mu_);
    // Reap connections whose threads have finished (joined outside the lock).
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if ((*it)->done) finished.splice(finished.end(), connections_, it);
      it = next;
    }
    if (fd < 0) {
      const int err = errno;
      if (stopping_) {
        lock.unlock();
        for (auto& conn : finished) conn->thread.join();
        return;
      }
      lock.unlock();
      for (auto& conn : finished) conn->thread.join();
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EMFILE || err == ENFILE) {
        // Out of descriptors: back off instead of spinning on accept().
        Log("accept: out of file descriptors; retrying in 100 ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      Log(absl::StrCat("accept failed, no longer accepting: ",
                       ErrnoStatusWithCode(err, "accept").message()));
      return;
    }
    if (stopping_) {
      ::close(fd);
      lock.unlock();
      for (auto& conn : finished) conn->thread.join();
      return;
    }
    (void)SetNoDelay(fd);
    auto conn = std::make_unique<Connection>();
    conn->id = next_connection_id_++;
    conn->fd = UniqueFd(fd);
    conn->peer = PeerName(fd);
    ++stats_.connections;
    Connection* raw = conn.get();
    connections_.push_back(std::move(conn));
    raw->thread = std::thread([this, raw] { Serve(raw); });
    lock.unlock();
    for (auto& c : finished) c->thread.join();
  }
}

void ManagerServer::SettlePending(Connection* conn, bool requeue) {
  // Called with mu_ held.
  if (conn->pending_from == nullptr) return;
  if (requeue) {
    conn->pending_from->items.push_front(std::move(conn->pending));
    conn->pending_from->not_empty.notify_one();
    ++stats_.requeued;
  }
  conn->pending_from = nullptr;
  conn->pending = PyValue();
}

void ManagerServer::Serve(Connection* conn) {
  const int fd = conn->fd.get();
  const std::string who =
      absl::StrCat("connection ", conn->id, " from ", conn->peer);
  SetReceiveTimeout(fd, options_.handshake_timeout);
  std::string digest;
  if (absl::Status s = ServerHandshake(fd, options_.authkey, &digest);
      !s.ok()) {
    Log(absl::StrCat(who, " closed: ", s.message()));
    ::shutdown(fd, SHUT_RDWR);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.auth_failures;
    conn->done = true;
    return;
  }
  SetReceiveTimeout(fd, absl::ZeroDuration());  // requests may come slowly
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++(digest == "sha256" ? stats_.sha256_logins : stats_.md5_logins);
  }

  bool persistent = false;
  std::string closed_because;
  bool protocol_error = false;
  while (true) {
    // Before a one-shot request, CPython's client has just sent "#WELCOME#"
    // and waits for our ACK to send the request (see manager_wire.h): ~40
    // ms per connection saved. Replies carry the ACK on a persistent one.
    if (!persistent) QuickAck(fd);
    absl::StatusOr<std::string> frame = ReadFrame(fd, options_.max_frame);
    if (!frame.ok()) {
      if (!absl::IsOutOfRange(frame.status())) {  // not a clean close
        closed_because = std::string(frame.status().message());
        protocol_error = absl::IsResourceExhausted(frame.status()) ||
                         absl::IsInvalidArgument(frame.status()) ||
                         absl::IsDataLoss(frame.status());
      }
      break;
    }
    absl::StatusOr<PyValue> request = Unpickle(*frame, options_.limits);
    if (!request.ok()) {
      closed_because = std::string(request.status().message());
      protocol_error = true;
      break;
    }
    {
      // Any request settles the item the previous get handed out.
      std::lock_guard<std::mutex> lock(mu_);
      SettlePending(conn, /*requeue=*/false);
    }
    const bool shaped = request->is_tuple() && request->items().size() == 4 &&
                        request->items()[1].is_str() &&
                        request->items()[2].is_tuple() &&
                        request->items()[3].kind() == PyValue::Kind::kDict;
    if (!shaped) {
      closed_because =
          absl::StrCat("a request must be (ident, method, args, kwds), got ",
                       request->Repr().substr(0, 200));
      protocol_error = true;
      break;
    }
    const PyValue& ident = request->items()[0];
    const std::string& method = request->items()[1].text();
    const PyValue& args = request->items()[2];
    const PyValue& kwds = request->items()[3];
    Reply reply;
    bool one_shot = false;
    if (ident.is_none()) {
      reply = ServerCall(conn, method, args, &persistent);
      one_shot = !persistent;
    } else if (!ident.is_str()) {
      reply = {"#TRACEBACK", PyValue::Str("ident must be a str")};
    } else {
      Object* obj = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = by_ident_.find(ident.text());
        if (it != by_ident_.end()) obj = it->second;
      }
      if (obj == nullptr) {
        reply = {"#ERROR",
                 Builtin("KeyError",
                         absl::StrCat("no object with ident ", ident.text()))};
      } else {
        reply = MethodCall(conn, obj, method, args, kwds);
      }
    }
    if (reply.kind.empty()) break;  // the server is stopping
    const std::string bytes =
        Pickle(PyValue::Tuple({PyValue::Str(reply.kind), reply.value}));
    {
      // Counted before the reply leaves, so a client that has its reply sees
      // it counted.
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.requests;
    }
    if (absl::Status s = WriteFrame(fd, bytes); !s.ok()) {
      closed_because = std::string(s.message());
      break;
    }
    if (one_shot) break;
  }

  std::unique_lock<std::mutex> lock(mu_);
  std::string requeued;
  if (conn->pending_from != nullptr) {
    requeued = absl::StrCat("; put its unanswered task ",
                            conn->pending.Repr().substr(0, 100), " back on ",
                            conn->pending_from->type_id);
  }
  SettlePending(conn, /*requeue=*/true);
  if (protocol_error) ++stats_.protocol_errors;
  lock.unlock();
  if (!closed_because.empty() || !requeued.empty()) {
    Log(absl::StrCat(who, " closed", closed_because.empty() ? "" : ": ",
                     closed_because, requeued));
  }
  // The peer sees end of file now; the fd itself is closed when the thread is
  // joined, so Stop() never shuts down a reused descriptor number.
  ::shutdown(fd, SHUT_RDWR);
  lock.lock();
  conn->done = true;
}

ManagerServer::Reply ManagerServer::ServerCall(Connection* conn,
                                               const std::string& method,
                                               const PyValue& args,
                                               bool* persistent) {
  const auto& a = args.items();
  if (method == "dummy" || method == "incref" || method == "decref") {
    return {"#RETURN", PyValue::None()};  // reference counts are advisory
  }
  if (method == "accept_connection") {
    *persistent = true;
    return {"#RETURN", PyValue::None()};
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (method == "create") {
    if (a.empty() || !a[0].is_str()) {
      return {"#TRACEBACK", PyValue::Str("create needs a typeid")};
    }
    Object* obj = FindLocked(a[0].text());
    if (obj == nullptr) {
      return {"#TRACEBACK",
              PyValue::Str(absl::StrCat("unknown typeid '", a[0].text(),
                                        "' (registered on the server?)"))};
    }
    const auto& exposed = obj->type == Object::kQueue  ? QueueExposed()
                          : obj->type == Object::kDict ? DictExposed()
                                                       : ListExposed();
    return {"#RETURN",
            PyValue::Tuple({PyValue::Str(obj->ident), ExposedTuple(exposed)})};
  }
  if (method == "number_of_objects") {
    return {"#RETURN", PyValue::Int(static_cast<int64_t>(by_type_.size()))};
  }
  return {"#TRACEBACK",
          PyValue::Str(absl::StrCat("server method '", method,
                                    "' is not available on this server"))};
}

ManagerServer::Object* ManagerServer::FindLocked(const std::string& type_id) {
  auto it = by_type_.find(type_id);
  return it == by_type_.end() ? nullptr : it->second.get();
}

ManagerServer::Reply ManagerServer::MethodCall(Connection* conn, Object* obj,
                                               const std::string& method,
                                               const PyValue& args,
                                               const PyValue& kwds) {
  std::unique_lock<std::mutex> lock(mu_);
  if (method == "__repr__" || method == "__str__") {
    if (obj->type == Object::kQueue) {
      return {"#RETURN", PyValue::Str(absl::StrCat("<queue.Queue object ",
                                                   obj->ident, ">"))};
    }
    return {"#RETURN", PyValue::Str(obj->value.Repr())};
  }
  if (method == "#GETVALUE" && obj->type != Object::kQueue) {
    return {"#RETURN", obj->value};
  }
  const auto& exposed = obj->type == Object::kQueue  ? QueueExposed()
                        : obj->type == Object::kDict ? DictExposed()
                                                     : ListExposed();
  bool known = false;
  for (const char* name : exposed) known = known || method == name;
  if (!known) {
    return {"#ERROR", Builtin("AttributeError",
                              absl::StrCat("method '", method, "' of ",
                                           obj->type_id, " is not exposed"))};
  }
  switch (obj->type) {
    case Object::kQueue:
      return QueueCall(conn, obj, method, args, kwds, lock);
    case Object::kDict:
      return DictCall(obj, method, args);
    case Object::kList:
      return ListCall(obj, method, args);
  }
  return {"#TRACEBACK", PyValue::Str("unknown object type")};
}

std::optional<PyValue> ManagerServer::TakeLocked(
    Object* obj, std::optional<absl::Duration> timeout,
    std::unique_lock<std::mutex>& lock) {
  auto ready = [&] { return stopping_ || !obj->items.empty(); };
  if (!timeout.has_value()) {
    obj->not_empty.wait(lock, ready);
  } else {
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(*timeout);
    obj->not_empty.wait_until(lock, deadline, ready);
  }
  if (stopping_ || obj->items.empty()) return std::nullopt;
  PyValue item = std::move(obj->items.front());
  obj->items.pop_front();
  return item;
}

ManagerServer::Reply ManagerServer::QueueCall(
    Connection* conn, Object* obj, const std::string& method,
    const PyValue& args, const PyValue& kwds,
    std::unique_lock<std::mutex>& lock) {
  const auto& a = args.items();
  if (method == "put" || method == "put_nowait") {
    if (a.empty()) {
      return {"#ERROR", Builtin("TypeError", "put() missing 'item'")};
    }
    obj->items.push_back(a[0]);
    ++obj->unfinished;
    obj->not_empty.notify_one();
    return {"#RETURN", PyValue::None()};
  }
  if (method == "get" || method == "get_nowait") {
    bool block = method == "get";
    PyValue timeout_arg;  // None
    if (method == "get") {
      if (a.size() > 0) block = Truthy(a[0]);
      if (a.size() > 1) timeout_arg = a[1];
      if (const PyValue* b = kwds.Find(PyValue::Str("block")))
        block = Truthy(*b);
      if (const PyValue* t = kwds.Find(PyValue::Str("timeout")))
        timeout_arg = *t;
    }
    std::optional<absl::Duration> timeout;
    if (!block) {
      timeout = absl::ZeroDuration();
    } else if (!timeout_arg.is_none()) {
      if (!IsNumber(timeout_arg) || AsDouble(timeout_arg) < 0) {
        return {"#ERROR", Builtin("ValueError",
                                  "'timeout' must be a non-negative number")};
      }
      timeout = absl::Seconds(AsDouble(timeout_arg));
    }
    std::optional<PyValue> item = TakeLocked(obj, timeout, lock);
    if (!item.has_value()) {
      if (stopping_) return {};  // the caller closes the connection
      return {"#ERROR", PyValue::QueueEmpty()};
    }
    if (conn != nullptr) {  // provisional until the next request
      conn->pending_from = obj;
      conn->pending = *item;
    }
    return {"#RETURN", *std::move(item)};
  }
  if (method == "qsize") {
    return {"#RETURN", PyValue::Int(static_cast<int64_t>(obj->items.size()))};
  }
  if (method == "empty") return {"#RETURN", PyValue::Bool(obj->items.empty())};
  if (method == "full") return {"#RETURN", PyValue::Bool(false)};
  if (method == "task_done") {
    if (obj->unfinished <= 0) {
      return {"#ERROR",
              Builtin("ValueError", "task_done() called too many times")};
    }
    if (--obj->unfinished == 0) obj->all_done.notify_all();
    return {"#RETURN", PyValue::None()};
  }
  if (method == "join") {
    obj->all_done.wait(lock, [&] { return stopping_ || obj->unfinished == 0; });
    if (stopping_) return {};
    return {"#RETURN", PyValue::None()};
  }
  return {"#ERROR", Builtin("NotImplementedError", method)};
}

ManagerServer::Reply ManagerServer::DictCall(Object* obj,
                                             const std::string& method,
                                             const PyValue& args) {
  const auto& a = args.items();
  PyValue& d = obj->value;
  auto& entries = d.mutable_dict_items();
  auto find = [&](const PyValue& key) {
    return std::find_if(entries.begin(), entries.end(),
                        [&](const auto& kv) { return kv.first == key; });
  };
  auto need = [&](size_t n) { return a.size() >= n; };
  auto type_error = [&] {
    return Reply{"#ERROR", Builtin("TypeError",
                                   absl::StrCat(method, ": wrong arguments"))};
  };
  if (method == "__len__") {
    return {"#RETURN", PyValue::Int(static_cast<int64_t>(entries.size()))};
  }
  if (method == "__getitem__" || method == "get") {
    if (!need(1)) return type_error();
    auto it = find(a[0]);
    if (it != entries.end()) return {"#RETURN", it->second};
    if (method == "get") return {"#RETURN", a.size() > 1 ? a[1] : PyValue()};
    return {"#ERROR", PyValue::Exception("builtins", "KeyError", {a[0]})};
  }
  if (method == "__contains__") {
    if (!need(1)) return type_error();
    return {"#RETURN", PyValue::Bool(find(a[0]) != entries.end())};
  }
  if (method == "__setitem__" || method == "setdefault") {
    if (!need(1) || (method == "__setitem__" && !need(2))) return type_error();
    if (!a[0].hashable()) {
      return {"#ERROR", Builtin("TypeError", "unhashable type")};
    }
    auto it = find(a[0]);
    if (method == "setdefault" && it != entries.end()) {
      return {"#RETURN", it->second};
    }
    PyValue value = a.size() > 1 ? a[1] : PyValue();
    d.SetItem(a[0], value);
    return {"#RETURN", method == "setdefault" ? value : PyValue()};
  }
  if (method == "__delitem__" || method == "pop") {
    if (!need(1)) return type_error();
    auto it = find(a[0]);
    if (it == entries.end()) {
      if (method == "pop" && a.size() > 1) return {"#RETURN", a[1]};
      return {"#ERROR", PyValue::Exception("builtins", "KeyError", {a[0]})};
    }
    PyValue value = std::move(it->second);
    entries.erase(it);
    return {"#RETURN", method == "pop" ? value : PyValue()};
  }
  if (method == "clear") {
    entries.clear();
    return {"#RETURN", PyValue()};
  }
  if (method == "update") {
    if (need(1) && a[0].kind() == PyValue::Kind::kDict) {
      for (const auto& [k, v] : a[0].dict_items()) d.SetItem(k, v);
      return {"#RETURN", PyValue()};
    }
    return type_error();
  }
  if (method == "copy") return {"#RETURN", d};
  if (method == "keys" || method == "values" || method == "items") {
    std::vector<PyValue> out;
    for (const auto& [k, v] : entries) {
      out.push_back(method == "keys"     ? k
                    : method == "values" ? v
                                         : PyValue::Tuple({k, v}));
    }
    return {"#RETURN", PyValue::List(std::move(out))};
  }
  return {"#ERROR",
          Builtin("NotImplementedError",
                  absl::StrCat("dict.", method,
                               " is not implemented by this server"))};
}

ManagerServer::Reply ManagerServer::ListCall(Object* obj,
                                             const std::string& method,
                                             const PyValue& args) {
  const auto& a = args.items();
  PyValue& l = obj->value;
  auto& items = l.mutable_items();
  auto type_error = [&] {
    return Reply{"#ERROR", Builtin("TypeError",
                                   absl::StrCat(method, ": wrong arguments"))};
  };
  auto index_error = [] {
    return Reply{"#ERROR", Builtin("IndexError", "list index out of range")};
  };
  auto position = [&](const PyValue& x) {
    return std::find(items.begin(), items.end(), x);
  };
  if (method == "__len__") {
    return {"#RETURN", PyValue::Int(static_cast<int64_t>(items.size()))};
  }
  if (method == "append") {
    if (a.size() != 1) return type_error();
    l.Append(a[0]);
    return {"#RETURN", PyValue()};
  }
  if (method == "extend" || method == "__imul__") {
    if (method == "__imul__") return type_error();
    if (a.size() != 1 ||
        (a[0].kind() != PyValue::Kind::kList && !a[0].is_tuple())) {
      return type_error();
    }
    for (const PyValue& x : a[0].items()) l.Append(x);
    return {"#RETURN", PyValue()};
  }
  if (method == "__getitem__" || method == "__setitem__" ||
      method == "__delitem__") {
    if (a.empty()) return type_error();
    std::optional<size_t> i = ListIndex(a[0], items.size());
    if (!i.has_value()) return index_error();
    if (method == "__getitem__") return {"#RETURN", items[*i]};
    if (method == "__delitem__") {
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(*i));
      return {"#RETURN", PyValue()};
    }
    if (a.size() != 2) return type_error();
    items[*i] = a[1];
    return {"#RETURN", PyValue()};
  }
  if (method == "pop") {
    if (items.empty()) {
      return {"#ERROR", Builtin("IndexError", "pop from empty list")};
    }
    std::optional<size_t> i = a.empty()
                                  ? std::optional<size_t>(items.size() - 1)
                                  : ListIndex(a[0], items.size());
    if (!i.has_value()) return index_error();
    PyValue value = std::move(items[*i]);
    items.erase(items.begin() + static_cast<std::ptrdiff_t>(*i));
    return {"#RETURN", value};
  }
  if (method == "insert") {
    if (a.size() != 2 || !a[0].is_int()) return type_error();
    int64_t i = a[0].as_int();
    const int64_t n = static_cast<int64_t>(items.size());
    if (i < 0) i = std::max<int64_t>(0, i + n);
    i = std::min(i, n);
    l.Append(a[1]);  // then rotate it into place
    std::rotate(items.begin() + i, items.end() - 1, items.end());
    return {"#RETURN", PyValue()};
  }
  if (method == "__contains__" || method == "count" || method == "index" ||
      method == "remove") {
    if (a.size() != 1) return type_error();
    if (method == "__contains__") {
      return {"#RETURN", PyValue::Bool(position(a[0]) != items.end())};
    }
    if (method == "count") {
      return {"#RETURN",
              PyValue::Int(std::count(items.begin(), items.end(), a[0]))};
    }
    auto it = position(a[0]);
    if (it == items.end()) {
      return {"#ERROR", Builtin("ValueError",
                                absl::StrCat(a[0].Repr(), " is not in list"))};
    }
    if (method == "index") {
      return {"#RETURN", PyValue::Int(it - items.begin())};
    }
    items.erase(it);
    return {"#RETURN", PyValue()};
  }
  if (method == "reverse") {
    std::reverse(items.begin(), items.end());
    return {"#RETURN", PyValue()};
  }
  return {"#ERROR",
          Builtin("NotImplementedError",
                  absl::StrCat("list.", method,
                               " is not implemented by this server"))};
}

absl::Status ManagerServer::Put(const std::string& type_id, PyValue item) {
  std::lock_guard<std::mutex> lock(mu_);
  Object* obj = FindLocked(type_id);
  if (obj == nullptr || obj->type != Object::kQueue) {
    return absl::NotFoundError(absl::StrCat("no queue '", type_id, "'"));
  }
  obj->items.push_back(std::move(item));
  ++obj->unfinished;
  obj->not_empty.notify_one();
  return absl::OkStatus();
}

absl::StatusOr<PyValue> ManagerServer::Get(
    const std::string& type_id, std::optional<absl::Duration> timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  Object* obj = FindLocked(type_id);
  if (obj == nullptr || obj->type != Object::kQueue) {
    return absl::NotFoundError(absl::StrCat("no queue '", type_id, "'"));
  }
  std::optional<PyValue> item = TakeLocked(obj, timeout, lock);
  if (item.has_value()) return *std::move(item);
  if (stopping_) return absl::CancelledError("the server is stopping");
  return absl::DeadlineExceededError(
      absl::StrCat("queue.Empty: nothing in ", type_id));
}

absl::StatusOr<int64_t> ManagerServer::QueueSize(const std::string& type_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Object* obj = FindLocked(type_id);
  if (obj == nullptr || obj->type != Object::kQueue) {
    return absl::NotFoundError(absl::StrCat("no queue '", type_id, "'"));
  }
  return static_cast<int64_t>(obj->items.size());
}

absl::StatusOr<PyValue> ManagerServer::Value(const std::string& type_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Object* obj = FindLocked(type_id);
  if (obj == nullptr || obj->type == Object::kQueue) {
    return absl::NotFoundError(absl::StrCat("no dict or list '", type_id, "'"));
  }
  return obj->value;
}

ManagerServerStats ManagerServer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace multitask
