#!/usr/bin/env python3
"""Start-up against the size of a plugin's table: a generated C plugin with N methods.

Usage: python3 bench/methods.py [N...]   (default 1000 10000 100000; after `cargo build --release
-p runjsonrpc2`; RUNJSONRPC2=PATH times another binary; needs cc; runs nothing on the network)

For each N it writes a C plugin whose table has N methods (m0 .. m{N-1}, all implemented by one
exported procedure, so the compiler's work does not grow with N), builds it with cc, and times,
median of 5 runs each: `runjsonrpc2 call PLUGIN m0 []` (read the table, register every method,
make one call) and `runjsonrpc2 list --json PLUGIN` (the same, then the OpenRPC document of
every method, as rpc.discover answers it). It prints the times and the growth per method between
consecutive sizes: flat per-method cost means start-up is linear in the table.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("RUNJSONRPC2") or os.path.join(ROOT, "target", "release", "runjsonrpc2")
HEADER = os.path.join(ROOT, "plugin-api", "include")


def plugin(n, dir):
    """Writes and builds a plugin with `n` methods; returns its path."""
    source = os.path.join(dir, f"many{n}.c")
    with open(source, "w") as f:
        f.write('#include "runjsonrpc2.h"\n#include <string.h>\n')
        f.write("RJ2_EXPORT int32_t rj2_f(const rj2_str *p, size_t n, rj2_str e, const rj2_writer *out);\n")
        f.write("int32_t rj2_f(const rj2_str *p, size_t n, rj2_str e, const rj2_writer *out) {\n")
        f.write("    (void)p; (void)n; (void)e; out->write(out->ctx, \"1\", 1); return RJ2_OK;\n}\n")
        f.write("#define S(s) { s, sizeof(s) - 1 }\n")
        f.write("static const rj2_method methods[] = {\n")
        for i in range(n):
            f.write(f'    {{ S("m{i}"), S("rj2_f"), S(""), NULL, 0, RJ2_METHOD_RAW, RJ2_NONE, RJ2_NONE }},\n')
        f.write("};\n")
        f.write("RJ2_EXPORT const rj2_plugin runjsonrpc2_plugin;\n")
        f.write("const rj2_plugin runjsonrpc2_plugin = { RJ2_PLUGIN_HEAD, S(\"many\"), S(\"1\"), methods,"
                " sizeof(methods) / sizeof(methods[0]) };\n")
    out = os.path.join(dir, f"libmany{n}.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O0", "-I", HEADER, source, "-o", out], check=True)
    return out


def timed(args, runs=5):
    """The median wall-clock seconds of `runs` runs of `args`, each checked to succeed."""
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took.append(time.perf_counter() - start)
    return statistics.median(took)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000, 100000]
    rows = []
    with tempfile.TemporaryDirectory() as dir:
        for n in sizes:
            path = plugin(n, dir)
            call = timed([BIN, "call", path, "m0", "[]"])
            listed = timed([BIN, "list", "--json", path])
            rows.append((n, call, listed))
    print("| methods | call m0 (ms) | list --json (ms) | call: us per method added | list: us per method added |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    previous = None
    for n, call, listed in rows:
        growth = ("", "")
        if previous:
            dn = n - previous[0]
            growth = (f"{(call - previous[1]) / dn * 1e6:.2f}", f"{(listed - previous[2]) / dn * 1e6:.2f}")
        print(f"| {n:,} | {call * 1e3:.1f} | {listed * 1e3:.1f} | {growth[0]} | {growth[1]} |")
        previous = (n, call, listed)


if __name__ == "__main__":
    main()
