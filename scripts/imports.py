#!/usr/bin/env python3
"""Checks the crate's module structure: no import cycle, no source file over 500 lines.

Reads the `crate::...`, `super::...` and child-module paths in runjsonrpc2/src (or the
source directories given), builds two kinds of graph: one between the crate's top-level
modules, and one between the files of each directory module (server/, master/, ...), and
reports every cycle (the modules in it, and the line behind each edge) and every file over
the limit. Exits 1 if there is any, 0 otherwise.

One kind of cycle is reported without failing: a file's `super::` import of an item its
parent module (`mod.rs`) defines, where the parent declares that file as its child (a
module and its parts are one unit). Test code (`#[cfg(test)]` modules, inline or in files
of their own) is not read: it may reach anywhere. Standard library only.
"""

import os
import re
import sys

MAX_LINES = 500
ROOTS = {"lib.rs", "main.rs"}


def strip(text):
    """Blanks comments, string and char literals, keeping lines (and so line numbers)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = '"' + hashes
            j = text.find(end, i + 2 + len(hashes))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])[^']{0,8}'", text[i:i + 12]) and not re.match(r"'[A-Za-z_][A-Za-z0-9_]*[^'A-Za-z0-9_]", text[i:i + 40]):
            j = text.find("'", i + 2 if text[i + 1] == "\\" else i + 1)
            out.append("' '")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_test_blocks(text):
    """Blanks `#[cfg(test)] mod name { ... }` blocks, keeping lines."""
    for m in reversed(list(re.finditer(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", text))):
        depth, j = 0, m.end() - 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        text = text[:m.start()] + "\n" * text.count("\n", m.start(), j + 1) + text[j + 1:]
    return text


class File:
    def __init__(self, src, rel):
        self.rel = rel
        parts = rel[:-3].split("/")
        if parts[-1] == "mod":
            parts = parts[:-1]
        self.is_mod_rs = rel.endswith("mod.rs") or rel in ROOTS
        self.module = [] if rel in ROOTS else parts  # the module path it defines
        with open(os.path.join(src, rel), encoding="utf-8") as f:
            self.raw = f.read()
        self.lines = self.raw.count("\n") + (not self.raw.endswith("\n"))
        self.code = drop_test_blocks(strip(self.raw))
        # Child modules declared here, and files included for tests with #[path].
        self.children = set(re.findall(r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", self.code))
        self.test_paths = set()
        for m in re.finditer(r"#\[cfg\(test\)\]\s*#\[path\s*=\s*\"([^\"]+)\"\]", self.raw):
            self.test_paths.add(os.path.normpath(os.path.join(os.path.dirname(rel), m.group(1))))


def read_paths(code):
    """Yields (line, path segments) for each `crate::`/`super::`/`self::` path, braces expanded one level."""
    for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::(?:super|\w+))*)(::\{([^}]*)\})?", code):
        line = code.count("\n", 0, m.start()) + 1
        head = m.group(1).split("::")
        if len(head) == 1 and m.group(3) is None:
            continue  # `&self`, `pub(crate)`: not a path
        if m.group(3) is not None:
            for item in m.group(3).split(","):
                item = item.strip().split(" as ")[0].strip()
                if item:
                    yield line, head + item.split("::")
        else:
            yield line, head


def resolve(f, segs):
    """The absolute module path (list) a path starting at `crate`/`super`/`self` names, as far as it goes."""
    base = list(f.module)
    i = 0
    if segs[0] == "crate":
        base, i = [], 1
    elif segs[0] == "self":
        i = 1
    while i < len(segs) and segs[i] == "super":
        base = base[:-1]
        i += 1
    return base, segs[i:], segs[0] == "super" or "super" in segs[:i]


def main(argv):
    srcs = argv[1:] or [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runjsonrpc2", "src")]
    failed = False
    for src in srcs:
        src = os.path.normpath(src)
        files = {}
        for dirpath, _, names in os.walk(src):
            for name in names:
                if name.endswith(".rs"):
                    rel = os.path.relpath(os.path.join(dirpath, name), src)
                    files[rel] = File(src, rel)
        tests = set().union(*(f.test_paths for f in files.values()))
        modules = {tuple(f.module): f for f in files.values() if f.rel not in tests}
        for f in sorted(files.values(), key=lambda f: f.rel):
            if f.lines > MAX_LINES:
                print(f"{src}/{f.rel}: {f.lines} lines, over {MAX_LINES}")
                failed = True
        # Edges: (graph, from, to) -> (evidence, parent-import?)
        edges = {}

        def add(graph, a, b, where, parent):
            if a != b:
                old = edges.get((graph, a, b))
                if old is None or (old[1] and not parent):
                    edges[(graph, a, b)] = (where, parent)

        for f in files.values():
            if f.rel in tests or not f.module:
                continue
            refs = list(read_paths(f.code))
            if f.is_mod_rs:  # `child::x` in a mod.rs names its own child modules
                for m in re.finditer(r"(?<![\w:])(\w+)::", f.code):
                    if m.group(1) in f.children:
                        refs.append((f.code.count("\n", 0, m.start()) + 1, ["self", m.group(1)]))
            for line, segs in refs:
                base, rest, via_super = resolve(f, segs)
                target = list(base)
                for seg in rest:  # as deep as the modules go
                    if tuple(target + [seg]) in modules:
                        target.append(seg)
                    else:
                        break
                if not target:
                    continue
                where = f"{f.rel}:{line}"
                if target[0] != f.module[0]:
                    add("crate", f.module[0], target[0], where, False)
                    continue
                # Within one top-level module: an edge between the parts of the directory
                # module both are in (a `mod.rs` stands for its directory's own items).
                mine, theirs = f.module, target
                common = 0
                while common < min(len(mine), len(theirs)) and mine[common] == theirs[common]:
                    common += 1
                prefix = mine[:common]
                a = "::".join(mine[: common + 1])
                b = "::".join(theirs[: common + 1])
                parent = via_super and theirs == prefix
                add("::".join(prefix), a, b, where, parent)
        for graph in sorted({g for g, _, _ in edges}):
            out = {}
            for (g, a, b), (where, parent) in edges.items():
                if g == graph:
                    out.setdefault(a, {})[b] = (where, parent)
                    out.setdefault(b, {})
            strict = [c for c in sccs({a: {b for b, (_, p) in o.items() if not p} for a, o in out.items()}) if len(c) > 1]
            loose = [c for c in sccs({a: set(o) for a, o in out.items()}) if len(c) > 1]
            loose = [c for c in loose if not any(set(c) <= set(s) for s in strict)]
            for scc, kind in [(c, "cycle") for c in strict] + [(c, "cycle through parent-module imports (reported, not failing)") for c in loose]:
                print(f"[{graph}] {kind}: {', '.join(sorted(scc))}")
                for a in sorted(scc):
                    for b, (where, p) in sorted(out[a].items()):
                        if b in scc and (kind != "cycle" or not p):
                            note = "  (super:: import of the parent)" if p else ""
                            print(f"    {a} -> {b}  at {where}{note}")
            failed = failed or bool(strict)
    if not failed:
        print("imports: no cycle, no file over 500 lines")
    return 1 if failed else 0


def sccs(graph):
    """Tarjan's strongly connected components."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv))
