#include "common/manager_client.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/manager_wire.h"
#include "common/status_macros.h"

namespace multitask {
namespace {

PyValue Request(PyValue ident, const std::string& method,
                std::vector<PyValue> args, PyValue kwds) {
  return PyValue::Tuple({std::move(ident), PyValue::Str(method),
                         PyValue::Tuple(std::move(args)), std::move(kwds)});
}

}  // namespace

bool IsQueueEmpty(const absl::Status& status) {
  return absl::IsDeadlineExceeded(status) &&
         absl::StartsWith(status.message(), "queue.Empty");
}

absl::Status RemoteErrorStatus(const std::string& kind, const PyValue& value) {
  if (kind == "#ERROR" && value.kind() == PyValue::Kind::kException) {
    const std::string name = value.exception_name();
    const std::string text = absl::StrCat(value.text(), ".", name, ": ",
                                          PyValue::Tuple(value.items()).Repr());
    if (value.is_exception("queue", "Empty")) {
      return absl::DeadlineExceededError("queue.Empty");
    }
    if (name == "KeyError") return absl::NotFoundError(text);
    if (name == "IndexError") return absl::OutOfRangeError(text);
    if (name == "ValueError" || name == "TypeError") {
      return absl::InvalidArgumentError(text);
    }
    if (name == "AttributeError" || name == "NotImplementedError") {
      return absl::UnimplementedError(text);
    }
    return absl::UnknownError(text);
  }
  return absl::UnknownError(absl::StrCat(
      "remote ", kind, ": ",
      value.is_str() ? value.text() : value.Repr().substr(0, 500)));
}

absl::StatusOr<PyValue> RemoteObject::Call(const std::string& method,
                                           std::vector<PyValue> args,
                                           PyValue kwds) const {
  return client_->CallMethod(ident_, method, std::move(args), std::move(kwds));
}

absl::Status RemoteQueue::Put(PyValue item) const {
  std::vector<PyValue> args;
  args.push_back(std::move(item));
  return Call("put", std::move(args)).status();
}

absl::StatusOr<PyValue> RemoteQueue::Get(
    std::optional<absl::Duration> timeout) const {
  PyValue kwds = PyValue::Dict({});
  if (timeout.has_value()) {
    kwds.SetItem(PyValue::Str("timeout"),
                 PyValue::Float(absl::ToDoubleSeconds(*timeout)));
  }
  return Call("get", {}, std::move(kwds));
}

absl::StatusOr<PyValue> RemoteQueue::GetNoWait() const {
  return Call("get_nowait");
}

absl::StatusOr<int64_t> RemoteQueue::QSize() const {
  MT_ASSIGN_OR_RETURN(PyValue n, Call("qsize"));
  if (!n.is_int()) return absl::InternalError("qsize() is not an int");
  return n.as_int();
}

absl::Status RemoteQueue::TaskDone() const {
  return Call("task_done").status();
}

absl::StatusOr<std::unique_ptr<ManagerClient>> ManagerClient::Connect(
    std::string address, std::string authkey) {
  std::unique_ptr<ManagerClient> client(
      new ManagerClient(std::move(address), std::move(authkey)));
  MT_RETURN_IF_ERROR(client->ServerCall("dummy", {}).status());
  return client;
}

absl::StatusOr<UniqueFd> ManagerClient::Open() {
  MT_ASSIGN_OR_RETURN(UniqueFd fd, ConnectTcp(address_));
  MT_RETURN_IF_ERROR(ClientHandshake(fd.get(), authkey_));
  return fd;
}

absl::StatusOr<PyValue> ManagerClient::RoundTrip(int fd,
                                                 const PyValue& request) {
  if (absl::Status s = WriteFrame(fd, Pickle(request)); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("send: ", s.message()));
  }
  absl::StatusOr<std::string> frame = ReadFrame(fd, kDefaultMaxFrame);
  if (!frame.ok()) {
    return absl::UnavailableError(
        absl::StrCat("reading the reply: ", frame.status().message()));
  }
  static const PickleLimits* const limits =
      new PickleLimits(ClientPickleLimits());
  absl::StatusOr<PyValue> parsed = Unpickle(*frame, *limits);
  if (!parsed.ok()) {
    return absl::DataLossError(
        absl::StrCat("unreadable reply: ", parsed.status().message()));
  }
  const PyValue& reply = *parsed;
  if (!reply.is_tuple() || reply.items().size() != 2 ||
      !reply.items()[0].is_str()) {
    return absl::DataLossError(absl::StrCat(
        "a reply must be (kind, value), got ", reply.Repr().substr(0, 200)));
  }
  const std::string& kind = reply.items()[0].text();
  if (kind == "#RETURN") return reply.items()[1];
  return RemoteErrorStatus(kind, reply.items()[1]);
}

absl::StatusOr<PyValue> ManagerClient::ServerCall(const std::string& method,
                                                  std::vector<PyValue> args) {
  MT_ASSIGN_OR_RETURN(UniqueFd fd, Open());
  return RoundTrip(fd.get(), Request(PyValue::None(), method, std::move(args),
                                     PyValue::Dict({})));
}

absl::StatusOr<RemoteObject> ManagerClient::Object(const std::string& type_id) {
  MT_ASSIGN_OR_RETURN(PyValue created,
                      ServerCall("create", {PyValue::Str(type_id)}));
  if (!created.is_tuple() || created.items().size() != 2 ||
      !created.items()[0].is_str()) {
    return absl::DataLossError(
        absl::StrCat("create returned ", created.Repr().substr(0, 200)));
  }
  RemoteObject obj;
  obj.client_ = this;
  obj.ident_ = created.items()[0].text();
  const PyValue& exposed = created.items()[1];
  if (exposed.is_tuple() || exposed.kind() == PyValue::Kind::kList) {
    for (const PyValue& name : exposed.items()) {
      if (name.is_str()) obj.exposed_.push_back(name.text());
    }
  }
  return obj;
}

absl::StatusOr<RemoteQueue> ManagerClient::Queue(const std::string& type_id) {
  MT_ASSIGN_OR_RETURN(RemoteObject obj, Object(type_id));
  RemoteQueue queue;
  static_cast<RemoteObject&>(queue) = std::move(obj);
  return queue;
}

absl::StatusOr<PyValue> ManagerClient::CallMethod(const std::string& ident,
                                                  const std::string& method,
                                                  std::vector<PyValue> args,
                                                  PyValue kwds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!conn_.valid()) {
    MT_ASSIGN_OR_RETURN(UniqueFd fd, Open());
    MT_RETURN_IF_ERROR(
        RoundTrip(fd.get(),
                  Request(PyValue::None(), "accept_connection",
                          {PyValue::Str(absl::StrCat("cpp-", getpid()))},
                          PyValue::Dict({})))
            .status());
    conn_ = std::move(fd);
  }
  absl::StatusOr<PyValue> result = RoundTrip(
      conn_.get(),
      Request(PyValue::Str(ident), method, std::move(args), std::move(kwds)));
  if (absl::IsUnavailable(result.status()) ||
      absl::IsDataLoss(result.status())) {
    conn_.Close();  // the stream is out of step: never reuse it
  }
  return result;
}

void ManagerClient::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  conn_.Close();
}

}  // namespace multitask
