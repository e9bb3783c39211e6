// ManagerServer + ManagerClient in one process, over real TCP on 127.0.0.1
// (port 0). Python interop and killed workers are in lessons/manager.

#include "common/manager_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/manager_client.h"
#include "common/manager_wire.h"
#include "common/pickle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

// Collects the server's log lines; WaitFor blocks until one contains `text`.
class LogSink {
 public:
  std::function<void(absl::string_view)> Callback() {
    return [this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
      cv_.notify_all();
    };
  }
  std::string WaitFor(absl::string_view text) {
    std::unique_lock<std::mutex> lock(mu_);
    std::string found;
    cv_.wait(lock, [&] {
      for (const std::string& line : lines_) {
        if (absl::StrContains(line, text)) {
          found = line;
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

class ManagerServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ManagerServerOptions options;
    options.authkey = "abc";
    options.max_frame = 1 << 20;
    options.log = log_.Callback();
    server_ = std::make_unique<ManagerServer>(std::move(options));
    server_->RegisterQueue("get_task_queue");
    server_->RegisterQueue("get_result_queue");
    server_->RegisterDict("get_dict");
    server_->RegisterList("get_list");
    ASSERT_TRUE(server_->Start().ok());
  }

  std::unique_ptr<ManagerClient> Client() {
    absl::StatusOr<std::unique_ptr<ManagerClient>> client =
        ManagerClient::Connect(server_->address(), "abc");
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // A raw, authenticated connection for sending hand-made frames.
  UniqueFd RawConnection() {
    absl::StatusOr<UniqueFd> fd = ConnectTcp(server_->address());
    EXPECT_TRUE(fd.ok()) << fd.status();
    EXPECT_TRUE(ClientHandshake(fd->get(), "abc").ok());
    return *std::move(fd);
  }

  // The server still answers a well-behaved client.
  void ExpectStillServing() {
    std::unique_ptr<ManagerClient> client = Client();
    ASSERT_NE(client, nullptr);
    absl::StatusOr<RemoteQueue> q = client->Queue("get_result_queue");
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_TRUE(q->QSize().ok());
  }

  LogSink log_;
  std::unique_ptr<ManagerServer> server_;
};

// The seed's worker, in C++: n -> "n * n = n²" until a None arrives.
void Worker(const std::string& address) {
  absl::StatusOr<std::unique_ptr<ManagerClient>> client =
      ManagerClient::Connect(address, "abc");
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<RemoteQueue> tasks = (*client)->Queue("get_task_queue");
  absl::StatusOr<RemoteQueue> results = (*client)->Queue("get_result_queue");
  ASSERT_TRUE(tasks.ok() && results.ok());
  while (true) {
    absl::StatusOr<PyValue> n = tasks->Get();
    ASSERT_TRUE(n.ok()) << n.status();
    if (n->is_none()) {
      ASSERT_TRUE(tasks->TaskDone().ok());  // settles the pill: not requeued
      return;
    }
    const int64_t v = n->as_int();
    ASSERT_TRUE(
        results->Put(PyValue::Str(absl::StrCat(v, " * ", v, " = ", v * v)))
            .ok());
  }
}

TEST_F(ManagerServerTest, TwoWorkersAnswerEveryTaskExactlyOnce) {
  constexpr int kTasks = 60;
  std::vector<std::string> expected;
  for (int n = 0; n < kTasks; ++n) {
    ASSERT_TRUE(server_->Put("get_task_queue", PyValue::Int(n)).ok());
    expected.push_back(absl::StrCat(n, " * ", n, " = ", n * n));
  }
  std::thread a(Worker, server_->address());
  std::thread b(Worker, server_->address());
  std::vector<std::string> got;
  for (int i = 0; i < kTasks; ++i) {
    absl::StatusOr<PyValue> r = server_->Get("get_result_queue", std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
    got.push_back(r->text());
  }
  ASSERT_TRUE(server_->Put("get_task_queue", PyValue::None()).ok());
  ASSERT_TRUE(server_->Put("get_task_queue", PyValue::None()).ok());
  a.join();
  b.join();
  EXPECT_THAT(got, UnorderedElementsAreArray(expected));
  EXPECT_EQ(*server_->QueueSize("get_result_queue"), 0);
  EXPECT_EQ(server_->stats().requeued, 0);
}

TEST_F(ManagerServerTest, EightClientsAtOnce) {
  constexpr int kWorkers = 8;
  constexpr int kTasks = 200;
  std::vector<std::string> expected;
  for (int n = 0; n < kTasks; ++n) {
    ASSERT_TRUE(server_->Put("get_task_queue", PyValue::Int(n)).ok());
    expected.push_back(absl::StrCat(n, " * ", n, " = ", n * n));
  }
  for (int i = 0; i < kWorkers; ++i) {
    ASSERT_TRUE(server_->Put("get_task_queue", PyValue::None()).ok());
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back(Worker, server_->address());
  }
  for (std::thread& t : workers) t.join();
  std::vector<std::string> got;
  while (*server_->QueueSize("get_result_queue") > 0) {
    got.push_back(
        server_->Get("get_result_queue", absl::ZeroDuration())->text());
  }
  EXPECT_THAT(got, UnorderedElementsAreArray(expected));
  EXPECT_EQ(server_->stats().requeued, 0);
}

TEST_F(ManagerServerTest, StopWakesABlockedGet) {
  std::unique_ptr<ManagerClient> client = Client();
  absl::StatusOr<RemoteQueue> q = client->Queue("get_task_queue");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(q->QSize().ok());  // the persistent connection is open
  absl::Status status;
  std::thread waiter([&] { status = q->Get().status(); });  // no timeout
  // Stop does not wait for the get to start: either way the get must end.
  server_->Stop();
  waiter.join();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_TRUE(
      absl::IsCancelled(server_->Get("get_task_queue", std::nullopt).status()));
}

TEST_F(ManagerServerTest, GetTimesOutWithQueueEmpty) {
  std::unique_ptr<ManagerClient> client = Client();
  absl::StatusOr<RemoteQueue> q = client->Queue("get_task_queue");
  ASSERT_TRUE(q.ok());
  absl::Status s = q->Get(absl::Milliseconds(20)).status();
  EXPECT_TRUE(IsQueueEmpty(s)) << s;
  EXPECT_TRUE(IsQueueEmpty(q->GetNoWait().status()));
  // block and timeout as positional arguments, like get(True, 0.01).
  EXPECT_TRUE(IsQueueEmpty(
      q->Call("get", {PyValue::Bool(true), PyValue::Float(0.01)}).status()));
  EXPECT_TRUE(IsQueueEmpty(q->Call("get", {PyValue::Bool(false)}).status()));
  absl::Status negative =
      q->Call("get", {PyValue::Bool(true), PyValue::Int(-1)}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(negative)) << negative;
  // The connection is still good afterwards.
  ASSERT_TRUE(q->Put(PyValue::Int(5)).ok());
  EXPECT_EQ(*q->Get(absl::Seconds(10)), PyValue::Int(5));
}

TEST_F(ManagerServerTest, TaskDoneAndJoin) {
  std::unique_ptr<ManagerClient> client = Client();
  absl::StatusOr<RemoteQueue> q = client->Queue("get_task_queue");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(q->Put(PyValue::Int(1)).ok());
  ASSERT_TRUE(q->Get().ok());
  EXPECT_TRUE(q->TaskDone().ok());
  EXPECT_TRUE(q->Call("join").ok());  // nothing unfinished: returns at once
  EXPECT_TRUE(absl::IsInvalidArgument(q->TaskDone()));
}

TEST_F(ManagerServerTest, WrongKeyRejectedAndServerKeepsServing) {
  absl::StatusOr<std::unique_ptr<ManagerClient>> bad =
      ManagerClient::Connect(server_->address(), "wrong");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(bad.status())) << bad.status();
  EXPECT_THAT(bad.status().message(), HasSubstr("rejected"));
  EXPECT_THAT(log_.WaitFor("closed"), HasSubstr("wrong auth key"));
  ExpectStillServing();
  EXPECT_EQ(server_->stats().auth_failures, 1);
}

TEST_F(ManagerServerTest, TaskOfAVanishedConnectionIsRequeued) {
  ASSERT_TRUE(server_->Put("get_task_queue", PyValue::Int(41)).ok());
  ASSERT_TRUE(server_->Put("get_task_queue", PyValue::Int(42)).ok());
  {
    std::unique_ptr<ManagerClient> client = Client();
    absl::StatusOr<RemoteQueue> q = client->Queue("get_task_queue");
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(*q->Get(), PyValue::Int(41));
    client->Close();  // "dies" before putting a result
  }
  // Logged once it is back: at the front of the queue, before 42.
  EXPECT_THAT(log_.WaitFor("back on"), HasSubstr("41"));
  EXPECT_EQ(*server_->Get("get_task_queue", absl::Seconds(30)),
            PyValue::Int(41));
  EXPECT_EQ(server_->stats().requeued, 1);
}

TEST_F(ManagerServerTest, TaskSettledByTheNextRequestIsNotRequeued) {
  ASSERT_TRUE(server_->Put("get_task_queue", PyValue::Int(7)).ok());
  {
    std::unique_ptr<ManagerClient> client = Client();
    absl::StatusOr<RemoteQueue> tasks = client->Queue("get_task_queue");
    absl::StatusOr<RemoteQueue> results = client->Queue("get_result_queue");
    ASSERT_TRUE(tasks.ok() && results.ok());
    EXPECT_EQ(*tasks->Get(), PyValue::Int(7));
    ASSERT_TRUE(results->Put(PyValue::Str("7 * 7 = 49")).ok());
  }
  EXPECT_EQ(*server_->Get("get_result_queue", absl::Seconds(30)),
            PyValue::Str("7 * 7 = 49"));
  EXPECT_EQ(*server_->QueueSize("get_task_queue"), 0);
  EXPECT_EQ(server_->stats().requeued, 0);
}

TEST_F(ManagerServerTest, DictAndListMethods) {
  std::unique_ptr<ManagerClient> client = Client();
  absl::StatusOr<RemoteObject> d = client->Object("get_dict");
  absl::StatusOr<RemoteObject> l = client->Object("get_list");
  ASSERT_TRUE(d.ok() && l.ok());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(d->Call("__setitem__", {PyValue::Str(absl::StrCat("key", i)),
                                        PyValue::Str(absl::StrCat("val", i))})
                    .ok());
    ASSERT_TRUE(l->Call("append", {PyValue::Int(10 + i)}).ok());
  }
  EXPECT_EQ(d->Call("__getitem__", {PyValue::Str("key2")})->text(), "val2");
  EXPECT_TRUE(absl::IsNotFound(
      d->Call("__getitem__", {PyValue::Str("nope")}).status()));
  EXPECT_EQ(*d->Call("__len__"), PyValue::Int(3));
  EXPECT_EQ(d->Call("__repr__")->text(),
            "{'key1': 'val1', 'key2': 'val2', 'key3': 'val3'}");
  ASSERT_TRUE(l->Call("extend", {PyValue::List({PyValue::Int(20)})}).ok());
  EXPECT_EQ(l->Call("__str__")->text(), "[11, 12, 13, 20]");
  EXPECT_EQ(*l->Call("__getitem__", {PyValue::Int(-1)}), PyValue::Int(20));
  EXPECT_TRUE(
      absl::IsOutOfRange(l->Call("__getitem__", {PyValue::Int(9)}).status()));
  EXPECT_EQ(*l->Call("index", {PyValue::Int(12)}), PyValue::Int(1));
  EXPECT_TRUE(absl::IsUnimplemented(l->Call("no_such_method").status()));
  EXPECT_EQ(server_->Value("get_list")->Repr(), "[11, 12, 13, 20]");
}

struct BadInput {
  const char* name;
  std::string bytes;   // sent after a good handshake
  const char* reason;  // in the log line
};

class BadInputTest : public ManagerServerTest,
                     public ::testing::WithParamInterface<BadInput> {};

TEST_P(BadInputTest, ClosesThatConnectionOnly) {
  std::unique_ptr<ManagerClient> bystander = Client();
  absl::StatusOr<RemoteQueue> q = bystander->Queue("get_task_queue");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(q->Put(PyValue::Int(1)).ok());  // its persistent connection

  UniqueFd raw = RawConnection();
  ASSERT_TRUE(WriteAll(raw.get(), GetParam().bytes).ok());
  ::shutdown(raw.get(), SHUT_WR);  // a truncated frame ends here
  // The server closes the connection: we read end of file, no reply.
  absl::StatusOr<std::string> reply = ReadFrame(raw.get(), 1 << 20);
  EXPECT_FALSE(reply.ok()) << "got a reply: " << reply->size() << " bytes";
  EXPECT_THAT(log_.WaitFor(absl::StrCat("connection ")),
              HasSubstr(GetParam().reason));

  EXPECT_EQ(*q->QSize(), 1);  // the bystander's connection still works
  ExpectStillServing();
  EXPECT_EQ(server_->stats().protocol_errors, 1);
}

std::string Framed(const std::string& payload) {
  return FrameHeader(payload.size()) + payload;
}

std::string DeepList() {
  std::string p = "\x80\x04";
  for (int i = 0; i < 200; ++i) p += ']';
  for (int i = 0; i < 199; ++i) p += 'a';
  return p + ".";
}

std::string RandomBytes() {
  std::string p;
  uint32_t x = 12345;
  for (int i = 0; i < 300; ++i) {
    x = x * 1103515245 + 12345;
    p += static_cast<char>(x >> 16);
  }
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    Frames, BadInputTest,
    ::testing::Values(
        BadInput{"Oversized", FrameHeader(2 << 20), "over the limit"},
        BadInput{"LargeForm", FrameHeader(0x100000000ull), "over the limit"},
        BadInput{"Negative", std::string("\xff\xff\xff\xfe", 4),
                 "negative frame length"},
        BadInput{"Truncated", FrameHeader(100) + "\x80\x04", "closed after"},
        BadInput{"TruncatedHeader", std::string("\0\0", 2), "frame header"},
        BadInput{"RandomBytes", Framed(RandomBytes()), "pickle"},
        BadInput{"ClassReference", Framed("cos\nsystem\n(S'echo pwned'\ntR."),
                 "class references are not allowed"},
        BadInput{"StackGlobal", Framed("\x80\x04\x8c\x02os\x8c\x06system\x93."),
                 "class references are not allowed"},
        BadInput{"DeepNesting", Framed(DeepList()), "nest"},
        BadInput{"NotARequest", Framed(Pickle(PyValue::Int(3))),
                 "a request must be"}),
    [](const ::testing::TestParamInfo<BadInput>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace multitask
