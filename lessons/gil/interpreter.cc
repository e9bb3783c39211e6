#include "lessons/gil/interpreter.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"

namespace multitask {
namespace {

[[noreturn]] void Malformed(const char* what, std::size_t pc) {
  std::fprintf(stderr, "interpreter: malformed code at %zu: %s\n", pc, what);
  std::abort();
}

void SleepFor(std::chrono::microseconds duration) {
  timespec ts{};
  ts.tv_sec = duration.count() / 1'000'000;
  ts.tv_nsec = (duration.count() % 1'000'000) * 1000;
  while (::nanosleep(&ts, &ts) != 0) {
    // EINTR: sleep the rest.
  }
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kLoadConst:
      return "LOAD_CONST";
    case Op::kLoadFast:
      return "LOAD_FAST";
    case Op::kStoreFast:
      return "STORE_FAST";
    case Op::kBinaryXor:
      return "BINARY_XOR";
    case Op::kBinarySub:
      return "BINARY_SUB";
    case Op::kJumpIfZero:
      return "JUMP_IF_ZERO";
    case Op::kJump:
      return "JUMP";
    case Op::kSleepMicros:
      return "SLEEP_MICROS";
    case Op::kReturn:
      return "RETURN";
  }
  return "?";
}

}  // namespace

Code BusyLoop(std::int64_t iterations) {
  return Code{
      .instructions =
          {
              {Op::kLoadFast, kN},    // 0  while n:
              {Op::kJumpIfZero, 11},  // 1
              {Op::kLoadFast, kX},    // 2    x = x ^ 1
              {Op::kLoadConst, 1},    // 3
              {Op::kBinaryXor},       // 4
              {Op::kStoreFast, kX},   // 5
              {Op::kLoadFast, kN},    // 6    n -= 1
              {Op::kLoadConst, 1},    // 7
              {Op::kBinarySub},       // 8
              {Op::kStoreFast, kN},   // 9
              {Op::kJump, 0},         // 10
              {Op::kReturn},          // 11
          },
      .num_locals = 2,
      .initial_locals = {0, iterations},
  };
}

Code SleepLoop(std::int64_t iterations, std::chrono::microseconds sleep) {
  return Code{
      .instructions =
          {
              {Op::kLoadFast, kN},                // 0  while n:
              {Op::kJumpIfZero, 8},               // 1
              {Op::kSleepMicros, sleep.count()},  // 2    time.sleep(...)
              {Op::kLoadFast, kN},                // 3    n -= 1
              {Op::kLoadConst, 1},                // 4
              {Op::kBinarySub},                   // 5
              {Op::kStoreFast, kN},               // 6
              {Op::kJump, 0},                     // 7
              {Op::kReturn},                      // 8
          },
      .num_locals = 2,
      .initial_locals = {0, iterations},
  };
}

RunResult Interpret(const Code& code, Gil* gil, const RunOptions& options) {
  if (static_cast<int>(code.initial_locals.size()) != code.num_locals) {
    Malformed("initial_locals size != num_locals", 0);
  }
  RunResult result;
  result.locals = code.initial_locals;
  std::array<std::int64_t, 8> stack{};
  std::size_t sp = 0;
  auto pop = [&](std::size_t pc) {
    if (sp == 0) Malformed("stack underflow", pc);
    return stack[--sp];
  };
  auto push = [&](std::int64_t v, std::size_t pc) {
    if (sp == stack.size()) Malformed("stack overflow", pc);
    stack[sp++] = v;
  };
  auto local = [&](std::int64_t i, std::size_t pc) -> std::int64_t& {
    if (i < 0 || i >= code.num_locals) Malformed("bad local", pc);
    return result.locals[i];
  };

  if (gil != nullptr) gil->Acquire();
  std::size_t pc = 0;
  for (;;) {
    // The eval breaker: between two bytecodes, hand the GIL over if a waiter
    // has waited a whole switch interval.
    if (gil != nullptr && gil->DropRequested()) {
      gil->Yield();
      ++result.yields;
    }
    if (options.stop != nullptr &&
        options.stop->load(std::memory_order_relaxed)) {
      result.stopped = true;
      break;
    }
    if (pc >= code.instructions.size()) Malformed("pc out of range", pc);
    const Instruction& in = code.instructions[pc];
    ++result.bytecodes;
    ++pc;
    switch (in.op) {
      case Op::kLoadConst:
        push(in.arg, pc);
        break;
      case Op::kLoadFast:
        push(local(in.arg, pc), pc);
        break;
      case Op::kStoreFast:
        local(in.arg, pc) = pop(pc);
        break;
      case Op::kBinaryXor:
        push(pop(pc) ^ pop(pc), pc);
        break;
      case Op::kBinarySub: {
        const std::int64_t b = pop(pc);
        const std::int64_t a = pop(pc);
        push(a - b, pc);
        break;
      }
      case Op::kJumpIfZero:
        if (pop(pc) == 0) pc = static_cast<std::size_t>(in.arg);
        break;
      case Op::kJump:
        pc = static_cast<std::size_t>(in.arg);
        break;
      case Op::kSleepMicros: {
        const std::chrono::microseconds d(in.arg);
        const bool release = gil != nullptr && options.release_gil_to_sleep;
        if (release) gil->Release();  // Py_BEGIN_ALLOW_THREADS
        if (options.sleep) {
          options.sleep(d);
        } else {
          SleepFor(d);
        }
        if (release) {
          const auto woke = std::chrono::steady_clock::now();
          gil->Acquire();  // Py_END_ALLOW_THREADS
          const auto wait = std::chrono::steady_clock::now() - woke;
          result.gil_wait_after_sleep += wait;
          result.max_gil_wait_after_sleep = std::max<std::chrono::nanoseconds>(
              result.max_gil_wait_after_sleep, wait);
        }
        ++result.sleeps;
        break;
      }
      case Op::kReturn:
        if (gil != nullptr) gil->Release();
        return result;
    }
  }
  if (gil != nullptr) gil->Release();
  return result;
}

std::string Disassemble(const Code& code) {
  static constexpr const char* kLocalNames[] = {"x", "n"};
  std::string out;
  for (std::size_t i = 0; i < code.instructions.size(); ++i) {
    const Instruction& in = code.instructions[i];
    std::string line = absl::StrFormat("%3d %s", i, OpName(in.op));
    switch (in.op) {
      case Op::kLoadFast:
      case Op::kStoreFast:
        absl::StrAppendFormat(
            &line, "%*d (%s)", 16 - std::strlen(OpName(in.op)), in.arg,
            in.arg >= 0 && in.arg < 2 ? kLocalNames[in.arg] : "?");
        break;
      case Op::kLoadConst:
      case Op::kJumpIfZero:
      case Op::kJump:
      case Op::kSleepMicros:
        absl::StrAppendFormat(&line, "%*d", 16 - std::strlen(OpName(in.op)),
                              in.arg);
        break;
      default:
        break;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace multitask
