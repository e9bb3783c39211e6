#!/usr/bin/env python3
"""Python's multiprocessing next to the course's Process and ProcessPool.

Runs, in one go on this machine: the Python equivalents (multiprocessing.Process
start+join, Pool.apply_async pipelined, Pool.apply, Pool.map with chunksize 1
and 1000), then the C++ benchmarks //lessons/process:process_benchmark and
//lessons/pool:pool_benchmark (bazel run -c opt), and prints one table with
the ratios and the issue's targets.

Usage (from the repository root):
    python3 tools/bench_process_pool.py            # about a minute
    python3 tools/bench_process_pool.py --quick    # fewer repetitions
"""

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

BATCH = 1000  # tasks per measurement, as in pool_benchmark.cc


def nop(x=None):
    return x


def best_of(repeats, fn):
    """Smallest time of `repeats` calls of fn(), in seconds (least noisy)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def python_numbers(repeats):
    ctx = multiprocessing.get_context("fork")  # like the C++ side: fork
    results = {}

    def start_join(n=50):
        for _ in range(n):
            p = ctx.Process(target=nop)
            p.start()
            p.join()

    results["process_start_join"] = best_of(repeats, start_join) / 50

    def fork_waitpid(n=50):
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)

    results["raw_fork_waitpid"] = best_of(repeats, fork_waitpid) / 50

    with ctx.Pool(2) as pool:
        pool.map(nop, range(100))  # warm up

        def pipelined():
            pending = [pool.apply_async(nop, (i,)) for i in range(BATCH)]
            for r in pending:
                r.wait()

        results["pool_apply_async"] = best_of(repeats, pipelined) / BATCH

        def round_trips(n=200):
            for i in range(n):
                pool.apply(nop, (i,))

        results["pool_apply"] = best_of(repeats, round_trips) / 200
        items = list(range(BATCH))
        results["pool_map_1"] = (
            best_of(repeats, lambda: pool.map(nop, items, chunksize=1)) / BATCH)
        results["pool_map_1000"] = (
            best_of(repeats, lambda: pool.map(nop, items, chunksize=BATCH)) /
            BATCH)
    return results


def run_benchmark(target, min_time, repetitions):
    """Runs a C++ benchmark with bazel run -c opt.

    Returns {name: the fastest of its repetitions}, best-of like the Python
    side: on a shared machine the minimum is the least disturbed run.
    """
    cmd = [
        "bazel", "run", "-c", "opt", "--noshow_progress",
        "--ui_event_filters=-info,-stderr", target, "--",
        "--benchmark_format=json", "--benchmark_min_time=%s" % min_time,
        "--benchmark_repetitions=%d" % repetitions
    ]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    data = json.loads(out[out.index("{"):])
    best = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        name = b.get("run_name", b["name"])
        if name not in best or b["real_time"] < best[name]["real_time"]:
            best[name] = b
    return best


def seconds(benchmark):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[benchmark["time_unit"]]
    return benchmark["real_time"] * scale


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    min_time = "0.05" if args.quick else "0.2"

    load_before = os.getloadavg()[0]
    print("Python %s, %d CPUs; measuring Python..." %
          (sys.version.split()[0], os.cpu_count()), file=sys.stderr)
    py = python_numbers(repeats)
    print("measuring C++ (bazel run -c opt)...", file=sys.stderr)
    cc = {}
    for target in ("//lessons/process:process_benchmark",
                   "//lessons/pool:pool_benchmark"):
        cc.update(run_benchmark(target, min_time, repeats))

    def per_task(name):
        return cc[name]["us_per_task"] * 1e-6

    rows = [
        ("Process start+join (no-op child)", py["process_start_join"],
         seconds(cc["BM_ProcessStartJoin/real_time"])),
        ("raw fork + waitpid", py["raw_fork_waitpid"],
         seconds(cc["BM_RawForkWaitpid/real_time"])),
        ("Pool, pipelined ApplyAsync no-op, per task", py["pool_apply_async"],
         per_task("BM_PoolApplyAsync/real_time")),
        ("Pool, synchronous Apply no-op", py["pool_apply"],
         per_task("BM_PoolApply/real_time")),
        ("Pool, Map chunksize 1, per item", py["pool_map_1"],
         per_task("BM_PoolMap/chunksize:1/real_time")),
        ("Pool, Map chunksize 1000, per item", py["pool_map_1000"],
         per_task("BM_PoolMap/chunksize:1000/real_time")),
        ("pipe ping-pong, 32 bytes (C++ only)", None,
         per_task("BM_PipePingPong/real_time")),
    ]
    print("Python %s, %d CPUs, load average %.1f before / %.1f after "
          "(best of %d repetitions each side)" %
          (sys.version.split()[0], os.cpu_count(), load_before,
           os.getloadavg()[0], repeats))
    print()
    print("| operation | Python multiprocessing | C++ Multitask | Python / C++ |")
    print("|---|---:|---:|---:|")
    for name, p, c in rows:
        ps = "%.2f us" % (p * 1e6) if p is not None else "-"
        ratio = "%.1fx" % (p / c) if p is not None else "-"
        print("| %s | %s | %.2f us | %s |" % (name, ps, c * 1e6, ratio))

    process = seconds(cc["BM_ProcessStartJoin/real_time"])
    raw = seconds(cc["BM_RawForkWaitpid/real_time"])
    apply = per_task("BM_PoolApply/real_time")
    ping = per_task("BM_PipePingPong/real_time")
    pipelined = per_task("BM_PoolApplyAsync/real_time")
    print()
    print("Targets (issue 3), C++ side:")
    print("- Process start+join / raw fork+waitpid = %.2fx (target <= 1.2x)" %
          (process / raw))
    print("- pipelined ApplyAsync no-op = %.2f us per task (target <= 2 us)" %
          (pipelined * 1e6))
    print("- synchronous Apply / pipe ping-pong = %.2fx (target <= 1.3x)" %
          (apply / ping))


if __name__ == "__main__":
    main()
