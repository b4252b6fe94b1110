"""Shared pytest configuration: bytecode caches, hypothesis profile and the derivations/ import path."""
import sys

# Write bytecode caches (Python's default) even where PYTHONDONTWRITEBYTECODE is set, as in some containers.
# The run starts about 45 Python subprocesses (the CLI, the doc pages run as scripts, fresh-process import
# checks) and two workers that assertion-rewrite every test module; without the caches each of them compiles
# the package's sources again, about 0.4 s a process. The caches go to __pycache__/ beside the sources
# (ignored by git), where Numba's caches already are.
sys.dont_write_bytecode = False
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


