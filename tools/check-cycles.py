#!/usr/bin/env python3
"""No circles between the files of one folder of src/, read from their imports.

A file's imports are its `use` paths (groups expanded) and the `crate::…`/`super::…` paths in
its code, outside comments and its `#[cfg(test)] mod tests`. Each names a module of src/. Two
files of one folder that reach each other (directly or through other files of that folder)
form a circle; a file of a sub-folder counts as that sub-folder.

    tools/check-cycles.py [SRC]          exit 1 and list the circles, if any
    tools/check-cycles.py --self-test    plant a circle in a copy and make sure it is caught
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def modules(src):
    """Module path (a tuple of names) -> file, for every .rs file under src."""
    mods = {}
    for folder, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = tuple(os.path.relpath(path, src)[:-3].split(os.sep))
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            mods[parts] = path
    return mods


def expand(use):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    use = use.strip()
    m = re.match(r"^(.*?)::\{(.*)\}$", use, re.S)
    if not m:
        return [use]
    prefix, inner = m.groups()
    parts, depth, cur = [], 0, ""
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [f"{prefix}::{e}" for p in parts if p.strip() for e in expand(p)]


def target(mods, here, segs):
    """The module a path from module `here` names (the longest module prefix), or None."""
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] == "super":
        base, segs = list(here[:-1]), segs[1:]
        while segs and segs[0] == "super":
            base, segs = base[:-1], segs[1:]
    elif segs[0] == "self":
        base, segs = list(here), segs[1:]
    else:
        return None
    full = base + segs
    for n in range(len(full), 0, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return None


def edges(mods):
    out = {}
    for here, path in mods.items():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)[0]
        text = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("//"))
        found = set()
        paths = []
        for use in re.findall(r"\buse\s+([^;]+);", text):
            for e in expand(use.replace("\n", " ")):
                paths.append(e.split(" as ")[0].strip())
        paths += re.findall(r"\b((?:crate|super)(?:::\w+)+)", text)
        for p in paths:
            segs = [s for s in p.split("::") if s]
            if segs:
                t = target(mods, here, segs)
                if t is not None and t != here:
                    found.add(t)
        out[here] = found
    return out


def circles(src):
    mods = modules(src)
    graph = edges(mods)
    result = []
    for folder in sorted({m[:-1] for m in mods if m}):
        files = [m for m in mods if m[:-1] == folder]
        depth = len(folder) + 1
        g = {
            f: sorted({t[:depth] for t in graph[f] if t[:depth] in files} - {f})
            for f in files
        }
        # Tarjan's strongly connected components.
        index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

        def visit(v):
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in g[v]:
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
                if len(comp) > 1:
                    comps.append(sorted("/".join(c) for c in comp))

        for v in sorted(g):
            if v not in index:
                visit(v)
        for c in comps:
            result.append(("/".join(folder) or ".", c))
    return result


def self_test(here):
    src = os.path.join(here, "..", "src")
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "src")
        shutil.copytree(src, copy)
        clean = subprocess.run([sys.executable, __file__, copy], capture_output=True)
        if clean.returncode != 0:
            print("self-test: the clean tree fails the check", file=sys.stderr)
            return 1
        # store/consent already uses store/biometrics; make biometrics use consent back.
        with open(os.path.join(copy, "store", "biometrics.rs"), "a", encoding="utf-8") as f:
            f.write("\n#[allow(unused_imports)]\nuse super::consent::DEFAULT_PURPOSE;\n")
        planted = subprocess.run([sys.executable, __file__, copy], capture_output=True, text=True)
        if planted.returncode == 0 or "store/biometrics" not in planted.stderr:
            print("self-test: a planted circle was NOT caught", file=sys.stderr)
            return 1
    print("circle check self-test: the planted circle was caught")
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.argv[1:] == ["--self-test"]:
        return self_test(here)
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "src")
    found = circles(src)
    for folder, files in found:
        print(f"circle between files of {folder}/: {' -> '.join(files)}", file=sys.stderr)
    if found:
        print("(move what they share into a file both use)", file=sys.stderr)
        return 1
    print("circle check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
