"""Shared pytest configuration: hypothesis profile and the derivations/ import path."""
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
DERIVATIONS = ROOT / "derivations"
if str(DERIVATIONS) not in sys.path:
    sys.path.insert(0, str(DERIVATIONS))

# Deterministic property tests: the same examples on every run and machine.
settings.register_profile("nent_ref", derandomize=True, deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("nent_ref")


def pytest_collection_modifyitems(config, items):
    """Tests that share a module- or session-scoped fixture of a test module (rendered figures, emitted
    conformance cases, a 2^20-point sample) run on one pytest-xdist worker: ``--dist loadgroup`` (set in
    setup.cfg) keeps each ``xdist_group`` together, so the fixture is built once per run, not once per
    worker (issue 22).  Every other test is distributed one by one, as with ``--dist load``."""
    import pytest
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        shared = sorted(f"{defs[-1].baseid}::{name}" for name, defs in info.name2fixturedefs.items()
                        if defs and defs[-1].scope in ("module", "package", "session") and defs[-1].baseid)
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
