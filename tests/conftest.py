"""Shared pytest configuration: bytecode caches, BLAS threads of parallel workers, hypothesis profile and
the derivations/ import path."""
import os
import sys
from pathlib import Path

# Write bytecode caches (Python's default) even where PYTHONDONTWRITEBYTECODE is set, as in some containers.
# The run starts about 45 Python subprocesses (the CLI, the doc pages run as scripts, fresh-process import
# checks) and two workers that assertion-rewrite every test module; without the caches each of them compiles
# the package's sources again, about 0.4 s a process. The caches go to __pycache__/ beside the sources
# (ignored by git), where Numba's caches already are.
sys.dont_write_bytecode = False

#: Variables by which a user sets the BLAS thread count (OpenBLAS reads them in this order).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def blas_threads_per_worker(environ=os.environ, cores=None):
    """BLAS threads for each pytest-xdist worker: the cores shared out among the workers (at least 1), or
    None (leave BLAS alone) outside xdist or where the user set a BLAS thread count.  With ``-n 2`` on 2
    cores each worker otherwise runs 2 OpenBLAS threads, whose busy-waiting after every product takes CPU
    from the other worker (6-9 % of the CPU of a cold run in paired runs on 2 cores)."""
    workers = environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers or any(name in environ for name in BLAS_THREAD_VARIABLES):
        return None
    if cores is None:                         # the cores this process may run on (all of them on macOS)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // int(workers))


_per_worker = blas_threads_per_worker()
if _per_worker is not None:
    os.environ["OPENBLAS_NUM_THREADS"] = str(_per_worker)     # read when numpy loads, here and in subprocesses
    if "numpy" in sys.modules:                                # loaded already (by a plugin): set it now
        try:
            from threadpoolctl import threadpool_limits
            threadpool_limits(_per_worker, user_api="blas")
        except ImportError:                   # only the run's speed depends on it
            pass

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
DERIVATIONS = ROOT / "derivations"
if str(DERIVATIONS) not in sys.path:
    sys.path.insert(0, str(DERIVATIONS))

# Deterministic property tests: the same examples on every run and machine.
settings.register_profile("nent_ref", derandomize=True, deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("nent_ref")


