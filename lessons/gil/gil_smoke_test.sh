#!/bin/sh
# Runs the lesson binary with small flags and checks its key lines.
set -eu
bin="$1"
out="$("$bin" --workers=2 --work_ms=20 --io_threads=3 --io_sleeps=2 \
  --io_sleep_ms=5 --convoy_ops=5 --convoy_io_us=100)"
echo "$out"
echo "$out" | grep -q "threads, one GIL"
echo "$out" | grep -q "processes, a GIL each"
# How many overlap depends on scheduling (the test suite proves overlap by
# construction); sleeping with the GIL held can never overlap.
echo "$out" | grep -q "GIL released: .* asleep at once"
echo "$out" | grep -q "GIL held: .* at most 1 asleep at once"
echo "$out" | grep -q "next to a CPU-bound thread"
cmp="$("$bin" --compare --work_ms=20 --io_sleeps=2 --io_sleep_ms=5)"
echo "$cmp" | grep -q "^threads_gil [0-9.]*$"
echo "$cmp" | grep -q "^processes [0-9.]*$"
"$bin" --dis | grep -q BINARY_XOR
if "$bin" --workers=1000 2>/dev/null; then
  echo "expected --workers=1000 to fail" >&2
  exit 1
fi
if "$bin" --workers=0 2>/dev/null; then
  echo "expected --workers=0 to fail" >&2
  exit 1
fi
echo PASS
