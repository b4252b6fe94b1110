r"""Gaussian mixtures and empirical data: the data types, their exact diffusion, densities and scores.

:class:`GaussianMixture` ``(weights, means, covs)`` with ``covs`` of shape (K, D, D) (full),
(K, D) (diagonal variances) or (K,) (isotropic variances); :class:`Empirical` ``(points,
weights=None)``, N atoms in D dimensions.  Under every linear process (docs/theory.md section 4)

.. math:: p_s = \sum_k w_k\, N\big(\mu(s) m_k,\; \mu(s)^2 S_k + v(s) I\big),

so a mixture stays a mixture and an empirical set becomes an isotropic mixture with the
shared variance ``v(s)`` (``s > 0``).  Scores are exact (log-sum-exp responsibilities, Numba
kernels with numpy twins in :mod:`nent_ref.core.kernels`).  The entropy quantities of these
types (quadrature, Monte Carlo, tiny cutoffs) live in :mod:`nent_ref.quantities.mixture_entropy`.

:class:`MixParams` is the internal form the kernels, the quadrature and the bounds take: a
mixture (or diffused empirical data) at one time.

References
----------
Premkumar, "Neural entropy" (2024/2025); docs/theory.md section 4.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import kernels
from .checks import count, probability_vector, real_array
from .checks import rng as _rng
from .data import as_points, definiteness_problem
from .processes import check_times, diffusion_coefficients

__all__ = ["GaussianMixture", "Empirical", "MixParams", "eval_params", "sample_data", "SHARED_KERNEL_MIN_K"]

_LOG_2PI = math.log(2.0 * math.pi)

#: Components with at least this many members and one shared isotropic variance use the
#: matrix-product (empirical) kernel.
SHARED_KERNEL_MIN_K = 32


# --------------------------------------------------------------------------- validation
def _as_weights(weights, K: int) -> np.ndarray:
    return probability_vector(weights, K, "weights", tol=1e-10, what="components")[0]


def _log(w):
    with np.errstate(divide="ignore"):
        return np.log(w)


# --------------------------------------------------------------------------- data types
class GaussianMixture:
    r"""Gaussian mixture :math:`p = \sum_k w_k N(m_k, S_k)` in D dimensions.

    Parameters
    ----------
    weights : (K,) array_like
        Non-negative, summing to 1 (to 1e-10; ValueError otherwise).
    means : (K, D) array_like
    covs : array_like
        (K, D, D) full covariances (symmetric positive definite), or the fast paths
        (K, D) diagonal variances and (K,) isotropic variances (component k is
        ``N(means[k], covs[k] I)``).  A scalar means one isotropic variance for all.

    Notes
    -----
    ``params`` returns ``(weights, means, covs)`` in the stored form, which is what
    :func:`nent_ref.kernels.mixture_logpdf_score` takes (with ``log(weights)``);
    :meth:`diffused_params` gives them at a forward time without building an object.
    """

    #: False: finite entropy production down to s = 0.
    needs_cutoff = False

    def __init__(self, weights, means, covs):
        means = real_array("means", means, finite=False).copy()
        if means.ndim == 1:
            means = means[:, None]
        if means.ndim != 2 or means.size == 0:
            raise ValueError(f"means must have shape (K, D) (got {np.shape(means)})")
        if not np.all(np.isfinite(means)):
            raise ValueError("means contain NaN or inf")
        K, D = means.shape
        w = _as_weights(weights, K)
        covs = real_array("covs", covs, finite=False).copy()
        if covs.ndim == 0:
            covs = np.full(K, float(covs))
        if not np.all(np.isfinite(covs)):
            raise ValueError("covariances contain NaN or inf")
        if covs.shape == (K,):
            kind = "iso"
            if not np.all(covs > 0):
                raise ValueError(f"isotropic variances must be positive (smallest {covs.min():.3g})")
        elif covs.shape == (K, D):
            kind = "diag"
            if not np.all(covs > 0):
                raise ValueError(f"diagonal variances must be positive (smallest {covs.min():.3g})")
        elif covs.shape == (K, D, D):
            kind = "full"
            scale = np.max(np.abs(covs), axis=(1, 2))
            asym = np.max(np.abs(covs - covs.transpose(0, 2, 1)), axis=(1, 2))
            if np.any(asym > 1e-10 * scale):
                raise ValueError(f"covariance of component {int(np.argmax(asym > 1e-10 * scale))} is not symmetric")
            covs = 0.5 * (covs + covs.transpose(0, 2, 1))
            lam = np.linalg.eigvalsh(covs)
            for k in range(K):
                problem = definiteness_problem(lam[k, 0], lam[k, -1], f"covariance of component {k}")
                if problem:
                    raise ValueError(problem)
        else:
            raise ValueError(f"covs must have shape ({K}, {D}, {D}), ({K}, {D}) or ({K},) (got {covs.shape})")
        self._set(w, means, covs, kind)

    def _set(self, w, means, covs, kind):
        self._w, self._means, self._covs, self._kind = w, means, covs, kind
        self._logw = _log(w)
        return self

    @classmethod
    def _trusted(cls, w, means, covs, kind):
        return cls.__new__(cls)._set(w, means, covs, kind)

    @classmethod
    def from_arrays(cls, weights, means, *, stds=None, variances=None, covs=None,
                    weight_tol: float = 1e-6) -> "GaussianMixture":
        r"""A mixture from arrays stored the way ML frameworks store them (e.g. ``distrax``/``torch``).

        Give the component spread in exactly one of three forms:

        * ``stds``: standard deviations, shape (K,) (isotropic, ``N(m_k, stds[k]^2 I)``) or (K, D)
          (diagonal, ``scale_diag``);
        * ``variances``: shape (K,) (isotropic) or (K, D) (diagonal);
        * ``covs``: full covariance matrices, shape (K, D, D).

        ``weights`` may come in float32 precision: when they sum to one within ``weight_tol`` (default
        1e-6; float32 weights of a few hundred components miss one by ~1e-7) they are divided by their
        sum; beyond that a ValueError gives the sum and says that only rounding is renormalised.  Any
        dtype is read as float64 (a float32 value is exact in float64).

        Examples
        --------
        >>> GaussianMixture.from_arrays([0.5, 0.5], [[0.0], [1.0]], stds=[0.5, 1.0]).covs
        array([0.25, 1.  ])
        """
        given = {name: arr for name, arr in (("stds", stds), ("variances", variances), ("covs", covs))
                 if arr is not None}
        if len(given) != 1:
            have = ", ".join(given) if given else "none"
            raise ValueError(f"give exactly one of stds, variances or covs (got {have})")
        (form, arr), = given.items()
        if isinstance(weight_tol, bool) or not isinstance(weight_tol, (int, float)) or not 0 <= weight_tol < 0.01:
            raise ValueError(f"weight_tol must be a number in [0, 0.01) (got {weight_tol!r})")
        means_arr = real_array("means", means, finite=False)
        if means_arr.ndim == 1:
            means_arr = means_arr[:, None]
        if means_arr.ndim != 2 or means_arr.size == 0:
            raise ValueError(f"means must have shape (K, D) (got {np.shape(means)})")
        K, D = means_arr.shape
        w = probability_vector(weights, K, "weights", tol=weight_tol, what="components",
                               note=f"; weights within {weight_tol:g} of one (float32 rounding) are "
                                    "renormalised, a larger gap is rejected")[0]
        a = real_array(form, arr, finite=False)
        if form == "covs":
            if a.shape != (K, D, D):
                raise ValueError(f"covs must be full covariance matrices of shape ({K}, {D}, {D}) "
                                 f"(got {a.shape}); use stds= or variances= for (K,) or (K, D) arrays")
            return cls(w, means_arr, a)
        if a.shape not in ((K,), (K, D)):
            raise ValueError(f"{form} must have shape ({K},) (isotropic) or ({K}, {D}) (diagonal) to match "
                             f"means of shape ({K}, {D}) (got {a.shape})")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{form} contain NaN or inf")
        if not np.all(a > 0):
            raise ValueError(f"{form} must be positive (smallest {a.min():.3g})")
        return cls(w, means_arr, a * a if form == "stds" else a)

    @classmethod
    def from_gaussian(cls, gaussian) -> "GaussianMixture":
        """A one-component mixture holding a :class:`nent_ref.Gaussian`."""
        return cls([1.0], gaussian.mean[None, :], gaussian.cov[None, :, :])

    # -- attributes
    @property
    def dim(self) -> int:
        return self._means.shape[1]

    @property
    def n_components(self) -> int:
        return self._means.shape[0]

    @property
    def kind(self) -> str:
        """``"iso"``, ``"diag"`` or ``"full"``: the stored covariance form."""
        return self._kind

    @property
    def weights(self) -> np.ndarray:
        return self._w.copy()

    @property
    def means(self) -> np.ndarray:
        return self._means.copy()

    @property
    def covs(self) -> np.ndarray:
        """Covariances in the stored form ((K,), (K, D) or (K, D, D))."""
        return self._covs.copy()

    @property
    def params(self):
        """``(weights, means, covs)`` (views, do not modify) for the kernels."""
        return self._w, self._means, self._covs

    def full_covs(self) -> np.ndarray:
        """(K, D, D) covariance matrices."""
        K, D = self._means.shape
        if self._kind == "iso":
            return self._covs[:, None, None] * np.eye(D)
        if self._kind == "diag":
            return self._covs[:, :, None] * np.eye(D)
        return self._covs.copy()

    def mean(self) -> np.ndarray:
        """Mixture mean sum_k w_k m_k."""
        return self._w @ self._means

    def second_moment(self) -> float:
        r""":math:`\mathbb E|x|^2 = \sum_k w_k (|m_k|^2 + \operatorname{tr} S_k)`."""
        return float(self._w @ (np.sum(self._means ** 2, axis=1) + _traces(self._covs, self._kind, self.dim)))

    def __repr__(self):
        return f"GaussianMixture(K={self.n_components}, dim={self.dim}, kind={self._kind!r})"

    # -- diffusion
    def diffused_params(self, process, s):
        """``(weights, means, covs)`` of p_s (stored form), cheap: no validation, no object."""
        mu, v = diffusion_coefficients(process, s)
        return self._w, mu * self._means, _diffuse_covs(self._covs, self._kind, mu, v)

    def diffused_params_many(self, process, s):
        """``(weights, means (N, K, D), covs (N, ...))`` of p_s at N times s (1-D) at once: step n holds
        what ``diffused_params(process, s[n])`` returns, the same numbers (elementwise in the same order),
        without a Python call per time.  mu(s) m_k and mu(s)^2 S_k + v(s) I as in :meth:`diffuse`."""
        s = check_times(np.atleast_1d(np.asarray(s, dtype=float)), process, "s")
        if s.ndim != 1:
            raise ValueError(f"s must be a 1-D array of times (got shape {s.shape})")
        mu = np.asarray(process.mean_coeff(s), dtype=float).reshape(-1)
        v = np.asarray(process.marginal_var(s), dtype=float).reshape(-1)
        tail = (None,) * self._covs.ndim
        covs = (mu * mu)[(slice(None),) + tail] * self._covs
        if self._kind in ("iso", "diag"):
            covs = covs + v[(slice(None),) + tail]
        else:
            covs = covs + v[:, None, None, None] * np.eye(self.dim)
        return self._w, mu[:, None, None] * self._means, covs

    def diffuse(self, process, s) -> "GaussianMixture":
        """Exact marginal p_s: component k becomes N(mu m_k, mu^2 S_k + v I), same weight."""
        w, m, c = self.diffused_params(process, s)
        return GaussianMixture._trusted(w, m, c, self._kind)

    # -- densities
    def _eval(self, x):
        x = as_points(x, self.dim)
        shape = x.shape[:-1]
        # the public path runs large evaluations on all Numba threads, except in a forked child process
        lp, sc = eval_params(MixParams.of(self), x.reshape(-1, self.dim), threaded=kernels.threads_safe())
        return lp.reshape(shape), sc.reshape(shape + (self.dim,))

    def logpdf(self, x):
        """log p(x) at points of shape (..., D) (log-sum-exp, no underflow)."""
        return self._eval(x)[0]

    def score(self, x):
        r"""Score :math:`\nabla\log p(x)`, shape (..., D)."""
        return self._eval(x)[1]

    def logpdf_score(self, x):
        """Both at once (one kernel pass).

        Large evaluations (points x components x dimensions >= ``kernels.PARALLEL_MIN_WORK``) run on all
        Numba threads (``numba.set_num_threads`` limits them), with the same numbers as one thread;
        in a process forked from one that had imported nent_ref they run on one thread (see
        :func:`nent_ref.core.kernels.threads_safe`)."""
        return self._eval(x)

    def sample(self, n: int, seed=None) -> np.ndarray:
        """n independent draws, shape (n, D), reproducible from ``seed`` (an int, a sequence of
        ints, a SeedSequence or a Generator; see :func:`nent_ref.core.checks.rng`)."""
        rng = _rng(seed)
        return _sample_mixture(self, rng, count("n", n, 0))

    def rounding_scales(self):
        """``(|m_k|, smallest eigenvalue of S_k)`` per component (cached): the scales that set how much of
        a diffused component's noise survives rounding (used by the tiny-cutoff analysis)."""
        cached = getattr(self, "_rounding_scales", None)
        if cached is None:
            norms = np.sqrt(np.einsum("kd,kd->k", self._means, self._means))
            c = self._covs
            lam = c if self._kind == "iso" else (c.min(axis=1) if self._kind == "diag" else np.linalg.eigvalsh(c)[:, 0])
            cached = self._rounding_scales = (norms, lam)
        return cached


class Empirical:
    r"""Empirical distribution :math:`\sum_i w_i \delta_{a_i}` of N atoms in D dimensions.

    Parameters
    ----------
    points : (N, D) array_like
        The atoms (finite; a 1-D array is N atoms in one dimension).
    weights : (N,) array_like, optional
        Non-negative weights summing to 1; uniform by default.

    For ``s > 0`` it diffuses to the isotropic mixture
    :math:`\sum_i w_i N(\mu(s) a_i, v(s) I)`.  Densities of the data themselves do not exist,
    and every entropy quantity needs times > 0.
    """

    #: True: every quantity diverges as s -> 0, so s0 > 0 is required.
    needs_cutoff = True

    def __init__(self, points, weights=None):
        a = real_array("points", points, finite=False).copy()
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.size == 0:
            raise ValueError(f"points must have shape (N, D) (got {np.shape(points)})")
        if not np.all(np.isfinite(a)):
            bad = int(np.argmax(~np.all(np.isfinite(a), axis=1)))
            raise ValueError(f"points contain NaN or inf (first at atom {bad})")
        N = a.shape[0]
        self._atoms = np.ascontiguousarray(a)
        self._uniform = weights is None
        self._w = np.full(N, 1.0 / N) if weights is None else _as_weights(weights, N)
        self._logw = _log(self._w)

    @classmethod
    def from_images(cls, source, *, value_range=None, target_range=(-1.0, 1.0), array=None, mode=None):
        """The empirical distribution of a training set of images, flattened and scaled as the model was
        trained (e.g. ``value_range=(0, 255)`` to ``target_range=(-1, 1)``); see
        :func:`nent_ref.core.images.load_images`.  ``.image_info`` records the source, the image shape and
        the scaling (used by :func:`nent_ref.specs.data_spec_of`)."""
        from .images import load_images
        points, info = load_images(source, value_range=value_range, target_range=target_range, array=array,
                                   mode=mode)
        out = cls(points)
        out.image_info = info
        return out

    @property
    def dim(self) -> int:
        return self._atoms.shape[1]

    @property
    def n_atoms(self) -> int:
        return self._atoms.shape[0]

    n_components = n_atoms

    @property
    def points(self) -> np.ndarray:
        return self._atoms.copy()

    @property
    def weights(self) -> np.ndarray:
        return self._w.copy()

    def mean(self) -> np.ndarray:
        return self._w @ self._atoms

    def second_moment(self) -> float:
        return float(self._w @ np.sum(self._atoms ** 2, axis=1))

    def __repr__(self):
        return f"Empirical(N={self.n_atoms}, dim={self.dim})"

    def diffused_params(self, process, s):
        """``(weights, mu * atoms, v)``: p_s is the mixture of N(mu a_i, v I), for s > 0."""
        mu, v = diffusion_coefficients(process, s)
        if v <= 0:
            raise ValueError(f"empirical data have no density at s = {float(s)!r} (v(s) = 0; it underflows below "
                             "s ~ 1e-308); use a larger s")
        return self._w, mu * self._atoms, v

    def diffuse(self, process, s):
        """The atoms themselves at s = 0; the isotropic mixture of N(mu a_i, v I) for s > 0."""
        mu, v = diffusion_coefficients(process, s)
        if v == 0.0 and mu == 1.0:
            return self
        return GaussianMixture._trusted(self._w, mu * self._atoms, np.full(self.n_atoms, v), "iso")

    def sample(self, n: int, seed=None) -> np.ndarray:
        """n atoms drawn with replacement according to the weights, shape (n, D) (``seed`` as in
        :meth:`GaussianMixture.sample`)."""
        rng = _rng(seed)
        return self._atoms[_draw_index(self, rng, count("n", n, 0))]

    def logpdf(self, x):
        raise ValueError("empirical data (point masses) have no density; diffuse to s > 0 first")

    score = logpdf

    def rounding_scales(self):
        """``([max_i |a_i|], [0])`` (cached): the atom radius, which sets how much of a diffused atom's
        noise survives rounding (used by the tiny-cutoff analysis)."""
        cached = getattr(self, "_rounding_scales", None)
        if cached is None:
            r = math.sqrt(float(np.max(np.einsum("nd,nd->n", self._atoms, self._atoms))))
            cached = self._rounding_scales = (np.array([r]), np.zeros(1))
        return cached

    def distinct_atoms(self):
        """``(atoms, weights, first index)`` with duplicate atoms merged (weights summed), cached."""
        cached = getattr(self, "_distinct", None)
        if cached is None:
            atoms, first, inverse = np.unique(self._atoms, axis=0, return_index=True, return_inverse=True)
            w = np.bincount(np.ravel(inverse), weights=self._w, minlength=atoms.shape[0])
            cached = self._distinct = (atoms, w, first)
        return cached


def _traces(covs, kind, D):
    if kind == "iso":
        return D * covs
    if kind == "diag":
        return np.sum(covs, axis=1)
    return np.trace(covs, axis1=1, axis2=2)


def _diffuse_covs(covs, kind, mu, v):
    if kind in ("iso", "diag"):
        return mu * mu * covs + v
    D = covs.shape[1]
    return mu * mu * covs + v * np.eye(D)


# --------------------------------------------------------------------------- evaluation core
@dataclass
class MixParams:
    """A mixture at one time, in the form the kernels take.

    kind ``"shared"``: means = atoms, covs = (mu, v), component i is N(mu a_i, v I).
    """

    logw: np.ndarray
    means: np.ndarray
    covs: object
    kind: str

    @classmethod
    def of(cls, mix: GaussianMixture):
        c = mix._covs
        if mix._kind == "iso" and mix.n_components >= SHARED_KERNEL_MIN_K and np.all(c == c[0]):
            return cls(mix._logw, mix._means, (1.0, float(c[0])), "shared")
        return cls(mix._logw, mix._means, c, mix._kind)

    @classmethod
    def at(cls, data, process, s):
        mu, v = diffusion_coefficients(process, s)
        if isinstance(data, Empirical):
            if v <= 0:
                raise ValueError("empirical data have no density at s = 0; use s > 0")
            if data.n_atoms >= SHARED_KERNEL_MIN_K:
                return cls(data._logw, data._atoms, (mu, v), "shared")
            return cls(data._logw, mu * data._atoms, np.full(data.n_atoms, v), "iso")
        return cls(data._logw, mu * data._means, _diffuse_covs(data._covs, data._kind, mu, v), data._kind)

    def chol(self):
        """(K, D, D) Cholesky factors of the component covariances."""
        K, D = self.means.shape
        if self.kind == "shared":
            return np.broadcast_to(math.sqrt(self.covs[1]) * np.eye(D), (K, D, D))
        if self.kind == "iso":
            return np.sqrt(self.covs)[:, None, None] * np.eye(D)
        if self.kind == "diag":
            return np.sqrt(self.covs)[:, :, None] * np.eye(D)
        return np.linalg.cholesky(self.covs)

    def centers(self):
        if self.kind == "shared":
            return self.covs[0] * self.means
        return self.means


def eval_params(p: MixParams, x, *, threaded=False):
    """(log p, score) at x (M, D); ``threaded`` runs the Gaussian-mixture kernel on all Numba threads
    (large M only, same numbers; see :func:`nent_ref.core.kernels.mixture_logpdf_score`)."""
    if p.kind == "shared":
        mu, v = p.covs
        return kernels.empirical_logpdf_score(x, p.means, p.logw, mu, v)
    return kernels.mixture_logpdf_score(x, p.logw, p.means, p.covs, threaded=threaded)


def _draw_index(data, rng, n):
    K = data._w.size
    if isinstance(data, Empirical) and data._uniform:
        return rng.integers(0, K, n)
    return rng.choice(K, size=n, p=data._w)


def _sample_mixture(mix, rng, n):
    k = _draw_index(mix, rng, n)
    z = rng.standard_normal((n, mix.dim))
    if mix._kind == "iso":
        return mix._means[k] + z * np.sqrt(mix._covs[k])[:, None]
    if mix._kind == "diag":
        return mix._means[k] + z * np.sqrt(mix._covs[k])
    L = np.linalg.cholesky(mix._covs)
    return mix._means[k] + np.einsum("nij,nj->ni", L[k], z)


def sample_data(data, rng, n):
    if isinstance(data, Empirical):
        return data._atoms[_draw_index(data, rng, n)]
    return _sample_mixture(data, rng, n)
