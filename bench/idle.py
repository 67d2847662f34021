#!/usr/bin/env python3
"""Idle and slow clients: what 1,000 idle keep-alive connections and 200 clients trickling one
byte a second do to a new client's answer time and to the server's memory and threads.

Usage: python3 bench/idle.py        (after `cargo build --release`; loopback only, about 20 s)
"""
import os
import socket
import statistics
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BODY = b'{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}'
REQUEST = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])


def new_client_ms(port, n=20):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(REQUEST)
        got = b""
        while not got.endswith(b'"id":1}'):
            got += s.recv(4096)
        s.close()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def report(label, pid, port):
    med, worst = new_client_ms(port)
    print(f"| {label} | {med:.2f} | {worst:.2f} | {status(pid, 'VmRSS')} | {status(pid, 'Threads')} |")


def main():
    exe = os.path.join(ROOT, "target/release/runjsonrpc2")
    server = subprocess.Popen([exe, "--port", "0", "--no-prefix", "-q", "sample"], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().strip().rstrip("/").rsplit(":", 1)[1])
    idle, slow = [], []
    stop = threading.Event()
    try:
        print("| state | new client median ms | worst ms | RSS KiB | threads |")
        print("| --- | ---: | ---: | ---: | ---: |")
        report("quiet", server.pid, port)
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(REQUEST)
            s.recv(4096)
            idle.append(s)  # answered once, then left open and silent
        report("1,000 idle keep-alive connections", server.pid, port)

        def trickle(s):
            for b in REQUEST:
                if stop.wait(1.0):
                    return
                try:
                    s.send(bytes([b]))
                except OSError:
                    return

        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", port))
            slow.append(s)
            threading.Thread(target=trickle, args=(s,), daemon=True).start()
        time.sleep(5)
        report("+ 200 clients sending 1 byte/s (after 5 s)", server.pid, port)
        time.sleep(5)
        report("+ the same after 10 s", server.pid, port)
    finally:
        stop.set()
        for s in idle + slow:
            s.close()
        time.sleep(1)
        report("all closed again", server.pid, port)
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
