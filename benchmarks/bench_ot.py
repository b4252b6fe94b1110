"""Benchmark nent_ref.ot against POT and scipy (same run, same data, ratios printed).

    python benchmarks/bench_ot.py            # full: exact n in {500, 1000, 2000}, Sinkhorn n in {1000, 4000}
    python benchmarks/bench_ot.py --quick    # exact n in {500, 1000}, Sinkhorn n = 1000

Needs the ``bench`` extra (POT).  Data: uniform clouds in the unit square, seed 0.

Exact W2^2 (cost |x - y|^2, uniform weights): every solver starts from the point clouds and builds
its own cost matrix (POT: ``ot.dist``; scipy: ``cdist(..., 'sqeuclidean')``), so the timings are
end to end.  Values must agree with ``ot.emd2`` to 1e-10.

Sinkhorn: all solvers get the same stopping rule, ``||P^T 1 - b||_2 < tol`` checked every 10
iterations (POT's ``stopThr``), the same eps and the same cost matrix convention.  nent_ref times
include the cost matrix and its epsilon-scaling stages.  POT's kernel-domain ``ot.sinkhorn`` is
only compared where it is stable (finite result).

Timings are the minimum over ``--repeat`` runs (default 3; 1 for the slow POT log-domain solver);
the first nent_ref call of each kernel is made beforehand so that Numba compilation is excluded.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

try:
    import ot as pot
except ImportError as exc:  # pragma: no cover
    raise SystemExit("POT is needed for this benchmark: pip install 'nent_ref[bench]'") from exc
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from nent_ref import ot as nro


def best_time(fn, repeat):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_exact(sizes, repeat, rng):
    print("== exact W2^2, uniform 2-D clouds (cost |x-y|^2) ==")
    print(f"{'n':>6} {'nent_ref s':>11} {'POT emd2 s':>11} {'scipy LSA s':>12} {'|nr-POT|':>10} "
          f"{'|nr-LSA|':>10} {'nr/min(POT,LSA)':>16}")
    rows = []
    for n in sizes:
        x = rng.random((n, 2))
        y = rng.random((n, 2))
        a = np.full(n, 1.0 / n)
        t_nr, v_nr = best_time(lambda: nro.w2_squared(x, y), repeat)
        t_pot, v_pot = best_time(lambda: pot.emd2(a, a, pot.dist(x, y), numItermax=10 ** 8), repeat)

        def lsa():
            C = cdist(x, y, "sqeuclidean")
            r, c = linear_sum_assignment(C)
            return C[r, c].sum() / n
        t_lsa, v_lsa = best_time(lsa, repeat)
        ratio = t_nr / min(t_pot, t_lsa)
        print(f"{n:>6} {t_nr:>11.4f} {t_pot:>11.4f} {t_lsa:>12.4f} {abs(v_nr - v_pot):>10.1e} "
              f"{abs(v_nr - v_lsa):>10.1e} {ratio:>16.2f}")
        if abs(v_nr - v_pot) > 1e-10:
            print(f"   !! value mismatch with POT emd2 at n = {n}")
        rows.append(ratio)
    return rows


def bench_sinkhorn(sizes, epss, tol, repeat, rng):
    print(f"\n== Sinkhorn, uniform 2-D clouds, stopping rule ||P^T 1 - b||_2 < {tol:g} every 10 its ==")
    print(f"{'n':>6} {'eps':>6} {'nr s':>9} {'nr its':>7} {'POT log s':>10} {'log its':>8} {'POT ker s':>10} "
          f"{'ker its':>8} {'POTlog/nr':>10} {'nr/POTker':>10} {'|dcost| log':>12} {'|dcost| ker':>12}")
    for n in sizes:
        x = rng.random((n, 2))
        y = rng.random((n, 2))
        a = np.full(n, 1.0 / n)
        for eps in epss:
            t_nr, r = best_time(lambda: nro.sinkhorn(x, y, eps, tol=tol, max_iter=100_000), repeat)

            def pot_log():
                M = pot.dist(x, y)
                P, log = pot.bregman.sinkhorn_log(a, a, M, eps, numItermax=100_000, stopThr=tol, log=True)
                return float(np.sum(P * M)), log["niter"]
            t_log, (c_log, it_log) = best_time(pot_log, 1)

            def pot_ker():
                M = pot.dist(x, y)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    with np.errstate(all="ignore"):
                        P, log = pot.sinkhorn(a, a, M, eps, numItermax=100_000, stopThr=tol, log=True)
                return float(np.sum(P * M)), log["niter"]
            t_ker, (c_ker, it_ker) = best_time(pot_ker, repeat)
            ker_ok = np.isfinite(c_ker)
            print(f"{n:>6} {eps:>6g} {t_nr:>9.3f} {r.n_iter_total:>7d} {t_log:>10.3f} {it_log:>8d} "
                  f"{t_ker:>10.3f} {it_ker:>8d} {t_log / t_nr:>10.1f} "
                  f"{(t_nr / t_ker if ker_ok else float('nan')):>10.2f} {abs(r.linear_cost - c_log):>12.1e} "
                  f"{(abs(r.linear_cost - c_ker) if ker_ok else float('nan')):>12.1e}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes only")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tol", type=float, default=1e-9, help="Sinkhorn stopping threshold (all solvers)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    # warm-up: compile / load the Numba kernels outside the timed region
    xw = rng.random((20, 2))
    nro.w2_squared(xw, xw[::-1])
    nro.sinkhorn(xw, xw[::-1], 0.1)
    exact_sizes = (500, 1000) if args.quick else (500, 1000, 2000)
    sk_sizes = (1000,) if args.quick else (1000, 4000)
    bench_exact(exact_sizes, args.repeat, rng)
    bench_sinkhorn(sk_sizes, (0.1, 0.01), args.tol, args.repeat, rng)
    print("\nratios: nr/min(POT,LSA) <= 1.5 is the exact target; POTlog/nr >= 20 and nr/POTker <= 2 the Sinkhorn targets")


if __name__ == "__main__":
    main()
