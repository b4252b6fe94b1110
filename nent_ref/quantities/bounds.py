r"""Closed-form bounds on the entropy of Gaussian mixtures, hence on KL(p_s || p_eq) and S_tot.

Kolchinsky & Tracey (Entropy 19, 361 (2017)): for :math:`p = \sum_i w_i p_i` and a pairwise
distance :math:`d`,

.. math:: \hat H_d = \sum_i w_i H(p_i) - \sum_i w_i \log \sum_j w_j e^{-d(p_i, p_j)}

is a lower bound on :math:`H(p)` when :math:`d` is the Bhattacharyya distance
:math:`D_B = -\log\int\sqrt{p_i p_j}` (any Chernoff alpha-divergence) and an upper bound
when :math:`d` is the Kullback-Leibler divergence.  For Gaussian components (verified in
``derivations/mixture_checks.py``)

.. math::
    \mathrm{KL}_{ij} &= \tfrac12\big[\operatorname{tr}(S_j^{-1}S_i) + \Delta^T S_j^{-1}\Delta - D
                        + \log\det S_j - \log\det S_i\big],\\
    D_{B,ij} &= \tfrac18 \Delta^T \bar S^{-1}\Delta + \tfrac12\log\frac{\det\bar S}{\sqrt{\det S_i\det S_j}},
    \qquad \bar S = (S_i + S_j)/2,\ \Delta = m_i - m_j .

With :math:`p_{eq} = N(0, k^2 I)`,
:math:`\mathrm{KL}(p_s\|p_{eq}) = -H(p_s) + \tfrac D2\log(2\pi k^2) + \mathbb E_{p_s}|y|^2/(2k^2)`
and :math:`\mathbb E_{p_s}|y|^2 = \mu^2\,\mathbb E_{p_d}|x|^2 + D v` are exact, so the entropy
bounds become KL bounds (lower bounds clipped at 0), and by (2.3)

.. math:: \max(0, \mathrm{KL}^{lo}_{s_0} - \mathrm{KL}^{hi}_{s_1}) \le S_{tot}(s_0,s_1)
          \le \mathrm{KL}^{hi}_{s_0} - \mathrm{KL}^{lo}_{s_1}

(for VE, :math:`H^{lo}_{s_1} - H^{hi}_{s_0} \le S_{tot} \le H^{hi}_{s_1} - H^{lo}_{s_0}`).
All values in nats.  Work is O(K^2 D) (O(K^2 D^3) for full covariances) in row blocks of
bounded memory, so empirical data with many atoms are fine.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.data import Dirac, Gaussian
from ..core.mixture import Empirical, GaussianMixture, MixParams
from ..core.processes import check_times, is_process

__all__ = ["pairwise_kl", "pairwise_bhattacharyya", "entropy_bounds", "kl_to_equilibrium_bounds",
           "total_entropy_bounds", "total_entropy_bounds_rounding"]

_LOG_2PI = math.log(2.0 * math.pi)
_BLOCK_ELEMS = 4_000_000
_EPS = float(np.finfo(float).eps)


def _as_data(data):
    """GaussianMixture or Empirical data; a Gaussian becomes a one-component mixture and a Dirac a
    one-atom Empirical (their bounds are then exact); anything else is a TypeError."""
    if isinstance(data, (GaussianMixture, Empirical)):
        return data
    if isinstance(data, Gaussian):
        return GaussianMixture.from_gaussian(data)
    if isinstance(data, Dirac):
        return Empirical(data.point[None, :])
    raise TypeError(f"data must be a GaussianMixture or Empirical (or a Gaussian / Dirac, taken as one "
                    f"component / atom); got {type(data).__name__}")


def _as_params(mix) -> MixParams:
    if isinstance(mix, MixParams):
        return mix
    if isinstance(mix, Gaussian):
        mix = GaussianMixture.from_gaussian(mix)
    if isinstance(mix, GaussianMixture):
        p = MixParams.of(mix)
        return p
    raise TypeError(f"need a GaussianMixture or Gaussian (got {type(mix).__name__}); diffuse empirical data "
                    "to s > 0 first")


def _check_process(process):
    if not is_process(process):
        raise TypeError(f"process must be a forward process (nr.VP, nr.SL or nr.VE); got {type(process).__name__}")


def _logdets(p: MixParams):
    K, D = p.means.shape
    if p.kind == "shared":
        return np.full(K, D * math.log(p.covs[1]))
    if p.kind == "iso":
        return D * np.log(p.covs)
    if p.kind == "diag":
        return np.sum(np.log(p.covs), axis=1)
    return np.linalg.slogdet(p.covs)[1]


def _pair_block(p: MixParams, rows: slice, which: str) -> np.ndarray:
    """Distances d(p_i, p_j) for i in ``rows`` and all j: shape (len(rows), K)."""
    c = p.centers()
    K, D = c.shape
    ci = c[rows]
    if p.kind in ("shared", "iso"):
        var = np.full(K, p.covs[1]) if p.kind == "shared" else p.covs
        vi = var[rows][:, None]
        vj = var[None, :]
        sq = np.sum(c ** 2, 1)
        d2 = np.maximum(sq[rows][:, None] - 2.0 * ci @ c.T + sq[None, :], 0.0)
        # the expansion errs by ~4 eps (|c_i|^2 + |c_j|^2): where that is visible at the scale of the
        # variances (tiny cutoffs) and the pair is near enough to matter (d^2 / 8v < 800), use direct differences
        err = 4.0 * _EPS * (sq[rows][:, None] + sq[None, :])
        redo = (err > 1e-13 * np.minimum(vi, vj)) & (d2 - err < 6400.0 * np.maximum(vi, vj))
        if np.any(redo):
            ii, jj = np.nonzero(redo)
            diff = ci[ii] - c[jj]
            d2[ii, jj] = np.einsum("nd,nd->n", diff, diff)
        if which == "kl":
            r = vi / vj
            return 0.5 * (D * (r - 1.0 - np.log(r)) + d2 / vj)
        vb = 0.5 * (vi + vj)
        return d2 / (8.0 * vb) + 0.5 * D * (np.log(vb) - 0.5 * (np.log(vi) + np.log(vj)))
    if p.kind == "diag":
        vi = p.covs[rows][:, None, :]
        vj = p.covs[None, :, :]
        delta2 = (ci[:, None, :] - c[None, :, :]) ** 2
        if which == "kl":
            r = vi / vj
            return 0.5 * np.sum(r - 1.0 - np.log(r) + delta2 / vj, axis=-1)
        vb = 0.5 * (vi + vj)
        return np.sum(delta2 / (8.0 * vb) + 0.5 * (np.log(vb) - 0.5 * (np.log(vi) + np.log(vj))), axis=-1)
    S = p.covs
    Si = S[rows]
    delta = ci[:, None, :] - c[None, :, :]                                           # (B, K, D)
    ld = _logdets(p)
    if which == "kl":
        Lj = np.linalg.cholesky(S)                                                    # (K, D, D)
        # tr(S_j^{-1} S_i) = |L_j^{-1} C_i|_F^2 with C_i C_i^T = S_i
        Ci = np.linalg.cholesky(Si)
        A = np.linalg.solve(Lj[None, :, :, :], np.broadcast_to(Ci[:, None], (Ci.shape[0], K, D, D)))
        tr = np.sum(A * A, axis=(-2, -1))
        z = np.linalg.solve(Lj[None], delta[..., None])[..., 0]
        return 0.5 * (tr + np.sum(z * z, -1) - D + ld[None, :] - ld[rows][:, None])
    Sb = 0.5 * (Si[:, None] + S[None, :])                                             # (B, K, D, D)
    Lb = np.linalg.cholesky(Sb)
    z = np.linalg.solve(Lb, delta[..., None])[..., 0]
    ldb = 2.0 * np.sum(np.log(np.diagonal(Lb, axis1=-2, axis2=-1)), axis=-1)
    return np.sum(z * z, -1) / 8.0 + 0.5 * (ldb - 0.5 * (ld[rows][:, None] + ld[None, :]))


def _pairwise(mix, which):
    p = _as_params(mix)
    K = p.means.shape[0]
    return _pair_block(p, slice(0, K), which)


def pairwise_kl(mix) -> np.ndarray:
    """Matrix of KL(p_i || p_j) between the components of a GaussianMixture, nats."""
    return _pairwise(mix, "kl")


def pairwise_bhattacharyya(mix) -> np.ndarray:
    """Matrix of Bhattacharyya distances -log int sqrt(p_i p_j) between the components, nats."""
    return _pairwise(mix, "bhattacharyya")


def _kt_correction(p: MixParams, which: str) -> float:
    """sum_i w_i log sum_j w_j exp(-d_ij), computed in row blocks of bounded memory."""
    K, D = p.means.shape
    per_row = K * (D * D if p.kind == "full" else (D if p.kind == "diag" else 1))
    B = max(1, min(K, _BLOCK_ELEMS // max(per_row, 1)))
    w = np.exp(p.logw)
    total = 0.0
    for a in range(0, K, B):
        rows = slice(a, min(K, a + B))
        t = p.logw[None, :] - _pair_block(p, rows, which)
        m = np.max(t, axis=1, keepdims=True)
        lse = np.log(np.sum(np.exp(t - m), axis=1)) + m[:, 0]
        total += float(w[rows] @ lse)
    return total


def _component_entropy(p: MixParams) -> float:
    D = p.means.shape[1]
    w = np.exp(p.logw)
    return float(w @ (0.5 * (_logdets(p) + D * (_LOG_2PI + 1.0))))


def entropy_bounds(mix) -> tuple[float, float]:
    r"""(lower, upper) bounds on the differential entropy H(p) of a GaussianMixture, nats.

    Lower: Bhattacharyya pairwise bound; upper: KL pairwise bound (Kolchinsky & Tracey 2017).
    Both equal H exactly for one component (a :class:`nent_ref.Gaussian` is accepted as one).
    """
    p = _as_params(mix)
    h0 = _component_entropy(p)
    return h0 - _kt_correction(p, "bhattacharyya"), h0 - _kt_correction(p, "kl")


def _entropy_bounds_at(data, process, s):
    if isinstance(data, Empirical) and s <= 0:
        raise ValueError("empirical data need s > 0: their entropy is -infinity at s = 0")
    if isinstance(data, Empirical) and not float(process.marginal_var(s)) > 0:
        raise ValueError(f"v(s) underflows to 0 at s = {s!r}: the bounds need a representable noise variance "
                         "(nr.kl_to_equilibrium handles such cutoffs by the separated-atoms closed form)")
    return entropy_bounds(MixParams.at(data, process, s))


def _second_moment_at(data, process, s):
    mu2 = float(process.mean_coeff_sq(s))
    v = float(process.marginal_var(s))
    return mu2 * data.second_moment() + data.dim * v


def kl_to_equilibrium_bounds(data, process, s):
    """(lower, upper) bounds on KL(p_s || p_eq) for GaussianMixture or Empirical data (nats).

    Arrays when ``s`` is an array; the lower bound is clipped at 0.  A Gaussian (Dirac) is taken
    as a one-component mixture (one-atom Empirical), for which both bounds are exact.
    """
    data = _as_data(data)
    _check_process(process)
    if not process.has_equilibrium:
        raise ValueError(f"{process!r} has no normalisable equilibrium, so KL(p_s || p_eq) is undefined")
    s = check_times(s, process, "s")
    k2 = process.peq_var
    lo, hi = np.empty(s.size), np.empty(s.size)
    for j, sj in enumerate(s.ravel()):
        h_lo, h_hi = _entropy_bounds_at(data, process, sj)
        cross = 0.5 * data.dim * (_LOG_2PI + math.log(k2)) + _second_moment_at(data, process, sj) / (2.0 * k2)
        lo[j], hi[j] = max(0.0, cross - h_hi), max(0.0, cross - h_lo)
    if s.ndim == 0:
        return float(lo[0]), float(hi[0])
    return lo.reshape(s.shape), hi.reshape(s.shape)


def total_entropy_bounds(data, process, s0=0.0, s1=None):
    """(lower, upper) bounds on S_tot(s0, s1) from the entropy bounds at both ends (nats).

    Scalar times only.  Lower bound clipped at 0.  Data as in :func:`kl_to_equilibrium_bounds`.
    """
    data = _as_data(data)
    _check_process(process)
    s1 = process.T if s1 is None else s1
    s0 = float(check_times(s0, process, "s0"))
    s1 = float(check_times(s1, process, "s1"))
    if s0 > s1:
        raise ValueError(f"need s0 <= s1 (got {s0}, {s1})")
    if process.has_equilibrium:
        lo0, hi0 = kl_to_equilibrium_bounds(data, process, s0)
        lo1, hi1 = kl_to_equilibrium_bounds(data, process, s1)
        return max(0.0, lo0 - hi1), hi0 - lo1
    h_lo0, h_hi0 = _entropy_bounds_at(data, process, s0)
    h_lo1, h_hi1 = _entropy_bounds_at(data, process, s1)
    return max(0.0, h_lo1 - h_hi0), h_hi1 - h_lo0


def total_entropy_bounds_rounding(data, process, s0=0.0, s1=None) -> float:
    r"""Rounding bound (nats) of the two numbers of :func:`total_entropy_bounds`.

    Each bound is a difference of terms at both ends (the cross-entropy with p_eq, or the component
    entropies, and the pairwise Kolchinsky-Tracey correction over K components), each accurate to
    :func:`nent_ref.quantities.entropy.rounding_rtol` ``(4 + D)``-fold roundoff growth per component: the bound
    is ``(K + 1) max(rounding_rtol(s0), rounding_rtol(s1)) M`` with ``M`` the sum of the magnitudes of those
    terms.  Never 0 for a non-zero input (the difference of nearly equal terms on short windows is not exact).
    """
    from .entropy import rounding_rtol          # entropy does not import this module
    data = _as_data(data)
    _check_process(process)
    s1 = process.T if s1 is None else s1
    s0 = float(check_times(s0, process, "s0"))
    s1 = float(check_times(s1, process, "s1"))
    mag = 0.0
    for s in (s0, s1):
        mp = MixParams.at(data, process, s)
        h0 = _component_entropy(mp)
        h_lo, h_hi = entropy_bounds(mp)
        mag += abs(h0) + abs(h_lo - h0) + abs(h_hi - h0)
        if process.has_equilibrium:
            k2 = process.peq_var
            mag += abs(0.5 * data.dim * (_LOG_2PI + math.log(k2))) + _second_moment_at(data, process, s) / (2.0 * k2)
    K = int(getattr(data, "n_components", 1))
    rtol = float(np.max(rounding_rtol(process, np.array([s0, s1]), data.dim)))
    return (K + 1) * rtol * mag
