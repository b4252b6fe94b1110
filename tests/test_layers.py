"""The package stands in layers (issue 14): dependencies point one way, and the folders show it.

    layer 0  nent_ref/core/        processes, data types, Estimate, input checks
    layer 1  nent_ref/quantities/  entropy production, bounds, neural entropy, SDE, OT, speed limit
             nent_ref/rg/, nent_ref/statmech/   companion topics (they import core only)
    layer 2  nent_ref/suites/      cases and specs, tables, figures, validation report, executors
    layer 3  nent_ref/cli.py, nent_ref/__init__.py (the public face), nent_ref/__main__.py

The graph is read from the source with ``ast``, every import included (also those inside functions,
which is where cycles hide).  Checked: no module imports a higher layer; topics import only core;
no module takes another module's private (underscore) name; no import cycles between modules.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "nent_ref"

LAYERS = {"core": 0, "quantities": 1, "rg": 1, "statmech": 1, "suites": 2}
TOPICS = {"rg", "statmech"}
TOP_FILES = {"__init__.py": 3, "cli.py": 3, "__main__.py": 3, "_version.py": 0}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


MODULES = _modules()


def _layer(module: str):
    parts = module.split(".")
    if len(parts) == 1:                                  # the package face
        return 3, None
    if len(parts) == 2 and parts[1] + ".py" in TOP_FILES:
        return TOP_FILES[parts[1] + ".py"], None
    group = parts[1]
    return LAYERS.get(group), group


def _resolve(importer: str, is_package: bool, node) -> list[tuple[str, str | None]]:
    """(target module, imported name or None) pairs of one import statement, package modules only."""
    out = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == "nent_ref":
                out.append((alias.name, None))
        return out
    base_parts = importer.split(".") if is_package else importer.split(".")[:-1]
    if node.level:
        base_parts = base_parts[: len(base_parts) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != "nent_ref":
        return out
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in MODULES:                                 # `from pkg import module`
            out.append((sub, None))
        else:
            out.append((base, alias.name))
    return out


def _edges():
    edges = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target, imported in _resolve(name, is_package, node):
                    edges.append((name, target, imported, node.lineno))
    return edges


class _Edges:
    """The import edges of the package, parsed on first use (~1.7 s: every xdist worker collects this file,
    one runs it)."""

    def __init__(self):
        self._list = None

    def __iter__(self):
        if self._list is None:
            self._list = _edges()
        return iter(self._list)


EDGES = _Edges()


def test_every_module_sits_in_a_layer():
    homeless = [m for m in MODULES if _layer(m)[0] is None]
    assert not homeless, f"modules outside the layer folders {sorted(LAYERS)}: {homeless}"


def test_no_module_imports_a_higher_layer():
    bad = []
    for src, dst, _, line in EDGES:
        (ls, gs), (ld, gd) = _layer(src), _layer(dst)
        if ld is None or ls is None:
            continue
        if ld > ls:
            bad.append(f"{src}:{line} imports {dst} (layer {ls} -> {ld})")
        elif gs in TOPICS and gd not in (gs, "core", None) and ld == 1:
            bad.append(f"{src}:{line} imports {dst} (a topic imports only core)")
        elif gs == "quantities" and gd in TOPICS:
            bad.append(f"{src}:{line} imports {dst} (quantities do not depend on the companion topics)")
    assert not bad, "\n".join(bad)


def test_no_module_takes_another_modules_private_names():
    bad = []
    for src, dst, imported, line in EDGES:
        if imported is not None and imported.startswith("_") and not imported.startswith("__") and dst != src:
            bad.append(f"{src}:{line} takes {dst}.{imported}")
        last = dst.rsplit(".", 1)[-1]
        if imported is None and last.startswith("_") and not last.startswith("__"):
            # a private module is private to its own package
            if dst.rsplit(".", 1)[0] != src.rsplit(".", 1)[0] and dst.rsplit(".", 1)[0] != src:
                bad.append(f"{src}:{line} imports the private module {dst} of another package")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for src, dst, _, _ in EDGES:
        if dst in graph and dst != src and not dst.startswith(src + "."):   # a package importing its own modules is fine
            graph[src].add(dst)
    # Tarjan's strongly connected components
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                comps.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not comps, f"import cycles: {comps}"


@pytest.mark.parametrize("fixture", ["upward", "private", "cycle"])
def test_the_checks_can_fail(fixture):
    # the checks above catch each kind of violation on a synthetic graph
    fake = {"upward": [("nent_ref.core.data", "nent_ref.suites.cases", None, 1)],
            "private": [("nent_ref.quantities.neural", "nent_ref.quantities.entropy", "_spectrum", 1)],
            "cycle": [("nent_ref.core.data", "nent_ref.core.estimate", None, 1),
                      ("nent_ref.core.estimate", "nent_ref.core.data", None, 1)]}[fixture]
    globals_ = globals()
    saved_edges, saved_modules = globals_["EDGES"], globals_["MODULES"]
    globals_["EDGES"] = fake
    globals_["MODULES"] = {m: None for e in fake for m in e[:2]}
    try:
        check = {"upward": test_no_module_imports_a_higher_layer,
                 "private": test_no_module_takes_another_modules_private_names,
                 "cycle": test_no_import_cycles}[fixture]
        with pytest.raises(AssertionError):
            check()
    finally:
        globals_["EDGES"], globals_["MODULES"] = saved_edges, saved_modules
