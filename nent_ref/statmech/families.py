"""Exponential families and maximum entropy: log partition, moments, Legendre duality, I-projection.

Part of :mod:`nent_ref.statmech` (the primer); see its docstring for the conventions and references.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..core.checks import real_array
from ..core.estimate import log_base
from . import _core as _c

__all__ = ["ExponentialFamily", "IProjection", "i_projection", "max_entropy", "GaussianMaxEnt", "gaussian_max_entropy"]


# ============================================================================ exponential families
def _central_moment(p: np.ndarray, dev: np.ndarray, k: int) -> float:
    """sum_x p(x) dev(x)^k over p > 0, in the log domain for large |dev| (no 0 * inf, no overflow of dev^k
    where p is tiny)."""
    live = (p > 0) & (dev != 0)
    pl, dl = p[live], dev[live]
    with np.errstate(over="ignore", invalid="ignore"):
        direct = pl * dl**k
        if np.all(np.isfinite(direct)):
            return float(np.sum(direct))
        sign = np.sign(dl) ** k
        return float(np.sum(sign * np.exp(np.log(pl) + k * np.log(np.abs(dl)))))


def _natural_shape(theta, scalar: bool):
    """The natural parameter in the shape of the statistic (one convention for the primer): a float for
    a scalar statistic (stats given as shape (m,)), an array of shape (d,) for stats of shape (m, d);
    None stays None (boundary: theta infinite)."""
    if theta is None:
        return None
    theta = np.asarray(theta, dtype=float)
    return float(theta[0]) if scalar else theta


class ExponentialFamily:
    r"""Discrete exponential family :math:`p_\theta(x) = h(x)\exp(\theta\cdot T(x) - A(\theta))`.

    Parameters
    ----------
    stats : array_like, shape (m,) or (m, d)
        Sufficient statistics :math:`T(x)` of the ``m`` outcomes.
    base_measure : array_like, shape (m,), optional
        Strictly positive base measure :math:`h` (default: counting measure, ``h = 1``).
        It need not be normalised; pass a probability vector ``p0`` to obtain the
        family of exponential tilts of ``p0`` (then :math:`A` is the cumulant
        generating function of ``T`` under ``p0``).

    Notes
    -----
    The log partition function is evaluated with a log-sum-exp, so it is finite whenever it is
    representable: an outcome whose :math:`\theta\cdot T(x)` overflows to :math:`-\infty` simply
    has probability 0, while an overflow to :math:`+\infty` (then :math:`A` overflows) is a
    ValueError, never NaN.  Its derivatives are the cumulants of ``T``:
    :math:`\nabla A(\theta) = E_\theta T`, :math:`\nabla^2 A(\theta) = \mathrm{Cov}_\theta T`
    (both computed analytically, not by differencing).  KL between members is the
    Bregman divergence of :math:`A`,

    .. math:: \mathrm{KL}(p_{\theta_1}\|p_{\theta_2}) = A(\theta_2) - A(\theta_1)
              - \nabla A(\theta_1)\cdot(\theta_2 - \theta_1),

    and the Legendre conjugate is :math:`A^*(\mu) = \sup_\theta\,\theta\cdot\mu - A(\theta)
    = \sum_x p_\mu(x)\log(p_\mu(x)/h(x))`.

    References
    ----------
    Wainwright & Jordan (2008), sections 3.2-3.6; Balsubramani, arXiv:2409.18630.
    """

    def __init__(self, stats, base_measure=None):
        self._scalar = np.ndim(stats) == 1          # a scalar statistic: theta is a float
        self.stats = _c.as_stats(stats)
        self.n_outcomes, self.dim = self.stats.shape
        self.log_base_measure = _c.as_log_base_measure(base_measure, self.n_outcomes)

    # -- evaluation -----------------------------------------------------------------
    def _theta(self, theta) -> np.ndarray:
        return _c.as_vector(theta, self.dim, "theta")

    def _natural_stats(self, theta: np.ndarray) -> np.ndarray:
        """theta . T(x) for every outcome.

        ``-inf`` (an outcome whose weight underflows: probability 0 to double precision) is kept; a
        product that overflows to ``+inf`` (then A overflows), an ``inf - inf`` (NaN) or all outcomes at
        ``-inf`` is a ValueError.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            z = self.stats @ theta
        if np.any(np.isnan(z)) or np.any(z == np.inf) or np.all(z == -np.inf):
            raise ValueError(f"theta . T(x) overflows double precision for theta = {theta.tolist()}: "
                             "the log partition function is not representable")
        return z

    def _logits(self, theta) -> np.ndarray:
        return self.log_base_measure + self._natural_stats(self._theta(theta))

    def log_partition(self, theta) -> float:
        r""":math:`A(\theta) = \log\sum_x h(x) e^{\theta\cdot T(x)}` (stable log-sum-exp)."""
        return float(logsumexp(self._logits(theta)))

    def log_probabilities(self, theta) -> np.ndarray:
        r""":math:`\log p_\theta(x)` for every outcome."""
        z = self._logits(theta)
        return z - logsumexp(z)

    def probabilities(self, theta) -> np.ndarray:
        r""":math:`p_\theta(x) = h(x)\exp(\theta\cdot T(x) - A(\theta))`."""
        return np.exp(self.log_probabilities(theta))

    def mean(self, theta) -> np.ndarray:
        r"""Mean parameter :math:`\mu(\theta) = \nabla A(\theta) = E_{p_\theta}[T]`, shape (d,)."""
        return self.probabilities(theta) @ self.stats

    def covariance(self, theta) -> np.ndarray:
        r"""Hessian :math:`\nabla^2 A(\theta) = \mathrm{Cov}_{p_\theta}[T]`, shape (d, d)."""
        p = self.probabilities(theta)
        centred = self.stats - p @ self.stats
        with np.errstate(over="ignore", invalid="ignore"):
            cov = (centred * p[:, None]).T @ centred
        if not np.all(np.isfinite(cov)):
            raise ValueError("the covariance of T overflows double precision (statistics spread over more "
                             "than ~1e154)")
        return cov

    def cumulants(self, theta, order: int = 4) -> np.ndarray:
        r"""Cumulants :math:`\kappa_k = A^{(k)}(\theta)`, k = 1..order, of a scalar statistic.

        Computed from central moments :math:`m_k` by the recursion
        :math:`\kappa_k = m_k - \sum_{j=2}^{k-1}\binom{k-1}{j-1}\kappa_j m_{k-j}` (k >= 2),
        :math:`\kappa_1 = E T`.

        Raises
        ------
        ValueError
            If the family is not one-dimensional or ``order < 1``.
        """
        if self.dim != 1:
            raise ValueError("cumulants are defined here for one-dimensional statistics only")
        order = _c.check_positive_int(order, "order")
        p = self.probabilities(theta)
        x = self.stats[:, 0]
        mean = float(p @ x)
        dev = x - mean
        central = [1.0, 0.0] + [_central_moment(p, dev, k) for k in range(2, order + 1)]
        kappa = [0.0, mean]
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(2, order + 1):
                val = central[k]
                for j in range(2, k - 1):
                    val -= math.comb(k - 1, j - 1) * kappa[j] * central[k - j]
                kappa.append(val)
        out = np.array(kappa[1:])
        if not np.all(np.isfinite(out)):
            raise ValueError(f"a cumulant of order <= {order} overflows double precision (statistics too "
                             "spread out for this order)")
        return out

    def entropy(self, theta, base=None) -> float:
        r"""Shannon entropy :math:`H(p_\theta) = A(\theta) - \theta\cdot\mu(\theta) - E_\theta\log h`."""
        lp = self.log_probabilities(theta)
        p = np.exp(lp)
        return -_c.xlogy_sum(p, lp) / log_base(base)

    def kl(self, theta1, theta2, base=None) -> float:
        r""":math:`\mathrm{KL}(p_{\theta_1}\|p_{\theta_2})` as the Bregman divergence of :math:`A`.

        .. math:: D_A(\theta_2, \theta_1) = A(\theta_2) - A(\theta_1) - \nabla A(\theta_1)\cdot(\theta_2-\theta_1)
        """
        t1, t2 = self._theta(theta1), self._theta(theta2)
        with np.errstate(over="ignore", invalid="ignore"):
            val = self.log_partition(t2) - self.log_partition(t1) - float(self.mean(t1) @ (t2 - t1))
        if not math.isfinite(val):
            raise ValueError("KL between these members overflows double precision "
                             f"(theta1 = {t1.tolist()}, theta2 = {t2.tolist()})")
        return max(val, 0.0) / log_base(base)

    # -- duality ----------------------------------------------------------------------
    def natural_parameter(self, mu) -> np.ndarray:
        r"""The map :math:`\mu\mapsto\theta(\mu) = (\nabla A)^{-1}(\mu)`.

        Solved by damped Newton on the convex dual :math:`\theta\mapsto A(\theta) - \theta\cdot\mu`
        (gradient :math:`\mu(\theta) - \mu`, Hessian :math:`\mathrm{Cov}_\theta T`).  For a
        non-minimal family (affinely dependent statistics) the minimum-norm solution is returned.

        Raises
        ------
        ValueError
            If ``mu`` is outside the convex hull of the statistics, or on its relative
            boundary (where :math:`\theta` is infinite; use :func:`i_projection` there).
        """
        mu = _c.as_vector(mu, self.dim, "mu")
        res = _c.project(self.log_base_measure, self.stats, mu)
        if res["on_boundary"]:
            raise ValueError(f"mu = {mu.tolist()} lies on the boundary of the convex hull of the "
                             "statistics: theta is infinite (the limiting distribution is given by "
                             "i_projection)")
        return _natural_shape(res["theta"], self._scalar)

    def conjugate(self, mu) -> float:
        r"""Legendre conjugate :math:`A^*(\mu) = \sup_\theta\,\theta\cdot\mu - A(\theta)`.

        Equals :math:`\sum_x p_\mu(x)\log(p_\mu(x)/h(x))` with :math:`p_\mu` the I-projection
        of ``h`` onto :math:`\{E T = \mu\}` (finite on the closed hull, including its
        boundary), i.e. :math:`-H(p_\mu)` for the counting measure.  Returns ``+inf``
        outside the convex hull.
        """
        mu = _c.as_vector(mu, self.dim, "mu")
        try:
            res = _c.project(self.log_base_measure, self.stats, mu)
        except _c.OutsideHullError:
            return math.inf
        return float(res["divergence"])

    def gibbs_objective(self, q, theta) -> float:
        r"""Gibbs variational objective :math:`E_q[\theta\cdot T] + H(q) + E_q[\log h]`.

        For every distribution ``q`` this is at most :math:`A(\theta)`, with equality iff
        :math:`q = p_\theta`; the gap is :math:`\mathrm{KL}(q\|p_\theta)`.
        """
        q = _c.as_probability(q, self.n_outcomes, name="q")
        z = self._natural_stats(self._theta(theta))
        lq = _c.safe_log(q)
        live = q > 0                        # outcomes q does not charge do not enter (no 0 * -inf)
        return float(q[live] @ z[live]) - _c.xlogy_sum(q, lq) + float(q @ self.log_base_measure)

    # -- maximum likelihood -----------------------------------------------------------------
    def _counts(self, counts) -> np.ndarray:
        k = real_array("counts", counts, finite=False)
        if k.ndim != 1 or k.shape[0] != self.n_outcomes:
            raise ValueError(f"counts must have length {self.n_outcomes}; got shape {np.shape(counts)}")
        if not np.all(np.isfinite(k)) or np.any(k < 0) or k.sum() <= 0:
            raise ValueError("counts must be finite, non-negative and not all zero")
        return k

    def log_loss(self, counts, theta) -> float:
        r"""Average negative log-likelihood :math:`-\tfrac1n\sum_i\log p_\theta(x_i)` from counts.

        Equals :math:`H(\hat p) + \mathrm{KL}(\hat p\|p_\theta)` with :math:`\hat p` the empirical
        distribution (the cross-entropy decomposition).
        """
        k = self._counts(counts)
        return -_c.xlogy_sum(k, self.log_probabilities(theta)) / float(k.sum())

    def fit(self, counts) -> np.ndarray:
        r"""Maximum-likelihood :math:`\hat\theta` from outcome counts, by moment matching.

        The log-likelihood :math:`n(\theta\cdot\bar T - A(\theta)) + \text{const}` is concave
        with gradient :math:`n(\bar T - \nabla A(\theta))`, so the MLE solves
        :math:`\nabla A(\hat\theta) = \bar T` -- the same equation as the maximum-entropy
        problem with constraint :math:`E T = \bar T` (max-likelihood/max-entropy duality).

        Raises
        ------
        ValueError
            If the empirical mean statistic lies on the boundary of the hull (the MLE
            does not exist: some outcome class is never observed).
        """
        k = self._counts(counts)
        tbar = (k / k.sum()) @ self.stats
        try:
            return self.natural_parameter(tbar)
        except ValueError as err:
            raise ValueError(f"the maximum-likelihood estimate does not exist: {err}") from None


# ============================================================================ maximum entropy / I-projection
@dataclass(frozen=True)
class IProjection:
    r"""Result of an I-projection / maximum-entropy problem.

    Attributes
    ----------
    q : ndarray
        The projected distribution :math:`p^*` (zero off the face containing ``mu``).
    theta : float, ndarray or None
        Natural parameter in the shape of the statistic: a float for a scalar statistic (stats of shape
        (m,)), shape (d,) for stats of shape (m, d); ``None`` when ``mu`` is on the boundary (theta infinite).
    kl : float
        :math:`\mathrm{KL}(p^*\|p_0)` (I-projection) -- the Sanov rate of the constraint set.
    entropy : float
        :math:`H(p^*)` in nats.
    log_partition : float
        :math:`A(\theta) = \log\sum_x p_0(x) e^{\theta\cdot T(x)}` for the I-projection,
        :math:`\log Z = \log\sum_x e^{\theta\cdot T(x)}` (counting measure) for
        :func:`max_entropy`; ``nan`` on the boundary.
    on_boundary : bool
        Whether ``mu`` is on the relative boundary of the convex hull.
    """

    q: np.ndarray
    theta: np.ndarray | None
    kl: float
    entropy: float
    log_partition: float
    on_boundary: bool


def i_projection(p0, stats, mu) -> IProjection:
    r"""I-projection of ``p0`` onto the linear family :math:`\{q: E_q T = \mu\}`.

    .. math:: p^* = \arg\min_{q:\,E_q T = \mu} \mathrm{KL}(q\|p_0),\qquad
              p^*(x) = p_0(x)\,e^{\theta\cdot T(x) - A(\theta)},\quad \nabla A(\theta) = \mu,

    found by damped Newton on the convex dual :math:`A(\theta) - \theta\cdot\mu`, whose
    minimum value is :math:`-\mathrm{KL}(p^*\|p_0)`.  The Pythagorean identity
    :math:`\mathrm{KL}(q\|p_0) = \mathrm{KL}(q\|p^*) + \mathrm{KL}(p^*\|p_0)` holds for every
    ``q`` in the constraint set.

    Parameters
    ----------
    p0 : array_like, shape (m,)
        Reference distribution (zeros allowed: those outcomes get zero mass).
    stats : array_like, shape (m,) or (m, d)
        Statistics :math:`T(x)`.
    mu : array_like, shape (d,)
        Target moments.

    Returns
    -------
    IProjection

    Raises
    ------
    ValueError
        If ``mu`` is outside the convex hull of ``{T(x): p0(x) > 0}`` (by more than about
        1e-10 relative to the spread of ``T``), or on bad input.  On the relative
        boundary the projection is supported on the face containing ``mu`` and ``theta``
        is ``None``.  In one dimension the boundary test is exact; in more dimensions it
        is numerical (a linear programme proposes the face and the full problem is
        solved to confirm it, see docs/statmech.md); a ``mu`` so close to a
        low-dimensional face that neither resolves raises a ValueError.

    References
    ----------
    Csiszar, Ann. Probab. 3, 146 (1975); Cover & Thomas (2006), theorem 11.6.1.
    """
    scalar = np.ndim(stats) == 1
    t = _c.as_stats(stats)
    m, d = t.shape
    p0 = _c.as_probability(p0, m, name="p0")
    mu = _c.as_vector(mu, d, "mu")
    supp = p0 > 0
    res = _c.project(np.log(p0[supp]), t[supp], mu)
    q = np.zeros(m)
    q[supp] = res["q"]
    kl = float(res["divergence"])
    theta = res["theta"]
    log_part = float(logsumexp(np.log(p0[supp]) + t[supp] @ theta)) if theta is not None else math.nan
    return IProjection(q=q, theta=_natural_shape(theta, scalar), kl=max(kl, 0.0),
                       entropy=0.0 - _c.xlogy_sum(q, _c.safe_log(q)), log_partition=log_part,
                       on_boundary=res["on_boundary"])


def max_entropy(stats, mu) -> IProjection:
    r"""Maximum-entropy distribution on the outcomes subject to :math:`E_q T = \mu` (Jaynes 1957).

    .. math:: p^*(x) = e^{\theta\cdot T(x)}/Z(\theta),\quad \log Z(\theta) = \log\sum_x e^{\theta\cdot T(x)},
              \quad H(p^*) = \log Z(\theta) - \theta\cdot\mu .

    This is the I-projection of the uniform distribution, ``kl = log m - H``.  The
    returned ``log_partition`` is :math:`\log Z` with the counting measure (e.g. Jaynes'
    die with mean 4.5: ``theta = 0.37104...``, ``log Z = 3.28330...``, ``H = 1.61358...``).

    Raises
    ------
    ValueError
        If ``mu`` is outside the convex hull of the statistics.
    """
    t = _c.as_stats(stats)
    m = t.shape[0]
    res = i_projection(np.full(m, 1.0 / m), stats, mu)
    log_z = res.log_partition + math.log(m) if res.theta is not None else math.nan
    return IProjection(q=res.q, theta=res.theta, kl=res.kl, entropy=res.entropy,
                       log_partition=log_z, on_boundary=res.on_boundary)


@dataclass(frozen=True)
class GaussianMaxEnt:
    r"""Maximum-entropy density on :math:`\mathbb R^d` with given mean and covariance.

    Attributes
    ----------
    mean, cov : ndarray
        The constraints.
    entropy : float
        Differential entropy :math:`\tfrac12\log\det(2\pi e\Sigma)` (nats).
    theta1, theta2 : ndarray
        Natural parameters for statistics :math:`(x, x x^\top)`:
        :math:`\theta_1 = \Sigma^{-1} m`, :math:`\theta_2 = -\tfrac12\Sigma^{-1}`.
    log_partition : float
        :math:`A = \tfrac12 m^\top\Sigma^{-1}m + \tfrac12\log\det(2\pi\Sigma)` (Lebesgue base measure).
    """

    mean: np.ndarray
    cov: np.ndarray
    entropy: float
    theta1: np.ndarray
    theta2: np.ndarray
    log_partition: float

    def log_density(self, x) -> np.ndarray:
        r""":math:`\log p(x) = \theta_1\cdot x + x^\top\theta_2 x - A`, x of shape (..., d)."""
        x = real_array("x", x)
        if x.shape[-1:] != self.mean.shape:
            raise ValueError(f"x must have trailing dimension {self.mean.shape[0]}")
        return x @ self.theta1 + np.einsum("...i,ij,...j->...", x, self.theta2, x) - self.log_partition


def gaussian_max_entropy(mean, cov) -> GaussianMaxEnt:
    r"""Closed-form maximum-entropy density subject to :math:`E X = m`, :math:`\mathrm{Cov} X = \Sigma`.

    The maximiser is :math:`N(m, \Sigma)` with :math:`h = \tfrac12\log\det(2\pi e\Sigma)`
    (Cover & Thomas (2006), theorem 12.1.1 and example 12.2.5).  ``mean`` may be a
    scalar and ``cov`` a variance in one dimension.

    Raises
    ------
    ValueError
        If ``cov`` is not symmetric positive definite or shapes mismatch.
    """
    m = np.atleast_1d(real_array("mean", mean, finite=False))
    if m.ndim != 1:
        raise ValueError("mean must be a scalar or a 1-d array")
    s = real_array("cov", cov, finite=False)
    if s.ndim == 0:
        s = s.reshape(1, 1)
    d = m.shape[0]
    if s.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}); got {s.shape}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        raise ValueError("mean and cov must be finite")
    if not np.allclose(s, s.T, rtol=1e-12, atol=0.0):
        raise ValueError("cov must be symmetric")
    try:
        chol = np.linalg.cholesky(s)
    except np.linalg.LinAlgError:
        raise ValueError("cov must be positive definite") from None
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        prec = np.linalg.inv(s)
        prec = 0.5 * (prec + prec.T)
        entropy = 0.5 * (d * math.log(2 * math.pi * math.e) + logdet)
        a = 0.5 * float(m @ prec @ m) + 0.5 * (d * math.log(2 * math.pi) + logdet)
        theta1 = prec @ m
    if not (np.all(np.isfinite(prec)) and np.all(np.isfinite(theta1)) and math.isfinite(a)
            and math.isfinite(entropy)):
        raise ValueError("cov is too close to singular (or mean too large) for the natural parameters "
                         "Sigma^-1 m, -Sigma^-1 / 2 and A to be representable in double precision")
    return GaussianMaxEnt(mean=m, cov=s, entropy=entropy, theta1=theta1, theta2=-0.5 * prec,
                          log_partition=a)
