// Replays fixed inputs through the libFuzzer target with the normal toolchain,
// so it keeps building and its seeds keep passing under asan/tsan.
// The real fuzzing run: tools/fuzz_manager.sh (clang).

#include <cstdint>
#include <string>

#include "common/manager_wire.h"
#include "common/pickle.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace multitask {
namespace {

void Replay(const std::string& bytes) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                         bytes.size());
}

TEST(ManagerFuzzTest, SeedsRunClean) {
  const std::string request = Pickle(PyValue::Tuple(
      {PyValue::Str("7f00"), PyValue::Str("get"), PyValue::Tuple({}),
       PyValue::Dict({{PyValue::Str("timeout"), PyValue::Int(1)}})}));
  Replay(FrameHeader(request.size()) + request);
  Replay(FrameHeader(request.size()) + request.substr(0, 5));
  Replay(FrameHeader(1u << 30));
  Replay(std::string("\xff\xff\xff\xff\x00\x00\x00\x01\x00\x00\x00\x00", 12));
  Replay(
      std::string("\x80\x04\x8c\x06_queue\x8c\x05"
                  "Empty\x93)R.",
                  21));
  Replay("cos\nsystem\n(S'echo'\ntR.");
  std::string deep = "\x80\x04";
  for (int i = 0; i < 5000; ++i) deep += ']';
  Replay(FrameHeader(deep.size()) + deep);
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  Replay(all);
  Replay("");
}

}  // namespace
}  // namespace multitask
