"""Benchmark nent_ref.ot against POT and scipy (same run, same data, interleaved repeats, ratios printed).

    python benchmarks/bench_ot.py                  # exact n in {500, 1000, 2000}, D in {2, 9}; Sinkhorn n in {1000, 4000}
    python benchmarks/bench_ot.py --big            # also exact n = 4000 (minutes: POT takes seconds per call)
    python benchmarks/bench_ot.py --quick          # exact n in {500, 1000}, Sinkhorn n = 1000
    python benchmarks/bench_ot.py --no-sinkhorn    # exact OT only
    python benchmarks/bench_ot.py --unequal-only --big   # exact OT, n vs 1.5 n only, n = 1000..4000

Needs the ``bench`` extra (POT).  POT is a baseline only; the package never imports it.

Exact W2^2 (cost |x - y|^2, uniform weights, n = m): every solver starts from the point clouds and
builds its own cost matrix (POT: ``ot.dist``; scipy: ``cdist(..., 'sqeuclidean')``), so the timings
are end to end.  Three kinds of clouds, seed 0, x ~ U[0, 1]^D and an independent y:

    same      y ~ U[0, 1]^D                (both from the same distribution)
    shifted   y ~ U[0, 1]^D + 0.5          (mean shift: the case that was cubic, issue 15)
    scaled    y ~ 3 U[0, 1]^D - 1          (scale and shift)

Baselines: POT ``emd2`` (network simplex) and scipy ``linear_sum_assignment`` (shortest augmenting
paths); the ratio is ``nent_ref / min(POT, LSA)`` (target <= 1).  scipy's LSA is cubic on shifted
clouds (tens of seconds at n = 2000); it is skipped at a size when its time at the previous size,
extrapolated as n^3, exceeds ``--lsa-budget`` seconds, and the ratio then uses POT alone (marked).
Values must agree with ``ot.emd2`` to 1e-12 relative (flagged otherwise).

Exact W2^2 with unequal sizes (issue 22): n points against m = 1.5 n, uniform weights, the same three
kinds of clouds; nent_ref runs its network simplex (the assignment path needs n = m), the baseline is
POT ``emd2`` alone (scipy's LSA does not apply), ratio ``nent_ref / POT`` (target <= 1).  Sizes
n = 1000, 2000 (``--big``: also 3000, 4000; ``--quick``: 500, 1000).

Timings are the minimum over ``--repeat`` interleaved rounds (each round runs every solver once on
the same data); the first nent_ref call of each kernel is made beforehand (Numba compilation and the
OpenMP start are excluded).  The header reports the BLAS library (threadpoolctl, when installed) and
the OPENBLAS_* environment variables, which change POT's ``ot.dist`` and scipy's timings.

Sinkhorn: all solvers get the same stopping rule, ``||P^T 1 - b||_2 < tol`` checked every 10
iterations (POT's ``stopThr``), the same eps and the same cost matrix convention.  nent_ref times
include the cost matrix and its epsilon-scaling stages.  POT's kernel-domain ``ot.sinkhorn`` is
only compared where it is stable (finite result).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

try:
    import ot as pot
except ImportError as exc:  # pragma: no cover
    raise SystemExit("POT is needed for this benchmark: pip install 'nent_ref[bench]'") from exc
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from nent_ref import ot as nro

KINDS = ("same", "shifted", "scaled")


def environment() -> str:
    lines = [f"python {platform.python_version()}, numpy {np.__version__}, POT {pot.__version__}, "
             f"{os.cpu_count()} CPUs"]
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "OMP_", "MKL_", "NUMBA_NUM"))}
    lines.append("env: " + (", ".join(f"{k}={v}" for k, v in sorted(env.items())) or
                            "no OPENBLAS_*/OMP_*/MKL_* variables set"))
    try:
        from threadpoolctl import threadpool_info
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                lines.append(f"BLAS: {info.get('internal_api')} {info.get('version')} kernel "
                             f"{info.get('architecture')} threads {info.get('num_threads')} ({info.get('filepath')})")
    except ImportError:
        cfg = getattr(np, "show_config", None)
        lines.append("BLAS: threadpoolctl not installed (numpy.show_config() names the library)"
                     if cfg else "BLAS: unknown")
    return "\n".join(lines)


def clouds(kind: str, n: int, d: int, rng, m: int | None = None):
    x = rng.random((n, d))
    y = rng.random((n if m is None else m, d))
    if kind == "shifted":
        y = y + 0.5
    elif kind == "scaled":
        y = 3.0 * y - 1.0
    return x, y


def interleaved(fns: dict, repeat: int) -> dict:
    """Minimum time and last result of each function over ``repeat`` interleaved rounds."""
    best = {k: np.inf for k in fns}
    out = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            if fn is None:
                continue
            t0 = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {k: (best[k], out.get(k)) for k in fns}


def bench_exact(sizes, dims, kinds, repeat, lsa_budget, rng):
    print("\n== exact W2^2, uniform weights, n = m (cost |x-y|^2); ratio = nent_ref / min(POT, LSA) ==")
    print(f"{'D':>2} {'kind':>8} {'n':>5} {'nent_ref s':>11} {'POT emd2 s':>11} {'scipy LSA s':>12} "
          f"{'ratio':>7} {'rel |nr-POT|':>13} {'cert. bound':>12}")
    ratios = []
    for d in dims:
        for kind in kinds:
            t_lsa_prev, n_prev = None, None
            for n in sizes:
                x, y = clouds(kind, n, d, rng)
                a = np.full(n, 1.0 / n)
                skip_lsa = (t_lsa_prev is not None and t_lsa_prev * (n / n_prev) ** 3 > lsa_budget)

                def lsa():
                    C = cdist(x, y, "sqeuclidean")
                    r, c = linear_sum_assignment(C)
                    return C[r, c].sum() / n
                res = interleaved({
                    "nr": lambda: nro.exact_ot(x, y, return_plan=False),
                    "pot": lambda: pot.emd2(a, a, pot.dist(x, y), numItermax=10 ** 9),
                    "lsa": None if skip_lsa else lsa}, repeat)
                t_nr, r_nr = res["nr"]
                t_pot, v_pot = res["pot"]
                t_lsa, _ = res["lsa"]
                base = min(t_pot, t_lsa)
                ratio = t_nr / base
                rel = abs(r_nr.w2_squared - v_pot) / v_pot
                lsa_txt = "skipped" if skip_lsa else f"{t_lsa:.4f}"
                print(f"{d:>2} {kind:>8} {n:>5} {t_nr:>11.4f} {t_pot:>11.4f} {lsa_txt:>12} {ratio:>6.2f}"
                      f"{'*' if skip_lsa else ' '} {rel:>13.1e} {r_nr.error_bound / r_nr.w2_squared:>12.1e}",
                      flush=True)
                if rel > 1e-12:
                    print(f"   !! value mismatch with POT emd2: relative {rel:.3g}")
                ratios.append(ratio)
                if not skip_lsa:
                    t_lsa_prev, n_prev = t_lsa, n
    print("   (* = scipy LSA skipped, extrapolated beyond --lsa-budget; ratio vs POT alone; "
          "cert. bound = ExactOTResult.error_bound / value)")
    return ratios


def bench_unequal(sizes, dims, kinds, repeat, rng, factor=1.5):
    print(f"\n== exact W2^2, uniform weights, n vs m = {factor:g} n (cost |x-y|^2); ratio = nent_ref / POT ==")
    print(f"{'D':>2} {'kind':>8} {'n':>5} {'m':>5} {'nent_ref s':>11} {'POT emd2 s':>11} {'ratio':>7} "
          f"{'pivots':>8} {'rel |nr-POT|':>13} {'cert. bound':>12}")
    ratios = []
    for d in dims:
        for kind in kinds:
            for n in sizes:
                m = int(round(factor * n))
                x, y = clouds(kind, n, d, rng, m)
                a = np.full(n, 1.0 / n)
                b = np.full(m, 1.0 / m)
                res = interleaved({
                    "nr": lambda: nro.exact_ot(x, y, return_plan=False),
                    "pot": lambda: pot.emd2(a, b, pot.dist(x, y), numItermax=10 ** 9)}, repeat)
                t_nr, r_nr = res["nr"]
                t_pot, v_pot = res["pot"]
                ratio = t_nr / t_pot
                rel = abs(r_nr.w2_squared - v_pot) / v_pot
                print(f"{d:>2} {kind:>8} {n:>5} {m:>5} {t_nr:>11.4f} {t_pot:>11.4f} {ratio:>7.2f} {r_nr.n_pivots:>8d} "
                      f"{rel:>13.1e} {r_nr.error_bound / r_nr.w2_squared:>12.1e}", flush=True)
                if rel > 1e-12:
                    print(f"   !! value mismatch with POT emd2: relative {rel:.3g}")
                ratios.append(ratio)
    return ratios


def bench_sinkhorn(sizes, epss, tol, repeat, rng):
    print(f"\n== Sinkhorn, uniform 2-D clouds, stopping rule ||P^T 1 - b||_2 < {tol:g} every 10 its ==")
    print(f"{'n':>6} {'eps':>6} {'nr s':>9} {'nr its':>7} {'POT log s':>10} {'log its':>8} {'POT ker s':>10} "
          f"{'ker its':>8} {'POTlog/nr':>10} {'nr/POTker':>10} {'|dcost| log':>12} {'|dcost| ker':>12}")
    speedups = []
    for n in sizes:
        x = rng.random((n, 2))
        y = rng.random((n, 2))
        a = np.full(n, 1.0 / n)
        for eps in epss:
            def pot_log():
                M = pot.dist(x, y)
                P, log = pot.bregman.sinkhorn_log(a, a, M, eps, numItermax=100_000, stopThr=tol, log=True)
                return float(np.sum(P * M)), log["niter"]

            def pot_ker():
                M = pot.dist(x, y)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    with np.errstate(all="ignore"):
                        P, log = pot.sinkhorn(a, a, M, eps, numItermax=100_000, stopThr=tol, log=True)
                return float(np.sum(P * M)), log["niter"]
            res = interleaved({"nr": lambda: nro.sinkhorn(x, y, eps, tol=tol, max_iter=100_000),
                               "ker": pot_ker}, repeat)
            t_nr, r = res["nr"]
            t_ker, (c_ker, it_ker) = res["ker"]
            t_log, (c_log, it_log) = interleaved({"log": pot_log}, 1)["log"]   # slow: one run
            ker_ok = np.isfinite(c_ker)
            print(f"{n:>6} {eps:>6g} {t_nr:>9.3f} {r.n_iter_total:>7d} {t_log:>10.3f} {it_log:>8d} "
                  f"{t_ker:>10.3f} {it_ker:>8d} {t_log / t_nr:>10.1f} "
                  f"{(t_nr / t_ker if ker_ok else float('nan')):>10.2f} {abs(r.linear_cost - c_log):>12.1e} "
                  f"{(abs(r.linear_cost - c_ker) if ker_ok else float('nan')):>12.1e}", flush=True)
            speedups.append((t_log / t_nr, n, eps, t_nr, t_log))
    return speedups


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes only")
    p.add_argument("--big", action="store_true", help="also exact OT at n = 4000")
    p.add_argument("--repeat", type=int, default=3, help="interleaved rounds (minimum time is reported)")
    p.add_argument("--dims", type=int, nargs="+", default=[2, 9])
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--lsa-budget", type=float, default=60.0,
                   help="skip scipy LSA where its n^3 extrapolation exceeds this many seconds")
    p.add_argument("--no-sinkhorn", action="store_true")
    p.add_argument("--unequal-only", action="store_true", help="only the n vs 1.5 n exact table")
    p.add_argument("--unequal-sizes", type=int, nargs="+", default=None,
                   help="n of the n vs 1.5 n table (default 1000 2000; --big adds 3000 4000; --quick 500 1000)")
    p.add_argument("--tol", type=float, default=1e-9, help="Sinkhorn stopping threshold (all solvers)")
    args = p.parse_args(argv)
    print(environment())
    rng = np.random.default_rng(0)
    # warm-up: compile / load the Numba kernels (serial and parallel paths) outside the timed region
    xw = rng.random((20, 2))
    nro.w2_squared(xw, xw[::-1])
    nro.w2_squared(xw, xw[:15])
    nro.sinkhorn(xw, xw[::-1], 0.1)
    xb = rng.random((4200, 2))
    nro.cost_matrix(xb, xb)
    sizes = (500, 1000) if args.quick else (500, 1000, 2000) + ((4000,) if args.big else ())
    usizes = args.unequal_sizes or ((500, 1000) if args.quick else (1000, 2000) + ((3000, 4000) if args.big else ()))
    summary = []
    shape = f"D = {', '.join(map(str, args.dims))}, clouds {', '.join(args.kinds)}"
    if not args.unequal_only:
        eq = bench_exact(sizes, args.dims, args.kinds, args.repeat, args.lsa_budget, rng)
        summary.append(f"exact n = m worst nr/min(POT, LSA) {max(eq):.2f} (n = {', '.join(map(str, sizes))})")
        common.target(f"exact W2^2, n = m = {', '.join(map(str, sizes))} ({shape}): worst time ratio", max(eq), "x",
                      "<= 1.0", "min(POT emd2, scipy linear_sum_assignment), cost matrix included",
                      f"ratios {min(eq):.2f}-{max(eq):.2f} over {len(eq)} cases, best of {args.repeat}")
    uneq = bench_unequal(usizes, args.dims, args.kinds, args.repeat, rng)
    summary.append(f"exact n vs 1.5 n worst nr/POT {max(uneq):.2f}, best {min(uneq):.2f} "
                   f"(n = {', '.join(map(str, usizes))})")
    common.target(f"exact W2^2, n vs 1.5 n, n = {', '.join(map(str, usizes))} ({shape}): worst time ratio",
                  max(uneq), "x", "<= 1.0", "POT emd2, cost matrix included",
                  f"ratios {min(uneq):.2f}-{max(uneq):.2f} over {len(uneq)} cases, best of {args.repeat}")
    if not args.no_sinkhorn and not args.unequal_only:
        sk_sizes = (1000,) if args.quick else (1000, 4000)
        sk = bench_sinkhorn(sk_sizes, (0.1, 0.01), args.tol, args.repeat, rng)
        worst = min(sk)
        common.target(f"Sinkhorn, n = {', '.join(map(str, sk_sizes))}, eps 0.1 and 0.01, tol {args.tol:g}: "
                      "worst speed-up", worst[0], "x", ">= 1", "POT bregman.sinkhorn_log (same stopping rule)",
                      f"speed-ups {worst[0]:.1f}-{max(sk)[0]:.1f}x; worst at n = {worst[1]}, eps = {worst[2]:g}: "
                      f"nent_ref {worst[3]:.3f} s, POT log {worst[4]:.3f} s")
    print("\ntargets: exact nr/min(POT, LSA) <= 1 (n = m) and nr/POT <= 1 (n vs 1.5 n); "
          "Sinkhorn POTlog/nr >= 20 and nr/POTker <= 2")
    try:
        load = "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "load n/a"
    print("summary: " + "; ".join(summary) + f" ({load})")


if __name__ == "__main__":
    main()
