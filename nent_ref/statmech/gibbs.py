"""Gibbs conditioning: exact laws of sums of i.i.d. integer variables and the conditional limit theorem.

Part of :mod:`nent_ref.statmech` (the primer); see its docstring for the conventions and references.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from . import _core as _c

__all__ = ["log_sum_probability", "log_sum_tail_probability", "gibbs_conditional"]


def _tilt_for(values_int, p, target_mean):
    x = values_int.astype(float)
    supp = p > 0
    lo, hi = float(x[supp].min()), float(x[supp].max())
    if not lo < target_mean < hi:
        return None
    return _c.tilt_for_mean(x[supp], np.log(p[supp]), target_mean)


@_c.values_first_deprecated
def log_sum_probability(p, *, values, n: int, total: int) -> float:
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


@_c.values_first_deprecated
def log_sum_tail_probability(p, *, values, n: int, total: int) -> float:
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


@_c.values_first_deprecated
def gibbs_conditional(p, *, values, n: int, total: int) -> np.ndarray:
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
