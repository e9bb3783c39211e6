#!/usr/bin/env python3
"""bench_manager.py: what CPython's multiprocessing.managers costs, for the
manager lesson's table. Run by //lessons/manager:manager_benchmark at the end
of its run (so the numbers come from the same machine, same minute), or alone:

    python3 tools/bench_manager.py [--cpp_server HOST:PORT] [--n 2000]

Measures, all on 127.0.0.1:
  - put+get round trips through a BaseManager queue proxy (Python server,
    Python client), from 1 and 4 client processes: microseconds per RPC;
  - a raw TCP ping-pong in Python (the floor Python itself can reach);
  - connect + first proxy (connect(), get_task_queue(), qsize()), and how much
    of it is the ~40 ms Nagle/delayed-ACK stall;
  - with --cpp_server: the same Python client against the C++ ManagerServer.
"""
import argparse
import multiprocessing
import queue
import socket
import struct
import threading
import time
from multiprocessing.managers import BaseManager

KEY = b'abc'


class ServerManager(BaseManager):
    pass


_queues = [queue.Queue() for _ in range(4)]
ServerManager.register('get_task_queue', callable=lambda: _queues[0])
for _i in range(4):
    ServerManager.register('q%d' % _i, callable=lambda i=_i: _queues[i])


class ClientManager(BaseManager):
    pass


ClientManager.register('get_task_queue')
for _i in range(4):
    ClientManager.register('q%d' % _i)


def put_get(address, index, n):
    """Seconds for n put+get pairs on queue q<index> (after warm-up)."""
    m = ClientManager(address=address, authkey=KEY)
    m.connect()
    q = getattr(m, 'q%d' % index)()
    for i in range(50):
        q.put(i)
        q.get()
    start = time.perf_counter()
    for i in range(n):
        q.put(i)
        q.get()
    return time.perf_counter() - start


def rpc_table(label, address, n):
    for clients in (1, 4):
        with multiprocessing.get_context('fork').Pool(clients) as pool:
            times = pool.starmap(put_get, [(address, i, n) for i in range(clients)])
        rpcs = 2 * n * clients
        per_rpc_us = max(times) / (2 * n) * 1e6
        print('  %-44s clients=%d  %7.1f us/RPC  %8.0f RPC/s' %
              (label, clients, per_rpc_us, rpcs / max(times)), flush=True)


def connect_first_proxy(address, runs=5):
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        m = ClientManager(address=address, authkey=KEY)
        m.connect()
        m.get_task_queue().qsize()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def raw_tcp_pingpong(n):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()

    def echo():
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = conn.recv(4 + 64)
            if not data:
                return
            conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    client = socket.create_connection(listener.getsockname())
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = struct.pack('!i', 64) + b'x' * 64
    start = time.perf_counter()
    for _ in range(n):
        client.sendall(msg)
        got = 0
        while got < len(msg):
            got += len(client.recv(len(msg) - got))
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--cpp_server', help='host:port of a C++ ManagerServer '
                        'with queues q0..q3 and get_task_queue, key abc')
    parser.add_argument('--n', type=int, default=2000)
    args = parser.parse_args()

    print('  %-44s           %7.1f us/round trip (echo thread in Python)' %
          ('raw TCP ping-pong, Python', raw_tcp_pingpong(args.n) * 1e6),
          flush=True)
    server = ServerManager(address=('127.0.0.1', 0), authkey=KEY)
    server.start()
    try:
        rpc_table('CPython BaseManager (Python server+client)',
                  server.address, args.n)
        print('  %-44s           %7.1f ms' %
              ('connect+first proxy, CPython server',
               connect_first_proxy(server.address) * 1e3), flush=True)
    finally:
        server.shutdown()
    if args.cpp_server:
        host, port = args.cpp_server.rsplit(':', 1)
        address = (host, int(port))
        rpc_table('Python client -> C++ ManagerServer', address, args.n)
        print('  %-44s           %7.1f ms' %
              ('connect+first proxy, C++ server',
               connect_first_proxy(address) * 1e3), flush=True)


if __name__ == '__main__':
    main()
