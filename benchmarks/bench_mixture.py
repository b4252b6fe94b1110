"""Benchmarks of issue 3 (one command: ``python benchmarks/bench_mixture.py [--quick]``).

1. Mixture log-density + score kernel, M = 1e5 points, K = 5, D = 9 (isotropic, as in the
   paper's mixtures; diagonal and full covariances too): Numba kernel vs the plain-numpy
   reference ``mixture_logpdf_score_numpy`` (target: >= 3x).
2. Empirical score, M = 1000 queries, N = 60000 atoms, D = 784 (MNIST-sized memoriser,
   synthetic atoms uniform in [0, 1]^784): kernel vs the floor, the single matrix product
   ``queries @ atoms.T`` (target: within 1.5x), at a small noise level (s = 1e-3 under VP
   0.1 -> 16, the memorisation regime: few atoms carry weight) and a large one (s = 0.5:
   every atom carries weight, so the weighted atom average is a second full product).
3. Time to a 1-D 5-component mixture S_tot(0, 1) under VP at 1e-10 relative accuracy
   (quadrature, default rtol; target < 50 ms).

All timings are the best of several interleaved repeats in the same run (candidate and
baseline alternate, so both see the same machine load); ratios are what matter on a shared
machine.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import nent_ref as nr
from nent_ref.core import kernels as kr
from nent_ref import cases


def best_time(fn, repeats):
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_mixture_kernel(repeats):
    rng = np.random.default_rng(0)
    M, K, D = 100_000, 5, 9
    w, means, sd = cases.paper_mixture_params(D)
    x = rng.normal(0, 2, (M, D))
    A = rng.normal(size=(K, D, D))
    forms = {"iso": sd ** 2, "diag": np.repeat(sd[:, None] ** 2, D, 1),
             "full": A @ A.transpose(0, 2, 1) / D + 0.25 * np.eye(D)}
    print(f"1. mixture logpdf+score kernel, M={M}, K={K}, D={D}")
    out = {}
    for name, covs in forms.items():
        kr.mixture_logpdf_score(x[:10], np.log(w), means, covs)          # compile / load cache
        t_nb = t_np = math.inf
        for _ in range(repeats):                 # interleaved: same load for both
            t_nb = min(t_nb, best_time(lambda: kr.mixture_logpdf_score(x, np.log(w), means, covs), 1))
            t_np = min(t_np, best_time(lambda: kr.mixture_logpdf_score_numpy(x, np.log(w), means, covs), 1))
        out[name] = t_np / t_nb
        print(f"   {name:5s}: numba {t_nb * 1e3:8.2f} ms   numpy {t_np * 1e3:8.2f} ms   speed-up {t_np / t_nb:5.2f}x")
    return out


def bench_empirical(repeats, quick):
    M, N, D = (200, 12_000, 784) if quick else (1000, 60_000, 784)
    rng = np.random.default_rng(1)
    atoms = rng.uniform(0.0, 1.0, (N, D))
    lw = np.full(N, -math.log(N))
    proc = nr.VP(0.1, 16.0)
    print(f"2. empirical logpdf+score, M={M} queries, N={N} atoms, D={D} "
          f"(atoms {atoms.nbytes / 2**20:.0f} MiB)")
    out = {}
    for s in (1e-3, 0.5):
        mu = float(proc.mean_coeff(s))
        v = float(proc.marginal_var(s))
        x0 = mu * atoms[rng.integers(0, N, M)] + math.sqrt(v) * rng.standard_normal((M, D))
        kr.empirical_logpdf_score(x0[:2], atoms[:50], lw[:50], mu, v)       # compile / load cache
        # interleave floor and kernel so both see the same machine load; best of each
        t_floor = t_k = math.inf
        for _ in range(repeats):
            t_floor = min(t_floor, best_time(lambda: x0 @ atoms.T, 1))
            t_k = min(t_k, best_time(lambda: kr.empirical_logpdf_score(x0, atoms, lw, mu, v), 1))
        out[s] = t_k / t_floor
        print(f"   s={s:g} (v={v:.3g}): kernel {t_k:7.3f} s   floor x@atoms.T {t_floor:7.3f} s   "
              f"ratio {t_k / t_floor:5.2f}x")
    return out


def bench_quadrature(repeats):
    w, means, sd = cases.paper_mixture_params(1)
    mix = nr.GaussianMixture(w, means, sd ** 2)
    proc = nr.VP(0.1, 16.0)
    est = nr.total_entropy(mix, proc, method="quadrature")                   # warm-up
    t = best_time(lambda: nr.total_entropy(mix, proc, method="quadrature"), repeats)
    print(f"3. 1-D 5-component mixture S_tot(0, 1), VP 0.1->16, quadrature rtol 1e-10: {t * 1e3:.1f} ms "
          f"(S_tot = {est.value:.15g}, error bound {est.error_bound:.2g}, relative "
          f"{est.error_bound / est.value:.1g})")
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller empirical problem (N=12000, M=200)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    r1 = bench_mixture_kernel(args.repeats)
    r2 = bench_empirical(args.repeats, args.quick)
    t3 = bench_quadrature(max(args.repeats, 5))
    print("summary: mixture kernel speed-up vs numpy " + ", ".join(f"{k} {v:.2f}x" for k, v in r1.items())
          + " (target >= 3x); empirical time / matmul floor " + ", ".join(f"s={k:g}: {v:.2f}x" for k, v in r2.items())
          + f" (target <= 1.5x); 1-D S_tot at 1e-10: {t3 * 1e3:.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()
