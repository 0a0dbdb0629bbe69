"""docs/architecture.md is true: its package table lists every package of the tree and what each
imports, and no two packages or modules import each other, directly or round a circle."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("glasses_core", "deploy", "converters", "conformance", "data_scraper", "research_and_train_nn")


def modules() -> dict[str, Path]:
    """Every first-party module by dotted name (a package by its own name)."""
    found = {}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = modules()


def package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0] or name


def imported(name: str) -> set[str]:
    """First-party modules ``name`` imports, at its top or inside functions (both tie modules)."""
    out = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package_of(name).split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in out if m in MODULES and m != name}


def package_imports() -> dict[str, set[str]]:
    graph = {package_of(m): set() for m in MODULES}
    for module in MODULES:
        graph[package_of(module)].update(package_of(d) for d in imported(module))
    return {p: deps - {p} for p, deps in graph.items()}


def documented() -> dict[str, set[str]]:
    """The package table of docs/architecture.md: package -> the packages it says it imports."""
    rows = {}
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`[\w.]+`", cells[0]):
            rows[cells[0].strip("`")] = set(re.findall(r"`([\w.]+)`", cells[2]))
    return rows


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_architecture_page_lists_every_package_and_what_it_imports():
    doc, tree = documented(), package_imports()
    assert set(doc) == set(tree), (f"packages only in the tree: {sorted(set(tree) - set(doc))}; "
                                   f"only in docs/architecture.md: {sorted(set(doc) - set(tree))}")
    wrong = {p: (sorted(doc[p]), sorted(tree[p])) for p in tree if doc[p] != tree[p]}
    assert not wrong, f"package: (documented, real) imports: {wrong}"


def test_no_import_circles_between_packages_or_modules():
    assert cycles(package_imports()) == []
    assert cycles({m: imported(m) for m in MODULES}) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_imports_no_front_end():
    core = [m for m in MODULES if m.split(".")[0] == "glasses_core"]
    assert all(d.split(".")[0] == "glasses_core" for m in core for d in imported(m))
