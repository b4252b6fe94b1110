"""Canonical cases: the single source of truth for tests, ``nent-ref table`` and the figures.

Processes (THEORY.md section 1):

* ``vp16``  -- VP, linear beta 0.1 -> 16, kappa = 1 (the paper's VP)
* ``vp20``  -- VP, linear beta 0.1 -> 20 (the score-SDE default)
* ``vpx``   -- VP, beta 0.1 -> 16, kappa = 0.1 (the paper's VPx)
* ``sl``    -- SL with Sigma0 = 0.1 (the paper's straight-line process)

Data: Gaussians and Dirac atoms in D in {1, 2, 3, 6, 9}, drawn once from fixed seeds
(``numpy.random.default_rng``, PCG64, stable across numpy versions), and the paper's
5-component Gaussian mixtures (means uniform in a box of side 4, isotropic component
standard deviations uniform in [0.5, 1], equal weights), D in {2, 3, 6, 9}.

The cutoff for Dirac/empirical data is the paper's ``EPS = 1e-5``.
"""
from __future__ import annotations

import numpy as np

from .data import Dirac, Gaussian
from .entropy import kl_to_equilibrium, total_entropy
from .processes import SL, VP

__all__ = ["EPS", "DIMS", "MIXTURE_DIMS", "processes", "gaussian_case", "dirac_case",
           "paper_mixture_params", "gaussian_rows"]

#: Cutoff s0 for data whose entropy production diverges at s = 0 (the paper's eps).
EPS = 1e-5
#: Dimensions of the Gaussian and Dirac suites.
DIMS = (1, 2, 3, 6, 9)
#: Dimensions of the paper's mixture experiments.
MIXTURE_DIMS = (2, 3, 6, 9)
_SEED = 20261122


def processes() -> dict:
    """The canonical processes by short name (fresh objects each call)."""
    return {
        "vp16": VP(beta_min=0.1, beta_max=16.0),
        "vp20": VP(beta_min=0.1, beta_max=20.0),
        "vpx": VP(beta_min=0.1, beta_max=16.0, kappa=0.1),
        "sl": SL(sigma0=0.1),
    }


def gaussian_case(dim: int) -> Gaussian:
    """Gaussian data in ``dim`` dimensions: mean uniform in [-1, 1]^D, covariance
    ``Q diag(lam) Q^T`` with a random rotation Q and eigenvalues uniform in [0.25, 1]."""
    rng = np.random.default_rng([_SEED, 1, dim])
    mean = rng.uniform(-1.0, 1.0, dim)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))
    lam = rng.uniform(0.25, 1.0, dim)
    cov = (q * lam) @ q.T
    return Gaussian(mean, 0.5 * (cov + cov.T))


def dirac_case(dim: int) -> Dirac:
    """A Dirac atom in ``dim`` dimensions, uniform in [-1, 1]^D."""
    rng = np.random.default_rng([_SEED, 2, dim])
    return Dirac(rng.uniform(-1.0, 1.0, dim))


def paper_mixture_params(dim: int, n_components: int = 5, seed: int = 0):
    """The paper's mixture setting: ``(weights, means, stds)``.

    Equal weights, means uniform in the box [-2, 2]^D (side 4), isotropic component
    standard deviations uniform in [0.5, 1].  Component k is N(means[k], stds[k]^2 I).
    """
    rng = np.random.default_rng([_SEED, 3, dim, n_components, seed])
    weights = np.full(n_components, 1.0 / n_components)
    means = rng.uniform(-2.0, 2.0, (n_components, dim))
    stds = rng.uniform(0.5, 1.0, n_components)
    return weights, means, stds


def gaussian_rows(options=None) -> list[dict]:
    """Closed-form suite: S_tot, KL(p_s0 || p_eq) and KL(p_T || p_eq) for Gaussian and Dirac data.

    ``s0 = 0`` for Gaussians (then KL(p_s0 || p_eq) = KL(p_d || p_eq)) and ``s0 = EPS`` for
    Dirac atoms (whose KL(p_d || p_eq) is infinite).  ``s1 = T = 1``.  All values in nats.
    """
    rows = []
    for pname, proc in processes().items():
        for dim in DIMS:
            for kind, data, s0 in (("gaussian", gaussian_case(dim), 0.0), ("dirac", dirac_case(dim), EPS)):
                s1 = proc.T
                stot = total_entropy(data, proc, s0, s1)
                rows.append({
                    "data": kind, "dim": dim, "process": pname, "s0": s0, "s1": s1,
                    "S_tot": stot.value, "S_tot_stderr": stot.stderr,
                    "kl_s0_eq": kl_to_equilibrium(data, proc, s0).value,
                    "kl_T_eq": kl_to_equilibrium(data, proc, s1).value,
                    "clock": float(proc.clock(s0, s1)),
                    "method": stot.method,
                })
    return rows


#: Processes of the paper's analytic settings (VP beta 0.1 -> 16, VPx kappa = 0.1, SL Sigma0 = 0.1).
PAPER_PROCESSES = ("vp16", "vpx", "sl")
#: Training-set sizes of the memoriser rows of the ``paper`` suite.
PAPER_SIZES = (10, 100, 1000)
#: Monte Carlo sample size of the ``paper`` suite (per KL; standard errors are reported).
PAPER_N_SAMPLES = 2 ** 16


def _efficiency_window(proc):
    """[EPS, s1] for the speed-limit efficiency: s1 = T, or T - 1e-3 where the clock diverges (SL)."""
    return EPS, (proc.T - 1e-3 if proc.singular_at_T else proc.T)


def paper_rows(options=None) -> list[dict]:
    """Suite ``paper``: the paper's analytic settings, cutoff ``s0 = EPS = 1e-5``, ``s1 = T``.

    Mixture rows (5 components, D in 2, 3, 6, 9): S_tot(EPS, T) (cubature in 2-D, Monte Carlo with
    standard errors otherwise), KL(p_d || p_eq) at s = 0, KL(p_T || p_eq), and the speed-limit
    efficiency W2^2 / (clock S_tot) on [EPS, s1] (s1 = T - 1e-3 for SL, whose clock diverges at 1;
    W2^2 from exact OT between samples with its stderr and bias scale, biased upwards in high D,
    so the rows also give the closed-form bracket ``efficiency_lower`` (Gelbrich's moment bound)
    and ``efficiency_upper`` (component-wise Bures coupling, capped at 1 by the speed limit) of
    the true efficiency; ``efficiency`` is the sample plug-in, null where its bias scale is not
    below the bracket width (reason in ``efficiency_note``), and ``efficiency_quote`` +-
    ``efficiency_quote_error`` with ``efficiency_quote_kind`` ("plug-in" or "bracket") is the
    number to quote; see :func:`nent_ref.speed.speed_limit`).  Memoriser rows: the
    empirical S_tot(EPS, T) of N points drawn from the same mixture (N in 10, 100, 1000), the exact
    S_tot of a network that memorises its training set.  Nats; seeds derive from ``options.seed``.
    """
    from .cli import executor_for
    with executor_for(options) as executor:
        return _paper_rows(options, executor)


def _paper_rows(options, executor) -> list[dict]:
    from .mixture import Empirical, paper_mixture
    from .speed import efficiency_columns, speed_limit
    seed = getattr(options, "seed", 0)
    progress = getattr(options, "progress", lambda msg: None)
    rows = []
    for pname in PAPER_PROCESSES:
        proc = processes()[pname]
        for dim in MIXTURE_DIMS:
            progress(f"paper: mixture D={dim} {pname}")
            mix = paper_mixture(dim)
            mc = {"seed": [seed, 6, dim], "n_samples": PAPER_N_SAMPLES, "executor": executor}
            stot = total_entropy(mix, proc, EPS, proc.T, **mc)
            kl_d = kl_to_equilibrium(mix, proc, 0.0, **mc)
            kl_T = stot.extra["kl_s1"]          # KL(p_T || p_eq) from the same run as S_tot
            e0, e1 = _efficiency_window(proc)
            # S_tot on the efficiency window: the row's own value when the windows agree (VP, VPx)
            eff = speed_limit(mix, proc, e0, e1, w2_samples=500, w2_pairs=6, w2_seed=[seed, 7, dim],
                              s_tot=stot if e1 == proc.T else None, **mc).efficiency
            # the sample-based W2^2 is biased upwards in high D; the closed-form bracket
            # [Gelbrich lower, min(component-wise upper, 1)] / (clock S_tot) holds whatever the dimension,
            # and efficiency_quote(_kind) says which of the two to quote
            rows.append({"data": "mixture5", "dim": dim, "process": pname, "n_atoms": None, "s0": EPS,
                         "s1": proc.T, "S_tot": stot.value, "S_tot_stderr": stot.stderr,
                         "S_tot_error_bound": stot.error_bound, "kl_data_eq": kl_d.value,
                         "kl_data_eq_stderr": kl_d.stderr, "kl_T_eq": kl_T.value, "kl_T_eq_stderr": kl_T.stderr,
                         **efficiency_columns(eff), "efficiency_s1": e1, "method": stot.method})
            for n in PAPER_SIZES:
                progress(f"paper: memoriser D={dim} N={n} {pname}")
                emp = Empirical(mix.sample(n, seed=[seed, 8, dim, n]))
                est = total_entropy(emp, proc, EPS, proc.T, method="monte-carlo", seed=[seed, 9, dim, n],
                                    n_samples=PAPER_N_SAMPLES, executor=executor)
                rows.append({"data": "memoriser", "dim": dim, "process": pname, "n_atoms": n, "s0": EPS,
                             "s1": proc.T, "S_tot": est.value, "S_tot_stderr": est.stderr,
                             "S_tot_error_bound": est.error_bound, "method": est.method})
    return rows


def default_rows(options=None) -> list[dict]:
    """Suite ``default`` (what ``nent-ref table`` prints): the closed-form ``gaussian`` suite
    followed by the ``paper`` suite, each row tagged with its sub-suite."""
    return ([{"part": "gaussian", **r} for r in gaussian_rows(options)]
            + [{"part": "paper", **r} for r in paper_rows(options)])


def shipped_table() -> dict:
    """The versioned default table shipped with the package (``nent-ref table`` output, JSON).

    Regenerate with ``nent-ref table --quiet --out nent_ref/reference/default_table.json`` after any
    change that moves a number; ``tests/test_shipped_table.py`` recomputes a subset and compares.
    """
    import json
    from importlib import resources
    return json.loads(resources.files("nent_ref").joinpath("reference/default_table.json").read_text())
