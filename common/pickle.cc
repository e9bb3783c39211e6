#include "common/pickle.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace multitask {
namespace {

// Pickle opcodes of the subset (names as in Python's pickletools).
enum Op : uint8_t {
  kMark = '(',
  kStop = '.',
  kNone = 'N',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kBinFloat = 'G',
  kBinUnicode = 'X',
  kShortBinBytes = 'C',
  kBinBytes = 'B',
  kEmptyTuple = ')',
  kTuple = 't',
  kEmptyList = ']',
  kAppend = 'a',
  kAppends = 'e',
  kEmptyDict = '}',
  kSetItem = 's',
  kSetItems = 'u',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kGlobal = 'c',
  kReduce = 'R',
  kProto = 0x80,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

void AbortWrongKind(const char* what) {
  std::fprintf(stderr, "PyValue: %s on a value of another kind\n", what);
  std::abort();
}

std::string ReprString(absl::string_view s, bool bytes) {
  // Python prefers single quotes unless the text has ' and no ".
  const bool has_single = s.find('\'') != s.npos;
  const bool has_double = s.find('"') != s.npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out = bytes ? "b" : "";
  out += quote;
  for (unsigned char c : s) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

// Decimal text of a two's-complement little-endian integer.
std::string BigIntDecimal(const std::string& le) {
  std::vector<uint8_t> mag(le.begin(), le.end());
  const bool negative = !mag.empty() && (mag.back() & 0x80);
  if (negative) {  // magnitude = ~x + 1
    int carry = 1;
    for (uint8_t& b : mag) {
      int v = static_cast<uint8_t>(~b) + carry;
      b = static_cast<uint8_t>(v);
      carry = v >> 8;
    }
  }
  std::string digits;
  while (std::any_of(mag.begin(), mag.end(), [](uint8_t b) { return b; })) {
    int rem = 0;
    for (size_t i = mag.size(); i-- > 0;) {
      int cur = rem * 256 + mag[i];
      mag[i] = static_cast<uint8_t>(cur / 10);
      rem = cur % 10;
    }
    digits += static_cast<char>('0' + rem);
  }
  if (digits.empty()) digits.push_back('0');
  if (negative) digits += '-';
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Shortest text that reads back exactly, like Python's repr.
  for (int precision = 1; precision <= 17; ++precision) {
    std::string s = absl::StrFormat("%.*g", precision, d);
    if (std::strtod(s.c_str(), nullptr) == d) {
      if (s.find_first_of(".en") == s.npos) s += ".0";
      return s;
    }
  }
  return absl::StrFormat("%.17g", d);
}

}  // namespace

PyValue PyValue::Bool(bool b) {
  PyValue v;
  v.kind_ = Kind::kBool;
  v.int_ = b;
  return v;
}

PyValue PyValue::Int(int64_t i) {
  PyValue v;
  v.kind_ = Kind::kInt;
  v.int_ = i;
  return v;
}

PyValue PyValue::BigIntFromBytes(std::string le) {
  // Drop redundant sign-extension bytes, then use int64_t if it fits.
  while (le.size() > 1) {
    const uint8_t last = static_cast<uint8_t>(le.back());
    const uint8_t prev = static_cast<uint8_t>(le[le.size() - 2]);
    if ((last == 0 && !(prev & 0x80)) || (last == 0xff && (prev & 0x80))) {
      le.pop_back();
    } else {
      break;
    }
  }
  if (le.size() <= 8) {
    uint64_t u = 0;
    for (size_t i = 0; i < le.size(); ++i) {
      u |= uint64_t{static_cast<uint8_t>(le[i])} << (8 * i);
    }
    if (!le.empty() && (static_cast<uint8_t>(le.back()) & 0x80)) {
      for (size_t i = le.size(); i < 8; ++i) u |= uint64_t{0xff} << (8 * i);
    }
    return Int(static_cast<int64_t>(u));
  }
  PyValue v;
  v.kind_ = Kind::kBigInt;
  v.text_ = std::move(le);
  return v;
}

PyValue PyValue::Float(double d) {
  PyValue v;
  v.kind_ = Kind::kFloat;
  v.float_ = d;
  return v;
}

PyValue PyValue::Str(std::string s) {
  PyValue v;
  v.kind_ = Kind::kStr;
  v.text_ = std::move(s);
  return v;
}

PyValue PyValue::Bytes(std::string b) {
  PyValue v;
  v.kind_ = Kind::kBytes;
  v.text_ = std::move(b);
  return v;
}

void PyValue::UpdateDepth(const PyValue& child) {
  depth_ = std::max(depth_, child.depth_ + 1);
}

PyValue PyValue::Tuple(std::vector<PyValue> items) {
  PyValue v;
  v.kind_ = Kind::kTuple;
  v.depth_ = 1;
  for (const PyValue& item : items) v.UpdateDepth(item);
  v.items_ = std::move(items);
  return v;
}

PyValue PyValue::List(std::vector<PyValue> items) {
  PyValue v = Tuple(std::move(items));
  v.kind_ = Kind::kList;
  return v;
}

PyValue PyValue::Dict(std::vector<std::pair<PyValue, PyValue>> items) {
  PyValue v;
  v.kind_ = Kind::kDict;
  v.depth_ = 1;
  for (const auto& [key, value] : items) {
    v.UpdateDepth(key);
    v.UpdateDepth(value);
  }
  v.dict_ = std::move(items);
  return v;
}

PyValue PyValue::Exception(std::string module, std::string name,
                           std::vector<PyValue> args) {
  PyValue v = Tuple(std::move(args));
  v.kind_ = Kind::kException;
  v.text_ = std::move(module);
  v.name_ = std::move(name);
  return v;
}

bool PyValue::is_exception(absl::string_view module,
                           absl::string_view name) const {
  return kind_ == Kind::kException && text_ == module && name_ == name;
}

bool PyValue::as_bool() const {
  if (kind_ != Kind::kBool) AbortWrongKind("as_bool");
  return int_ != 0;
}

int64_t PyValue::as_int() const {
  if (kind_ != Kind::kInt) AbortWrongKind("as_int");
  return int_;
}

double PyValue::as_float() const {
  if (kind_ != Kind::kFloat) AbortWrongKind("as_float");
  return float_;
}

const std::string& PyValue::text() const {
  if (kind_ != Kind::kStr && kind_ != Kind::kBytes && kind_ != Kind::kBigInt &&
      kind_ != Kind::kException) {
    AbortWrongKind("text");
  }
  return text_;
}

const std::string& PyValue::exception_name() const {
  if (kind_ != Kind::kException) AbortWrongKind("exception_name");
  return name_;
}

const std::vector<PyValue>& PyValue::items() const {
  if (kind_ != Kind::kTuple && kind_ != Kind::kList &&
      kind_ != Kind::kException) {
    AbortWrongKind("items");
  }
  return items_;
}

std::vector<PyValue>& PyValue::mutable_items() {
  if (kind_ != Kind::kList) AbortWrongKind("mutable_items");
  return items_;
}

const std::vector<std::pair<PyValue, PyValue>>& PyValue::dict_items() const {
  if (kind_ != Kind::kDict) AbortWrongKind("dict_items");
  return dict_;
}

std::vector<std::pair<PyValue, PyValue>>& PyValue::mutable_dict_items() {
  if (kind_ != Kind::kDict) AbortWrongKind("mutable_dict_items");
  return dict_;
}

void PyValue::Append(PyValue item) {
  if (kind_ != Kind::kList) AbortWrongKind("Append");
  UpdateDepth(item);
  items_.push_back(std::move(item));
}

void PyValue::SetItem(PyValue key, PyValue value) {
  if (kind_ != Kind::kDict) AbortWrongKind("SetItem");
  UpdateDepth(key);
  UpdateDepth(value);
  for (auto& [k, v] : dict_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  dict_.emplace_back(std::move(key), std::move(value));
}

const PyValue* PyValue::Find(const PyValue& key) const {
  for (const auto& [k, v] : dict_items()) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool PyValue::hashable() const {
  switch (kind_) {
    case Kind::kList:
    case Kind::kDict:
    case Kind::kException:
      return false;
    case Kind::kTuple:
      return std::all_of(items_.begin(), items_.end(),
                         [](const PyValue& v) { return v.hashable(); });
    default:
      return true;
  }
}

bool operator==(const PyValue& a, const PyValue& b) {
  using Kind = PyValue::Kind;
  // Python: True == 1 and 1 == 1.0; the manager only needs exact kinds except
  // for bool/int, which dict keys may mix.
  auto numeric = [](const PyValue& v) {
    return v.kind_ == Kind::kBool || v.kind_ == Kind::kInt;
  };
  if (numeric(a) && numeric(b)) return a.int_ == b.int_;
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case Kind::kNone:
      return true;
    case Kind::kFloat:
      return a.float_ == b.float_;
    case Kind::kStr:
    case Kind::kBytes:
    case Kind::kBigInt:
      return a.text_ == b.text_;
    case Kind::kTuple:
    case Kind::kList:
      return a.items_ == b.items_;
    case Kind::kDict:
      if (a.dict_.size() != b.dict_.size()) return false;
      for (const auto& [key, value] : a.dict_) {
        const PyValue* other = b.Find(key);
        if (other == nullptr || !(*other == value)) return false;
      }
      return true;
    case Kind::kException:
      return a.text_ == b.text_ && a.name_ == b.name_ && a.items_ == b.items_;
    default:
      return false;
  }
}

std::string PyValue::Repr() const {
  auto join = [](const std::vector<PyValue>& items) {
    return absl::StrJoin(items, ", ", [](std::string* out, const PyValue& v) {
      out->append(v.Repr());
    });
  };
  switch (kind_) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return int_ ? "True" : "False";
    case Kind::kInt:
      return absl::StrCat(int_);
    case Kind::kBigInt:
      return BigIntDecimal(text_);
    case Kind::kFloat:
      return FloatRepr(float_);
    case Kind::kStr:
      return ReprString(text_, false);
    case Kind::kBytes:
      return ReprString(text_, true);
    case Kind::kTuple:
      return items_.size() == 1 ? absl::StrCat("(", items_[0].Repr(), ",)")
                                : absl::StrCat("(", join(items_), ")");
    case Kind::kList:
      return absl::StrCat("[", join(items_), "]");
    case Kind::kDict:
      return absl::StrCat("{",
                          absl::StrJoin(dict_, ", ",
                                        [](std::string* out, const auto& kv) {
                                          absl::StrAppend(out, kv.first.Repr(),
                                                          ": ",
                                                          kv.second.Repr());
                                        }),
                          "}");
    case Kind::kException:
      return absl::StrCat(name_, "(", join(items_), ")");
  }
  return "?";
}

PickleLimits ClientPickleLimits() {
  PickleLimits limits;
  limits.allowed_exceptions = {"queue.Empty",
                               "_queue.Empty",
                               "queue.Full",
                               "builtins.KeyError",
                               "builtins.IndexError",
                               "builtins.ValueError",
                               "builtins.TypeError",
                               "builtins.AttributeError",
                               "builtins.RuntimeError",
                               "builtins.Exception",
                               "builtins.EOFError",
                               "builtins.NameError"};
  return limits;
}

// ---------------------------------------------------------------------------
// Reader

namespace {

class Unpickler {
 public:
  Unpickler(absl::string_view data, const PickleLimits& limits)
      : data_(data), limits_(limits) {}

  absl::StatusOr<PyValue> Run() {
    if (data_.size() > limits_.max_input_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("pickle of ", data_.size(), " bytes is over the limit ",
                       limits_.max_input_bytes));
    }
    while (true) {
      if (pos_ >= data_.size()) return Error("pickle ends without STOP");
      op_pos_ = pos_;
      const uint8_t op = static_cast<uint8_t>(data_[pos_++]);
      if (op == kStop) break;
      if (absl::Status s = Step(op); !s.ok()) return s;
    }
    if (pos_ != data_.size()) return Error("bytes after STOP");
    if (!marks_.empty()) return Error("STOP with an open MARK");
    if (stack_.size() != 1) return Error("STOP needs exactly one value");
    if (stack_[0]->kind == Slot::kClass) {
      return Error("a class reference is not a value");
    }
    return std::move(stack_[0]->value);
  }

 private:
  // A stack or memo entry. Memo entries alias stack entries (a list is
  // memoized empty, then filled), hence shared_ptr.
  struct Slot {
    enum Kind { kValue, kClass } kind = kValue;
    PyValue value;
    std::string class_name;  // kClass: "module.name"
  };
  using SlotPtr = std::shared_ptr<Slot>;

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("bad pickle at byte ", op_pos_, ": ", what));
  }

  absl::Status Refuse(uint8_t op, absl::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat("refused pickle opcode 0x", absl::Hex(op, absl::kZeroPad2),
                     " at byte ", op_pos_, ": ", why));
  }

  absl::StatusOr<absl::string_view> Take(size_t n) {
    if (data_.size() - pos_ < n) return Error("truncated");
    absl::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  absl::StatusOr<uint64_t> TakeLe(size_t n) {
    absl::StatusOr<absl::string_view> bytes = Take(n);
    if (!bytes.ok()) return bytes.status();
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      v |= uint64_t{static_cast<uint8_t>((*bytes)[i])} << (8 * i);
    }
    return v;
  }

  absl::StatusOr<std::string> TakeLine() {
    const size_t end = data_.find('\n', pos_);
    if (end == data_.npos || end - pos_ > 256) return Error("bad GLOBAL line");
    std::string line(data_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return line;
  }

  absl::Status Push(PyValue v) {
    if (++values_ > limits_.max_values) return Error("too many values");
    if (v.depth() > limits_.max_depth) {
      return Error(absl::StrCat("nesting deeper than ", limits_.max_depth));
    }
    auto slot = std::make_shared<Slot>();
    slot->value = std::move(v);
    stack_.push_back(std::move(slot));
    return absl::OkStatus();
  }

  // Counts the values inside `v`, stopping once over `budget`.
  static size_t CountValues(const PyValue& v, size_t budget) {
    size_t n = 1;
    switch (v.kind()) {
      case PyValue::Kind::kTuple:
      case PyValue::Kind::kList:
      case PyValue::Kind::kException:
        for (const PyValue& item : v.items()) {
          if (n > budget) break;
          n += CountValues(item, budget - n);
        }
        break;
      case PyValue::Kind::kDict:
        for (const auto& [key, value] : v.dict_items()) {
          if (n > budget) break;
          n += CountValues(key, budget - n);
          n += CountValues(value, budget - n);
        }
        break;
      default:
        break;
    }
    return n;
  }

  // Takes a value out of a slot to put it in a container. A slot that is also
  // in the memo stays there: copy it, charging the copy to the value budget.
  absl::StatusOr<PyValue> TakeValue(SlotPtr slot) {
    if (slot->kind == Slot::kClass) {
      return Error("a class reference cannot be used as a value");
    }
    if (slot.use_count() == 1) return std::move(slot->value);
    const size_t budget =
        limits_.max_values - std::min(values_, limits_.max_values);
    const size_t copies = CountValues(slot->value, budget);
    values_ += copies;
    if (values_ > limits_.max_values) return Error("too many values (copies)");
    return slot->value;
  }

  absl::StatusOr<SlotPtr> Pop() {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return Error("stack underflow");
    SlotPtr top = std::move(stack_.back());
    stack_.pop_back();
    return top;
  }

  absl::StatusOr<PyValue> PopValue() {
    absl::StatusOr<SlotPtr> slot = Pop();
    if (!slot.ok()) return slot.status();
    return TakeValue(*std::move(slot));
  }

  // Pops everything above the last MARK.
  absl::StatusOr<std::vector<PyValue>> PopToMark() {
    if (marks_.empty()) return Error("no MARK");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PyValue> items;
    items.reserve(stack_.size() - mark);
    for (size_t i = mark; i < stack_.size(); ++i) {
      absl::StatusOr<PyValue> v = TakeValue(std::move(stack_[i]));
      if (!v.ok()) return v.status();
      items.push_back(*std::move(v));
    }
    stack_.resize(mark);
    return items;
  }

  absl::StatusOr<PyValue*> Top(PyValue::Kind kind, absl::string_view what) {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return Error(absl::StrCat(what, " on nothing"));
    Slot& slot = *stack_.back();
    if (slot.kind != Slot::kValue || slot.value.kind() != kind) {
      return Error(absl::StrCat(what, " on the wrong type"));
    }
    return &slot.value;
  }

  // Appends to a list and re-checks its depth.
  absl::Status AppendAll(std::vector<PyValue> items) {
    absl::StatusOr<PyValue*> list = Top(PyValue::Kind::kList, "APPEND");
    if (!list.ok()) return list.status();
    for (PyValue& v : items) (*list)->Append(std::move(v));
    if ((*list)->depth() > limits_.max_depth) return Error("nesting too deep");
    return absl::OkStatus();
  }

  absl::Status SetAll(std::vector<PyValue> items) {
    if (items.size() % 2 != 0) return Error("SETITEMS with an odd count");
    absl::StatusOr<PyValue*> dict = Top(PyValue::Kind::kDict, "SETITEM");
    if (!dict.ok()) return dict.status();
    for (size_t i = 0; i < items.size(); i += 2) {
      if (!items[i].hashable()) return Error("unhashable dict key");
      // SetItem is a linear search: the cap keeps a hostile dict cheap.
      if ((*dict)->dict_items().size() >= limits_.max_dict_entries) {
        return Error("dict over its size limit");
      }
      (*dict)->SetItem(std::move(items[i]), std::move(items[i + 1]));
    }
    if ((*dict)->depth() > limits_.max_depth) return Error("nesting too deep");
    return absl::OkStatus();
  }

  absl::Status PushClass(uint8_t op, const std::string& module,
                         const std::string& name) {
    const std::string full = absl::StrCat(module, ".", name);
    if (!limits_.allowed_exceptions.contains(full)) {
      return Refuse(op, absl::StrCat("class reference ", full,
                                     " (this reader never imports classes)"));
    }
    auto slot = std::make_shared<Slot>();
    slot->kind = Slot::kClass;
    slot->class_name = full;
    stack_.push_back(std::move(slot));
    return absl::OkStatus();
  }

  absl::Status Memo(size_t index) {
    if (index >= limits_.max_memo_entries ||
        memo_.size() >= limits_.max_memo_entries) {
      return Error("memo over its limit");
    }
    if (stack_.empty()) return Error("memoize on an empty stack");
    memo_[index] = stack_.back();
    return absl::OkStatus();
  }

  absl::Status Get(size_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) return Error("memo slot not set");
    if (stack_.size() > limits_.max_values) return Error("stack too big");
    stack_.push_back(it->second);
    return absl::OkStatus();
  }

  absl::Status PushText(PyValue::Kind kind, uint64_t size) {
    absl::StatusOr<absl::string_view> bytes = Take(size);
    if (!bytes.ok()) return bytes.status();
    return Push(kind == PyValue::Kind::kStr
                    ? PyValue::Str(std::string(*bytes))
                    : PyValue::Bytes(std::string(*bytes)));
  }

  absl::Status PushTuple(size_t n) {
    std::vector<PyValue> items(n);
    for (size_t i = n; i-- > 0;) {
      absl::StatusOr<PyValue> v = PopValue();
      if (!v.ok()) return v.status();
      items[i] = *std::move(v);
    }
    return Push(PyValue::Tuple(std::move(items)));
  }

  absl::Status Step(uint8_t op) {
    switch (op) {
      case kProto: {
        absl::StatusOr<uint64_t> version = TakeLe(1);
        if (!version.ok()) return version.status();
        if (*version < 2 || *version > 5) {
          return Error(absl::StrCat("pickle protocol ", *version,
                                    " (this reader takes 2 to 5)"));
        }
        return absl::OkStatus();
      }
      case kFrame:  // A hint for buffering; the data follows inline.
        return TakeLe(8).status();
      case kNone:
        return Push(PyValue::None());
      case kNewTrue:
        return Push(PyValue::Bool(true));
      case kNewFalse:
        return Push(PyValue::Bool(false));
      case kBinInt1:
      case kBinInt2: {
        absl::StatusOr<uint64_t> v = TakeLe(op == kBinInt1 ? 1 : 2);
        if (!v.ok()) return v.status();
        return Push(PyValue::Int(static_cast<int64_t>(*v)));
      }
      case kBinInt: {
        absl::StatusOr<uint64_t> v = TakeLe(4);
        if (!v.ok()) return v.status();
        return Push(PyValue::Int(static_cast<int32_t>(*v)));
      }
      case kLong1:
      case kLong4: {
        absl::StatusOr<uint64_t> n = TakeLe(op == kLong1 ? 1 : 4);
        if (!n.ok()) return n.status();
        if (*n > limits_.max_bigint_bytes) return Error("integer too long");
        absl::StatusOr<absl::string_view> bytes = Take(*n);
        if (!bytes.ok()) return bytes.status();
        return Push(PyValue::BigIntFromBytes(std::string(*bytes)));
      }
      case kBinFloat: {
        absl::StatusOr<absl::string_view> bytes = Take(8);
        if (!bytes.ok()) return bytes.status();
        uint64_t bits = 0;
        for (char c : *bytes) bits = (bits << 8) | static_cast<uint8_t>(c);
        return Push(PyValue::Float(std::bit_cast<double>(bits)));
      }
      case kShortBinUnicode:
      case kBinUnicode:
      case kBinUnicode8:
      case kShortBinBytes:
      case kBinBytes:
      case kBinBytes8: {
        const size_t width = (op == kShortBinUnicode || op == kShortBinBytes)
                                 ? 1
                             : (op == kBinUnicode || op == kBinBytes) ? 4
                                                                      : 8;
        absl::StatusOr<uint64_t> n = TakeLe(width);
        if (!n.ok()) return n.status();
        const bool is_str =
            op == kShortBinUnicode || op == kBinUnicode || op == kBinUnicode8;
        return PushText(is_str ? PyValue::Kind::kStr : PyValue::Kind::kBytes,
                        *n);
      }
      case kEmptyTuple:
        return Push(PyValue::Tuple({}));
      case kTuple1:
        return PushTuple(1);
      case kTuple2:
        return PushTuple(2);
      case kTuple3:
        return PushTuple(3);
      case kMark:
        if (marks_.size() >= limits_.max_marks) return Error("too many MARKs");
        marks_.push_back(stack_.size());
        return absl::OkStatus();
      case kTuple: {
        absl::StatusOr<std::vector<PyValue>> items = PopToMark();
        if (!items.ok()) return items.status();
        return Push(PyValue::Tuple(*std::move(items)));
      }
      case kEmptyList:
        return Push(PyValue::List({}));
      case kAppend: {
        absl::StatusOr<PyValue> v = PopValue();
        if (!v.ok()) return v.status();
        std::vector<PyValue> one;
        one.push_back(*std::move(v));
        return AppendAll(std::move(one));
      }
      case kAppends: {
        absl::StatusOr<std::vector<PyValue>> items = PopToMark();
        if (!items.ok()) return items.status();
        return AppendAll(*std::move(items));
      }
      case kEmptyDict:
        return Push(PyValue::Dict({}));
      case kSetItem: {
        absl::StatusOr<PyValue> value = PopValue();
        if (!value.ok()) return value.status();
        absl::StatusOr<PyValue> key = PopValue();
        if (!key.ok()) return key.status();
        std::vector<PyValue> kv;
        kv.push_back(*std::move(key));
        kv.push_back(*std::move(value));
        return SetAll(std::move(kv));
      }
      case kSetItems: {
        absl::StatusOr<std::vector<PyValue>> items = PopToMark();
        if (!items.ok()) return items.status();
        return SetAll(*std::move(items));
      }
      case kMemoize:
        return Memo(memo_.size());
      case kBinPut:
      case kLongBinPut: {
        absl::StatusOr<uint64_t> index = TakeLe(op == kBinPut ? 1 : 4);
        if (!index.ok()) return index.status();
        return Memo(*index);
      }
      case kBinGet:
      case kLongBinGet: {
        absl::StatusOr<uint64_t> index = TakeLe(op == kBinGet ? 1 : 4);
        if (!index.ok()) return index.status();
        return Get(*index);
      }
      case kGlobal: {
        if (limits_.allowed_exceptions.empty()) {
          return Refuse(op, "GLOBAL: class references are not allowed");
        }
        absl::StatusOr<std::string> module = TakeLine();
        if (!module.ok()) return module.status();
        absl::StatusOr<std::string> name = TakeLine();
        if (!name.ok()) return name.status();
        return PushClass(op, *module, *name);
      }
      case kStackGlobal: {
        if (limits_.allowed_exceptions.empty()) {
          return Refuse(op, "STACK_GLOBAL: class references are not allowed");
        }
        absl::StatusOr<PyValue> name = PopValue();
        if (!name.ok()) return name.status();
        absl::StatusOr<PyValue> module = PopValue();
        if (!module.ok()) return module.status();
        if (!name->is_str() || !module->is_str()) {
          return Error("STACK_GLOBAL needs two str");
        }
        return PushClass(op, module->text(), name->text());
      }
      case kReduce: {
        if (limits_.allowed_exceptions.empty()) {
          return Refuse(op, "REDUCE: this reader never calls anything");
        }
        absl::StatusOr<PyValue> args = PopValue();
        if (!args.ok()) return args.status();
        absl::StatusOr<SlotPtr> callable = Pop();
        if (!callable.ok()) return callable.status();
        if ((*callable)->kind != Slot::kClass || !args->is_tuple()) {
          return Refuse(op,
                        "REDUCE of something other than an allowed "
                        "exception class with a tuple");
        }
        // CPython 3.7+ pickles queue.Empty as _queue.Empty (its C home).
        const std::string full = (*callable)->class_name == "_queue.Empty"
                                     ? "queue.Empty"
                                     : (*callable)->class_name;
        const size_t dot = full.rfind('.');
        return Push(PyValue::Exception(full.substr(0, dot),
                                       full.substr(dot + 1), args->items()));
      }
      default:
        return Refuse(op, "not in the subset this reader accepts");
    }
  }

  absl::string_view data_;
  const PickleLimits& limits_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  size_t values_ = 0;
  std::vector<SlotPtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<size_t, SlotPtr> memo_;
};

// ---------------------------------------------------------------------------
// Writer

void PutLe(std::string* out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

void PutSized(std::string* out, uint8_t short_op, uint8_t op4, uint8_t op8,
              const std::string& text) {
  if (text.size() < 256) {
    out->push_back(static_cast<char>(short_op));
    PutLe(out, text.size(), 1);
  } else if (text.size() <= 0xffffffffu) {
    out->push_back(static_cast<char>(op4));
    PutLe(out, text.size(), 4);
  } else {
    out->push_back(static_cast<char>(op8));
    PutLe(out, text.size(), 8);
  }
  out->append(text);
}

void Write(const PyValue& v, std::string* out) {
  using Kind = PyValue::Kind;
  switch (v.kind()) {
    case Kind::kNone:
      out->push_back(kNone);
      return;
    case Kind::kBool:
      out->push_back(static_cast<char>(v.as_bool() ? kNewTrue : kNewFalse));
      return;
    case Kind::kInt: {
      const int64_t i = v.as_int();
      if (i >= 0 && i < 256) {
        out->push_back(kBinInt1);
        PutLe(out, static_cast<uint64_t>(i), 1);
      } else if (i >= 0 && i < 65536) {
        out->push_back(kBinInt2);
        PutLe(out, static_cast<uint64_t>(i), 2);
      } else if (i >= INT32_MIN && i <= INT32_MAX) {
        out->push_back(kBinInt);
        PutLe(out, static_cast<uint64_t>(i), 4);
      } else {
        std::string le;
        PutLe(&le, static_cast<uint64_t>(i), 8);
        // Minimal two's-complement length.
        while (le.size() > 1) {
          const uint8_t last = static_cast<uint8_t>(le.back());
          const uint8_t prev = static_cast<uint8_t>(le[le.size() - 2]);
          if ((last == 0 && !(prev & 0x80)) ||
              (last == 0xff && (prev & 0x80))) {
            le.pop_back();
          } else {
            break;
          }
        }
        out->push_back(static_cast<char>(kLong1));
        PutLe(out, le.size(), 1);
        out->append(le);
      }
      return;
    }
    case Kind::kBigInt: {
      const std::string& le = v.text();
      if (le.size() < 256) {
        out->push_back(static_cast<char>(kLong1));
        PutLe(out, le.size(), 1);
      } else {
        out->push_back(static_cast<char>(kLong4));
        PutLe(out, le.size(), 4);
      }
      out->append(le);
      return;
    }
    case Kind::kFloat: {
      out->push_back(kBinFloat);
      const uint64_t bits = std::bit_cast<uint64_t>(v.as_float());
      for (int i = 7; i >= 0; --i)
        out->push_back(static_cast<char>(bits >> (8 * i)));
      return;
    }
    case Kind::kStr:
      PutSized(out, kShortBinUnicode, kBinUnicode, kBinUnicode8, v.text());
      return;
    case Kind::kBytes:
      PutSized(out, kShortBinBytes, kBinBytes, kBinBytes8, v.text());
      return;
    case Kind::kTuple: {
      const auto& items = v.items();
      if (items.empty()) {
        out->push_back(kEmptyTuple);
        return;
      }
      if (items.size() > 3) out->push_back(kMark);
      for (const PyValue& item : items) Write(item, out);
      static constexpr uint8_t kSmall[] = {0, kTuple1, kTuple2, kTuple3};
      out->push_back(static_cast<char>(
          items.size() > 3 ? uint8_t{kTuple} : kSmall[items.size()]));
      return;
    }
    case Kind::kList:
      out->push_back(kEmptyList);
      if (!v.items().empty()) {
        out->push_back(kMark);
        for (const PyValue& item : v.items()) Write(item, out);
        out->push_back(kAppends);
      }
      return;
    case Kind::kDict:
      out->push_back(kEmptyDict);
      if (!v.dict_items().empty()) {
        out->push_back(kMark);
        for (const auto& [key, value] : v.dict_items()) {
          Write(key, out);
          Write(value, out);
        }
        out->push_back(kSetItems);
      }
      return;
    case Kind::kException:
      out->push_back(kGlobal);
      absl::StrAppend(out, v.text(), "\n", v.exception_name(), "\n");
      Write(PyValue::Tuple(v.items()), out);
      out->push_back(kReduce);
      return;
  }
}

}  // namespace

absl::StatusOr<PyValue> Unpickle(absl::string_view data,
                                 const PickleLimits& limits) {
  return Unpickler(data, limits).Run();
}

std::string Pickle(const PyValue& value) {
  std::string out;
  out.push_back(static_cast<char>(kProto));
  out.push_back(4);
  Write(value, &out);
  out.push_back(kStop);
  return out;
}

}  // namespace multitask
