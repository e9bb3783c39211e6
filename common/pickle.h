// pickle.h: a safe subset of Python's pickle format, enough to speak
// multiprocessing.managers: None, bool, int (any size), float, str, bytes,
// tuple, list, dict, and exception values such as queue.Empty.
//
//   PyValue request = PyValue::Tuple({PyValue::Str("put"), PyValue::Int(7)});
//   std::string bytes = Pickle(request);             // what Python's
//                                                    // pickle.loads() reads
//   MT_ASSIGN_OR_RETURN(PyValue back, Unpickle(bytes));
//
// Why a subset: Python's unpickler imports and calls whatever a pickle names
// (GLOBAL + REDUCE), so unpickling is running code. Unpickle() never calls
// anything: it refuses class references, REDUCE, BUILD and every opcode outside
// the list above, and caps the input size, nesting depth, memo size and total
// number of values (so a small pickle cannot expand into a huge one). The one
// exception, for a client reading a Python server's replies: names listed in
// PickleLimits::allowed_exceptions (queue.Empty, KeyError, ...) may be
// "called" with a tuple of plain values, which yields an Exception value, i.e.
// data, never code.
//
// PyValue is a plain value type (copyable, comparable with ==); dicts keep
// insertion order like Python's. Thread-compatible.

#ifndef MULTITASK_COMMON_PICKLE_H_
#define MULTITASK_COMMON_PICKLE_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace multitask {

class PyValue {
 public:
  enum class Kind {
    kNone,
    kBool,
    kInt,     // fits in int64_t
    kBigInt,  // does not: two's-complement little-endian bytes, as in LONG1
    kFloat,
    kStr,    // UTF-8
    kBytes,  // raw bytes
    kTuple,
    kList,
    kDict,
    kException,  // module.name(*args), e.g. queue.Empty(): written, never run
  };

  PyValue() = default;  // None
  static PyValue None() { return PyValue(); }
  static PyValue Bool(bool b);
  static PyValue Int(int64_t i);
  // From LONG1/LONG4 bytes; normalised to kInt when it fits.
  static PyValue BigIntFromBytes(std::string twos_complement_le);
  static PyValue Float(double d);
  static PyValue Str(std::string s);
  static PyValue Bytes(std::string b);
  static PyValue Tuple(std::vector<PyValue> items);
  static PyValue List(std::vector<PyValue> items);
  static PyValue Dict(std::vector<std::pair<PyValue, PyValue>> items);
  // An exception instance: `module`.`name`(*args). E.g. QueueEmpty().
  static PyValue Exception(std::string module, std::string name,
                           std::vector<PyValue> args = {});
  static PyValue QueueEmpty() { return Exception("queue", "Empty"); }

  Kind kind() const { return kind_; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_str() const { return kind_ == Kind::kStr; }
  bool is_tuple() const { return kind_ == Kind::kTuple; }
  bool is_exception(absl::string_view module, absl::string_view name) const;

  // Accessors: valid only for the matching kind (checked; wrong kind aborts).
  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;
  // kStr, kBytes and kBigInt (its bytes); for kException the module.
  const std::string& text() const;
  // kException: the class name.
  const std::string& exception_name() const;
  // kTuple, kList, kException (its args).
  const std::vector<PyValue>& items() const;
  // kList / kDict, for editing in place. Note: depth() is not updated through
  // these (Append and SetItem do update it).
  std::vector<PyValue>& mutable_items();
  const std::vector<std::pair<PyValue, PyValue>>& dict_items() const;
  std::vector<std::pair<PyValue, PyValue>>& mutable_dict_items();

  // kList: appends. kDict: sets (replaces the value of an equal key).
  void Append(PyValue item);
  void SetItem(PyValue key, PyValue value);

  // kDict: the value for `key`, or nullptr.
  const PyValue* Find(const PyValue& key) const;

  // Nesting depth: 0 for a scalar, 1 + the deepest item for a container.
  int depth() const { return depth_; }
  // Whether Python could use it as a dict key (no list, dict inside).
  bool hashable() const;

  // Python's repr(): None, True, 42, 1.5, 'text', b'\x00', (1,), [1, 2],
  // {'a': 1}, Empty().
  std::string Repr() const;

  friend bool operator==(const PyValue& a, const PyValue& b);
  friend bool operator!=(const PyValue& a, const PyValue& b) {
    return !(a == b);
  }
  // For GoogleTest messages.
  friend void PrintTo(const PyValue& v, std::ostream* os) { *os << v.Repr(); }

 private:
  void UpdateDepth(const PyValue& child);

  Kind kind_ = Kind::kNone;
  int depth_ = 0;
  int64_t int_ = 0;  // kBool, kInt
  double float_ = 0;
  std::string text_;  // kStr, kBytes, kBigInt, kException (module)
  std::string name_;  // kException
  std::vector<PyValue> items_;
  std::vector<std::pair<PyValue, PyValue>> dict_;
};

// Limits for Unpickle(). The defaults suit manager requests.
struct PickleLimits {
  size_t max_input_bytes = size_t{64} << 20;
  int max_depth = 64;                // nesting of containers
  size_t max_memo_entries = 100000;  // MEMOIZE/BINPUT slots
  size_t max_values = 1000000;       // values created, copies included
  size_t max_marks = 64;             // open MARKs at once
  size_t max_dict_entries = 10000;   // per dict (keys are found by search)
  size_t max_bigint_bytes = 1024;    // LONG1/LONG4 length
  // "module.name" of exception classes a reply may instantiate. Empty for a
  // server: requests never need a class.
  std::set<std::string> allowed_exceptions;
};

// The exceptions a manager client must understand in replies ('#ERROR').
PickleLimits ClientPickleLimits();

// Parses one pickle (protocol 2 to 5 opcodes of the subset). Errors
// (InvalidArgument) name the opcode and offset: "refused opcode GLOBAL (c) at
// byte 2: class references are not allowed".
absl::StatusOr<PyValue> Unpickle(absl::string_view data,
                                 const PickleLimits& limits = {});

// Writes `value` as a protocol 4 pickle any Python 3 can load. An Exception
// value is written as GLOBAL 'module\nname\n', its args tuple, REDUCE.
std::string Pickle(const PyValue& value);

}  // namespace multitask

#endif  // MULTITASK_COMMON_PICKLE_H_
