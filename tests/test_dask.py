"""Scale-out through dask.distributed (issue 15): a suite run through ``--scheduler ADDRESS`` gives
the in-process numbers bit for bit.

Marked ``dask``: excluded from the default run, run by ``pytest -m dask`` (CI installs the ``dask``
extra in a later step); skipped when dask.distributed is not installed.  The cluster is a
``LocalCluster`` on the loopback interface (127.0.0.1), worker processes, no dashboard, started and
shut down inside the test.
"""

import pytest

pytestmark = pytest.mark.dask

distributed = pytest.importorskip("dask.distributed")

from nent_ref.quantities import mixture_entropy  # noqa: E402
from nent_ref.suites import tables  # noqa: E402
from nent_ref.suites.executor import TableOptions, executor_for  # noqa: E402

#: small enough for CI: two Monte Carlo blocks per row
N_SAMPLES = 2 * mixture_entropy.BLOCK


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as c:
        yield c


@pytest.fixture
def small_mixture_suite(monkeypatch):
    """The ``mixture`` suite cut down to D = 3 and 6, two processes, N_SAMPLES per Monte Carlo row."""
    procs = tables.processes()
    monkeypatch.setattr(tables, "MIXTURE_DIMS", (3, 6))
    monkeypatch.setattr(tables, "processes", lambda: {k: procs[k] for k in ("vp16", "sl")})
    full_specs = tables.mixture_specs

    def small_specs(options=None):
        specs = full_specs(options)
        for spec in specs:
            spec["accuracy"]["n_samples"] = N_SAMPLES
        return specs

    monkeypatch.setattr(tables, "mixture_specs", small_specs)


def _tasks_seen(cluster):
    return sum(tp.states.get("memory", 0) + tp.states.get("released", 0) + tp.states.get("forgotten", 0)
               for tp in cluster.scheduler.task_prefixes.values())


def test_mixture_suite_through_local_cluster_is_bitwise_in_process(cluster, small_mixture_suite):
    ref = tables.table_rows("mixture", TableOptions(seed=5, quiet=True))
    before = len(cluster.scheduler.task_prefixes)
    got = tables.table_rows("mixture", TableOptions(seed=5, quiet=True, scheduler=cluster.scheduler_address))
    # the Monte Carlo blocks really ran on the cluster
    assert len(cluster.scheduler.task_prefixes) > before or _tasks_seen(cluster) > 0
    assert len(got) == len(ref) == 4
    for a, b in zip(ref, got):
        assert "monte-carlo" in a["method"]
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == b[key], (key, a[key], b[key])       # bitwise: same floats, same strings


def test_total_entropy_through_scheduler_address_equals_in_process(cluster):
    import nent_ref as nr
    from nent_ref import cases
    mix = cases.paper_mixture(4)
    proc = nr.VP(0.1, 16.0)
    ref = nr.total_entropy(mix, proc, seed=[7, 1], n_samples=3 * mixture_entropy.BLOCK + 11)
    with executor_for(TableOptions(scheduler=cluster.scheduler_address)) as ex:
        assert ex is not None
        for tasks in (1, 3):
            est = nr.total_entropy(mix, proc, seed=[7, 1], n_samples=3 * mixture_entropy.BLOCK + 11,
                                   executor=ex, tasks=tasks)
            assert est.value == ref.value and est.stderr == ref.stderr and est.n_samples == ref.n_samples


def test_unreachable_scheduler_is_a_clear_error():
    """A scheduler address nobody listens on fails fast with dask's own OSError/TimeoutError, not a hang."""
    import dask
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises((OSError, TimeoutError)):
            with executor_for(TableOptions(scheduler="tcp://127.0.0.1:9")):
                pass
