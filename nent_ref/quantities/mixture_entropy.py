r"""Entropy production of Gaussian mixtures and empirical data: quadrature, Monte Carlo, tiny cutoffs.

Data types
----------
:class:`GaussianMixture` ``(weights, means, covs)`` with ``covs`` of shape (K, D, D) (full),
(K, D) (diagonal variances) or (K,) (isotropic variances); :class:`Empirical` ``(points,
weights=None)``, N atoms in D dimensions.  Under every linear process (docs/theory.md section 4)

.. math:: p_s = \sum_k w_k\, N\big(\mu(s) m_k,\; \mu(s)^2 S_k + v(s) I\big),

so a mixture stays a mixture and an empirical set becomes an isotropic mixture with the
shared variance ``v(s)`` (``s > 0``).  Scores are exact (log-sum-exp responsibilities,
Numba kernels in :mod:`nent_ref.core.kernels`).

Quantities
----------
``nr.total_entropy``, ``nr.entropy_production_rate`` and ``nr.kl_to_equilibrium`` accept both
types with the options

* ``method="quadrature"`` (D <= 2): adaptive Gauss-Kronrod (G7/K15, tensor product in 2-D)
  cubature, component by component in whitened coordinates :math:`x = m_k + L_k u`
  (:math:`L_k L_k^T = S_k`, ``|u_i| <= 12``, neglected Gaussian mass < 1e-32), with the starting
  boxes first bisected down to the scale of every narrower component that can meet them (so the
  nodes see every component at every time; :func:`cubature_mixture`, docs/mixture.md "Narrow
  components"; :class:`QuadratureUnresolved`, a ValueError, where that would take more than
  :data:`MAX_START_BOXES` boxes), refined until the
  summed ``|K15 - G7|`` error estimate is below ``max(rtol |value|, atol)`` (``rtol`` defaults
  to 1e-10 in 1-D, 1e-8 in 2-D, ``atol`` to 0: the same options that set the Monte Carlo
  target, here as the cubature tolerance).  The Estimate has ``stderr = 0`` and the error estimate in
  ``error_bound``; KL and ``S_tot`` are clamped at 0 (both are non-negative; rounding near
  equilibrium could give -1e-16).  ``S_tot`` is the KL difference (2.3),
  :math:`\int p_{s_0}\log(p_{s_0}/p_{eq}) - \int p_{s_1}\log(p_{s_1}/p_{eq})`
  (for VE the entropy difference).
* ``method="monte-carlo"`` (any D): sample averages with standard errors.  ``S_tot`` uses
  the KL difference (2.3) with common random numbers: the same data draw ``x0`` and noise
  ``xi`` give :math:`y_{s} = \mu(s) x_0 + \sqrt{v(s)}\,\xi` at both times, and the estimator
  averages :math:`\log\frac{p_{s_0}}{p_{eq}}(y_{s_0}) - \log\frac{p_{s_1}}{p_{eq}}(y_{s_1})`,
  whose variance vanishes as :math:`p_s \to p_{eq}` (no noisy rate is integrated).
  Work is sized to the precision asked for (:mod:`nent_ref.quantities.precision`): by default
  each time point (or pair) runs until ``stderr <= max(rtol |value|, atol)`` with
  ``rtol = DEFAULT_RTOL = 1e-3`` and ``atol = DEFAULT_ATOL = 1e-3`` (nats, or nats per unit time:
  three significant digits above 1, three decimals below),
  starting from a pilot of :data:`MIN_MC_SAMPLES` = 1024 samples and growing to the size the
  variance estimate asks for (times 1.2), at most ``max_samples`` (default
  :data:`DEFAULT_MAX_SAMPLES` = 2**20 per point; a target not met by then is reported in
  ``extra["target_met"]`` with a PrecisionWarning, never claimed).  ``rtol=``/``atol=`` change the
  target (with ``n_samples`` = the pilot); ``n_samples`` alone gives a fixed run (the former
  behaviour, the same numbers bit for bit; :data:`DEFAULT_N_SAMPLES` = 2**18 was its default).
  The Estimate reports ``n_samples`` (the total over all points) and in ``extra``: ``target``,
  ``tolerance``, ``relative_stderr``, ``target_met``, ``n_samples_each``, ``stages``,
  ``max_samples``.  Other options: ``n_samples`` (at least :data:`MIN_MC_SAMPLES`
  = 1024, below which the standard error is not calibrated: ValueError), ``seed`` (validated by
  :func:`nent_ref.core.checks.seed_sequence`: an int, a sequence of ints, a SeedSequence, or a
  Generator, which contributes a spawned child; the result is a deterministic function of
  it), ``executor`` (any
  ``concurrent.futures.Executor``; a dask.distributed ``client.get_executor()`` runs on a
  cluster), ``tasks`` (number of tasks submitted to the executor).  Samples are drawn in
  blocks with independent streams ``SeedSequence(seed).spawn(n_times)[j].spawn(n_blocks)[b]``
  (fixed runs: blocks of :data:`BLOCK`; targeted runs: 1024, 1024, 2048, ... doubling up to
  :data:`BLOCK`, all points' pending blocks of a stage submitted together); per-block means and
  sums of squares are combined in block order, so the result is bitwise identical whatever the
  executor or the number of tasks.
* ``method="auto"`` (default): quadrature when D <= 2 and the data have at most
  :data:`AUTO_QUADRATURE_MAX_COMPONENTS` components (atoms), otherwise Monte Carlo.

Empirical data need times ``> 0``: :math:`S_{tot}(s_0, T)` diverges like
:math:`(D/2)\log(1/s_0)`.  At tiny cutoffs, where the noise ``sqrt(v)`` of a diffused atom is
below the rounding of the atom itself, :func:`cutoff_check` decides: the separated-atoms closed
form (``mean Dirac KL - H(w)``, exact to double precision; method label
``"closed-form (separated atoms)"``) when distinct atoms are at least :data:`SEPARATION_MIN`
noise widths apart, a ValueError naming the smallest safe cutoff otherwise.  :func:`nent_ref.quantities.entropy.rate_curve` gives :math:`\dot S(s)` on a grid with
log-spaced nodes near ``s0``.

References
----------
Premkumar, "Neural entropy" (2024/2025); docs/theory.md sections 2 and 4; Piessens et al.,
QUADPACK (1983) for the Gauss-Kronrod rule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.checks import count, finite_float, seed_sequence
from ..core.checks import executor as check_executor
from ..core.estimate import ROUNDING_RTOL, Estimate
from ..core.mixture import Empirical, GaussianMixture, MixParams, eval_params, sample_data
from ..core.processes import check_times, diffusion_coefficients
from ..core.progress import progress_bar
from . import entropy as _entropy
from .entropy import gaussian_kl_eq, gaussian_rate, require_cutoff
from .precision import BlockSchedule, precision_extra, run_to_targets, target_from, warn_unmet

__all__ = ["DEFAULT_N_SAMPLES", "DEFAULT_RTOL", "DEFAULT_ATOL", "DEFAULT_MAX_SAMPLES", "MAX_MC_SAMPLES", "BLOCK", "MIN_MC_SAMPLES", "AUTO_QUADRATURE_MAX_COMPONENTS",
           "CUTOFF_ROUNDING_TOL", "SEPARATION_MIN", "CutoffCheck", "cutoff_check", "cubature_mixture",
           "NARROW_RATIO", "MAX_START_BOXES", "QuadratureUnresolved"]

_LOG_2PI = math.log(2.0 * math.pi)

#: The former fixed default Monte Carlo sample size (2**18 = 262144; the default is now a precision
#: target, :data:`DEFAULT_RTOL`).  Kept for reference: pass ``n_samples=DEFAULT_N_SAMPLES`` for the
#: former numbers.
DEFAULT_N_SAMPLES = 2 ** 18
#: Monte Carlo block size: the unit of an independent random stream.
BLOCK = 2 ** 14
#: ``method="auto"`` uses quadrature for D <= 2 only up to this many components.
AUTO_QUADRATURE_MAX_COMPONENTS = 64


def _log_peq(process, y):
    """log p_eq(y) for N(0, k^2 I); 0 for VE (flat reference, so KL becomes -H)."""
    if not process.has_equilibrium:
        return np.zeros(y.shape[0])
    k2 = process.peq_var
    return -0.5 * (np.einsum("nd,nd->n", y, y) / k2 + y.shape[1] * (math.log(k2) + _LOG_2PI))


def _integrand(kind, process, s, p: MixParams):
    """g(y) with E_{p_s}[g] the quantity: "kl" -> log(p_s/p_eq), "rate" -> D |grad log p_eq - score|^2."""
    if kind == "kl":
        def g(y):
            return eval_params(p, y)[0] - _log_peq(process, y)
    else:
        Dcoef = float(process.diffusion(s))

        def g(y):
            diff = process.grad_log_peq(y) - eval_params(p, y)[1]
            return Dcoef * np.einsum("nd,nd->n", diff, diff)
    return g


# --------------------------------------------------------------------------- quadrature
# Gauss-Kronrod G7/K15 on [-1, 1] (QUADPACK constants; tests verify their exactness degrees).
_XK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                0.207784955007898467600689403773245, 0.0])
_WK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                0.381830050505118944950369775488975, 0.417959183673469387755102040816327])
GK_NODES = np.concatenate([-_XK[:-1], _XK[::-1]])                      # 15 nodes, ascending
GK_KRONROD = np.concatenate([_WK[:-1], _WK[::-1]])
_g = np.zeros(15)
_g[[1, 3, 5, 7, 9, 11, 13]] = np.concatenate([_WG[:-1], _WG[::-1]])
GK_GAUSS = _g                                                          # G7 weights on the K15 nodes
#: Half-width of the whitened integration box (Gaussian mass outside < 2e-32 per dimension).
QUAD_RADIUS = 12.0
_DEFAULT_RTOL = {1: 1e-10, 2: 1e-8}
_ROUNDING_FLOOR = 1e-13


def _rule(D):
    if D == 1:
        return GK_NODES[:, None], GK_KRONROD, GK_GAUSS
    X, Y = np.meshgrid(GK_NODES, GK_NODES, indexing="ij")
    return (np.stack([X.ravel(), Y.ravel()], axis=1), np.outer(GK_KRONROD, GK_KRONROD).ravel(),
            np.outer(GK_GAUSS, GK_GAUSS).ravel())


#: A component k is *narrow* in component j's integration domain when its smallest standard
#: deviation in j's whitened coordinates is below this: j's 8 (1-D) or 4 x 4 (2-D) starting boxes
#: are then too coarse to be sure of seeing k's feature in log p (a parabola of width ~ k's std
#: where k dominates), so the boxes that meet k are bisected down to k's own scale.
NARROW_RATIO = 0.5
#: Largest number of boxes the starting partition (before adaptive refinement) may have; above it
#: the cubature raises :class:`QuadratureUnresolved` instead of returning a number it cannot stand by.
MAX_START_BOXES = 100_000
#: Boxes evaluated per batch (memory: about 225 nodes x 2 coordinates x 8 bytes x this in 2-D).
_EVAL_CHUNK = 8192


class QuadratureUnresolved(ValueError):
    """The cubature cannot place nodes on every feature of its integrand (see :func:`cubature_mixture`)."""


def _narrow_regions(j, centers, L, live, D, Q=None):
    r"""The components narrow in component j's integration coordinates ``z = Q^T L_j^{-1}(x - c_j)``
    (``Q`` a rotation, identity by default: j's density is the standard normal in any of them).

    For every live ``k != j`` with ``sigma_min = sqrt(lambda_min(M_k)) < NARROW_RATIO``, where
    :math:`M_k = Q^T L_j^{-1} L_k L_k^T L_j^{-T} Q` is k's covariance in these coordinates, returns its
    centre ``u_k``, ``P_k = M_k^{-1}``, the radius
    :math:`R_k = \sqrt{R^2 + D \log(1/\lambda_{min}(M_k))}` of its region
    :math:`E_k = \{u: (u - u_k)^T P_k (u - u_k) \le R_k^2\}`, the target box widths
    ``t_k = R_k c_k / 4`` with ``c_k,i = 1 / sqrt(P_k,ii)`` the thickness of E_k along axis i (8 boxes
    across an axis-aligned E_k), and ``M_k`` itself.  Outside E_k, k changes j's integrand
    ``phi_j(u) g`` by at most ``(w_k / w_j) N(u; u_k, M_k) <= (w_k / w_j) (2 pi)^(-D/2) exp(-R^2 / 2)``
    per unit volume (``log(1 + e) <= e``), i.e. below 1e-32 relative on any box: the feature lives
    inside E_k.  Returns None when no component is narrow.
    """
    others = live.copy()
    others[j] = False
    if not np.any(others):
        return None
    T = np.linalg.inv(L[j])
    if Q is not None:
        T = Q.T @ T
    A = np.einsum("ij,kjl->kil", T, L[others])
    M = A @ A.transpose(0, 2, 1)
    lam_min = np.linalg.eigvalsh(M)[:, 0]
    narrow = lam_min < NARROW_RATIO ** 2
    if not np.any(narrow):
        return None
    M, lam_min = M[narrow], lam_min[narrow]
    uk = (centers[others][narrow] - centers[j]) @ T.T
    P = np.linalg.inv(M)
    Rk = np.sqrt(QUAD_RADIUS ** 2 + D * np.log(1.0 / lam_min))
    thick = 1.0 / np.sqrt(np.einsum("kii->ki", P))
    return uk, P, Rk, Rk[:, None] * thick / 4.0, M


#: In 2-D, a narrow region this much thicker along an axis of its bounding box than across
#: (``sqrt(M_ii P_ii)``) counts as oblique: the tensor-product boxes then follow it diagonally, and
#: the cubature tries rotating component j's coordinates onto the narrow components' axes
#: (``phi_j`` is rotation invariant) and keeps the rotation with the fewest starting boxes.
OBLIQUE_RATIO = 1.5
#: At most this many candidate rotations (those of the narrowest oblique components) are tried.
MAX_ROTATIONS = 4


def _box_min_quadratic(a, b, P):
    """``min_{a <= d <= b} d^T P d`` for boxes ``[a, b]`` (shape (B, m, D), D = 1 or 2) and SPD ``P``
    (m, D, D): 0 when the box contains the origin, otherwise the least of the edge minima (a 1-D
    quadratic on each edge, its minimiser clipped to the edge)."""
    if a.shape[-1] == 1:
        d = np.clip(0.0, a[..., 0], b[..., 0])
        return P[None, :, 0, 0] * d * d
    p00, p01, p11 = P[None, :, 0, 0], P[None, :, 0, 1], P[None, :, 1, 1]
    inside = np.all((a <= 0.0) & (b >= 0.0), axis=-1)
    best = np.full(a.shape[:2], np.inf)
    for x in (a[..., 0], b[..., 0]):                       # edges d_x fixed
        y = np.clip(-p01 * x / p11, a[..., 1], b[..., 1])
        best = np.minimum(best, p00 * x * x + 2.0 * p01 * x * y + p11 * y * y)
    for y in (a[..., 1], b[..., 1]):                       # edges d_y fixed
        x = np.clip(-p01 * y / p00, a[..., 0], b[..., 0])
        best = np.minimum(best, p00 * x * x + 2.0 * p01 * x * y + p11 * y * y)
    return np.where(inside, 0.0, best)


def _refine_towards(lo, half, regions, D, budget):
    """Bisect (axis by axis) every box that may meet a narrow region E_k and is wider than its target
    width t_k along that axis, until none is; boxes are ``[lo, lo + 2 half]`` in j's coordinates.

    A box meets E_k when ``min_{u in box} (u - u_k)^T P_k (u - u_k) <= R_k^2`` (computed exactly,
    :func:`_box_min_quadratic`, with a relative margin of 1e-6), so no box that meets E_k is left coarse.
    """
    uk, P, Rk, t = regions[:4]
    done_lo, done_half = [], []
    while lo.shape[0]:
        a = lo[:, None, :] - uk[None, :, :]                                           # (B, m, D)
        meets = _box_min_quadratic(a, a + 2.0 * half[:, None, :], P) <= (1.0 + 1e-6) * Rk[None, :] ** 2
        axes = np.any(meets[:, :, None] & (2.0 * half[:, None, :] > t[None, :, :]), axis=1)   # (B, D)
        split = np.any(axes, axis=1)
        done_lo.append(lo[~split])
        done_half.append(half[~split])
        lo, half, axes = lo[split], half[split], axes[split]
        if lo.shape[0] and np.any(half[axes] <= 64.0 * _EPS * (np.abs(lo[axes]) + QUAD_RADIUS)):
            raise QuadratureUnresolved(
                "a mixture component is too narrow, relative to another one, for the cubature to place "
                "nodes on it in double precision; use method='monte-carlo'")
        for i in range(D):
            a = axes[:, i]
            h = half[a].copy()
            h[:, i] *= 0.5
            upper = lo[a].copy()
            upper[:, i] += 2.0 * h[:, i]
            lo = np.concatenate([lo[~a], lo[a], upper])
            half = np.concatenate([half[~a], h, h])
            axes = np.concatenate([axes[~a], axes[a], axes[a]])
        if lo.shape[0] + sum(x.shape[0] for x in done_lo) > budget:
            raise QuadratureUnresolved(
                f"placing cubature nodes on every narrow mixture component needs more than {budget} "
                "starting boxes (components much narrower than, and oblique to, others); use "
                "method='monte-carlo'")
    return np.concatenate(done_lo), np.concatenate(done_half)


def _start_partition(centers, L, live, D, max_boxes):
    """Starting boxes (component, lo, half) of every live component and its integration matrices
    ``B_j = L_j Q_j`` (``x = c_j + B_j z``): the regular 8 (1-D) or 4 x 4 (2-D) grid of ``[-R, R]^D``,
    refined towards every component narrow in its coordinates (:func:`_refine_towards`); in 2-D
    with oblique narrow components, in the rotation ``Q_j`` that needs the fewest boxes."""
    n0 = 8 if D == 1 else 4
    edges = np.linspace(-QUAD_RADIUS, QUAD_RADIUS, n0 + 1)
    lo1 = np.stack(np.meshgrid(*([edges[:-1]] * D), indexing="ij"), -1).reshape(-1, D)
    half1 = np.full(lo1.shape, 0.5 * (edges[1] - edges[0]))
    B = np.array(L, dtype=float)
    comps, los, halfs = [], [], []
    n = 0
    any_narrow = False
    if np.any(live):
        ev = np.linalg.eigvalsh(L[live] @ L[live].transpose(0, 2, 1))
        # lambda_min(M_k) >= lambda_min(C_k) / lambda_max(C_j): nothing is narrow when all widths are close
        any_narrow = ev[:, 0].min() < NARROW_RATIO ** 2 * ev[:, -1].max()
    for j in np.flatnonzero(live):
        lo, half = lo1, half1
        regions = _narrow_regions(j, centers, L, live, D) if any_narrow else None
        if regions is not None:
            M, P = regions[4], regions[1]
            oblique = np.sqrt(np.einsum("kii,kii->ki", M, P)).max(axis=1) > OBLIQUE_RATIO
            best = None
            if D == 2 and np.any(oblique):
                order = np.argsort(np.linalg.eigvalsh(M)[:, 0])
                cands = [None] + [np.linalg.eigh(M[k])[1] for k in order if oblique[k]][:MAX_ROTATIONS]
                for Q in cands:
                    reg = regions if Q is None else _narrow_regions(j, centers, L, live, D, Q)
                    try:
                        out = _refine_towards(lo1, half1, reg, D, (max_boxes - n if best is None
                                                                   else min(max_boxes - n, best[0].shape[0])))
                    except QuadratureUnresolved:
                        continue
                    best = (out[0], out[1], Q)
                if best is None:
                    raise QuadratureUnresolved(
                        f"the cubature cannot place nodes on every narrow mixture component in any of "
                        f"{len(cands)} orientations (more than {max_boxes} starting boxes, or widths below "
                        "double precision: components much narrower than, and oblique to, others); use "
                        "method='monte-carlo'")
                lo, half, Q = best
                if Q is not None:
                    B[j] = L[j] @ Q
            else:
                lo, half = _refine_towards(lo1, half1, regions, D, max_boxes - n)
        comps.append(np.full(lo.shape[0], j))
        los.append(lo)
        halfs.append(half)
        n += lo.shape[0]
    if not comps:
        return np.zeros(0, dtype=int), np.zeros((0, D)), np.zeros((0, D)), B
    return np.concatenate(comps), np.concatenate(los), np.concatenate(halfs), B


def _box_transform(L, u):
    """``x[b, p, i] = sum_j L[b, i, j] u[b, p, j]`` for D = 1 or 2, written out term by term: the same
    products and sums as ``np.einsum("bij,bpj->bpi", L, u)`` (one product, or two products and one sum,
    each rounded once), 3-50x faster than einsum's generic loop, which was most of the 2-D cubature time."""
    if u.shape[-1] == 1:
        return L[:, None, :, 0] * u
    u0, u1 = u[..., 0], u[..., 1]
    return np.stack([L[:, 0, 0, None] * u0 + L[:, 0, 1, None] * u1,
                     L[:, 1, 0, None] * u0 + L[:, 1, 1, None] * u1], axis=-1)


def cubature_mixture(p: MixParams, g, *, rtol, atol=0.0, max_boxes=400_000):
    r"""Adaptive cubature of :math:`\sum_k w_k \int N_k(x) g(x)\, dx` (D = 1 or 2).

    Component j is integrated in whitened coordinates :math:`x = c_j + L_j u` over
    ``[-R, R]^D`` (R = :data:`QUAD_RADIUS`), starting from 8 (1-D) or 4 x 4 (2-D) boxes.
    Every other component k narrower than :data:`NARROW_RATIO` (in j's coordinates) puts a sharp
    feature into g (``log p`` follows k's own parabola where k dominates), which j's coarse boxes
    could step over; so the boxes that may meet k's region are first bisected down to k's own scale
    (:func:`_narrow_regions`, :func:`_refine_towards`: about 8 boxes across k's region along each
    axis): the cubature has nodes on every component at every time.  It then bisects (all axes)
    every box whose weighted ``|K15 - G7|`` estimate exceeds its share of the tolerance, until the
    summed estimate is below ``max(rtol |I|, atol, 1e-13 max(1, int |g| p))`` (the last term is the
    rounding floor of the integrand, e.g. where p_s = p_eq and the integral is exactly 0).

    Raises :class:`QuadratureUnresolved` (a ValueError) when the starting partition would need more
    than :data:`MAX_START_BOXES` boxes, or a narrow component is below the resolution of double
    precision in another one's coordinates.

    Returns (integral, error_estimate).
    """
    K, D = p.means.shape
    if D > 2:
        raise ValueError(f"quadrature is available for D <= 2 only (got D = {D}); use method='monte-carlo'")
    nodes, wk, wg = _rule(D)
    centers = p.centers()
    w = np.exp(p.logw)
    live = w > 0
    comp, lo, half, L = _start_partition(centers, p.chol(), live, D, min(MAX_START_BOXES, max_boxes))
    log_norm = -0.5 * D * _LOG_2PI
    done_I = done_E = done_A = 0.0

    def evaluate(comp, lo, half):
        if comp.size > _EVAL_CHUNK:                # bounded memory; per-box values do not depend on it
            parts = [evaluate(comp[i:i + _EVAL_CHUNK], lo[i:i + _EVAL_CHUNK], half[i:i + _EVAL_CHUNK])
                     for i in range(0, comp.size, _EVAL_CHUNK)]
            return tuple(np.concatenate(z) for z in zip(*parts))
        u = (lo + half)[:, None, :] + half[:, None, :] * nodes[None, :, :]          # (B, P, D)
        x = centers[comp][:, None, :] + _box_transform(L[comp], u)
        vals = g(x.reshape(-1, D)).reshape(u.shape[:2])
        phi = np.exp(log_norm - 0.5 * np.sum(u * u, axis=-1))
        f = phi * vals
        vol = np.prod(half, axis=1)
        ik = (f @ wk) * vol
        ig = (f @ wg) * vol
        ia = (np.abs(f) @ wk) * vol
        wc = w[comp]
        return wc * ik, wc * np.abs(ik - ig), wc * ia

    while True:
        I, E, A = evaluate(comp, lo, half)
        total = done_I + I.sum()
        err = done_E + E.sum()
        target = max(rtol * abs(total), atol, _ROUNDING_FLOOR * max(1.0, done_A + A.sum()))
        if err <= target or comp.size == 0:
            break
        if comp.size * 2 ** D > max_boxes:
            break
        split = E > (target - done_E) / (2.0 * comp.size) if target > done_E else E > 0
        if not np.any(split):
            split = E >= E.max()
        keep = ~split
        done_I += I[keep].sum()
        done_E += E[keep].sum()
        done_A += A[keep].sum()
        comp, lo, half = comp[split], lo[split], half[split]
        h2 = 0.5 * half
        offs = np.stack(np.meshgrid(*([[0.0, 1.0]] * D), indexing="ij"), -1).reshape(-1, D)   # (2^D, D)
        lo = (lo[:, None, :] + offs[None, :, :] * (2 * h2)[:, None, :]).reshape(-1, D)
        comp = np.repeat(comp, offs.shape[0])
        half = np.repeat(h2, offs.shape[0], axis=0)
    return float(total), float(err)


def _quad_expectation(data, process, s, kind, rtol, atol=0.0):
    p = MixParams.at(data, process, s)
    return cubature_mixture(p, _integrand(kind, process, s, p), rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- Monte Carlo
def _root_seed(seed):
    """The root SeedSequence of a Monte Carlo run (:func:`nent_ref.core.checks.seed_sequence`: a
    Generator contributes a spawned child, so the result never depends on how work is split)."""
    return seed_sequence(seed, "seed")


def _child(root, *keys):
    return np.random.SeedSequence(entropy=root.entropy, spawn_key=tuple(root.spawn_key) + tuple(keys),
                                  pool_size=root.pool_size)


def _block_sizes(n):
    n_full, rest = divmod(n, BLOCK)
    return [BLOCK] * n_full + ([rest] if rest else [])


def _mc_block_stats(items):
    """Worker: per-block (count, mean, co-moment matrix) of the sample columns, for (job, seed, size) items."""
    out = []
    for job, ss, n in items:
        vals = job(np.random.default_rng(ss), n)                                  # (n, C)
        m = vals.mean(axis=0)
        c = vals - m
        out.append((n, m, c.T @ c))
    return out


def _control(data, process, s, y):
    """|y|^2 - E_{p_s}|y|^2: a control variate with exactly known mean 0."""
    mu2 = float(process.mean_coeff_sq(s))
    v = float(process.marginal_var(s))
    return np.einsum("nd,nd->n", y, y) - (mu2 * data.second_moment() + data.dim * v)


@dataclass
class _Job:
    """Per-sample values for one time (or pair of times); called in workers.

    Columns: the targets, then the controls (known mean 0).  ``kind`` "total" has targets
    (d, f0, f1) with f_s = log(p_s/p_eq)(y_s), d = f0 - f1, and controls (h0, h1);
    "kl" and "rate" have one target and one control.
    """

    data: object
    process: object
    kind: str            # "kl", "rate", "total"
    s0: float
    s1: float = 0.0

    @property
    def n_targets(self):
        return 3 if self.kind == "total" else 1

    def __call__(self, rng, n):
        x0 = sample_data(self.data, rng, n)
        xi = rng.standard_normal(x0.shape)
        times = (self.s0, self.s1) if self.kind == "total" else (self.s0,)
        f, h = [], []
        for s in times:
            mu, v = diffusion_coefficients(self.process, s)
            y = mu * x0 + math.sqrt(v) * xi
            p = MixParams.at(self.data, self.process, s)
            f.append(_integrand("kl" if self.kind == "total" else self.kind, self.process, s, p)(y))
            h.append(_control(self.data, self.process, s, y))
        if self.kind == "total":
            f = [f[0] - f[1]] + f
        return np.stack(f + h, axis=1)


def _run_blocks(items, executor=None, tasks=None):
    """Block statistics of (job, seed, size) items, in item order, on ``executor`` in ``tasks`` tasks."""
    if executor is None:
        if len(items) < 2:
            return _mc_block_stats(items)
        bar = progress_bar(total=int(sum(it[2] for it in items)), desc="Monte Carlo", unit="sample", delay=2.0)
        out = []
        try:
            for item in items:                     # block by block, for the bar (same statistics, same order)
                out.extend(_mc_block_stats([item]))
                bar.update(int(item[2]))
        finally:
            bar.close()
        return out
    nb = len(items)
    n_tasks = max(1, min(nb, tasks or nb))
    cuts = np.linspace(0, nb, n_tasks + 1).round().astype(int)
    futures = [executor.submit(_mc_block_stats, items[a:b]) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    return [st for f in futures for st in f.result()]


def _pool(acc, stats):
    """Add block statistics to the pooled (n, mean, co-moment) ``acc`` (None to start), in order (Chan et al.)."""
    for nb_, mb, cmb in stats:
        if acc is None:
            acc = (nb_, mb, cmb)
            continue
        n, mean, cm = acc
        tot = n + nb_
        delta = mb - mean
        acc = (tot, mean + delta * (nb_ / tot), cm + cmb + np.outer(delta, delta) * (n * nb_ / tot))
    return acc


def _cv_estimate(acc, t):
    """Control-variate means and standard errors of the ``t`` target columns of pooled statistics.

    The control coefficients are the least-squares regression of the targets on the controls
    (exactly known means), which removes the variance of the p_eq cross-entropy term.
    """
    n, mean, cm = acc
    cov = cm / (n - 1)
    Stt, Stc, Scc = cov[:t, :t], cov[:t, t:], cov[t:, t:]
    beta = np.linalg.lstsq(Scc, Stc.T, rcond=1e-12)[0].T if np.any(Scc) else np.zeros_like(Stc)
    value = mean[:t] - beta @ mean[t:]
    resid = np.diag(Stt - beta @ Stc.T - Stc @ beta.T + beta @ Scc @ beta.T)
    return value, np.sqrt(np.maximum(resid, 0.0) / n)


def _run_mc(job, root, n_samples, executor=None, tasks=None):
    """Control-variate means and standard errors of the target columns of ``job`` (fixed size).

    Deterministic in (root, n_samples): blocks have fixed sizes and streams, and their
    statistics are combined in block order (Chan et al.), whatever the executor/tasks.
    """
    sizes = _block_sizes(n_samples)
    items = [(job, _child(root, b), size) for b, size in enumerate(sizes)]
    return _cv_estimate(_pool(None, _run_blocks(items, executor, tasks)), job.n_targets)


@dataclass
class _MCOptions:
    """Monte Carlo settings of one call: a fixed ``n`` (target None) or a target with pilot and cap."""

    n: int                       # fixed sample size, or the pilot of a targeted run
    target: object               # precision.Target or None
    max_samples: int
    executor: object = None
    tasks: object = None


@dataclass
class _MCResult:
    value: np.ndarray
    stderr: np.ndarray
    n: int
    stages: int
    tolerance: float | None
    met: bool | None


def _run_mc_many(jobs, roots, mc: _MCOptions, offsets=None):
    """Monte Carlo of several jobs (time points) with one set of options; a list of :class:`_MCResult`.

    Fixed size: each job as :func:`_run_mc`.  With a target: sequential stages
    (:func:`nent_ref.quantities.precision.run_to_targets`) over the block schedule
    ``BlockSchedule(MIN_MC_SAMPLES, BLOCK)`` with streams ``_child(root, b)``; the blocks of all jobs
    that are still running are evaluated together in each stage.
    """
    if mc.target is None:
        out = []
        for job, root in zip(jobs, roots):
            value, se = _run_mc(job, root, mc.n, mc.executor, mc.tasks)
            out.append(_MCResult(value, se, mc.n, 1, None, None))
        return out
    schedule = BlockSchedule(MIN_MC_SAMPLES, BLOCK)
    acc = [None] * len(jobs)
    drawn = [0] * len(jobs)

    def evaluate(requests):
        items, owners = [], []
        for r, n_blocks in requests.items():
            for b in range(drawn[r], n_blocks):
                items.append((jobs[r], _child(roots[r], b), schedule.size(b)))
                owners.append(r)
        stats = _run_blocks(items, mc.executor, mc.tasks)
        for r in requests:
            acc[r] = _pool(acc[r], [st for st, o in zip(stats, owners) if o == r])
            drawn[r] = requests[r]
        return {r: (*_cv_estimate(acc[r], jobs[r].n_targets), acc[r][0]) for r in requests}

    res = run_to_targets(evaluate, schedule, mc.target, n_runs=len(jobs), pilot=mc.n,
                         max_samples=mc.max_samples, offsets=offsets)
    return [_MCResult(r.value, r.stderr, r.n, r.stages, r.tolerance, r.met) for r in res]


# --------------------------------------------------------------------------- tiny cutoffs
_EPS = float(np.finfo(float).eps)
#: Largest accepted rounding of the diffused noise, relative to its own size (``rho`` below).
#: A point ``y = mu a + sqrt(v) xi`` (a Monte Carlo draw or a cubature node) is stored to within
#: ``eps |mu a|``, i.e. its noise to within ``rho = eps mu R / sqrt(v)`` (R = the largest
#: ``|a_i|``, or ``|m_k|`` / sqrt of the smallest covariance eigenvalue for mixtures); the
#: log-density ratio then errs by about ``D rho`` nats per point, and the matrix-product
#: distances of the empirical kernel by ``rho^2 / eps`` nats (0.45 nats at the limit, which the
#: kernel's candidate selection tolerates).  Above the limit a cutoff is evaluated by the
#: separated-atoms closed form or refused (:func:`cutoff_check`).
CUTOFF_ROUNDING_TOL = 1e-8
#: Diffused atoms are *separated* when ``mu d_min / sqrt(v)`` (d_min the smallest distance
#: between distinct atoms) is at least this: every overlap term is below
#: ``exp(-60^2 / 8) ~ 1e-195``, and the separated closed forms are exact to double precision.
SEPARATION_MIN = 60.0
#: Method label of the separated-atoms closed form.
SEPARATED = "closed-form (separated atoms)"


@dataclass(frozen=True)
class CutoffCheck:
    """What :func:`cutoff_check` found for diffused data at one time ``s``.

    Attributes
    ----------
    s : float
        The time checked.
    status : str
        ``"direct"`` (quadrature and Monte Carlo resolve the noise: ``noise_rounding`` within
        :data:`CUTOFF_ROUNDING_TOL`), ``"separated"`` (they do not, but the atoms are separated
        by at least :data:`SEPARATION_MIN` noise widths, so the exact closed form
        ``mean Dirac KL - H(w)`` is used), or ``"unresolvable"`` (neither: a ValueError).
    noise_rounding : float
        ``rho = eps mu R / sqrt(v)``: the rounding of a diffused point relative to its noise.
    smallest_direct_s : float or None
        The smallest time at which ``noise_rounding <= CUTOFF_ROUNDING_TOL`` (None if none in
        the domain).
    closest_pair : tuple or None
        ``(i, j, r)`` for the closest distinct atoms found when separation was checked, with
        ``r = mu |a_i - a_j| / sqrt(v)`` (None when not checked or no pair is near).
    reason : str
        One sentence saying why.
    """

    s: float
    status: str
    noise_rounding: float
    smallest_direct_s: float | None
    closest_pair: tuple | None
    reason: str

    @property
    def resolvable(self) -> bool:
        return self.status != "unresolvable"

    def __bool__(self):
        return self.resolvable


def _noise_rounding(data, process, s) -> float:
    mu, v = diffusion_coefficients(process, s)
    norms, lam = data.rounding_scales()
    lam_s = mu * mu * lam + v
    num = _EPS * mu * norms
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(num > 0, num / np.sqrt(lam_s), 0.0)
    return float(np.max(rho))


def _smallest_direct_time(data, process):
    """Smallest s with noise rounding <= CUTOFF_ROUNDING_TOL (bisection on log s; rho decreases in s)."""
    hi = process.T
    if _noise_rounding(data, process, hi) > CUTOFF_ROUNDING_TOL:
        return None
    lo = 1e-300
    if _noise_rounding(data, process, lo) <= CUTOFF_ROUNDING_TOL:
        return lo
    for _ in range(80):
        mid = math.sqrt(lo * hi)
        if _noise_rounding(data, process, mid) <= CUTOFF_ROUNDING_TOL:
            hi = mid
        else:
            lo = mid
    return hi


def _closest_pair_within(atoms, delta):
    """The closest pair of rows of ``atoms`` closer than ``delta``, as (i, j, d), or None.

    Candidates come from sorting a fixed random projection (a contraction, so a pair closer than
    delta is within delta + rounding in projection); only candidates get exact distances, so the
    work is O(N log N) unless many atoms crowd within delta of each other in projection.
    """
    N, D = atoms.shape
    u = np.random.default_rng(12345).standard_normal(D)
    u /= np.linalg.norm(u)
    p = atoms @ u
    R = float(np.max(np.abs(atoms)))
    window = delta + 4.0 * D * _EPS * R * math.sqrt(D)
    order = np.argsort(p, kind="stable")
    ps = p[order]
    best = None
    for gap in range(1, N):
        i = np.flatnonzero(ps[gap:] - ps[:-gap] <= window)
        if i.size == 0:
            break
        a, b = order[i], order[i + gap]
        diff = atoms[a] - atoms[b]
        d = np.sqrt(np.einsum("nd,nd->n", diff, diff))
        k = int(np.argmin(d))
        if d[k] < delta and (best is None or d[k] < best[2]):
            best = (int(a[k]), int(b[k]), float(d[k]))
    return best


def cutoff_check(data, process, s) -> CutoffCheck:
    """Whether quantities of ``data`` diffused to time ``s`` can be computed exactly, and how.

    At tiny cutoffs the noise ``sqrt(v(s))`` of a diffused atom ``mu a`` falls below the rounding
    of ``mu a`` itself (``v ~ 1e-41`` at ``s = 1e-40`` under VP, atoms of size 1): every
    cubature node and Monte Carlo point then sits on the atom and the density is evaluated at
    the wrong place.  This helper says, before any work, which of three cases holds:

    * ``"direct"``: ``rho = eps mu R / sqrt(v) <= CUTOFF_ROUNDING_TOL`` (R the largest ``|a_i|``):
      quadrature and Monte Carlo are accurate; their rounding error (about ``2 D rho`` nats for
      a KL, relative ``4 rho`` for a rate) is added to ``error_bound`` where it exceeds the
      rounding floor an Estimate already assumes (1e-10 of the value).
    * ``"separated"`` (Empirical data only): rho is too large, but distinct atoms are at least
      ``SEPARATION_MIN = 60`` noise widths apart, so the mixture entropy is
      ``H(w) + sum_i w_i H(N(mu a_i, v I))`` up to the posterior entropy of the atom index,
      ``0 <= H(I | Y) <= (N - 1) exp(-60^2 / 8) < N 1e-195`` (Kolchinsky & Tracey's
      Bhattacharyya bound), hence ``KL(p_s || p_eq) = mean Dirac KL - H(w)``, the rate is the
      mean Dirac rate, and S_tot the KL difference, exact to double precision (duplicate atoms
      merged first).  Used whatever ``method`` is asked for, with the method label
      :data:`SEPARATED`.
    * ``"unresolvable"``: neither; the entropy functions raise a ValueError naming the
      closest atoms and the smallest direct cutoff.

    Gaussian and Dirac data are closed form at every cutoff (always ``"direct"``).  The check is
    O(N D) when the cutoff is not tiny, and O(N log N + N D) (duplicate merge and a projected
    sort) only when rho exceeds the tolerance.

    Parameters
    ----------
    data : Empirical, GaussianMixture, Gaussian or Dirac
    process : VP, SL or VE
    s : float
        One forward time in the process domain.

    Returns
    -------
    CutoffCheck
        Truthy when the cutoff is resolvable (``status`` direct or separated).

    Examples
    --------
    >>> import nent_ref as nr
    >>> from nent_ref import Empirical, cutoff_check
    >>> cutoff_check(Empirical([[1.0, -0.5]]), nr.VP(0.1, 20), 1e-40).status
    'separated'
    """
    s = float(check_times(s, process, "s"))
    if not isinstance(data, (Empirical, GaussianMixture)):
        return CutoffCheck(s, "direct", 0.0, 0.0, None, f"{type(data).__name__} data are closed form")
    rho = _noise_rounding(data, process, s)
    if rho <= CUTOFF_ROUNDING_TOL:
        return CutoffCheck(s, "direct", rho, None, None,
                           f"the noise is resolved (rounding {rho:.2g} of its size <= {CUTOFF_ROUNDING_TOL:g})")
    s_ok = _smallest_direct_time(data, process)
    where = (f"cutoffs s >= {s_ok:.3g} are resolved directly" if s_ok is not None
             else "no time in the domain resolves it directly")
    if isinstance(data, GaussianMixture):
        return CutoffCheck(s, "unresolvable", rho, s_ok, None,
                           f"a component's width at s = {s!r} is below the rounding of its mean "
                           f"(relative rounding {rho:.2g} > {CUTOFF_ROUNDING_TOL:g}); {where}")
    mu, v = diffusion_coefficients(process, s)
    atoms, _, first = data.distinct_atoms()
    if atoms.shape[0] == 1:
        return CutoffCheck(s, "separated", rho, s_ok, None, "a single distinct atom: the Dirac closed form")
    if mu <= 0.0:
        return CutoffCheck(s, "unresolvable", rho, s_ok, None, f"mu(s) = 0: every atom sits at the origin; {where}")
    delta = SEPARATION_MIN * math.sqrt(v) / mu if v > 0 else 0.0
    pair = _closest_pair_within(atoms, delta) if delta > 0 else None
    if pair is None:
        return CutoffCheck(s, "separated", rho, s_ok, None,
                           f"distinct atoms are more than {SEPARATION_MIN:g} noise widths apart "
                           f"(noise rounding {rho:.2g}): mean Dirac closed form minus H(w)")
    i, j, d = pair
    r = mu * d / math.sqrt(v)
    i, j = sorted((int(first[i]), int(first[j])))
    return CutoffCheck(s, "unresolvable", rho, s_ok, (i, j, r),
                       f"at s = {s!r} the noise (sd {math.sqrt(v):.3g}) is below the rounding of the atoms "
                       f"(relative {rho:.2g} > {CUTOFF_ROUNDING_TOL:g}) and atoms {i} and {j} are only "
                       f"{r:.3g} noise widths apart (< {SEPARATION_MIN:g}, so the separated closed form "
                       f"does not apply); {where}")


def _resolve(data, process, s, name="s"):
    """cutoff_check, raising the ValueError of an unresolvable cutoff."""
    chk = cutoff_check(data, process, s)
    if not chk:
        raise ValueError(f"{name} = {s!r} cannot be evaluated in double precision for {data!r} under "
                         f"{process!r}: {chk.reason}")
    return chk


def _separated_value(data, process, s, kind):
    """The separated-atoms closed form of E_{p_s}[log(p_s/p_eq)] ("kl"; -H(p_s) for VE) or of the
    rate, with its overlap error bound."""
    atoms, w, _ = data.distinct_atoms()
    D = data.dim
    m2 = data.second_moment()
    lam = np.zeros(D)
    N = atoms.shape[0]
    overlap = (N - 1) * math.exp(-SEPARATION_MIN ** 2 / 8.0)
    if kind == "rate":
        value = float(gaussian_rate(m2, lam, process, np.asarray(s)))
        if not math.isfinite(value):                 # as for a single Dirac: no silent inf
            raise ValueError(f"the entropy production rate of {data!r} under {process!r} exceeds the double range "
                             f"at s = {float(s)!r} (each atom's rate is about D/(2 s), above the largest double "
                             "for s below about 1e-308)")
        return value, overlap * SEPARATION_MIN ** 2 * value
    with np.errstate(divide="ignore"):
        hw = float(-np.sum(w[w > 0] * np.log(w[w > 0])))
    if process.has_equilibrium:
        value = max(float(gaussian_kl_eq(m2, lam, process, np.asarray(s))) - hw, 0.0)
    else:
        value = -(0.5 * D * (_LOG_2PI + 1.0 + float(process.log_marginal_var(s))) + hw)
    return value, overlap


def _direct_rounding(data, rho, kind, value):
    """Rounding error of a direct evaluation (2 D rho nats for a KL, 4 rho relative for a rate),
    or 0 where it is inside the rounding floor an Estimate already assumes."""
    err = 4.0 * rho * abs(value) if kind == "rate" else 2.0 * data.dim * rho
    return err if err > ROUNDING_RTOL * abs(value) else 0.0


# --------------------------------------------------------------------------- dispatch helpers
_MC_OPTIONS = {"n_samples", "seed", "executor", "tasks", "max_samples"}
#: Smallest accepted Monte Carlo sample size (per time point).  The control-variate regression
#: fits the samples exactly below 8 (stderr 0), and the skewness of the log-density and rate
#: integrands widens the z-scores of small runs: in the calibration study
#: ``benchmarks/calibrate_mc_min_samples.py`` (4000 seeds for each of 36 case/quantity pairs:
#: 1-D and 2-D mixtures and empirical data under VP, VPx and SL; KL, rate and S_tot) the spread
#: of z = (estimate - truth) / stderr is 0.986-1.027 at n = 1024, with at most 0.57 % of
#: |z| > 3 (0.27 % for a normal) and max |z| = 4.7, against 1.035-1.131, 1.4 % and 7.9 at
#: n = 128 and up to 1.29, 3.4 % and 10.8 at n = 64.  Blocks are pooled exactly (co-moments),
#: so the last, shorter block needs no minimum of its own.
MIN_MC_SAMPLES = 1024


#: Default precision of Monte Carlo estimates (when neither ``n_samples`` nor ``rtol``/``atol`` is
#: given): stop when ``stderr <= max(DEFAULT_RTOL |value|, DEFAULT_ATOL)``, i.e. three significant
#: digits for values above 1 nat (or nat per unit time) and three decimals below.  The absolute
#: floor serves values near zero, whose relative precision is out of reach (KL(p_T || p_eq) ~ 1e-4
#: has a per-sample coefficient of variation of ~50; KL(p_0.5 || p_eq) ~ 0.3 of the paper's D = 6
#: mixture would need ~5e6 samples for 1e-3 relative, ~6e5 for 1e-3 nats).
DEFAULT_RTOL = 1e-3
#: Absolute floor of the default target (see :data:`DEFAULT_RTOL`).
DEFAULT_ATOL = 1e-3
#: Default cap on the Monte Carlo samples of one time point (or pair) of a targeted run (2**20,
#: four times the former fixed default :data:`DEFAULT_N_SAMPLES`); a target not met by then is
#: reported (``extra["target_met"]`` False, a PrecisionWarning), never claimed.
DEFAULT_MAX_SAMPLES = 2 ** 20
#: Largest ``n_samples`` / ``max_samples`` of one time point (or pair): 2**32 samples are 2**18 blocks of
#: :data:`BLOCK`, whose seeds and pooled statistics stay within a few hundred MB, and hours of compute on
#: one core.  Above it the call raises (a ValueError naming the option) instead of filling the memory with
#: block bookkeeping before the first sample (10**12 samples used over 1 GB within seconds and never
#: finished); split such a run into seeds and combine them.
MAX_MC_SAMPLES = 2 ** 32
_MAX_WHY = ("the Monte Carlo size of one time point is capped at nent_ref.quantities.mixture_entropy.MAX_MC_SAMPLES "
            "(its block bookkeeping alone would exhaust memory); run several seeds and combine them instead")


def _parse_options(data, options):
    """(method, quadrature (rtol, atol), root seed, _MCOptions) of the options of a mixture quantity."""
    options = dict(options)
    method = options.pop("method", "auto")
    rtol = options.pop("rtol", None)
    atol = options.pop("atol", None)
    mc = {k: options.pop(k) for k in list(options) if k in _MC_OPTIONS}
    if options:
        raise TypeError(f"unexpected options {sorted(options)}; mixtures take method, rtol, atol, n_samples, "
                        "max_samples, seed, executor, tasks")
    if method not in ("auto", "quadrature", "monte-carlo"):
        raise ValueError(f"method must be 'auto', 'quadrature' or 'monte-carlo' (got {method!r})")
    D = data.dim
    if method == "auto":
        method = ("quadrature" if D <= 2 and data.n_components <= AUTO_QUADRATURE_MAX_COMPONENTS
                  else "monte-carlo")
    quad = None
    if method == "quadrature":
        if D > 2:
            raise ValueError(f"quadrature is available for D <= 2 only (got D = {D}); use method='monte-carlo'")
        q_rtol = _DEFAULT_RTOL[D] if rtol is None else finite_float("rtol", rtol)
        q_atol = 0.0 if atol is None else finite_float("atol", atol)
        if q_rtol < 0 or q_atol < 0 or (q_rtol == 0 and q_atol == 0):
            raise ValueError(f"quadrature needs rtol >= 0 and atol >= 0, not both 0 (got rtol={q_rtol}, "
                             f"atol={q_atol})")
        quad = (q_rtol, q_atol)
    fixed = "n_samples" in mc and rtol is None and atol is None
    n = mc.get("n_samples", MIN_MC_SAMPLES)
    try:
        n = count("n_samples", n, MIN_MC_SAMPLES)
    except ValueError as exc:
        raise ValueError(f"{exc}: below {MIN_MC_SAMPLES} samples the Monte Carlo standard error is not "
                         "calibrated (see nent_ref.quantities.mixture_entropy.MIN_MC_SAMPLES)") from None
    n = count("n_samples", n, MIN_MC_SAMPLES, MAX_MC_SAMPLES, _MAX_WHY)
    if fixed:
        if "max_samples" in mc:
            raise ValueError("max_samples caps a run to a precision target (rtol/atol); with a fixed n_samples "
                             "and no target it has no effect: pass one or the other")
        target, cap = None, n
    else:
        target = target_from(rtol, atol, DEFAULT_RTOL, DEFAULT_ATOL) if method == "monte-carlo" else None
        cap = count("max_samples", mc.get("max_samples", max(DEFAULT_MAX_SAMPLES, n)), 1, MAX_MC_SAMPLES, _MAX_WHY)
        if cap < n:
            raise ValueError(f"max_samples = {cap} is below the pilot n_samples = {n}")
    root = _root_seed(mc.get("seed"))
    return method, quad, root, _MCOptions(n, target, cap, check_executor(mc.get("executor"), method="submit"),
                                          mc.get("tasks"))


def _label(methods):
    return " + ".join(sorted(set(methods)))


def _exact_time(data, process, sj, kind, method, quad, chk):
    """(value, error_bound, label) of a pointwise quantity at one time by the separated closed form or
    quadrature; None when it needs Monte Carlo."""
    if chk.status == "separated":
        val, bound = _separated_value(data, process, sj, kind)
        return val, bound, SEPARATED
    if method == "quadrature":
        val, err = _quad_expectation(data, process, sj, kind, *quad)
        if kind == "kl" and process.has_equilibrium:
            val = max(val, 0.0)                     # KL >= 0: clamp rounding below zero
        return val, err + _direct_rounding(data, chk.noise_rounding, kind, val), "quadrature"
    return None


def _precision_extra(mc, results, values, stderrs, shape):
    """extra entries of a Monte Carlo result (target, tolerance, relative stderr, target met, samples per
    point, stages, cap) and the total number of samples drawn."""
    n_each = np.zeros(int(np.prod(shape, dtype=int)) if shape else 1, dtype=np.int64)
    for j, r in results.items():
        n_each[j] = r.n
    met = None if mc.target is None else bool(all(r.met for r in results.values()))
    extra = precision_extra(mc.target, values, stderrs, met)
    extra["n_samples_each"] = n_each.reshape(shape) if shape else int(n_each[0])
    extra["stages"] = max(r.stages for r in results.values())
    extra["max_samples"] = None if mc.target is None else mc.max_samples
    return extra, int(n_each.sum())


def _maybe_warn(what, mc, results, values, stderrs, stacklevel):
    if mc.target is not None and not all(r.met for r in results.values()):
        warn_unmet(what, mc.target, values, stderrs, f"max_samples = {mc.max_samples} per time point",
                   stacklevel=stacklevel)


def _pointwise(data, process, s, kind, options):
    method, quad, root, mc = _parse_options(data, options)
    s = np.asarray(s, dtype=float)
    flat = s.ravel()
    vals, ses, errs = (np.zeros(flat.size) for _ in range(3))
    methods = [None] * flat.size
    jobs, roots, where, checks = [], [], [], {}
    for j, sj in enumerate(flat):
        chk = _resolve(data, process, float(sj))
        exact = _exact_time(data, process, float(sj), kind, method, quad, chk)
        if exact is not None:
            vals[j], errs[j], methods[j] = exact
            continue
        jobs.append(_Job(data, process, kind, float(sj)))
        roots.append(_child(root, j))
        where.append(j)
        checks[j] = chk
    results = {}
    for j, r in zip(where, _run_mc_many(jobs, roots, mc)):
        vals[j], ses[j] = float(r.value[0]), float(r.stderr[0])
        errs[j] = _direct_rounding(data, checks[j].noise_rounding, kind, vals[j])
        methods[j] = "monte-carlo"
        results[j] = r
    shape = s.shape
    label = _label(methods)
    if not results:
        return Estimate(vals.reshape(shape), 0.0, label, errs.reshape(shape))
    value, stderr = vals.reshape(shape), ses.reshape(shape)
    _maybe_warn(f"{kind} of {type(data).__name__} data by Monte Carlo", mc, results, vals[where], ses[where], 7)
    extra, n_total = _precision_extra(mc, results, value, stderr, shape)
    extra["seed_entropy"] = root.entropy
    return Estimate(value, stderr, label, errs.reshape(shape), n_total, extra=extra)


def _rate(data, process, s, **options):
    require_cutoff(data, s, "s")
    return _pointwise(data, process, s, "rate", options)


def _kl_eq(data, process, s, **options):
    require_cutoff(data, s, "s")
    return _pointwise(data, process, s, "kl", options)


def _total(data, process, s0, s1, **options):
    require_cutoff(data, s0, "s0")
    method, quad, root, mc = _parse_options(data, options)
    s0, s1 = np.broadcast_arrays(np.asarray(s0, dtype=float), np.asarray(s1, dtype=float))
    shape = s0.shape
    a, b = s0.ravel(), s1.ravel()
    n = a.size
    out = {k: np.zeros(n) for k in ("v", "se", "err", "k0", "k1", "se0", "se1", "e0", "e1")}
    m0s, m1s = [None] * n, [None] * n
    clamp = process.has_equilibrium
    jobs, roots, offsets, plan = [], [], [], []      # plan: (j, which) with which in "pair", 0, 1
    checks = {}
    for j in range(n):
        aj, bj = float(a[j]), float(b[j])
        c0, c1 = _resolve(data, process, aj, "s0"), _resolve(data, process, bj, "s1")
        checks[j] = (c0, c1)
        if c0.status == "direct" and c1.status == "direct":
            if method == "quadrature":
                r = _quad_pair(data, process, aj, bj, quad, c0, c1, clamp)
                for key, val in zip(("v", "se", "err", "k0", "k1", "se0", "se1", "e0", "e1"), r):
                    out[key][j] = val
                m0s[j] = m1s[j] = "quadrature"
            else:
                jobs.append(_Job(data, process, "total", aj, bj))
                roots.append(_child(root, j))
                offsets.append(0.0)
                plan.append((j, "pair"))
            continue
        # at least one end is a separated closed form: the ends are evaluated one by one
        ends = [None, None]
        for e, (sj, chk) in enumerate(((aj, c0), (bj, c1))):
            exact = _exact_time(data, process, sj, "kl", method, quad, chk)
            if exact is not None:
                ends[e] = exact
        for e, (sj, chk) in enumerate(((aj, c0), (bj, c1))):
            if ends[e] is None:
                other = ends[1 - e]
                jobs.append(_Job(data, process, "kl", sj))
                roots.append(_child(_child(root, j), e))
                offsets.append(other[0] if other is not None else 0.0)
                plan.append((j, e))
            else:
                key_v, key_e = ("k0", "e0") if e == 0 else ("k1", "e1")
                out[key_v][j], out[key_e][j] = ends[e][0], ends[e][1]
                (m0s if e == 0 else m1s)[j] = ends[e][2]
    results = {}
    for (j, which), r in zip(plan, _run_mc_many(jobs, roots, mc, offsets)):
        c0, c1 = checks[j]
        if which == "pair":
            out["v"][j], out["k0"][j], out["k1"][j] = r.value
            out["se"][j], out["se0"][j], out["se1"][j] = r.stderr
            out["e0"][j] = _direct_rounding(data, c0.noise_rounding, "kl", out["k0"][j])
            out["e1"][j] = _direct_rounding(data, c1.noise_rounding, "kl", out["k1"][j])
            m0s[j] = m1s[j] = "monte-carlo"
            results[j] = r
        else:
            chk = c0 if which == 0 else c1
            kv, ks, ke = ("k0", "se0", "e0") if which == 0 else ("k1", "se1", "e1")
            out[kv][j], out[ks][j] = float(r.value[0]), float(r.stderr[0])
            out[ke][j] = _direct_rounding(data, chk.noise_rounding, "kl", out[kv][j])
            (m0s if which == 0 else m1s)[j] = "monte-carlo"
            results[j] = r                     # one end only: the other is a separated closed form
    pairs = {j for j, which in plan if which == "pair"}
    for j in range(n):
        if m0s[j] != "quadrature" or m1s[j] != "quadrature":
            if j not in pairs:
                out["v"][j] = out["k0"][j] - out["k1"][j]
                out["se"][j] = math.hypot(out["se0"][j], out["se1"][j])
                out["err"][j] = out["e0"][j] + out["e1"][j]
                if m0s[j] != "monte-carlo" and m1s[j] != "monte-carlo":
                    out["v"][j] = max(out["v"][j], 0.0)
            else:
                out["err"][j] = out["e0"][j] + out["e1"][j]
    r_ = {k: v.reshape(shape) if shape else float(v[0]) for k, v in out.items()}
    if not process.has_equilibrium:
        # VE: E[log p] = -H, so "k0 - k1" = H(p_s1) - H(p_s0); report the entropies
        names = ("neg_entropy_s0", "neg_entropy_s1")
    else:
        names = ("kl_s0", "kl_s1")
    label, l0, l1 = _label(m0s + m1s), _label(m0s), _label(m1s)
    scale = np.abs(r_["k0"]) + np.abs(r_["k1"])
    if not results:
        extra = {names[0]: Estimate(r_["k0"], 0.0, l0, r_["e0"]),
                 names[1]: Estimate(r_["k1"], 0.0, l1, r_["e1"])}
        return Estimate(r_["v"], 0.0, label, r_["err"], extra=extra, scale=scale)
    mc_idx = sorted(results)
    _maybe_warn(f"S_tot of {type(data).__name__} data by Monte Carlo", mc, results, out["v"][mc_idx],
                out["se"][mc_idx], 6)
    extra, n_total = _precision_extra(mc, results, r_["v"], r_["se"], shape)
    extra.update({names[0]: Estimate(r_["k0"], r_["se0"], l0, r_["e0"], n_total),
                  names[1]: Estimate(r_["k1"], r_["se1"], l1, r_["e1"], n_total),
                  "seed_entropy": root.entropy})
    return Estimate(r_["v"], r_["se"], label, r_["err"], n_total, extra=extra, scale=scale)


def _quad_pair(data, process, a, b, quad, c0, c1, clamp):
    """S_tot(a, b) by quadrature with its two ends: (v, se, err, k0, k1, se0, se1, e0, e1)."""
    rtol, atol = quad
    k0, e0 = _quad_expectation(data, process, a, "kl", rtol, atol)
    k1, e1 = _quad_expectation(data, process, b, "kl", rtol, atol)
    if e0 + e1 > rtol * abs(k0 - k1):        # cancellation: tighten to the difference
        atol2 = max(0.5 * rtol * abs(k0 - k1), atol)
        k0, e0 = _quad_expectation(data, process, a, "kl", rtol, atol2)
        k1, e1 = _quad_expectation(data, process, b, "kl", rtol, atol2)
    if clamp:                                # KL >= 0 and S_tot >= 0: clamp rounding below zero
        k0, k1 = max(k0, 0.0), max(k1, 0.0)
    e0 += _direct_rounding(data, c0.noise_rounding, "kl", k0)
    e1 += _direct_rounding(data, c1.noise_rounding, "kl", k1)
    return (max(k0 - k1, 0.0), 0.0, e0 + e1, k0, k1, 0.0, 0.0, e0, e1)


for _type in (GaussianMixture, Empirical):
    _entropy.register(_type, rate=_rate, kl_eq=_kl_eq, total=_total)
