"""Private numerical core of :mod:`nent_ref.statmech`.

* input validation (statistics matrices, probability vectors, base measures);
* the face of ``conv{T(x)}`` whose relative interior contains a moment vector ``mu``
  (one linear programme);
* damped Newton on the convex dual ``eta -> log sum_x w(x) exp(eta . (T(x) - mu))``;
* exact laws of sums of i.i.d. integer variables by dynamic programming, in an
  exponentially tilted measure so that nothing underflows.
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy.optimize import linprog, nnls
from scipy.special import logsumexp

from ..core.checks import probability_vector, real_array

_EPS = np.finfo(float).eps
#: an outcome that no distribution with the target mean can give this much mass is off the face
FACE_WEIGHT_TOL = 1e-7
#: a moment vector farther outside the hull than this (relative to the spread) is outside
OUTSIDE_TOL = 1e-10
#: an I-projection with less mass than this off the face is reported as on the boundary
OFF_FACE_MASS = 1e-11
#: singular values (relative to the spread of the statistics) below this are rank deficiency
RANK_TOL = 1e-9


class OutsideHullError(ValueError):
    """The target moments are outside the convex hull of the statistics."""


# ----------------------------------------------------------------------------- validation
def as_stats(stats, name: str = "stats") -> np.ndarray:
    """Sufficient statistics as a finite real float array of shape (m, d) (complex is a ValueError)."""
    t = real_array(name, stats)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n_outcomes,) or (n_outcomes, dim); got {np.shape(stats)}")
    return t


def as_vector(x, dim: int, name: str) -> np.ndarray:
    """A finite real float vector of length ``dim`` (scalars accepted when dim == 1)."""
    v = np.atleast_1d(real_array(name, x))
    if v.ndim != 1 or v.shape[0] != dim:
        raise ValueError(f"{name} must have length {dim}; got shape {np.shape(x)}")
    return v


def as_probability(p, m: int | None = None, name: str = "p", tol: float = 1e-9) -> np.ndarray:
    """A probability vector: finite, non-negative, summing to one within ``tol``."""
    return probability_vector(p, m, name, tol=tol, what="outcomes")[0]


def as_log_base_measure(base, m: int, name: str = "base_measure") -> np.ndarray:
    """Log of a strictly positive base measure (None -> counting measure, all zeros).

    ``name`` is the argument as the caller calls it (``base_measure``, ``degeneracy``) for the messages.
    """
    if base is None:
        return np.zeros(m)
    h = real_array(name, base)
    if h.ndim != 1 or h.shape[0] != m:
        raise ValueError(f"{name} must have length {m} (one entry per outcome); got shape {np.shape(base)}")
    if np.any(h <= 0):
        raise ValueError(f"{name} must be strictly positive (drop outcomes of zero weight)")
    return np.log(h)


def safe_log(p: np.ndarray) -> np.ndarray:
    """log p with log 0 = -inf and no RuntimeWarning."""
    out = np.full(np.shape(p), -np.inf)
    pos = p > 0
    out[pos] = np.log(p[pos])
    return out


def xlogy_sum(q: np.ndarray, logp: np.ndarray) -> float:
    """sum_x q(x) log p(x) with 0 log 0 = 0 (terms with q = 0 are skipped)."""
    pos = q > 0
    return float(np.dot(q[pos], logp[pos]))


# ----------------------------------------------------------------------------- faces
def minimal_face(t: np.ndarray, mu: np.ndarray, weight_tol: float = FACE_WEIGHT_TOL) -> np.ndarray:
    """Boolean mask of the outcomes spanning the minimal face of conv{t_i} containing ``mu``.

    Empty mask: ``mu`` is outside the convex hull.  Full mask: ``mu`` is in the
    relative interior.  In one dimension the test is exact (comparisons with the
    minimum and maximum).  Otherwise a linear programme over weights ``v >= 0``,
    ``sum v = 1``, ``sum_i v_i (t_i - mu) = 0`` maximises ``sum_i min(v_i, weight_tol)``:
    outcome i belongs to the face iff some distribution with mean ``mu`` can give it
    mass of order ``weight_tol`` (averaging feasible distributions shows one LP finds
    all of them).  Outcomes that can carry only less mass are left out; callers
    (:func:`project`) re-check such near-boundary cases with the full Newton solve.
    If the programme is infeasible, a non-negative least-squares fit of the moments
    decides: a residual above ``OUTSIDE_TOL`` (relative to the spread of ``t``) means
    ``mu`` is outside the hull; below it (rounding) the programme is re-solved with
    the moment equations relaxed to that level.
    """
    m, d = t.shape
    if d == 1:
        x, a = t[:, 0], float(mu[0])
        lo, hi = float(x.min()), float(x.max())
        if a < lo or a > hi:
            return np.zeros(m, dtype=bool)
        if lo == hi or (lo < a < hi):
            return np.ones(m, dtype=bool)
        return x == a
    diff = t - mu
    scale = float(np.max(np.abs(diff)))
    if scale == 0.0:
        return np.ones(m, dtype=bool)
    diff = diff / scale
    opts = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
    # variables: v (m, in [0, 1]), s (m, in [0, weight_tol]); maximise sum s
    # subject to s_i <= v_i, sum v = 1 and diff^T v = 0 (or |diff^T v| <= slack).
    c = np.concatenate([np.zeros(m), -np.ones(m)])
    bounds = [(0.0, 1.0)] * m + [(0.0, weight_tol)] * m
    moment = np.hstack([diff.T, np.zeros((d, m))])
    norm_row = np.concatenate([np.ones(m), np.zeros(m)])[None, :]
    couple = np.hstack([-np.eye(m), np.eye(m)])

    def solve(slack):
        if slack == 0.0:
            kw = dict(A_ub=couple, b_ub=np.zeros(m), A_eq=np.vstack([moment, norm_row]),
                      b_eq=np.concatenate([np.zeros(d), [1.0]]))
        else:
            kw = dict(A_ub=np.vstack([couple, moment, -moment]),
                      b_ub=np.concatenate([np.zeros(m), np.full(2 * d, slack)]), A_eq=norm_row, b_eq=[1.0])
        res = linprog(c, bounds=bounds, method="highs", options=opts, **kw)
        if res.status not in (0, 2):
            res = linprog(c, bounds=bounds, method="highs-ipm", options=opts, **kw)
        return res

    res = solve(0.0)
    if res.status == 2:
        # infeasible for HiGHS: decide with an accurate non-negative least-squares fit
        # of the moments; within rounding of the hull, retry with a tiny slack.
        _, resid = nnls(np.vstack([diff.T, np.ones((1, m))]), np.concatenate([np.zeros(d), [1.0]]))
        if resid > OUTSIDE_TOL:
            return np.zeros(m, dtype=bool)
        res = solve(max(10.0 * resid, 1e-12))
    if res.status != 0:
        raise ValueError("mu is numerically on the boundary of the convex hull of the statistics "
                         f"and its face could not be determined ({res.message})")
    return res.x[m:] > 0.5 * weight_tol


# ----------------------------------------------------------------------------- Newton on the dual
def newton_dual(logw: np.ndarray, c: np.ndarray, tol: float = 1e-13, max_iter: int = 500):
    """Minimise f(eta) = logsumexp(logw + c @ eta) by regularised Newton.

    ``c`` has shape (m, r) with full column rank and the origin in the relative
    interior of the convex hull of its rows, so f is strictly convex and coercive.
    At the minimum the tilted mean ``sum_i q_i c_i`` vanishes.

    Steps solve ``(H + lam I) s = -g`` with ``lam = sqrt(L |g|)`` (Mishchenko,
    SIAM J. Optim. 33, 1440 (2023)): ``L`` is raised until the Armijo condition holds
    and lowered after each success.  The regularisation keeps the iteration global
    where the tilted law degenerates onto a few outcomes (Hessian nearly zero) and
    vanishes as ``g -> 0`` (superlinear local convergence); one plain Newton step
    polishes the result.

    Returns ``(eta, f, q)`` with ``q`` the tilted distribution.  Raises ValueError
    when the iteration cannot reach ``tol`` (``mu`` numerically on the boundary).
    """
    m, r = c.shape
    eta = np.zeros(r)

    def evaluate(e):
        z = logw + c @ e
        a = float(logsumexp(z))
        return a, np.exp(z - a), float(np.max(np.abs(z)))

    f, q, zmax = evaluate(eta)
    if r == 0:
        return eta, f, q
    eye = np.eye(r)
    big_l = 1.0
    polished = False
    for _ in range(max_iter):
        g = q @ c
        gnorm = float(np.max(np.abs(g)))
        cc = c - g
        hess = (cc * q[:, None]).T @ cc
        if gnorm <= tol:
            # one plain Newton polishing step, kept only if it reduces the gradient
            if polished:
                return eta, f, q
            try:
                step = -np.linalg.solve(hess, g)
            except np.linalg.LinAlgError:
                return eta, f, q
            if np.all(np.isfinite(step)):
                f2, q2, z2 = evaluate(eta + step)
                if float(np.max(np.abs(q2 @ c))) < gnorm:
                    eta, f, q, zmax = eta + step, f2, q2, z2
            polished = True
            continue
        # f carries an absolute rounding error ~ eps * max|logits|; below that level the
        # Armijo test is meaningless and a step is accepted if it reduces the gradient.
        slack = 64 * _EPS * (1.0 + zmax)
        g2 = float(np.sqrt(g @ g))
        while True:
            step = -np.linalg.solve(hess + math.sqrt(big_l * g2) * eye, g)
            dec = float(g @ step)
            f_new, q_new, z_new = evaluate(eta + step)
            if f_new <= f + 1e-4 * dec:
                break
            if f_new <= f + slack and float(np.max(np.abs(q_new @ c))) < gnorm:
                break
            big_l *= 4.0
            if big_l > 1e40:
                raise ValueError("Newton iteration on the convex dual stalled: mu is numerically on the "
                                 "boundary of the convex hull of the statistics")
        eta, f, q, zmax = eta + step, f_new, q_new, z_new
        big_l = max(big_l / 4.0, 1e-12)
    g = q @ c
    if float(np.max(np.abs(g))) <= 1e3 * tol:
        return eta, f, q
    raise ValueError("Newton iteration on the convex dual did not converge: mu is numerically on the "
                     "boundary of the convex hull of the statistics")


def _solve_on(logw, t, mu, mask, scale):
    """Newton solve restricted to the outcomes in ``mask``; returns (q, f, theta_or_None_basis)."""
    m, d = t.shape
    diff = (t[mask] - mu) / scale
    _, sv, vt = np.linalg.svd(diff, full_matrices=False)
    rank = int(np.sum(sv > RANK_TOL))
    basis = vt[:rank].T  # (d, r)
    eta, f, qf = newton_dual(logw[mask], diff @ basis)
    q = np.zeros(m)
    q[mask] = qf
    resid = float(np.max(np.abs(qf @ diff)))
    if resid > 1e-9:
        raise ValueError(f"moment constraints met only to {resid:.2e} (relative): mu is numerically "
                         "on the boundary of the convex hull of the statistics")
    return q, f, basis @ eta / scale


def project(logw: np.ndarray, t: np.ndarray, mu: np.ndarray):
    """I-projection of the (possibly unnormalised) measure exp(logw) onto {E_q t = mu}.

    Returns a dict with ``q`` (over all outcomes), ``divergence`` = sum q log(q / w)
    (= KL(q || w) for normalised w), ``theta`` (natural parameter in the original
    coordinates, minimum norm; None when mu is on the relative boundary so that
    theta is infinite), ``on_boundary`` and ``face`` (mask of the support of q).

    The minimal face containing ``mu`` is found first (:func:`minimal_face`).  In more
    than one dimension a face smaller than the support is confirmed by also solving
    the full problem: if that converges and puts at least ``OFF_FACE_MASS`` off the
    face, ``mu`` is a (near-boundary) interior point and the full solution is returned.
    Raises ValueError when mu is outside the convex hull.
    """
    m, d = t.shape
    face = minimal_face(t, mu)
    if not face.any():
        raise OutsideHullError(f"mu = {mu.tolist()} is outside the convex hull of the statistics "
                         f"(no distribution on the support has these moments)")
    scale = float(np.max(np.abs(t - mu)))
    if scale == 0.0:
        scale = 1.0
    full = np.ones(m, dtype=bool)
    if face.all():
        q, f, theta = _solve_on(logw, t, mu, full, scale)
        return {"q": q, "divergence": -f, "theta": theta, "on_boundary": False, "face": full}
    face_err = None
    try:
        q, f, _ = _solve_on(logw, t, mu, face, scale)
    except ValueError as err:
        face_err = err
    if d > 1:
        try:
            q_full, f_full, theta_full = _solve_on(logw, t, mu, full, scale)
        except ValueError:
            q_full = None
        if q_full is not None and (face_err is not None or float(q_full[~face].sum()) >= OFF_FACE_MASS):
            return {"q": q_full, "divergence": -f_full, "theta": theta_full, "on_boundary": False,
                    "face": full}
    if face_err is not None:
        raise face_err
    return {"q": q, "divergence": -f, "theta": None, "on_boundary": True, "face": face}


# ----------------------------------------------------------------------------- sums of integer variables
def integer_values(values, name: str = "values") -> np.ndarray:
    """Validate integer-valued support points; return them as int64."""
    v = real_array(name, values)
    if v.ndim != 1 or v.shape[0] < 1:
        raise ValueError(f"{name} must be a 1-d array; got shape {np.shape(values)}")
    if np.any(v != np.round(v)):
        raise ValueError(f"{name} must be integers (the dynamic programme runs over integer sums)")
    if np.max(np.abs(v)) > 2**40:
        raise ValueError(f"{name} are too large for exact integer sums")
    return np.round(v).astype(np.int64)


def lattice_pmf(k: np.ndarray, p: np.ndarray) -> np.ndarray:
    """pmf on 0..max(k) with mass p[i] at k[i] (repeated values are merged)."""
    r = np.zeros(int(k.max()) + 1)
    np.add.at(r, k, p)
    return r


def sum_pmf(r: np.ndarray, n: int) -> np.ndarray:
    """pmf of the sum of n i.i.d. copies of the lattice pmf r (direct convolution)."""
    out = np.array([1.0])
    for _ in range(n):
        out = np.convolve(out, r)
        s = out.sum()
        out /= s
    return out


def tilt_for_mean(x: np.ndarray, logp: np.ndarray, a: float) -> float:
    """The l solving d/dl log E exp(l x) = a for min x < a < max x (bracketing + brentq)."""
    from scipy.optimize import brentq

    spread = float(x.max() - x.min())
    centred = x - a

    def slope(lam):
        z = logp + lam * centred
        w = np.exp(z - logsumexp(z))
        return float(w @ centred)

    lo, hi = -1.0 / spread, 1.0 / spread
    while slope(lo) > 0:
        lo *= 2.0
    while slope(hi) < 0:
        hi *= 2.0
    return float(brentq(slope, lo, hi, xtol=1e-15, rtol=4 * _EPS, maxiter=500))


def log_sum_pmf(values, p, n: int, lam: float):
    """Exact log P(S_n = s) for every attainable s, computed in the measure tilted by ``lam``.

    Returns ``(s_grid, logpmf)`` where ``s_grid = n * min(values) + arange(len)``.
    Entries that underflow in the tilted measure are -inf; choose ``lam`` so that the
    sums of interest are typical under the tilt.
    """
    k0 = int(values.min())
    k = values - k0
    logp = safe_log(p)
    lam_log_mgf = float(logsumexp(logp + lam * values))
    tilted = np.exp(logp + lam * values - lam_log_mgf)
    dist = sum_pmf(lattice_pmf(k, tilted), n)
    s_grid = n * k0 + np.arange(dist.shape[0])
    logpmf = safe_log(dist) - lam * s_grid + n * lam_log_mgf
    return s_grid, logpmf


def check_positive_int(n, name: str = "n", minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {n!r}")
    return int(n)


def real_scalar(value, name: str) -> float:
    """A finite real scalar (complex, strings, arrays, NaN and inf are a ValueError naming ``name``)."""
    arr = real_array(name, value)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a real scalar (got an array of shape {arr.shape})")
    return float(arr)


def check_beta(beta) -> float:
    try:
        b = real_scalar(beta, "beta")
    except ValueError as err:
        raise ValueError(f"beta must be a positive finite inverse temperature ({err})") from None
    if b <= 0:
        raise ValueError(f"beta must be a positive finite inverse temperature; got {beta!r}")
    return b


def check_integer(value, name: str) -> int:
    """An integer (Python or numpy, or an integral float); complex, fractions and strings are a ValueError."""
    x = real_scalar(value, name)
    if x != math.floor(x) or abs(x) > 2**62:
        raise ValueError(f"{name} must be an integer (got {value!r})")
    return int(x)


def values_first_deprecated(func):
    """Keep the earlier positional call ``func(values, p, *rest)`` working for one release.

    The public signature is ``func(p, *, values, ...)``; a call with more than one positional argument is the
    old order ``(values, p, <remaining parameters in signature order>)``.  It is mapped to the new call and
    emits a :class:`DeprecationWarning` naming the new form (CHANGELOG.md).
    """
    import inspect
    rest = [name for name in inspect.signature(func).parameters if name not in ("p", "values")]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if len(args) <= 1:
            return func(*args, **kwargs)
        if len(args) > 2 + len(rest):
            raise TypeError(f"{func.__name__}() takes at most {2 + len(rest)} positional arguments in the "
                            f"deprecated order (values, p, {', '.join(rest)}); got {len(args)}")
        extra = dict(zip(rest, args[2:]))
        clash = sorted(set(extra) & set(kwargs))
        if clash:
            raise TypeError(f"{func.__name__}() got multiple values for {', '.join(clash)}")
        warnings.warn(f"{func.__name__}(values, p, ...) is deprecated; call {func.__name__}(p, values=..., "
                      f"{', '.join(f'{r}=...' for r in rest)}) (the old positional order is kept for one release)", DeprecationWarning, stacklevel=2)
        return func(args[1], values=args[0], **extra, **kwargs)

    return wrapper
