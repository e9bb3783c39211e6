#!/usr/bin/env bash
# fuzz_manager.sh: builds common/manager_fuzz.cc with clang's libFuzzer (plus
# ASan and UBSan) outside Bazel, and fuzzes the manager's frame reader and
# pickle reader for a bounded time.
#
#   tools/fuzz_manager.sh          # 60 seconds
#   tools/fuzz_manager.sh 600      # 10 minutes
#
# Exit code 0: no crash, leak or sanitizer report in that time. A finding is
# saved as crash-*/leak-*/oom-* in the work directory and printed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz_manager: clang++ not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
work="${FUZZ_WORK_DIR:-/tmp/multitask-fuzz-manager}"
mkdir -p "$work/corpus"

absl_libs=(
  absl_status absl_statusor absl_cord absl_cord_internal absl_cordz_info
  absl_cordz_handle absl_cordz_functions absl_str_format_internal
  absl_strings absl_strings_internal absl_time absl_time_zone absl_int128
  absl_raw_logging_internal absl_throw_delegate absl_base absl_stacktrace
  absl_symbolize absl_debugging_internal absl_demangle_internal
  absl_malloc_internal absl_spinlock_wait absl_exponential_biased
  absl_synchronization absl_graphcycles_internal
)
ldflags=()
for lib in "${absl_libs[@]}"; do ldflags+=("-l$lib"); done

clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=all -I. \
  common/manager_fuzz.cc common/manager_wire.cc common/pickle.cc \
  common/fd.cc common/syscall.cc \
  -o "$work/manager_fuzz" -lcrypto "${ldflags[@]}" -lpthread

# Seeds: a real request frame from CPython (pickle protocol 4) and a class
# reference, so the fuzzer starts from the interesting shapes.
printf '\x00\x00\x00\x2b\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00(\x8c\x03abc\x94\x8c\x03get\x94)}\x94\x8c\x07timeout\x94K\x01st\x94.' \
  >"$work/corpus/get_request"
printf '\x00\x00\x00\x1a\x80\x04\x8c\x06_queue\x8c\x05Empty\x93)R.' >"$work/corpus/queue_empty"

cd "$work"
./manager_fuzz -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 \
  -print_final_stats=1 corpus
echo "fuzz_manager: no finding in ${seconds} s"
