#!/usr/bin/env python3
"""Import cycles between the modules of a Rust crate: `scripts/module-cycles.py [--layers]
[SRC_DIR...]` (default: the console's three crates, console/src, console/ops/src and console/ui/src). Exits 1 and
prints each cycle when there is one, 0 otherwise; `--layers` also prints the modules by layer
(each imports only from the layers below it, the crate root's items aside); `--self-test`
checks that a planted cycle is found and a child's use of its parent is not.

A module is a file. An edge A -> B is any path in A's code (not its `#[cfg(test)]` part) that
names B: `crate::b::...`, `super::b::...`, `self::b::...` or, in a directory module, a child
by name (`b::Thing`). A module may use what its ancestors declare (`super::Poller` in
agents/groups.rs is not an edge to agents/mod.rs): that is how Rust modules share their
parent's types. Every other cycle counts: agents/actions.rs -> agents/load.rs ->
agents/actions.rs is one, and so is agents/mod.rs -> target.rs -> agents/mod.rs.
"""

import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
# `use a::{b, c::d}` groups: each name in the braces is a path under the prefix.
GROUP = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^{}]*)\}")


def modules(src):
    """Module path (tuple of names) -> file, for every .rs file under src."""
    out = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main") and (rel[-1] == "mod" or len(rel) == 1):
                rel = rel[:-1]
            out[tuple(rel)] = os.path.join(root, f)
    return out


def code(path):
    """The file without its comments and its test module."""
    text = open(path, encoding="utf-8").read()
    cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    return text


def is_test_file(mod):
    return bool(mod) and (mod[-1] == "tests" or mod[-1].endswith("_tests"))


def resolve(mods, here, kind, names):
    """The module a path names: the longest known module prefix of the absolute path."""
    if kind == "crate":
        base = ()
    elif kind == "self":
        base = here
    else:  # super: one level up per leading `super`
        base = here[:-1]
        while names and names[0] == "super":
            base = base[:-1]
            names = names[1:]
    full = base + tuple(names)
    for n in range(len(full), -1, -1):
        if full[:n] in mods:
            return full[:n]
    return None


def edges(mods):
    out = {m: set() for m in mods}
    for mod, path in mods.items():
        if is_test_file(mod):
            continue
        text = code(path)
        found = []
        for kind, prefix, inner in GROUP.findall(text):
            head = [p for p in prefix.split("::") if p]
            for item in inner.split(","):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self":
                    found.append((kind, head + [p for p in item.split("::") if p]))
                elif item == "self":
                    found.append((kind, head))
        for kind, rest in PATH.findall(text):
            found.append((kind, [p for p in rest.split("::") if p]))
        # A directory module names its children directly (`groups::GroupsPoller::new`).
        children = {m[-1] for m in mods if len(m) == len(mod) + 1 and m[: len(mod)] == mod}
        for child in children:
            if re.search(rf"(?<![:\w]){re.escape(child)}::", text):
                found.append(("self", [child]))
        for kind, names in found:
            target = resolve(mods, mod, kind, names)
            if target is None or target == mod or is_test_file(target):
                continue
            if mod[: len(target)] == target:
                continue  # an ancestor: using what the parent declares
            out[mod].add(target)
    return out


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def name(mod):
    return "::".join(mod) or "crate"


def layers(graph):
    """Modules by layer: 0 imports nothing, each other layer imports only from layers below."""
    level = {}

    def depth(v):
        if v not in level:
            level[v] = 0
            level[v] = 1 + max((depth(w) for w in graph[v]), default=-1)
        return level[v]

    for v in graph:
        if not is_test_file(v):
            depth(v)
    out = {}
    for v, n in level.items():
        out.setdefault(n, []).append(name(v))
    return [sorted(out[n]) for n in sorted(out)]


def self_test():
    """The check finds a planted cycle and lets a child use its parent: it does not pass by
    looking at nothing."""
    import tempfile

    files = {
        "main.rs": "mod a;\nmod b;\nmod dir;\nfn main() { a::f(); }\n",
        "a.rs": "use crate::b::g;\npub fn f() { g() }\n",
        "b.rs": "pub fn g() { crate::a::f() }\n",
        "dir/mod.rs": "mod kid;\npub struct Shared;\npub fn run() { kid::go() }\n",
        "dir/kid.rs": "use super::Shared;\npub fn go() { let _ = Shared; }\n",
    }
    with tempfile.TemporaryDirectory() as src:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
            with open(os.path.join(src, rel), "w", encoding="utf-8") as f:
                f.write(text)
        found = cycles(edges(modules(src)))
    if found != [[("a",), ("b",)]]:
        print(f"module-cycles self-test: expected exactly the a <-> b cycle, found {found}")
        return 1
    return 0


def main(argv):
    if "--self-test" in argv:
        return self_test()
    show_layers = "--layers" in argv
    roots = [a for a in argv if a != "--layers"] or ["console/src", "console/ops/src", "console/ui/src"]
    bad = 0
    for src in roots:
        mods = modules(src)
        graph = edges(mods)
        found = cycles(graph)
        count = sum(len(v) for v in graph.values())
        if not found:
            print(f"{src}: {len(mods)} modules, {count} imports between them, no cycle")
            if show_layers:
                for n, members in reversed(list(enumerate(layers(graph)))):
                    print(f"  {n:>2}  {' '.join(members)}")
            continue
        bad += 1
        print(f"{src}: {len(found)} import cycle(s):")
        for comp in found:
            members = set(comp)
            print("  " + ", ".join(name(m) for m in comp))
            for m in comp:
                inside = sorted(name(t) for t in graph[m] if t in members)
                print(f"    {name(m)} -> {', '.join(inside)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
