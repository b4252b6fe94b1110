"""Work sized to the precision asked for (issue 15): Monte Carlo S_tot of mixtures and empirical data.

One command: ``python benchmarks/bench_precision.py`` (``--quick``: skip the MNIST-sized memoriser;
``--big``: also time the former default 2**18 samples on it instead of extrapolating).

Same-run comparisons of ``nr.total_entropy`` with the default precision target (stop when
``stderr <= max(1e-3 |S_tot|, 1e-3)``, pilot 1024 samples, cap 2**20) against fixed sample sizes:
the former library default ``n_samples = 2**18`` and the ``paper`` table's ``2**16``.

1. MNIST-sized memoriser: an empirical distribution of N = 60000 atoms in D = 784 (synthetic atoms
   uniform in [0, 1]^784), VP 0.1 -> 16, S_tot(1e-3, 1).  The fixed run is timed at 2**12 samples
   and scaled linearly to 2**18 (``--big`` runs 2**18: about half an hour).
2. The default table's memoriser row N = 1000, D = 9 (atoms drawn from the paper's D = 9 mixture),
   VP 0.1 -> 16, S_tot(1e-5, 1), at rtol 1e-3 (the default), 1e-4, and fixed 2**16 / 2**18.
3. The Monte Carlo parts of the ``paper`` suite (mixtures D = 3, 6, 9: S_tot(EPS, T) and
   KL(p_0 || p_eq); memorisers N = 10, 100, 1000; processes vp16, vpx, sl): total time and the
   largest relative stderr at fixed 2**16 (today's table) and at rtol = 1e-3 and 3e-3.

Timings are wall-clock on whatever machine runs this (the numbers in the docs were measured on a
shared, loaded 2-core machine); ratios within one run are what matter.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

import nent_ref as nr
from nent_ref.core.mixture import Empirical
from nent_ref.suites import cases


def timed(fn):
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = fn()
    return est, time.perf_counter() - t, len(caught)


def rel(est):
    return float(np.max(np.asarray(est.stderr) / np.abs(np.asarray(est.value))))


def line(label, est, sec, n_warn=0):
    met = est.extra.get("target_met")
    print(f"   {label:26s} S_tot {est.value:12.6f} ± {est.stderr:9.3g}  rel {rel(est):8.2g}  "
          f"samples {est.n_samples:8d}  time {sec:8.2f} s  target_met {met}"
          + (f"  ({n_warn} warnings)" if n_warn else ""), flush=True)


def mnist_sized(big: bool):
    rng = np.random.default_rng(0)
    N, D = 60000, 784
    emp = Empirical(rng.uniform(0.0, 1.0, (N, D)))
    vp = nr.VP(0.1, 16.0)
    print(f"1. memoriser N = {N}, D = {D}, VP 0.1 -> 16, S_tot(1e-3, 1)", flush=True)
    est, sec, w = timed(lambda: nr.total_entropy(emp, vp, 1e-3, 1.0, method="monte-carlo", seed=1))
    line("default (rtol 1e-3)", est, sec, w)
    n_fixed = 2 ** 18 if big else 2 ** 12
    fix, sec_f, _ = timed(lambda: nr.total_entropy(emp, vp, 1e-3, 1.0, method="monte-carlo", seed=1,
                                                   n_samples=n_fixed))
    line(f"fixed n = {n_fixed}", fix, sec_f)
    if not big:
        scaled = sec_f * 2 ** 18 / n_fixed
        print(f"   fixed n = 2**18 (former default), scaled linearly from 2**12: about {scaled:.0f} s "
              f"= {scaled / 60:.1f} min; the default is {scaled / sec:.0f}x faster", flush=True)
    else:
        scaled = sec_f
        print(f"   the default is {sec_f / sec:.0f}x faster than the former default", flush=True)
    common.target(f"memoriser N = {N}, D = {D}: S_tot(1e-3, 1) at the default rtol 1e-3, wall time", sec, "s", None,
                  "fixed n = 2**18 (former default)" + ("" if big else ", scaled linearly from a 2**12 run"),
                  f"{est.n_samples} samples, rel. stderr {rel(est):.2g}, target met {est.extra.get('target_met')}; "
                  f"2**18: {scaled:.0f} s, {scaled / sec:.0f}x the default's time")


def table_memoriser():
    mix = cases.paper_mixture(9)
    emp = Empirical(mix.sample(1000, seed=[0, 8, 9, 1000]))
    vp = cases.processes()["vp16"]
    print("\n2. memoriser N = 1000, D = 9 (the paper table's row), VP 0.1 -> 16, S_tot(1e-5, 1)", flush=True)
    runs = [("default (rtol 1e-3)", {}), ("rtol 1e-4", {"rtol": 1e-4}), ("fixed n = 2**16 (table)", {"n_samples": 2 ** 16}),
            ("fixed n = 2**18 (former default)", {"n_samples": 2 ** 18})]
    secs = {}
    for label, kw in runs:
        est, sec, w = timed(lambda: nr.total_entropy(emp, vp, cases.EPS, 1.0, method="monte-carlo", seed=2, **kw))
        secs[label] = sec
        line(label, est, sec, w)
    base = secs["default (rtol 1e-3)"]
    print(f"   default vs table 2**16: {secs['fixed n = 2**16 (table)'] / base:.0f}x faster; vs 2**18: "
          f"{secs['fixed n = 2**18 (former default)'] / base:.0f}x faster", flush=True)


def paper_monte_carlo():
    print("\n3. Monte Carlo parts of the paper suite (mixtures D = 3, 6, 9: S_tot(EPS, T) and KL(p_0 || p_eq); "
          "memorisers N = 10, 100, 1000)", flush=True)
    procs = cases.processes()
    settings = [("fixed n = 2**16 (table today)", {"n_samples": 2 ** 16}), ("rtol 1e-3 (default)", {}),
                ("rtol 3e-3", {"rtol": 3e-3})]
    for label, kw in settings:
        t_mix = t_mem = 0.0
        worst_mix = worst_mem = 0.0
        samples = 0
        unmet = 0
        for pname in ("vp16", "vpx", "sl"):
            proc = procs[pname]
            for dim in (3, 6, 9):
                mix = cases.paper_mixture(dim)
                mc = {"seed": [0, 6, dim], **kw}
                for fn in (lambda: nr.total_entropy(mix, proc, cases.EPS, proc.T, **mc),
                           lambda: nr.kl_to_equilibrium(mix, proc, 0.0, **mc)):
                    est, sec, w = timed(fn)
                    t_mix += sec
                    worst_mix = max(worst_mix, rel(est))
                    samples += est.n_samples
                    unmet += w
                for n in (10, 100, 1000):
                    emp = Empirical(mix.sample(n, seed=[0, 8, dim, n]))
                    est, sec, w = timed(lambda: nr.total_entropy(emp, proc, cases.EPS, proc.T, method="monte-carlo",
                                                                 seed=[0, 9, dim, n], **kw))
                    t_mem += sec
                    worst_mem = max(worst_mem, rel(est))
                    samples += est.n_samples
                    unmet += w
        print(f"   {label:30s} mixtures {t_mix:7.2f} s (max rel stderr {worst_mix:.2g})  memorisers {t_mem:7.2f} s "
              f"(max rel stderr {worst_mem:.2g})  total {t_mix + t_mem:7.2f} s, {samples} samples, "
              f"{unmet} unmet targets", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the N = 60000, D = 784 memoriser")
    ap.add_argument("--big", action="store_true", help="run the former default 2**18 on the big memoriser")
    args = ap.parse_args(argv)
    # warm-up: load the compiled kernels once, so that no timing below includes it
    warm = Empirical(np.random.default_rng(0).uniform(size=(50, 9)))
    nr.total_entropy(warm, nr.VP(0.1, 16.0), 1e-3, 1.0, method="monte-carlo", n_samples=1024)
    nr.total_entropy(cases.paper_mixture(3), nr.VP(0.1, 16.0), n_samples=1024)
    if not args.quick:
        mnist_sized(args.big)
    table_memoriser()
    paper_monte_carlo()


if __name__ == "__main__":
    main()
