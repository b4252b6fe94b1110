"""Shared helpers of the benchmarks: timing, machine report, BLAS configurations, GEMM-form baselines.

Timing: :func:`interleaved` takes the best of ``repeat`` rounds in which every candidate runs once,
in turn, so a candidate and its baseline see the same machine load; ratios are taken within one run.

Machine report: :func:`machine_line` prints the BLAS library and the kernel it selected (threadpoolctl),
``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` as set for this process, the Numba threading layer and
the load average, which every figure on a shared machine must carry.

BLAS configurations: OpenBLAS reads ``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``) once, when numpy
is imported, so a configuration can only be chosen for a whole process.  :func:`blas_environment`
builds the environment of a subprocess for either configuration; ``benchmarks/run_all.py`` runs every
benchmark with numpy baselines in both.

Targets: :func:`target` prints one ``target: {json}`` line per goal of issue 22 where a benchmark takes
its same-run ratio; ``benchmarks/run_all.py --write`` collects them into ``benchmarks/RESULTS.md``
(:func:`meets` decides "met" from the value and the goal, in the benchmark and in the writer alike).

Baselines: the best plain implementation a user would write, not a loop: the GEMM forms below
(:func:`mixture_gemm_numpy`, :func:`empirical_two_gemm_floor`, :func:`reverse_sde_numpy`).
"""
from __future__ import annotations

import json
import math
import os
import platform
import re
import time

import numpy as np

#: environment variables of OpenBLAS's kernel choice that the machine may set
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- machine report
def blas_kernel() -> str:
    """``"openblas 0.3.x SkylakeX, 2 threads"`` as threadpoolctl sees the BLAS numpy loaded."""
    try:
        import threadpoolctl
    except ImportError:
        return "unknown (install threadpoolctl: pip install -e '.[bench]')"
    infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    if not infos:
        return "no BLAS found by threadpoolctl"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture', '?')}, "
                     f"{i.get('num_threads')} threads" for i in infos)


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load n/a"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``; else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line() -> str:
    import numba
    env = ", ".join(f"{v}={os.environ[v]}" if v in os.environ else f"{v} unset" for v in BLAS_VARS)
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not yet chosen"
    return (f"{cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
            f"(threading layer {layer}, {numba.config.NUMBA_NUM_THREADS} threads); BLAS: {blas_kernel()}; "
            f"{env}; {load_average()}")


# --------------------------------------------------------------------------- targets
_GOAL = re.compile(r"^\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")
_OPS = {"<=": lambda v, g: v <= g, ">=": lambda v, g: v >= g, "<": lambda v, g: v < g, ">": lambda v, g: v > g}


def meets(value, goal):
    """Whether ``value`` meets ``goal`` (``"<= 1.0"``, ``">= 3"``, ``"< 5"``, ``"> 0"``).

    ``None`` when there is no goal (``goal`` None or empty); ``False`` when the value is missing or not
    finite (a benchmark that did not measure does not meet its goal).
    """
    if goal is None or str(goal).strip() == "":
        return None
    m = _GOAL.match(str(goal))
    if m is None:
        raise ValueError(f"goal must look like '<= 1.0', '>= 3', '< 5' (got {goal!r})")
    if value is None:
        return False
    try:
        v = float(value)
    except (TypeError, ValueError):
        return False
    if not math.isfinite(v):
        return False
    return bool(_OPS[m.group(1)](v, float(m.group(2))))


def target(name, value, unit, goal, baseline, detail="", met=None, valid=True):
    """Print one machine-readable ``target: {json}`` line and return its record.

    ``name``: what is measured (sizes included); ``value``: the same-run figure (a ratio, ``unit="x"``,
    or seconds, ``unit="s"``; None when it could not be measured); ``goal``: ``"<= 1.0"``-style string or
    None; ``baseline``: what the ratio is taken against; ``detail``: the absolute figures behind it.
    ``met`` is computed by :func:`meets` (an explicit ``met`` that disagrees is an error); ``valid=False``
    (the comparison's own precondition failed, the detail says which) makes a goal unmet whatever the
    value.  The line also
    carries the BLAS kernel threadpoolctl sees in this process and the load average when it was taken.
    """
    computed = meets(value, goal)
    if computed is not None and not valid:
        computed = False
    if met is not None and computed is not None and bool(met) != computed:
        raise ValueError(f"target {name!r}: met={met!r} disagrees with value {value!r} and goal {goal!r}")
    if value is not None:
        value = float(value)
        if not math.isfinite(value):
            value = None
    record = {"name": str(name), "value": value, "unit": str(unit), "goal": goal, "met": computed,
              "baseline": str(baseline), "detail": str(detail), "blas": blas_kernel(), "load": load_average()}
    print("target: " + json.dumps(record, sort_keys=True), flush=True)
    return record


# --------------------------------------------------------------------------- BLAS configurations
def machine_sets_blas(base=None) -> bool:
    """True when the environment sets either variable (then "machine" and "unset" differ)."""
    env = os.environ if base is None else base
    return any(v in env for v in BLAS_VARS)


def blas_environment(config: str, base=None) -> dict:
    """Environment of a subprocess for BLAS configuration ``"machine"`` or ``"unset"``.

    ``"machine"``: the variables exactly as the calling environment has them (never set here: the
    project's rule is to leave them as the machine sets them).  ``"unset"``: both removed in that
    subprocess alone, so OpenBLAS picks the kernel of the detected core.
    """
    env = dict(os.environ if base is None else base)
    if config == "unset":
        for v in BLAS_VARS:
            env.pop(v, None)
    elif config != "machine":
        raise ValueError(f"config must be 'machine' or 'unset' (got {config!r})")
    return env


# --------------------------------------------------------------------------- timing
class Threads:
    """Context manager: BLAS (threadpoolctl) and Numba threads limited to ``n``."""

    def __init__(self, n):
        self.n = int(n)

    def __enter__(self):
        import numba
        self._numba = numba.get_num_threads()
        numba.set_num_threads(min(self.n, numba.config.NUMBA_NUM_THREADS))
        try:
            import threadpoolctl
            self._limit = threadpoolctl.threadpool_limits(self.n)
        except ImportError:
            self._limit = None
        return self

    def __exit__(self, *exc):
        import numba
        numba.set_num_threads(self._numba)
        if self._limit is not None:
            self._limit.restore_original_limits()


class Best(tuple):
    """Best ``(wall, cpu)`` seconds of a candidate: wall-clock time and the CPU time of the calling
    thread.  A one-thread candidate (Numba and BLAS limited to one thread) runs entirely on the calling
    thread, so on a loaded machine its CPU time is the steadier figure: it does not count the time the
    thread waited for a core, nor idle worker threads spinning after an earlier parallel region.  For
    several threads only the wall time means anything."""

    def __new__(cls, wall, cpu):
        return super().__new__(cls, (wall, cpu))

    wall = property(lambda self: self[0])
    cpu = property(lambda self: self[1])


def interleaved(named, repeat):
    """Best times of each candidate ``(name, threads, fn)``; the candidates take turns within each of
    ``repeat`` rounds (same machine load for all).  Returns ``{name: Best(wall, cpu)}``."""
    wall = {name: math.inf for name, _, _ in named}
    cpu = dict(wall)
    for _ in range(repeat):
        for name, threads, fn in named:
            with Threads(threads):
                c = time.thread_time()
                t = time.perf_counter()
                fn()
                wall[name] = min(wall[name], time.perf_counter() - t)
                cpu[name] = min(cpu[name], time.thread_time() - c)
    return {name: Best(wall[name], cpu[name]) for name in wall}


# --------------------------------------------------------------------------- GEMM-form baselines
def mixture_gemm_numpy(x, log_weights, means, covs):
    """log p and score of a Gaussian mixture as a user would write them in numpy: the quadratic forms
    through one matrix product (``x @ A.T`` with ``A_k = S_k^{-1} m_k``; full covariances: the
    whitened coordinates ``x @ W`` of all components at once), a max-shifted log-sum-exp and the
    score as two more products.  No (M, K, D) broadcast beyond the one the full form needs.
    Not protected against overflow or cancellation far away (the kernels are)."""
    M, D = x.shape
    K = means.shape[0]
    if covs.ndim == 1:
        iv = 1.0 / covs
        A = means * iv[:, None]
        const = log_weights - 0.5 * D * (np.log(covs) + _LOG_2PI) - 0.5 * np.einsum("kd,kd->k", means, A)
        xx = np.einsum("md,md->m", x, x)
        t = x @ A.T
        t -= np.multiply.outer(0.5 * xx, iv)
        t += const
    elif covs.ndim == 2:
        P = 1.0 / covs
        A = means * P
        const = (log_weights - 0.5 * (np.log(covs).sum(axis=1) + D * _LOG_2PI)
                 - 0.5 * np.einsum("kd,kd->k", means, A))
        t = x @ A.T
        t -= (0.5 * (x * x)) @ P.T
        t += const
    else:
        L = np.linalg.cholesky(covs)
        Linv = np.linalg.inv(L)                                     # (K, D, D), lower triangular
        W = Linv.transpose(2, 0, 1).reshape(D, K * D)               # (x @ W)[m, k*D + d] = (Linv_k x_m)_d
        Z = x @ W
        Z -= np.einsum("kij,kj->ki", Linv, means).reshape(K * D)
        Z3 = Z.reshape(M, K, D)
        q = np.einsum("mkd,mkd->mk", Z3, Z3)
        const = log_weights - np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1) - 0.5 * D * _LOG_2PI
        t = const - 0.5 * q
    tmax = t.max(axis=1, keepdims=True)
    e = np.exp(t - tmax)
    s = e.sum(axis=1, keepdims=True)
    logp = (tmax + np.log(s))[:, 0]
    r = e / s
    if covs.ndim == 1:
        score = r @ A - (r @ iv)[:, None] * x
    elif covs.ndim == 2:
        score = r @ A - (r @ P) * x
    else:
        Z3 *= r[:, :, None]
        score = -(Z.reshape(M, K * D) @ Linv.reshape(K * D, D))
    return logp, score


def empirical_two_gemm_floor(x, atoms, orientation="plain"):
    """The two matrix products any exact evaluation of an empirical score needs when every atom
    carries weight: the cross terms ``G = x @ atoms.T`` (M, N) and the weighted atom sums
    ``G @ atoms`` (M, D), the second as written (``orientation="plain"``) or as
    ``(atoms.T @ G.T).T`` (``"transposed"``); the benchmarks take the faster of the two as the floor."""
    G = x @ atoms.T
    if orientation == "plain":
        return G @ atoms
    return (atoms.T @ G.T).T


def reverse_sde_numpy(proc, mix, x0, grid, seed, score="gemm"):
    """Reverse Euler-Maruyama with the exact mixture score, all numpy: the GEMM-form score of
    :func:`mixture_gemm_numpy` (``score="broadcast"``: the (n, K, D) broadcast of
    ``kernels.mixture_logpdf_score_numpy``, the reference of earlier runs), numpy's default Generator
    for the noise, in-place updates."""
    if score == "broadcast":
        from nent_ref.core.kernels import mixture_logpdf_score_numpy as score_fn
    else:
        score_fn = mixture_gemm_numpy
    rng = np.random.default_rng(seed)
    x = x0.copy()
    log_w = np.log(mix.weights)
    a = -proc.drift(np.ones(1), grid)[:, 0]
    sig2 = proc.sigma2(grid)
    z = np.empty_like(x)
    for k in range(len(grid) - 1, 0, -1):
        h = grid[k] - grid[k - 1]
        _, means, covs = mix.diffused_params(proc, grid[k])
        score = score_fn(x, log_w, means, covs)[1]
        rng.standard_normal(out=z)
        x *= 1.0 + a[k] * h
        score *= sig2[k] * h
        x += score
        z *= math.sqrt(sig2[k] * h)
        x += z
    return x
