#!/usr/bin/env python3
"""bench/client.py: the shell client against other ways of calling from a script.

10,000 calls of sample.add against the release server (`--workers 2`, the default), made
three ways, each ROUNDS times (the median is reported):

- `runjsonrpc2 call --url URL -` reading the 10,000 request lines from a file (one process,
  one kept-alive connection);
- one `curl` process per call: 1,000 calls are timed and the time scaled by 10;
- one Python `requests` Session (kept-alive), or http.client on one connection when requests
  is not installed (the output says which).

Build first: nice -n 10 cargo build --release -p runjsonrpc2 -p sample --lib --bins
Run: python3 bench/client.py   (ROUNDS=3 by default)
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
BIN = os.path.join(RELEASE, "runjsonrpc2")
CALLS = 10_000
CURL_CALLS = 1_000
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def body(i):
    return '{"jsonrpc":"2.0","method":"sample.add","params":[%d,1],"id":%d}' % (i, i)


def answer(i):
    return '{"jsonrpc":"2.0","result":%d,"id":%d}' % (i + 1, i)


def shell_client(url, requests_file):
    start = time.perf_counter()
    with open(requests_file, "rb") as stdin:
        out = subprocess.run([BIN, "call", "--url", url, "-"], stdin=stdin, capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    lines = out.stdout.decode().splitlines()
    assert lines == [answer(i) for i in range(CALLS)], "call --url - answered wrongly"
    return elapsed


def curl(url):
    start = time.perf_counter()
    for i in range(CURL_CALLS):
        out = subprocess.run(
            ["curl", "-s", "-H", "Content-Type: application/json", "-d", body(i), url],
            capture_output=True,
            check=True,
        )
        assert out.stdout.decode() == answer(i), out.stdout
    return (time.perf_counter() - start) * CALLS / CURL_CALLS


def python_session(url):
    try:
        import requests
    except ImportError:
        requests = None
    start = time.perf_counter()
    if requests is not None:
        with requests.Session() as session:
            headers = {"Content-Type": "application/json"}
            for i in range(CALLS):
                r = session.post(url, data=body(i), headers=headers)
                assert r.text == answer(i), r.text
        kind = "requests %s Session" % requests.__version__
    else:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        for i in range(CALLS):
            conn.request("POST", "/", body=body(i), headers={"Content-Type": "application/json"})
            text = conn.getresponse().read().decode()
            assert text == answer(i), text
        conn.close()
        kind = "http.client, one connection (requests is not installed)"
    return time.perf_counter() - start, kind


def main():
    if not os.access(BIN, os.X_OK):
        sys.exit("no %s: build it first (see this file's docstring)" % BIN)
    server = subprocess.Popen(
        [BIN, "--port", "0", "-q", "--plugin-path", RELEASE, "sample"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        line = server.stdout.readline().decode()
        assert line.startswith("listening on http://"), line
        url = line.split()[-1]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("".join(body(i) + "\n" for i in range(CALLS)))
            requests_file = f.name
        rows = {"call --url URL - (one process)": [], "curl, one process per call (1,000 timed, x10)": []}
        session_kind = None
        session_times = []
        for _ in range(ROUNDS):
            rows["call --url URL - (one process)"].append(shell_client(url, requests_file))
            rows["curl, one process per call (1,000 timed, x10)"].append(curl(url))
            elapsed, session_kind = python_session(url)
            session_times.append(elapsed)
        rows[session_kind] = session_times
        os.unlink(requests_file)
    finally:
        server.terminate()
        server.wait()
    base = statistics.median(rows["call --url URL - (one process)"])
    print("%d calls of sample.add, median of %d rounds" % (CALLS, ROUNDS))
    print("| client | wall clock (s) | rounds | calls/s | vs call --url - |")
    print("| --- | --- | --- | --- | --- |")
    for name, times in rows.items():
        median = statistics.median(times)
        spread = "%.2f-%.2f" % (min(times), max(times))
        print("| %s | %.2f | %s | %.0f | %.1fx |" % (name, median, spread, CALLS / median, median / base))


if __name__ == "__main__":
    main()
