"""The test run's own set-up (tests/conftest.py): BLAS threads of parallel workers."""
import os

import pytest

import conftest


@pytest.mark.parametrize("environ, cores, expected", [
    ({}, 2, None),                                                       # not under xdist: leave BLAS alone
    ({"PYTEST_XDIST_WORKER_COUNT": "2"}, 2, 1),                          # -n 2 on 2 cores: one thread each
    ({"PYTEST_XDIST_WORKER_COUNT": "2"}, 8, 4),
    ({"PYTEST_XDIST_WORKER_COUNT": "4"}, 2, 1),                          # never below one
    ({"PYTEST_XDIST_WORKER_COUNT": "2", "OPENBLAS_NUM_THREADS": "2"}, 2, None),   # the user's choice stands
    ({"PYTEST_XDIST_WORKER_COUNT": "2", "OMP_NUM_THREADS": "3"}, 2, None),
    ({"PYTEST_XDIST_WORKER_COUNT": "2", "GOTO_NUM_THREADS": "1"}, 2, None),
])
def test_blas_threads_per_worker(environ, cores, expected):
    assert conftest.blas_threads_per_worker(environ, cores) == expected


def test_the_cores_default_to_this_process_s_own():
    """Without ``cores`` the rule counts the cores this process may run on (os.cpu_count() where the
    platform has no affinity mask, as on macOS)."""
    n = conftest.blas_threads_per_worker({"PYTEST_XDIST_WORKER_COUNT": "1"})
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert n == max(1, expected)


def test_this_worker_runs_the_blas_threads_it_was_given():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy as np
    np.ones((64, 64)) @ np.ones((64, 64))                                # make sure numpy's BLAS is loaded
    blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert blas
    if conftest._per_worker is None:
        pytest.skip("not a pytest-xdist worker, or the BLAS thread count was set by the user")
    assert os.environ["OPENBLAS_NUM_THREADS"] == str(conftest._per_worker)
    assert set(blas) == {conftest._per_worker}, blas
