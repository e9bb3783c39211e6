#!/usr/bin/env python3
"""Side-by-side costs for the queue_ipc lesson: C++ ipc::Queue and a raw pipe (from the
Google Benchmark binary) next to Python's multiprocessing.Queue and Pipe, in one run.

Usage (from the workspace root):
    bazel build -c opt //lessons/queue_ipc:queue_ipc_benchmark
    python3 tools/bench_queue_ipc.py bazel-bin/lessons/queue_ipc/queue_ipc_benchmark
    python3 tools/bench_queue_ipc.py --busy 1 bazel-bin/...   # one core kept busy

Prints a Markdown table: throughput in million messages/s (and GB/s) for 8 B, 256 B and
4 KiB messages, 1 -> 1 and 2 -> 2 processes, and the round-trip time of one 8-byte
message to a child and back; the last column is the C++ queue against the raw pipe
(throughput: how many times more messages; round trip: how many times faster).
--busy N keeps N extra processes spinning for the whole run, to see the costs on a
machine whose other core is busy. Python uses the fork start method, bytes payloads,
Queue.put/get and Connection.send_bytes/recv_bytes (the fastest Pipe calls: no pickling).
"""

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

SIZES = (8, 256, 4096)
PY_MESSAGES = {8: 200_000, 256: 200_000, 4096: 50_000}
ROUND_TRIPS = 20_000


def _queue_consumer(queue):
    while queue.get() is not None:
        pass


def _queue_producer(queue, message, count):
    for _ in range(count):
        queue.put(message)


def py_queue_throughput(size, producers, consumers):
    count = PY_MESSAGES[size] // producers * producers
    message = b"m" * size
    queue = mp.Queue()
    start = time.perf_counter()
    readers = [mp.Process(target=_queue_consumer, args=(queue,)) for _ in range(consumers)]
    writers = [mp.Process(target=_queue_producer, args=(queue, message, count // producers))
               for _ in range(producers)]
    for p in readers + writers:
        p.start()
    for p in writers:
        p.join()
    for _ in readers:
        queue.put(None)
    for p in readers:
        p.join()
    return count / (time.perf_counter() - start)


def _pipe_reader(conn, count):
    for _ in range(count):
        conn.recv_bytes()


def py_pipe_throughput(size):
    count = PY_MESSAGES[size]
    message = b"m" * size
    reader_end, writer_end = mp.Pipe(duplex=False)
    start = time.perf_counter()
    reader = mp.Process(target=_pipe_reader, args=(reader_end, count))
    reader.start()
    for _ in range(count):
        writer_end.send_bytes(message)
    reader.join()
    return count / (time.perf_counter() - start)


def _queue_echo(inbox, outbox):
    while (item := inbox.get()) is not None:
        outbox.put(item)


def py_queue_round_trip():
    inbox, outbox = mp.Queue(), mp.Queue()
    child = mp.Process(target=_queue_echo, args=(inbox, outbox))
    child.start()
    ping = b"p" * 8
    for _ in range(100):  # warm up
        inbox.put(ping)
        outbox.get()
    start = time.perf_counter()
    for _ in range(ROUND_TRIPS):
        inbox.put(ping)
        outbox.get()
    elapsed = time.perf_counter() - start
    inbox.put(None)
    child.join()
    return elapsed / ROUND_TRIPS


def _pipe_echo(conn):
    while (item := conn.recv_bytes()) != b"stop":
        conn.send_bytes(item)


def py_pipe_round_trip():
    parent, child_end = mp.Pipe()
    child = mp.Process(target=_pipe_echo, args=(child_end,))
    child.start()
    ping = b"p" * 8
    for _ in range(100):
        parent.send_bytes(ping)
        parent.recv_bytes()
    start = time.perf_counter()
    for _ in range(ROUND_TRIPS):
        parent.send_bytes(ping)
        parent.recv_bytes()
    elapsed = time.perf_counter() - start
    parent.send_bytes(b"stop")
    child.join()
    return elapsed / ROUND_TRIPS


def cpp_results(binary):
    out = subprocess.run([binary, "--benchmark_format=json"], check=True,
                         capture_output=True, text=True).stdout
    runs = json.loads(out)["benchmarks"]
    throughput, round_trip = {}, {}
    for run in runs:
        if run.get("run_type") != "iteration":
            continue
        name = run["run_name"] if "run_name" in run else run["name"]
        if name.startswith("BM_Throughput/"):
            fields = dict(part.split(":") for part in name.split("/")[1:]
                          if ":" in part)
            key = ("pipe" if fields["queue0_pipe1"] == "1" else "queue",
                   int(fields["producers"]), int(fields["bytes"]))
            throughput.setdefault(key, []).append(run["Mmsg/s"] * 1e6)
        elif name.startswith("BM_RoundTrip/"):
            transport = "pipe" if name.endswith(":1") or "pipe1:1" in name else "queue"
            round_trip[transport] = run["real_time"] * 1e-6  # microseconds -> s
    return ({k: statistics.median(v) for k, v in throughput.items()}, round_trip)


def fmt_rate(rate, size):
    if rate is None:
        return "n/a"
    gbs = rate * size / 1e9
    if size >= 256:
        return f"{rate / 1e6:.2f} M/s ({gbs:.2f} GB/s)"
    return f"{rate / 1e6:.2f} M/s"


def _spin_forever():
    while True:
        pass


def main():
    parser = argparse.ArgumentParser(
        description="Costs of ipc::Queue, a raw pipe, and Python's Queue and Pipe, side by side.")
    parser.add_argument("binary", help="the queue_ipc_benchmark binary (-c opt)")
    parser.add_argument("--busy", type=int, default=0,
                        help="extra processes kept spinning during the run")
    args = parser.parse_args()
    mp.set_start_method("fork")
    hogs = [mp.Process(target=_spin_forever, daemon=True) for _ in range(args.busy)]
    for hog in hogs:
        hog.start()
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f}; "
              f"{args.busy} busy process(es); {os.cpu_count()} CPUs", flush=True)
        cpp, cpp_rt = cpp_results(args.binary)
        print("| messages | C++ ipc::Queue | C++ raw pipe | Python mp.Queue "
              "| Python mp.Pipe | queue vs pipe |")
        print("| --- | --- | --- | --- | --- | --- |")
        for size in SIZES:
            for n in (1, 2):
                py_q = py_queue_throughput(size, n, n)
                py_p = py_pipe_throughput(size) if n == 1 else None
                queue, pipe = cpp.get(("queue", n, size)), cpp.get(("pipe", n, size))
                ratio = f"{queue / pipe:.1f}x" if queue and pipe else ""
                print(f"| {size} B, {n} -> {n} | {fmt_rate(queue, size)} "
                      f"| {fmt_rate(pipe, size)} "
                      f"| {fmt_rate(py_q, size)} | {fmt_rate(py_p, size)} | {ratio} |",
                      flush=True)
        py_q_rt, py_p_rt = py_queue_round_trip(), py_pipe_round_trip()
        print(f"| round trip, 8 B | {cpp_rt['queue'] * 1e6:.1f} us "
              f"| {cpp_rt['pipe'] * 1e6:.1f} us | {py_q_rt * 1e6:.1f} us "
              f"| {py_p_rt * 1e6:.1f} us | {cpp_rt['pipe'] / cpp_rt['queue']:.1f}x |")
    finally:
        for hog in hogs:
            hog.kill()
            hog.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
