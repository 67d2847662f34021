#!/usr/bin/env python3
"""Start-up: from exec to the first answered request, with two plugins (hello and sample).

Usage: python3 bench/startup.py [RUNS]     (after `cargo build --release`; loopback only)
Prints the median and the slowest of RUNS (default 20) cold starts of
`target/release/runjsonrpc2 --port 0 hello sample`, each timed from just before exec to the
answer of one call to hello.greeting, and the idle RSS of the last server after its first answer
(master and workers together); once with the default process model, once with --workers 0.
"""
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BODY = b'{"jsonrpc":"2.0","method":"hello.greeting","id":1}'
REQUEST = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


def rss_kib(pid):
    """VmRSS of a process and its children."""
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    total = 0
    for p in pids:
        with open(f"/proc/{p}/status") as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return total


def once(exe, extra):
    start = time.perf_counter()
    server = subprocess.Popen([exe, "--port", "0", "-q", *extra, "hello", "sample"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().strip().rstrip("/").rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(REQUEST)
        got = b""
        while not got.endswith(b'"id":1}'):
            got += s.recv(4096)
        elapsed = (time.perf_counter() - start) * 1000
        assert b"Hello, world!" in got, got
        s.close()
        return elapsed, rss_kib(server.pid)
    finally:
        server.terminate()
        server.wait()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    exe = os.path.join(ROOT, "target/release/runjsonrpc2")
    for label, extra in [("default (master + 2 workers)", []), ("--workers 0", ["--workers", "0"])]:
        results = [once(exe, extra) for _ in range(runs)]
        times = [t for t, _ in results]
        print(f"{label}: exec to first answer, two plugins: median {statistics.median(times):.2f} ms, "
              f"slowest {max(times):.2f} ms over {runs} runs; RSS after the first answer {results[-1][1]} KiB")


if __name__ == "__main__":
    main()
