#!/usr/bin/env bash
# tools/make_charts.sh: redraws every chart in the lesson READMEs from the data files
# committed next to them (the lessons write those files: see each README's "Charts").
#
#   tools/make_charts.sh
#
# Uses only python3 and tools/svg_plot.py; the charts are SVG, committed beside the
# READMEs that show them.
set -euo pipefail
cd "$(dirname "$0")/.."
plot() { python3 tools/svg_plot.py "$@"; }

# gil: wall time / serial time by workers (tools/compare_gil.py --csv writes the data).
plot --csv lessons/gil/scaling.csv --x workers \
  --title "CPU-bound work: wall time / serial time (idle 2-core machine)" \
  --y-label "wall / serial" -o lessons/gil/scaling.svg

# compare: cost per operation (bazel run -c opt //lessons/compare -- --csv_dir=...).
plot --csv lessons/compare/data/costs.csv --where unit=ns --x what \
  --y threads,processes --kind bar --log-y --x-label "" --width 900 \
  --title "Cost per operation: threads vs processes (ns, log scale)" \
  --y-label "ns per operation" -o lessons/compare/costs.svg
plot --csv lessons/compare/data/scaling.csv --x workers \
  --y compute_tasks_per_s,io_tasks_per_s --log-x --log-y \
  --title "Throughput by worker threads: compute-bound vs I/O-bound" \
  --y-label "tasks/s" -o lessons/compare/scaling.svg

# async_io: requests/s and memory by connections, per model
# (bazel run -c opt //lessons/async_io -- --csv=...).
plot --csv lessons/async_io/data/echo_load.csv --series model --x connections \
  --y requests_per_s --log-x \
  --title "Echo server: requests/s by concurrent connections" \
  --y-label "requests/s" -o lessons/async_io/requests_per_s.svg
plot --csv lessons/async_io/data/echo_load.csv --series model --x connections \
  --y server_pss_kib --log-x --log-y \
  --title "Echo server: memory (PSS) by concurrent connections" \
  --y-label "server PSS (KiB)" -o lessons/async_io/memory.svg
echo "make_charts: wrote lessons/{gil,compare,async_io}/*.svg"
