#!/bin/sh
# tools/compare_gil.py end to end, with tiny work: it runs CPython and the
# lesson binary, prints both columns, writes the CSV, and tools/svg_plot.py
# draws it. Checks the shape of the output, not the numbers (those need an
# idle machine; see README.md).
set -eu
compare="$1"
plot="$2"
bin="$3"
dir="${TEST_TMPDIR:-$(mktemp -d)}"
python3 "$compare" --binary "$bin" --workers 1,2 --work_ms 5 --repeats 1 \
  --io_threads 2 --io_sleeps 1 --io_sleep_ms 1 --csv "$dir/s.csv" >"$dir/out"
cat "$dir/out"
grep -q "^2 CPU-bound threads  *[0-9.]*  *[0-9.]*  *[0-9.]*$" "$dir/out"
grep -q "^2 CPU-bound processes  *[0-9.]*  *[0-9.]*  *[0-9.]*$" "$dir/out"
grep -q "^2 I/O-bound threads" "$dir/out"
head -1 "$dir/s.csv" | grep -q "^workers,CPython threads,GIL threads"
test "$(wc -l <"$dir/s.csv")" -eq 3
python3 "$plot" --csv "$dir/s.csv" --x workers -o "$dir/s.svg"
python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$dir/s.svg"
grep -q ">GIL processes<" "$dir/s.svg"
if python3 "$compare" --binary "$dir/nonexistent" 2>"$dir/err"; then
  echo "expected a missing binary to fail" >&2
  exit 1
fi
grep -q "bazel build -c opt //lessons/gil" "$dir/err"
echo PASS
