// interpreter.h: a tiny bytecode interpreter whose threads run under a Gil.
//
// Just enough of a Python-like virtual machine to run seed 001's dead loop
//     x = 0
//     while n:            # the seed loops forever; we count down n
//         x = x ^ 1
//         n -= 1
// and an I/O-bound loop that sleeps (a blocking call) in every iteration. Like
// CPython's ceval loop, Interpret() holds the GIL while it executes bytecodes,
// looks at the drop request between two bytecodes and hands the GIL over when
// asked, and releases it around a blocking call (the kSleep opcode).
//
// Example:
//   Gil gil;
//   Code code = BusyLoop(1'000'000);
//   RunResult r = Interpret(code, &gil);   // r.locals[kX] == 0 (even count)
//   RunResult f = Interpret(code, nullptr);  // no GIL: like C++ or
//   free-threaded
//
// Thread-safety: Interpret() may be called from many threads at once, each with
// its own Code or sharing a const one; they share only the Gil.
#ifndef MULTITASK_LESSONS_GIL_INTERPRETER_H_
#define MULTITASK_LESSONS_GIL_INTERPRETER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lessons/gil/gil.h"

namespace multitask {

enum class Op : std::uint8_t {
  kLoadConst,    // push arg
  kLoadFast,     // push locals[arg]
  kStoreFast,    // locals[arg] = pop
  kBinaryXor,    // push pop ^ pop
  kBinarySub,    // b = pop, a = pop, push a - b
  kJumpIfZero,   // if pop == 0: goto arg
  kJump,         // goto arg (a backward jump closes a loop)
  kSleepMicros,  // blocking call: sleep arg microseconds, GIL released
  kReturn,       // stop
};

struct Instruction {
  Op op;
  std::int64_t arg = 0;
};

struct Code {
  std::vector<Instruction> instructions;
  int num_locals = 0;
  std::vector<std::int64_t> initial_locals;  // size num_locals
};

// Local variable slots of the programs below.
inline constexpr int kX = 0;  // BusyLoop's x
inline constexpr int kN = 1;  // the loop counter n

// Seed 001's `x = x ^ 1` loop, run `iterations` times (11 bytecodes each).
Code BusyLoop(std::int64_t iterations);

// `while n: time.sleep(sleep); n -= 1`: I/O-bound, the GIL is free during the
// sleeps.
Code SleepLoop(std::int64_t iterations, std::chrono::microseconds sleep);

struct RunOptions {
  // What kSleepMicros does; nanosleep() when empty. Tests plug in a sleep that
  // meets the other sleepers instead.
  std::function<void(std::chrono::microseconds)> sleep;
  // false: sleep while still holding the GIL, like a C extension that forgets
  // Py_BEGIN_ALLOW_THREADS. Then nobody else runs meanwhile.
  bool release_gil_to_sleep = true;
  // When set (checked between bytecodes, like a pending signal), Interpret()
  // stops early and returns.
  const std::atomic<bool>* stop = nullptr;
};

struct RunResult {
  std::int64_t bytecodes = 0;  // instructions executed
  std::int64_t yields = 0;     // times this thread handed the GIL over
  bool stopped = false;        // RunOptions::stop ended the run
  std::vector<std::int64_t> locals;
  // After each blocking call: the time from "the sleep is over" to "holding
  // the GIL again" (the convoy effect), summed, and the worst one.
  std::chrono::nanoseconds gil_wait_after_sleep{0};
  std::chrono::nanoseconds max_gil_wait_after_sleep{0};
  std::int64_t sleeps = 0;
};

// Interprets `code` up to kReturn. With a `gil`, acquires it first, checks the
// drop request between bytecodes, releases it around kSleepMicros and at the
// end. With nullptr, runs freely (no GIL). The code must be well formed (jumps
// in range, stack not underflowing); malformed code aborts.
RunResult Interpret(const Code& code, Gil* gil, const RunOptions& options = {});

// One line per instruction, like Python's dis.dis(), for the README and
// --dis (slots 0 and 1 are shown as x and n).
std::string Disassemble(const Code& code);

}  // namespace multitask

#endif  // MULTITASK_LESSONS_GIL_INTERPRETER_H_
