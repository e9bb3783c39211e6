#!/usr/bin/env python3
"""Runs the same GIL experiment in real CPython and in lessons/gil's emulation.

Both sides run seed 001's dead loop (`x = x ^ 1`, counted down from n) and
report wall time / serial time, where "serial" is the same total work done by
one thread:
  - N CPU-bound threads (CPython: threading; emulation: threads under one Gil)
  - N processes (CPython: multiprocessing with fork; emulation: forked
    children, each with its own Gil)
  - I/O-bound threads, each sleeping K times (GIL released while sleeping)
The two sides alternate, `--repeats` times; each ratio divides the best
(least disturbed) wall time of an experiment by the best serial time, and the
two columns are printed side by side, with emulation / CPython.

Usage (from the repository root):
  bazel build -c opt //lessons/gil
  python3 tools/compare_gil.py                      # 2 workers, the table
  python3 tools/compare_gil.py --workers 1,2,4 --csv lessons/gil/scaling.csv
  python3 tools/svg_plot.py --csv lessons/gil/scaling.csv --x workers \\
      --y "CPython threads,GIL threads,no-GIL threads,CPython processes,GIL processes" \\
      -o lessons/gil/scaling.svg

Only the standard library; python3 >= 3.8 (Linux: uses the fork start method).
"""

import argparse
import csv
import multiprocessing
import os
import subprocess
import sys
import threading
import time


def busy(n):
    """Seed 001's loop, but finite: x flips n times."""
    x = 0
    while n:
        x = x ^ 1
        n -= 1
    return x


def sleepy(sleeps, seconds):
    for _ in range(sleeps):
        time.sleep(seconds)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_threads(count, target, args):
    threads = [threading.Thread(target=target, args=args) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_processes(count, target, args):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=target, args=args) for _ in range(count)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit("a worker process failed: exit code %s" % p.exitcode)


def calibrate(work_ms):
    """Iterations of busy() that take about work_ms of CPU time on one thread
    (CPU time, not wall time: other processes' turns do not count)."""
    n = 10000
    while True:
        t0 = time.thread_time()
        busy(n)
        took = time.thread_time() - t0
        if took >= 0.02:
            return max(1, int(n * work_ms / 1000.0 / took))
        n *= 4


def cpython_times(workers, n, io_threads, io_sleeps, io_sleep):
    """Wall seconds of each experiment, in the order the C++ binary runs them."""
    return {
        "processes": timed(lambda: run_processes(workers, busy, (n,))),
        "serial": timed(lambda: busy(workers * n)),
        "threads_gil": timed(lambda: run_threads(workers, busy, (n,))),
        "io_threads": timed(lambda: run_threads(io_threads, sleepy,
                                                (io_sleeps, io_sleep))),
        "io_serial": timed(lambda: sleepy(io_threads * io_sleeps, io_sleep)),
    }


def emulation_times(binary, workers, args):
    cmd = [
        binary,
        "--compare",
        "--workers=%d" % workers,
        "--work_ms=%d" % args.work_ms,
        "--io_threads=%d" % args.io_threads,
        "--io_sleeps=%d" % args.io_sleeps,
        "--io_sleep_ms=%d" % args.io_sleep_ms,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    times = {}
    for line in out.splitlines():
        name, value = line.split()
        times[name] = float(value)
    return times


def best_ratio(runs, key, baseline):
    """min(wall) / min(baseline wall): the least disturbed run of each."""
    return min(r[key] for r in runs) / min(r[baseline] for r in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="bazel-bin/lessons/gil/gil",
                        help="the lesson binary (bazel build -c opt //lessons/gil)")
    parser.add_argument("--workers", default="2",
                        help="comma-separated worker counts, e.g. 1,2,4")
    parser.add_argument("--work_ms", type=int, default=300,
                        help="busy-loop work per worker, ms of one thread")
    parser.add_argument("--io_threads", type=int, default=4)
    parser.add_argument("--io_sleeps", type=int, default=10)
    parser.add_argument("--io_sleep_ms", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per side; the best time of each is used")
    parser.add_argument("--csv", help="also write the ratios per worker count here")
    args = parser.parse_args()

    if not os.access(args.binary, os.X_OK):
        sys.exit("%s not found: run `bazel build -c opt //lessons/gil` first "
                 "(or pass --binary)" % args.binary)
    workers_list = [int(w) for w in args.workers.split(",")]
    n = calibrate(args.work_ms)
    io_sleep = args.io_sleep_ms / 1000.0

    print("python %s, %d CPUs, %d busy-loop iterations per worker in CPython, "
          "best of %d runs" % (sys.version.split()[0], os.cpu_count(), n,
                                 args.repeats))
    rows = []
    for workers in workers_list:
        py_runs, emu_runs = [], []
        for _ in range(args.repeats):  # alternate, so load hits both alike
            py_runs.append(cpython_times(workers, n, args.io_threads,
                                         args.io_sleeps, io_sleep))
            emu_runs.append(emulation_times(args.binary, workers, args))
        row = {"workers": workers}
        for key in ("threads_gil", "processes"):
            row["py_" + key] = best_ratio(py_runs, key, "serial")
            row["emu_" + key] = best_ratio(emu_runs, key, "serial")
        row["py_io_threads"] = best_ratio(py_runs, "io_threads", "io_serial")
        row["emu_io_threads"] = best_ratio(emu_runs, "io_threads", "io_serial")
        row["emu_threads_nogil"] = best_ratio(emu_runs, "threads_nogil", "serial")
        rows.append(row)

        print()
        print("%-40s %8s %10s %10s" % ("wall / serial, %d workers" % workers,
                                        "CPython", "emulation", "emu/CPy"))
        labels = [
            ("threads_gil", "%d CPU-bound threads" % workers),
            ("processes", "%d CPU-bound processes" % workers),
            ("io_threads", "%d I/O-bound threads (%d x %d ms sleeps)" % (
                args.io_threads, args.io_sleeps, args.io_sleep_ms)),
        ]
        for key, label in labels:
            py, emu = row["py_" + key], row["emu_" + key]
            print("%-40s %8.2f %10.2f %10.2f" % (label, py, emu, emu / py))
        print("%-40s %8s %10.2f" % ("%d C++ threads, no GIL" % workers, "-",
                                     row["emu_threads_nogil"]))

    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["workers", "CPython threads", "GIL threads",
                             "no-GIL threads", "CPython processes",
                             "GIL processes"])
            for row in rows:
                writer.writerow([row["workers"]] + ["%.3f" % row[k] for k in (
                    "py_threads_gil", "emu_threads_gil", "emu_threads_nogil",
                    "py_processes", "emu_processes")])
        print("\nwrote", args.csv)


if __name__ == "__main__":
    main()
