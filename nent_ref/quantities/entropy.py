r"""Entropy production of the forward process: rate, total, and KL to equilibrium.

Definitions (docs/theory.md section 2; forward time ``s``, data at ``s = 0``, nats unless ``base=``):

.. math::
    \dot S(s) = D(s)\, \mathbb E_{p_s} \big\| \nabla\log p_{eq} - \nabla \log p_s \big\|^2 \ge 0,
    \qquad S_{tot}(s_0, s_1) = \int_{s_0}^{s_1} \dot S(s)\, ds .

For processes with a time-independent equilibrium (VP, VPx, SL) the exact identities
:math:`\tfrac{d}{ds}\mathrm{KL}(p_s\|p_{eq}) = -\dot S` and
:math:`S_{tot}(s_0,s_1) = \mathrm{KL}(p_{s_0}\|p_{eq}) - \mathrm{KL}(p_{s_1}\|p_{eq})` hold, and
:func:`total_entropy` uses the KL difference.  For VE (no equilibrium)
:math:`\dot S = D\,\mathbb E\|\nabla\log p_s\|^2 = dH(p_s)/ds` and
:math:`S_{tot} = H(p_{s_1}) - H(p_{s_0})`.

The three public functions dispatch on the data type (``functools.singledispatch`` on the
private ``_rate``, ``_kl_eq`` and ``_total``); Gaussian and Dirac data are closed form
(derived in ``derivations/linear_gaussian.py``).  Other modules register further data types.

References
----------
Premkumar, "Neural entropy" (2024/2025) and docs/theory.md; Seifert, Rep. Prog. Phys. 75, 126001 (2012).
"""
from __future__ import annotations

import functools

import numpy as np

from ..core.checks import count, real_scalar
from ..core.data import DEFAULT_CUTOFF, Dirac, Gaussian
from ..core.estimate import NAT_PER_TIME, Estimate
from ..core.processes import check_process, check_times

__all__ = ["register", "gaussian_kl_eq", "gaussian_rate", "entropy_production_rate", "total_entropy", "kl_to_equilibrium", "rate_curve", "rate_nodes", "rounding_rtol"]


# --------------------------------------------------------------------------- public API
def entropy_production_rate(data, process, s, *, base=None, **options) -> Estimate:
    r"""Entropy production rate :math:`\dot S(s) = D(s)\,\mathbb E_{p_s}\|\nabla\log p_{eq}-\nabla\log p_s\|^2`.

    Parameters
    ----------
    data : Gaussian, Dirac, or any registered data type
        The data distribution at ``s = 0``.
    process : VP, SL or VE
    s : float or array_like
        Forward time(s) in ``[0, T]`` (``[0, T)`` for SL and the cosine VP, whose drift is
        singular at ``T``).  Dirac/empirical data need ``s > 0``.
    base : float, optional
        Unit: nats per unit time by default, ``base=2`` for bits.
    **options
        Method options of the data type (e.g. ``method=``, ``seed=`` for mixtures).

    Returns
    -------
    Estimate
        In nats per unit time (``unit="nat/time"``); array-valued when ``s`` is an array.
    """
    check_process(process)
    s = check_times(s, process, "s", allow_T=not process.singular_at_T)
    return _in_base(_rate(data, process, s, **options).with_unit(NAT_PER_TIME), base)


def kl_to_equilibrium(data, process, s, *, base=None, **options) -> Estimate:
    r""":math:`\mathrm{KL}(p_s \,\|\, p_{eq})` at forward time(s) ``s``.

    Raises ValueError for VE (no normalisable equilibrium) and for Dirac/empirical data at
    ``s = 0`` (infinite).
    """
    check_process(process)
    if not process.has_equilibrium:
        raise ValueError(f"{process!r} has no normalisable equilibrium, so KL(p_s || p_eq) is undefined")
    s = check_times(s, process, "s")
    return _in_base(_kl_eq(data, process, s, **options), base)


def total_entropy(data, process, s0=0.0, s1=None, *, base=None, **options) -> Estimate:
    r"""Total entropy produced between ``s0`` and ``s1``: :math:`S_{tot}(s_0, s_1) = \int_{s_0}^{s_1}\dot S\,ds`.

    ``s1`` defaults to the process's final time ``T``.  Dirac and empirical data need
    ``s0 > 0`` because :math:`S_{tot}(s_0, T)` grows like :math:`(D/2)\log(1/s_0)`.
    ``s0`` and ``s1`` broadcast against each other.
    """
    check_process(process)
    s1 = process.T if s1 is None else s1
    s0 = check_times(s0, process, "s0")
    s1 = check_times(s1, process, "s1")
    if np.any(s0 > s1):
        raise ValueError(f"need s0 <= s1 (got s0={s0}, s1={s1})")
    return _in_base(_total(data, process, s0, s1, **options), base)


def _in_base(est: Estimate, base) -> Estimate:
    return est if base is None else est.in_base(base)


# --------------------------------------------------------------------------- rate curve
def rate_nodes(s0, s1, n=64, log_fraction=0.5, first_offset=1e-4):
    """Time grid on [s0, s1]: log-spaced near s0 for the first ``log_fraction`` of the nodes.

    For ``s0 > 0`` the log part is ``geomspace(s0, s0 + 0.1 (s1 - s0))``; for ``s0 = 0``
    it is ``0`` followed by ``geomspace(first_offset, 0.1) * (s1 - s0)``; the rest is linear
    up to ``s1``.  Returns a strictly increasing array of about ``n`` nodes (``n >= 4``: two log-spaced
    and two linear nodes at least).
    """
    n = count("n", n, 4)
    s0, s1 = float(real_scalar("s0", s0)), float(real_scalar("s1", s1))
    if not s1 > s0 >= 0:
        raise ValueError(f"need 0 <= s0 < s1 (got {s0}, {s1})")
    n_log = max(2, int(round(n * log_fraction)))
    n_lin = max(2, n - n_log)
    L = s1 - s0
    knee = s0 + 0.1 * L
    if s0 > 0:
        head = np.geomspace(s0, knee, n_log)
    else:
        head = np.concatenate([[0.0], np.geomspace(first_offset * L, knee, n_log - 1)])
    tail = np.linspace(knee, s1, n_lin + 1)[1:]
    return np.concatenate([head, tail])


def rate_curve(data, process, s0=None, s1=None, n=64, **options):
    r"""The entropy-production rate :math:`\dot S(s)` on a grid, for figures.

    ``s0`` defaults to 0 (``DEFAULT_CUTOFF`` = 1e-5 for Empirical and Dirac data), ``s1`` to T (or
    ``T - 1e-4`` where the drift is singular at T).  Nodes from :func:`rate_nodes`
    (log-spaced near s0).  Returns ``(s, Estimate)``; options go to
    :func:`entropy_production_rate` (``method``, ``seed``, ``n_samples`` ...).
    """
    if s0 is None:
        s0 = DEFAULT_CUTOFF if getattr(data, "needs_cutoff", False) else 0.0
    if s1 is None:
        s1 = process.T - 1e-4 if process.singular_at_T else process.T
    s = rate_nodes(s0, s1, n)
    return s, entropy_production_rate(data, process, s, **options)


# --------------------------------------------------------------------------- dispatch
@functools.singledispatch
def _rate(data, process, s, **options) -> Estimate:
    raise TypeError(f"no entropy-production rate for data of type {type(data).__name__}")


@functools.singledispatch
def _kl_eq(data, process, s, **options) -> Estimate:
    raise TypeError(f"no KL to equilibrium for data of type {type(data).__name__}")


@functools.singledispatch
def _total(data, process, s0, s1, **options) -> Estimate:
    raise TypeError(f"no total entropy for data of type {type(data).__name__}")


def register(data_type, *, rate, kl_eq, total):
    """Register the entropy quantities of a data type (the extension point of this module).

    ``rate(data, process, s, **options)``, ``kl_eq(data, process, s, **options)`` and
    ``total(data, process, s0, s1, **options)`` receive validated times and return an
    :class:`~nent_ref.core.estimate.Estimate` in nats; :mod:`nent_ref.quantities.mixture_entropy`
    registers GaussianMixture and Empirical this way.
    """
    _rate.register(data_type)(rate)
    _kl_eq.register(data_type)(kl_eq)
    _total.register(data_type)(total)


# --------------------------------------------------------------------------- closed forms
#: Options of the numerical methods that a closed form meets trivially (exact to rounding): accepted and
#: ignored, so that generic code can pass one precision target or seed to any data type.
NO_OP_OPTIONS = frozenset({"rtol", "atol", "seed", "n_samples", "max_samples", "executor", "tasks"})


def _closed_form_only(options):
    method = options.pop("method", "auto")
    if method not in ("auto", "closed-form"):
        raise ValueError(f"Gaussian and Dirac data are closed form; method={method!r} is not available")
    unexpected = sorted(set(options) - NO_OP_OPTIONS)
    if unexpected:
        raise TypeError(f"unexpected options for closed-form data: {unexpected}")


def require_cutoff(data, s, name):
    """ValueError when ``data`` has atoms (``data.needs_cutoff``: Dirac, Empirical) and a time is 0."""
    if getattr(data, "needs_cutoff", False) and np.any(np.asarray(s) <= 0):
        raise ValueError(f"{name} must be > 0 for {type(data).__name__} data: the entropy production "
                         f"diverges like (D/2) log(1/{name}) as {name} -> 0 (use a cutoff, e.g. 1e-5)")


def _x_minus_log1p_x(x):
    """x - log(1 + x), accurate near x = 0 (series for |x| < 0.1), for x > -1."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 0.1
    xs = np.where(small, x, 0.0)
    series = np.zeros_like(xs)
    for k in range(30, 1, -1):  # Horner on sum_{k>=2} (-1)^k x^k / k
        series = series * xs + ((-1.0) ** k) / k
    series = series * xs * xs
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = x - np.log1p(np.where(small, 0.0, x))
    return np.where(small, series, direct)


#: Below this a variance sum mu^2 lam + v is evaluated through logarithms (it may underflow:
#: a Dirac at s0 = 5e-324 has v ~ 1e-325).
_TINY = 1e-280
#: Unit roundoff of double precision.
_EPS = float(np.finfo(float).eps)
#: Valid range of the normalised data moments lam_i / k^2 (nonzero ones) and |m|^2 / k^2.
_MOMENT_RANGE = (1e-305, 1e304)


def _log_sum(log_a, log_b):
    """log(e^a + e^b) with -inf allowed in either argument."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.logaddexp(log_a, log_b)


def _normalised_spectrum(m2, lam, process):
    r"""``(|m|^2 / k^2, lam / k^2)`` for a process with an equilibrium N(0, k^2 I) (every closed form
    depends on the data only through these), or ``(m2, lam)`` for VE; ValueError naming the
    parameter when they leave double precision (|m| above ~1e154, or data and ``kappa``/``sigma0``
    more than 1e150 apart)."""
    lam = np.asarray(lam, dtype=float)
    width = "kappa" if hasattr(process, "kappa") else "sigma0"
    if not np.isfinite(m2):
        raise ValueError("the data mean (or Dirac point) is too large: |m|^2 overflows double precision "
                         "(|m| must be below about 1e154)")
    if not process.has_equilibrium:
        if np.any(lam > _MOMENT_RANGE[1]):
            raise ValueError(f"covariance eigenvalues must be at most {_MOMENT_RANGE[1]:g} (got {lam.max():.3g})")
        return float(m2), lam
    k2 = process.peq_var
    with np.errstate(over="ignore", under="ignore"):
        m2n, lamn = m2 / k2, lam / k2
    lo, hi = _MOMENT_RANGE
    pos = lam > 0
    if m2n > hi or np.any(lamn[pos] > hi) or np.any(lamn[pos] < lo):
        raise ValueError(f"the data scale is out of range for {width} = {getattr(process, width):g}: |m|^2 / {width}^2 "
                         f"= {m2n:.3g} and covariance eigenvalues / {width}^2 in [{lamn[pos].min() if pos.any() else 0:.3g}, "
                         f"{lamn.max():.3g}] must lie in [{lo:g}, {hi:g}] (nonzero eigenvalues); rescale the data or "
                         f"choose {width} within 1e150 of the data's scale")
    return float(m2n), lamn


def _growth(process, s):
    """Factor by which the rounding of a time or of B(s) can grow in mu^2 and v at time s (>= 1):
    1 + B(s) (capped at 745) for processes with an equilibrium, 1 + 2 log(sigma_max/sigma_min) s +
    |log v(s)| for VE (whose variances may be evaluated through logarithms)."""
    s = np.asarray(s, dtype=float)
    with np.errstate(divide="ignore"):
        if process.has_equilibrium:
            return 1.0 + np.minimum(-np.log(np.asarray(process.mean_coeff_sq(s), dtype=float)), 745.0)
        return np.asarray(process.rounding_growth(s), dtype=float)


def _rel(dim, growth):
    """Relative rounding bound of a closed form made of non-negative terms (see the module notes)."""
    return 32.0 * _EPS * (4.0 + dim) * growth


def rounding_rtol(process, s, dim: int = 1):
    r"""Relative rounding bound of the closed forms of this module at time(s) ``s`` in dimension ``dim``.

    Every closed form here is a sum of non-negative terms built from :math:`\mu^2`, ``1 - mu^2``,
    ``v`` and their window differences (no cancellation), each accurate to a few units of roundoff
    times the growth of the rounding of ``B(s)`` (or of ``2 log(sigma_max/sigma_min) s`` and
    ``log v`` for VE) through the exponential: the bound is ``32 eps (4 + D) (1 + B(s))``.
    It is verified against 50-digit mpmath references in tests/test_entropy.py.
    """
    return _rel(dim, _growth(process, s))


def _log_lam_n(process, s, lamn):
    r"""log of the normalised eigenvalues :math:`\mu^2 \lambda_i/k^2 + 1 - \mu^2` of p_s's covariance
    (last axis), through :meth:`log_one_minus_mu2` where the sum underflows (Dirac at tiny cutoffs)."""
    mu2 = np.asarray(process.mean_coeff_sq(s))[..., None]
    arg = mu2 * lamn + np.asarray(process.one_minus_mu2(s))[..., None]
    with np.errstate(divide="ignore"):
        out = np.log(arg)
        tiny = arg < _TINY
        if np.any(tiny):
            log_omm = np.asarray(process.log_one_minus_mu2(s))[..., None]
            out = np.where(tiny, _log_sum(np.log(mu2) + np.log(lamn), log_omm), out)
    return out


def _log_lam_ve(process, s, lam):
    """log(lam_i + v(s)) for VE (last axis), in logarithms (v may exceed the double range)."""
    log_v = np.asarray(process.log_marginal_var(s))[..., None]
    with np.errstate(divide="ignore"):
        return _log_sum(np.log(lam), log_v)


def _kl_eq_n(m2n, lamn, process, s):
    """(KL(p_s || p_eq), rounding bound) from the normalised spectrum (see :func:`gaussian_kl_eq`)."""
    mu2 = np.asarray(process.mean_coeff_sq(s))[..., None]
    x = mu2 * (lamn - 1.0)
    log_arg = _log_lam_n(process, s, lamn)               # log(1 + x)
    log1px = np.where(np.abs(x) < 0.5, np.log1p(np.where(np.abs(x) < 0.5, x, 0.0)), log_arg)
    terms = np.where(np.abs(x) < 0.1, _x_minus_log1p_x(x), x - log1px)
    value = np.maximum(0.5 * np.sum(terms, axis=-1) + 0.5 * mu2[..., 0] * m2n, 0.0)
    # terms of the direct form carry the rounding of |x| + |log(1 + x)|; the series is relative
    mag = np.where(np.abs(x) < 0.1, 4.0 * terms, np.abs(x) + np.abs(log1px))
    scale = 0.5 * np.sum(mag, axis=-1) + 0.5 * mu2[..., 0] * m2n
    return value, _rel(lamn.shape[-1], _growth(process, s)) * scale


def gaussian_kl_eq(m2, lam, process, s):
    r"""KL(p_s||p_eq) = 1/2 sum_i [x_i - log(1+x_i)] + mu^2 |m|^2 / (2 k^2), x_i = mu^2(lam_i - k^2)/k^2.

    Computed from ``lam / k^2`` and ``|m|^2 / k^2`` (so no power of ``k`` can overflow);
    :math:`\log(1 + x_i) = \log(\mu^2\lambda_i/k^2 + 1 - \mu^2)` comes from ``log1p`` near
    ``x = 0``, directly elsewhere, and through :meth:`log_one_minus_mu2` where the sum underflows
    (a Dirac at a tiny cutoff: ``1 - mu^2 ~ B(s0)`` may be below the smallest double), so every
    representable cutoff gives the finite value.  Clamped at 0 (KL >= 0; rounding near
    equilibrium could otherwise give -1e-16).
    """
    m2n, lamn = _normalised_spectrum(m2, lam, process)
    return _kl_eq_n(m2n, lamn, process, s)[0]


def _rate_n(m2n, lamn, process, s):
    """(Sdot, rounding bound) from the normalised spectrum (see :func:`gaussian_rate`)."""
    dim = lamn.shape[-1]
    growth = _growth(process, s)
    if process.has_equilibrium:
        Dn = np.asarray(process.diffusion(s)) / process.peq_var              # beta/2 for VP, 1/(1-s) for SL
        mu2 = np.asarray(process.mean_coeff_sq(s))[..., None]
        x = mu2 * (lamn - 1.0)
        lam_s = mu2 * lamn + np.asarray(process.one_minus_mu2(s))[..., None]  # 1 + x, no cancellation
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            ratio = x * (x / lam_s)                                           # x^2 / (1 + x), no overflow
            tiny = lam_s < _TINY
            if np.any(tiny):
                ratio = np.where(tiny, x * x * np.exp(-_log_lam_n(process, s, lamn)), ratio)
            value = Dn * (np.sum(ratio, axis=-1) + mu2[..., 0] * m2n)
        return value, _rel(dim, growth) * value
    # VE: Sdot = D(s) sum_i 1 / (lam_i + v(s)) = sum_i exp(log D - log(lam_i + v)), in logarithms where
    # D or v leave the double range
    log_d = np.asarray(process.log_diffusion(s))[..., None]
    log_lam_s = _log_lam_ve(process, s, lamn)
    with np.errstate(over="ignore"):
        value = np.sum(np.exp(log_d - log_lam_s), axis=-1)
    return value, _rel(dim, growth + np.abs(log_d[..., 0])) * value


def gaussian_rate(m2, lam, process, s):
    r"""Sdot = D(s) [ sum_i mu^4 (k^2 - lam_i)^2 / (lam_s,i k^4) + mu^2 |m|^2 / k^4 ] (equilibrium processes),
    Sdot = D(s) sum_i 1 / lam_s,i (VE).

    Evaluated as ``(D/k^2) [sum_i x_i^2 / (1 + x_i) + mu^2 |m|^2/k^2]`` with ``x_i = mu^2 (lam_i/k^2 - 1)``
    (no power of ``k`` can overflow), ``1 + x_i`` through logarithms where it underflows (a Dirac's
    rate is about ``D / (2 s)``, which exceeds the largest double for ``s`` below about 1e-308);
    VE in logarithms (``D`` and ``v`` may exceed the double range, their ratio does not).
    """
    m2n, lamn = _normalised_spectrum(m2, lam, process)
    return _rate_n(m2n, lamn, process, s)[0]


def _total_n(m2n, lamn, process, s0, s1):
    r"""(S_tot(s0, s1), rounding bound) from the normalised spectrum, without the cancellation of a
    difference of two KLs or entropies.

    With an equilibrium: per direction, KL terms ``f(x) = x - log(1 + x)`` at ``x_j = mu_j^2 (lam/k^2 - 1)``
    differ by ``f(x0) - f(x1) = u x1 + f(u)``, ``u = (x0 - x1)/(1 + x1)``, ``x0 - x1 = (mu0^2 - mu1^2)
    (lam/k^2 - 1)`` (from :meth:`mean_coeff_sq_drop`): both terms are non-negative (``u`` and ``x1``
    share a sign), so the sum is accurate to rounding relative to itself for every window; the mean
    term is ``(mu0^2 - mu1^2) |m|^2 / (2 k^2)``.  VE: ``1/2 sum log1p((v1 - v0)/(lam + v0))``.
    """
    dim = lamn.shape[-1]
    growth = np.maximum(_growth(process, s0), _growth(process, s1))
    L0 = _log_lam_n(process, s0, lamn) if process.has_equilibrium else _log_lam_ve(process, s0, lamn)
    L1 = _log_lam_n(process, s1, lamn) if process.has_equilibrium else _log_lam_ve(process, s1, lamn)
    if process.has_equilibrium:
        drop = np.asarray(process.mean_coeff_sq_drop(s0, s1))[..., None]
        mu2_1 = np.asarray(process.mean_coeff_sq(s1))[..., None]
        x1 = mu2_1 * (lamn - 1.0)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            u = drop * (lamn - 1.0) * np.exp(-L1)
        big = np.abs(u) >= 0.5
        log1pu = np.where(big, L0 - L1, np.log1p(np.where(big, 0.0, u)))
        fu = np.where(np.abs(u) < 0.1, _x_minus_log1p_x(u), u - log1pu)
        terms = u * x1 + fu
        value = 0.5 * np.sum(terms, axis=-1) + 0.5 * drop[..., 0] * m2n
        mag = terms + np.where(big, np.abs(L0) + np.abs(L1) + np.abs(u), 0.0)
        scale = 0.5 * np.sum(mag, axis=-1) + 0.5 * drop[..., 0] * m2n
        # sensitivity to the eigensolver's error (|d lam| <= 4 D eps max lam): d S / d lam_i =
        # [mu^2 (1 - k^2/lam_s)]_{s1}^{s0} / (2 k^2)
        mu2_0 = np.asarray(process.mean_coeff_sq(s0))[..., None]
        with np.errstate(over="ignore", invalid="ignore"):
            sens = 0.5 * np.abs(mu2_0 * (1.0 - np.exp(-L0)) - mu2_1 * (1.0 - np.exp(-L1)))
        sens = np.where(np.isfinite(sens), sens, 0.0)
        eig = 4.0 * dim * _EPS * np.max(lamn) * np.sum(sens, axis=-1)
    else:
        log_dv = np.asarray(process.log_marginal_var_increase(s0, s1))[..., None]
        with np.errstate(over="ignore"):
            r = np.exp(log_dv - L0)
        big = r >= 0.5
        terms = np.where(big, L1 - L0, np.log1p(np.where(big, 0.0, r)))
        value = 0.5 * np.sum(terms, axis=-1)
        scale = 0.5 * np.sum(terms + np.where(big, np.abs(L0) + np.abs(L1), 0.0), axis=-1)
        with np.errstate(over="ignore"):
            sens = 0.5 * np.abs(np.exp(-L0) - np.exp(-L1))
        eig = 4.0 * dim * _EPS * np.max(lamn, initial=0.0) * np.sum(np.where(np.isfinite(sens), sens, 0.0), axis=-1)
    value = np.where(np.asarray(s1) > np.asarray(s0), value, 0.0)        # an empty window is exactly 0
    bound = np.where(np.asarray(s1) > np.asarray(s0), _rel(dim, growth) * scale + eig, 0.0)
    return np.maximum(value, 0.0), bound


def _gaussian_entropy(lam, process, s):
    """Differential entropy of p_s up to the constant (D/2) log(2 pi e): 1/2 sum log lam_s."""
    return 0.5 * np.sum(_log_lam_ve(process, s, lam), axis=-1)


def _finite_estimate(value, bound, what, process, data, s):
    """An Estimate of a closed form, or a ValueError (naming the time) when a value leaves the double range."""
    value = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(value)):
        bad = ~np.isfinite(np.atleast_1d(value))
        at = float(np.atleast_1d(np.broadcast_to(s, np.shape(value)))[bad][0])
        raise ValueError(f"{what} of {data!r} under {process!r} exceeds the double range at s = {at!r} (the data "
                         "are too far from equilibrium, or s too close to a singularity: a Dirac's rate is about "
                         "D/(2 s), above the largest double for s below about 1e-308)")
    bound = np.asarray(bound, dtype=float)
    return Estimate(value, 0.0, "closed-form", error_bound=np.where(np.isfinite(bound), bound, np.abs(value)))


@_rate.register(Gaussian)
@_rate.register(Dirac)
def _(data, process, s, **options):
    _closed_form_only(options)
    require_cutoff(data, s, "s")
    m2n, lamn = _normalised_spectrum(*data.spectrum(), process)
    return _finite_estimate(*_rate_n(m2n, lamn, process, s), "the entropy production rate", process, data, s)


@_kl_eq.register(Gaussian)
@_kl_eq.register(Dirac)
def _(data, process, s, **options):
    _closed_form_only(options)
    require_cutoff(data, s, "s")
    m2n, lamn = _normalised_spectrum(*data.spectrum(), process)
    return _finite_estimate(*_kl_eq_n(m2n, lamn, process, s), "KL(p_s || p_eq)", process, data, s)


@_total.register(Gaussian)
@_total.register(Dirac)
def _(data, process, s0, s1, **options):
    _closed_form_only(options)
    require_cutoff(data, s0, "s0")
    m2n, lamn = _normalised_spectrum(*data.spectrum(), process)
    return _finite_estimate(*_total_n(m2n, lamn, process, s0, s1), "S_tot", process, data, s0)
