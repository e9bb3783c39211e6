#!/usr/bin/env python3
"""What a lock costs, C++ and Python side by side, in one run.

Usage:
    bazel build -c opt //lessons/locks:locks_benchmark
    python3 tools/bench_locks.py bazel-bin/lessons/locks/locks_benchmark

Runs the C++ Google Benchmark binary (JSON output), then times the same
operations with Python's threading.Lock, and prints one table of nanoseconds
per increment, with each row's ratio to an uncontended std::mutex.
"""

import argparse
import json
import subprocess
import sys
import threading
import time

N = 1_000_000


def per_op_ns(fn, n=N, repeats=5):
    """Best of `repeats` runs of fn(n), in ns per operation."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn(n)
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


def py_plain(n):
    counter = 0
    for _ in range(n):
        counter += 1


def py_lock_uncontended(n):
    lock = threading.Lock()
    counter = 0
    for _ in range(n):
        with lock:
            counter += 1


def py_lock_two_threads(n):
    lock = threading.Lock()
    state = {"counter": 0}

    def work():
        for _ in range(n):
            with lock:
                state["counter"] += 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["counter"] == 2 * n


def run_cpp(binary):
    out = subprocess.run(
        [binary, "--benchmark_format=json", "--benchmark_min_time=0.2"],
        check=True, capture_output=True, text=True).stdout
    parsed = json.loads(out)
    # Wall-clock ns per increment (the C++ benchmarks use UseRealTime()).
    rows = {b["name"]: b["real_time"] for b in parsed["benchmarks"]}
    return rows, parsed["context"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cpp_benchmark", help="path to locks_benchmark")
    args = parser.parse_args()

    cpp, context = run_cpp(args.cpp_benchmark)
    py = {
        "plain increment": per_op_ns(py_plain),
        "threading.Lock, uncontended": per_op_ns(py_lock_uncontended),
        # Two threads do N each; report wall time per increment per thread.
        "threading.Lock, 2 threads": per_op_ns(py_lock_two_threads),
    }

    def cpp_row(name):
        for key, value in cpp.items():
            if key.startswith(name):
                return value
        return float("nan")

    table = [
        ("C++ plain increment (no lock)", cpp_row("BM_PlainIncrement")),
        ("C++ std::mutex, uncontended", cpp_row("BM_MutexIncrement/real_time/threads:1")),
        ("C++ std::mutex, contended by 2 threads", cpp_row("BM_MutexIncrement/real_time/threads:2")),
        ("C++ std::atomic fetch_add, 1 thread", cpp_row("BM_AtomicIncrement/real_time/threads:1")),
        ("C++ std::atomic fetch_add, 2 threads", cpp_row("BM_AtomicIncrement/real_time/threads:2")),
        ("C++ per-thread counters merged, 2 threads", cpp_row("BM_PerThreadCountersMerged/real_time/threads:2")),
        ("Python plain increment (no lock)", py["plain increment"]),
        ("Python threading.Lock, uncontended", py["threading.Lock, uncontended"]),
        ("Python threading.Lock, 2 threads", py["threading.Lock, 2 threads"]),
    ]
    base = cpp_row("BM_MutexIncrement/real_time/threads:1")
    load = ", ".join(f"{x:.1f}" for x in context.get("load_avg", []))
    print(f"{context.get('num_cpus', '?')} CPUs, load average {load}, "
          f"Python {sys.version.split()[0]}; wall-clock ns per increment")
    print(f"| {'operation (one increment)':42} | {'ns':>8} | {'x std::mutex':>12} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 14}|")
    for name, ns in table:
        print(f"| {name:42} | {ns:8.1f} | {ns / base:12.2f} |")


if __name__ == "__main__":
    main()
