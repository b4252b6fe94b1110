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



#: The test files that take one xdist worker longest (seconds of test time in a default run on 2 idle cores,
#: 2026-12-07: figures 34, derivations 26, docs 26, specs 23, sde 21, neural 17, rg 18, ot 15, cli 13,
#: validate 13, conformance 12, empirical 11, mixture 9), longest first.  They are collected first, so that
#: pytest-xdist (``--dist loadfile``, which hands out files in collection order) starts them first and the
#: short files fill in at the end (longest-processing-time-first scheduling); otherwise a long file handed
#: out last runs alone while the other worker idles.  The order of the tests within a file is kept.
LONG_FILES_FIRST = ("test_figures.py", "test_derivations.py", "test_docs.py", "test_specs.py", "test_sde.py",
                    "test_rg.py", "test_neural.py", "test_ot.py", "test_cli.py", "test_validate.py",
                    "test_conformance.py", "test_empirical.py", "test_mixture.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: k for k, name in enumerate(LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))      # stable: file order kept otherwise
