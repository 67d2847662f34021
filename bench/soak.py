#!/usr/bin/env python3
"""Soak: mixed load on a local runjsonrpc2 for a while; nothing may be lost, memory must stay flat.

Usage: python3 bench/soak.py [SECONDS] [THREADS]      (defaults: 60 s, 8 threads)

Builds nothing: run `cargo build --release` first. Starts
`target/release/runjsonrpc2 --port 0 --no-prefix sample` (loopback only; a master and its
workers, whose RSS is summed), then each thread
loops over keep-alive HTTP: single calls, notifications, batches, invalid JSON, invalid
requests, panicking procedures and application errors. Every call that has an id must get
exactly one answer carrying its own id and the right result or error code; notifications
must get 204 and nothing else. Prints requests sent and answered, calls checked, mismatches,
and the server's RSS after warm-up and at the end. Exits 1 on any mismatch or lost answer.
"""
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kib(pid):
    """VmRSS of a process and its children (a master and its workers), in KiB."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0
    for p in [str(pid)] + children:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (FileNotFoundError, StopIteration):
            pass
    return total


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.answered = self.calls = self.notifications = 0
        self.mismatches = []

    def add(self, sent, answered, calls, notes, bad):
        with self.lock:
            self.sent += sent
            self.answered += answered
            self.calls += calls
            self.notifications += notes
            self.mismatches.extend(bad)


def worker(port, deadline, stats, seed):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = answered = calls = notes = 0
    bad = []
    n = 0

    def post(body):
        nonlocal sent, answered
        sent += 1
        conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        answered += 1
        return r.status, data

    while time.time() < deadline:
        n += 1
        ident = f"{seed}-{n}"
        kind = rng.randrange(7)
        if kind == 0:  # a single call
            a, b = rng.randrange(10**6), rng.randrange(10**6)
            status, data = post(json.dumps({"jsonrpc": "2.0", "method": "add", "params": [a, b], "id": ident}))
            calls += 1
            got = json.loads(data)
            if status != 200 or got.get("id") != ident or got.get("result") != a + b:
                bad.append(("call", ident, status, data[:200]))
        elif kind == 1:  # a notification
            status, data = post(json.dumps({"jsonrpc": "2.0", "method": "update", "params": [1, 2]}))
            notes += 1
            if status != 204 or data:
                bad.append(("notification", status, data[:200]))
        elif kind == 2:  # a batch: calls, a notification, an invalid member
            members = [{"jsonrpc": "2.0", "method": "subtract", "params": [i, 1], "id": f"{ident}.{i}"} for i in range(10)]
            members.append({"jsonrpc": "2.0", "method": "foobar"})
            members.append(7)
            rng.shuffle(members)
            status, data = post(json.dumps(members))
            calls += 11
            got = json.loads(data)
            ids = sorted(str(m.get("id")) for m in got)
            want = sorted([f"{ident}.{i}" for i in range(10)] + ["None"])
            results = {m["id"]: m.get("result") for m in got if m.get("id")}
            if status != 200 or ids != want or any(results[f"{ident}.{i}"] != i - 1 for i in range(10)):
                bad.append(("batch", ident, status, data[:200]))
        elif kind == 3:  # invalid JSON
            status, data = post('{"jsonrpc": "2.0", "method": "add", "params": [1, 2')
            calls += 1
            if status != 200 or json.loads(data)["error"]["code"] != -32700:
                bad.append(("parse", status, data[:200]))
        elif kind == 4:  # an invalid request with an id
            status, data = post(json.dumps({"jsonrpc": "2.0", "method": 5, "id": ident}))
            calls += 1
            got = json.loads(data)
            if got["error"]["code"] != -32600 or got["id"] != ident:
                bad.append(("invalid", ident, data[:200]))
        elif kind == 5:  # a panicking procedure, then a call that must still work
            status, data = post(json.dumps({"jsonrpc": "2.0", "method": "boom", "id": ident}))
            calls += 1
            got = json.loads(data)
            if got["error"]["code"] != -32603 or got["id"] != ident:
                bad.append(("panic", ident, data[:200]))
        else:  # an application error
            status, data = post(json.dumps({"jsonrpc": "2.0", "method": "fail", "params": ["soak"], "id": ident}))
            calls += 1
            got = json.loads(data)
            if got["error"]["code"] != -32000 or got["id"] != ident or got["error"]["message"] != "soak":
                bad.append(("fail", ident, data[:200]))
    conn.close()
    stats.add(sent, answered, calls, notes, bad)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    exe = os.path.join(ROOT, "target/release/runjsonrpc2")
    server = subprocess.Popen([exe, "--port", "0", "--no-prefix", "-q", "sample"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
        warm = Stats()
        worker(port, time.time() + 2, warm, 0)
        start_rss = rss_kib(server.pid)
        stats = Stats()
        deadline = time.time() + seconds
        pool = [threading.Thread(target=worker, args=(port, deadline, stats, i + 1)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        end_rss = rss_kib(server.pid)
    finally:
        server.terminate()
        code = server.wait(timeout=30)
    print(f"soak: {seconds:.0f} s, {threads} threads")
    print(f"requests sent {stats.sent}, answered {stats.answered}, lost {stats.sent - stats.answered}")
    print(f"calls checked {stats.calls}, notifications {stats.notifications}, mismatches {len(stats.mismatches)}")
    print(f"server RSS after warm-up {start_rss} KiB, at the end {end_rss} KiB, growth {end_rss - start_rss} KiB")
    print(f"server exit code after SIGTERM: {code}")
    for m in stats.mismatches[:10]:
        print("mismatch:", m)
    ok = not stats.mismatches and stats.sent == stats.answered and code == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
