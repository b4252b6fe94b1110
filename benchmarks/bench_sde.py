"""Benchmark of the SDE engine (issue 4): one command, ratios measured in the same run.

    /work/venv/bin/python benchmarks/bench_sde.py            # default sizes (minutes)
    /work/venv/bin/python benchmarks/bench_sde.py --full     # the issue's sizes: 1e6 particles x 1000 steps
    /work/venv/bin/python benchmarks/bench_sde.py --full --dims 2 --repeat 1 --skip-reverse   # D = 2 only

1. Forward VP Euler-Maruyama (beta 0.1 -> 20), D = 2 and D = 64: throughput in particle-dimension-steps
   per second of ``nent_ref.sde.simulate`` with 1 and 2 Numba threads, against
   (a) a plain numpy vectorised EM loop (in place, preallocated buffers, default Generator) and
   (b) the floor: drawing the same number of standard normals with numpy's default Generator
       (``rng.standard_normal(out=buf)`` once per step).
   Targets: engine >= 1.0x the floor on 1 thread, >= 1.6x on 2 threads.
2. Reverse SDE with the exact score of the paper's 5-component Gaussian mixture in D = 9:
   ``nent_ref.sde.sample(..., data=mixture)`` against a numpy reference (the mixture score by
   broadcasting over (n, K, D) plus a numpy EM update).  Target: >= 5x.

Timings are the best of ``--repeat`` runs, the candidates taking turns within each repeat (the machine
may be shared); every ratio compares numbers taken in this run.
"""
from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

import nent_ref as nr
from nent_ref import cases, sde
from nent_ref.core import kernels as _kernels
from nent_ref.core.mixture import GaussianMixture


def interleaved(named, repeat, max_threads):
    """Best time of each (name, threads, fn), the candidates run in turn within every repeat so
    that all of them see the same machine load."""
    best = {name: math.inf for name, _, _ in named}
    for _ in range(repeat):
        for name, threads, fn in named:
            numba.set_num_threads(threads)
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    numba.set_num_threads(max_threads)
    return best


def forward_numpy_em(proc, x0, grid, seed):
    c, d = sde.transition_coefficients(proc, grid, "em")
    rng = np.random.default_rng(seed)
    x = x0.copy()
    z = np.empty_like(x)
    for k in range(len(c)):
        rng.standard_normal(out=z)
        z *= d[k]
        x *= c[k]
        x += z
    return x


def normals_floor(shape, nsteps, seed):
    rng = np.random.default_rng(seed)
    z = np.empty(shape)
    for _ in range(nsteps):
        rng.standard_normal(out=z)
    return z


def reverse_numpy(proc, mix, x0, grid, seed):
    """Plain numpy reverse EM with the exact mixture score (no Numba anywhere)."""
    rng = np.random.default_rng(seed)
    x = x0.copy()
    log_w = np.log(mix.weights)
    a = -proc.drift(np.ones(1), grid)[:, 0]
    sig2 = proc.sigma2(grid)
    for k in range(len(grid) - 1, 0, -1):
        h = grid[k] - grid[k - 1]
        _, means, covs = mix.diffused_params(proc, grid[k])
        score = _kernels.mixture_logpdf_score_numpy(x, log_w, means, covs)[1]
        x = (1.0 + a[k] * h) * x + sig2[k] * h * score + math.sqrt(sig2[k] * h) * rng.standard_normal(x.shape)
    return x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the issue's sizes (1e6 particles x 1000 steps, D = 2 and 64)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dims", default="2,64", help="comma-separated dimensions of part 1 (default 2,64)")
    ap.add_argument("--skip-reverse", action="store_true", help="run part 1 only")
    args = ap.parse_args(argv)
    proc = nr.VP(0.1, 20.0)
    if args.full:
        fwd_cases = [(2, 1_000_000, 1000), (64, 1_000_000, 1000)]
        rev = (100_000, 1000)
    else:
        fwd_cases = [(2, 1_000_000, 100), (64, 100_000, 100)]
        rev = (20_000, 100)
    dims = {int(d) for d in args.dims.split(",")}
    fwd_cases = [c for c in fwd_cases if c[0] in dims]
    max_threads = numba.config.NUMBA_NUM_THREADS
    threads = [t for t in (1, 2) if t <= max_threads]
    print(f"numpy {np.__version__}, numba {numba.__version__}, NUMBA_NUM_THREADS={max_threads}, "
          f"threading layer after warm-up reported below; best of {args.repeat}")

    # warm-up (compilation / cache load)
    sde.simulate(proc, np.zeros((10, 2)), np.linspace(0, 1, 3))
    print()
    print("1. forward VP EM: throughput in 1e6 particle-dimension-steps per second")
    print(f"{'D':>3} {'particles':>10} {'steps':>6} | {'floor':>8} {'numpy EM':>9} | "
          + " ".join(f"{'engine t=' + str(t):>11}" for t in threads)
          + " | " + " ".join(f"{'vs floor t=' + str(t):>12}" for t in threads)
          + " " + " ".join(f"{'vs numpy t=' + str(t):>12}" for t in threads))
    for D, n, steps in fwd_cases:
        grid = np.linspace(0.0, 1.0, steps + 1)
        x0 = np.random.default_rng(0).standard_normal((n, D))
        work = n * D * steps / 1e6
        named = [("floor", 1, lambda: normals_floor((n, D), steps, 1)),
                 ("numpy", 1, lambda: forward_numpy_em(proc, x0, grid, 1))]
        named += [(t, t, lambda: sde.simulate(proc, x0, grid, seed=1)) for t in threads]
        best = interleaved(named, args.repeat, max_threads)
        t_floor, t_np = best["floor"], best["numpy"]
        t_eng = {t: best[t] for t in threads}
        print(f"{D:>3} {n:>10} {steps:>6} | {work / t_floor:8.1f} {work / t_np:9.1f} | "
              + " ".join(f"{work / t_eng[t]:11.1f}" for t in threads)
              + " | " + " ".join(f"{t_floor / t_eng[t]:11.2f}x" for t in threads)
              + " " + " ".join(f"{t_np / t_eng[t]:11.2f}x" for t in threads))
    print(f"threading layer: {numba.threading_layer()}")

    if args.skip_reverse:
        return
    print()
    print("2. reverse SDE, exact score of the paper's 5-component mixture, D = 9 (VP 0.1 -> 20)")
    w, m, sd = cases.paper_mixture_params(9)
    mix = GaussianMixture(w, m, sd ** 2)
    n, steps = rev
    grid = np.linspace(1e-3, 1.0, steps + 1)
    x0 = np.random.default_rng(2).standard_normal((n, 9))
    sde.sample(proc, 10, grid[:3], data=mix, x_init=x0[:10])       # warm-up
    named = [("numpy", 1, lambda: reverse_numpy(proc, mix, x0, grid, 3))]
    named += [(t, t, lambda: sde.sample(proc, n, grid, data=mix, seed=3, x_init=x0)) for t in threads]
    best = interleaved(named, args.repeat, max_threads)
    t_np = best["numpy"]
    print(f"particles {n}, steps {steps}: numpy reference {t_np:.2f} s")
    for t in threads:
        print(f"  engine threads={t}: {best[t]:.2f} s   ratio vs numpy reference {t_np / best[t]:.2f}x")


if __name__ == "__main__":
    main()
