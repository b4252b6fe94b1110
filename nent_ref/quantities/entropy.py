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

__all__ = ["register", "gaussian_kl_eq", "gaussian_rate", "entropy_production_rate", "total_entropy", "kl_to_equilibrium", "rate_curve", "rate_nodes"]


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
    with np.errstate(divide="ignore"):
        direct = x - np.log1p(np.where(small, 0.0, x))
    return np.where(small, series, direct)


#: Below this a variance sum mu^2 lam + v is evaluated through logarithms (it may underflow:
#: a Dirac at s0 = 5e-324 has v ~ 1e-325).
_TINY = 1e-280


def _eq_terms(process, s, lam):
    """mu^2, 1 - mu^2 and x_i = mu^2 (lam_i - k^2)/k^2 on a grid of times (last axis: eigen-directions)."""
    k2 = process.peq_var
    mu2 = np.asarray(process.mean_coeff_sq(s))[..., None]
    omm = np.asarray(process.marginal_var(s))[..., None] / k2
    x = mu2 * (lam - k2) / k2
    return mu2, omm, x


def _log_sum(log_a, log_b):
    """log(e^a + e^b) with -inf allowed in either argument."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.logaddexp(log_a, log_b)


def _log_lam_s(process, s, lam):
    r"""log of the eigenvalues :math:`\mu^2 \lambda_i + v` of p_s's covariance (last axis), computed
    through :meth:`log_marginal_var` where the sum underflows (Dirac directions at tiny cutoffs)."""
    mu2 = np.asarray(process.mean_coeff_sq(s))[..., None]
    lam_s = mu2 * lam + np.asarray(process.marginal_var(s))[..., None]
    with np.errstate(divide="ignore"):
        out = np.log(lam_s)
        tiny = lam_s < _TINY
        if np.any(tiny):
            log_v = np.asarray(process.log_marginal_var(s))[..., None]
            out = np.where(tiny, _log_sum(np.log(mu2) + np.log(lam), log_v), out)
    return out


def gaussian_kl_eq(m2, lam, process, s):
    r"""KL(p_s||p_eq) = 1/2 sum_i [x_i - log(1+x_i)] + mu^2 |m|^2 / (2 k^2), x_i = mu^2(lam_i - k^2)/k^2.

    :math:`\log(1 + x_i) = \log(\mu^2\lambda_i/k^2 + 1 - \mu^2)` comes from ``log1p`` near
    ``x = 0``, directly elsewhere, and through :meth:`log_one_minus_mu2` where the sum underflows
    (a Dirac at a tiny cutoff: ``1 - mu^2 ~ B(s0)`` may be below the smallest double), so every
    representable cutoff gives the finite value.  Clamped at 0 (KL >= 0; rounding near
    equilibrium could otherwise give -1e-16).
    """
    k2 = process.peq_var
    mu2, omm, x = _eq_terms(process, s, lam)
    arg = mu2 * lam / k2 + omm
    with np.errstate(divide="ignore"):
        log_arg = np.log(arg)
        tiny = arg < _TINY
        if np.any(tiny):
            log_omm = np.asarray(process.log_one_minus_mu2(s))[..., None]
            log_arg = np.where(tiny, _log_sum(np.log(mu2) + np.log(lam / k2), log_omm), log_arg)
    # log(1 + x): log1p near x = 0, the second form away from it (Dirac: 1 - mu^2 -> 0)
    log1px = np.where(np.abs(x) < 0.5, np.log1p(np.where(np.abs(x) < 0.5, x, 0.0)), log_arg)
    terms = np.where(np.abs(x) < 0.1, _x_minus_log1p_x(x), x - log1px)
    return np.maximum(0.5 * np.sum(terms, axis=-1) + 0.5 * mu2[..., 0] * m2 / k2, 0.0)


def gaussian_rate(m2, lam, process, s):
    r"""Sdot = D(s) [ sum_i mu^4 (k^2 - lam_i)^2 / (lam_s,i k^4) + mu^2 |m|^2 / k^4 ] (equilibrium processes),
    Sdot = D(s) sum_i 1 / lam_s,i (VE).

    ``1 / lam_s`` comes from :func:`_log_lam_s` where ``lam_s`` underflows; a Dirac's rate is
    about ``D / (2 s)``, which exceeds the largest double (``inf``) for ``s`` below about 1e-308.
    """
    Dcoef = np.asarray(process.diffusion(s))
    k2 = process.peq_var
    if process.has_equilibrium:
        mu2, omm, _ = _eq_terms(process, s, lam)
        lam_s = mu2 * lam + k2 * omm
        num = mu2 * mu2 * (k2 - lam) ** 2
    else:
        mu2 = np.asarray(process.mean_coeff_sq(s))[..., None]
        lam_s = lam + np.asarray(process.marginal_var(s))[..., None]
        num = np.ones_like(lam_s)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ratio = num / lam_s
        tiny = lam_s < _TINY
        if np.any(tiny):
            ratio = np.where(tiny, num * np.exp(-_log_lam_s(process, s, lam)), ratio)
        if process.has_equilibrium:
            inner = np.sum(ratio, axis=-1) / k2 ** 2 + mu2[..., 0] * m2 / k2 ** 2
        else:
            inner = np.sum(ratio, axis=-1)
        return Dcoef * inner


def _gaussian_entropy(lam, process, s):
    """Differential entropy of p_s up to the constant (D/2) log(2 pi e): 1/2 sum log lam_s."""
    return 0.5 * np.sum(_log_lam_s(process, s, lam), axis=-1)


@_rate.register(Gaussian)
@_rate.register(Dirac)
def _(data, process, s, **options):
    _closed_form_only(options)
    require_cutoff(data, s, "s")
    m2, lam = data.spectrum()
    return Estimate(gaussian_rate(m2, lam, process, s), 0.0, "closed-form")


@_kl_eq.register(Gaussian)
@_kl_eq.register(Dirac)
def _(data, process, s, **options):
    _closed_form_only(options)
    require_cutoff(data, s, "s")
    m2, lam = data.spectrum()
    return Estimate(gaussian_kl_eq(m2, lam, process, s), 0.0, "closed-form")  # clamped at 0 inside


@_total.register(Gaussian)
@_total.register(Dirac)
def _(data, process, s0, s1, **options):
    _closed_form_only(options)
    require_cutoff(data, s0, "s0")
    m2, lam = data.spectrum()
    if process.has_equilibrium:
        value = gaussian_kl_eq(m2, lam, process, s0) - gaussian_kl_eq(m2, lam, process, s1)
    else:
        value = _gaussian_entropy(lam, process, s1) - _gaussian_entropy(lam, process, s0)
    # S_tot >= 0 exactly; clip the last-ulp negative values a difference can produce when s0 == s1
    return Estimate(np.maximum(value, 0.0), 0.0, "closed-form")
