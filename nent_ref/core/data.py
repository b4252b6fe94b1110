r"""Data distributions with exact forward marginals: :class:`Gaussian` and :class:`Dirac`.

Under any linear process of :mod:`nent_ref.core.processes`, data :math:`N(m, S)` diffuse to

.. math:: p_s = N\big(\mu(s)\, m,\; \mu(s)^2 S + v(s) I\big),

so a Gaussian stays Gaussian and a Dirac atom at ``m`` becomes :math:`N(\mu m, v I)` for
``s > 0``.  Both are stored through the eigendecomposition of the covariance,
:math:`S = U \operatorname{diag}(\lambda) U^T`, which the diffusion keeps (eigenvalues
:math:`\mu^2\lambda + v`); every closed form in :mod:`nent_ref.quantities.entropy` works on
``(|m|^2, lambda)`` only.

References
----------
Song et al., "Score-based generative modeling through stochastic differential equations", ICLR 2021
(marginals of linear SDEs); Cover & Thomas, *Elements of Information Theory* (2006), sections 8.4 and
8.6 (Gaussian entropy and KL); docs/theory.md section 4.
"""
from __future__ import annotations

import math

import numpy as np

from .checks import all_finite, count, real_array, rng as _rng
from .estimate import log_base
from .processes import diffusion_coefficients

__all__ = ["Gaussian", "Dirac", "as_points", "definiteness_problem", "DEFAULT_CUTOFF", "needs_cutoff"]

_LOG_2PI = math.log(2.0 * math.pi)

#: Default cutoff s0 for data whose entropy production diverges at s = 0 (Dirac, empirical): the
#: neural-entropy paper's eps = 1e-5.
DEFAULT_CUTOFF = 1e-5


def needs_cutoff(data) -> bool:
    """True for data with atoms (Dirac, Empirical, sample arrays), whose entropy production diverges
    like (D/2) log(1/s0) as s0 -> 0, so that every quantity needs a cutoff s0 > 0."""
    return bool(getattr(data, "needs_cutoff", False))


#: Largest accepted covariance condition number lam_max / lam_min: the eigenvalues from the
#: symmetric eigensolver have absolute errors of order 1e-16 lam_max, so beyond this limit
#: the smallest one (hence log det and the KL closed forms) loses more than 3 digits.
MAX_CONDITION = 1e13


def _as_vector(name: str, value) -> np.ndarray:
    arr = real_array(name, value, finite=False).copy()
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (got shape {np.shape(value)})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def definiteness_problem(lam_min: float, lam_max: float, what: str = "covariance") -> str | None:
    """Why eigenvalues ``lam_min <= lam_max`` are refused as a covariance (None when they are fine):
    not positive definite, or positive definite with a condition number above :data:`MAX_CONDITION`."""
    if not lam_min > 0:
        return (f"{what} is not positive definite (smallest eigenvalue {lam_min:.3g}); "
                "use Dirac (or Empirical) for a point mass")
    if not lam_min > lam_max / MAX_CONDITION:
        return (f"{what} is positive definite but too ill-conditioned: condition number "
                f"{lam_max / lam_min:.3g} (eigenvalues {lam_min:.3g} .. {lam_max:.3g}) exceeds the limit "
                f"{MAX_CONDITION:.0e}, beyond which its smallest eigenvalue is not known to 3 digits")
    return None


def _as_covariance(cov, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a covariance; return (symmetrised cov, eigenvalues, eigenvectors)."""
    c = real_array("covariance", cov, finite=False).copy()
    if c.ndim == 0 and dim == 1:
        c = c.reshape(1, 1)
    if c.shape != (dim, dim):
        raise ValueError(f"covariance must have shape ({dim}, {dim}) to match the mean (got {np.shape(cov)})")
    if not np.all(np.isfinite(c)):
        raise ValueError("covariance contains NaN or inf")
    scale = np.max(np.abs(c))
    if np.max(np.abs(c - c.T)) > 1e-10 * max(scale, 1e-300):
        raise ValueError("covariance is not symmetric (|S - S^T| > 1e-10 max|S|)")
    c = 0.5 * (c + c.T)
    lam, U = np.linalg.eigh(c)
    problem = definiteness_problem(lam[0], lam[-1])
    if problem:
        raise ValueError(problem)
    return c, lam, U


def as_points(x, dim: int, name: str = "x") -> np.ndarray:
    """Validate query points of shape (..., dim) (a 1-D array of length dim is one point).

    A float64 array is returned as it is, not copied (the densities only read it)."""
    arr = real_array(name, x, finite=False, copy=False)
    if arr.ndim == 0 or arr.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (..., {dim}) (got {np.shape(x)})")
    if not all_finite(arr):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


class Gaussian:
    r"""Multivariate normal :math:`N(m, S)` in any dimension D.

    Parameters
    ----------
    mean : array_like, shape (D,)
    cov : array_like, shape (D, D)
        Symmetric positive definite (checked; a ValueError names the problem).
    """

    #: False: the entropy production is finite down to s = 0.
    needs_cutoff = False

    def __init__(self, mean, cov):
        self._mean = _as_vector("mean", mean)
        self._cov, self._lam, self._U = _as_covariance(cov, self._mean.size)

    @classmethod
    def _from_spectrum(cls, mean, lam, U):
        g = cls.__new__(cls)
        g._mean = np.asarray(mean, dtype=float)
        g._lam = np.asarray(lam, dtype=float)
        g._U = U
        g._cov = (U * g._lam) @ U.T
        return g

    @classmethod
    def isotropic(cls, mean, var: float) -> "Gaussian":
        """N(mean, var I)."""
        mean = _as_vector("mean", mean)
        var = float(var)
        if not (math.isfinite(var) and var > 0):
            raise ValueError(f"variance must be positive and finite (got {var})")
        return cls._from_spectrum(mean, np.full(mean.size, var), np.eye(mean.size))

    # -- basic attributes
    @property
    def dim(self) -> int:
        return self._mean.size

    @property
    def mean(self) -> np.ndarray:
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        return self._cov.copy()

    @property
    def eigenvalues(self) -> np.ndarray:
        """Covariance eigenvalues, ascending."""
        return self._lam.copy()

    def spectrum(self) -> tuple[float, np.ndarray]:
        """``(|m|^2, covariance eigenvalues)``: all the closed forms of docs/theory.md section 4 need."""
        with np.errstate(over="ignore"):           # inf for |m| above ~1e154: the closed forms then raise
            return float(np.sum(self._mean * self._mean)), self._lam.copy()

    def __repr__(self):
        return f"Gaussian(dim={self.dim}, mean={np.array2string(self._mean, precision=4)})"

    # -- densities
    def _whitened(self, x):
        """(z / scale, scale) with z = U^T (x - m) and a per-point power-of-two scale that keeps
        z / scale of order one (no overflow for |x| up to the largest double)."""
        x = as_points(x, self.dim)
        scale = np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), np.max(np.abs(self._mean)))
        # 2^e with |x| / 2^e <= 2; e capped at 1023 so that the scale itself is finite for |x| near the
        # largest double (2^1024 would be inf, and x / inf, inf * 0 give NaN)
        scale = np.ldexp(1.0, np.minimum(np.frexp(np.maximum(scale, 1.0))[1], 1023))
        return ((x / scale - self._mean / scale) @ self._U), scale

    def logpdf(self, x):
        """log density at points x of shape (..., D); returns shape (...).

        The quadratic form is summed as ``sum (z_i / sqrt(2 lam_i))^2`` in scaled coordinates, so it
        overflows (to ``-inf``) only when the true log density is below the most negative double.
        """
        zs, scale = self._whitened(x)
        with np.errstate(over="ignore"):
            w = (zs / np.sqrt(2.0 * self._lam)) * scale
            q = np.sum(w * w, axis=-1)
        return -(q + 0.5 * (np.sum(np.log(self._lam)) + self.dim * _LOG_2PI))

    def score(self, x):
        """Score grad log p(x) = -S^{-1}(x - m), shape (..., D) (``+-inf`` only where it overflows)."""
        zs, scale = self._whitened(x)
        with np.errstate(over="ignore"):
            return -((zs / self._lam) @ self._U.T) * scale

    def sample(self, n: int, seed=None) -> np.ndarray:
        """n independent draws, shape (n, D), reproducible from ``seed`` (see
        :func:`nent_ref.core.checks.rng`: an int, a sequence of ints, a SeedSequence or a Generator)."""
        n = count("n", n, 0)
        rng = _rng(seed)
        z = rng.standard_normal((n, self.dim))
        return self._mean + (z * np.sqrt(self._lam)) @ self._U.T

    # -- information quantities
    def entropy(self, base=None) -> float:
        r"""Differential entropy :math:`\tfrac12 \log\det(2\pi e S)` (nats unless ``base``)."""
        return 0.5 * float(np.sum(np.log(self._lam)) + self.dim * (_LOG_2PI + 1.0)) / log_base(base)

    def kl(self, other: "Gaussian", base=None) -> float:
        r"""KL(self || other) for Gaussians:
        :math:`\tfrac12[\operatorname{tr}(S_2^{-1}S_1) + \Delta^T S_2^{-1}\Delta - D + \log\det S_2/\det S_1]`."""
        if not isinstance(other, Gaussian):
            raise TypeError("kl needs another Gaussian")
        if other.dim != self.dim:
            raise ValueError(f"dimension mismatch ({self.dim} vs {other.dim})")
        V = other._U
        inv2 = 1.0 / other._lam
        A = V.T @ self._cov @ V
        d = V.T @ (self._mean - other._mean)
        val = 0.5 * (np.sum(np.diag(A) * inv2) + np.sum(d * d * inv2) - self.dim
                     + np.sum(np.log(other._lam)) - np.sum(np.log(self._lam)))
        return float(val) / log_base(base)

    def diffuse(self, process, s) -> "Gaussian":
        """Exact marginal p_s = N(mu m, mu^2 S + v I) of the data under ``process``."""
        mu, v = diffusion_coefficients(process, s)
        return Gaussian._from_spectrum(mu * self._mean, mu * mu * self._lam + v, self._U)


class Dirac:
    r"""A point mass :math:`\delta_m` in D dimensions.

    For ``s > 0`` it diffuses to :math:`N(\mu m, v I)`.  Its entropy production diverges at
    ``s -> 0`` like :math:`(D/2)\log(1/s)`, so every quantity needs a cutoff ``s0 > 0``.
    """

    #: True: quantities diverge as s -> 0, so every one needs s0 > 0.
    needs_cutoff = True

    def __init__(self, point):
        self._point = _as_vector("point", point)

    @property
    def dim(self) -> int:
        return self._point.size

    @property
    def point(self) -> np.ndarray:
        return self._point.copy()

    @property
    def mean(self) -> np.ndarray:
        return self._point.copy()

    def spectrum(self) -> tuple[float, np.ndarray]:
        """``(|m|^2, zeros)``: a Dirac is a Gaussian with zero covariance in the closed forms."""
        with np.errstate(over="ignore"):           # inf for |m| above ~1e154: the closed forms then raise
            return float(np.sum(self._point * self._point)), np.zeros(self._point.size)

    def __repr__(self):
        return f"Dirac({np.array2string(self._point, precision=4)})"

    def sample(self, n: int, seed=None) -> np.ndarray:
        """n copies of the atom, shape (n, D) (``seed`` is validated like everywhere, then unused)."""
        _rng(seed)
        return np.tile(self._point, (count("n", n, 0), 1))

    def diffuse(self, process, s):
        """The marginal at time s: the atom itself at s = 0, N(mu m, v I) for s > 0."""
        mu, v = diffusion_coefficients(process, s)
        if v == 0.0:
            return self
        return Gaussian._from_spectrum(mu * self._point, np.full(self.dim, v), np.eye(self.dim))
