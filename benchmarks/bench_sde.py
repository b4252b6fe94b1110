"""Benchmark of the SDE engine (issue 4): one command, ratios measured in the same run.

    python benchmarks/bench_sde.py            # default sizes (minutes)
    python benchmarks/bench_sde.py --full     # the issue's sizes: 1e6 particles x 1000 steps
    python benchmarks/bench_sde.py --full --dims 2 --repeat 1 --skip-reverse   # D = 2 only
    python benchmarks/bench_sde.py --skip-forward --repeat 5                    # part 2 only

1. Forward VP Euler-Maruyama (beta 0.1 -> 20), D = 2 and D = 64: throughput in particle-dimension-steps
   per second of ``nent_ref.sde.simulate`` with 1 and 2 Numba threads, against
   (a) a plain numpy vectorised EM loop (in place, preallocated buffers, default Generator) and
   (b) the floor: drawing the same number of standard normals with numpy's default Generator
       (``rng.standard_normal(out=buf)`` once per step).
   Targets: engine >= 1.0x the floor on 1 thread, >= 1.6x on 2 threads.
2. Reverse SDE with the exact score of the paper's 5-component Gaussian mixture in D = 9:
   ``nent_ref.sde.sample(..., data=mixture)`` against the numpy reference a user would write
   (``common.reverse_sde_numpy``: the GEMM-form mixture score, numpy's Generator, in-place EM update),
   both on one thread (Numba and BLAS), and the engine on 2 threads.  Goals: >= 5x on one thread,
   >= 1.6x from 1 to 2 threads.

Timings are the best of ``--repeat`` runs, the candidates taking turns within each repeat (the machine
may be shared; ``common.interleaved``); every ratio compares numbers taken in this run, wall clock and
CPU time (one-thread figures: CPU time is the steadier one under load; the CPU time is the calling
thread's, ``time.thread_time``, so a two-thread run shows only its main thread's share).  The load
average is printed with every part: a 2-thread figure means little when the load exceeds the core count.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import nent_ref as nr  # noqa: E402
from nent_ref import cases, sde  # noqa: E402
from nent_ref.core.mixture import GaussianMixture  # noqa: E402


def interleaved(named, repeat, max_threads):
    """Best wall time of each (name, threads, fn) (``common.interleaved``)."""
    return {k: v.wall for k, v in common.interleaved(named, repeat).items()}


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the issue's sizes (1e6 particles x 1000 steps, D = 2 and 64)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dims", default="2,64", help="comma-separated dimensions of part 1 (default 2,64)")
    ap.add_argument("--skip-reverse", action="store_true", help="run part 1 only")
    ap.add_argument("--skip-forward", action="store_true", help="run part 2 only")
    args = ap.parse_args(argv)
    proc = nr.VP(0.1, 20.0)
    if args.full:
        fwd_cases = [(2, 1_000_000, 1000), (64, 1_000_000, 1000)]
        rev = (100_000, 1000)
    else:
        fwd_cases = [(2, 1_000_000, 100), (64, 100_000, 100)]
        rev = (20_000, 100)
    dims = {int(d) for d in args.dims.split(",")}
    fwd_cases = [c for c in fwd_cases if c[0] in dims and not args.skip_forward]
    max_threads = numba.config.NUMBA_NUM_THREADS
    threads = [t for t in (1, 2) if t <= max_threads]
    print(common.machine_line() + f"; best of {args.repeat}")

    summary = []
    # warm-up (compilation / cache load)
    sde.simulate(proc, np.zeros((10, 2)), np.linspace(0, 1, 3))
    print()
    print("1. forward VP EM: throughput in 1e6 particle-dimension-steps per second"
          + (" (skipped: --skip-forward)" if args.skip_forward else ""))
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
        summary.append(f"forward D={D} engine/floor " + ", ".join(f"t={t} {t_floor / t_eng[t]:.2f}x" for t in threads))
        print(f"{D:>3} {n:>10} {steps:>6} | {work / t_floor:8.1f} {work / t_np:9.1f} | "
              + " ".join(f"{work / t_eng[t]:11.1f}" for t in threads)
              + " | " + " ".join(f"{t_floor / t_eng[t]:11.2f}x" for t in threads)
              + " " + " ".join(f"{t_np / t_eng[t]:11.2f}x" for t in threads))
    print(f"threading layer: {numba.threading_layer()}")

    if args.skip_reverse:
        print("summary: " + "; ".join(summary) + f" ({common.load_average()})")
        return
    print()
    print(f"2. reverse SDE, exact score of the paper's 5-component mixture, D = 9 (VP 0.1 -> 20) "
          f"({common.load_average()})")
    w, m, sd = cases.paper_mixture_params(9)
    mix = GaussianMixture(w, m, sd ** 2)
    n, steps = rev
    grid = np.linspace(1e-3, 1.0, steps + 1)
    x0 = np.random.default_rng(2).standard_normal((n, 9))
    sde.sample(proc, 10, grid[:3], data=mix, x_init=x0[:10])       # warm-up
    named = [("numpy", 1, lambda: common.reverse_sde_numpy(proc, mix, x0, grid, 3)),
             ("twin", 1, lambda: common.reverse_sde_numpy(proc, mix, x0, grid, 3, score="broadcast"))]
    named += [(t, t, lambda: sde.sample(proc, n, grid, data=mix, seed=3, x_init=x0)) for t in threads]
    best = common.interleaved(named, args.repeat)
    t_np = best["numpy"]
    print(f"particles {n}, steps {steps}: numpy reference (GEMM-form score, 1 thread) {t_np.wall:.2f} s "
          f"(cpu {t_np.cpu:.2f} s)")
    print(f"  (the same with the (n, K, D)-broadcast score of kernels.mixture_logpdf_score_numpy, the reference "
          f"of earlier runs: {best['twin'].wall:.2f} s, cpu {best['twin'].cpu:.2f} s; engine 1 thread "
          f"{best['twin'].cpu / best[1].cpu:.2f}x cpu)")
    for t in threads:
        b = best[t]
        cpu = "cpu" if t == 1 else "main-thread cpu"
        print(f"  engine threads={t}: {b.wall:.2f} s ({cpu} {b.cpu:.2f} s)   ratio vs numpy reference "
              f"{t_np.wall / b.wall:.2f}x wall, {t_np.cpu / b.cpu:.2f}x {cpu}"
              + (f"   scaling 1 -> {t} threads {best[1].wall / b.wall:.2f}x" if t > 1 else ""))
    summary.append("reverse numpy/engine " + ", ".join(f"t={t} {t_np.wall / best[t].wall:.2f}x wall"
                                                       + (f" {t_np.cpu / best[t].cpu:.2f}x cpu" if t == 1 else "")
                                                       for t in threads)
                   + (f", scaling 1->2 threads {best[1].wall / best[2].wall:.2f}x" if 2 in threads else ""))
    common.target(f"reverse SDE, exact mixture score, D = 9, {n} particles x {steps} steps, 1 thread: speed-up "
                  "(CPU time)", t_np.cpu / best[1].cpu, "x", ">= 5", "numpy reference (common.reverse_sde_numpy)",
                  f"engine {best[1].cpu:.2f} s CPU, numpy {t_np.cpu:.2f} s CPU, best of {args.repeat}")
    if 2 in threads:
        common.target(f"reverse SDE, {n} particles x {steps} steps: scaling 1 -> 2 threads (wall time)",
                      best[1].wall / best[2].wall, "x", ">= 1.6", "the engine on 1 thread",
                      f"1 thread {best[1].wall:.2f} s, 2 threads {best[2].wall:.2f} s wall")
    print("summary: " + "; ".join(summary) + f" ({common.load_average()})")
    print(common.machine_line())


if __name__ == "__main__":
    main()
