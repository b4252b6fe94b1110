"""Benchmarks of the mixture kernels and quadrature (one command: ``python benchmarks/bench_mixture.py [--quick]``).

1. Mixture log-density + score, M = 1e5 points, K = 5, D = 9 (the paper's isotropic mixture; diagonal
   and full covariances too): the Numba kernel against the GEMM-form numpy evaluation
   (``common.mixture_gemm_numpy``: quadratic forms by one matrix product, max-shifted log-sum-exp,
   score by two more products), same thread count for both.  Goal: >= 3x for all three kinds.
2. Empirical log-density + score, M = 1000 queries, N = 60000 atoms, D = 784 (MNIST-sized memoriser,
   atoms uniform in [0, 1]^784): the kernel against the two-GEMM floor (``x @ atoms.T`` and the
   weighted atom sums ``G @ atoms``, ``common.empirical_two_gemm_floor``, the faster of its two
   orientations, each timed on its own) at noise levels from the
   memorisation regime (s = 1e-3 under VP 0.1 -> 16: few atoms carry weight) to s = 0.5 (every atom
   does).  Goal: <= 1.15x at every s.
3. 1-D 5-component mixture S_tot(0, 1) under VP to 1e-10 (quadrature, default rtol): time.
4. 2-D 5-component mixture S_tot(0, 1) by the default cubature, against scipy's ``dblquad`` of the
   same rate integrand at a few times (skipped with --quick).

Every ratio is taken within one run from interleaved repeats (``common.interleaved``); the header
line gives the BLAS kernel threadpoolctl saw and the load average.  ``benchmarks/run_all.py`` runs this
file in both BLAS configurations (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as the machine sets them, and
unset).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import nent_ref as nr  # noqa: E402
from nent_ref import cases  # noqa: E402
from nent_ref.core import kernels as kr  # noqa: E402


def bench_mixture_kernel(repeats, threads):
    rng = np.random.default_rng(0)
    M, K, D = 100_000, 5, 9
    w, means, sd = cases.paper_mixture_params(D)
    lw = np.log(w)
    x = rng.normal(0, 2, (M, D))
    A = rng.normal(size=(K, D, D))
    forms = {"iso": sd ** 2, "diag": rng.uniform(0.25, 1.0, (K, D)),
             "full": A @ A.transpose(0, 2, 1) / D + 0.25 * np.eye(D)}
    print(f"1. mixture logpdf+score, M={M}, K={K}, D={D}: kernel vs GEMM-form numpy ({common.load_average()})")
    out = {}
    for name, covs in forms.items():
        lp, sc = kr.mixture_logpdf_score(x, lw, means, covs)          # compile / load cache
        lp0, sc0 = common.mixture_gemm_numpy(x, lw, means, covs)
        dev = max(np.max(np.abs(lp - lp0) / np.abs(lp0)), np.max(np.abs(sc - sc0)) / np.max(np.abs(sc0)))
        mix = nr.GaussianMixture(w, means, covs)                     # the public path users call
        lp1, sc1 = mix.logpdf_score(x)
        dev = max(dev, np.max(np.abs(lp1 - lp0) / np.abs(lp0)), np.max(np.abs(sc1 - sc0)) / np.max(np.abs(sc0)))
        named = []
        for t in threads:
            named += [(("kernel", t), t, lambda t=t: kr.mixture_logpdf_score(x, lw, means, covs, threaded=t > 1)),
                      (("public", t), t, lambda: mix.logpdf_score(x)),
                      (("numpy", t), t, lambda: common.mixture_gemm_numpy(x, lw, means, covs))]
        best = common.interleaved(named, repeats)
        for t in threads:
            k, p, n = best[("kernel", t)], best[("public", t)], best[("numpy", t)]
            out[(name, t)] = (n.wall / k.wall, n.cpu / k.cpu)
            out[(name + " GaussianMixture.logpdf_score", t)] = (n.wall / p.wall, n.cpu / p.cpu)
            print(f"   {name:5s} threads={t}: kernel {k.wall * 1e3:8.2f} ms (cpu {k.cpu * 1e3:8.2f})   "
                  f"GaussianMixture.logpdf_score {p.wall * 1e3:8.2f} ms   GEMM numpy "
                  f"{n.wall * 1e3:8.2f} ms (cpu {n.cpu * 1e3:8.2f})   speed-up kernel {n.wall / k.wall:5.2f}x, "
                  f"public {n.wall / p.wall:5.2f}x wall   (max rel. deviation {dev:.1e})")
    return out


def bench_empirical(repeats, quick, threads, s_values):
    M, N, D = (200, 12_000, 784) if quick else (1000, 60_000, 784)
    rng = np.random.default_rng(1)
    atoms = rng.uniform(0.0, 1.0, (N, D))
    lw = np.full(N, -math.log(N))
    proc = nr.VP(0.1, 16.0)
    print(f"2. empirical logpdf+score, M={M} queries, N={N} atoms, D={D} (atoms {atoms.nbytes / 2**20:.0f} MiB): "
          f"kernel vs the two-GEMM floor ({common.load_average()})")
    kr.empirical_logpdf_score(atoms[:2], atoms[:50], lw[:50], 0.9, 0.1)       # compile / load cache
    out = {}
    for s in s_values:
        mu = float(proc.mean_coeff(s))
        v = float(proc.marginal_var(s))
        x0 = mu * atoms[rng.integers(0, N, M)] + math.sqrt(v) * rng.standard_normal((M, D))
        named = []
        for t in threads:
            named += [(("floor2p", t), t, lambda: common.empirical_two_gemm_floor(x0, atoms, "plain")),
                      (("kernel", t), t, lambda: kr.empirical_logpdf_score(x0, atoms, lw, mu, v)),
                      (("floor2t", t), t, lambda: common.empirical_two_gemm_floor(x0, atoms, "transposed")),
                      (("floor1", t), t, lambda: x0 @ atoms.T)]
        best = common.interleaved(named, repeats)
        for t in threads:
            tk, f1 = best[("kernel", t)], best[("floor1", t)]
            f2 = common.Best(min(best[("floor2p", t)].wall, best[("floor2t", t)].wall),
                             min(best[("floor2p", t)].cpu, best[("floor2t", t)].cpu))
            out[(s, t)] = (tk.wall / f2.wall, tk.cpu / f2.cpu)
            print(f"   s={s:<6g} (v={v:.3g}) threads={t}: kernel {tk.wall:7.3f} s (cpu {tk.cpu:7.3f})   two-GEMM floor "
                  f"{f2.wall:7.3f} s (cpu {f2.cpu:7.3f})   ratio {tk.wall / f2.wall:5.2f}x wall, {tk.cpu / f2.cpu:5.2f}x cpu"
                  f"   (one GEMM {f1.wall:7.3f} s: {tk.wall / f1.wall:5.2f}x)")
    return out


def bench_quadrature(repeats):
    w, means, sd = cases.paper_mixture_params(1)
    mix = nr.GaussianMixture(w, means, sd ** 2)
    proc = nr.VP(0.1, 16.0)
    est = nr.total_entropy(mix, proc, method="quadrature")                   # warm-up
    t = common.interleaved([("q", 1, lambda: nr.total_entropy(mix, proc, method="quadrature"))], repeats)["q"].wall
    print(f"3. 1-D 5-component mixture S_tot(0, 1), VP 0.1->16, quadrature: {t * 1e3:.2f} ms "
          f"(S_tot = {est.value:.15g}, error bound {est.error_bound:.2g}, relative "
          f"{est.error_bound / est.value:.1g})")
    return t


def bench_cubature_2d(repeats):
    """2-D S_tot by the default cubature; scipy dblquad of the rate integrand at 3 times for scale."""
    from scipy import integrate
    w, means, sd = cases.paper_mixture_params(2)
    mix = nr.GaussianMixture(w, means, sd ** 2)
    proc = nr.VP(0.1, 16.0)
    est = nr.total_entropy(mix, proc)                                         # warm-up
    t = common.interleaved([("c", 1, lambda: nr.total_entropy(mix, proc))], repeats)["c"].wall
    # dblquad of the rate integrand D(s) p_s |grad log p_eq - score|^2 at three times, scaled to the
    # number of times the default S_tot uses is not attempted: we report the per-time cost.
    s_vals = (0.05, 0.3, 0.8)
    t0 = time.perf_counter()
    for s in s_vals:
        p = mix.diffuse(proc, s)
        Dc = float(proc.diffusion(s))

        def f(yy, xx, p=p, Dc=Dc):
            y = np.array([[xx, yy]])
            lp, sc = p.logpdf_score(y)
            g = proc.grad_log_peq(y) - sc
            return Dc * math.exp(lp[0]) * float(g[0] @ g[0])
        integrate.dblquad(f, -12, 12, -12, 12, epsabs=1e-12, epsrel=1e-12)
    t_dbl = (time.perf_counter() - t0) / len(s_vals)
    print(f"4. 2-D 5-component mixture S_tot(0, 1), VP 0.1->16, default cubature: {t * 1e3:.1f} ms "
          f"(S_tot = {est.value:.15g}, error bound {est.error_bound:.2g}); scipy dblquad of the rate at "
          f"ONE time: {t_dbl:.2f} s")
    return t, t_dbl


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller empirical problem (N=12000, M=200), no dblquad")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1", help="comma-separated thread counts for parts 1-2 (default 1)")
    ap.add_argument("--s", default="1e-3,0.05,0.5", help="comma-separated forward times of part 2")
    ap.add_argument("--parts", default="1,2,3,4", help="comma-separated parts to run")
    args = ap.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    parts = {int(p) for p in args.parts.split(",")}
    print(common.machine_line())
    summary = []
    if 1 in parts:
        r1 = bench_mixture_kernel(args.repeats, threads)
        summary.append("mixture GEMM numpy / kernel (wall, cpu): " + ", ".join(
            f"{k} t={t} {w:.2f}x {c:.2f}x" for (k, t), (w, c) in r1.items()) + " (goal >= 3x)")
        for (k, t), (w, c) in r1.items():
            if k.endswith("GaussianMixture.logpdf_score") and not k.startswith("diag"):
                continue                       # the public path's target is the diagonal form (issue 22)
            what = ("GaussianMixture.logpdf_score, diagonal covariances" if k.startswith("diag ")
                    else f"mixture kernel, {k} covariances")
            fig, kind = (c, "CPU time") if t == 1 else (w, "wall time")
            common.target(f"{what}, M = 1e5, K = 5, D = 9, {t} thread{'s' if t > 1 else ''}: speed-up ({kind})",
                          fig, "x", ">= 3", "GEMM-form numpy (common.mixture_gemm_numpy), same threads",
                          f"wall {w:.2f}x, CPU {c:.2f}x, best of {args.repeats}")
    if 2 in parts:
        r2 = bench_empirical(args.repeats, args.quick, threads, [float(s) for s in args.s.split(",")])
        summary.append("empirical / two-GEMM floor (wall, cpu): " + ", ".join(
            f"s={s:g} t={t} {w:.2f}x {c:.2f}x" for (s, t), (w, c) in r2.items()) + " (goal <= 1.15x)")
        size = "M = 200, N = 12000" if args.quick else "M = 1000, N = 60000"
        for t in threads:
            rows = {s: r for (s, tt), r in r2.items() if tt == t}
            worst_s = max(rows, key=lambda s: rows[s][0 if t > 1 else 1])
            fig = rows[worst_s][0 if t > 1 else 1]
            common.target(f"empirical logpdf+score (memoriser), {size}, D = 784, {t} thread{'s' if t > 1 else ''}: "
                          f"worst time ratio over s = {args.s} ({'wall' if t > 1 else 'CPU'} time)", fig, "x",
                          "<= 1.15", "two-GEMM floor (x @ atoms.T, then G @ atoms; faster orientation)",
                          ", ".join(f"s={s:g}: wall {w:.2f}x, CPU {c:.2f}x" for s, (w, c) in rows.items()))
    if 3 in parts:
        t3 = bench_quadrature(max(args.repeats, 5))
        summary.append(f"1-D S_tot: {t3 * 1e3:.2f} ms")
    if 4 in parts and not args.quick:
        t4, t_dbl = bench_cubature_2d(max(args.repeats, 3))
        summary.append(f"2-D S_tot cubature: {t4 * 1e3:.1f} ms (dblquad, one time: {t_dbl:.2f} s)")
    print("summary: " + "; ".join(summary))
    print(common.machine_line())


if __name__ == "__main__":
    main()
