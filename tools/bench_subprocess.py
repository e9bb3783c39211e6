#!/usr/bin/env python3
"""Side-by-side cost of starting /bin/true: C++ Subprocess vs raw calls vs Python.

Runs the Google Benchmark binary //lessons/subprocess:subprocess_benchmark and
Python's subprocess.run(["/bin/true"]) in the same run, alternating them for a
few rounds so both see the same machine load, and prints one table of medians
with ratios to the raw posix_spawn + waitpid floor.

Usage (from the repository root):
    python3 tools/bench_subprocess.py [--rounds 5] [--min_time 0.2]
    python3 tools/bench_subprocess.py --binary path/to/subprocess_benchmark

Without --binary it builds the benchmark with `bazel build -c opt` first.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

TARGET = "//lessons/subprocess:subprocess_benchmark"

CPP_ROWS = [
    ("BM_SubprocessRun/0/real_time",
     "C++ Run({\"/bin/true\"}) (stdout+stderr piped)"),
    ("BM_SubprocessCall/real_time", "C++ Call({\"/bin/true\"}) (no pipes)"),
    ("BM_RawPosixSpawn/0/real_time", "raw posix_spawn + waitpid"),
    ("BM_RawForkExec/0/real_time", "raw fork + exec + waitpid"),
]
BIG_ROWS = [
    ("BM_SubprocessRun/256/real_time", "C++ Run, parent with 256 MiB mapped"),
    ("BM_RawPosixSpawn/256/real_time", "raw posix_spawn, parent with 256 MiB"),
    ("BM_RawForkExec/256/real_time", "raw fork + exec, parent with 256 MiB"),
]
FLOOR = "BM_RawPosixSpawn/0/real_time"


def find_binary():
    subprocess.run(["bazel", "build", "-c", "opt", TARGET], check=True)
    bin_dir = subprocess.run(["bazel", "info", "-c", "opt", "bazel-bin"],
                             check=True, capture_output=True,
                             text=True).stdout.strip()
    return os.path.join(bin_dir, "lessons/subprocess/subprocess_benchmark")


def run_cpp(binary, min_time):
    """{name: (wall us, cpu us)} per start for each C++ benchmark."""
    out = subprocess.run(
        [binary, "--benchmark_format=json",
         f"--benchmark_min_time={min_time}"],
        check=True, capture_output=True, text=True).stdout
    to_us = {"ns": 1e-3, "us": 1, "ms": 1e3}
    return {b["name"]: (b["real_time"] * to_us[b["time_unit"]], b["cpu_us"])
            for b in json.loads(out)["benchmarks"]}


def cpu_seconds():
    """CPU time of this process and its reaped children, as the C++ side."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def time_python(min_time, **kwargs):
    """(wall us, cpu us) per subprocess.run(["/bin/true"], **kwargs)."""
    count = 0
    start = time.perf_counter()
    cpu_start = cpu_seconds()
    while True:
        subprocess.run(["/bin/true"], check=True, **kwargs)
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and count >= 10:
            return (elapsed / count * 1e6,
                    (cpu_seconds() - cpu_start) / count * 1e6)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", help="the built subprocess_benchmark")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min_time", type=float, default=0.2,
                        help="seconds per benchmark per round")
    args = parser.parse_args()
    binary = args.binary or find_binary()

    samples = {}
    for _ in range(args.rounds):
        for name, value in run_cpp(binary, args.min_time).items():
            samples.setdefault(name, []).append(value)
        samples.setdefault("py_capture", []).append(
            time_python(args.min_time, capture_output=True))
        samples.setdefault("py_plain", []).append(time_python(args.min_time))

    rows = CPP_ROWS + [
        ("py_capture",
         f"Python {sys.version.split()[0]} subprocess.run(capture_output=True)"),
        ("py_plain", f"Python {sys.version.split()[0]} subprocess.run()"),
    ] + BIG_ROWS
    wall = {k: statistics.median(v[0] for v in vs) for k, vs in samples.items()}
    cpu = {k: statistics.median(v[1] for v in vs) for k, vs in samples.items()}
    print(f"starting /bin/true, median of {args.rounds} rounds "
          f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)")
    print("wall = elapsed time per start; CPU = parent + child CPU time per "
          "start (less sensitive to other load)")
    print(f"| {'what':<53} | {'wall us':>7} | {'ratio':>6} | {'CPU us':>6} "
          f"| {'ratio':>6} |")
    print(f"|{'-' * 55}|{'-' * 8}:|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|")
    for key, label in rows:
        print(f"| {label:<53} | {wall[key]:>7.0f} | "
              f"{wall[key] / wall[FLOOR]:>5.2f}x | {cpu[key]:>6.0f} | "
              f"{cpu[key] / cpu[FLOOR]:>5.2f}x |")


if __name__ == "__main__":
    main()
