#!/usr/bin/env python3
"""Clients that trickle their bodies: what they do to other clients' calls, with and without
nginx (deploy/nginx.conf) in front.

Usage: python3 bench/trickle.py [SECONDS]   (after `cargo build --release`; needs nginx;
loopback only; about 4 x SECONDS + 10 s)

For N in (16, 200) trickling clients (each announces a 4 KiB body and sends one byte a
second; 200 is more than the 2 x 64 call threads of a default server), first straight to `target/release/runjsonrpc2 --no-prefix sample` (default: a master
and 2 workers), then through nginx: the median and the slowest of the calls a separate client
makes one after another for SECONDS (default 5) while they trickle ("inf": a call got no
answer within 10 s).
"""
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BODY = b'{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}'
REQUEST = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call_ms(port, timeout=10):
    """One call's time in ms; infinity when no answer came within `timeout` seconds."""
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    s.sendall(REQUEST)
    got = b""
    try:
        while not got.endswith(b'"id":1}'):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except TimeoutError:
        return float("inf")
    finally:
        s.close()
    return (time.perf_counter() - t) * 1000


def trickle(port, n, stop):
    socks = []
    for _ in range(n):
        # From another loopback address than the measured client: nginx limits connections
        # per client address (64), and the measured client is another client.
        s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n")
        socks.append(s)
    while not stop.is_set():
        for s in socks:
            try:
                s.send(b" ")
            except OSError:
                pass
        stop.wait(1)
    for s in socks:
        s.close()


def measure(port, n, seconds):
    stop = threading.Event()
    t = threading.Thread(target=trickle, args=(port, n, stop))
    t.start()
    time.sleep(1.5)
    times = []
    end = time.time() + seconds
    while time.time() < end:
        times.append(call_ms(port))
        if times[-1] == float("inf"):
            break  # stalled: no answer within 10 s
    stop.set()
    t.join()
    return statistics.median(times), max(times), len(times)


def nginx_conf(upstream, port):
    with open(os.path.join(ROOT, "deploy/nginx.conf")) as f:
        lines = []
        for line in f:
            code = line.strip().lstrip("#").strip()
            if code.startswith("server 127.0.0.1:"):
                if not line.strip().startswith("#"):
                    lines.append(f"        server {upstream} max_fails=1 fail_timeout=2s;\n")
            elif code.startswith("listen "):
                lines.append(f"        listen 127.0.0.1:{port};\n")
            else:
                lines.append(line)
    return "".join(lines)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    exe = os.path.join(ROOT, "target/release/runjsonrpc2")
    server = subprocess.Popen([exe, "--port", "0", "-q", "--no-prefix", "--plugin-path", os.path.dirname(exe), "sample"],
                              stdout=subprocess.PIPE, text=True)
    upstream = re.search(r"http://([^/]+)/", server.stdout.readline()).group(1)
    prefix = tempfile.mkdtemp(prefix="rj2-trickle-")
    nginx_port = free_port()
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write(nginx_conf(upstream, nginx_port))
    nginx = subprocess.Popen(["nginx", "-p", prefix, "-c", "nginx.conf", "-e", "stderr", "-g", "daemon off; pid nginx.pid;"],
                             cwd="/")
    while not os.path.exists(os.path.join(prefix, "nginx.pid")):
        time.sleep(0.01)
    try:
        direct_port = int(upstream.rsplit(":", 1)[1])
        print(f"{'trickling clients':>18} | {'direct: median ms':>18} | {'slowest':>8} | {'nginx: median ms':>17} | {'slowest':>8}")
        for n in (16, 200):
            d = measure(direct_port, n, seconds)
            g = measure(nginx_port, n, seconds)
            print(f"{n:>18} | {d[0]:>18.2f} | {d[1]:>8.1f} | {g[0]:>17.2f} | {g[1]:>8.1f}")
    finally:
        nginx.terminate()
        nginx.wait()
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
