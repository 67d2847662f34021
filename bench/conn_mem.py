#!/usr/bin/env python3
"""Start-up, idle memory and memory per idle connection of one or more builds of runjsonrpc2.

Usage: python3 bench/conn_mem.py [--runs N] [--conns N] LABEL=DIR [LABEL=DIR ...]
    e.g. python3 bench/conn_mem.py new=target/release old=/work/wt-old/target/release

DIR is a target/release directory holding runjsonrpc2 and libsample.so. For each build, with
the default process model (a master and 2 workers) and with --workers 0, each server pinned to
CPU 0 (taskset -c 0) and started as `DIR/runjsonrpc2 --port 0 -q --plugin-path DIR [...] sample`:
  - start-up: exec to the answer of one `sample.add` call on a fresh connection, median and
    slowest of N runs (default 20);
  - idle RSS: VmRSS of the master and its workers after one answered call (and 0.5 s of quiet);
  - idle connections: CONNS (default 1,000) keep-alive connections, each answered once and then
    left open and silent; VmRSS and threads (master and workers) before they open and 1 s
    after, the difference per connection, and VmRSS and threads 1 s after they all close.
Prints one markdown table. Standard library only. Traffic goes to 127.0.0.1 only; every server
started here is stopped (SIGTERM, then SIGKILL after 10 s) before the next starts or on error.
"""
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

BODY = b'{"jsonrpc":"2.0","method":"sample.add","params":[1,2],"id":1}'
REQUEST = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % len(BODY)) + BODY


def tree(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid] + [int(p) for p in out.split()]


def field(pid, key):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def total(pid, key):
    """A /proc status field (VmRSS in KiB, Threads) summed over a process and its children."""
    return sum(field(p, key) for p in tree(pid))


def call(s):
    """Sends one add(1, 2) on socket s and reads the whole answer (by its Content-Length)."""
    s.sendall(REQUEST)
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before an answer")
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed mid-answer")
        body += chunk
    assert head.startswith(b"HTTP/1.1 200") and b'"result":3' in body, (head, body)


def start(exe, rel, extra):
    server = subprocess.Popen(["taskset", "-c", "0", exe, "--port", "0", "-q", "--plugin-path", rel, *extra, "sample"],
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    port = int(line.split()[-1].strip().rstrip("/").rsplit(":", 1)[1])
    return server, port


def stop(server):
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def startup_ms(exe, rel, extra):
    t = time.perf_counter()
    server, port = start(exe, rel, extra)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            call(s)
        return (time.perf_counter() - t) * 1000
    finally:
        stop(server)


def idle(exe, rel, extra, conns):
    server, port = start(exe, rel, extra)
    opened = []
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            call(s)
        time.sleep(0.5)
        rss0, threads0 = total(server.pid, "VmRSS"), total(server.pid, "Threads")
        for _ in range(conns):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            opened.append(s)
            call(s)  # answered once, then left open and silent
        time.sleep(1)
        rss1, threads1 = total(server.pid, "VmRSS"), total(server.pid, "Threads")
        for s in opened:
            s.close()
        opened = []
        time.sleep(1)
        rss2, threads2 = total(server.pid, "VmRSS"), total(server.pid, "Threads")
        return rss0, threads0, rss1, threads1, rss2, threads2
    finally:
        for s in opened:
            s.close()
        stop(server)


def main():
    args = sys.argv[1:]
    runs, conns = 20, 1000
    while args and args[0].startswith("--"):
        opt, value = args[0], int(args[1])
        args = args[2:]
        if opt == "--runs":
            runs = value
        elif opt == "--conns":
            conns = value
        else:
            sys.exit(f"bench/conn_mem.py: unknown option {opt}")
    if not args:
        sys.exit(__doc__)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"| build | process model | start-up median ms (slowest, {runs} runs) | idle RSS KiB (after one call) "
          f"| threads | RSS KiB with {conns:,} idle connections | threads | KiB per connection | RSS KiB 1 s after they close | threads |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for spec in args:
        label, rel = spec.split("=", 1)
        rel = os.path.abspath(rel)
        exe = os.path.join(rel, "runjsonrpc2")
        for model, extra in [("default (master + 2 workers)", []), ("--workers 0", ["--workers", "0"])]:
            times = [startup_ms(exe, rel, extra) for _ in range(runs)]
            rss0, threads0, rss1, threads1, rss2, threads2 = idle(exe, rel, extra, conns)
            print(f"| {label} | {model} | {statistics.median(times):.2f} ({max(times):.2f}) | {rss0} | {threads0} "
                  f"| {rss1} | {threads1} | {(rss1 - rss0) / conns:.1f} | {rss2} | {threads2} |", flush=True)


if __name__ == "__main__":
    main()
