"""The numbers of docs/official_audit.md, measured with nent_ref (not a benchmark: no timings).

    .venv/bin/python benchmarks/measure_official_audit.py               # everything (~15 min on one core)
    .venv/bin/python benchmarks/measure_official_audit.py --seeds 20    # a quicker recipe table

Prints, for the paper's mixtures (presets ``official-*``) and the jax >= 0.5 variants (``official-*-jax05``):

1. S_tot of the 2-D mixtures on [1e-5, 1] and on the official estimator's two windows (cubature, with the
   largest error bound);
2. S_tot(1e-5, 1) of the 9-D mixtures by Monte Carlo: two seeds of 2^22 samples each, their mean and its
   standard error;
3. the official recipe (:func:`nent_ref.suites.conformance.official_recipe`) on the notebook mixture over
   ``--seeds`` seeds ``[12, k]``: mean, its standard error, the spread of one run, the mean S_NN / S_tot,
   and the trapezoid of nent_ref's exact rates on the recipe's grid (what the recipe estimates).
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import nent_ref as nr
from nent_ref.suites import cases, conformance


def exact_windows(names) -> None:
    procs, win = cases.processes(), cases.official_windows()
    print("S_tot (nats, cubature): [1e-5, 1] | official S_tot window | official S_NN window | ratio | max bound")
    for name in names:
        mix = cases.official_mixture(name)
        for pn, key in cases.OFFICIAL_PROCESSES.items():
            est = [nr.total_entropy(mix, procs[key], *w) for w in ((1e-5, 1.0), win["S_tot"], win["S_NN"])]
            print(f"  {name:28s} {pn:3s} {est[0].value:.6f} {est[1].value:.6f} {est[2].value:.6f} "
                  f"{est[2].value / est[1].value:.4f} {max(e.error_bound for e in est):.1e}", flush=True)


def monte_carlo_9d(names, n_samples: int = 2 ** 22) -> None:
    procs = cases.processes()
    print(f"S_tot(1e-5, 1) (nats, Monte Carlo, seeds 1 and 2, {n_samples} samples each)")
    for name in names:
        mix = cases.official_mixture(name)
        for pn, key in cases.OFFICIAL_PROCESSES.items():
            runs = [nr.total_entropy(mix, procs[key], 1e-5, 1.0, seed=s, n_samples=n_samples) for s in (1, 2)]
            mean = 0.5 * (runs[0].value + runs[1].value)
            se = 0.5 * math.hypot(runs[0].stderr, runs[1].stderr)
            print(f"  {name:28s} {pn:3s} {mean:.5f} +- {se:.5f}", flush=True)


def recipe(name: str, n_seeds: int) -> None:
    procs, grid = cases.processes(), cases.official_grid()
    mix = cases.official_mixture(name)
    print(f"official recipe on {name}, {n_seeds} seeds [12, k]: mean +- s.e. | one run's spread | S_NN/S_tot | "
          "trapezoid of the exact rates")
    for pn, key in cases.OFFICIAL_PROCESSES.items():
        runs = [conformance.official_recipe(mix, procs[key], seed=[12, k]) for k in range(n_seeds)]
        tot = np.array([r.s_tot for r in runs])
        nn = np.array([r.s_nn for r in runs])
        rates = np.array([nr.entropy_production_rate(mix, procs[key], s).value for s in grid[:-1]])
        trap = float(np.sum(0.5 * (rates[1:] + rates[:-1]) * np.diff(grid[:-1])))
        sd = tot.std(ddof=1)
        print(f"  {pn:3s} {tot.mean():.5f} +- {sd / math.sqrt(tot.size):.5f} | {sd:.5f} | {np.mean(nn / tot):.5f} | "
              f"{trap:.6f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=200, help="seeds of the recipe table (default 200)")
    args = p.parse_args()
    exact_windows(["official-notebook-D2", "official-mlp-D2", "official-notebook-D2-jax05", "official-mlp-D2-jax05"])
    monte_carlo_9d(["official-mlp-D9", "official-mlp-D9-jax05"])
    recipe("official-notebook-D2", args.seeds)


if __name__ == "__main__":
    main()
