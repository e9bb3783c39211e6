#!/bin/sh
# Checks tools/svg_plot.py: CSV and Google Benchmark JSON in, well-formed SVG
# out with every series, log axes, and a clear error for a missing column.
set -eu
plot="$1"
dir="${TEST_TMPDIR:-$(mktemp -d)}"
cat >"$dir/data.csv" <<'CSV'
workers,threads,processes
1,1.0,1.02
2,1.05,0.6
4,1.08,
CSV
cat >"$dir/bench.json" <<'JSON'
{"context": {}, "benchmarks": [
 {"name": "BM_Thread/1", "run_type": "iteration", "real_time": 1200, "cpu_time": 1100, "time_unit": "ns"},
 {"name": "BM_Thread/8", "run_type": "iteration", "real_time": 9000, "cpu_time": 8000, "time_unit": "ns"},
 {"name": "BM_Fork/1", "run_type": "iteration", "real_time": 90000, "cpu_time": 1100, "time_unit": "ns"},
 {"name": "BM_Fork/8", "run_type": "iteration", "real_time": 700000, "cpu_time": 8000, "time_unit": "ns"},
 {"name": "BM_Fork/8_mean", "run_name": "BM_Fork/8", "run_type": "aggregate", "aggregate_name": "mean", "real_time": 1, "cpu_time": 1, "time_unit": "ns"}
]}
JSON
wellformed() {
  python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1"
}
python3 "$plot" --csv "$dir/data.csv" --x workers --title "GIL" -o "$dir/a.svg"
wellformed "$dir/a.svg"
grep -q ">threads<" "$dir/a.svg"
grep -q ">processes<" "$dir/a.svg"
grep -q "<polyline" "$dir/a.svg"

python3 "$plot" --benchmark-json "$dir/bench.json" --log-y -o "$dir/b.svg"
wellformed "$dir/b.svg"
grep -q ">BM_Fork<" "$dir/b.svg"
grep -q "real_time (ns)" "$dir/b.svg"
grep -q ">1e+06<" "$dir/b.svg"  # log axis tick
cat >"$dir/threads.json" <<'JSON'
{"benchmarks": [
 {"name": "BM_A/threads:1", "real_time": 5, "time_unit": "us"},
 {"name": "BM_A/threads:2", "real_time": 7, "time_unit": "us"},
 {"name": "BM_B/8/real_time", "real_time": 3, "time_unit": "us"},
 {"name": "BM_B/16/real_time", "real_time": 4, "time_unit": "us"}
]}
JSON
python3 "$plot" --benchmark-json "$dir/threads.json" -o "$dir/t.svg"
wellformed "$dir/t.svg"
test "$(grep -c "<polyline" "$dir/t.svg")" -eq 2  # BM_A and BM_B as lines
python3 "$plot" --benchmark-json "$dir/bench.json" --kind bar -o "$dir/c.svg"
wellformed "$dir/c.svg"
grep -q "<rect x=" "$dir/c.svg"

if python3 "$plot" --csv "$dir/data.csv" --y nosuch -o "$dir/d.svg" 2>"$dir/err"; then
  echo "expected failure for a missing column" >&2
  exit 1
fi
grep -q "no column 'nosuch'" "$dir/err"
echo PASS
