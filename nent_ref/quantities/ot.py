"""Optimal transport with the squared Euclidean cost (THEORY.md section 5).

Every function here uses the ground cost ``c(x, y) = |x - y|^2`` (not ``|x - y|^2 / 2``) and
returns the *squared* 2-Wasserstein distance ``W2^2`` (not ``W2``):

    W2^2(p, q) = min_{P in Pi(a, b)} sum_ij P_ij |x_i - y_j|^2.

Solvers
-------
:func:`w2_squared_gaussian`  Bures closed form, batched; :func:`gaussian_monge_map` the optimal map.
:func:`w2_squared_1d`        Exact, weighted, in one dimension (quantile functions).
:func:`w2_squared`           Exact discrete OT: Jonker-Volgenant assignment for uniform clouds of
                             equal size, network simplex for general weights (Numba, float64).
:func:`exact_ot`             The same with the plan and exact dual potentials.
:func:`sinkhorn`             Entropic OT, log-stabilised with epsilon-scaling (Numba).

Conventions
-----------
Point clouds are arrays of shape ``(n, d)`` (a 1-D array is ``n`` points on the line).  Weights
``a``, ``b`` default to uniform; they must be non-negative, finite and sum to one.  Sums that
differ from one by at most ``WEIGHT_RTOL`` (rounding, float32 input) are renormalised silently
(the result records the original sums); larger deviations raise ``ValueError``.  All arithmetic is
float64 whatever the input dtype.  Entropic OT uses the reference measure ``a (x) b``:

    OT_eps(a, b) = min_P <P, C> + eps KL(P || a b^T)

which for Gaussians has the closed form of Janati, Muzellec, Peyre & Cuturi (NeurIPS 2020) with
``eps = 2 sigma^2`` (see :func:`entropic_ot_gaussian`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _ot_kernels as _k
from ..core.checks import probability_vector

__all__ = ["WEIGHT_RTOL", "w2_squared_gaussian", "gaussian_monge_map", "entropic_ot_gaussian",
           "sqrtm_psd", "w2_squared_1d", "w2_squared", "exact_ot", "ExactOTResult", "sinkhorn",
           "SinkhornResult", "cost_matrix"]

#: Largest relative deviation of sum(a) from 1 that is treated as rounding and renormalised.
WEIGHT_RTOL = 1e-5


# ----------------------------------------------------------------------------------------------
# input checks


def _as_cloud(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real array (got dtype {arr.dtype})")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) or (n,), got {np.shape(x)}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return np.ascontiguousarray(arr)


def _as_weights(a, n: int, name: str) -> tuple[np.ndarray, float]:
    """Uniform if None; else validated, float64, renormalised if sum(a) = 1 up to WEIGHT_RTOL."""
    if a is None:
        return np.full(n, 1.0 / n), 1.0
    return probability_vector(a, n, name, tol=WEIGHT_RTOL, what="points",
                              note=f"; deviations up to {WEIGHT_RTOL:g} are treated as rounding and renormalised")


def cost_matrix(x, y) -> np.ndarray:
    """The cost matrix ``C_ij = |x_i - y_j|^2`` (float64, squared Euclidean, no factor 1/2)."""
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    return _k.sq_cost(x, y)


# ----------------------------------------------------------------------------------------------
# Gaussians


def _check_gaussian(m, S, name: str):
    m = np.asarray(m, dtype=np.float64)
    S = np.asarray(S, dtype=np.float64)
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

    (Dowson & Landau 1982; Givens & Shortt 1984; THEORY.md section 5.)

    Parameters
    ----------
    m1, m2 : array_like, shape (..., d)
        Means (scalars allowed for d = 1).
    S1, S2 : array_like, shape (..., d, d)
        Symmetric positive semi-definite covariances.  Leading axes broadcast.

    Returns
    -------
    float or ndarray
        W2^2 (squared distance, not W2), shape of the broadcast leading axes; clipped at 0
        against rounding.  Square roots use a symmetric eigendecomposition with PSD clipping.
    """
    m1, S1 = _check_gaussian(m1, S1, "1")
    m2, S2 = _check_gaussian(m2, S2, "2")
    if S1.shape[-1] != S2.shape[-1]:
        raise ValueError("the two Gaussians have different dimensions")
    r1 = sqrtm_psd(S1)
    M = r1 @ S2 @ r1
    ev = np.linalg.eigvalsh(0.5 * (M + np.swapaxes(M, -1, -2)))
    cross = np.sqrt(np.clip(ev, 0.0, None)).sum(axis=-1)
    val = (np.sum((m1 - m2) ** 2, axis=-1) + np.trace(S1, axis1=-2, axis2=-1)
           + np.trace(S2, axis1=-2, axis2=-1) - 2.0 * cross)
    val = np.maximum(val, 0.0)
    return float(val) if np.ndim(val) == 0 else val


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
    eps = float(eps)
    if not (math.isfinite(eps) and eps > 0):
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
    x = x[:, 0]
    y = y[:, 0]
    ix = np.argsort(x, kind="stable")
    iy = np.argsort(y, kind="stable")
    xs, ca = x[ix], np.cumsum(a[ix])
    ys, cb = y[iy], np.cumsum(b[iy])
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
    return float(np.sum(width[keep] * (xs[qi] - ys[qj]) ** 2))


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
    """

    w2_squared: float
    plan: object
    u: np.ndarray
    v: np.ndarray
    dual_objective: float
    method: str
    weight_sums: tuple = (1.0, 1.0)
    n_pivots: int = 0


def _is_uniform(w) -> bool:
    return bool(np.all(w == w[0]))


def exact_ot(x, y, a=None, b=None, *, return_plan: bool = True, max_pivots: int | None = None) -> ExactOTResult:
    """Exact optimal transport between discrete measures, cost |x - y|^2, with dual potentials.

    ``min_P sum_ij P_ij |x_i - y_j|^2`` over couplings of ``sum_i a_i delta_{x_i}`` and
    ``sum_j b_j delta_{y_j}``.  Uniform weights with ``n == m`` use a dense Jonker-Volgenant
    assignment (Jonker & Volgenant, Computing 38, 1987): column reduction, augmenting row
    reduction, shortest augmenting paths.  Otherwise a primal network simplex with a strongly
    feasible spanning tree (Cunningham 1976; Ahuja, Magnanti & Orlin 1993, ch. 11) and block-search
    pricing solves the transportation problem exactly; points of zero weight are removed first
    and their potentials restored as ``u_i = min_j (C_ij - v_j)``.  Both run in float64 (float32
    input is converted); duplicate points are fine.  Weight sums within ``WEIGHT_RTOL`` of one are
    renormalised (recorded in ``weight_sums``).
    """
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    n, m = x.shape[0], y.shape[0]
    a, sa = _as_weights(a, n, "a")
    b, sb = _as_weights(b, m, "b")
    C = _k.sq_cost(x, y)
    if n == m and _is_uniform(a) and _is_uniform(b):
        col4row, u, v = _k.lap_solve(C)
        value = float(C[np.arange(n), col4row].sum() / n)
        u = u.copy()
        v = v.copy()
        plan = None
        if return_plan:
            plan = np.zeros((n, m))
            plan[np.arange(n), col4row] = 1.0 / n
        dual = float((u.sum() + v.sum()) / n)
        return ExactOTResult(value, plan, u, v, dual, "jonker-volgenant", (sa, sb), 0)
    ia = np.flatnonzero(a > 0)
    ib = np.flatnonzero(b > 0)
    Cs = np.ascontiguousarray(C[np.ix_(ia, ib)])
    a_s = a[ia] / a[ia].sum()
    b_s = b[ib] / b[ib].sum()
    scale = float(np.max(np.abs(Cs), initial=0.0)) + 1.0
    if max_pivots is None:
        max_pivots = 1000 * (ia.size + ib.size) + 10 ** 6
    tails, heads, flows, phi, piv, status = _k.network_simplex(Cs, a_s, b_s, 1e-13 * scale, int(max_pivots))
    if status != 0:
        raise RuntimeError(f"network simplex hit the pivot limit ({max_pivots}) before optimality")
    ns, ms = ia.size, ib.size
    us = phi[:ns]
    vs = -phi[ns:ns + ms]
    shift = float(us.min()) if ns else 0.0   # normalise the free constant: min u = 0
    us = us - shift
    vs = vs + shift
    u = np.empty(n)
    v = np.empty(m)
    u[ia] = us
    v[ib] = vs
    if ib.size < m:
        zb = np.setdiff1d(np.arange(m), ib)
        v[zb] = np.min(C[np.ix_(ia, zb)] - us[:, None], axis=0)
    if ia.size < n:
        za = np.setdiff1d(np.arange(n), ia)
        u[za] = np.min(C[za, :] - v[None, :], axis=1)
    value = float(np.sum(flows * Cs[tails, heads]))
    plan = None
    if return_plan:
        plan = np.zeros((n, m))
        np.add.at(plan, (ia[tails], ib[heads]), flows)
    dual = float(a @ u + b @ v)
    return ExactOTResult(value, plan, u, v, dual, "network-simplex", (sa, sb), int(piv))


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

    See :func:`exact_ot` for the algorithms and the dual potentials.
    """
    res = exact_ot(x, y, a, b, return_plan=return_plan)
    return (res.w2_squared, res.plan) if return_plan else res.w2_squared


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
        Whether the stopping rule ``||P^T 1 - b||_2 < tol`` was met.
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
             check_every: int = 10, return_plan: bool = False) -> SinkhornResult:
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
    log-sum-exp half-steps.

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
        Regularisation strength (> 0), in units of the cost.
    a, b : array_like, optional
        Weights (default uniform); zero weights are not allowed here.

    Returns
    -------
    SinkhornResult
    """
    x = _as_cloud(x, "x")
    y = _as_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    eps = float(eps)
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    if not (0.0 < scaling_factor < 1.0):
        raise ValueError("scaling_factor must lie in (0, 1)")
    if not (tol > 0 and max_iter >= 1 and check_every >= 1):
        raise ValueError("tol must be > 0, max_iter and check_every >= 1")
    a, _ = _as_weights(a, x.shape[0], "a")
    b, _ = _as_weights(b, y.shape[0], "b")
    if np.any(a == 0) or np.any(b == 0):
        raise ValueError("sinkhorn needs strictly positive weights (drop the zero-weight points)")
    C = _k.sq_cost(x, y)
    f = np.zeros(x.shape[0])
    g = np.zeros(y.shape[0])
    total = 0
    if eps_scaling:
        for e in _eps_stages(float(C.max() - C.min()), eps, scaling_factor):
            it = _k.sinkhorn_stabilized(C, a, b, f, g, e, 0.0, int(stage_iter), check_every, False)[0]
            total += it
    n_iter, viol, _, lin, klsum, rows, cols = _k.sinkhorn_stabilized(
        C, a, b, f, g, eps, float(tol), int(max_iter), int(check_every), True)
    total += n_iter
    loga = np.log(a)
    logb = np.log(b)
    obj = float(lin + eps * klsum)
    mv = float(np.abs(rows - a).sum() + np.abs(cols - b).sum())
    plan = None
    if return_plan:
        plan = np.exp((f[:, None] + g[None, :] - C) / eps + loga[:, None] + logb[None, :])
    return SinkhornResult(float(lin), obj, float(a @ f + b @ g), f, g, mv, int(n_iter), int(total), eps,
                          bool(viol < tol), plan)
