"""Optimal transport with the squared Euclidean cost (docs/theory.md section 5).

Every function here uses the ground cost ``c(x, y) = |x - y|^2`` (not ``|x - y|^2 / 2``) and
returns the *squared* 2-Wasserstein distance ``W2^2`` (not ``W2``):

    W2^2(p, q) = min_{P in Pi(a, b)} sum_ij P_ij |x_i - y_j|^2.

Solvers
-------
:func:`w2_squared_gaussian`  Bures closed form, batched; :func:`gaussian_monge_map` the optimal map.
:func:`w2_squared_1d`        Exact, weighted, in one dimension (quantile functions).
:func:`w2_squared`           Exact discrete OT: Jonker-Volgenant assignment for uniform clouds of
                             equal size (seeded by a Monge normalisation of the clouds), network
                             simplex for general weights (Numba, float64).
:func:`exact_ot`             The same with the plan, exact dual potentials and a certified error bound.
:func:`sinkhorn`             Entropic OT, log-stabilised with epsilon-scaling (Numba).

Conventions
-----------
Point clouds are arrays of shape ``(n, d)`` (a 1-D array is ``n`` points on the line).  Weights
``a``, ``b`` default to uniform; they must be real, non-negative, finite and sum to one.  Sums that
differ from one by at most ``WEIGHT_RTOL`` (rounding, float32 input) are renormalised silently
(the result records the original sums); larger deviations raise ``ValueError``.  All arithmetic is
float64 whatever the input dtype; complex input is rejected.  Every compiled solver works on the
clouds rescaled by a power of two (exact) so that all squared distances lie in [0, 1): no cost or
sum it forms can overflow, and results outside the float64 range raise ValueError instead of
coming back as inf, 0 or garbage.  Entropic OT uses the reference measure ``a (x) b``:

    OT_eps(a, b) = min_P <P, C> + eps KL(P || a b^T)

which for Gaussians has the closed form of Janati, Muzellec, Peyre & Cuturi (NeurIPS 2020) with
``eps = 2 sigma^2`` (see :func:`entropic_ot_gaussian`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _ot_kernels as _k
from ..core import kernels as _kernels
from ..core.checks import count, finite_float, probability_vector, real_array

__all__ = ["WEIGHT_RTOL", "EXACT_RTOL", "SINKHORN_MIN_EPS_RATIO", "w2_squared_gaussian", "gaussian_monge_map", "entropic_ot_gaussian",
           "sqrtm_psd", "w2_squared_1d", "w2_squared", "w2_squared_many", "exact_ot", "ExactOTResult", "sinkhorn",
           "SinkhornResult", "cost_matrix"]

#: Largest relative deviation of sum(a) from 1 that is treated as rounding and renormalised.
WEIGHT_RTOL = 1e-5

#: Exact OT raises when its certified bound on ``value - optimum`` exceeds this fraction of the value.
EXACT_RTOL = 1e-10

#: Smallest ``eps / max(C)`` that :func:`sinkhorn` accepts.  Potentials are stored in cost units, so
#: their updates ``eps log(scaling)`` are resolved only to ``2^-52 max(C) / eps`` in the log-scalings:
#: at 1e-10 that is 2e-6; near 2^-52 (2.2e-16) the iterations stop moving and return garbage.
SINKHORN_MIN_EPS_RATIO = 1e-10

_FLOAT_TINY = float(np.finfo(np.float64).tiny)   # 2^-1022, smallest normal float64
_UNIT_ROUNDOFF = 2.0 ** -53


# ----------------------------------------------------------------------------------------------
# input checks


def _as_cloud(x, name: str) -> np.ndarray:
    arr = real_array(name, x)            # rejects complex, non-numeric, NaN and inf
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) or (n,), got {np.shape(x)}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return np.ascontiguousarray(arr)


def _scale_exponent(x: np.ndarray, y: np.ndarray) -> int:
    """The exponent k such that the clouds scaled by 2^-k have every squared distance below 1.

    With R the largest coordinate range of the union of the clouds and d the dimension,
    ``|x_i - y_j|^2 <= d R^2``; k is chosen so that ``2^-k sqrt(d) R < 1`` (and > 1/8 unless all
    points coincide, k = 0).  Scaling by a power of two is exact (barring subnormal underflow of
    coordinates far below R 2^-1022, accounted for in the error bounds), and W2^2, the costs and the
    potentials all scale by 4^k, so every solver works on costs in [0, 1) whatever the input scale:
    nothing the solvers form (sums of costs and potentials) can overflow.
    """
    hi = np.maximum(x.max(axis=0), y.max(axis=0))
    lo = np.minimum(x.min(axis=0), y.min(axis=0))
    half_range = float(np.max(0.5 * hi - 0.5 * lo))    # halves: no overflow for ranges near 1.8e308
    if half_range == 0.0:
        return 0
    e_range = math.frexp(half_range)[1] + 1               # R < 2^e_range
    e_dim = math.ceil(0.5 * math.log2(x.shape[1]))        # sqrt(d) <= 2^e_dim
    return e_range + e_dim


def _scaled_pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Both clouds scaled by 2^-k (see :func:`_scale_exponent`); when upscaling (k < 0) would
    overflow the coordinates, both are first translated by a common origin (their midpoint)."""
    k = _scale_exponent(x, y)
    if k < 0:
        big = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))))
        if not math.isfinite(math.ldexp(big, -k)) or math.ldexp(big, -k) > 2.0 ** 1000:
            # midpoint without overflow; x - mid is exact (Sterbenz: the spread is far below |mid|)
            mid = 0.5 * np.minimum(x.min(0), y.min(0)) + 0.5 * np.maximum(x.max(0), y.max(0))
            x = x - mid
            y = y - mid
    return np.ascontiguousarray(np.ldexp(x, -k)), np.ascontiguousarray(np.ldexp(y, -k)), k


def _unscale(value: float, k: int, what: str) -> float:
    """value * 4^k, or a ValueError when that leaves the normal float64 range."""
    try:
        out = math.ldexp(value, 2 * k) if value != 0.0 else 0.0
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise ValueError(f"{what} = {value!r} * 2^{2 * k} overflows float64 (the clouds are too far apart "
                         "for a float64 answer; rescale them)")
    if value != 0.0 and abs(out) < _FLOAT_TINY:
        raise ValueError(f"{what} = {value!r} * 2^{2 * k} underflows float64 (below {_FLOAT_TINY:.3g}: it "
                         "would lose its significant digits; rescale the clouds)")
    return out


def _as_weights(a, n: int, name: str) -> tuple[np.ndarray, float]:
    """Uniform if None; else validated, float64, renormalised if sum(a) = 1 up to WEIGHT_RTOL."""
    if a is None:
        return np.full(n, 1.0 / n), 1.0
    return probability_vector(a, n, name, tol=WEIGHT_RTOL, what="points",
                              note=f"; deviations up to {WEIGHT_RTOL:g} are treated as rounding and renormalised")


#: Below this many entries x dimension the cost matrix is built serially: the parallel kernel's
#: first call in a process starts the OpenMP thread pool (~0.3 s), which small problems should not pay.
PARALLEL_COST_MIN = 1 << 24


def _cost(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.shape[0] * y.shape[0] * x.shape[1] < PARALLEL_COST_MIN:
        return _k.sq_cost_serial(x, y)
    return _k.sq_cost(x, y)


def cost_matrix(x, y) -> np.ndarray:
    """The cost matrix ``C_ij = |x_i - y_j|^2`` (float64, squared Euclidean, no factor 1/2).

    Raises ValueError when an entry overflows float64 (the solvers rescale internally and do not
    need this matrix).
    """
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    C = _cost(x, y)
    if not math.isfinite(float(C.max())):
        raise ValueError("squared distances overflow float64 (coordinates differ by more than ~1.3e154)")
    return C


# ----------------------------------------------------------------------------------------------
# Gaussians


def _check_gaussian(m, S, name: str):
    m = real_array(f"mean {name}", m, finite=False)
    S = real_array(f"covariance {name}", S, finite=False)
    if m.ndim == 0 and S.ndim == 0:
        m = m[None]
        S = S[None, None]
    if S.ndim < 2 or S.shape[-1] != S.shape[-2]:
        raise ValueError(f"covariance {name} must have shape (..., d, d), got {S.shape}")
    if m.ndim < 1 or m.shape[-1] != S.shape[-1]:
        raise ValueError(f"mean {name} must have shape (..., {S.shape[-1]}), got {m.shape}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(S))):
        raise ValueError(f"mean/covariance {name} contains NaN or inf")
    scale = np.max(np.abs(S), initial=0.0)
    if np.max(np.abs(S - np.swapaxes(S, -1, -2)), initial=0.0) > 1e-10 * max(scale, 1e-300):
        raise ValueError(f"covariance {name} is not symmetric")
    S = 0.5 * (S + np.swapaxes(S, -1, -2))
    w = np.linalg.eigvalsh(S)
    if np.any(w < -1e-12 * np.maximum(np.max(np.abs(w), axis=-1, keepdims=True), 1e-300)):
        raise ValueError(f"covariance {name} is not positive semi-definite "
                         f"(smallest eigenvalue {float(np.min(w)):.3g})")
    return m, S


def sqrtm_psd(S) -> np.ndarray:
    """Principal square root of symmetric PSD matrices (batched over leading axes), by a
    symmetric eigendecomposition with negative rounding-level eigenvalues clipped to 0."""
    S = np.asarray(S, dtype=np.float64)
    w, U = np.linalg.eigh(0.5 * (S + np.swapaxes(S, -1, -2)))
    return (U * np.sqrt(np.clip(w, 0.0, None))[..., None, :]) @ np.swapaxes(U, -1, -2)


def w2_squared_gaussian(m1, S1, m2, S2):
    """Squared 2-Wasserstein distance between Gaussians, cost |x - y|^2 (Bures formula).

    .. math:: W_2^2 = |m_1 - m_2|^2 + \\mathrm{tr} S_1 + \\mathrm{tr} S_2
              - 2\\, \\mathrm{tr} (S_1^{1/2} S_2 S_1^{1/2})^{1/2}

    (Dowson & Landau 1982; Givens & Shortt 1984; docs/theory.md section 5.)

    Evaluated without the cancellation of the textbook form (which loses all digits when S_1 and S_2
    are close: a relative error eps |S| / W2^2).  With S_1 = U diag(w) U^T positive definite,
    :math:`M = (S_1^{1/2} S_2 S_1^{1/2})^{1/2}` and :math:`X = M - S_1`, the covariance part is the sum of
    squares :math:`\\mathrm{tr}((A - I) S_1 (A - I)) = \\sum_{ij} X_{ij}^2 / w_i` (A the Monge matrix,
    :math:`A - I = S_1^{-1/2} X S_1^{-1/2}`), and X solves the Sylvester equation
    :math:`S_1 X + X M = S_1^{1/2} (S_2 - S_1) S_1^{1/2}`, which takes the difference S_2 - S_1 directly;
    the result is then accurate to rounding relative to W2^2 itself.  The better-conditioned covariance
    plays S_1; when both are singular (e.g. two point masses) the textbook form is used, which has no
    cancellation there.

    Parameters
    ----------
    m1, m2 : array_like, shape (..., d)
        Means (scalars allowed for d = 1).
    S1, S2 : array_like, shape (..., d, d)
        Symmetric positive semi-definite covariances.  Leading axes broadcast.

    Returns
    -------
    float or ndarray
        W2^2 (squared distance, not W2), shape of the broadcast leading axes; non-negative.
    """
    m1, S1 = _check_gaussian(m1, S1, "1")
    m2, S2 = _check_gaussian(m2, S2, "2")
    if S1.shape[-1] != S2.shape[-1]:
        raise ValueError("the two Gaussians have different dimensions")
    S1, S2 = np.broadcast_arrays(0.5 * (S1 + np.swapaxes(S1, -1, -2)), 0.5 * (S2 + np.swapaxes(S2, -1, -2)))
    # work in units of a power of 4 near the covariances' scale (exact, so nothing else changes): a
    # 1e300-scale pair no longer overflows in S^1/2 S S^1/2, a 1e-300-scale pair no longer underflows
    mag = np.maximum(np.max(np.abs(S1), axis=(-2, -1)), np.max(np.abs(S2), axis=(-2, -1)))
    with np.errstate(divide="ignore"):
        k = np.where(mag > 0, np.round(np.log2(np.where(mag > 0, mag, 1.0)) / 2.0), 0.0)
    c = np.ldexp(1.0, (2 * k).astype(int))[..., None, None]          # 4^k
    r = np.ldexp(1.0, k.astype(int))[..., None]                        # 2^k = sqrt(c)
    S1, S2 = S1 / c, S2 / c
    m1, m2 = m1 / r, m2 / r
    w1, w2 = np.linalg.eigvalsh(S1), np.linalg.eigvalsh(S2)
    # the better-conditioned covariance plays S_1 (W2 is symmetric)
    c1 = w1[..., 0] / np.maximum(w1[..., -1], 1e-300)
    c2 = w2[..., 0] / np.maximum(w2[..., -1], 1e-300)
    swap = (c2 > c1)[..., None, None]
    A, B = np.where(swap, S2, S1), np.where(swap, S1, S2)
    cov_part = _bures_cov_part(A, B)
    val = np.sum((m1 - m2) ** 2, axis=-1) + cov_part
    with np.errstate(over="ignore"):
        val = np.maximum(val, 0.0) * c[..., 0, 0]
    if not np.all(np.isfinite(val)):
        raise ValueError("W2^2 exceeds the double range (covariances or mean differences above about 1e308)")
    return float(val) if np.ndim(val) == 0 else val


def _bures_cov_part(S1, S2):
    """tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2 without cancellation (see :func:`w2_squared_gaussian`)."""
    w, U = np.linalg.eigh(S1)
    Ut = np.swapaxes(U, -1, -2)
    regular = w[..., 0] > 1e-12 * np.maximum(w[..., -1], 1e-300)
    w_safe = np.where(regular[..., None], w, 1.0)
    r = np.sqrt(np.clip(w, 0.0, None))
    delta = Ut @ (S2 - S1) @ U                                    # S2 - S1 taken directly, in S1's eigenbasis
    K = r[..., :, None] * delta * r[..., None, :]                 # S1^1/2 (S2 - S1) S1^1/2
    K = 0.5 * (K + np.swapaxes(K, -1, -2))
    C = K + np.eye(w.shape[-1]) * (w * w)[..., None, :]           # S1^1/2 S2 S1^1/2
    mu2, V = np.linalg.eigh(C)
    mu = np.sqrt(np.clip(mu2, 0.0, None))
    # Sylvester S1 X + X M = K with M = V diag(mu) V^T: (X V)_ij (w_i + mu_j) = (K V)_ij
    Y = (K @ V) / (w_safe[..., :, None] + mu[..., None, :])
    X = Y @ np.swapaxes(V, -1, -2)
    stable = np.sum(X * X / w_safe[..., :, None], axis=(-2, -1))
    textbook = (np.trace(S1, axis1=-2, axis2=-1) + np.trace(S2, axis1=-2, axis2=-1) - 2.0 * mu.sum(axis=-1))
    return np.where(regular, stable, textbook)


def gaussian_monge_map(m1, S1, m2, S2):
    """Optimal (Monge) map from N(m1, S1) to N(m2, S2) for the cost |x - y|^2.

    ``T(x) = m2 + A (x - m1)`` with the symmetric positive semi-definite matrix

    .. math:: A = S_1^{-1/2} (S_1^{1/2} S_2 S_1^{1/2})^{1/2} S_1^{-1/2},

    the unique PSD matrix with ``A S1 A = S2`` (Knott & Smith 1984).  Batched over leading axes.

    Returns
    -------
    A : ndarray (..., d, d)
    shift : ndarray (..., d)
        ``T(x) = A x + shift`` with ``shift = m2 - A m1``.

    Raises
    ------
    ValueError
        If S1 is singular (the map is then not unique).
    """
    m1, S1 = _check_gaussian(m1, S1, "1")
    m2, S2 = _check_gaussian(m2, S2, "2")
    w, U = np.linalg.eigh(S1)
    if np.any(w <= 1e-14 * np.max(np.abs(w), axis=-1, keepdims=True)):
        raise ValueError("S1 must be positive definite for the Monge map")
    Ut = np.swapaxes(U, -1, -2)
    r1 = (U * np.sqrt(w)[..., None, :]) @ Ut
    r1inv = (U / np.sqrt(w)[..., None, :]) @ Ut
    A = r1inv @ sqrtm_psd(r1 @ S2 @ r1) @ r1inv
    A = 0.5 * (A + np.swapaxes(A, -1, -2))
    shift = m2 - np.einsum("...ij,...j->...i", A, m1)
    return A, shift


def entropic_ot_gaussian(m1, S1, m2, S2, eps):
    """Entropic OT value between Gaussians (cost |x - y|^2, reference measure p (x) q):

    .. math:: OT_\\varepsilon = \\min_\\pi E_\\pi|x-y|^2 + \\varepsilon\\, KL(\\pi \\| p \\otimes q)

    Closed form of Janati, Muzellec, Peyre & Cuturi (NeurIPS 2020, Theorem 1) with
    ``sigma^2 = eps / 2``:

        |m1 - m2|^2 + tr S1 + tr S2 - tr D + d sigma^2 (1 - log 2 sigma^2) + sigma^2 log det(D + sigma^2 I),
        D = (4 S1^{1/2} S2 S1^{1/2} + sigma^4 I)^{1/2}.

    Verified in 1-D against direct minimisation over Gaussian couplings in
    ``derivations/ot_gaussian.py``.  Returns the objective including the eps KL term.
    """
    m1, S1 = _check_gaussian(m1, S1, "1")
    m2, S2 = _check_gaussian(m2, S2, "2")
    eps = finite_float("eps", eps)
    if not eps > 0:
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    d = S1.shape[-1]
    s2 = eps / 2.0
    r1 = sqrtm_psd(S1)
    M = 4.0 * (r1 @ S2 @ r1) + (s2 ** 2) * np.eye(d)
    ev = np.clip(np.linalg.eigvalsh(0.5 * (M + np.swapaxes(M, -1, -2))), 0.0, None)
    dev = np.sqrt(ev)   # eigenvalues of D
    val = (np.sum((m1 - m2) ** 2, axis=-1) + np.trace(S1, axis1=-2, axis2=-1)
           + np.trace(S2, axis1=-2, axis2=-1) - dev.sum(axis=-1)
           + d * s2 * (1.0 - math.log(2.0 * s2)) + s2 * np.log(dev + s2).sum(axis=-1))
    return float(val) if np.ndim(val) == 0 else val


# ----------------------------------------------------------------------------------------------
# one dimension


def w2_squared_1d(x, y, a=None, b=None) -> float:
    """Exact W2^2 between two weighted point sets on the line, cost |x - y|^2.

    .. math:: W_2^2 = \\int_0^1 (F^{-1}(t) - G^{-1}(t))^2 dt

    computed exactly by merging the breakpoints of the two quantile (inverse CDF) step
    functions: O((n + m) log(n + m)).  Weights default to uniform; sums within WEIGHT_RTOL of
    one are renormalised.

    Parameters
    ----------
    x : array_like, shape (n,) or (n, 1)
    y : array_like, shape (m,) or (m, 1)
    a, b : array_like, optional
        Non-negative weights summing to one.
    """
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != 1 or y.shape[1] != 1:
        raise ValueError("w2_squared_1d needs one-dimensional points")
    a, _ = _as_weights(a, x.shape[0], "a")
    b, _ = _as_weights(b, y.shape[0], "b")
    xs, ys, k = _scaled_pair(x, y)        # exact power-of-two rescaling: squares cannot overflow
    xs = xs[:, 0]
    ys = ys[:, 0]
    ix = np.argsort(xs, kind="stable")
    iy = np.argsort(ys, kind="stable")
    xs, ca = xs[ix], np.cumsum(a[ix])
    ys, cb = ys[iy], np.cumsum(b[iy])
    ca[-1] = 1.0
    cb[-1] = 1.0
    t = np.union1d(ca, cb)           # sorted breakpoints, last one is 1
    t = t[(t > 0.0) & (t <= 1.0)]
    left = np.concatenate(([0.0], t[:-1]))
    width = t - left
    keep = width > 0
    mid = 0.5 * (left[keep] + t[keep])
    qi = np.minimum(np.searchsorted(ca, mid, side="left"), xs.size - 1)
    qj = np.minimum(np.searchsorted(cb, mid, side="left"), ys.size - 1)
    diff = xs[qi] - ys[qj]
    value = math.fsum(width[keep] * diff * diff)
    if value == 0.0 and np.any(diff != 0.0):
        raise ValueError("W2^2 underflows: the squared distances of the matched points are below the float64 "
                         "range relative to the largest distance; rescale or recentre the points")
    if value > 0.0 and 2.0 ** -1070 > EXACT_RTOL * value:
        raise ValueError(f"W2^2 is below the float64 resolution of the cost range (scaled value {value:.3g}); "
                         "the dynamic range of the distances is too large")
    return _unscale(value, k, "W2^2")


# ----------------------------------------------------------------------------------------------
# exact discrete OT


@dataclass(frozen=True)
class ExactOTResult:
    """Exact discrete OT with cost |x - y|^2.

    Attributes
    ----------
    w2_squared : float
        ``sum_ij P_ij |x_i - y_j|^2`` at the optimum (squared distance).
    plan : ndarray (n, m) or None
        Optimal plan (rows sum to a, columns to b).
    u, v : ndarray
        Dual potentials: ``u_i + v_j <= C_ij`` for all i, j (up to rounding), equality on the
        support of the plan; ``a.u + b.v = w2_squared``.
    dual_objective : float
        ``a.u + b.v``.
    method : str
        ``"jonker-volgenant"`` or ``"network-simplex"``.
    weight_sums : tuple
        The sums of a and b before renormalisation.
    n_pivots : int
        Simplex pivots (network simplex) or 0.
    error_bound : float
        Certified bound on ``w2_squared - optimum`` (the optimum of the exact costs of the float64
        points; the result is never below it up to the final rounding): dual feasibility of
        ``(u, v)`` checked on every pair with all rounding errors bounded.  Typically ~1e-16 of the
        value; a ValueError is raised when it exceeds ``EXACT_RTOL`` times the value.
    """

    w2_squared: float
    plan: object
    u: np.ndarray
    v: np.ndarray
    dual_objective: float
    method: str
    weight_sums: tuple = (1.0, 1.0)
    n_pivots: int = 0
    error_bound: float = 0.0


def _is_uniform(w) -> bool:
    return bool(np.all(w == w[0]))


def _normalising_map(xs: np.ndarray, ys: np.ndarray):
    """Clouds ``(xh, yh)`` and offsets ``beta`` (columns), ``alpha`` (rows) with, in exact arithmetic,

        |xh_i - yh_j|^2 = |x_i - y_j|^2 + alpha_i + beta_j,

    so both cost matrices have the same optimal assignments, and optimal potentials (u, v) of the
    new one give optimal potentials (u - alpha, v - beta) of the original.  With x' = x - mean(x),
    y' = y - mean(x), shift s = mean(y) - mean(x) and any symmetric positive definite B:
    xh = B x', yh = B^-1 (y' - s) (the cross term xh . yh = x' . y' - x' . s is a row term).
    B = A^{1/2} with A the linear part of the Monge map between the Gaussians fitted to the two
    clouds (A S_x A = S_y), so xh and yh have equal means (0) and covariances: clouds that are
    shifted or linearly scaled copies of each other become alike, and the Jonker-Volgenant column
    reduction then starts close to the optimal potentials instead of leaving most rows free.
    Falls back to an isotropic scale (or none) when the covariances are degenerate.
    """
    n, d = xs.shape
    mx = xs.mean(axis=0)
    shift = ys.mean(axis=0) - mx
    xp = xs - mx
    yp = ys - mx
    yc = yp - shift
    B = None
    if n > 2 * d:
        Sx = xp.T @ xp / n
        Sy = yc.T @ yc / n
        try:
            wx = np.linalg.eigvalsh(Sx)
            wy = np.linalg.eigvalsh(Sy)
            if wx[0] > 1e-8 * wx[-1] and wy[0] > 1e-8 * wy[-1]:
                A, _ = gaussian_monge_map(np.zeros(d), Sx, np.zeros(d), Sy)
                w, U = np.linalg.eigh(A)
                if np.all(np.isfinite(w)) and w[0] > 0 and w[-1] < 1e4 * w[0]:
                    B = (U * np.sqrt(w)) @ U.T
                    Binv = (U / np.sqrt(w)) @ U.T
        except (ValueError, np.linalg.LinAlgError):
            B = None
    if B is None:
        tx = float(np.sum(xp * xp))
        ty = float(np.sum(yc * yc))
        c = (ty / tx) ** 0.25 if tx > 0 and ty > 0 and 1e-8 < ty / tx < 1e8 else 1.0
        xh = xp * c
        yh = yc / c
    else:
        xh = xp @ B
        yh = yc @ Binv
    beta = np.sum(yh * yh, axis=1) - np.sum(yp * yp, axis=1)
    alpha = np.sum(xh * xh, axis=1) - np.sum(xp * xp, axis=1) + 2.0 * (xp @ shift)
    return np.ascontiguousarray(xh), np.ascontiguousarray(yh), beta, alpha


def _certify(value: float, bound: float, zero_ok: bool) -> None:
    """ValueError unless the certified error bound supports the value to EXACT_RTOL."""
    if value == 0.0:
        if not zero_ok:
            raise ValueError("W2^2 underflows: the squared distances of the matched points are below the float64 "
                             "range relative to the largest distance (dynamic range too large); rescale or "
                             "recentre the points")
        return
    if not bound <= EXACT_RTOL * value:
        raise ValueError(f"exact OT cannot certify W2^2 to relative {EXACT_RTOL:g}: certified error bound "
                         f"{bound:.3g} for the value {value:.3g} (in units of the largest squared distance); "
                         "the dynamic range of the distances is too large for float64")


#: Assignments up to this size are solved without Numba (scipy's exact assignment and numpy
#: potentials): the first Numba call in a process costs ~0.25 s (runtime and cache load).
SMALL_ASSIGNMENT = 200


def _potentials_from_permutation(C: np.ndarray, cols: np.ndarray):
    """Dual potentials for an optimal assignment ``i -> cols[i]``: ``v = p``, the shortest-path
    distances (Bellman-Ford, vectorised, from a virtual source) in the graph of reassignments
    ``j -> l`` of weight ``C[r, l] - C[r, j]`` (r the row holding j), and ``u_r = C[r, j] - v_j``.
    Optimality means no negative cycle; the triangle inequality ``v_l <= v_j + C[r, l] - C[r, j]``
    is dual feasibility ``u_r + v_l <= C[r, l]``."""
    n = C.shape[0]
    row_of = np.empty(n, np.int64)
    row_of[cols] = np.arange(n)
    W = C[row_of, :] - C[row_of, np.arange(n)][:, None]
    p = np.zeros(n)
    for _ in range(n):
        q = np.minimum(p, np.min(p[:, None] + W, axis=0))
        if np.array_equal(q, p):
            break
        p = q
    return C[np.arange(n), cols] - p[cols], p


def _assignment_result(xs: np.ndarray, ys: np.ndarray, C: np.ndarray, col4row, v):
    """Potentials, value and certified gap of the kernel's assignment ``col4row`` with column potentials v."""
    n, d = xs.shape
    cols = np.asarray(col4row)
    u = C[np.arange(n), cols] - v[cols]            # tight on the assignment up to one rounding
    delta = _k.dual_gap_matrix(C, u, v, d)         # serial: one pass over C, ~1 % of the solve
    return _certified_assignment(xs, ys, C, cols, u, v, delta)


def _certified_assignment(xs, ys, C, cols, u, v, delta):
    n, d = xs.shape
    rows = np.arange(n)
    c_sup = C[rows, cols]
    r_sup = (c_sup - u) - v[cols]
    err = _UNIT_ROUNDOFF * ((d + 4) * c_sup + 3.0 * (np.abs(u) + np.abs(v[cols]))) + (d + 1) * 2.0 ** -1074
    value = math.fsum(c_sup) / n
    bound = math.fsum(np.maximum(r_sup + err, 0.0)) / n + delta + 2 * _UNIT_ROUNDOFF * value
    zero_ok = bool(np.all(xs == ys[cols]))
    return cols, u, v, value, bound, zero_ok


def _solve_assignment(xs: np.ndarray, ys: np.ndarray, *, serial: bool = False):
    """Uniform weights, n == m: optimal permutation, potentials and certified gap (scaled units).
    ``serial``: build the cost matrix on the calling thread only (``sq_cost_serial``, the same arithmetic as
    the threaded ``sq_cost``), for callers that run several solves at once on Python threads."""
    n, d = xs.shape
    if n <= SMALL_ASSIGNMENT:
        from scipy.optimize import linear_sum_assignment
        C = _k.sq_cost_np(xs, ys)
        cols = linear_sum_assignment(C)[1]
        u, v = _potentials_from_permutation(C, cols)
        return _certified_assignment(xs, ys, C, cols, u, v, _k.dual_gap_np(C, u, v, d))
    C = _k.sq_cost_serial(xs, ys) if serial else _cost(xs, ys)
    col4row, _, v = _k.lap_solve_shifted(C, _normalising_map(xs, ys)[3])
    return _assignment_result(xs, ys, C, col4row, v)


def _solve_transport(xs, ys, a, b, max_pivots):
    """General weights: network simplex on the positive-weight points (scaled units)."""
    n, m = xs.shape[0], ys.shape[0]
    d = xs.shape[1]
    ia = np.flatnonzero(a > 0)
    ib = np.flatnonzero(b > 0)
    Cs = _cost(np.ascontiguousarray(xs[ia]), np.ascontiguousarray(ys[ib]))
    a_s = a[ia] / a[ia].sum()
    b_s = b[ib] / b[ib].sum()
    scale = float(np.max(Cs, initial=0.0)) + 1.0
    tails, heads, flows, phi, piv, status = _k.network_simplex(Cs, a_s, b_s, 1e-13 * scale, int(max_pivots))
    if status == 1:
        raise RuntimeError(f"network simplex hit the pivot limit ({max_pivots}) before optimality")
    if status != 0:
        raise RuntimeError("network simplex stalled: rounding of the potentials exceeds the pricing tolerance "
                           "(costs spanning too many orders of magnitude)")
    ns, ms = ia.size, ib.size
    us = phi[:ns]
    vs = -phi[ns:ns + ms]
    shift = float(us.min()) if ns else 0.0   # normalise the free constant: min u = 0
    us = us - shift
    vs = vs + shift
    us, vs = _k.tree_potentials(Cs, tails, heads, us, vs)
    u = np.empty(n)
    v = np.empty(m)
    u[ia] = us
    v[ib] = vs
    if ib.size < m:
        zb = np.setdiff1d(np.arange(m), ib)
        v[zb] = np.min(_cost(xs[ia], np.ascontiguousarray(ys[zb])) - us[:, None], axis=0)
    if ia.size < n:
        za = np.setdiff1d(np.arange(n), ia)
        u[za] = np.min(_cost(np.ascontiguousarray(xs[za]), ys) - v[None, :], axis=1)
    c_sup = Cs[tails, heads]
    value = math.fsum(flows * c_sup)
    # certified gap: <P, C> - OPT <= (r - a).u + (c - b).v + <P, R> + delta (r, c: marginals of P)
    delta = _k.dual_gap_matrix(Cs, us, vs, d)
    r_sup = (c_sup - us[tails]) - vs[heads]
    err = _UNIT_ROUNDOFF * ((d + 4) * c_sup + 3.0 * (np.abs(us[tails]) + np.abs(vs[heads]))) + (d + 1) * 2.0 ** -1074
    rows = np.bincount(tails, flows, ns)
    colsum = np.bincount(heads, flows, ms)
    marg = abs(float((rows - a_s) @ us)) + abs(float((colsum - b_s) @ vs))
    bound = (math.fsum(flows * np.maximum(r_sup + err, 0.0)) + delta * max(1.0, float(flows.sum())) + marg
             + 4 * _UNIT_ROUNDOFF * (value + float(np.abs(us).max(initial=0.0) + np.abs(vs).max(initial=0.0))))
    zero_ok = bool(np.all(xs[ia[tails]] == ys[ib[heads]]))
    return ia, ib, tails, heads, flows, u, v, value, bound, zero_ok, int(piv)


def _exact_problem(x, y, a, b, max_pivots):
    """Checked and rescaled input of one exact problem: ``(xs, ys, a, b, sa, sb, k, max_pivots)`` and
    whether it is a uniform n == m assignment."""
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    n, m = x.shape[0], y.shape[0]
    a, sa = _as_weights(a, n, "a")
    b, sb = _as_weights(b, m, "b")
    if max_pivots is None:
        max_pivots = 1000 * (n + m) + 10 ** 6
    max_pivots = count("max_pivots", max_pivots, 1)
    # exact power-of-two rescaling: all costs in [0, 1), so no sum the solvers form can overflow
    xs, ys, k = _scaled_pair(x, y)
    return (xs, ys, a, b, sa, sb, k, max_pivots), bool(n == m and _is_uniform(a) and _is_uniform(b))


def _exact(x, y, a, b, return_plan: bool, max_pivots, duals: bool) -> ExactOTResult:
    prob, square = _exact_problem(x, y, a, b, max_pivots)
    xs, ys, a, b, sa, sb, k, max_pivots = prob
    assignment = _solve_assignment(xs, ys) if square else None
    return _exact_finish(xs, ys, a, b, sa, sb, k, assignment, return_plan, max_pivots, duals)


def _exact_finish(xs, ys, a, b, sa, sb, k, assignment, return_plan, max_pivots, duals) -> ExactOTResult:
    """The result of :func:`_exact` on the scaled clouds: ``assignment`` (the output of
    :func:`_solve_assignment`, uniform n == m) or None (network simplex), certified and unscaled."""
    n, m = xs.shape[0], ys.shape[0]
    plan = None
    if assignment is not None:
        cols, u, v, value, bound, zero_ok = assignment
        method, piv = "jonker-volgenant", 0
        if return_plan:
            plan = np.zeros((n, m))
            plan[np.arange(n), cols] = 1.0 / n
        dual = float(u.sum() + v.sum()) / n
    else:
        ia, ib, tails, heads, flows, u, v, value, bound, zero_ok, piv = _solve_transport(xs, ys, a, b, max_pivots)
        method = "network-simplex"
        if return_plan:
            plan = np.zeros((n, m))
            np.add.at(plan, (ia[tails], ib[heads]), flows)
        dual = float(a @ u + b @ v)
    _certify(value, bound, zero_ok)
    w2 = _unscale(value, k, "W2^2")
    with np.errstate(over="ignore"):
        bound = float(np.ldexp(bound, 2 * k))
    if duals:
        with np.errstate(over="ignore"):
            u = np.ldexp(u, 2 * k)
            v = np.ldexp(v, 2 * k)
            dual = float(np.ldexp(dual, 2 * k))
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v)) and math.isfinite(dual)):
            raise ValueError("the dual potentials overflow float64 (squared distances beyond ~1.8e308); "
                             "w2_squared still returns the value")
    return ExactOTResult(w2, plan, u, v, dual, method, (sa, sb), piv, bound)


def exact_ot(x, y, a=None, b=None, *, return_plan: bool = True, max_pivots: int | None = None) -> ExactOTResult:
    """Exact optimal transport between discrete measures, cost |x - y|^2, with dual potentials.

    ``min_P sum_ij P_ij |x_i - y_j|^2`` over couplings of ``sum_i a_i delta_{x_i}`` and
    ``sum_j b_j delta_{y_j}``.  Uniform weights with ``n == m`` use a dense Jonker-Volgenant
    assignment (Jonker & Volgenant, Computing 38, 1987): column reduction, augmenting row
    reduction, shortest augmenting paths.  It runs on an equivalent cost matrix
    ``|xh_i - yh_j|^2 = C_ij + alpha_i + beta_j`` in which the clouds are centred and their
    covariances matched by the linear part of the Gaussian Monge map (same optimal assignments;
    shifted or scaled clouds would otherwise leave most rows to the cubic shortest-path phase);
    the value and the potentials refer to the original costs.  Up to ``SMALL_ASSIGNMENT`` points
    scipy's exact assignment (Crouse 2016) is used instead, with potentials from Bellman-Ford on
    the reassignment graph, so that small problems do not pay the Numba start-up (~0.25 s per
    process).  Otherwise a primal network simplex
    with a strongly feasible spanning tree (Cunningham 1976; Ahuja, Magnanti & Orlin 1993, ch. 11)
    and block-search pricing solves the transportation problem exactly; points of zero weight are
    removed first and their potentials restored as ``u_i = min_j (C_ij - v_j)``.  Both run in
    float64 (float32 input is converted) on the clouds rescaled by a power of two (exact) so that
    all costs lie in [0, 1); duplicate points are fine.  Weight sums within ``WEIGHT_RTOL`` of one
    are renormalised (recorded in ``weight_sums``).

    Every result is certified: ``error_bound`` bounds ``w2_squared - optimum`` from the dual
    feasibility of ``(u, v)`` on all pairs with every rounding error accounted for.

    Raises
    ------
    ValueError
        Bad input (complex, NaN, shapes, weights); W2^2 or the potentials outside the float64
        range; or a certified bound above ``EXACT_RTOL`` times the value (distances spanning more
        than float64 can resolve).
    """
    return _exact(x, y, a, b, return_plan, max_pivots, duals=True)


def w2_squared(x, y, a=None, b=None, return_plan: bool = False):
    """Exact squared 2-Wasserstein distance between discrete measures, cost |x - y|^2.

    .. math:: W_2^2 = \\min_{P \\ge 0,\\ P1 = a,\\ P^T 1 = b} \\sum_{ij} P_{ij} |x_i - y_j|^2

    Parameters
    ----------
    x : array_like (n, d) or (n,)
    y : array_like (m, d) or (m,)
    a, b : array_like, optional
        Weights (default uniform); sums within ``WEIGHT_RTOL`` of one are renormalised.
    return_plan : bool
        Also return the optimal plan (dense ``(n, m)`` array).

    Returns
    -------
    float, or (float, ndarray) with ``return_plan``.

    See :func:`exact_ot` for the algorithms, the certified error bound and the dual potentials.
    Raises ValueError when W2^2 is outside the float64 range or cannot be certified to
    ``EXACT_RTOL``.
    """
    res = _exact(x, y, a, b, return_plan, None, duals=False)
    return (res.w2_squared, res.plan) if return_plan else res.w2_squared


def w2_squared_many(pairs, *, threads: int | None = None) -> list[float]:
    """:func:`w2_squared` of many independent pairs of clouds with uniform weights, ``[W2^2(x, y) for x, y in
    pairs]``: the same values, certified the same way.

    The Jonker-Volgenant solver is serial; here the equal-size assignments above ``SMALL_ASSIGNMENT`` points run
    at once on ``threads`` Python threads (default: Numba's thread count setting ``NUMBA_NUM_THREADS``, which
    is the CPU count unless set, read without starting Numba's thread pool; 1 in a child forked from a process
    that had imported nent_ref, as the process pools of the Monte Carlo executors are: there each process is
    one worker, see :func:`nent_ref.core.kernels.threads_safe`), each building its cost
    matrix and solving it in compiled code that releases the GIL, handed out one at a time (the cost of one
    assignment varies up to ~5x).  This is where independent problems (the sample pairs of
    :func:`nent_ref.quantities.speed.speed_limit`) use the other cores; one cost matrix per thread is held at
    a time.  Other pairs (small, or of unequal sizes) go through :func:`w2_squared` one by one.  Every pair
    is checked before any is solved.

    Parameters
    ----------
    pairs : sequence of (x, y)
        Point clouds ``(n, d)`` / ``(m, d)`` (or 1-D), uniform weights.
    threads : int, optional
        Assignments solved at once (>= 1).
    """
    import numba
    pairs = list(pairs)
    if threads is None:       # numba.get_num_threads() would start Numba's thread pool, which this does not use
        threads = numba.config.NUMBA_NUM_THREADS if _kernels.threads_safe() else 1
    else:
        threads = count("threads", threads, 1)
    out: list[float | None] = [None] * len(pairs)
    pooled: list[tuple] = []          # (index, problem): the equal-size assignments solved on the threads
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"pairs[{i}] must be a pair (x, y) of point clouds")
        prob, square = _exact_problem(pair[0], pair[1], None, None, None)
        if square and prob[0].shape[0] > SMALL_ASSIGNMENT and threads > 1:
            pooled.append((i, prob))
            continue
        out[i] = _exact_finish(*prob[:7], _solve_assignment(prob[0], prob[1]) if square else None, False,
                               prob[7], False).w2_squared
    if pooled:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=min(threads, len(pooled))) as pool:
            solved = list(pool.map(lambda item: _solve_assignment(item[1][0], item[1][1], serial=True), pooled))
        for (i, prob), assignment in zip(pooled, solved):
            out[i] = _exact_finish(*prob[:7], assignment, False, prob[7], False).w2_squared
    return out


# ----------------------------------------------------------------------------------------------
# entropic OT


@dataclass(frozen=True)
class SinkhornResult:
    """Entropic OT with cost |x - y|^2 and reference measure a (x) b.

    Attributes
    ----------
    linear_cost : float
        ``<P, C> = sum_ij P_ij |x_i - y_j|^2`` (transport part only).
    objective : float
        ``<P, C> + eps KL(P || a b^T)``, the entropic OT value (primal).
    dual_objective : float
        ``a.f + b.g`` (equals the objective at convergence).
    f, g : ndarray
        Dual potentials; the plan is ``P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)``.
    marginal_violation : float
        ``||P 1 - a||_1 + ||P^T 1 - b||_1`` of the returned plan.
    n_iter : int
        Sinkhorn iterations at the target eps (each = one column and one row update).
    n_iter_total : int
        Iterations over all epsilon-scaling stages.
    eps : float
    converged : bool
        Whether the stopping rule ``||P^T 1 - b||_2 < tol`` was met with a finite result (always
        True unless ``raise_on_failure=False`` was passed: failures raise by default).
    plan : ndarray or None
    """

    linear_cost: float
    objective: float
    dual_objective: float
    f: np.ndarray
    g: np.ndarray
    marginal_violation: float
    n_iter: int
    n_iter_total: int
    eps: float
    converged: bool
    plan: object = None


def _eps_stages(spread: float, eps: float, factor: float) -> list[float]:
    """Intermediate eps values eps / factor^k (decreasing), the largest below spread / 10; none
    when eps >= spread / 50 (the kernel then spans less than e^-50 and needs no warm start)."""
    stages = []
    if eps * 50.0 >= spread:
        return stages
    e = eps / factor
    while e <= spread / 10.0:
        stages.append(e)
        e /= factor
    return stages[::-1]


def sinkhorn(x, y, eps, a=None, b=None, *, tol: float = 1e-9, max_iter: int = 100_000,
             eps_scaling: bool = True, scaling_factor: float = 0.25, stage_iter: int = 10,
             check_every: int = 10, return_plan: bool = False,
             raise_on_failure: bool = True) -> SinkhornResult:
    """Entropic optimal transport (cost |x - y|^2) by log-stabilised Sinkhorn with epsilon-scaling.

    Solves

    .. math:: \\min_{P \\in \\Pi(a, b)} \\langle P, C \\rangle + \\varepsilon\\, KL(P \\| a b^T),
              \\qquad C_{ij} = |x_i - y_j|^2,

    via the dual potentials ``f, g`` with ``P_ij = a_i b_j exp((f_i + g_j - C_ij)/eps)``
    (Cuturi 2013; log-domain stabilisation and epsilon-scaling after Schmitzer, SIAM J. Sci.
    Comput. 41, 2019).  Potentials live in the log domain; between absorptions the iterations
    multiply scalings on the kernel ``a_i b_j exp((f_i + g_j - C_ij)/eps)``, whose entries are O(1)
    on the support of the plan, so nothing underflows that matters even for eps = 1e-3 on
    unit-scale data (where ``exp(-C/eps)`` underflows).  Each absorption starts with two exact
    log-sum-exp half-steps.  The problem is solved on the clouds rescaled by a power of two (exact;
    costs in [0, 1), eps scaled alike), and the results scaled back.

    With ``eps_scaling`` (and eps < spread(C) / 50) the target is approached through
    eps_k = eps / factor^k, starting below spread(C) / 10, with ``stage_iter`` iterations per
    intermediate stage, warm-starting the potentials.  The solution does not depend on the
    stages (entropic OT has a unique optimum); they only save iterations and keep the
    absorbed kernel well conditioned.

    Stopping rule (identical to POT's ``sinkhorn``/``sinkhorn_log`` ``stopThr``): after a row
    update the row marginals are exact; every ``check_every`` iterations the L2 norm of the
    column-marginal violation ``||P^T 1 - b||_2`` is compared with ``tol``.

    Parameters
    ----------
    x, y : array_like (n, d), (m, d)
    eps : float
        Regularisation strength, in units of the cost: positive, finite and at least
        ``SINKHORN_MIN_EPS_RATIO * max(C)`` (1e-10 of the largest squared distance; below that the
        log-domain updates cannot resolve the scalings).
    a, b : array_like, optional
        Weights (default uniform); zero weights are not allowed here.
    raise_on_failure : bool
        Default True: a run that does not meet the stopping rule within ``max_iter`` iterations,
        or whose result is not finite, raises ValueError.  False returns the partial result with
        ``converged=False``.

    Returns
    -------
    SinkhornResult
    """
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    eps = finite_float("eps", eps)
    if not eps > 0:
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    scaling_factor = finite_float("scaling_factor", scaling_factor)
    if not (0.0 < scaling_factor < 1.0):
        raise ValueError("scaling_factor must lie in (0, 1)")
    tol = finite_float("tol", tol)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    max_iter = count("max_iter", max_iter, 1)
    check_every = count("check_every", check_every, 1)
    stage_iter = count("stage_iter", stage_iter, 0)
    a, _ = _as_weights(a, x.shape[0], "a")
    b, _ = _as_weights(b, y.shape[0], "b")
    if np.any(a == 0) or np.any(b == 0):
        raise ValueError("sinkhorn needs strictly positive weights (drop the zero-weight points)")
    xs, ys, k = _scaled_pair(x, y)          # costs in [0, 1): nothing below can overflow
    C = _cost(xs, ys)
    cmax = float(C.max())
    eps_s = math.ldexp(eps, -2 * k)
    if not math.isfinite(eps_s):
        raise ValueError(f"eps = {eps!r} is too large for the cost scale (eps / max C overflows); the entropic "
                         "plan is then the independent coupling a b^T")
    if eps_s < SINKHORN_MIN_EPS_RATIO * cmax:
        raise ValueError(f"eps = {eps!r} is below SINKHORN_MIN_EPS_RATIO = {SINKHORN_MIN_EPS_RATIO:g} times the "
                         f"largest squared distance ({math.ldexp(cmax, 2 * k):.6g}): the log-domain updates "
                         "cannot resolve it in float64; use exact OT (w2_squared) for the eps -> 0 limit")
    f = np.zeros(x.shape[0])
    g = np.zeros(y.shape[0])
    total = 0
    if eps_scaling:
        for e in _eps_stages(float(cmax - C.min()), eps_s, scaling_factor):
            it = _k.sinkhorn_stabilized(C, a, b, f, g, e, 0.0, int(stage_iter), check_every, False)[0]
            total += it
    n_iter, viol, _, lin, klsum, rows, cols = _k.sinkhorn_stabilized(
        C, a, b, f, g, eps_s, float(tol), int(max_iter), int(check_every), True)
    total += n_iter
    obj = float(lin + eps_s * klsum)
    mv = float(np.abs(rows - a).sum() + np.abs(cols - b).sum())
    dual = float(a @ f + b @ g)
    finite = bool(np.all(np.isfinite(f)) and np.all(np.isfinite(g)) and math.isfinite(obj)
                  and math.isfinite(float(lin)) and math.isfinite(mv))
    converged = bool(viol < tol) and finite
    if raise_on_failure and not converged:
        what = ("a non-finite result" if not finite else
                f"no convergence: column-marginal violation {float(viol):.3g} >= tol = {tol:g} after {n_iter} iterations")
        raise ValueError(f"sinkhorn: {what} (eps = {eps!r}, {eps_s / cmax if cmax > 0 else float('inf'):.3g} of the "
                         "largest squared distance); increase max_iter or eps, or pass raise_on_failure=False "
                         "for the partial result")
    plan = None
    if return_plan:
        with np.errstate(all="ignore"):
            plan = np.exp((f[:, None] + g[None, :] - C) / eps_s + np.log(a)[:, None] + np.log(b)[None, :])
    with np.errstate(over="ignore"):     # exact scaling back by 4^k (inf where it overflows)
        out = (float(np.ldexp(float(lin), 2 * k)), float(np.ldexp(obj, 2 * k)), float(np.ldexp(dual, 2 * k)),
               np.ldexp(f, 2 * k), np.ldexp(g, 2 * k))
    if finite and not (all(math.isfinite(t) for t in out[:3]) and np.all(np.isfinite(out[3]))
                       and np.all(np.isfinite(out[4]))):
        if raise_on_failure:
            raise ValueError("sinkhorn: the costs or potentials overflow float64 when scaled back (squared "
                             "distances beyond ~1.8e308)")
        converged = False
    return SinkhornResult(out[0], out[1], out[2], out[3], out[4], mv, int(n_iter), int(total), eps,
                          converged, plan)
