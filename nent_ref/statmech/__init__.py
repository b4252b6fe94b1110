r"""Statistical-mechanics primer: exponential families, maximum entropy, concentration, free energy.

The identities every estimator in nent_ref leans on, computed exactly on finite
alphabets (THEORY.md section 7, second paragraph; Balsubramani, "Entropy,
concentration, and learning: a statistical mechanics primer", arXiv:2409.18630).

Conventions
-----------
* Entropies, divergences and rate functions are in nats (``base=`` where offered
  converts); Boltzmann's constant is 1, so thermodynamic entropy is in nats too.
* An exponential family on outcomes ``x = 0..m-1`` with sufficient statistics
  ``T(x)`` (shape ``(m, d)``) and strictly positive base measure ``h`` is

  .. math:: p_\theta(x) = h(x)\, e^{\theta\cdot T(x) - A(\theta)},\qquad
            A(\theta) = \log \sum_x h(x)\, e^{\theta\cdot T(x)}.

  With the counting measure ``h = 1`` (the default), :math:`A = \log Z` is the
  usual log partition function and :math:`A^*(\mu) = -H(p_\mu)`; with a probability
  vector ``h = p_0``, :math:`A` is the cumulant generating function of ``T`` under
  :math:`p_0` and :math:`A^*(\mu) = \mathrm{KL}(p_\mu\|p_0)`.
* Moment vectors on the relative boundary of the convex hull of ``{T(x)}`` have
  infinite natural parameter.  :meth:`ExponentialFamily.natural_parameter` raises a
  ValueError there; :func:`i_projection`, :func:`max_entropy`, the conjugate and the
  rate functions return the (finite) limiting values, supported on the face of the
  hull that contains ``mu``.  Outside the hull the solvers raise a ValueError and
  the rate functions / conjugate return ``+inf`` (their mathematical value).
* Ising energy: :math:`E(s) = -\tfrac12 s^\top J s - h^\top s` with ``J``
  symmetric, zero diagonal, spins :math:`s_i = \pm 1`.

References
----------
E. T. Jaynes, "Information theory and statistical mechanics", Phys. Rev. 106, 620 (1957).
T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley (2006),
chapters 11 (method of types, Sanov, conditional limit theorem) and 12 (maximum entropy).
A. Balsubramani, arXiv:2409.18630 (2024).
M. J. Wainwright and M. I. Jordan, "Graphical models, exponential families, and
variational inference", Found. Trends Mach. Learn. 1 (2008) (Legendre duality, mean field).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, logsumexp

from . import _statmech_core as _c
from ._checks import real_array, rng as _rng
from .estimate import log_base

__all__ = [
    "ExponentialFamily", "IProjection", "i_projection", "max_entropy", "GaussianMaxEnt",
    "gaussian_max_entropy", "shannon_entropy", "kl_divergence",
    "log_type_class_size", "log_type_probability", "type_probability_bounds", "sanov_rate",
    "log_mgf", "cramer_rate", "log_sum_probability", "log_sum_tail_probability",
    "gibbs_conditional", "total_variation",
    "Thermodynamics", "thermodynamics", "variational_free_energy",
    "ising_energies", "IsingExact", "ising_exact", "MeanField", "mean_field_free_energy",
    "ising_mean_field", "table_rows",
]


# ============================================================================ basic information measures
def shannon_entropy(p, base=None) -> float:
    r"""Shannon entropy :math:`H(p) = -\sum_x p(x)\log p(x)` (nats unless ``base``).

    Parameters
    ----------
    p : array_like
        Probability vector (non-negative, summing to one).
    base : float, optional
        Logarithm base (2 for bits).

    References
    ----------
    Cover & Thomas (2006), eq. (2.1).
    """
    p = _c.as_probability(p)
    return -_c.xlogy_sum(p, _c.safe_log(p)) / log_base(base)


def kl_divergence(q, p, base=None) -> float:
    r"""Relative entropy :math:`\mathrm{KL}(q\|p) = \sum_x q(x)\log(q(x)/p(x))`.

    Returns ``inf`` when ``q`` charges an outcome that ``p`` does not.

    References
    ----------
    Cover & Thomas (2006), eq. (2.26).
    """
    q = _c.as_probability(q, name="q")
    p = _c.as_probability(p, q.shape[0], name="p")
    if np.any((q > 0) & (p == 0)):
        return math.inf
    pos = q > 0
    return float(np.dot(q[pos], np.log(q[pos]) - np.log(p[pos]))) / log_base(base)


def total_variation(p, q) -> float:
    r"""Total variation distance :math:`\tfrac12\sum_x |p(x) - q(x)|`."""
    p = _c.as_probability(p, name="p")
    q = _c.as_probability(q, p.shape[0], name="q")
    return 0.5 * float(np.sum(np.abs(p - q)))


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
        return res["theta"]

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
    theta : ndarray or None
        Natural parameter (``None`` when ``mu`` is on the boundary: theta infinite).
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
    return IProjection(q=q, theta=theta, kl=max(kl, 0.0), entropy=0.0 - _c.xlogy_sum(q, _c.safe_log(q)),
                       log_partition=log_part, on_boundary=res["on_boundary"])


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
    res = i_projection(np.full(m, 1.0 / m), t, mu)
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


# ============================================================================ method of types, Sanov, Cramer
def _counts_vector(counts) -> np.ndarray:
    kf = real_array("counts", counts, finite=False)
    if kf.ndim != 1 or kf.shape[0] < 1:
        raise ValueError("counts must be a 1-d array")
    if not np.all(np.isfinite(kf)) or np.any(kf < 0) or np.any(kf != np.round(kf)):
        raise ValueError("counts must be non-negative integers")
    if kf.sum() < 1:
        raise ValueError("counts must not all be zero")
    return np.round(kf)


def log_type_class_size(counts) -> float:
    r"""Log of the size of the type class :math:`|T(Q)| = n!/\prod_x (nQ(x))!`."""
    k = _counts_vector(counts)
    return float(gammaln(k.sum() + 1) - np.sum(gammaln(k + 1)))


def log_type_probability(counts, p) -> float:
    r"""Exact log-probability that n i.i.d. draws from ``p`` have type ``counts / n``.

    .. math:: P^n(T(Q)) = \frac{n!}{\prod_x k_x!}\prod_x p(x)^{k_x}

    (the multinomial pmf).  Returns ``-inf`` when the type charges an outcome of zero
    probability.

    References
    ----------
    Cover & Thomas (2006), section 11.1.
    """
    k = _counts_vector(counts)
    p = _c.as_probability(p, k.shape[0])
    if np.any((k > 0) & (p == 0)):
        return -math.inf
    pos = k > 0
    return log_type_class_size(k) + float(np.dot(k[pos], np.log(p[pos])))


def type_probability_bounds(counts, p) -> tuple[float, float]:
    r"""Log of the bounds :math:`(n+1)^{-|\mathcal X|}e^{-n\mathrm{KL}(Q\|P)} \le P^n(T(Q)) \le e^{-n\mathrm{KL}(Q\|P)}`.

    Returns ``(log_lower, log_upper)``; ``|X| = len(p)``.

    References
    ----------
    Cover & Thomas (2006), theorem 11.1.4.
    """
    k = _counts_vector(counts)
    p = _c.as_probability(p, k.shape[0])
    n = float(k.sum())
    kl = kl_divergence(k / n, p)
    if math.isinf(kl):
        return -math.inf, -math.inf
    return -k.shape[0] * math.log(n + 1) - n * kl, -n * kl


def sanov_rate(p, stats, mu, sense: str = "==") -> float:
    r"""Sanov exponent :math:`\min_{Q\in E}\mathrm{KL}(Q\|P)` for a moment-constraint set E.

    .. math:: E = \{Q: E_Q T \;\square\; \mu\},\qquad \square\in\{=, \ge, \le\}\ \text{(componentwise)},

    so that :math:`-\tfrac1n\log P(\hat P_n\in E)\to` the returned rate (Cover & Thomas
    (2006), theorem 11.4.1).  Equality constraints are one I-projection.  For
    inequalities the minimiser is the I-projection onto the equality constraints of
    its active set, so the rate is the minimum of ``KL`` over the feasible
    I-projections of all subsets of constraints (exact; ``d <= 12``).

    Returns ``+inf`` when E is empty.
    """
    if sense not in ("==", ">=", "<="):
        raise ValueError(f"sense must be '==', '>=' or '<='; got {sense!r}")
    t = _c.as_stats(stats)
    m, d = t.shape
    p = _c.as_probability(p, m)
    mu = _c.as_vector(mu, d, "mu")
    if sense == "==":
        try:
            return i_projection(p, t, mu).kl
        except _c.OutsideHullError:
            return math.inf
    if d > 12:
        raise ValueError("inequality-constrained Sanov rates are enumerated over active sets; d <= 12")
    sign = 1.0 if sense == ">=" else -1.0
    best = math.inf
    tol = 1e-12 * (1.0 + float(np.max(np.abs(t))))
    for size in range(d + 1):
        for active in itertools.combinations(range(d), size):
            idx = list(active)
            if idx:
                try:
                    res = i_projection(p, t[:, idx], mu[idx])
                except _c.OutsideHullError:
                    continue  # this active set is infeasible
                q, kl = res.q, res.kl
            else:
                q, kl = p, 0.0
            if np.all(sign * (q @ t - mu) >= -tol):
                best = min(best, kl)
    return best


def _scalar_law(values, p):
    """Validated (values as an (m, 1) array, probabilities) of a one-dimensional discrete law."""
    x = _c.as_stats(values, "values")
    if x.shape[1] != 1:
        raise ValueError("values must be one-dimensional")
    return x, _c.as_probability(p, x.shape[0])


def log_mgf(values, p, lam) -> float:
    r"""Cumulant generating function :math:`\Lambda(\lambda) = \log E_p e^{\lambda X}` (stable)."""
    x, p = _scalar_law(values, p)
    try:
        lam = _c.real_scalar(lam, "lam")
    except ValueError as err:
        raise ValueError(f"lam must be finite: {err}") from None
    supp = p > 0                     # outcomes of probability 0 do not enter (no -inf + inf)
    with np.errstate(over="ignore"):
        t = lam * x[supp, 0]
    if not np.all(np.isfinite(t)):
        raise ValueError(f"lam * values overflows double precision (lam = {lam:g}): log E exp(lam X) "
                         "is not representable")
    return float(logsumexp(np.log(p[supp]) + t))


def cramer_rate(values, p, a) -> float:
    r"""Cramer rate function :math:`\Lambda^*(a) = \sup_\lambda\,[\lambda a - \log E_p e^{\lambda X}]`.

    Computed independently of the Newton solver: the maximiser solves
    :math:`\Lambda'(\lambda) = a`, found by bracketing and Brent's method.  On the edges of
    the support :math:`\Lambda^*(a) = -\log P(X = a)`; outside it the rate is ``+inf``.
    By Sanov's theorem and the contraction principle it equals the I-projection rate
    :math:`\min\{\mathrm{KL}(Q\|P): E_Q X = a\}`.

    References
    ----------
    Cover & Thomas (2006), section 11.5 and problem 11.9; Dembo & Zeitouni,
    *Large Deviations Techniques and Applications* (1998), theorem 2.2.3.
    """
    x, p = _scalar_law(values, p)
    try:
        a = _c.real_scalar(a, "a")
    except ValueError as err:
        raise ValueError(f"a must be finite: {err}") from None
    supp = p > 0
    xs, ps = x[supp, 0], p[supp]
    lo, hi = float(xs.min()), float(xs.max())
    if a < lo or a > hi:
        return math.inf
    if a == lo or a == hi:
        return -math.log(float(ps[xs == a].sum()))
    lp = np.log(ps)
    lam = _c.tilt_for_mean(xs, lp, a)
    return max(lam * a - float(logsumexp(lp + lam * xs)), 0.0)


def _tilt_for(values_int, p, target_mean):
    x = values_int.astype(float)
    supp = p > 0
    lo, hi = float(x[supp].min()), float(x[supp].max())
    if not lo < target_mean < hi:
        return None
    return _c.tilt_for_mean(x[supp], np.log(p[supp]), target_mean)


def log_sum_probability(values, p, n: int, total: int) -> float:
    r"""Exact :math:`\log P(X_1 + \dots + X_n = \text{total})` for i.i.d. integer-valued X.

    Dynamic programme over sums (repeated convolution) carried out under the
    exponential tilt that makes ``total / n`` the mean, which cancels exactly and
    keeps every intermediate quantity of order one (no underflow for large
    deviations).
    """
    v = _c.integer_values(values)
    p = _c.as_probability(p, v.shape[0])
    n = _c.check_positive_int(n)
    total = _c.check_integer(total, "total")
    supp = p > 0
    vs, ps = v[supp], p[supp]
    if total < n * vs.min() or total > n * vs.max():
        return -math.inf
    if total in (n * vs.min(), n * vs.max()):  # every X_i sits on the edge of the support
        return n * math.log(float(ps[vs == total // n].sum()))
    lam = _tilt_for(vs, ps, total / n) or 0.0
    grid, logpmf = _c.log_sum_pmf(vs, ps, n, lam)
    return float(logpmf[total - grid[0]])


def log_sum_tail_probability(values, p, n: int, total: int) -> float:
    r"""Exact :math:`\log P(X_1 + \dots + X_n \ge \text{total})` (tilted dynamic programme).

    The Chernoff bound :math:`P(S_n \ge n a) \le e^{-n\Lambda^*(a)}` (a >= E X) and
    Cramer's theorem :math:`-\tfrac1n\log P(S_n\ge na)\to\Lambda^*(a)` apply.
    """
    v = _c.integer_values(values)
    p = _c.as_probability(p, v.shape[0])
    n = _c.check_positive_int(n)
    total = _c.check_integer(total, "total")
    supp = p > 0
    vs, ps = v[supp], p[supp]
    if total > n * vs.max():
        return -math.inf
    if total <= n * vs.min():
        return 0.0
    if total == n * vs.max():
        return n * math.log(float(ps[vs == vs.max()].sum()))
    mean = float(ps @ vs)
    lam = max(_tilt_for(vs, ps, total / n) or 0.0, 0.0) if total / n > mean else 0.0
    grid, logpmf = _c.log_sum_pmf(vs, ps, n, lam)
    return float(logsumexp(logpmf[total - grid[0]:]))


def gibbs_conditional(values, p, n: int, total: int) -> np.ndarray:
    r"""Exact law of :math:`X_1` given :math:`X_1 + \dots + X_n = \text{total}` (i.i.d. X ~ p).

    .. math:: P(X_1 = x \mid S_n = s) = \frac{p(x)\,P(S_{n-1} = s - x)}{P(S_n = s)},

    with the law of :math:`S_{n-1}` from a dynamic programme over integer sums under the
    exponential tilt that makes ``s / n`` typical (the tilt cancels in the ratio).  As
    :math:`n\to\infty` with :math:`s/n\to a` this converges to the I-projection of ``p``
    onto :math:`\{E X = a\}` (conditional limit theorem).

    Raises
    ------
    ValueError
        If values are not integers, ``n < 1`` or the conditioning event has probability zero.

    References
    ----------
    Cover & Thomas (2006), theorem 11.6.2; Csiszar, Ann. Probab. 12, 768 (1984).
    """
    v = _c.integer_values(values)
    p = _c.as_probability(p, v.shape[0])
    n = _c.check_positive_int(n)
    total = _c.check_integer(total, "total")
    supp = p > 0
    vs, ps = v[supp], p[supp]
    if total < n * vs.min() or total > n * vs.max():
        raise ValueError(f"the event S_n = {total} is impossible (sums range over "
                         f"[{n * vs.min()}, {n * vs.max()}])")
    lam = _tilt_for(vs, ps, total / n)
    if lam is None:  # total / n is an edge of the support: X_1 is pinned there
        edge = vs.min() if total == n * vs.min() else vs.max()
        cond = np.where(v == edge, p, 0.0)
        cond = np.where(supp, cond, 0.0)
        return cond / cond.sum()
    logp = _c.safe_log(p)
    if n == 1:
        logcond = np.where(v == total, logp, -np.inf)
    else:
        grid, log_rest = _c.log_sum_pmf(vs, ps, n - 1, lam)
        logcond = np.full(v.shape[0], -np.inf)
        for i in range(v.shape[0]):
            j = total - int(v[i]) - int(grid[0])
            if p[i] > 0 and 0 <= j < grid.shape[0]:
                logcond[i] = logp[i] + log_rest[j]
    if not np.any(np.isfinite(logcond)):
        raise ValueError(f"the event S_n = {total} has probability zero")
    logcond = logcond - logsumexp(logcond)
    return np.exp(logcond)


# ============================================================================ free energy
@dataclass(frozen=True)
class Thermodynamics:
    r"""Canonical-ensemble quantities at inverse temperature :math:`\beta` (k_B = 1, nats).

    Attributes
    ----------
    beta, log_partition : float
        :math:`\beta` and :math:`\log Z(\beta) = \log\sum_x g(x)e^{-\beta E(x)}`.
    free_energy : float
        :math:`F = -\log Z/\beta`.
    internal_energy : float
        :math:`U = -\partial_\beta\log Z = \langle E\rangle_\beta`.
    entropy : float
        :math:`S = \beta(U - F)` (nats).
    heat_capacity : float
        :math:`C = \beta^2\,\mathrm{Var}_\beta(E) = -\beta^2\,\partial_\beta U`.
    probabilities : ndarray
        Boltzmann distribution :math:`p_\beta(x) = g(x)e^{-\beta E(x)}/Z`.
    """

    beta: float
    log_partition: float
    free_energy: float
    internal_energy: float
    entropy: float
    heat_capacity: float
    probabilities: np.ndarray


def thermodynamics(energies, beta, degeneracy=None) -> Thermodynamics:
    r"""Free energy, energy, entropy and heat capacity of a finite system from :math:`\log Z`.

    .. math:: Z(\beta) = \sum_x g(x)e^{-\beta E(x)},\ F = -\frac{\log Z}{\beta},\
              U = -\frac{\partial\log Z}{\partial\beta},\ S = \beta(U - F),\
              C = \beta^2\frac{\partial^2\log Z}{\partial\beta^2}.

    The derivatives are the analytic cumulants of the energy (exponential family
    with statistic :math:`-E` and natural parameter :math:`\beta`).  Everything is computed
    from the excitation energies :math:`\epsilon(x) = E(x) - E_0 \ge 0` (:math:`E_0` the ground
    state) so that no product :math:`\beta E` can overflow into ``inf - inf`` or ``0 * inf``:

    .. math:: \log Z = -\beta E_0 + \log Z_\epsilon,\quad
              Z_\epsilon = \sum_x g(x) e^{-\beta\epsilon(x)},\quad
              U = E_0 + \langle\epsilon\rangle,\quad
              S = \log Z_\epsilon + \beta\langle\epsilon\rangle,\quad
              C = \big\langle(\beta\epsilon - \beta\langle\epsilon\rangle)^2\big\rangle,

    with :math:`\log Z_\epsilon` a log-sum-exp, averages over the states with :math:`p(x) > 0` only
    (there :math:`\beta\epsilon(x)` is finite) and the variance taken about the mean (centred
    energies).  So every field is finite for every ``beta`` in ``(0, inf)`` whose
    :math:`\log Z` and ``F`` are representable; e.g. at huge ``beta`` a non-degenerate ground
    state gives ``U -> E_0``, ``S -> log g(x_0)`` and ``C -> 0`` (the limits, not NaN).

    Parameters
    ----------
    energies : array_like, shape (m,)
        Energy levels (real, finite).
    beta : float
        Inverse temperature, > 0.
    degeneracy : array_like, shape (m,), optional
        Positive multiplicities :math:`g(x)` (default 1).

    Raises
    ------
    ValueError
        On bad input (complex, NaN, ``beta <= 0``), or when :math:`\log Z = -\beta E_0 + \dots`
        or :math:`F = E_0 - \log Z_\epsilon/\beta` overflows double precision (e.g.
        ``beta = 1e300`` with ``E_0 = -1e10``, or ``beta = 1e-310``).
    """
    if np.ndim(energies) != 1:
        raise ValueError(f"energies must be a 1-d array; got shape {np.shape(energies)}")
    e = _c.as_stats(energies, "energies")[:, 0]
    b = _c.check_beta(beta)
    log_g = _c.as_log_base_measure(degeneracy, e.shape[0])
    return _canonical(e, b, log_g)


def _canonical(e: np.ndarray, b: float, log_g: np.ndarray) -> Thermodynamics:
    """The canonical ensemble of :func:`thermodynamics` from validated inputs (see its notes)."""
    e0 = float(e.min())
    with np.errstate(over="ignore"):
        eps = e - e0                        # >= 0; inf only if the spread of E overflows (then p = 0)
        x = b * eps                         # beta * epsilon >= 0, may be inf (then p = 0)
    z = log_g - x
    log_z_eps = float(logsumexp(z))         # finite: the ground state contributes log g(x_0)
    p = np.exp(z - log_z_eps)
    # Only states with p > 0 enter the averages; for them beta * eps is finite (<~ 1500), so no term is
    # 0 * inf, and the products below are plain (full relative precision).
    live = p > 0
    pl, el, xl = p[live], eps[live], x[live]
    mean_eps = float(pl @ el)                           # <epsilon>
    beta_mean_eps = float(pl @ xl)                      # beta <epsilon>
    d = b * (el - mean_eps)                             # beta (epsilon - <epsilon>), centred
    heat = float(pl @ (d * d))
    with np.errstate(over="ignore"):
        log_z = -b * e0 + log_z_eps
        f = e0 - log_z_eps / b
    if not math.isfinite(log_z):
        raise ValueError(f"log Z = -beta E_0 + log Z_eps overflows double precision (beta = {b:g}, "
                         f"ground-state energy E_0 = {e0:g})")
    if not math.isfinite(f):
        raise ValueError(f"the free energy F = E_0 - log Z_eps / beta overflows double precision "
                         f"(beta = {b:g}, log Z_eps = {log_z_eps:g})")
    return Thermodynamics(beta=b, log_partition=log_z, free_energy=f, internal_energy=e0 + mean_eps,
                          entropy=log_z_eps + beta_mean_eps, heat_capacity=heat, probabilities=p)


def variational_free_energy(q, energies, beta, degeneracy=None) -> float:
    r"""Variational free energy :math:`F(q) = E_q[E] - \tfrac1\beta(H(q) + E_q\log g)`.

    Gibbs variational principle: :math:`F(q) - F = \mathrm{KL}(q\|p_\beta)/\beta \ge 0`.
    """
    e = _c.as_stats(energies, "energies")
    if e.shape[1] != 1:
        raise ValueError("energies must be a 1-d array")
    e = e[:, 0]
    q = _c.as_probability(q, e.shape[0], name="q")
    b = _c.check_beta(beta)
    log_g = _c.as_log_base_measure(degeneracy, e.shape[0])
    live = q > 0
    with np.errstate(over="ignore"):
        val = float(q[live] @ e[live]) + (_c.xlogy_sum(q, _c.safe_log(q)) - float(q[live] @ log_g[live])) / b
    if not math.isfinite(val):
        raise ValueError(f"F(q) = E_q[E] - (H(q) + E_q log g) / beta overflows double precision (beta = {b:g})")
    return val


# ============================================================================ Ising models
def _ising_inputs(coupling, field):
    j = real_array("coupling", coupling)
    if j.ndim != 2 or j.shape[0] != j.shape[1] or j.shape[0] < 1:
        raise ValueError(f"coupling must be a square matrix; got shape {np.shape(coupling)}")
    n = j.shape[0]
    if not np.array_equal(j, j.T):
        raise ValueError("coupling must be symmetric")
    if np.any(np.diag(j) != 0):
        raise ValueError("coupling must have a zero diagonal")
    h = np.zeros(n) if field is None else _c.as_vector(field, n, "field")
    return j, h


def ising_energies(coupling, field=None):
    r"""All :math:`2^n` spin configurations and their energies :math:`E(s) = -\tfrac12 s^\top J s - h^\top s`.

    Returns ``(spins, energies)`` with ``spins`` of shape ``(2**n, n)`` in {-1, +1}.
    Limited to n <= 22.
    """
    j, h = _ising_inputs(coupling, field)
    n = j.shape[0]
    if n > 22:
        raise ValueError(f"exact enumeration is limited to n <= 22 spins (got {n})")
    idx = np.arange(2**n)[:, None]
    spins = 1.0 - 2.0 * ((idx >> np.arange(n)) & 1)
    energies = -0.5 * np.einsum("ki,ij,kj->k", spins, j, spins) - spins @ h
    return spins, energies


@dataclass(frozen=True)
class IsingExact:
    """Exact Ising quantities by enumeration (``log_partition``, ``free_energy``,
    ``internal_energy``, ``entropy``, ``magnetization`` <s_i>, ``correlation`` <s_i s_j>)."""

    log_partition: float
    free_energy: float
    internal_energy: float
    entropy: float
    magnetization: np.ndarray
    correlation: np.ndarray


def ising_exact(coupling, beta, field=None) -> IsingExact:
    r"""Exact free energy :math:`F = -\tfrac1\beta\log\sum_s e^{-\beta E(s)}` by enumeration (n <= 22)."""
    b = _c.check_beta(beta)
    spins, energies = ising_energies(coupling, field)
    th = thermodynamics(energies, b)
    p = th.probabilities
    mag = p @ spins
    corr = (spins * p[:, None]).T @ spins
    return IsingExact(log_partition=th.log_partition, free_energy=th.free_energy,
                      internal_energy=th.internal_energy, entropy=th.entropy,
                      magnetization=mag, correlation=corr)


def _binary_entropy_pm(m: np.ndarray) -> np.ndarray:
    """Entropy (nats) of a +-1 spin with mean m."""
    out = np.zeros_like(m)
    for s in (1.0, -1.0):
        pr = 0.5 * (1.0 + s * m)
        pos = pr > 0
        out[pos] -= pr[pos] * np.log(pr[pos])
    return out


def mean_field_free_energy(m, coupling, beta, field=None) -> float:
    r"""Naive mean-field free energy of the product distribution with magnetisations ``m``.

    .. math:: F_{MF}(m) = -\tfrac12 m^\top J m - h^\top m - \frac1\beta\sum_i H_2\!\left(\tfrac{1+m_i}{2}\right),

    which equals :math:`E_q[E] - H(q)/\beta` for the product measure q, hence
    :math:`F_{MF}(m) \ge F` (Gibbs variational principle).
    """
    j, h = _ising_inputs(coupling, field)
    b = _c.check_beta(beta)
    m = _c.as_vector(m, j.shape[0], "m")
    if np.any(np.abs(m) > 1):
        raise ValueError("magnetisations must lie in [-1, 1]")
    with np.errstate(over="ignore"):
        val = float(-0.5 * m @ j @ m - h @ m - np.sum(_binary_entropy_pm(m)) / b)
    if not math.isfinite(val):
        raise ValueError(f"the mean-field free energy overflows double precision (beta = {b:g})")
    return val


@dataclass(frozen=True)
class MeanField:
    """Mean-field solution: magnetisations ``m``, ``free_energy`` F_MF(m), the
    self-consistency ``residual`` max_i |m_i - tanh(beta (J m + h)_i)|, ``sweeps``, and
    ``m_error``, the first-order error estimate ``|G^{-1}|_inf * residual`` with
    ``G = I - diag(beta (1 - m^2)) J`` the Jacobian of the equations (``inf`` where G is
    singular, i.e. exactly at a mean-field critical point, where the residual no
    longer controls the error of ``m``; the free energy is stationary there and
    remains accurate)."""

    m: np.ndarray
    free_energy: float
    residual: float
    sweeps: int
    m_error: float


def ising_mean_field(coupling, beta, field=None, init=None, tol: float = 1e-13,
                     max_sweeps: int = 20000) -> MeanField:
    r"""Solve the mean-field equations :math:`m_i = \tanh(\beta(\sum_j J_{ij}m_j + h_i))`.

    Sequential (Gauss-Seidel) updates, each the exact minimiser of :math:`F_{MF}` in one
    coordinate, so :math:`F_{MF}` decreases monotonically; then Newton polishing on the
    self-consistency equations.  Without ``init`` the iteration is started from
    ``+0.9``, ``-0.9`` and ``tanh(beta h)`` and the lowest free energy is returned.

    Raises
    ------
    ValueError
        On bad input or if the residual does not fall below ``tol`` (reported, not hidden).

    References
    ----------
    Wainwright & Jordan (2008), section 5.3; Parisi, *Statistical Field Theory* (1988), ch. 2.
    """
    j, h = _ising_inputs(coupling, field)
    b = _c.check_beta(beta)
    n = j.shape[0]
    best = None
    with np.errstate(over="ignore"):          # beta (J m + h) may overflow to +-inf: tanh(+-inf) = +-1, exact
        starts = ([np.full(n, 0.9), np.full(n, -0.9), np.tanh(b * h)] if init is None
                  else [_c.as_vector(init, n, "init")])
        for m0 in starts:
            sol = _mean_field_from(j, h, b, np.clip(m0.copy(), -1.0, 1.0), tol, max_sweeps)
            if best is None or sol.free_energy < best.free_energy:
                best = sol
    return best


def _mean_field_from(j, h, b, m, tol, max_sweeps):
    n = m.shape[0]
    sweeps = 0

    def residual(x):
        return float(np.max(np.abs(x - np.tanh(b * (j @ x + h)))))

    while sweeps < max_sweeps and residual(m) > max(tol, 1e-9):
        for i in range(n):
            m[i] = math.tanh(b * (float(j[i] @ m) + h[i]))
        sweeps += 1
    for _ in range(50):  # Newton polishing: g(m) = m - tanh(beta (J m + h))
        r = residual(m)
        if r <= tol:
            break
        t = np.tanh(b * (j @ m + h))
        jac = np.eye(n) - (b * (1.0 - t * t))[:, None] * j
        try:
            cand = m - np.linalg.solve(jac, m - t)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.abs(cand) <= 1.0) or residual(cand) >= r:
            break
        m = cand
    r = residual(m)
    if r > max(tol, 1e-10):
        raise ValueError(f"mean-field iteration did not converge (residual {r:.2e} after {sweeps} sweeps)")
    t = np.tanh(b * (j @ m + h))
    jac = np.eye(n) - (b * (1.0 - t * t))[:, None] * j
    try:
        inv_norm = float(np.max(np.sum(np.abs(np.linalg.inv(jac)), axis=1)))
    except np.linalg.LinAlgError:
        inv_norm = math.inf
    m_error = inv_norm * r if math.isfinite(inv_norm) else math.inf
    return MeanField(m=m, free_energy=mean_field_free_energy(m, j, b, h), residual=r, sweeps=sweeps,
                     m_error=m_error)


# ============================================================================ worked examples
def table_rows(options) -> list[dict]:
    """Worked examples for ``nent-ref table --suite statmech`` (entropies in nats).

    ``options.seed`` (checked first by :func:`nent_ref._checks.rng`: an int >= 0, a sequence of them, a
    SeedSequence, a Generator or None) draws the maximum-likelihood sample."""
    gen = _rng(options.seed, "seed")
    seed = options.seed
    int_seed = isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
    seed_label = str(int(seed)) if int_seed else f"_{type(seed).__name__}"
    rows: list[dict] = []

    def add(example, quantity, value, method, note=""):
        rows.append({"example": example, "quantity": quantity, "value": float(value),
                     "method": method, "note": note})

    faces = np.arange(1, 7)
    options.progress("statmech: Jaynes' die")
    die = max_entropy(faces, 4.5)
    ex = "jaynes_die_mean_4.5"
    add(ex, "theta", die.theta[0], "newton-dual", "p(k) = exp(theta k)/Z, k = 1..6")
    add(ex, "log_Z_counting", die.log_partition, "newton-dual", "Z = sum_k exp(theta k)")
    add(ex, "A_uniform_base", die.log_partition - math.log(6), "newton-dual",
        "log E_uniform exp(theta k) = log Z - log 6")
    add(ex, "entropy", die.entropy, "newton-dual", "H = log Z - 4.5 theta")
    add(ex, "kl_to_uniform", die.kl, "newton-dual", "= Sanov/Cramer rate of mean >= 4.5 for a fair die")
    for k in range(6):
        add(ex, f"p_{k + 1}", die.q[k], "newton-dual")
    add(ex, "cramer_rate_4.5", cramer_rate(faces, np.full(6, 1 / 6), 4.5), "brent",
        "sup_l [4.5 l - log E exp(l X)]")

    options.progress("statmech: Gaussian maximum entropy")
    g = gaussian_max_entropy(0.0, 2.0)
    add("gaussian_maxent_var_2", "entropy", g.entropy, "closed-form", "0.5 log(2 pi e sigma^2)")

    options.progress("statmech: types")
    p = np.array([0.5, 0.3, 0.2])
    k = np.array([10, 6, 4])
    lo, hi = type_probability_bounds(k, p)
    add("type_n20_P(.5,.3,.2)", "log_prob_type_(10,6,4)", log_type_probability(k, p), "exact-multinomial")
    k2 = np.array([4, 6, 10])
    lo2, hi2 = type_probability_bounds(k2, p)
    add("type_n20_P(.5,.3,.2)", "log_prob_type_(4,6,10)", log_type_probability(k2, p), "exact-multinomial")
    add("type_n20_P(.5,.3,.2)", "log_lower_bound_(4,6,10)", lo2, "closed-form", "-|X| log(n+1) - n KL")
    add("type_n20_P(.5,.3,.2)", "log_upper_bound_(4,6,10)", hi2, "closed-form", "-n KL")

    options.progress("statmech: Gibbs conditioning")
    uniform = np.full(6, 1 / 6)
    for n in (10, 100, 1000):
        cond = gibbs_conditional(faces, uniform, n, int(round(4.5 * n)))
        add("gibbs_conditioning_die_mean_4.5", f"tv_to_iprojection_n{n}", total_variation(cond, die.q),
            "dynamic-programme", "law of X_1 given S_n = 4.5 n")
    for n in (10, 100, 1000):
        lt = log_sum_tail_probability(faces, uniform, n, int(round(4.5 * n)))
        add("cramer_die_tail_4.5", f"minus_log_P_over_n_n{n}", -lt / n, "dynamic-programme",
            "-(1/n) log P(S_n >= 4.5 n) -> kl_to_uniform")

    options.progress("statmech: free energy")
    th = thermodynamics([0.0, 1.0], 1.0)
    for name in ("log_partition", "free_energy", "internal_energy", "entropy", "heat_capacity"):
        add("two_level_eps1_beta1", name, getattr(th, name), "log-Z cumulants")

    options.progress("statmech: Ising ring, exact vs mean field")
    n = 8
    jr = np.zeros((n, n))
    for i in range(n):
        jr[i, (i + 1) % n] = jr[(i + 1) % n, i] = 1.0
    for beta in (0.3, 0.6):
        ex_ = ising_exact(jr, beta, field=np.full(n, 0.1))
        mf = ising_mean_field(jr, beta, field=np.full(n, 0.1))
        add(f"ising_ring8_J1_h0.1_beta{beta}", "free_energy_exact", ex_.free_energy, "enumeration")
        add(f"ising_ring8_J1_h0.1_beta{beta}", "free_energy_mean_field", mf.free_energy, "fixed-point",
            "F_MF >= F")
        add(f"ising_ring8_J1_h0.1_beta{beta}", "magnetization_exact", ex_.magnetization[0], "enumeration")
        add(f"ising_ring8_J1_h0.1_beta{beta}", "magnetization_mean_field", mf.m[0], "fixed-point")

    options.progress("statmech: maximum likelihood = moment matching")
    counts = np.bincount(gen.choice(6, size=200, p=die.q), minlength=6)
    fam = ExponentialFamily(faces)
    theta_hat = fam.fit(counts)
    ex = f"mle_die_200_draws_seed{seed_label}"
    add(ex, "theta_hat", theta_hat[0], "moment-matching", "draws from the mean-4.5 maxent die")
    add(ex, "sample_mean", (counts / counts.sum()) @ faces, "exact")
    add(ex, "min_log_loss", fam.log_loss(counts, theta_hat), "exact", "= H(p_theta_hat) (duality)")
    add(ex, "entropy_p_theta_hat", fam.entropy(theta_hat), "exact")
    return rows
