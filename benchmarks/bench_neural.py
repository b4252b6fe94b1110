"""Benchmark of the neural-entropy estimators (one command: ``python benchmarks/bench_neural.py``).

Measures the work-normalised efficiency ``1 / (stderr^2 * seconds)`` of ``nr.neural_entropy`` for
the exact e* (same total sample count, same run), comparing the default design (stratified over
the defensive time density, ``time_map="auto"``) with two baselines:

* ``time_map="linear"`` (stratified, uniform time density): the naive design;
* ``scheme="gauss-legendre"`` (fixed nodes; its error_bound is added to the stderr, as reported).

Cases: Gaussian D = 3 under VP16 (s0 = 0), Dirac D = 3 under VP16 (s0 = 1e-5), Dirac D = 3 under
SL (s0 = 1e-5, s1 = 1 - 1e-5).  The empirical standard deviation over repeats is printed next to
the reported stderr as a calibration check.  Ratios > 1 mean the default is more efficient.
"""
from __future__ import annotations

import time

import numpy as np

import nent_ref as nr
from nent_ref import cases
from nent_ref import reference_models as rm

N_SAMPLES = 2 ** 15
REPEATS = 8


def run(e, data, proc, s0, s1, **kw):
    vals, errs, secs = [], [], []
    for seed in range(REPEATS):
        t = time.perf_counter()
        est = nr.neural_entropy(e, data, proc, s0=s0, s1=s1, n_samples=N_SAMPLES, seed=seed, **kw)
        secs.append(time.perf_counter() - t)
        vals.append(est.value)
        errs.append(est.stderr + est.error_bound)
    return np.mean(vals), np.mean(errs), np.std(vals, ddof=1), np.median(secs)


def main():
    procs = cases.processes()
    rows = [("gaussian D=3, vp16, s0=0", cases.gaussian_case(3), procs["vp16"], 0.0, 1.0),
            ("dirac D=3, vp16, s0=1e-5", cases.dirac_case(3), procs["vp16"], 1e-5, 1.0),
            ("dirac D=3, sl, s0=1e-5", cases.dirac_case(3), procs["sl"], 1e-5, 1 - 1e-5)]
    designs = [("auto (default)", {}), ("linear", {"time_map": "linear"}),
               ("gauss-legendre", {"scheme": "gauss-legendre"})]
    for label, data, proc, s0, s1 in rows:
        truth = nr.total_entropy(data, proc, s0, s1).value
        e = rm.exact_e(data, proc)
        print(f"\n{label}: S_tot = {truth:.6g} nats (closed form), n_samples = {N_SAMPLES}, {REPEATS} seeds")
        base = None
        for name, kw in designs:
            mean, err, sd, sec = run(e, data, proc, s0, s1, **kw)
            eff = 1.0 / (err ** 2 * sec)
            base = eff if base is None else base
            print(f"  {name:16s} mean {mean:10.5g}  reported err {err:8.3g}  seed-to-seed sd {sd:8.3g}  "
                  f"time {sec * 1e3:7.1f} ms  efficiency ratio default/this = {base / eff:6.2f}")


if __name__ == "__main__":
    main()
