"""Types and large deviations: the method of types, Sanov's and Cramer's rate functions.

Part of :mod:`nent_ref.statmech` (the primer); see its docstring for the conventions and references.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.special import gammaln, logsumexp

from ..core.checks import real_array
from . import _core as _c
from .families import i_projection
from .information import kl_divergence

__all__ = ["log_type_class_size", "log_type_probability", "type_probability_bounds", "sanov_rate", "log_mgf", "cramer_rate"]


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


@_c.values_first_deprecated
def log_mgf(p, *, values, lam) -> float:
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


@_c.values_first_deprecated
def cramer_rate(p, *, values, a) -> float:
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
