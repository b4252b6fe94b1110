r"""Numba kernels: log-density and score of Gaussian mixtures and of diffused empirical data.

Stable public signatures (other modules, e.g. the SDE engine, call these per time step)::

    mixture_logpdf_score(x, log_weights, means, covs) -> (logp, score)
        x            (M, D)   query points
        log_weights  (K,)     log mixture weights (normalised: logsumexp == 0)
        means        (K, D)   component means
        covs         (K,)     isotropic variances   (component k is N(means[k], covs[k] I))
                     (K, D)   diagonal variances    (N(means[k], diag(covs[k])))
                     (K, D, D) full covariances     (symmetric positive definite)
        logp         (M,)     log p(x) = logsumexp_k [log w_k + log N(x; m_k, S_k)]
        score        (M, D)   grad_x log p(x) = - sum_k r_k(x) S_k^{-1} (x - m_k),
                              r_k = responsibilities (softmax of the component log terms)

    empirical_logpdf_score(x, atoms, log_weights, mu, v) -> (logp, score)
        the isotropic mixture sum_i w_i N(x; mu a_i, v I) that N atoms a_i become at a
        forward time with mean coefficient mu and variance v (docs/theory.md section 4).

Both are numerically stable (log-sum-exp: no underflow far from every component, no NaN
when one component dominates; a component energy that overflows the plain sum of squares is
recomputed in an overflow-free order, and where every energy truly exceeds the largest double
the result is ``log p = -inf`` with the score of the dominant component, i.e. the widest one or
the nearest among equally wide ones, as :class:`nent_ref.Gaussian` gives; never NaN) and never allocate an (M, K, D) array: the mixture kernels
loop over points and components with O(K) (iso/diag) or O(K D) (full) scratch per point;
the empirical kernel computes the squared distances through the matrix product
``x @ atoms.T`` in query blocks whose size keeps the memory linear in N*D, and the score's
weighted atom average either by one more product over all atoms (when most atoms carry weight)
or only over atoms whose responsibility exceeds ``1e-18 / N`` of the total (the dropped mass is
below 1e-17 in total, i.e. below double rounding).

The mixture kernels work on chunks of 64 points with the points in the innermost loops (SIMD),
their exponentials by a vectorisable exp within 1 ulp (:func:`vexp`); points whose energies
overflow take the scalar exact path.

Each kernel has a plain-numpy twin (``*_numpy``) which the tests compare it with.
"""
from __future__ import annotations

import math
import os
import threading

import numba
import numpy as np

from .jit import by_ndim, call_void, pointer, specialise

__all__ = ["mixture_logpdf_score", "mixture_logpdf_score_numpy",
           "empirical_logpdf_score", "empirical_logpdf_score_numpy", "logsumexp"]

_LOG_2PI = math.log(2.0 * math.pi)


def logsumexp(a, axis=-1):
    """Stable log(sum(exp(a))) along ``axis`` (-inf entries allowed; all -inf gives -inf)."""
    a = np.asarray(a, dtype=float)
    amax = np.max(a, axis=axis, keepdims=True)
    amax = np.where(np.isfinite(amax), amax, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - amax), axis=axis, keepdims=True)) + amax
    return np.squeeze(out, axis=axis)


# --------------------------------------------------------------------------- argument checks
def _prepare_mixture(x, log_weights, means, covs):
    x = np.ascontiguousarray(x, dtype=np.float64)
    lw = np.ascontiguousarray(log_weights, dtype=np.float64)
    means = np.ascontiguousarray(means, dtype=np.float64)
    covs = np.ascontiguousarray(covs, dtype=np.float64)
    if x.ndim != 2 or means.ndim != 2 or lw.ndim != 1:
        raise ValueError(f"need x (M, D), log_weights (K,), means (K, D) "
                         f"(got {x.shape}, {lw.shape}, {means.shape})")
    K, D = means.shape
    if x.shape[1] != D or lw.shape[0] != K:
        raise ValueError(f"shape mismatch: x {x.shape}, log_weights {lw.shape}, means {means.shape}")
    if covs.shape not in ((K,), (K, D), (K, D, D)):
        raise ValueError(f"covs must have shape ({K},), ({K}, {D}) or ({K}, {D}, {D}) (got {covs.shape})")
    return x, lw, means, covs


# --------------------------------------------------------------------------- numba kernels
#: A component's quadratic energy above this is recomputed in an overflow-free order (the plain
#: sum of squared differences overflows for |x - m| > 1.3e154 even when the energy does not).
_BIG = 1e300

#: Points per chunk of the vectorised mixture kernels: the inner loops run over the points of a
#: chunk (contiguous scratch of CHUNK doubles), which the compiler turns into SIMD instructions.
CHUNK = 64

#: With ``threaded=True``, mixture evaluations with at least this many points x components x
#: dimensions run their chunks on all Numba threads (smaller ones on one: a parallel region costs a
#: barrier).
PARALLEL_MIN_WORK = 1 << 18

#: Points per task of the chunk loop (one workspace allocation per task).
GROUP = 16 * CHUNK

# exp on (-inf, 0]: 2^k e^r with k = round(x / ln 2), r = x - k ln 2 (Cody-Waite: ln 2 = hi + lo with
# hi exact in 32 bits, so k hi is exact for |k| < 2^21), e^r by its degree-13 Taylor polynomial on
# |r| <= ln(2)/2 (truncation below 4e-18 relative), 2^k as two exact powers of two (subnormal results
# rounded once).  k comes from the round-to-nearest of adding 1.5 * 2^52 (its low bits are k), so
# every loop is integer/float SIMD with no float-to-int conversion.  Within 1 ulp of the correctly
# rounded exp in the tests (test_vexp_*); +0 below -745.2, 1 at 0.
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238      # ln 2 rounded to 32 significant bits
_LN2_LO = 1.9082149292705877e-10  # ln 2 - _LN2_HI
_EXP_C = tuple(1.0 / math.factorial(n) for n in range(14))
_EXP_UNDERFLOW = -745.2           # exp(x) < 2^-1075 below this: the result is +0
_ROUND_MAGIC = 6755399441055744.0                 # 1.5 * 2^52
_ROUND_MAGIC_BITS = 0x4338000000000000            # its bit pattern


_EXP_BIAS = _ROUND_MAGIC + 1023.0               # adding it puts k + 1023 in the low bits (exact)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _vexp_body(A, r, off, sh, n, fy, iy, acc):  # pragma: no cover - compiled
    # the three SIMD passes of the exp (_vexp_span, _vexp_rows) over n lanes (n is a compile-time constant
    # in the full-chunk call)
    c2, c3, c4, c5, c6, c7 = _EXP_C[2], _EXP_C[3], _EXP_C[4], _EXP_C[5], _EXP_C[6], _EXP_C[7]
    c8, c9, c10, c11, c12, c13 = _EXP_C[8], _EXP_C[9], _EXP_C[10], _EXP_C[11], _EXP_C[12], _EXP_C[13]
    P = CHUNK
    for p in range(n):
        a = A[r, off + p] - sh[p]
        u = a if a > -746.0 else -746.0
        kf = (u * _LOG2E + _ROUND_MAGIC) - _ROUND_MAGIC      # round(u / ln 2), exact integer
        rr = (u - kf * _LN2_HI) - kf * _LN2_LO
        q = c13 * rr + c12
        q = q * rr + c11
        q = q * rr + c10
        q = q * rr + c9
        q = q * rr + c8
        q = q * rr + c7
        q = q * rr + c6
        q = q * rr + c5
        q = q * rr + c4
        q = q * rr + c3
        q = q * rr + c2
        q = q * rr + 1.0
        q = q * rr + 1.0
        fy[2 * P + p] = q if a > _EXP_UNDERFLOW else 0.0
        # 2^k as 2^k1 2^(k - k1), k1 = floor(k / 2) (both normal for k >= -1076); floor by the
        # round-to-nearest of k/2 - 1/4; the biased exponents land in the low bits of fy
        k1f = (kf * 0.5 - 0.25 + _ROUND_MAGIC) - _ROUND_MAGIC
        fy[p] = k1f + _EXP_BIAS
        fy[P + p] = (kf - k1f) + _EXP_BIAS
    for p in range(2 * P):              # biased exponent -> the bits of the power of two
        iy[p] = (iy[p] - _ROUND_MAGIC_BITS) << 52
    for p in range(n):
        e = fy[2 * P + p] * fy[p] * fy[P + p]
        A[r, off + p] = e
        acc[p] += e


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _vexp_span(A, r, off, n, sh, fy, iy, acc):  # pragma: no cover - compiled
    # A[r, off:off+n] <- exp(A[r, off:off+n] - sh[lane]) for A <= sh (-inf allowed), chunk by chunk in one
    # call (the lanes of each chunk take sh[lane] and add their results to acc[lane]; a call per chunk
    # costs about 2 ns per element in argument handling); fy: float scratch of 3 * CHUNK, iy =
    # fy.view(int64).  Compiled with FMA contraction (the polynomial's multiply-adds; the error stays
    # within 1 ulp, test_vexp_*) and with a constant trip count for full chunks: both let LLVM emit
    # straight SIMD code (about 3x faster than the variable-length, uncontracted loops).
    j = 0
    while j + CHUNK <= n:
        _vexp_body(A, r, off + j, sh, CHUNK, fy, iy, acc)
        j += CHUNK
    if j < n:
        _vexp_body(A, r, off + j, sh, n - j, fy, iy, acc)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _vexp_rows(A, n, sh, fy, iy, acc):  # pragma: no cover - compiled
    # the exp of _vexp_span on A[k, :n] for every row k, in one call (the mixture chunks: one row per
    # component)
    if n == CHUNK:
        for k in range(A.shape[0]):
            _vexp_body(A, k, 0, sh, CHUNK, fy, iy, acc)
    else:
        for k in range(A.shape[0]):
            _vexp_body(A, k, 0, sh, n, fy, iy, acc)


# log on [1, 2^1023): s = 2^e m with m in [sqrt(1/2), sqrt(2)) (exponent and mantissa from the bits),
# log m = 2 atanh(f), f = (m - 1)/(m + 1), |f| <= 0.1716, by its series to f^21 (truncation below
# 1e-18 relative), plus e ln 2 in two parts.  Within 2 ulp of np.log in the tests (test_vlog_*).
_LOG_C = tuple(1.0 / (2 * n + 1) for n in range(11))
_SQRT2 = 1.4142135623730951
_MANT_MASK = (1 << 52) - 1
_EXP_ONE = 1023 << 52


@numba.njit(cache=True, error_model="numpy", inline="always")
def _vlog(s, out, n, fy, iy):  # pragma: no cover - compiled
    # out[:n] <- log(s[:n]) for normal s >= 1 (the sums of exponentials whose largest term is 1)
    c1, c2, c3, c4, c5 = _LOG_C[1], _LOG_C[2], _LOG_C[3], _LOG_C[4], _LOG_C[5]
    c6, c7, c8, c9, c10 = _LOG_C[6], _LOG_C[7], _LOG_C[8], _LOG_C[9], _LOG_C[10]
    P = fy.shape[0] // 2
    for p in range(n):
        fy[p] = s[p]
    for p in range(n):
        b = iy[p]
        iy[P + p] = (b >> 52) - 1023
        iy[p] = (b & _MANT_MASK) | _EXP_ONE
    for p in range(n):
        m = fy[p]
        e = float(iy[P + p])
        hi = m > _SQRT2
        m = 0.5 * m if hi else m
        e = e + 1.0 if hi else e
        f = (m - 1.0) / (m + 1.0)
        f2 = f * f
        q = c10 * f2 + c9
        q = q * f2 + c8
        q = q * f2 + c7
        q = q * f2 + c6
        q = q * f2 + c5
        q = q * f2 + c4
        q = q * f2 + c3
        q = q * f2 + c2
        q = q * f2 + c1
        lm = 2.0 * f + (2.0 * f) * (f2 * q)
        out[p] = e * _LN2_HI + (e * _LN2_LO + lm)


def vlog(x):
    """log(x) for x >= 1 (finite) by the SIMD routine of the mixture kernels (tests compare it with
    ``np.log``)."""
    x = np.array(x, dtype=np.float64).ravel()
    if not np.all((x >= 1.0) & (x <= np.finfo(float).max)):
        raise ValueError("vlog needs finite x >= 1")
    return _vlog_array(x)


@numba.njit(cache=True, error_model="numpy")
def _vlog_array(x):  # pragma: no cover - compiled
    out = np.empty(x.size)
    buf = np.empty(CHUNK)
    res = np.empty(CHUNK)
    fy = np.empty(2 * CHUNK)
    iy = fy.view(np.int64)
    for lo in range(0, x.size, CHUNK):
        n = min(CHUNK, x.size - lo)
        for p in range(n):
            buf[p] = x[lo + p]
        _vlog(buf, res, n, fy, iy)
        for p in range(n):
            out[lo + p] = res[p]
    return out


def vexp(x):
    """exp(x) for x <= 0 (and -inf) by the SIMD routine of the mixture kernels (tests compare it
    with ``np.exp``)."""
    x = np.array(x, dtype=np.float64).ravel()
    if np.any(x > 0) or np.any(np.isnan(x)):
        raise ValueError("vexp needs x <= 0 (no NaN)")
    return _vexp_array(x)


@numba.njit(cache=True, error_model="numpy")
def _vexp_array(x):  # pragma: no cover - compiled
    out = np.empty((1, x.size))
    fy = np.empty(3 * CHUNK)
    iy = fy.view(np.int64)
    zero = np.zeros(CHUNK)
    acc = np.zeros(CHUNK)
    for p in range(x.size):
        out[0, p] = x[p]
    for r in range(1):              # row r an int64 variable, as in the empirical kernel: the same compiled routine
        _vexp_span(out, r, 0, x.size, zero, fy, iy, acc)
    return out[0]


@numba.njit(cache=True, fastmath=False)
def _point_scale(x, i, means):  # pragma: no cover - compiled
    # a power of two >= max(1, max_d |x_id|, max |means|): x / Z - m / Z is exact and of order one
    # (only on the far-point path, so the O(K D) scan of the means costs nothing in practice)
    z = 1.0
    for k in range(means.shape[0]):
        for d in range(means.shape[1]):
            if abs(means[k, d]) > z:
                z = abs(means[k, d])
    for d in range(x.shape[1]):
        if abs(x[i, d]) > z:
            z = abs(x[i, d])
    return 2.0 ** math.ceil(math.log2(z))


@numba.njit(cache=True, fastmath=False)
def _tied_responsibilities(t, logc):  # pragma: no cover - compiled
    # Far-point limit: t holds scaled energies (inf for zero-weight components).  Every energy
    # overflowed, so the true energies are >= 1e308 and one ulp of difference is >= 1e292 nats:
    # only the components tied at the smallest scaled energy carry weight, in proportion to
    # exp(logc).  Overwrites t with the responsibilities.
    K = t.shape[0]
    emin = np.inf
    for k in range(K):
        if t[k] < emin:
            emin = t[k]
    lmax = -np.inf
    for k in range(K):
        if t[k] == emin and logc[k] > lmax:
            lmax = logc[k]
    ssum = 0.0
    for k in range(K):
        if t[k] == emin and logc[k] > -np.inf:
            t[k] = math.exp(logc[k] - lmax)
            ssum += t[k]
        else:
            t[k] = 0.0
    for k in range(K):
        t[k] = t[k] / ssum


# -- one point at a time, scalar: the exact path for points whose energies overflow (and the
#    reference order of operations of the chunked kernels below)
@numba.njit(cache=True, fastmath=False)
def _iso_point(x, i, logc, means, inv_var, t, logp, score):  # pragma: no cover - compiled
    D = x.shape[1]
    K = means.shape[0]
    for d in range(D):
        score[i, d] = 0.0
    tmax = -np.inf
    for k in range(K):
        q = 0.0
        for d in range(D):
            z = x[i, d] - means[k, d]
            q += z * z
        e = 0.5 * q * inv_var[k]
        if e > _BIG:                    # overflow-free order: sum (z sqrt(iv / 2))^2
            h = math.sqrt(0.5 * inv_var[k])
            e = 0.0
            for d in range(D):
                w = (x[i, d] - means[k, d]) * h
                e += w * w
        t[k] = logc[k] - e
        if t[k] > tmax:
            tmax = t[k]
    if tmax == -np.inf:                 # every energy overflows: log p = -inf, far-point score
        logp[i] = -np.inf
        Z = _point_scale(x, i, means)
        for k in range(K):
            q = 0.0
            for d in range(D):
                z = x[i, d] / Z - means[k, d] / Z
                q += z * z
            t[k] = 0.5 * q * inv_var[k] if logc[k] > -np.inf else np.inf
        _tied_responsibilities(t, logc)
        for k in range(K):
            c = t[k] * inv_var[k]
            if c != 0.0:
                for d in range(D):
                    score[i, d] -= c * (x[i, d] - means[k, d])
        return
    ssum = 0.0
    for k in range(K):
        t[k] = math.exp(t[k] - tmax)
        ssum += t[k]
    logp[i] = tmax + math.log(ssum)
    for k in range(K):
        c = t[k] / ssum * inv_var[k]
        if c != 0.0:
            for d in range(D):
                score[i, d] -= c * (x[i, d] - means[k, d])


@numba.njit(cache=True, fastmath=False)
def _diag_point(x, i, logc, means, inv_var, t, logp, score):  # pragma: no cover - compiled
    D = x.shape[1]
    K = means.shape[0]
    for d in range(D):
        score[i, d] = 0.0
    tmax = -np.inf
    for k in range(K):
        q = 0.0
        for d in range(D):
            z = x[i, d] - means[k, d]
            q += z * z * inv_var[k, d]
        e = 0.5 * q
        if e > _BIG:
            e = 0.0
            for d in range(D):
                w = (x[i, d] - means[k, d]) * math.sqrt(0.5 * inv_var[k, d])
                e += w * w
        t[k] = logc[k] - e
        if t[k] > tmax:
            tmax = t[k]
    if tmax == -np.inf:
        logp[i] = -np.inf
        Z = _point_scale(x, i, means)
        for k in range(K):
            q = 0.0
            for d in range(D):
                z = x[i, d] / Z - means[k, d] / Z
                q += z * z * inv_var[k, d]
            t[k] = 0.5 * q if logc[k] > -np.inf else np.inf
        _tied_responsibilities(t, logc)
        for k in range(K):
            c = t[k]
            if c != 0.0:
                for d in range(D):
                    score[i, d] -= c * inv_var[k, d] * (x[i, d] - means[k, d])
        return
    ssum = 0.0
    for k in range(K):
        t[k] = math.exp(t[k] - tmax)
        ssum += t[k]
    logp[i] = tmax + math.log(ssum)
    for k in range(K):
        c = t[k] / ssum
        if c != 0.0:
            for d in range(D):
                score[i, d] -= c * inv_var[k, d] * (x[i, d] - means[k, d])


@numba.njit(cache=True, fastmath=False)
def _full_point(x, i, logc, means, linv, t, logp, score):  # pragma: no cover - compiled
    # linv[k] = L_k^{-1}, lower triangular, L_k L_k^T = S_k:  z = L^{-1}(x - m), q = |z|^2,
    # S^{-1}(x - m) = L^{-T} z (row-major loops over the triangle, no divisions).
    D = x.shape[1]
    K = means.shape[0]
    z = np.empty((K, D))
    dv = np.empty(D)
    for d in range(D):
        score[i, d] = 0.0
    tmax = -np.inf
    for k in range(K):
        for d in range(D):
            dv[d] = x[i, d] - means[k, d]
        q = 0.0
        for d in range(D):
            acc = 0.0
            for j in range(d + 1):
                acc += linv[k, d, j] * dv[j]
            z[k, d] = acc
            q += acc * acc
        e = 0.5 * q
        if e > _BIG:
            e = 0.0
            for d in range(D):
                w = z[k, d] * math.sqrt(0.5)
                e += w * w
        t[k] = logc[k] - e
        if t[k] > tmax:
            tmax = t[k]
    if tmax == -np.inf:
        logp[i] = -np.inf
        Z = _point_scale(x, i, means)
        for k in range(K):
            for d in range(D):
                dv[d] = x[i, d] / Z - means[k, d] / Z
            q = 0.0
            for d in range(D):
                acc = 0.0
                for j in range(d + 1):
                    acc += linv[k, d, j] * dv[j]
                z[k, d] = acc               # scaled whitened vector, L^{-1}(x - m) / Z
                q += acc * acc
            t[k] = 0.5 * q if logc[k] > -np.inf else np.inf
        _tied_responsibilities(t, logc)
        for k in range(K):
            c = t[k]
            if c != 0.0:
                for d in range(D):
                    zd = c * z[k, d]
                    for j in range(d + 1):
                        score[i, j] -= (linv[k, d, j] * zd) * Z
        return
    ssum = 0.0
    for k in range(K):
        t[k] = math.exp(t[k] - tmax)
        ssum += t[k]
    logp[i] = tmax + math.log(ssum)
    for k in range(K):
        c = t[k] / ssum
        if c != 0.0:
            for d in range(D):
                zd = c * z[k, d]
                for j in range(d + 1):
                    score[i, j] -= linv[k, d, j] * zd


# -- chunks of up to CHUNK points, the points in the innermost loops (SIMD).  Same formulas and the
#    same order of the sums over d and k as the scalar routines above; exp by _vexp_rows.  Points whose
#    energies exceed _BIG (or all of whose log terms are -inf, or NaN input) are redone by the scalar
#    routine, which handles overflow exactly.
@numba.njit(cache=True)
def mixture_workspace(K, D):  # pragma: no cover - compiled
    """Scratch of one chunk: (xt, t, z, tm, ss, big, st, fy, iy, tk)."""
    P = CHUNK
    fy = np.empty(3 * P)
    return (np.empty((D, P)), np.empty((K, P)), np.empty((K, D, P)), np.empty(P), np.empty(P),
            np.empty(P), np.empty((D, P)), fy, fy.view(np.int64), np.empty(K))


@numba.njit(cache=True, error_model="numpy", inline="always")
def load_chunk(x, lo, n, xt):  # pragma: no cover - compiled
    """xt[:, :n] <- x[lo:lo+n].T (the chunk layout: points in the last index)."""
    D = x.shape[1]
    for p in range(n):
        for d in range(D):
            xt[d, p] = x[lo + p, d]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _normalise_chunk(t, tm, ss, fy, iy, lo, n, logp, with_logp):  # pragma: no cover - compiled
    # t[k, :n] holds log terms, tm their maximum over k: t <- exp(t - tm), ss <- 1 / sum_k t,
    # logp[lo:lo+n] filled when with_logp (responsibilities: t * ss)
    for p in range(n):
        ss[p] = 0.0
    _vexp_rows(t, n, tm, fy, iy, ss)
    if with_logp:
        out = logp[lo:lo + n]
        _vlog(ss, out, n, fy, iy)
        for p in range(n):
            out[p] = tm[p] + out[p]
    for p in range(n):
        ss[p] = 1.0 / ss[p]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _store_chunk(st, lo, n, score):  # pragma: no cover - compiled
    D = st.shape[0]
    for p in range(n):
        for d in range(D):
            score[lo + p, d] = st[d, p]


# The hot loops index the 2-D / 3-D scratch arrays directly (no row views: every view of a Numba
# array costs an atomic reference-count pair, which at 64 points per loop was a third of the time).
@numba.njit(cache=True, error_model="numpy", inline="always")
def _sum_sq(t, k, xt, means, n):  # pragma: no cover - compiled
    # t[k, :n] = sum_d (xt[d, :n] - means[k, d])^2, summed in the order d = 0, 1, ..., three per pass
    D = xt.shape[0]
    m0 = means[k, 0]
    for p in range(n):
        z = xt[0, p] - m0
        t[k, p] = z * z
    d = 1
    while d + 2 < D:
        ma = means[k, d]
        mb = means[k, d + 1]
        mc = means[k, d + 2]
        for p in range(n):
            za = xt[d, p] - ma
            zb = xt[d + 1, p] - mb
            zc = xt[d + 2, p] - mc
            t[k, p] = ((t[k, p] + za * za) + zb * zb) + zc * zc
        d += 3
    while d < D:
        ma = means[k, d]
        for p in range(n):
            za = xt[d, p] - ma
            t[k, p] = t[k, p] + za * za
        d += 1


@numba.njit(cache=True, error_model="numpy", inline="always")
def _sum_sq_weighted(t, k, xt, means, w, n):  # pragma: no cover - compiled
    # t[k, :n] = sum_d (xt[d, :n] - means[k, d])^2 w[k, d], in the order d = 0, 1, ..., three per pass
    D = xt.shape[0]
    m0 = means[k, 0]
    w0 = w[k, 0]
    for p in range(n):
        z = xt[0, p] - m0
        t[k, p] = z * z * w0
    d = 1
    while d + 2 < D:
        ma = means[k, d]
        mb = means[k, d + 1]
        mc = means[k, d + 2]
        wa = w[k, d]
        wb = w[k, d + 1]
        wc = w[k, d + 2]
        for p in range(n):
            za = xt[d, p] - ma
            zb = xt[d + 1, p] - mb
            zc = xt[d + 2, p] - mc
            t[k, p] = ((t[k, p] + za * za * wa) + zb * zb * wb) + zc * zc * wc
        d += 3
    while d < D:
        ma = means[k, d]
        wa = w[k, d]
        for p in range(n):
            za = xt[d, p] - ma
            t[k, p] = t[k, p] + za * za * wa
        d += 1


@numba.njit(cache=True, error_model="numpy", inline="always")
def _tri_row(z, k, d, st, L, n):  # pragma: no cover - compiled
    # z[k, d, :n] = sum_{j <= d} L[k, d, j] st[j, :n], summed in the order j = 0, 1, ..., d (three per pass)
    l0 = L[k, d, 0]
    for p in range(n):
        z[k, d, p] = l0 * st[0, p]
    j = 1
    while j + 2 <= d:
        la = L[k, d, j]
        lb = L[k, d, j + 1]
        lc = L[k, d, j + 2]
        for p in range(n):
            z[k, d, p] = ((z[k, d, p] + la * st[j, p]) + lb * st[j + 1, p]) + lc * st[j + 2, p]
        j += 3
    while j <= d:
        la = L[k, d, j]
        for p in range(n):
            z[k, d, p] = z[k, d, p] + la * st[j, p]
        j += 1


@numba.njit(cache=True, error_model="numpy", inline="always")
def _tri_col(st, j, z, k, L, n):  # pragma: no cover - compiled
    # st[j, :n] -= sum_{d >= j} L[k, d, j] z[k, d, :n], in the order d = j, j + 1, ... (three per pass)
    D = z.shape[1]
    d = j
    while d + 2 < D:
        la = L[k, d, j]
        lb = L[k, d + 1, j]
        lc = L[k, d + 2, j]
        for p in range(n):
            st[j, p] = ((st[j, p] - la * z[k, d, p]) - lb * z[k, d + 1, p]) - lc * z[k, d + 2, p]
        d += 3
    while d < D:
        la = L[k, d, j]
        for p in range(n):
            st[j, p] = st[j, p] - la * z[k, d, p]
        d += 1


@numba.njit(cache=True, error_model="numpy")
def iso_core(n, logc, means, inv_var, ws, lo, logp, with_logp):  # pragma: no cover - compiled
    """Chunk core: the transposed points ws[0][:, :n] (``load_chunk``) -> the transposed score ws[6][:, :n]
    and, when ``with_logp``, logp[lo:lo+n].  Points with ``not (ws[5][p] <= _BIG and ws[3][p] > -inf)``
    (overflowing energies, all log terms -inf, NaN) are left to the scalar routine (iso_point)."""
    xt, t, _, tm, ss, big, st, fy, iy, tk = ws
    D = xt.shape[0]
    K = means.shape[0]
    for p in range(n):
        tm[p] = -np.inf
        big[p] = 0.0
    for k in range(K):
        _sum_sq(t, k, xt, means, n)
        h = inv_var[k]
        lc = logc[k]
        for p in range(n):
            e = 0.5 * t[k, p] * h
            big[p] = e if e > big[p] else big[p]
            v = lc - e
            t[k, p] = v
            tm[p] = v if v > tm[p] else tm[p]
    _normalise_chunk(t, tm, ss, fy, iy, lo, n, logp, with_logp)
    for d in range(D):
        for p in range(n):
            st[d, p] = 0.0
    for k in range(K):
        ivk = inv_var[k]
        for p in range(n):
            t[k, p] = t[k, p] * ss[p] * ivk
    k = 0
    while k + 1 < K:                # two components per pass over the score (same order of the sum)
        for d in range(D):
            ma = means[k, d]
            mb = means[k + 1, d]
            for p in range(n):
                st[d, p] = (st[d, p] - t[k, p] * (xt[d, p] - ma)) - t[k + 1, p] * (xt[d, p] - mb)
        k += 2
    if k < K:
        for d in range(D):
            ma = means[k, d]
            for p in range(n):
                st[d, p] -= t[k, p] * (xt[d, p] - ma)


@numba.njit(cache=True, error_model="numpy")
def diag_core(n, logc, means, inv_var, ws, lo, logp, with_logp):  # pragma: no cover - compiled
    """As :func:`iso_core`, diagonal components (inv_var (K, D))."""
    xt, t, _, tm, ss, big, st, fy, iy, tk = ws
    D = xt.shape[0]
    K = means.shape[0]
    for p in range(n):
        tm[p] = -np.inf
        big[p] = 0.0
    for k in range(K):
        _sum_sq_weighted(t, k, xt, means, inv_var, n)
        lc = logc[k]
        for p in range(n):
            e = 0.5 * t[k, p]
            big[p] = e if e > big[p] else big[p]
            v = lc - e
            t[k, p] = v
            tm[p] = v if v > tm[p] else tm[p]
    _normalise_chunk(t, tm, ss, fy, iy, lo, n, logp, with_logp)
    for d in range(D):
        for p in range(n):
            st[d, p] = 0.0
    for k in range(K):
        for p in range(n):
            t[k, p] = t[k, p] * ss[p]
    k = 0
    while k + 1 < K:                # two components per pass over the score (same order of the sum)
        for d in range(D):
            ma = means[k, d]
            mb = means[k + 1, d]
            va = inv_var[k, d]
            vb = inv_var[k + 1, d]
            for p in range(n):
                st[d, p] = (st[d, p] - t[k, p] * va * (xt[d, p] - ma)) - t[k + 1, p] * vb * (xt[d, p] - mb)
        k += 2
    if k < K:
        for d in range(D):
            ma = means[k, d]
            va = inv_var[k, d]
            for p in range(n):
                st[d, p] -= t[k, p] * va * (xt[d, p] - ma)


@numba.njit(cache=True, error_model="numpy")
def full_core(n, logc, means, linv, ws, lo, logp, with_logp):  # pragma: no cover - compiled
    """As :func:`iso_core`, full covariances (linv (K, D, D): inverse Cholesky factors)."""
    xt, t, z, tm, ss, big, st, fy, iy, tk = ws
    D = xt.shape[0]
    K = means.shape[0]
    for p in range(n):
        tm[p] = -np.inf
        big[p] = 0.0
    for k in range(K):
        for p in range(n):
            t[k, p] = 0.0
        for d in range(D):          # st as scratch for the differences x - m_k
            m = means[k, d]
            for p in range(n):
                st[d, p] = xt[d, p] - m
        for d in range(D):
            _tri_row(z, k, d, st, linv, n)
            for p in range(n):
                t[k, p] += z[k, d, p] * z[k, d, p]
        lc = logc[k]
        for p in range(n):
            e = 0.5 * t[k, p]
            big[p] = e if e > big[p] else big[p]
            v = lc - e
            t[k, p] = v
            tm[p] = v if v > tm[p] else tm[p]
    _normalise_chunk(t, tm, ss, fy, iy, lo, n, logp, with_logp)
    for d in range(D):
        for p in range(n):
            st[d, p] = 0.0
    for k in range(K):
        for d in range(D):
            for p in range(n):
                z[k, d, p] = t[k, p] * ss[p] * z[k, d, p]
        for j in range(D):          # st[j] -= sum_{d >= j} L[d, j] z_d, d ascending as in _full_point
            _tri_col(st, j, z, k, linv, n)


#: the chunk core and the scalar routine of each covariance form, chosen by the dimension of the kernel
#: parameter (inverse variances (K,) / (K, D), inverse Cholesky factors (K, D, D)) when the caller compiles
mixture_core = by_ndim("mixture_core", 3, {1: iso_core, 2: diag_core, 3: full_core})
mixture_point = by_ndim("mixture_point", 4, {1: _iso_point, 2: _diag_point, 3: _full_point})


@numba.njit(cache=True, error_model="numpy", inline="always")
def mixture_chunk(x, lo, n, logc, means, param, logp, score, ws, with_logp=True):  # pragma: no cover - compiled
    """log p and score of x[lo:lo+n] (n <= CHUNK) into logp[lo:lo+n], score[lo:lo+n], for the covariance
    form of ``param`` (see :data:`mixture_core`); ws = mixture_workspace.  ``with_logp=False`` skips the
    logarithm (score only: logp is then left unset except at points that took the scalar path)."""
    load_chunk(x, lo, n, ws[0])
    mixture_core(n, logc, means, param, ws, lo, logp, with_logp)
    st, big, tm, tk = ws[6], ws[5], ws[3], ws[9]
    _store_chunk(st, lo, n, score)
    for p in range(n):
        if not (big[p] <= _BIG and tm[p] > -np.inf):
            mixture_point(x, lo + p, logc, means, param, tk, logp, score)


@numba.njit(cache=True, error_model="numpy", inline="always")
def mixture_range(x, logc, means, param, logp, score, lo, hi):  # pragma: no cover - compiled
    """log p and score of x[lo:hi] into logp[lo:hi], score[lo:hi], in chunks of CHUNK points with one
    workspace (the covariance form of ``param`` as in :func:`mixture_chunk`).  Inlined into its callers (the
    C callbacks below): one compiled level less, ~3.5 CPU-s per covariance form."""
    ws = mixture_workspace(means.shape[0], x.shape[1])
    for a in range(lo, hi, CHUNK):
        mixture_chunk(x, a, min(CHUNK, hi - a), logc, means, param, logp, score, ws, True)


# -- mixture_range of each covariance form as a C callback.  Its arrays come as addresses (uint64) and
#    sizes, so every form has the same C signature: the driver below receives the callback as an argument
#    and calls it through its address.  The driver is then compiled once for all forms, and compiling it
#    (in either form, serial or parallel) does not re-optimise the chunk routines, which Numba does for
#    every routine it links into a caller (twice in a parallel one: ~6 CPU-s per form).
_RANGE_SIG = numba.types.void(*([numba.types.uint64] * 6), *([numba.types.int64] * 5))


def _range_iso(xa, ca, ma, pa, la, sa, M, D, K, lo, hi):  # pragma: no cover - compiled
    f = np.float64
    mixture_range(numba.carray(pointer(xa, f), (M, D)), numba.carray(pointer(ca, f), (K,)),
                  numba.carray(pointer(ma, f), (K, D)), numba.carray(pointer(pa, f), (K,)),
                  numba.carray(pointer(la, f), (M,)), numba.carray(pointer(sa, f), (M, D)), lo, hi)


def _range_diag(xa, ca, ma, pa, la, sa, M, D, K, lo, hi):  # pragma: no cover - compiled
    f = np.float64
    mixture_range(numba.carray(pointer(xa, f), (M, D)), numba.carray(pointer(ca, f), (K,)),
                  numba.carray(pointer(ma, f), (K, D)), numba.carray(pointer(pa, f), (K, D)),
                  numba.carray(pointer(la, f), (M,)), numba.carray(pointer(sa, f), (M, D)), lo, hi)


def _range_full(xa, ca, ma, pa, la, sa, M, D, K, lo, hi):  # pragma: no cover - compiled
    f = np.float64
    mixture_range(numba.carray(pointer(xa, f), (M, D)), numba.carray(pointer(ca, f), (K,)),
                  numba.carray(pointer(ma, f), (K, D)), numba.carray(pointer(pa, f), (K, D, D)),
                  numba.carray(pointer(la, f), (M,)), numba.carray(pointer(sa, f), (M, D)), lo, hi)


#: the C callback of each form by the dimension of the kernel parameter, compiled (or loaded from the
#: cache) on first use: three distinct functions, so three cache entries
_RANGE_PY = {1: _range_iso, 2: _range_diag, 3: _range_full}
_RANGE = {}
_RANGE_LOCK = threading.Lock()


def range_routine(ndim: int):
    """The C callback running :func:`mixture_range` for kernel parameters of dimension ``ndim`` (1: isotropic,
    2: diagonal, 3: full), compiled on first use.  Arguments: the addresses of x (M, D), logc (K,), means
    (K, D), param, logp (M,), score (M, D) (C-contiguous float64), then M, D, K, lo, hi."""
    with _RANGE_LOCK:
        if ndim not in _RANGE:
            _RANGE[ndim] = numba.cfunc(_RANGE_SIG, cache=True, error_model="numpy")(_RANGE_PY[ndim])
        return _RANGE[ndim]


def _mixture_chunks(routine, x, logc, means, param):  # pragma: no cover - compiled (see specialise below)
    """The driver: groups of GROUP points, each run by the callback at address ``routine``
    (``range_routine(param.ndim).address``) with its own workspace.  ``prange`` runs the groups on all Numba
    threads in the parallel form and in order in the serial one."""
    M, D = x.shape
    K = means.shape[0]
    logp = np.empty(M)
    score = np.empty((M, D))
    for g in numba.prange((M + GROUP - 1) // GROUP):
        call_void(routine, x.ctypes.data, logc.ctypes.data, means.ctypes.data, param.ctypes.data,
                  logp.ctypes.data, score.ctypes.data, M, D, K, g * GROUP, min(M, (g + 1) * GROUP))
    return logp, score


_mixture_serial = specialise(_mixture_chunks, "serial", error_model="numpy")
_mixture_parallel = specialise(_mixture_chunks, "parallel", error_model="numpy", parallel=True)


#: set in a child process forked after this module was imported (see :func:`threads_safe`)
_FORKED = [False]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _FORKED.__setitem__(0, True))


def threads_safe() -> bool:
    """Whether this process may start Numba's threads: False in a child forked from a process that had
    imported nent_ref (its parent may have started Numba's GNU OpenMP threads, and starting them again
    in a forked child crashes).  Processes started by ``spawn`` or ``forkserver`` import afresh: True."""
    return not _FORKED[0]


def mixture_kernel(x, logc, means, param, threaded=False):
    """(logp, score) of a mixture from its component terms (:func:`component_terms`).

    One thread by default: the Monte Carlo callers parallelise over blocks with their executors, and
    a process forked after Numba started its OpenMP threads crashes when it starts them again (the
    default ``fork`` process pools on Linux).  ``threaded=True`` runs groups of points on all Numba
    threads when points x components x dimensions >= PARALLEL_MIN_WORK (same numbers either way).
    """
    x, logc, means, param = (np.ascontiguousarray(a, dtype=np.float64) for a in (x, logc, means, param))
    # the compiled routines read these buffers by address with the sizes given here: shapes must agree
    M, D = x.shape if x.ndim == 2 else (None, None)
    K = means.shape[0] if means.ndim == 2 else None
    if M is None or K is None or means.shape != (K, D) or logc.shape != (K,) or \
            param.shape not in ((K,), (K, D), (K, D, D)):
        raise ValueError(f"mixture_kernel: shapes must be x (M, D), logc (K,), means (K, D) and param (K,), (K, D) "
                         f"or (K, D, D); got x {x.shape}, logc {logc.shape}, means {means.shape}, param {param.shape}")
    work = M * K * D
    threaded = threaded and work >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1
    return (_mixture_parallel if threaded else _mixture_serial)(range_routine(param.ndim).address, x, logc, means,
                                                                 param)


#: public name of the overflow threshold the fused SDE kernels (nent_ref.quantities._sde_kernels) test
BIG = _BIG


def component_terms(log_weights, covs, D):
    """(log w_k + log normaliser_k, kernel parameter) for the three covariance forms."""
    if covs.ndim == 1:
        if not np.all(covs > 0):
            raise ValueError("isotropic variances must be positive")
        return log_weights - 0.5 * D * (np.log(covs) + _LOG_2PI), 1.0 / covs
    if covs.ndim == 2:
        if not np.all(covs > 0):
            raise ValueError("diagonal variances must be positive")
        return log_weights - 0.5 * (np.sum(np.log(covs), axis=1) + D * _LOG_2PI), 1.0 / covs
    try:
        chol = np.linalg.cholesky(covs)
    except np.linalg.LinAlgError:
        raise ValueError("a component covariance is not positive definite") from None
    half_logdet = np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
    linv = np.linalg.solve(chol, np.broadcast_to(np.eye(D), chol.shape))
    return log_weights - half_logdet - 0.5 * D * _LOG_2PI, np.ascontiguousarray(np.tril(linv))


def component_terms_steps(log_weights, covs_steps, D):
    """:func:`component_terms` of covs_steps[n] for every n at once (the forms by ``covs_steps.ndim - 1``):
    ``(logc (N, K), param (N, ...))``, the same numbers as one call per n (elementwise in the same
    order; the full form calls :func:`component_terms` per step)."""
    covs_steps = np.asarray(covs_steps, dtype=np.float64)
    if covs_steps.ndim == 4:
        terms = [component_terms(log_weights, c, D) for c in covs_steps]
        return np.array([t[0] for t in terms]), np.array([t[1] for t in terms])
    if not np.all(covs_steps > 0):
        raise ValueError("variances must be positive")
    if covs_steps.ndim == 2:
        return log_weights - 0.5 * D * (np.log(covs_steps) + _LOG_2PI), 1.0 / covs_steps
    if covs_steps.ndim == 3:
        return log_weights - 0.5 * (np.sum(np.log(covs_steps), axis=2) + D * _LOG_2PI), 1.0 / covs_steps
    raise ValueError(f"covs_steps must have 2, 3 or 4 dimensions (steps first; got shape {covs_steps.shape})")


def mixture_logpdf_score(x, log_weights, means, covs, *, threaded=False):
    """Log density and score of a Gaussian mixture at M points (Numba kernel).

    Parameters
    ----------
    x : (M, D) array
    log_weights : (K,) array
        Log weights (they are used as given: pass normalised weights for a density).
    means : (K, D) array
    covs : (K,) isotropic variances, (K, D) diagonal variances or (K, D, D) covariances
    threaded : bool
        Run chunks of points on all Numba threads (large M only; same numbers).  Off by default:
        do not combine it with ``fork``-started process pools (a forked child crashes when it starts
        OpenMP threads its parent had started).

    Returns
    -------
    logp : (M,) array
        :math:`\\log p(x) = \\operatorname{logsumexp}_k[\\log w_k + \\log N(x; m_k, S_k)]`.
    score : (M, D) array
        :math:`\\nabla\\log p(x) = -\\sum_k r_k(x) S_k^{-1}(x - m_k)`.
    """
    x, lw, means, covs = _prepare_mixture(x, log_weights, means, covs)
    logc, param = component_terms(lw, covs, means.shape[1])
    logc = np.ascontiguousarray(logc)
    return mixture_kernel(x, logc, means, param, threaded)


def mixture_logpdf_score_numpy(x, log_weights, means, covs):
    """Plain-numpy reference for :func:`mixture_logpdf_score` (allocates (M, K, D)).

    Differences are taken in coordinates scaled by a per-point power of two (exact), so far
    points (``|x| > 1e154``) give ``log p = -inf`` and the score of the dominant component (the
    widest one, or the nearest among equally wide ones), never NaN, as the kernel does.
    """
    x, lw, means, covs = _prepare_mixture(x, log_weights, means, covs)
    D = means.shape[1]
    mmax = float(np.max(np.abs(means), initial=0.0))
    Z = np.exp2(np.ceil(np.log2(np.maximum(np.max(np.abs(x), axis=1), max(mmax, 1.0)))))[:, None]   # (M, 1)
    diff = x[:, None, :] / Z[:, :, None] - means[None, :, :] / Z[:, :, None]       # (M, K, D), scaled
    if covs.ndim == 1:
        prec_diff = diff / covs[None, :, None]
        logdet = D * np.log(covs)
    elif covs.ndim == 2:
        prec_diff = diff / covs[None, :, :]
        logdet = np.sum(np.log(covs), axis=1)
    else:
        prec = np.linalg.inv(covs)
        prec_diff = np.einsum("kde,mke->mkd", prec, diff)
        logdet = np.linalg.slogdet(covs)[1]
    quad_s = np.sum(diff * prec_diff, axis=-1)                                 # (M, K), scaled by Z^-2
    with np.errstate(over="ignore"):
        energy = (np.sqrt(0.5 * quad_s) * Z) ** 2                               # inf only past the largest double
    terms = lw[None, :] - energy - 0.5 * (logdet[None, :] + D * _LOG_2PI)
    logp = logsumexp(terms, axis=1)
    far = ~np.isfinite(logp)
    with np.errstate(invalid="ignore"):
        resp = np.exp(terms - logp[:, None])
        resp /= resp.sum(axis=1, keepdims=True)     # logp may have lost log(sum) when |logp| is huge
    if np.any(far):         # far-point limit: the components tied at the least scaled energy
        e = np.where(np.isfinite(lw)[None, :], quad_s, np.inf)[far]
        tied = e == e.min(axis=1, keepdims=True)
        lt = np.where(tied, lw[None, :] - 0.5 * logdet[None, :], -np.inf)
        r = np.exp(lt - lt.max(axis=1, keepdims=True))
        resp[far] = r / r.sum(axis=1, keepdims=True)
    with np.errstate(over="ignore"):
        score = -np.einsum("mk,mkd->md", resp, prec_diff) * Z
    return logp, score


# --------------------------------------------------------------------------- empirical data
@numba.njit(cache=True, error_model="numpy", parallel=True)
def _emp_block_nb(G, xx, aa, lw, mu, inv2v, logc, tol):  # pragma: no cover - compiled
    # G (B, N) holds x @ atoms.T on entry and exp(log term - row max) on exit.  Returns (log p per
    # row, smallest squared distance per row, sum of the row's exponentials, number of entries of the
    # row at or above tol).  Each row is swept in runs of CHUNK atoms with per-lane maxima / minima /
    # sums (SIMD; max and min do not depend on the order).
    B, N = G.shape
    logp = np.empty(B)
    qmin = np.empty(B)
    ssum = np.ones(B)
    big = np.zeros(B, dtype=np.int64)
    P = CHUNK
    mu2 = mu * mu
    for i in numba.prange(B):
        row = G[i]
        tl = np.full(P, -np.inf)
        ql = np.full(P, np.inf)
        acc = np.zeros(P)
        sh = np.empty(P)
        fy = np.empty(3 * P)
        iy = fy.view(np.int64)
        xi = xx[i]
        for j0 in range(0, N, P):
            n = min(P, N - j0)
            for p in range(n):
                j = j0 + p
                q = xi - 2.0 * mu * row[j] + mu2 * aa[j]
                q = q if q > 0.0 else 0.0
                ql[p] = q if q < ql[p] else ql[p]
                t = lw[j] - q * inv2v
                row[j] = t
                tl[p] = t if t > tl[p] else tl[p]
        tmax = -np.inf
        qm = np.inf
        for p in range(P):
            tmax = tl[p] if tl[p] > tmax else tmax
            qm = ql[p] if ql[p] < qm else qm
        qmin[i] = qm
        if not tmax > -np.inf:          # every log term overflowed (far point): flag for the exact path
            qmin[i] = -1.0
            logp[i] = -np.inf
            for j in range(N):
                row[j] = 0.0
            continue
        for p in range(P):
            sh[p] = tmax
        _vexp_span(G, i, 0, N, sh, fy, iy, acc)
        cnt = 0
        for j in range(N):
            cnt += 1 if row[j] >= tol else 0
        s = 0.0
        for p in range(P):
            s += acc[p]
        ssum[i] = s
        big[i] = cnt
        logp[i] = tmax + math.log(s) + logc
    return logp, qmin, ssum, big


@numba.njit(cache=True, error_model="numpy", parallel=True)
def _emp_normalise_nb(G, ssum, tol):  # pragma: no cover - compiled
    # G[i] <- G[i] / ssum[i], entries below tol * ssum[i] set to 0 (the responsibilities the sparse
    # and refinement paths take)
    B, N = G.shape
    for i in numba.prange(B):
        row = G[i]
        cut = tol * ssum[i]
        inv = 1.0 / ssum[i]
        for j in range(N):
            e = row[j]
            row[j] = e * inv if e >= cut else 0.0


@numba.njit(cache=True, fastmath=False, parallel=True)
def _emp_refine_nb(x, atoms, rows, G, lw, mu, inv2v, logc, tol):  # pragma: no cover - compiled
    # For the listed rows of the block: recompute the log terms of the candidate atoms
    # (G[i, j] > 0) from direct differences, and overwrite G[i, :] with exact
    # responsibilities.  Returns log p for those rows.
    N, D = atoms.shape
    out = np.empty(rows.size)
    for r in numba.prange(rows.size):
        i = rows[r]
        tmax = -np.inf
        for j in range(N):
            if G[i, j] > 0.0:
                q = 0.0
                for d in range(D):
                    z = x[i, d] - mu * atoms[j, d]
                    q += z * z
                t = lw[j] - q * inv2v
                G[i, j] = t
                if t > tmax:
                    tmax = t
            else:
                G[i, j] = -np.inf
        if not tmax > -np.inf:          # far point: flag (NaN) for the exact path
            out[r] = np.nan
            for j in range(N):
                G[i, j] = 0.0
            continue
        ssum = 0.0
        for j in range(N):
            if G[i, j] > -np.inf:
                e = math.exp(G[i, j] - tmax)
                G[i, j] = e
                ssum += e
            else:
                G[i, j] = 0.0
        out[r] = tmax + math.log(ssum) + logc
        cut = tol * ssum
        inv = 1.0 / ssum
        for j in range(N):
            e = G[i, j]
            G[i, j] = e * inv if e >= cut else 0.0
    return out


#: Query rows with |x|^2 above this skip the matrix-product expansion (it would overflow) and
#: take the exact scaled path of the numpy twin.
_FAR = 1e300

#: Rows whose expansion |x|^2 + mu^2 max|a|^2 exceeds this multiple of the smallest squared
#: distance lose more than ~6 bits to cancellation and are recomputed from direct differences.
_CANCELLATION_LIMIT = 64.0


def blas_threads():
    """Threads of the BLAS numpy uses, from threadpoolctl when it is installed (``None`` otherwise)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    n = [i.get("num_threads") for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(n) if n else None


def _weighted_atoms(G, atoms, plain=None):
    """``G @ atoms`` (B, D), the weighted atom sums, in the orientation OpenBLAS runs faster: on one
    BLAS thread the plain product; on several (or when the thread count is unknown) the transposed
    ``(atoms^T G^T)^T``, which OpenBLAS splits over the output (the plain one takes about twice the
    CPU time there).  Both give the same sums up to rounding."""
    if plain is None:
        plain = G.shape[0] * G.shape[1] * atoms.shape[1] >= 1 << 26 and blas_threads() == 1
    if plain:
        return G @ atoms
    return (atoms.T @ G.T).T


def _prepare_empirical(x, atoms, log_weights, mu, v):
    x = np.ascontiguousarray(x, dtype=np.float64)
    atoms = np.ascontiguousarray(atoms, dtype=np.float64)
    lw = np.ascontiguousarray(log_weights, dtype=np.float64)
    if x.ndim != 2 or atoms.ndim != 2 or x.shape[1] != atoms.shape[1]:
        raise ValueError(f"need x (M, D) and atoms (N, D) (got {x.shape}, {atoms.shape})")
    if lw.shape != (atoms.shape[0],):
        raise ValueError(f"log_weights must have shape ({atoms.shape[0]},) (got {lw.shape})")
    mu, v = float(mu), float(v)
    if not (v > 0 and math.isfinite(v) and math.isfinite(mu)):
        raise ValueError(f"need a finite mean coefficient and a positive variance (got mu={mu}, v={v})")
    return x, atoms, lw, mu, v


def empirical_logpdf_score(x, atoms, log_weights, mu, v, *, block_bytes=64 * 2 ** 20, min_block_rows=512):
    r"""Log density and score of :math:`\sum_i w_i N(x; \mu a_i, v I)` at M points.

    Squared distances come from the expansion :math:`|x|^2 - 2\mu x\cdot a + \mu^2|a|^2`
    evaluated with one BLAS matrix product per block of queries (the floor of any exact
    evaluation); a fused Numba pass (SIMD exp) turns them into log-sum-exp.  The weighted atom
    sums are a second product over all atoms when at least half the entries of a block are
    >= 1e-18/N of their row's largest (large noise: the two-product floor); otherwise only the
    atoms with a responsibility above 1e-18/N of the total enter, gathered.
    Memory: a (B, N) distance block with B = max(min_block_rows, block_bytes / (8 N)) rows
    (B >= 512 keeps the matrix products efficient: each block streams and packs all atoms once per
    product; 256 rows cost 8 % more than 512 at N = 60000, D = 784), plus
    O((M + N) D); linear in N for fixed M.
    The expansion carries an absolute error of order ``1e-16 (|x|^2 + mu^2 |a|^2) / v``
    in the component log terms; rows where this exceeds 64 times the rounding of a direct
    difference (``|x|^2 + mu^2 max|a|^2 > 64 min_i |x - mu a_i|^2``, typically small v) have the
    log terms of their candidate atoms (responsibility above 1e-18/N) recomputed from direct
    differences, so the result is accurate to rounding in every regime.

    Parameters
    ----------
    x : (M, D) array
    atoms : (N, D) array
    log_weights : (N,) array of log atom weights
    mu, v : float
        Mean coefficient and variance of the forward transition at the time of interest.

    Returns
    -------
    logp : (M,) array;  score : (M, D) array, :math:`(\mu \bar a(x) - x)/v` with
    :math:`\bar a(x) = \sum_i r_i(x) a_i`.
    """
    x, atoms, lw, mu, v = _prepare_empirical(x, atoms, log_weights, mu, v)
    M, D = x.shape
    N = atoms.shape[0]
    with np.errstate(over="ignore"):
        xx = np.einsum("md,md->m", x, x)        # inf for far points, which take the exact path
    aa = np.einsum("nd,nd->n", atoms, atoms)
    logc = -0.5 * D * (math.log(v) + _LOG_2PI)
    inv2v = 0.5 / v
    tol = 1e-18 / N
    aamax = mu * mu * float(aa.max(initial=0.0))
    B = int(max(1, min(M, max(min_block_rows, block_bytes // (8 * N)))))
    logp = np.empty(M)
    abar = np.empty((M, D))
    far_rows = []
    plain = B * N * D >= 1 << 26 and blas_threads() == 1      # orientation of the weighted sums
    for start in range(0, M, B):
        stop = min(M, start + B)
        G = x[start:stop] @ atoms.T
        lp, qmin, ssum, big = _emp_block_nb(G, xx[start:stop], aa, lw, mu, inv2v, logc, tol)
        far = (qmin < 0) | ~(xx[start:stop] <= _FAR)
        with np.errstate(over="ignore"):
            rows = np.flatnonzero((xx[start:stop] + aamax > _CANCELLATION_LIMIT * qmin) & ~far)
        if rows.size == 0 and not np.any(far) and int(big.sum()) > (stop - start) * (N // 2):
            # dense (most atoms carry weight): the weighted sums of all exponentials, one product,
            # then the rows divided by their sums (no entry dropped)
            logp[start:stop] = lp
            abar[start:stop] = _weighted_atoms(G, atoms, plain) / ssum[:, None]
            continue
        _emp_normalise_nb(G, ssum, tol)
        if rows.size:
            # cancellation in the expansion: redo these rows' candidate atoms exactly
            # (the atoms dropped by the expansion carry < 1e-17 of the mass even with its error)
            lp[rows] = _emp_refine_nb(x[start:stop], atoms, rows, G, lw, mu, inv2v, logc, tol)
            far[rows[np.isnan(lp[rows])]] = True
        if np.any(far):
            G[far] = 0.0
            far_rows.append(start + np.flatnonzero(far))
        logp[start:stop] = lp
        cols = np.flatnonzero(np.any(G > 0.0, axis=0))
        if cols.size > N // 2:
            abar[start:stop] = _weighted_atoms(G, atoms, plain)
        else:                       # gathered atoms in chunks of at most block_bytes
            acc = np.zeros((stop - start, D))
            step = int(max(1, block_bytes // (8 * D)))
            for c0 in range(0, cols.size, step):
                c = cols[c0:c0 + step]
                acc += (atoms[c].T @ G[:, c].T).T
            abar[start:stop] = acc
    with np.errstate(over="ignore"):
        score = (mu * abar - x) / v              # +-inf only where the score exceeds the largest double
    if far_rows:
        # far points (|x|^2 or every log term overflows): exact scaled direct differences
        idx = np.concatenate(far_rows)
        logp[idx], score[idx] = empirical_logpdf_score_numpy(x[idx], atoms, lw, mu, v)
    return logp, score


def empirical_logpdf_score_numpy(x, atoms, log_weights, mu, v):
    """Plain-numpy reference for :func:`empirical_logpdf_score`: direct differences, one query at a time.

    Differences are taken in coordinates scaled by a power of two (exact) and the energies summed
    in an overflow-free order, so far points give ``log p = -inf`` (only when the true value is
    below the most negative double) and the score of the nearest atoms, never NaN.
    """
    x, atoms, lw, mu, v = _prepare_empirical(x, atoms, log_weights, mu, v)
    M, D = x.shape
    logp = np.empty(M)
    score = np.empty((M, D))
    centers = mu * atoms
    cmax = float(np.max(np.abs(centers), initial=0.0))
    live = np.isfinite(lw)
    for i in range(M):
        Z = 2.0 ** math.ceil(math.log2(max(1.0, cmax, float(np.max(np.abs(x[i]))))))
        diff = x[i] / Z - centers / Z                                            # (N, D), exact scaling
        q = np.sum(diff * diff, axis=1)
        with np.errstate(over="ignore"):
            terms = lw - (np.sqrt(0.5 * q / v) * Z) ** 2
        lse = logsumexp(terms)
        if np.isfinite(lse):
            r = np.exp(terms - lse)
            r /= r.sum()                # lse may have lost log(sum) to rounding when |lse| is huge
        else:                           # far-point limit: the nearest atoms (ties by weight)
            e = np.where(live, q, np.inf)
            lt = np.where(e == e.min(), lw, -np.inf)
            r = np.exp(lt - lt.max())
            r /= r.sum()
        logp[i] = lse - 0.5 * D * (math.log(v) + _LOG_2PI)
        with np.errstate(over="ignore"):
            score[i] = -((r @ diff) / v) * Z
    return logp, score
