"""One driver body, several compiled forms, and no stale Numba cache (nent_ref.core.jit).

The hazard: Numba keys a cached kernel by module, qualified name, first line, argument types, CPU and a
hash of the bytecode, not by the compile options.  One function jitted twice, serially and with
``parallel=True``, shares one cache entry, so the second form loads the first one's machine code.  The
probe below makes the difference observable: a ``prange`` loop that records ``numba.get_thread_id()``
uses thread 0 only when compiled serially and both threads when compiled in parallel.

Each check runs in two processes sharing one cache directory: the first compiles (two specialisations
in one process), the second is fresh and loads both from the cache.  A negative control jits the same
function naively, twice, and shows the detector catches the stale form.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nent_ref.core import jit

PROBE = textwrap.dedent('''
    import numba
    import numpy as np

    from nent_ref.core.jit import specialise


    def threads_used(n):
        out = np.empty(n, dtype=np.int64)
        for i in numba.prange(n):
            acc = 0.0
            for j in range(20000):          # enough work per iteration that both threads take part
                acc += (i + j) * 1e-9
            out[i] = numba.get_thread_id() + (0 if acc >= 0.0 else 1)
        return out


    serial = specialise(threads_used, "serial")
    parallel = specialise(threads_used, "parallel", parallel=True)


    def naive_body(n):
        out = np.empty(n, dtype=np.int64)
        for i in numba.prange(n):
            acc = 0.0
            for j in range(20000):
                acc += (i + j) * 1e-9
            out[i] = numba.get_thread_id() + (0 if acc >= 0.0 else 1)
        return out


    # the hazard: one function, two option sets, one cache entry
    naive_serial = numba.njit(cache=True)(naive_body)
    naive_parallel = numba.njit(cache=True, parallel=True)(naive_body)
''')

RUN = textwrap.dedent('''
    import json
    import numba
    import numpy as np
    import probe

    # start the threading layer first: serial code calling numba.get_thread_id(), loaded from the cache,
    # reads a thread-local the layer sets up (compiling starts the layer; loading does not)
    numba.get_num_threads()
    from nent_ref.core import kernels

    import sys
    out = {}
    for name in sys.argv[1].split(","):
        f = getattr(probe, name)
        ids = sorted(set(int(i) for i in f(64)))
        out[name] = {"threads": ids, "hits": sum(f.stats.cache_hits.values()),
                     "misses": sum(f.stats.cache_misses.values())}
    if sys.argv[2] == "probe-only":
        print("RESULT " + json.dumps(out))
        raise SystemExit(0)
    # the mixture drivers: both forms, every covariance form, against the numpy twin
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3000, 30))
    means = rng.normal(size=(4, 30))
    lw = np.log(np.full(4, 0.25))
    a = rng.normal(size=(4, 30, 30)) / 6.0
    forms = {"iso": rng.uniform(0.5, 2.0, 4), "diag": rng.uniform(0.5, 2.0, (4, 30)),
             "full": a @ a.transpose(0, 2, 1) + np.eye(30)}
    worst = 0.0
    for covs in forms.values():
        ref = kernels.mixture_logpdf_score_numpy(x, lw, means, covs)
        for threaded in (False, True):
            got = kernels.mixture_logpdf_score(x, lw, means, covs, threaded=threaded)
            worst = max(worst, float(np.max(np.abs(got[0] - ref[0]) / (1 + np.abs(ref[0])))),
                        float(np.max(np.abs(got[1] - ref[1]) / (1 + np.abs(ref[1])))))
    out["mixture_worst"] = worst
    import glob, os
    out["mixture_index_files"] = sorted(os.path.basename(f) for f in glob.glob(
        os.path.join(os.environ["NUMBA_CACHE_DIR"], "**", "kernels._mixture_chunks__*.nbi"), recursive=True))
    print("RESULT " + json.dumps(out))
''')


def _process(tmp_path, names, what="all"):
    """Run RUN in a fresh interpreter on the cache in tmp_path; (return code, result or None)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), NUMBA_NUM_THREADS="2",
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", RUN, ",".join(names), what], env=env, capture_output=True,
                          text=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    return proc.returncode, (json.loads(lines[-1][len("RESULT "):]) if lines else None), proc.stderr


def _run(tmp_path, names=("serial", "parallel"), what="all"):
    rc, out, err = _process(tmp_path, names, what)
    assert rc == 0, err[-3000:]
    return out


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """The probe's two forms compiled in one process, then loaded by a fresh one (a few seconds)."""
    tmp = tmp_path_factory.mktemp("jitcache")
    (tmp / "probe.py").write_text(PROBE)
    return _run(tmp, what="probe-only"), _run(tmp, what="probe-only")


@pytest.fixture(scope="module")
def two_processes_with_mixture(tmp_path_factory):
    """As two_processes, with the mixture drivers compiled into an empty cache (about a CPU-minute)."""
    tmp = tmp_path_factory.mktemp("jitcache_mixture")
    (tmp / "probe.py").write_text(PROBE)
    return _run(tmp), _run(tmp)


def test_two_specialisations_in_one_process_each_run_their_own_form(two_processes):
    first, _ = two_processes
    assert first["serial"]["threads"] == [0]
    assert first["parallel"]["threads"] == [0, 1], "the parallel form ran on one thread"
    assert first["serial"]["misses"] >= 1 and first["parallel"]["misses"] >= 1   # both compiled here


def test_a_fresh_process_loads_each_form_from_its_own_cache_entry(two_processes):
    _, fresh = two_processes
    assert fresh["serial"]["hits"] >= 1 and fresh["parallel"]["hits"] >= 1
    assert fresh["serial"]["misses"] == 0 and fresh["parallel"]["misses"] == 0
    assert fresh["serial"]["threads"] == [0]
    assert fresh["parallel"]["threads"] == [0, 1], "the parallel form loaded the serial form's cache"


def test_negative_control_naive_double_jit_is_stale(tmp_path):
    """The detector above can fail: the same function jitted twice shares one cache entry.  After the
    serial form was saved, a fresh process's parallel form loads the serial machine code and runs on
    one thread."""
    (tmp_path / "probe.py").write_text(PROBE)
    first = _run(tmp_path, ("naive_serial",), "probe-only")
    assert first["naive_serial"]["threads"] == [0]
    fresh = _run(tmp_path, ("naive_parallel",), "probe-only")
    assert fresh["naive_parallel"]["hits"] == 1          # it found an entry: the serial form's
    assert fresh["naive_parallel"]["threads"] == [0], "Numba now keys its cache by compile options: this control no longer shows the hazard"


def test_mixture_driver_forms_have_their_own_cache_files():
    """In this process (the suite's own cache): each form of the mixture driver has its own index file."""
    import glob

    import numba

    from nent_ref.core import kernels
    x = np.random.default_rng(0).normal(size=(8, 3))
    # diagonal covariances: the one form whose threaded driver the default tests compile
    logc, param = kernels.component_terms(np.log(np.full(2, 0.5)), np.ones((2, 3)), 3)
    means = np.zeros((2, 3))
    routine = kernels.range_routine(param.ndim).address
    kernels._mixture_serial(routine, x, logc, means, param)
    kernels._mixture_parallel(routine, x, logc, means, param)
    # where Numba put them: the package's __pycache__, NUMBA_CACHE_DIR, or its user-wide fallback
    where = {getattr(getattr(f, "_cache", None), "_cache_path", None)
             for f in (kernels._mixture_serial, kernels._mixture_parallel)} - {None}
    where = where or {numba.config.CACHE_DIR or os.path.join(os.path.dirname(kernels.__file__), "__pycache__")}
    files = {os.path.basename(f).split("-")[0] for w in where
             for f in glob.glob(os.path.join(w, "**", "kernels._mixture_chunks__*.nbi"), recursive=True)}
    assert files == {"kernels._mixture_chunks__parallel", "kernels._mixture_chunks__serial"}


@pytest.mark.slow
def test_mixture_drivers_agree_with_numpy_twin_in_both_forms_and_processes(two_processes_with_mixture):
    first, fresh = two_processes_with_mixture
    # numpy twin: the same sums in another order; 1e-12 relative covers D = 30 rounding (measured ~1e-15)
    assert first["mixture_worst"] < 1e-12 and fresh["mixture_worst"] < 1e-12
    # one index file per form: the serial and parallel drivers never share a cache entry
    files = first["mixture_index_files"]
    assert [f.split("-")[0] for f in files] == ["kernels._mixture_chunks__parallel",
                                                "kernels._mixture_chunks__serial"], files
    assert files == fresh["mixture_index_files"]


def test_specialise_refuses_two_option_sets_under_one_tag():
    def body(n):  # pragma: no cover - compiled lazily, never called
        return n

    jit.specialise(body, "tag_a")
    jit.specialise(body, "tag_a")             # same options again: the same cache entry, allowed
    with pytest.raises(ValueError, match="tag 'tag_a'"):
        jit.specialise(body, "tag_a", parallel=True)
    with pytest.raises(ValueError, match="identifier"):
        jit.specialise(body, "not a tag")
    with pytest.raises(TypeError, match="py_func"):
        jit.specialise(jit.specialise(body, "tag_b"), "tag_c")


def test_by_ndim_is_for_compiled_code_and_names_itself():
    import numba

    @numba.njit
    def one(a):
        return 1

    @numba.njit
    def two(a):
        return 2

    pick = jit.by_ndim("pick", 0, {1: one, 2: two})

    @numba.njit
    def call(a):
        return pick(a)

    assert call(np.zeros(3)) == 1 and call(np.zeros((2, 2))) == 2
    with pytest.raises(TypeError, match="pick is for compiled code"):
        pick(np.zeros(3))
    with pytest.raises(numba.core.errors.TypingError):
        call(np.zeros((1, 1, 1)))             # no routine for 3 dimensions: a typing error, not a crash
    with pytest.raises(ValueError, match="table"):
        jit.by_ndim("bad", 0, {})


def test_call_void_runs_a_c_callback_by_its_address_on_the_arrays_it_is_given():
    """call_void calls a numba.cfunc through its address with 64-bit integer arguments, and pointer
    with numba.carray views the caller's arrays in it (the mixture driver's mechanism); other argument types
    are a typing error, not a call with the wrong signature."""
    import numba
    from numba.core.errors import TypingError

    def fill(out_address, n, value_bits):  # pragma: no cover - compiled
        out = numba.carray(jit.pointer(out_address, np.float64), (n,))
        for i in range(n):
            out[i] = i + value_bits * 0.5

    callback = numba.cfunc(numba.types.void(numba.types.uint64, numba.types.int64, numba.types.int64))(fill)

    @numba.njit
    def run(address, out):
        jit.call_void(address, out.ctypes.data, out.shape[0], 3)
        return out

    np.testing.assert_array_equal(run(callback.address, np.zeros(4)), np.arange(4) + 1.5)

    @numba.njit
    def wrong(address, out):
        jit.call_void(address, out.ctypes.data, np.int32(1))

    with pytest.raises(TypingError):
        wrong(callback.address, np.zeros(4))
