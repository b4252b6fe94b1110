"""Canonical cases: the single source of truth for tests, ``nent-ref table`` and the figures.

Processes (docs/theory.md section 1):

* ``vp16``  -- VP, linear beta 0.1 -> 16, kappa = 1 (the paper's VP)
* ``vp20``  -- VP, linear beta 0.1 -> 20 (the score-SDE default)
* ``vpx``   -- VP, beta 0.1 -> 16, kappa = 0.1 (the paper's VPx)
* ``sl``    -- SL with Sigma0 = 0.1 (the paper's straight-line process)

Data: Gaussians and Dirac atoms in D in {1, 2, 3, 6, 9}, drawn once from fixed seeds
(``numpy.random.default_rng``, PCG64, stable across numpy versions), and the paper's
5-component Gaussian mixtures (means uniform in a box of side 4, isotropic component
standard deviations uniform in [0.5, 1], equal weights), D in {2, 3, 6, 9}.

The cutoff for Dirac/empirical data is the paper's ``EPS = DEFAULT_CUTOFF``.
"""
from __future__ import annotations

import numpy as np

from ..core.data import DEFAULT_CUTOFF, Dirac, Gaussian
from ..core.mixture import GaussianMixture
from ..core.processes import SL, VP

__all__ = ["EPS", "DIMS", "MIXTURE_DIMS", "processes", "gaussian_case", "dirac_case",
           "paper_mixture_params", "paper_mixture"]

#: Cutoff s0 for data whose entropy production diverges at s = 0 (the paper's eps).
EPS = DEFAULT_CUTOFF
#: Dimensions of the Gaussian and Dirac suites.
DIMS = (1, 2, 3, 6, 9)
#: Dimensions of the paper's mixture experiments.
MIXTURE_DIMS = (2, 3, 6, 9)
_SEED = 20261122
#: Random tanh networks of the RG suite and figure: input variance (q^0 = sigma_w2 * 0.1 + sigma_b2 lies
#: below q* for every sigma_w2 shown, so the layer-to-layer quantity rises from 0, as in the paper's
#: figures) and bias variance (order to chaos at sigma_w2 ~ 1.761).
NETWORK_INPUT_VARIANCE = 0.1
NETWORK_SIGMA_B2 = 0.05


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


def paper_mixture(dim, n_components=5, seed=0) -> GaussianMixture:
    """The paper's mixture (:func:`nent_ref.cases.paper_mixture_params`) as a GaussianMixture."""
    w, m, sd = paper_mixture_params(dim, n_components, seed)
    return GaussianMixture(w, m, sd ** 2)
