#!/usr/bin/env python3
"""svg_plot.py: line and bar charts as SVG from a CSV or Google Benchmark JSON.

No dependencies beyond the Python 3 standard library; the SVG is plain text, so
it diffs and renders on GitHub. Every lesson's chart is made with one command.

CSV input (a header row, then one row per x value):
  python3 tools/svg_plot.py --csv data.csv --x workers --y "threads,processes" \\
      --log-y --title "Wall time / serial" --y-label ratio -o out.svg
  --y takes a comma-separated list of columns (default: every column but --x);
  each becomes one series. Empty cells are skipped.
  Long-format CSV (one row per series and x): --series COLUMN makes one series per
  distinct value of COLUMN, plotting the single --y column, e.g.
  --csv echo_load.csv --x connections --y requests_per_s --series model

Google Benchmark input (`bazel run -c opt //x:y_benchmark --
--benchmark_format=json > b.json`):
  python3 tools/svg_plot.py --benchmark-json b.json --metric real_time \\
      --log-y -o out.svg
  A benchmark named "BM_Pipe/64" (or "BM_Pipe/64/real_time", or
  "BM_Pipe/threads:64") is the point x=64 of series "BM_Pipe"; names without an
  argument become bars (one per benchmark). --metric is any numeric
  field of a run: real_time (default), cpu_time, items_per_second,
  bytes_per_second, or a user counter. Aggregates (mean/median/stddev) are
  skipped unless --aggregate mean (or median) picks one of them.

Chart options:
  --kind line|bar   line needs numeric x (default: line if x is numeric)
  --log-x, --log-y  logarithmic axes (positive values only)
  --title, --x-label, --y-label, --width, --height
  -o FILE           output (default: stdout)
"""

import argparse
import csv
import html
import json
import math
import re
import sys

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
          "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
MARKERS = ["circle", "square", "diamond", "triangle"]


def as_number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


WHERE = []  # [(column, value)] from --where: keep only the rows that match all


def read_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for column, value in WHERE:
        if rows and column not in rows[0]:
            sys.exit("%s: no column %r for --where" % (path, column))
        rows = [r for r in rows if r[column] == value]
    return rows


def read_csv(path, x_col, y_cols):
    """Returns (x values as strings, {series: [value or None per x]})."""
    rows = read_rows(path)
    if not rows:
        sys.exit("%s: no data rows" % path)
    columns = list(rows[0].keys())
    if x_col is None:
        x_col = columns[0]
    if x_col not in columns:
        sys.exit("%s: no column %r (columns: %s)" % (path, x_col, ", ".join(columns)))
    if y_cols is None:
        y_cols = [c for c in columns if c != x_col]
    for c in y_cols:
        if c not in columns:
            sys.exit("%s: no column %r (columns: %s)" % (path, c, ", ".join(columns)))
    xs = [r[x_col] for r in rows]
    series = {c: [as_number(r[c]) for r in rows] for c in y_cols}
    return x_col, xs, series


def read_long_csv(path, x_col, y_col, series_col):
    """Long format: returns (x name, x values, {series value: [y per x]})."""
    rows = read_rows(path)
    if not rows:
        sys.exit("%s: no data rows" % path)
    for c in (x_col, y_col, series_col):
        if c not in rows[0]:
            sys.exit("%s: no column %r (columns: %s)" % (path, c, ", ".join(rows[0])))
    xs, names, points = [], [], {}
    for r in rows:
        if r[x_col] not in xs:
            xs.append(r[x_col])
        if r[series_col] not in points:
            names.append(r[series_col])
            points[r[series_col]] = {}
        points[r[series_col]][r[x_col]] = as_number(r[y_col])
    return x_col, xs, {n: [points[n].get(x) for x in xs] for n in names}


def read_benchmark_json(path, metric, aggregate):
    """Returns (x label, x values, {series: [values per x]}, y label)."""
    with open(path) as f:
        data = json.load(f)
    points = {}  # series -> {x: value}
    order = []
    unit = ""
    for b in data.get("benchmarks", []):
        if aggregate:
            if b.get("aggregate_name") != aggregate:
                continue
            name = b.get("run_name", b["name"])
        else:
            if b.get("run_type") == "aggregate":
                continue
            name = b["name"]
        if metric not in b:
            sys.exit("%s: benchmark %r has no field %r" % (path, name, metric))
        # "BM_Pipe/64", "BM_Pipe/64/real_time", "BM_Pipe/threads:4": x = 64 or 4.
        m = re.match(r"^(.*?)/(?:threads:)?(\d+(?:\.\d+)?)(?:/.*)?$", name)
        series, x = (m.group(1), m.group(2)) if m else (name, "")
        if series not in points:
            points[series] = {}
            order.append(series)
        points[series][x] = float(b[metric])
        if metric in ("real_time", "cpu_time"):
            unit = b.get("time_unit", "ns")
    if not points:
        sys.exit("%s: no benchmarks" % path)
    y_name = "%s (%s)" % (metric, unit) if unit else metric
    if all(list(p.keys()) == [""] for p in points.values()):
        # No arguments: one bar per benchmark.
        return "benchmark", order, {y_name: [points[s][""] for s in order]}, y_name
    xs = sorted({x for p in points.values() for x in p}, key=lambda v: as_number(v) or 0)
    return "argument", xs, {s: [points[s].get(x) for x in xs] for s in order}, y_name


def nice_linear_ticks(lo, hi, count=5):
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= step * mult:
            step *= mult
            break
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


def log_ticks(lo, hi):
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if last == first:
        last += 1
    mults = (1, 2, 5) if last - first <= 3 else (1,)
    ticks = [m * 10 ** e for e in range(first, last + 1) for m in mults]
    return [t for t in ticks if 10 ** first <= t <= 10 ** last]


def fmt(v):
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return "%.0e" % v
    if a >= 100:
        return "%.0f" % v
    return ("%.3f" % v).rstrip("0").rstrip(".")


class Axis:
    def __init__(self, values, log, lo_px, hi_px, include_zero):
        vals = [v for v in values if v is not None and (not log or v > 0)]
        if not vals:
            sys.exit("no values to plot%s" % (" (log axes need positive values)" if log else ""))
        lo, hi = min(vals), max(vals)
        self.log = log
        if log:
            self.ticks = log_ticks(lo, hi)
        else:
            if include_zero:
                lo = min(lo, 0)
            self.ticks = nice_linear_ticks(lo, hi)
        self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.lo_px, self.hi_px = lo_px, hi_px

    def px(self, v):
        if self.log:
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / ((self.hi - self.lo) or 1)
        return self.lo_px + f * (self.hi_px - self.lo_px)


def marker(shape, x, y, color):
    if shape == "square":
        return '<rect x="%.1f" y="%.1f" width="7" height="7" fill="%s"/>' % (x - 3.5, y - 3.5, color)
    if shape == "diamond":
        return '<path d="M%.1f %.1fl4.5 4.5l-4.5 4.5l-4.5 -4.5z" fill="%s"/>' % (x, y - 4.5, color)
    if shape == "triangle":
        return '<path d="M%.1f %.1fl4.5 8l-9 0z" fill="%s"/>' % (x, y - 5, color)
    return '<circle cx="%.1f" cy="%.1f" r="3.8" fill="%s"/>' % (x, y, color)


def render(xs, series, kind, log_x, log_y, title, x_label, y_label, width, height):
    esc = html.escape
    left, right, top, bottom = 70, 20, 40 if title else 20, 60
    # Long bar labels are drawn at an angle; make room for them below the plot.
    slanted = kind == "bar" and max(len(x) for x in xs) * 7 > (width - 90) / max(1, len(xs))
    below = int(0.6 * 6.5 * max(len(x) for x in xs)) if slanted else 0
    if slanted:  # the first label reaches left of its bar
        left = max(left, int(0.8 * 6.5 * len(xs[0])) - 30)
    bottom += below
    height += below
    legend_h = 18 * len(series)
    plot_bottom = height - bottom - legend_h
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
           % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>']
    if title:
        out.append('<text x="%d" y="22" text-anchor="middle" font-size="15" '
                   'font-weight="bold">%s</text>' % (width // 2, esc(title)))
    all_y = [v for vals in series.values() for v in vals]
    yaxis = Axis(all_y, log_y, plot_bottom, top, include_zero=(kind == "bar"))
    for t in yaxis.ticks:
        y = yaxis.px(t)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                   % (left, y, width - right, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                   % (left - 6, y + 4, fmt(t)))

    if kind == "line":
        xnums = [as_number(x) for x in xs]
        if any(v is None for v in xnums):
            sys.exit("line charts need numeric x values; use --kind bar")
        xaxis = Axis(xnums, log_x, left + 10, width - right - 10, include_zero=False)
        tick_values = sorted(set(xnums)) if len(set(xnums)) <= 12 else xaxis.ticks
        for t in tick_values:
            x = xaxis.px(t)
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                       % (x, plot_bottom + 18, fmt(t)))
        for i, (name, vals) in enumerate(series.items()):
            color = COLORS[i % len(COLORS)]
            pts = [(xaxis.px(x), yaxis.px(v)) for x, v in zip(xnums, vals)
                   if v is not None and (not log_y or v > 0)]
            if len(pts) > 1:
                dash = ' stroke-dasharray="6 3"' if i >= len(COLORS) else ""
                out.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>'
                           % (color, dash, " ".join("%.1f,%.1f" % p for p in pts)))
            for p in pts:
                out.append(marker(MARKERS[i % len(MARKERS)], p[0], p[1], color))
    else:
        n_groups, n_series = len(xs), len(series)
        group_w = (width - right - left) / max(1, n_groups)
        bar_w = group_w * 0.8 / max(1, n_series)
        base = yaxis.px(yaxis.lo if log_y else max(yaxis.lo, 0))
        for g, x in enumerate(xs):
            gx = left + g * group_w
            if slanted:
                lx, ly = gx + group_w / 2, plot_bottom + 14
                out.append('<text x="%.1f" y="%d" text-anchor="end" '
                           'transform="rotate(-35 %.1f %d)">%s</text>'
                           % (lx, ly, lx, ly, esc(x)))
            else:
                out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                           % (gx + group_w / 2, plot_bottom + 18, esc(x)))
            for i, vals in enumerate(series.values()):
                v = vals[g]
                if v is None or (log_y and v <= 0):
                    continue
                y = yaxis.px(v)
                out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                           '<title>%s</title></rect>'
                           % (gx + group_w * 0.1 + i * bar_w, min(y, base), bar_w,
                              abs(base - y), COLORS[i % len(COLORS)], fmt(v)))

    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>'
               % (left, top, width - right - left, plot_bottom - top))
    if x_label:
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % ((left + width - right) / 2, plot_bottom + 38 + below, esc(x_label)))
    if y_label:
        cy = (top + plot_bottom) / 2
        out.append('<text x="16" y="%.1f" text-anchor="middle" '
                   'transform="rotate(-90 16 %.1f)">%s</text>' % (cy, cy, esc(y_label)))
    for i, name in enumerate(series):
        ly = plot_bottom + 52 + below + 18 * i
        color = COLORS[i % len(COLORS)]
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>'
                   % (left, ly - 4, left + 24, ly - 4, color))
        if kind == "line":
            out.append(marker(MARKERS[i % len(MARKERS)], left + 12, ly - 4, color))
        out.append('<text x="%d" y="%d">%s</text>' % (left + 32, ly, esc(name)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", help="CSV file with a header row")
    src.add_argument("--benchmark-json", help="Google Benchmark --benchmark_format=json output")
    p.add_argument("--x", help="CSV: the x column (default: the first)")
    p.add_argument("--y", help="CSV: comma-separated y columns (default: all others)")
    p.add_argument("--series", help="CSV in long format: one series per value of this column")
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="CSV: keep only rows whose COLUMN equals VALUE (repeatable)")
    p.add_argument("--metric", default="real_time", help="benchmark JSON: field to plot")
    p.add_argument("--aggregate", help="benchmark JSON: plot this aggregate (mean, median)")
    p.add_argument("--kind", choices=["line", "bar"])
    p.add_argument("--log-x", action="store_true")
    p.add_argument("--log-y", action="store_true")
    p.add_argument("--title", default="")
    p.add_argument("--x-label")
    p.add_argument("--y-label")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=400)
    p.add_argument("-o", "--output", help="SVG file to write (default: stdout)")
    args = p.parse_args()
    for condition in args.where:
        if "=" not in condition:
            sys.exit("--where takes COLUMN=VALUE, got %r" % condition)
        WHERE.append(tuple(condition.split("=", 1)))

    if args.csv and args.series:
        if not args.x or not args.y or "," in args.y:
            sys.exit("--series needs --x and exactly one --y column")
        x_name, xs, series = read_long_csv(args.csv, args.x, args.y, args.series)
        y_name = args.y
    elif args.csv:
        x_name, xs, series = read_csv(args.csv, args.x,
                                      args.y.split(",") if args.y else None)
        y_name = None if len(series) > 1 else next(iter(series))
    else:
        x_name, xs, series, y_name = read_benchmark_json(
            args.benchmark_json, args.metric, args.aggregate)
    kind = args.kind or ("line" if all(as_number(x) is not None for x in xs)
                         and len(xs) > 1 else "bar")
    svg = render(xs, series, kind, args.log_x, args.log_y, args.title,
                 args.x_label if args.x_label is not None else x_name,
                 args.y_label if args.y_label is not None else y_name,
                 args.width, args.height + 18 * max(0, len(series) - 1))
    if args.output:
        with open(args.output, "w") as f:
            f.write(svg)
    else:
        sys.stdout.write(svg)


if __name__ == "__main__":
    main()
