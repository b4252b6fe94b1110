r"""Thermodynamic speed limit: entropy production versus optimal transport (docs/theory.md section 5).

For any of the linear forward processes (isotropic diffusion coefficient D(s)), the
Benamou-Brenier formula with the time-dependent mobility D(s) and the Cauchy-Schwarz inequality
give

.. math:: S_{tot}(s_0, s_1) \ge \frac{W_2^2(p_{s_0}, p_{s_1})}{\int_{s_0}^{s_1} D(s)\,ds},

with ``W2^2`` the squared 2-Wasserstein distance for the cost ``|x - y|^2``.  The *thermodynamic
efficiency* ``eta = W2^2 / (clock * S_tot)`` lies in (0, 1]; equality (eta = 1) needs the marginals
to move along the W2 geodesic at constant speed in the clock ``tau = int D ds``
(:func:`geodesic_protocol` constructs that protocol for Gaussian endpoints).

Derivation (used in the docstrings below): the probability current has velocity
``v = b - D grad log p = D (grad log p_eq^(s) - grad log p)``, so (2.1) reads
``Sdot = E|v|^2 / D``.  Benamou-Brenier: ``W2(p_s0, p_s1) <= int sqrt(E|v|^2) ds``, and
Cauchy-Schwarz: ``(int sqrt(E|v|^2) ds)^2 <= int E|v|^2 / D ds * int D ds = S_tot * clock``.

References: Benamou & Brenier, Numer. Math. 84 (2000); Aurell, Mejia-Monasterio & Muratore-Ginanneschi,
PRL 106 (2011); Nakazato & Ito, PRR 3 (2021); Premkumar, "Neural entropy".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.checks import count, real_scalar, seed_sequence
from ..core.data import Dirac, Gaussian
from ..core.estimate import DIMENSIONLESS, LENGTH2, NAT, Estimate
from ..core.mixture import GaussianMixture
from ..core.processes import check_process, check_times
from . import ot as _ot
from .entropy import rounding_rtol, total_entropy
from .neural import check_s_tot

__all__ = ["speed_limit", "SpeedLimitResult", "clock_estimate", "geodesic_protocol", "GeodesicProtocol", "gelbrich_lower_bound",
           "componentwise_upper_bound", "QUOTE_KINDS"]


#: Kinds of number :func:`speed_limit` tells a user to quote for the efficiency (``extra["quote_kind"]``).
QUOTE_KINDS = ("closed-form", "plug-in", "bracket")


@dataclass(frozen=True)
class SpeedLimitResult:
    """Both sides of the speed limit S_tot >= W2^2 / clock.

    Attributes
    ----------
    s_tot : Estimate
        Total entropy produced on [s0, s1] (unit ``"nat"``), from :func:`nent_ref.total_entropy`.
    w2_squared : Estimate
        W2^2(p_s0, p_s1) for the cost |x - y|^2 (unit ``"length^2"``, squared data units).
    clock : Estimate
        ``int_{s0}^{s1} D(s) ds`` (unit ``"length^2"``; closed form, ``float(result.clock)`` gives the number).
    bound : Estimate
        ``W2^2 / clock`` (unit ``"nat"``), the lower bound on S_tot.
    efficiency : Estimate
        ``W2^2 / (clock * S_tot)`` in (0, 1] (unit ``"1"``; errors propagated to first order).  Its
        ``extra`` says which number to quote (see :func:`speed_limit`): ``quote``, ``quote_error``,
        ``quote_kind`` in :data:`QUOTE_KINDS`, the closed-form bracket ``efficiency_lower`` /
        ``efficiency_upper`` (clipped to (0, 1]; sample route only), and ``plugin`` / ``plugin_note``.
    s0, s1 : float
    w2_method : str
    """

    s_tot: Estimate
    w2_squared: Estimate
    clock: Estimate
    bound: Estimate
    efficiency: Estimate
    s0: float
    s1: float
    w2_method: str


def _as_gaussian_params(p):
    """(mean, cov) of a Gaussian or a Dirac (zero covariance), else None."""
    if isinstance(p, Gaussian):
        return p.mean, p.cov
    if isinstance(p, Dirac):
        return p.point, np.zeros((p.dim, p.dim))
    return None


def _mixture_params_1d(p):
    """(weights, means, sds) of a 1-D Gaussian mixture-like object, else None."""
    if isinstance(p, GaussianMixture) and p.dim == 1:
        return p.weights, p.means[:, 0], np.sqrt(p.full_covs()[:, 0, 0])
    if isinstance(p, Gaussian) and p.dim == 1:
        return np.ones(1), p.mean, np.sqrt(p.cov[0])
    return None


def _logsumexp_1d(a):
    """``log(sum(exp(a)))`` of a 1-D array by the steps of ``scipy.special.logsumexp`` (the maximal terms
    are split off: ``log1p(s / k) + log(k) + max`` with ``k`` of them), without its per-call array-API
    dispatch, which dominated the quantile solves of :func:`_quantile_fn`.  Same operations in the same
    order; the number agrees with scipy's to the last bits of log1p and exp (numpy's AVX-512 routines and
    the C library's may differ by an ulp; tests/test_speed_limit.py checks it within 8 ulp)."""
    a_max = a.max()
    if not math.isfinite(a_max):                  # all -inf (an empty tail), +inf or nan: as scipy
        return float(a_max)
    is_max = a == a_max
    k = float(np.count_nonzero(is_max))
    s = float(np.sum(np.exp(np.where(is_max, -np.inf, a) - a_max)))
    if s != 0.0:
        s = s / k
    return math.log1p(s) + math.log(k) + float(a_max)


def _quantile_fn(w, m, sd):
    """Quantile function of a 1-D Gaussian mixture as a function of z, t = Phi(z): solves
    log F(x) = log Phi(z) (z <= 0) or log S(x) = log Phi(-z) (z > 0) with brentq, which keeps
    full relative precision in both tails."""
    from scipy.optimize import brentq
    from scipy.special import log_ndtr
    logsumexp = _logsumexp_1d
    logw = np.log(w)
    lo_all = float(np.min(m - 40 * sd))
    hi_all = float(np.max(m + 40 * sd))

    def q(z):
        if z <= 0:
            target = log_ndtr(z)
            g = lambda x: logsumexp(logw + log_ndtr((x - m) / sd)) - target   # noqa: E731
        else:
            target = log_ndtr(-z)
            g = lambda x: target - logsumexp(logw + log_ndtr((m - x) / sd))   # noqa: E731
        lo, hi = lo_all - 10 * abs(z) * sd.max(), hi_all + 10 * abs(z) * sd.max()
        return brentq(g, lo, hi, xtol=1e-14, rtol=1e-15, maxiter=500)
    return q


def _w2_squared_1d_mixtures(p0, p1):
    """W2^2 between 1-D Gaussian mixtures: int_0^1 (F0^-1 - F1^-1)^2 dt with t = Phi(z),
    = int (Q0(z) - Q1(z))^2 phi(z) dz, adaptive quadrature on |z| <= 38 (the neglected
    tails carry Gaussian mass < 1e-300).  Returns (value, quadrature error estimate)."""
    from scipy.integrate import quad
    q0 = _quantile_fn(*p0)
    q1 = _quantile_fn(*p1)

    def integrand(z):
        return (q0(z) - q1(z)) ** 2 * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    total, err = 0.0, 0.0
    for a, b in ((-38.0, -6.0), (-6.0, 0.0), (0.0, 6.0), (6.0, 38.0)):
        v, e = quad(integrand, a, b, epsabs=1e-14, epsrel=1e-12, limit=200)
        total += v
        err += e
    return total, err


_EPS = float(np.finfo(float).eps)
#: Relative rounding bound of the batched Bures formula (nent_ref.quantities.ot.w2_squared_gaussian is accurate
#: to rounding relative to W2^2 itself for well-conditioned covariances).
_BURES_RTOL = 1e-12


def _w2_squared_marginals(data, process, s0, s1):
    r"""W2^2(p_s0, p_s1) of Gaussian or Dirac data without cancellation, with its rounding bound.

    Both marginals share the eigenbasis of the data covariance (eigenvalues
    :math:`\lambda_{s,i} = \mu(s)^2\lambda_i + v(s)`), so they commute and
    :math:`W_2^2 = (\mu_0 - \mu_1)^2 |m|^2 + \sum_i (\sqrt{\lambda_{s_1,i}} - \sqrt{\lambda_{s_0,i}})^2`
    (Bures), evaluated as :math:`(\mu_0^2 - \mu_1^2)^2 |m|^2/(\mu_0 + \mu_1)^2 + \sum_i
    \Delta_i^2/(\sqrt{\lambda_{s_1,i}} + \sqrt{\lambda_{s_0,i}})^2` with
    :math:`\Delta_i = (\mu_0^2 - \mu_1^2)(k^2 - \lambda_i)` (or ``v1 - v0`` for VE) taken from
    :meth:`mean_coeff_sq_drop` / :meth:`marginal_var_increase`: no difference of nearly equal numbers.
    """
    m2, lam = data.spectrum()
    drop = float(process.mean_coeff_sq_drop(s0, s1))
    mu0, mu1 = math.sqrt(float(process.mean_coeff_sq(s0))), math.sqrt(float(process.mean_coeff_sq(s1)))
    v0, v1 = float(process.marginal_var(s0)), float(process.marginal_var(s1))
    if process.has_equilibrium:
        delta = drop * (process.peq_var - lam)
    else:
        delta = np.full(lam.shape, float(process.marginal_var_increase(s0, s1)))
    r0, r1 = np.sqrt(mu0 * mu0 * lam + v0), np.sqrt(mu1 * mu1 * lam + v1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = np.where(delta == 0.0, 0.0, (delta / (r0 + r1)) ** 2)
        mean = 0.0 if drop == 0.0 else (drop / (mu0 + mu1)) ** 2 * m2
    value = float(np.sum(cov) + mean)
    growth = max(float(rounding_rtol(process, s0, lam.size)), float(rounding_rtol(process, s1, lam.size)))
    return Estimate(value, 0.0, "closed-form (Bures, shared eigenbasis)", error_bound=2.0 * growth * value,
                    unit=LENGTH2)


def _moments(p):
    """(mean, covariance) of a Gaussian mixture-like object (weights, means, full_covs), else None."""
    try:
        w, m, S = p.weights, p.means, p.full_covs()
    except (AttributeError, TypeError):
        return None
    mean = w @ m
    d = m - mean
    return mean, np.einsum("k,kij->ij", w, S) + (d.T * w) @ d


def gelbrich_lower_bound(p0, p1):
    """Gelbrich's lower bound W2^2(p0, p1) >= W2^2(N(m0, S0), N(m1, S1)) with the means and
    covariances of p0, p1 (Gelbrich, Math. Nachr. 147, 1990); equality for Gaussians.
    Returns None when the moments are not available."""
    g0, g1 = _moments(p0), _moments(p1)
    if g0 is None or g1 is None:
        return None
    return _ot.w2_squared_gaussian(g0[0], g0[1], g1[0], g1[1])


def componentwise_upper_bound(p0, p1):
    r"""Upper bound on W2^2(p0, p1) for two Gaussian mixtures with matching components.

    Transporting component k of p0 onto component k of p1 by its Gaussian Monge map is a
    coupling, so :math:`W_2^2(p_0, p_1) \le \sum_k w_k\, W_2^2(N(m_k^0, S_k^0), N(m_k^1, S_k^1))`
    (Bures per component; cost |x - y|^2; Delon & Desolneux, SIAM J. Imaging Sci. 13 (2020)).
    The forward diffusion keeps each component's weight, so p_s0 and p_s1 of one mixture or
    empirical data always match.  Returns None when the two are not such mixtures.
    """
    try:
        w0, w1 = np.asarray(p0.weights), np.asarray(p1.weights)
        m0, m1 = p0.means, p1.means
        S0, S1 = p0.full_covs(), p1.full_covs()
    except (AttributeError, TypeError):
        return None
    if w0.shape != w1.shape or not np.allclose(w0, w1, rtol=1e-12, atol=0.0):
        return None
    return float(w0 @ _ot.w2_squared_gaussian(m0, S0, m1, S1))


def _w2_squared_samples(p0, p1, n, pairs, seed):
    """Exact OT between independent samples: mean over ``pairs`` independent (p0, p1) sample
    pairs of size n, its standard error, and the bias scale (mean self-transport term
    (W2^2(p0_n, p0'_n) + W2^2(p1_n, p1'_n)) / 2, the order of the positive bias of the plug-in
    estimator)."""
    ss = seed_sequence(seed, "w2_seed")
    problems = []
    for child in ss.spawn(pairs):
        k = child.spawn(4)
        x, y = p0.sample(n, seed=k[0]), p1.sample(n, seed=k[1])
        x2, y2 = p0.sample(n, seed=k[2]), p1.sample(n, seed=k[3])
        problems += [(x, y), (x, x2), (y, y2)]
    w = np.asarray(_ot.w2_squared_many(problems)).reshape(pairs, 3)   # independent solves, on all threads
    vals, selfs = w[:, 0], 0.5 * (w[:, 1] + w[:, 2])
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(pairs)), float(np.mean(selfs))


def speed_limit(data, process, s0: float = 0.0, s1: float | None = None, *, w2_method: str = "auto",
                w2_samples: int = 1000, w2_pairs: int = 8, w2_seed=0, s_tot=None,
                **entropy_options) -> SpeedLimitResult:
    r"""Both sides of the thermodynamic speed limit ``S_tot(s0, s1) >= W2^2(p_s0, p_s1) / clock``.

    Parameters
    ----------
    data : Gaussian, Dirac, GaussianMixture, Empirical, ...
        Data distribution at s = 0 (anything with ``diffuse(process, s)`` returning an object with
        ``sample(n, seed)``, and supported by :func:`nent_ref.total_entropy`).
    process : VP, SL, VE
    s0, s1 : float
        Forward-time window, ``s0 < s1`` (ValueError otherwise); ``s1`` defaults to ``process.T``.
        Dirac and empirical data need ``s0 > 0``.
    w2_method : {"auto", "closed-form", "quantile", "samples"}
        ``closed-form``: Bures formula (Gaussian/Dirac marginals, exact).  ``quantile``: 1-D
        Gaussian mixtures, ``int_0^1 (F0^-1 - F1^-1)^2 dt`` by adaptive quadrature with the
        quantiles found by root finding (error estimate in ``error_bound``).  ``samples``:
        exact discrete OT (:func:`nent_ref.quantities.ot.w2_squared`, cost |x - y|^2) between ``w2_pairs``
        independent pairs of ``w2_samples`` draws (seeded by ``w2_seed``, any seed accepted by
        :func:`nent_ref.core.checks.seed_sequence`); ``stderr`` is the standard error over pairs and
        ``error_bound`` the bias scale (mean self-transport cost of two independent samples of the
        same marginal), which bounds the order of the plug-in estimator's positive bias; in high
        dimension that bias is large (curse of dimensionality), so ``extra`` also carries
        Gelbrich's moment lower bound (:func:`gelbrich_lower_bound`) and the component-wise
        upper bound (:func:`componentwise_upper_bound`) when available.
        ``auto``: closed form if possible, else quantile in 1-D, else samples.
    s_tot : Estimate, optional
        S_tot(s0, s1) in nats when the caller already has it (then it is not recomputed).
    **entropy_options
        Passed to :func:`nent_ref.total_entropy` (``method``, ``n_samples``, ``seed``, ...).

    Returns
    -------
    SpeedLimitResult
        ``s_tot`` (nat), ``w2_squared`` (length^2), ``clock = int D ds`` (length^2),
        ``bound = W2^2 / clock`` (nat) and the efficiency ``eta = W2^2 / (clock * S_tot)`` (unit
        "1"), which is <= 1 (up to the stated errors).  When the clock is infinite (SL up to
        s1 = 1) the bound and the efficiency are 0.

    Which efficiency to quote
    -------------------------
    ``efficiency.extra`` holds ``quote``, ``quote_error`` and ``quote_kind``:

    * ``"closed-form"``: W2^2 is deterministic (Bures formula or quantile quadrature); quote
      ``eta`` with ``stderr + error_bound`` (the uncertainty of S_tot and of the quadrature).
    * sample route: the true efficiency lies in the closed-form bracket
      ``[efficiency_lower, efficiency_upper]`` = [Gelbrich lower bound, min(component-wise upper
      bound, 1)] / (clock S_tot) (clipped to (0, 1]: the speed limit forbids eta > 1; a missing
      side is 0 or 1), evaluated at the given S_tot (so it carries S_tot's relative standard
      error).  The sample plug-in ``eta`` is reported (``extra["plugin"]``) only where its bias
      scale (``error_bound``) is below the bracket width, else ``plugin`` is None and
      ``plugin_note`` says why.  ``"plug-in"`` is quoted (``quote_error = stderr + bias scale``)
      when it is reported, lies inside the bracket and its error is below half the bracket
      width; otherwise ``"bracket"``: ``quote`` is the bracket midpoint and ``quote_error`` its
      half-width.
    """
    if not hasattr(data, "diffuse"):
        raise ValueError("data must be a distribution with .diffuse(process, s) (Gaussian, Dirac, GaussianMixture, "
                         f"Empirical) (got {type(data).__name__})")
    check_process(process)
    if w2_method not in ("auto", "closed-form", "quantile", "samples"):
        raise ValueError(f"unknown w2_method {w2_method!r} (choose 'auto', 'closed-form', 'quantile' or 'samples')")
    s1 = process.T if s1 is None else s1
    s0 = float(check_times(real_scalar("s0", s0), process, "s0"))
    s1 = float(check_times(real_scalar("s1", s1), process, "s1"))
    if not s0 < s1:
        raise ValueError(f"need s0 < s1 (got s0={s0:g}, s1={s1:g}): the speed limit compares p_s0 with p_s1 "
                         "over a window of positive length (clock = 0 there)")
    if w2_method in ("auto", "samples"):
        w2_samples = count("w2_samples", w2_samples, 2)
        w2_pairs = count("w2_pairs", w2_pairs, 2)
        w2_seed = seed_sequence(w2_seed, "w2_seed")    # validated before any work (an int gives the same root)
    if s_tot is None:
        s_tot = total_entropy(data, process, s0, s1, **entropy_options)
    else:
        check_s_tot(s_tot)
    if not s_tot.value > 0:
        if s_tot.value == 0:
            raise ValueError(f"S_tot(s0, s1) = 0 on [{s0:g}, {s1:g}]: no entropy is produced (the marginals do not "
                             "move, e.g. data already at equilibrium), so the efficiency W2^2 / (clock S_tot) is "
                             "undefined (0/0)")
        raise ValueError(f"S_tot(s0, s1) must be positive (got {s_tot.value!r}): the efficiency "
                         "W2^2 / (clock S_tot) is undefined otherwise")
    clock_est = clock_estimate(process, s0, s1)
    clock = clock_est.value
    p0 = data.diffuse(process, s0)
    p1 = data.diffuse(process, s1)
    g0, g1 = _as_gaussian_params(p0), _as_gaussian_params(p1)
    m0, m1 = _mixture_params_1d(p0), _mixture_params_1d(p1)
    if w2_method == "auto":
        w2_method = "closed-form" if (g0 is not None and g1 is not None) else (
            "quantile" if (m0 is not None and m1 is not None) else "samples")
    if w2_method == "closed-form":
        if g0 is None or g1 is None:
            raise ValueError("w2_method='closed-form' needs Gaussian (or Dirac) marginals")
        if isinstance(data, (Gaussian, Dirac)):
            w2 = _w2_squared_marginals(data, process, s0, s1)
        else:
            w2 = Estimate(_ot.w2_squared_gaussian(g0[0], g0[1], g1[0], g1[1]), 0.0, "closed-form (Bures)",
                          error_bound=_BURES_RTOL * _ot.w2_squared_gaussian(g0[0], g0[1], g1[0], g1[1]),
                          unit=LENGTH2)
    elif w2_method == "quantile":
        if m0 is None or m1 is None:
            raise ValueError("w2_method='quantile' needs one-dimensional Gaussian(-mixture) marginals")
        val, err = _w2_squared_1d_mixtures(m0, m1)
        w2 = Estimate(val, 0.0, "quadrature (quantile functions)", error_bound=err, unit=LENGTH2)
    else:
        mean, se, bias = _w2_squared_samples(p0, p1, w2_samples, w2_pairs, w2_seed)
        w2 = Estimate(mean, se, "monte-carlo (exact OT between samples)", error_bound=bias,
                      n_samples=w2_samples * w2_pairs, unit=LENGTH2,
                      extra={"bias_scale": bias, "gelbrich_lower_bound": gelbrich_lower_bound(p0, p1),
                             "componentwise_upper_bound": componentwise_upper_bound(p0, p1)})
    if math.isinf(clock):
        bound = Estimate(0.0, 0.0, w2.method, unit=NAT)
        eff = Estimate(0.0, 0.0, "clock is infinite", unit=DIMENSIONLESS,
                       extra={"quote": 0.0, "quote_error": 0.0, "quote_kind": "closed-form", "plugin": 0.0,
                              "plugin_note": None, "efficiency_lower": None, "efficiency_upper": None})
    else:
        bound = Estimate(w2.value / clock, w2.stderr / clock, w2.method, error_bound=w2.error_bound / clock,
                         unit=NAT)
        eff = _efficiency(w2, clock_est, s_tot, sampled=(w2_method == "samples"))
    return SpeedLimitResult(s_tot, w2, clock_est, bound, eff, s0, s1, w2_method)


def clock_estimate(process, s0, s1) -> Estimate:
    r"""The clock :math:`\tau(s_0, s_1) = \int_{s_0}^{s_1} D(s)\, ds` (unit ``"length^2"``) with its rounding bound.

    The closed form of ``process.clock`` is accurate to the relative rounding bound of the closed forms at
    both ends (:func:`nent_ref.quantities.entropy.rounding_rtol`); the bound is never 0 for a finite,
    positive clock (a bound of 0 would claim exactness).  An infinite clock (SL or the cosine VP up to
    ``s1 = T``) is returned as ``inf``.
    """
    clock = float(process.clock(s0, s1))
    bound = float(np.max(rounding_rtol(process, np.array([s0, s1], dtype=float)))) * clock if math.isfinite(clock) else 0.0
    return Estimate(clock, 0.0, "closed-form", unit=LENGTH2, error_bound=bound)


def _efficiency(w2, clock_est, s_tot, *, sampled):
    """eta = W2^2 / (clock S_tot) with first-order errors, the clipped bracket and the quote (see speed_limit)."""
    if not isinstance(clock_est, Estimate):
        clock_est = Estimate(float(clock_est), 0.0, "closed-form", unit=LENGTH2)
    clock = clock_est.value
    eta = w2.value / (clock * s_tot.value)
    rel = lambda e: (e.stderr / abs(e.value)) if e.value else 0.0   # noqa: E731
    relb = lambda e: (e.error_bound / abs(e.value)) if e.value else 0.0   # noqa: E731
    stderr = abs(eta) * math.hypot(rel(w2), rel(s_tot))
    # the bounds of W2^2, S_tot and the clock, plus the rounding of the quotient itself
    bias = abs(eta) * (relb(w2) + relb(s_tot) + relb(clock_est) + 4.0 * _EPS)
    if not sampled and eta > 1.0 and eta - 1.0 <= bias:
        # the speed limit forbids eta > 1: a deterministic quotient above 1 by less than its own error bound
        # (rounding on a nearly optimal, e.g. very short, window) is brought back to 1, which can only move
        # it closer to the truth (the bound still holds)
        eta = 1.0
    if not sampled:
        extra = {"quote": eta, "quote_error": stderr + bias, "quote_kind": "closed-form", "plugin": eta,
                 "plugin_note": None, "efficiency_lower": None, "efficiency_upper": None}
    else:
        # closed-form bracket of the efficiency from the W2^2 bounds, at the given S_tot, clipped to (0, 1]
        lo_w2, up_w2 = w2.extra.get("gelbrich_lower_bound"), w2.extra.get("componentwise_upper_bound")
        upper = 1.0 if up_w2 is None else min(up_w2 / (clock * s_tot.value), 1.0)
        lower = 0.0 if lo_w2 is None else min(max(lo_w2 / (clock * s_tot.value), 0.0), upper)
        width = upper - lower
        plugin, note = eta, None
        if not bias < width:
            plugin = None
            note = (f"plug-in not reported: its bias scale {bias:.3g} is not below the width {width:.3g} of the "
                    "closed-form bracket")
        elif not lower <= eta <= upper:
            note = (f"plug-in {eta:.4g} lies outside the closed-form bracket [{lower:.4g}, {upper:.4g}] "
                    f"(by {max(lower - eta, eta - upper) / stderr if stderr else math.inf:.2g} standard errors)")
        if plugin is not None and note is None and stderr + bias < 0.5 * width:
            quote, quote_error, kind = eta, stderr + bias, "plug-in"
        else:
            quote, quote_error, kind = 0.5 * (lower + upper), 0.5 * width, "bracket"
        extra = {"quote": quote, "quote_error": quote_error, "quote_kind": kind, "plugin": plugin,
                 "plugin_note": note, "efficiency_lower": lower, "efficiency_upper": upper}
    return Estimate(eta, stderr, f"{w2.method} / {s_tot.method}", error_bound=bias, unit=DIMENSIONLESS, extra=extra)


# ----------------------------------------------------------------------------------------------
# the optimal protocol


class GeodesicProtocol:
    r"""The protocol that attains the speed limit between two Gaussians.

    Marginals move along the W2 geodesic (McCann interpolation) at constant speed in the clock:

    .. math:: t(s) = \frac{\tau(s) - \tau(s_0)}{\tau(s_1) - \tau(s_0)},\quad
              m_t = (1-t) m_0 + t m_1,\quad \Sigma_t = M_t \Sigma_0 M_t,\quad M_t = (1-t) I + t A,

    with A the Monge matrix of :func:`nent_ref.quantities.ot.gaussian_monge_map`.  The velocity field of
    this path is linear, ``v(x, s) = t'(s) [ (A - I) M_t^{-1} (x - m_t) + (m_1 - m_0) ]`` with
    ``t' = D(s) / clock`` (for 1-D verified symbolically in derivations/ot_gaussian.py).  Keeping the
    diffusion coefficient D(s) of the given process, the drift that produces this path is
    ``b = v + D grad log p_s`` (Fokker-Planck: the current is p (b - D grad log p) = p v), i.e.

    .. math:: b(x, s) = B(s) (x - m_t) + t'(s) (m_1 - m_0),\qquad
              B(s) = t'(s) (A - I) M_t^{-1} - D(s) \Sigma_t^{-1}.

    B(s) is symmetric (A - I and M_t are polynomials in the symmetric A, hence commute, and
    Sigma_t^{-1} is symmetric), so b is a gradient and the frozen-time
    quasi-invariant density exists as ``grad log p_eq^(s) = b / D`` -- it depends on s, so
    identity (2.2) does not apply and S_tot must be integrated from the rate (2.1):
    ``Sdot = D E|b/D - grad log p_s|^2 = E|v|^2 / D = D W2^2 / clock^2``, whence
    ``S_tot = W2^2 / clock`` exactly (equality in the speed limit).  :meth:`total_entropy`
    integrates the rate numerically from the matrices above (not from the last formula), and
    :meth:`check_moments` integrates the moment equations of the drift to confirm that it
    produces the geodesic marginals.
    """

    def __init__(self, m0, S0, m1, S1, process, s0: float, s1: float):
        self.m0, self.S0 = np.atleast_1d(np.asarray(m0, float)), np.atleast_2d(np.asarray(S0, float))
        self.m1, self.S1 = np.atleast_1d(np.asarray(m1, float)), np.atleast_2d(np.asarray(S1, float))
        self.process = process
        self.s0, self.s1 = float(s0), float(s1)
        if not self.s0 < self.s1:
            raise ValueError("need s0 < s1")
        self.A, _ = _ot.gaussian_monge_map(self.m0, self.S0, self.m1, self.S1)
        self.clock = float(process.clock(self.s0, self.s1))
        if not (math.isfinite(self.clock) and self.clock > 0):
            raise ValueError("the clock int D ds must be finite and positive on [s0, s1]")
        self.w2_squared = _ot.w2_squared_gaussian(self.m0, self.S0, self.m1, self.S1)
        self.dim = self.m0.size

    def t(self, s):
        """Geodesic parameter t(s) = (tau(s) - tau(s0)) / clock."""
        return float(self.process.clock(self.s0, s)) / self.clock

    def marginal(self, s):
        """(m_t, Sigma_t) of the protocol's marginal at time s."""
        t = self.t(s)
        M = (1 - t) * np.eye(self.dim) + t * self.A
        return (1 - t) * self.m0 + t * self.m1, M @ self.S0 @ M

    def drift(self, s):
        """(B(s), c(s)) with b(x, s) = B(s) x + c(s)."""
        t = self.t(s)
        D = float(self.process.diffusion(s))
        tp = D / self.clock
        I = np.eye(self.dim)
        M = (1 - t) * I + t * self.A
        m, S = self.marginal(s)
        B = tp * (self.A - I) @ np.linalg.inv(M) - D * np.linalg.inv(S)
        B = 0.5 * (B + B.T)
        c = tp * (self.m1 - self.m0) - B @ m
        return B, c

    def rate(self, s):
        """Sdot(s) = D E_{p_s} |grad log p_eq^(s) - grad log p_s|^2 with grad log p_eq^(s) = b / D."""
        D = float(self.process.diffusion(s))
        B, c = self.drift(s)
        m, S = self.marginal(s)
        Sinv = np.linalg.inv(S)
        G = B / D + Sinv                    # gradient residual is G (x - m) + (B m + c) / D
        h = (B @ m + c) / D
        return D * (np.trace(G @ S @ G.T) + h @ h)

    def total_entropy(self):
        """int_{s0}^{s1} Sdot ds by adaptive quadrature: (value, error estimate)."""
        from scipy.integrate import quad
        return quad(self.rate, self.s0, self.s1, epsabs=1e-14, epsrel=1e-13, limit=200)

    def check_moments(self, rtol=1e-11):
        """Integrate dm/ds = B m + c, dSigma/ds = B Sigma + Sigma B + 2 D I from (m0, S0) and return
        the largest deviation from the geodesic marginals at s1 (relative to their scale)."""
        from scipy.integrate import solve_ivp
        d = self.dim

        def rhs(s, y):
            m, S = y[:d], y[d:].reshape(d, d)
            B, c = self.drift(s)
            D = float(self.process.diffusion(s))
            return np.concatenate([B @ m + c, (B @ S + S @ B.T + 2 * D * np.eye(d)).ravel()])
        sol = solve_ivp(rhs, (self.s0, self.s1), np.concatenate([self.m0, self.S0.ravel()]),
                        method="DOP853", rtol=rtol, atol=rtol * 1e-2)
        m, S = sol.y[:d, -1], sol.y[d:, -1].reshape(d, d)
        scale = 1.0 + np.abs(self.m1).max() + np.abs(self.S1).max()
        return max(np.abs(m - self.m1).max(), np.abs(S - self.S1).max()) / scale


def geodesic_protocol(m0, S0, m1, S1, process, s0: float, s1: float) -> GeodesicProtocol:
    """The optimal (speed-limit attaining) protocol between N(m0, S0) and N(m1, S1) on [s0, s1]
    with the diffusion coefficient of ``process``; see :class:`GeodesicProtocol`."""
    return GeodesicProtocol(m0, S0, m1, S1, process, s0, s1)


# ----------------------------------------------------------------------------------------------
# table suite


