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
import os
import subprocess
import sys
import threading
import time

N = 1_000_000


def per_op_ns(fn, ops_per_n=1, n=N, repeats=5):
    """Best of `repeats` runs of fn(n): (wall ns, CPU ns) per increment.

    fn(n) does n * ops_per_n increments in all (its threads together), the
    same way Google Benchmark counts iterations over all threads.
    """
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter_ns(), time.process_time_ns()
        fn(n)
        ops = n * ops_per_n
        best_wall = min(best_wall, (time.perf_counter_ns() - wall) / ops)
        best_cpu = min(best_cpu, (time.process_time_ns() - cpu) / ops)
    return best_wall, best_cpu


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


def py_acquire_release(n):
    lock = threading.Lock()
    acquire, release = lock.acquire, lock.release  # no attribute lookups
    for _ in range(n):
        acquire()
        release()


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
    # Google Benchmark divides by the iterations of all threads together.
    rows = {b["name"]: (b["real_time"], b["cpu_time"])
            for b in parsed["benchmarks"]}
    return rows, parsed["context"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cpp_benchmark", help="path to locks_benchmark")
    args = parser.parse_args()
    if not os.access(args.cpp_benchmark, os.X_OK):
        sys.exit(f"error: {args.cpp_benchmark} is not an executable; build it "
                 "first: bazel build -c opt //lessons/locks:locks_benchmark")

    cpp, context = run_cpp(args.cpp_benchmark)
    py = {
        "plain increment": per_op_ns(py_plain),
        "threading.Lock, uncontended": per_op_ns(py_lock_uncontended),
        "acquire+release only": per_op_ns(py_acquire_release),
        "threading.Lock, 2 threads": per_op_ns(py_lock_two_threads, 2),
    }

    def cpp_row(name):
        for key, value in cpp.items():
            if key.startswith(name):
                return value
        return (float("nan"), float("nan"))

    table = [
        ("C++ plain increment (no lock)", cpp_row("BM_PlainIncrement")),
        ("C++ std::mutex, uncontended", cpp_row("BM_MutexIncrement/real_time/threads:1")),
        ("C++ std::mutex, contended by 2 threads", cpp_row("BM_MutexIncrement/real_time/threads:2")),
        ("C++ std::atomic fetch_add, 1 thread", cpp_row("BM_AtomicIncrement/real_time/threads:1")),
        ("C++ std::atomic fetch_add, 2 threads", cpp_row("BM_AtomicIncrement/real_time/threads:2")),
        ("C++ per-thread counters merged, 2 threads", cpp_row("BM_PerThreadCountersMerged/real_time/threads:2")),
        ("Python plain increment (no lock)", py["plain increment"]),
        ("Python threading.Lock, uncontended", py["threading.Lock, uncontended"]),
        ("Python Lock acquire()+release() only", py["acquire+release only"]),
        ("Python threading.Lock, 2 threads", py["threading.Lock, 2 threads"]),
    ]
    base = cpp_row("BM_MutexIncrement/real_time/threads:1")[1]
    load = ", ".join(f"{x:.1f}" for x in context.get("load_avg", []))
    print(f"{context.get('num_cpus', '?')} CPUs, load average {load}, "
          f"Python {sys.version.split()[0]}")
    print("ns per increment (all threads' increments counted together); the "
          "ratio uses CPU time")
    print(f"| {'operation (one increment)':42} | {'wall ns':>8} | {'CPU ns':>8}"
          f" | {'x std::mutex':>12} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 10}|{'-' * 14}|")
    for name, (wall, cpu) in table:
        print(f"| {name:42} | {wall:8.1f} | {cpu:8.1f} | {cpu / base:12.2f} |")


if __name__ == "__main__":
    main()
