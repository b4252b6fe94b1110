"""Model evaluations for S_NN of a real network to 1 % (issue 19): ``python benchmarks/bench_ecosystem.py``.

The model: a small randomly initialised diffusers ``UNet2DModel`` (8x8, one channel; seed 0) under the
1000-step linear DDPM schedule, through :func:`nent_ref.from_diffusers`; the data: 64 of sklearn's 8x8
digits scaled [0, 16] -> [-1, 1] (random images in [-1, 1] without scikit-learn); window [1e-3, 1] (the
first timestep to the last).  A model call is the cost that matters for a real network, so the figures are
model evaluations (rows) and calls, with the wall time.

* nent_ref: ``nr.neural_entropy(model, data, process, 1e-3, rtol=0.01)`` (pilot, then the refined design of
  nent_ref.quantities.precision), ``--seeds`` seeds: evaluations, calls, seconds, reported relative stderr,
  and whether the target was met.
* baseline, the official recipe (nent_ref.suites.conformance.official_recipe, re-expressed here for a
  model): ``n_data`` samples drawn once, reused at 100 times ``linspace(s0, 1, 100)``, one noise draw per
  sample and time, cumulative trapezoid of ``D(s) mean |e|^2``: ``n_data = 10^4`` is 10^6 evaluations, the
  setting whose single-run spread is about 0.6 % of S_tot for the paper's mixtures (docs/official_audit.md),
  and the baseline issue 19 names.  Its relative standard error here is computed from the per-time sample
  variances (the times are fixed; the noise of one run is the sum over nodes of (trapezoid weight)^2 var_j /
  n_data, with the data reused across times ignored, so it is a lower bound).  By default the recipe runs
  with ``n_data = 10^3`` (10^5 evaluations) and its stderr at 10^6 is extrapolated by 1/sqrt(10) (printed as
  such); ``--full`` runs 10^6.
* the recipe's time-discretisation error, measured without nent_ref: the same recipe on a 1000-node grid
  (``n_data = 100``, 10^5 evaluations) minus the 100-node value.  The refined recipe is also an independent
  check of nent_ref's value (printed in combined standard errors).

Targets.  The one with a goal compares at the official setting, as issue 19 asks: 10^6 evaluations (the
recipe's setting) over the evaluations nent_ref needs for 1 %, and it holds only if the recipe's total error
there (its 100-node bias and its noise) is not below 1 %, so that nent_ref is at least as precise with fewer
evaluations.  A second row, with no goal, keeps the hypothetical figure of earlier runs: the recipe's
evaluations for 1 % if its noise (lower bound) were its only error, a bias it cannot remove by sampling
ignored.

Threads: torch uses one thread (``torch.set_num_threads(1)``; on a loaded 2-core machine its spinning worker
threads made small calls 40x slower); the load average is printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

import nent_ref as nr

sys.path.insert(0, os.path.dirname(__file__))
import common  # noqa: E402
from common import load_average  # noqa: E402

#: the official recipe's evaluations at its documented setting (10^4 samples x 100 times)
OFFICIAL_EVALUATIONS = 10 ** 6

CFG = {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
       "beta_schedule": "linear", "prediction_type": "epsilon"}


def _data():
    try:
        from sklearn.datasets import load_digits
        return nr.Empirical.from_images(load_digits().images[:64], value_range=(0, 16)), "sklearn digits[:64]"
    except ImportError:
        rng = np.random.default_rng(0)
        return nr.Empirical(np.clip(rng.normal(0, 0.5, (64, 64)), -1, 1)), "random images (no scikit-learn)"


def _unet(torch, diffusers):
    torch.manual_seed(0)
    return diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)


def recipe(model, data, process, s0, n_data, n_times=100, seed=0):
    """The official recipe for S_NN of a model: (value, stderr lower bound, evaluations, seconds)."""
    rng = np.random.default_rng(seed)
    x = data.sample(n_data, rng)
    times = np.linspace(s0, process.T, n_times)
    means, variances = np.empty(n_times), np.empty(n_times)
    t0 = time.perf_counter()
    for j, s in enumerate(times):
        y = float(process.mean_coeff(s)) * x + np.sqrt(float(process.marginal_var(s))) * rng.standard_normal(x.shape)
        r = float(process.diffusion(s)) * np.sum(model(y, np.full(n_data, s)) ** 2, axis=1)
        means[j], variances[j] = r.mean(), r.var(ddof=1)
    secs = time.perf_counter() - t0
    h = np.diff(times)
    w = np.zeros(n_times)
    w[:-1] += h / 2
    w[1:] += h / 2
    value = float(w @ means)
    se = float(np.sqrt(np.sum(w * w * variances) / n_data))
    return value, se, n_data * n_times, secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="run the recipe at 10^6 evaluations (slow on CPU)")
    args = ap.parse_args()
    try:
        import torch
        import diffusers
    except ImportError as exc:
        print(f"bench_ecosystem: not run, {exc} (pip install -e '.[diffusers]'); {load_average()}")
        common.target("neural entropy, random UNet2DModel 8x8 (diffusers), 1 % relative precision: model "
                      "evaluations saved", None, "x", ">= 1", "official recipe, evaluations scaled to the same "
                      "precision", f"not run: {exc}")
        print("summary: not run (torch / diffusers not installed)")
        return
    torch.set_num_threads(1)
    data, label = _data()
    print(f"bench_ecosystem: torch {torch.__version__}, diffusers {diffusers.__version__}, 1 torch thread; "
          f"{load_average()}")
    unet = _unet(torch, diffusers)
    model = nr.from_diffusers(unet, CFG, batch_size=256)
    process, s0 = model.process, 1e-3
    print(f"model: random UNet2DModel 8x8x1 ({sum(p.numel() for p in unet.parameters())} parameters), "
          f"data: {label}, process: {process!r}, window [{s0}, 1]")
    print("\n1. nent_ref neural_entropy(rtol=0.01)")
    print(f"   {'seed':>4} {'S_NN':>12} {'rel. stderr':>11} {'met':>4} {'calls':>6} {'evaluations':>11} {'seconds':>8}")
    evals, values, ses, met = [], [], [], []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = nr.neural_entropy(model, data, process, s0, rtol=0.01, seed=seed)
        secs = time.perf_counter() - t0
        ex = est.extra
        evals.append(ex["model_evaluations"])
        values.append(est.value)
        ses.append(est.stderr)
        met.append(bool(ex["target_met"]))
        print(f"   {seed:>4} {est.value:>12.6g} {est.stderr / est.value:>11.4f} {str(ex['target_met']):>4} "
              f"{ex['model_calls']:>6} {ex['model_evaluations']:>11} {secs:>8.1f}")
    n_data = 10_000 if args.full else 1_000
    print(f"\n2. official recipe, n_data = {n_data} x 100 times")
    value, se, n_ev, secs = recipe(model, data, process, s0, n_data)
    print(f"   S_NN = {value:.6g}, rel. stderr (lower bound) {se / value:.4f}, {n_ev} evaluations, {secs:.1f} s")
    if not args.full:
        print(f"   at 10^6 evaluations (extrapolated, 1/sqrt(10)): rel. stderr {se / value / np.sqrt(10):.4f}")
    rel_1e6 = se / value / (1.0 if args.full else np.sqrt(10))
    print("\n3. the recipe's time-discretisation error: the same recipe on 1000 nodes, n_data = 100")
    fine, fine_se, fine_ev, fine_secs = recipe(model, data, process, s0, 100, n_times=1000, seed=1)
    print(f"   S_NN = {fine:.6g} +- {fine_se:.3g} (lower bound), {fine_ev} evaluations, {fine_secs:.1f} s")
    ref = float(np.mean(values))
    ref_se = float(np.sqrt(np.sum(np.square(ses)))) / len(ses)
    bias = value - fine                     # the 100-node grid's error, from the recipe alone
    bias_se = float(np.hypot(se, fine_se))
    total_1e6 = float(np.hypot(abs(bias) / ref, rel_1e6))    # the recipe's total relative error at 10^6
    agree = (fine - ref) / np.hypot(fine_se, ref_se)
    print(f"   100-node bias {bias:+.4g} +- {bias_se:.2g} ({100 * bias / ref:+.2f} % of S_NN); nent_ref's value "
          f"{ref:.6g} +- {ref_se:.2g} vs the 1000-node recipe: {agree:+.1f} combined stderrs")
    mean_evals = float(np.mean(evals))
    common.target("neural entropy, random UNet2DModel 8x8 (diffusers), 1 % relative precision: model "
                  "evaluations saved against the official setting (10^6)", OFFICIAL_EVALUATIONS / mean_evals,
                  "x", ">= 1",
                  "official recipe at its setting (10^4 samples x 100 times, trapezoid), valid while its total "
                  "error there is at least 1 % and nent_ref met 1 % in every seed",
                  f"nent_ref rtol=0.01: {mean_evals:.0f} evaluations (mean of {args.seeds} seeds, target met in "
                  f"{sum(met)}); recipe at 10^6: "
                  f"total error {100 * total_1e6:.2f} % (100-node bias {100 * bias / ref:+.2f} % from a 1000-node "
                  f"rerun, noise {100 * rel_1e6:.2f} %)",
                  valid=total_1e6 >= 0.01 and all(met))
    # the earlier, hypothetical comparison: stderr falls like 1/sqrt(evaluations), bias ignored
    need = OFFICIAL_EVALUATIONS * (rel_1e6 / 0.01) ** 2
    common.target("neural entropy, random UNet2DModel 8x8 (diffusers): evaluations a bias-free recipe would "
                  "need for 1 % (noise lower bound) over nent_ref's", need / mean_evals, "x", None,
                  "official recipe's noise alone (lower bound: data reuse ignored), scaled to 1 %",
                  f"recipe noise {100 * rel_1e6:.3f} % at 10^6 -> ~{need:.3g} evaluations for 1 %; nent_ref "
                  f"{mean_evals:.0f}; the recipe's 100-node bias ({100 * bias / ref:+.2f} %) is not counted here")
    print(f"\nsummary: nent_ref reaches 1 % with {mean_evals:.0f} evaluations (mean of {args.seeds} seeds; "
          f"10^6 / that = {OFFICIAL_EVALUATIONS / mean_evals:.0f}).  The recipe's sampling noise is "
          f"{100 * rel_1e6:.2f} % at 10^6 "
          f"evaluations (noise alone would need ~{need:.3g} for 1 %), but its 100-node trapezoid is off by "
          f"{bias:+.4g} ({100 * bias / ref:+.2f} %) from the same recipe on 1000 nodes: a time-discretisation "
          f"error that more samples do not remove.  nent_ref's value agrees with the 1000-node recipe to "
          f"{agree:+.1f} combined stderrs.")


if __name__ == "__main__":
    main()
