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


