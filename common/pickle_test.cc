#include "common/pickle.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace multitask {
namespace {

using ::testing::HasSubstr;

// Bytes from CPython 3.11: pickle.dumps(..., protocol=4).
const std::string kGetRequest(
    "\x80\x04\x95 \x00\x00\x00\x00\x00\x00\x00(\x8c\x03"
    "abc\x94\x8c\x03"
    "get\x94)}\x94\x8c\x07timeout\x94K\x01st\x94.",
    43);
const std::string kQueueEmpty(
    "\x80\x04\x95\x17\x00\x00\x00\x00\x00\x00\x00\x8c\x06_queue\x94\x8c\x05"
    "Empty\x94\x93\x94)R\x94.",
    34);
const std::string kSharedList(
    "\x80\x04\x95\n\x00\x00\x00\x00\x00\x00\x00]\x94K\x01"
    "ah\x00\x86\x94.",
    21);

TEST(PickleTest, ReadsAPythonRequest) {
  absl::StatusOr<PyValue> v = Unpickle(kGetRequest);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->Repr(), "('abc', 'get', (), {'timeout': 1})");
}

TEST(PickleTest, SharedReferenceReadsAsTheFilledValue) {
  absl::StatusOr<PyValue> v = Unpickle(kSharedList);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->Repr(), "([1], [1])");
}

TEST(PickleTest, RoundTripsEveryKind) {
  const PyValue value = PyValue::List({
      PyValue::None(),
      PyValue::Bool(true),
      PyValue::Bool(false),
      PyValue::Int(0),
      PyValue::Int(255),
      PyValue::Int(70000),
      PyValue::Int(-1),
      PyValue::Int(int64_t{1} << 40),
      PyValue::Int(INT64_MIN),
      PyValue::BigIntFromBytes(std::string("\0\0\0\0\0\0\0\0@", 9)),
      PyValue::Float(1.5),
      PyValue::Str("héllo"),
      PyValue::Str(std::string(300, 'x')),
      PyValue::Bytes(std::string("\0\xff", 2)),
      PyValue::Tuple({}),
      PyValue::Tuple({PyValue::Int(1)}),
      PyValue::Tuple(
          {PyValue::Int(1), PyValue::Int(2), PyValue::Int(3), PyValue::Int(4)}),
      PyValue::Dict({{PyValue::Str("a"), PyValue::List({})}}),
  });
  absl::StatusOr<PyValue> back = Unpickle(Pickle(value));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, value);
  EXPECT_EQ(back->items()[9].Repr(), "1180591620717411303424");  // 2**70
  EXPECT_EQ(back->items()[8].Repr(), "-9223372036854775808");
}

TEST(PickleTest, ReprMatchesPython) {
  EXPECT_EQ(PyValue::Str("it's").Repr(), "\"it's\"");
  EXPECT_EQ(PyValue::Bytes("a\n\x01").Repr(), "b'a\\n\\x01'");
  EXPECT_EQ(PyValue::Float(0.1).Repr(), "0.1");
  EXPECT_EQ(PyValue::Float(2).Repr(), "2.0");
  EXPECT_EQ(PyValue::Dict({{PyValue::Str("k"), PyValue::Int(1)}}).Repr(),
            "{'k': 1}");
  EXPECT_EQ(
      PyValue::BigIntFromBytes(std::string("\0\0\0\0\0\0\0\0\xc0", 9)).Repr(),
      "-1180591620717411303424");
}

TEST(PickleTest, RefusesClassReferencesOnAServer) {
  absl::StatusOr<PyValue> v = Unpickle(kQueueEmpty);
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("class references"));
  // The classic exploit: os.system via GLOBAL + REDUCE.
  absl::StatusOr<PyValue> evil = Unpickle("cos\nsystem\n(S'echo pwned'\ntR.");
  EXPECT_FALSE(evil.ok());
  EXPECT_THAT(evil.status().message(), HasSubstr("GLOBAL"));
}

TEST(PickleTest, ClientReadsAllowedExceptionsAsData) {
  absl::StatusOr<PyValue> v = Unpickle(kQueueEmpty, ClientPickleLimits());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->is_exception("queue", "Empty"));
  absl::StatusOr<PyValue> evil =
      Unpickle("\x80\x04\x8c\x02os\x8c\x06system\x93.", ClientPickleLimits());
  EXPECT_FALSE(evil.ok());
  EXPECT_THAT(evil.status().message(), HasSubstr("os.system"));
}

TEST(PickleTest, WritesQueueEmptyAsGlobalReduce) {
  EXPECT_EQ(Pickle(PyValue::QueueEmpty()), std::string("\x80\x04"
                                                       "cqueue\nEmpty\n)R.",
                                                       18));
}

TEST(PickleTest, RefusesDeepNesting) {
  std::string deep = "\x80\x04";
  for (int i = 0; i < 100; ++i) deep += ']';
  for (int i = 0; i < 99; ++i) deep += 'a';
  deep += '.';
  absl::StatusOr<PyValue> v = Unpickle(deep);
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("nest"));
  std::string tuples = "\x80\x04N";
  for (int i = 0; i < 100; ++i) tuples += '\x85';
  tuples += '.';
  EXPECT_FALSE(Unpickle(tuples).ok());
}

TEST(PickleTest, RefusesMemoExpansion) {
  // A list of 1000 items, then 1000 copies of it, then 1000 of that...
  std::string bomb = "\x80\x04]";
  bomb += "\x94(";
  for (int i = 0; i < 200; ++i) bomb += "K\x01";
  bomb += "e";
  for (int level = 0; level < 4; ++level) {
    bomb += "\x94](";
    for (int i = 0; i < 200; ++i) {
      bomb += "h";
      bomb += static_cast<char>(level);
    }
    bomb += "e";
  }
  bomb += ".";
  absl::StatusOr<PyValue> v = Unpickle(bomb);
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("too many values"));
}

TEST(PickleTest, RefusesMalformedInput) {
  EXPECT_FALSE(Unpickle("").ok());
  EXPECT_FALSE(Unpickle("\x80\x04").ok());     // no STOP
  EXPECT_FALSE(Unpickle("\x80\x04N.N").ok());  // bytes after STOP
  EXPECT_FALSE(Unpickle("\x80\x04NN.").ok());  // two values
  EXPECT_FALSE(Unpickle("\x80\x04(N.").ok());  // open MARK
  EXPECT_FALSE(Unpickle("\x80\x04\x8c\x05"
                        "ab.")
                   .ok());                        // truncated str
  EXPECT_FALSE(Unpickle("\x80\x04h\x05.").ok());  // unset memo
  EXPECT_FALSE(Unpickle("\x80\x04Na.").ok());     // APPEND to None
  EXPECT_FALSE(Unpickle("\x80\x04}]Ns.").ok());   // list as a dict key
  EXPECT_FALSE(Unpickle("\x80\x04R.").ok());      // REDUCE
  EXPECT_FALSE(Unpickle("\x80\x04N\x85"
                        "b.")
                   .ok());                    // BUILD
  EXPECT_FALSE(Unpickle("\x80\x09N.").ok());  // protocol 9
  PickleLimits small;
  small.max_input_bytes = 3;
  EXPECT_FALSE(Unpickle("\x80\x04N.", small).ok());
}

}  // namespace
}  // namespace multitask
