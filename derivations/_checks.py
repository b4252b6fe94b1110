"""The verification helper shared by the derivation scripts (each runs as its own process, or all of them in
one interpreter by tools/run_derivations.py, which empties :data:`FAILURES` before and after each script).

``check(name, expr)`` records a verification: ``expr`` must simplify to zero (or be True).  A script
ends with ``sys.exit(1)`` when :data:`FAILURES` is not empty, so tests/test_derivations.py sees it fail.
"""
from __future__ import annotations

import sympy as sp

FAILURES: list[str] = []


def check(name: str, expr) -> None:
    """Print ``[ok]`` or ``[FAIL]`` for ``name``; a failure is recorded in :data:`FAILURES`."""
    ok = expr is sp.true or expr is True or sp.simplify(expr) == 0
    print(f"[{'ok' if ok else 'FAIL'}] {name}")
    if not ok:
        FAILURES.append(name)
