r"""Forward (noising) processes: VP (with width kappa), SL and VE, and their noise schedules.

All processes are linear SDEs on :math:`\mathbb R^D`, isotropic in space,

.. math::  dY_s = -a(s)\, Y_s\, ds + \sigma(s)\, dW_s,\qquad D(s) = \sigma(s)^2/2,

with forward time ``s`` in ``[0, T]`` and the data at ``s = 0``.  Conditionally on the
data point, :math:`Y_s \mid y_0 \sim N(\mu(s) y_0, v(s) I)` with
:math:`\mu(s) = \exp(-\int_0^s a)` and :math:`v' = -2 a v + \sigma^2`, :math:`v(0) = 0`.

For VP and SL the frozen-time stationary law :math:`p_{eq} = N(0, k^2 I)` does not depend
on ``s`` (``sigma^2 = 2 a k^2``), which gives the exact relation :math:`v = k^2 (1 - \mu^2)`
used everywhere for numerically stable closed forms.  VE has no equilibrium.

References
----------
Song et al., "Score-based generative modeling through stochastic differential equations",
ICLR 2021 (VP and VE).  Nichol & Dhariwal, "Improved denoising diffusion probabilistic models",
ICML 2021 (cosine schedule).  docs/theory.md section 1 (SL, VPx).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .checks import InputTypeError, finite_float as _finite_float, real_array as _real_array
from .schedules import (AlphaBarFunction, AlphaBarTable, EDMSigma, ScheduleError, SigmaFunction, SigmaTable,
                        diffusers_betas, read_scheduler_config)

__all__ = ["WIDTH_RANGE", "VE_SIGMA_MAX_FINITE_VAR", "check_process", "diffusion_coefficients", "LinearSchedule",
           "CosineSchedule", "VP", "SL", "VE", "check_times", "is_process", "ScheduledVE", "vp_from_alpha_bar",
           "ve_from_sigma", "vp_from_diffusers_config"]

#: Below this, B(s) (or 2 log(sigma_max/sigma_min) s for VE) is treated through its logarithm.
_TINY = 1e-290

#: Valid range of the equilibrium width: ``kappa`` of VP and ``sigma0`` of SL.  Inside it ``k^2`` is a
#: normal double with 300 decades to spare, so the closed forms, which work with ``lam / k^2`` and
#: ``|m|^2 / k^2``, stay finite for any data whose scale is within 1e150 of ``k``.
WIDTH_RANGE = (1e-150, 1e150)
#: Largest ``sigma_max`` of VE for which ``v(s) = sigma_ve(s)^2 - sigma_min^2`` is representable.
#: Larger values are accepted: the entropy quantities are computed through logarithms and stay
#: right up to the largest double, but ``marginal_var``, ``diffuse``, ``clock`` and anything that
#: needs ``v(s)`` itself raise ValueError where ``v(s)`` exceeds the double range.
VE_SIGMA_MAX_FINITE_VAR = 1e154


def _width(name: str, value) -> float:
    """A validated equilibrium width (kappa, sigma0) in :data:`WIDTH_RANGE`, or a ValueError naming it."""
    x = _finite_float(name, value)
    lo, hi = WIDTH_RANGE
    if x <= 0:
        raise ValueError(f"{name} must be positive (got {value!r}); its valid range is [{lo:g}, {hi:g}]")
    if not lo <= x <= hi:
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}] (got {value!r}): outside this range {name}^2 "
                         "and the data moments measured in its units leave double precision")
    return x


def _sinc(x):
    """sin(x)/x (1 at 0), accurate for every x including subnormal ones."""
    return np.sinc(np.asarray(x, dtype=float) / math.pi)


def _log_expm1(x, c: float = 1.0):
    """log(expm1(c x)) for x >= 0, c > 0 (-inf at 0), without overflow for large c x or loss for tiny
    (even subnormal) c x: below _TINY it is log c + log x, as expm1(y)/y = 1 + y/2 rounds to 1."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        small = math.log(c) + np.log(x)
        x = c * x
        mid = np.log(np.expm1(np.clip(x, _TINY, 40.0)))
        big = x + np.log1p(-np.exp(-np.maximum(x, 40.0)))
    return np.where(x < _TINY, small, np.where(x <= 40.0, mid, big))


def is_process(obj) -> bool:
    """True for the forward processes of this module (VP, SL, VE and their subclasses)."""
    return isinstance(obj, _LinearProcess)


def check_process(process, name: str = "process"):
    """``process`` itself, or an :class:`~nent_ref.core.checks.InputTypeError` (a TypeError and a
    ValueError) naming what is expected: the one boundary check for process arguments."""
    if not is_process(process):
        got = "nothing (None)" if process is None else f"{type(process).__name__} {process!r}"
        raise InputTypeError(f"{name} must be a forward process (nr.VP, nr.SL or nr.VE); got {got}")
    return process


def diffusion_coefficients(process, s) -> tuple[float, float]:
    """``(mu(s), v(s))`` at one scalar time, validated against the process domain."""
    s_arr = np.asarray(s, dtype=float)
    if s_arr.ndim != 0:
        raise ValueError(f"diffuse takes a scalar time (got shape {s_arr.shape})")
    return float(process.mean_coeff(s_arr)), float(process.marginal_var(s_arr))


def check_times(s, process, name: str = "s", *, allow_T: bool = True) -> np.ndarray:
    """Validate forward times against a process's domain and return them as a float array.

    Raises ValueError naming ``name`` for complex or non-numeric input, NaN/inf or times outside
    ``[0, T]`` (``[0, T)`` when ``allow_T`` is False, used where the drift is singular at ``T``).
    """
    arr = _real_array(name, s, finite=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got {s!r})")
    T = process.T
    hi_ok = arr <= T if allow_T else arr < T
    if np.any(arr < 0) or not np.all(hi_ok):
        bracket = "]" if allow_T else ")"
        raise ValueError(f"{name} = {s!r} is outside the time domain [0, {T:g}{bracket} of {process!r}")
    return arr


# --------------------------------------------------------------------------- schedules
class LinearSchedule:
    r"""Linear noise schedule :math:`\beta(s) = \beta_{min} + (\beta_{max} - \beta_{min}) s`.

    Its integral is :math:`B(s) = \beta_{min} s + (\beta_{max} - \beta_{min}) s^2 / 2`.
    Song et al. (2021) use 0.1 -> 20; the neural-entropy paper uses 0.1 -> 16.
    """

    singular_at_T = False

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        self.beta_min = _finite_float("beta_min", beta_min)
        self.beta_max = _finite_float("beta_max", beta_max)
        if self.beta_min < 0 or self.beta_max <= 0:
            raise ValueError(f"need beta_min >= 0 and beta_max > 0 (got {beta_min}, {beta_max})")
        if self.beta_max < self.beta_min:
            raise ValueError(f"need beta_max >= beta_min (got {beta_min} > {beta_max})")

    def beta(self, s):
        """Noise rate beta(s) (per unit time)."""
        return self.beta_min + (self.beta_max - self.beta_min) * np.asarray(s, dtype=float)

    def integral(self, s):
        """B(s) = int_0^s beta."""
        s = np.asarray(s, dtype=float)
        return self.beta_min * s + 0.5 * (self.beta_max - self.beta_min) * s * s

    def integral_between(self, s0, s1):
        r""":math:`B(s_1) - B(s_0) = (s_1 - s_0)\,(\beta_{min} + \tfrac12(\beta_{max} - \beta_{min})(s_0 + s_1))`,
        without the cancellation of the difference for short windows."""
        s0 = np.asarray(s0, dtype=float)
        s1 = np.asarray(s1, dtype=float)
        return (s1 - s0) * (self.beta_min + 0.5 * (self.beta_max - self.beta_min) * (s0 + s1))

    def log_integral(self, s):
        r"""log B(s), accurate where B itself underflows (every representable s > 0; -inf at 0).

        :math:`\log B = \log s + \log(\beta_{min} + \tfrac12(\beta_{max} - \beta_{min}) s)`
        (:math:`\log\tfrac12(\beta_{max} - \beta_{min}) + 2\log s` when beta_min = 0).
        """
        s = np.asarray(s, dtype=float)
        half = 0.5 * (self.beta_max - self.beta_min)
        with np.errstate(divide="ignore"):
            if self.beta_min > 0:
                return np.log(s) + np.log(self.beta_min + half * s)
            return math.log(half) + 2.0 * np.log(s)

    def __repr__(self):
        return f"LinearSchedule(beta_min={self.beta_min:g}, beta_max={self.beta_max:g})"


class CosineSchedule:
    r"""Cosine schedule of Nichol & Dhariwal (2021), defined through :math:`\mu(s)^2`.

    :math:`\bar\alpha(s) = f(s)/f(0)`, :math:`f(s) = \cos^2\!\big(\tfrac{s + c}{1 + c}\tfrac{\pi}{2}\big)`,
    so :math:`B(s) = -\log \bar\alpha(s)` and
    :math:`\beta(s) = B'(s) = \tfrac{\pi}{1 + c} \tan\!\big(\tfrac{s + c}{1 + c}\tfrac{\pi}{2}\big)`.
    ``mu(1) = 0`` exactly (p_1 = p_eq) and beta is singular at s = 1 (no clipping is applied).

    With :math:`a = \tfrac{\pi}{2(1 + c)}` and :math:`b = \tfrac{\pi}{2}\tfrac{c}{1 + c}` (so
    :math:`a + b = \pi/2`) the phase is :math:`\pi/2 - a(1 - s)`, and everything is evaluated in forms
    that keep full relative precision for every offset and every time:
    :math:`\mu(s) = \sin(a(1 - s))/\sin a`, :math:`\beta(s) = 2a/\tan(a(1 - s))` and
    :math:`B(s_1) - B(s_0) = 2\log(1 + r)`, :math:`r = 2\sin(b + a\tfrac{s_0 + s_1}{2})\,
    \sin(a\tfrac{s_1 - s_0}{2}) / \sin(a(1 - s_1))` (no cancellation at small ``s``, near ``s = 1``,
    for short windows, or for offsets so large that ``(s + c)/(1 + c)`` rounds to 1).

    Parameters
    ----------
    offset : float
        The offset ``c``: any finite positive number (Nichol & Dhariwal use 0.008; as ``c -> inf``
        the schedule tends to ``mu(s) = 1 - s``).  It was called ``s`` before 0.2, the letter of
        forward time; ``CosineSchedule(s=...)`` and the attribute ``.s`` remain as deprecated aliases.
    """

    singular_at_T = True

    def __init__(self, offset: float = 0.008, *, s: float | None = None):
        if s is not None:
            warnings.warn("CosineSchedule(s=...) is deprecated: the offset is called 'offset'",
                          DeprecationWarning, stacklevel=2)
            offset = s
        self.offset = _finite_float("offset", offset)
        if self.offset <= 0:
            raise ValueError(f"the cosine offset must be positive (got {offset})")
        self._a = 0.5 * math.pi / (1.0 + self.offset)
        self._b = 0.5 * math.pi * (self.offset / (1.0 + self.offset))

    @property
    def s(self) -> float:
        """Deprecated alias of :attr:`offset`."""
        return self.offset

    def beta(self, t):
        """beta(t) = pi/(1+c) tan(phase(t)) = 2a tan(b + a t) = 2a / tan(a (1 - t)); infinite at t = 1.

        The first form where the phase is below pi/4, the second above it (each keeps full relative
        precision there; tan(z)/z is evaluated as sinc(z)/cos(z), so a tiny ``a`` loses nothing)."""
        t = np.asarray(t, dtype=float)
        a, b = self._a, self._b
        low = b + a * t <= 0.25 * math.pi
        u = a * (1.0 - t)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            near0 = 2.0 * a * np.tan(np.where(low, b + a * t, 0.0))
            near1 = 2.0 * np.cos(u) / ((1.0 - t) * _sinc(u))
        return np.where(low, near0, near1)

    def integral_between(self, t0, t1):
        """B(t1) - B(t0) = 2 log(sin(a (1 - t0)) / sin(a (1 - t1))), without cancellation (class notes);
        +inf when t1 = 1."""
        t0 = np.asarray(t0, dtype=float)
        t1 = np.asarray(t1, dtype=float)
        return 2.0 * np.log1p(self._ratio(t0, t1))

    def _ratio(self, t0, t1):
        """r = 2 sin(b + a (t0 + t1)/2) sin(a (t1 - t0)/2) / sin(a (1 - t1)), the sines of tiny
        arguments as x sinc(x) (no subnormal products for huge offsets); +inf at t1 = 1 > t0."""
        a = self._a
        h = 0.5 * (t1 - t0)
        u = 1.0 - t1
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r = 2.0 * np.sin(self._b + a * (0.5 * (t0 + t1))) * (h * _sinc(a * h)) / (u * _sinc(a * u))
        return np.where(u <= 0.0, np.where(h > 0.0, np.inf, 0.0), r)

    def integral(self, t):
        """B(t) = -2 log( cos(phase(t)) / cos(phase(0)) ); +inf at t = 1 (see :meth:`integral_between`)."""
        return self.integral_between(0.0, t)

    def log_integral(self, t):
        """log B(t), accurate where B underflows (every representable t > 0).

        For t < 1e-100, B = 2 log1p(r) = 2 r (1 + O(r)) with r of :meth:`integral_between` taken in
        logarithms: log r = log 2 + log sin(b + a t/2) + log(t/2) - log((1 - t) sinc(a (1 - t)));
        elsewhere log(B(t)).
        """
        t = np.asarray(t, dtype=float)
        a = self._a
        tiny = np.minimum(t, 1e-100)
        with np.errstate(divide="ignore"):
            log_r = (math.log(2.0) + np.log(np.sin(self._b + 0.5 * a * tiny)) + math.log(0.5) + np.log(tiny)
                     - np.log((1.0 - tiny) * _sinc(a * (1.0 - tiny))))
            direct = np.log(self.integral(np.maximum(t, 1e-100)))
            return np.where(t < 1e-100, math.log(2.0) + log_r, direct)

    def __repr__(self):
        return f"CosineSchedule(offset={self.offset:g})"


# --------------------------------------------------------------------------- processes
class _LinearProcess:
    """Shared machinery of the isotropic linear processes (private base class)."""

    T: float = 1.0
    #: True when the drift (and D) diverge at s = T, so rates are defined on [0, T) only.
    singular_at_T: bool = False
    #: variance k^2 of p_eq = N(0, k^2 I), or None when the process has no equilibrium.
    peq_var: float | None = None
    #: N of a process defined by a table of N noise levels (discrete timestep t at s = (t + 1) T/N), else None.
    n_timesteps: int | None = None

    # subclasses implement: _a(s), sigma2(s), _mu2(s), _one_minus_mu2(s), _clock(s0, s1)

    @property
    def domain(self) -> tuple[float, float]:
        """Closed time domain (0, T); rates need s < T when ``singular_at_T``."""
        return (0.0, self.T)

    @property
    def has_equilibrium(self) -> bool:
        return self.peq_var is not None

    def _times(self, s, name="s"):
        return check_times(s, self, name)

    def drift(self, x, s):
        """Drift b(x, s) = -a(s) x; x has shape (..., D), s broadcasts against x[..., 0]."""
        x = np.asarray(x, dtype=float)
        s = self._times(s)
        return -self._a(s)[..., None] * x if np.ndim(s) else -self._a(s) * x

    b = drift

    def diffusion(self, s):
        """Diffusion coefficient D(s) = sigma(s)^2 / 2."""
        return 0.5 * self.sigma2(s)

    def mean_coeff(self, s):
        """mu(s): Y_s | y_0 has mean mu(s) y_0."""
        return np.sqrt(self._mu2(self._times(s)))

    def mean_coeff_sq(self, s):
        """mu(s)^2, computed without a square root."""
        return self._mu2(self._times(s))

    def marginal_var(self, s):
        """v(s): Y_s | y_0 has covariance v(s) I."""
        s = self._times(s)
        if self.peq_var is not None:
            return self.peq_var * self._one_minus_mu2(s)
        return self._v(s)

    def one_minus_mu2(self, s):
        r""":math:`1 - \mu(s)^2` for processes with an equilibrium (``v / k^2``), without cancellation
        at small ``s`` (``-expm1(-B)`` for VP, ``s (2 - s)`` for SL)."""
        if self.peq_var is None:
            raise ValueError(f"{self!r} has no equilibrium; use marginal_var")
        return self._one_minus_mu2(self._times(s))

    def log_one_minus_mu2(self, s):
        r""":math:`\log(1 - \mu(s)^2)` for processes with an equilibrium (``v = k^2 (1 - \mu^2)``).

        Accurate for every representable ``s > 0``, also where ``1 - mu^2`` underflows
        (e.g. VP at ``s = 5e-324``, where it is about ``1e-325``); ``-inf`` at ``s = 0``.
        The Dirac closed forms need it: ``KL(p_s || p_eq) ~ -(D/2) log(1 - mu^2)``.
        """
        if self.peq_var is None:
            raise ValueError(f"{self!r} has no equilibrium; use log_marginal_var")
        s = self._times(s)
        out = self._log_omm(s)
        bad = (s > 0) & ~np.isfinite(out)
        if np.any(bad):
            first = float(np.atleast_1d(s)[np.atleast_1d(bad)][0])
            raise ValueError(f"log(1 - mu^2) underflows at s = {first!r} for {self!r}: its schedule has no "
                             "log_integral(s) method (give it one, or use a larger cutoff)")
        return out

    def log_marginal_var(self, s):
        """log v(s), accurate for every representable ``s > 0`` (``-inf`` at ``s = 0``)."""
        if self.peq_var is not None:
            return math.log(self.peq_var) + self.log_one_minus_mu2(s)
        return self._log_v(self._times(s))

    def grad_log_peq(self, x, s=None):
        """Score of the frozen-time equilibrium, -x / k^2 (zero for VE: flat, improper p_eq)."""
        x = np.asarray(x, dtype=float)
        if self.peq_var is None:
            return np.zeros_like(x)
        return -x / self.peq_var

    def mean_coeff_sq_drop(self, s0, s1):
        r""":math:`\mu(s_0)^2 - \mu(s_1)^2 \ge 0` for ``s0 <= s1``, without the cancellation of the
        difference over short windows (``mu0^2 (-expm1(-(B(s1) - B(s0))))`` for VP,
        ``(s1 - s0)(2 - s0 - s1)`` for SL, 0 for VE)."""
        s0 = self._times(s0, "s0")
        s1 = self._times(s1, "s1")
        return self._mu2_drop(s0, s1)

    def marginal_var_increase(self, s0, s1):
        r""":math:`v(s_1) - v(s_0)` without cancellation (``k^2`` times :meth:`mean_coeff_sq_drop` for
        processes with an equilibrium; ``sigma_ve(s0)^2 expm1(2 log(sigma_max/sigma_min) (s1 - s0))`` for VE)."""
        s0 = self._times(s0, "s0")
        s1 = self._times(s1, "s1")
        if self.peq_var is not None:
            return self.peq_var * self._mu2_drop(s0, s1)
        return self._dv(s0, s1)

    def clock(self, s0, s1):
        """Thermodynamic clock tau = int_{s0}^{s1} D(s) ds (units of squared length)."""
        s0 = self._times(s0, "s0")
        s1 = self._times(s1, "s1")
        if np.any(s0 > s1):
            raise ValueError(f"need s0 <= s1 (got s0={s0}, s1={s1})")
        return self._clock(s0, s1)


def _schedule_output(schedule, method: str, out, s) -> np.ndarray:
    """Check one output of a custom noise schedule: a real array with the shape of ``s`` (a single number
    is broadcast), no NaN; ``beta`` and ``integral`` non-negative (``+inf`` allowed only where the schedule
    may be singular, at s = 1 of a ``singular_at_T`` schedule); ``log_integral`` not ``+inf`` or NaN."""
    who = f"the noise schedule {schedule!r}: {method}(s)"
    raw = np.asarray(out)
    if raw.dtype.kind not in "fiu":
        what = "complex values" if raw.dtype.kind == "c" else f"dtype {raw.dtype}"
        raise ValueError(f"{who} returned {what}; expected real numbers with the shape of s")
    arr = raw.astype(float)
    shape = np.shape(s)
    if arr.shape != shape:
        if arr.ndim != 0:
            raise ValueError(f"{who} returned shape {arr.shape} for s of shape {shape} (expected the shape of s)")
        arr = np.full(shape, float(arr))
    if np.any(np.isnan(arr)):
        first = float(np.ravel(np.broadcast_to(np.asarray(s, dtype=float), shape))[np.ravel(np.isnan(arr))][0])
        raise ValueError(f"{who} returned NaN at s = {first:.6g}")
    if method == "log_integral":
        if np.any(arr == np.inf):
            raise ValueError(f"{who} returned +inf")
        return arr
    if np.any(arr < 0):
        raise ValueError(f"{who} returned a negative value ({float(np.min(arr)):.3g}); beta(s) and its integral "
                         "B(s) = int_0^s beta must be >= 0")
    if np.any(np.isinf(arr)):
        s_arr = np.broadcast_to(np.asarray(s, dtype=float), shape)
        if not (getattr(schedule, "singular_at_T", False) and np.all(s_arr[np.isinf(arr)] >= 1.0)):
            first = float(np.ravel(s_arr)[np.ravel(np.isinf(arr))][0])
            raise ValueError(f"{who} returned inf at s = {first:.6g} (only a schedule with singular_at_T = True "
                             "may be infinite, and only at s = 1)")
    return arr


def _probe_schedule(schedule, T: float) -> None:
    """Evaluate a custom schedule on a probe grid of [0, T] (array and scalar input) and check its outputs."""
    grid = np.concatenate([[0.0], np.geomspace(1e-6 * T, T, 24)])
    grid[-1] = T
    for method in ("beta", "integral") + (("log_integral",) if callable(getattr(schedule, "log_integral", None))
                                          else ()):
        probe = grid[1:] if method == "log_integral" else grid     # log B(0) = -inf
        try:
            values = _schedule_output(schedule, method, getattr(schedule, method)(probe.copy()), probe)
            _schedule_output(schedule, method, getattr(schedule, method)(float(probe[1])), np.float64(probe[1]))
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"the noise schedule {schedule!r}: {method}(s) raised {type(exc).__name__}: {exc} "
                             "when called on an array of times in [0, T] or on a single time") from exc
        if method == "integral":
            if values[0] != 0.0:
                raise ValueError(f"the noise schedule {schedule!r}: integral(0) = {values[0]!r}; the integral "
                                 "B(s) = int_0^s beta must be 0 at s = 0")
            if np.any(np.diff(values) < 0):
                raise ValueError(f"the noise schedule {schedule!r}: integral(s) decreases on [0, T]; B(s) = "
                                 "int_0^s beta with beta >= 0 must be non-decreasing")


class VP(_LinearProcess):
    r"""Variance-preserving process, optionally with equilibrium width ``kappa`` (VPx).

    .. math:: dY = -\tfrac{\beta(s)}{2} Y\,ds + \kappa\sqrt{\beta(s)}\, dW,\qquad
              \mu = e^{-B(s)/2},\quad v = \kappa^2 (1 - \mu^2),\quad p_{eq} = N(0, \kappa^2 I).

    Parameters
    ----------
    beta_min, beta_max : float
        Linear schedule (ignored when ``schedule`` is given).  Defaults 0.1 -> 20 (Song et al.).
    kappa : float
        Equilibrium standard deviation (``kappa = 1`` is the usual VP; the paper's VPx uses 0.1), in
        :data:`WIDTH_RANGE` = [1e-150, 1e150] (ValueError outside).
    schedule : LinearSchedule or CosineSchedule, optional
        Any object with ``beta(s)``, ``integral(s)`` and ``singular_at_T`` (optionally
        ``log_integral(s)``).  The outputs of a schedule of another type are checked when the
        process is built (on a probe grid of times in [0, T], scalar and array input) and at every
        evaluation: real numbers with the shape of ``s`` (a single number for array ``s`` is
        broadcast), no NaN, ``beta >= 0`` and ``integral >= 0`` (``+inf`` only at ``s = T`` of a
        schedule singular at T), ``integral(0) = 0``, ``integral`` non-decreasing.  A failure is a
        ValueError naming the schedule and the method.
    T : float
        Final time (1 by default; the cosine schedule requires T <= 1).
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, kappa: float = 1.0,
                 schedule=None, T: float = 1.0):
        if schedule is not None and not all(callable(getattr(schedule, name, None))
                                            for name in ("beta", "integral")):
            raise TypeError(f"schedule must be a noise schedule (nr.LinearSchedule, nr.CosineSchedule or "
                            f"an object with methods beta(s) and integral(s)); got {schedule!r}")
        self.schedule = schedule if schedule is not None else LinearSchedule(beta_min, beta_max)
        self.kappa = _width("kappa", kappa)
        self.T = _finite_float("T", T)
        if self.T <= 0:
            raise ValueError(f"T must be positive (got {T})")
        if isinstance(self.schedule, CosineSchedule) and self.T > 1:
            raise ValueError(f"the cosine schedule is defined on [0, 1] only (got T={T})")
        self.singular_at_T = bool(getattr(self.schedule, "singular_at_T", False)) and self.T == 1.0
        self.peq_var = self.kappa ** 2
        # a schedule of the user's: its outputs are checked on a probe grid now and at every evaluation
        self._custom = not isinstance(self.schedule, (LinearSchedule, CosineSchedule))
        if self._custom:
            _probe_schedule(self.schedule, self.T)

    def _between(self, s0, s1):
        """B(s1) - B(s0) through the schedule's ``integral_between`` when it has one (no cancellation for
        short windows), else as the difference of the (checked) ``integral`` of a custom schedule."""
        between = getattr(self.schedule, "integral_between", None)
        if callable(between):
            return np.asarray(between(s0, s1), dtype=float)
        with np.errstate(invalid="ignore"):
            return self._sched("integral", s1) - self._sched("integral", s0)

    def _sched(self, method, s):
        """``schedule.<method>(s)`` (beta, integral or log_integral), checked when the schedule is custom."""
        out = getattr(self.schedule, method)(s)
        return _schedule_output(self.schedule, method, out, s) if self._custom else out

    @classmethod
    def from_alpha_bar(cls, alpha_bar, s=None, *, form: str = "alpha_bar", beta=None, kappa: float = 1.0,
                       T=None, betas=None) -> "VP":
        r"""VP process from a table or a function of :math:`\bar\alpha(s) = \mu(s)^2` (or log-SNR, or sigma).

        A table of N values has its nodes at ``s = (t + 1)/N``, ``t = 0..N-1`` (unless ``s=`` is
        given), with :math:`\bar\alpha(0) = 1` and :math:`\log\bar\alpha` linear between nodes (the
        diffusers convention; ``betas=`` takes diffusers' per-step betas instead).  A function is
        vectorised in ``s`` with :math:`\bar\alpha(0) = 1`; ``beta=`` is its rate
        :math:`-d\log\bar\alpha/ds` (differentiated numerically without it).  ``form`` is
        ``"alpha_bar"``, ``"log_snr"`` (:math:`\lambda = \log(\bar\alpha/(1-\bar\alpha))`) or ``"sigma"``
        (:math:`\sigma = \sqrt{(1-\bar\alpha)/\bar\alpha}`).  See :mod:`nent_ref.core.schedules`.
        """
        return vp_from_alpha_bar(alpha_bar, s, form=form, beta=beta, kappa=kappa, T=T, betas=betas)

    @classmethod
    def from_diffusers(cls, config) -> "VP":
        """VP process of a diffusers DDPMScheduler/DDIMScheduler: a config dict, a ``scheduler_config.json``
        file, a pipeline directory, or a scheduler object (diffusers itself is not needed for the others)."""
        return vp_from_diffusers_config(config)

    @property
    def n_timesteps(self):
        return getattr(self.schedule, "n_timesteps", None)

    def beta(self, s):
        return self._sched("beta", self._times(s))

    def B(self, s):
        """Integrated rate B(s) = int_0^s beta."""
        return self._sched("integral", self._times(s))

    def _a(self, s):
        return 0.5 * self._sched("beta", s)

    def sigma2(self, s):
        """sigma(s)^2 = kappa^2 beta(s)."""
        return self.peq_var * self._sched("beta", self._times(s))

    def _mu2(self, s):
        return np.exp(-self._sched("integral", s))

    def _one_minus_mu2(self, s):
        return -np.expm1(-self._sched("integral", s))

    def _mu2_drop(self, s0, s1):
        dB = self._between(s0, s1)
        return self._mu2(s0) * -np.expm1(-dB)

    def _log_omm(self, s):
        # log(-expm1(-B)) = log B + log(-expm1(-B)/B); the second term is below 1e-290 where B < 1e-290
        B = self._sched("integral", s)
        has_log = callable(getattr(self.schedule, "log_integral", None))
        with np.errstate(divide="ignore"):
            direct = np.log(-np.expm1(-B))
            if not has_log:
                return direct
            return np.where(B > _TINY, direct, self._sched("log_integral", s))

    def _clock(self, s0, s1):
        return 0.5 * self.peq_var * self._between(s0, s1)

    def __repr__(self):
        return f"VP({self.schedule!r}, kappa={self.kappa:g}, T={self.T:g})"


class SL(_LinearProcess):
    r"""Straight-line process: :math:`\mu = 1 - s`, reaching :math:`p_{eq} = N(0, \Sigma_0^2 I)` at s = 1.

    .. math:: b = -\frac{x}{1 - s},\quad \sigma^2 = \frac{2\Sigma_0^2}{1 - s},\quad
              v = \Sigma_0^2 (1 - (1 - s)^2).

    The drift is singular at s = T = 1: closed-form KL and S_tot accept s = 1 (where
    p_1 = p_eq exactly), rates and simulations need s < 1.

    Parameters
    ----------
    sigma0 : float
        Equilibrium standard deviation, in :data:`WIDTH_RANGE` = [1e-150, 1e150] (ValueError outside).
    """

    singular_at_T = True

    def __init__(self, sigma0: float = 1.0):
        self.sigma0 = _width("sigma0", sigma0)
        self.T = 1.0
        self.peq_var = self.sigma0 ** 2

    def _a(self, s):
        with np.errstate(divide="ignore"):
            return 1.0 / (1.0 - s)

    def sigma2(self, s):
        """sigma(s)^2 = 2 Sigma0^2 / (1 - s) (infinite at s = 1)."""
        s = self._times(s)
        with np.errstate(divide="ignore"):
            return 2.0 * self.peq_var / (1.0 - s)

    def _mu2(self, s):
        return (1.0 - s) ** 2

    def _one_minus_mu2(self, s):
        return s * (2.0 - s)

    def _mu2_drop(self, s0, s1):
        return (s1 - s0) * ((1.0 - s0) + (1.0 - s1))

    def _log_omm(self, s):
        with np.errstate(divide="ignore"):
            return np.log(s) + np.log(2.0 - s)

    def _clock(self, s0, s1):
        # log((1 - s0) / (1 - s1)) = log1p((s1 - s0) / (1 - s1)): no cancellation for short windows
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(s1 > s0, self.peq_var * np.log1p((s1 - s0) / (1.0 - s1)), 0.0)

    def __repr__(self):
        return f"SL(sigma0={self.sigma0:g})"


class VE(_LinearProcess):
    r"""Variance-exploding process with geometric noise :math:`\sigma_{ve}(s) = \sigma_{min} (\sigma_{max}/\sigma_{min})^s`.

    .. math:: b = 0,\quad \sigma^2 = \frac{d\sigma_{ve}^2}{ds} = 2 \log(\sigma_{max}/\sigma_{min})\, \sigma_{ve}(s)^2,
              \quad \mu = 1,\quad v = \sigma_{ve}(s)^2 - \sigma_{ve}(0)^2.

    There is no normalisable equilibrium: ``grad_log_peq`` is zero, ``kl_to_equilibrium``
    raises, and the total entropy is the entropy difference :math:`H(p_{s_1}) - H(p_{s_0})`.

    Parameters
    ----------
    sigma_min, sigma_max : float
        Any finite numbers with ``0 < sigma_min < sigma_max``.  Noise levels and variances are
        evaluated through their logarithms (``log(sigma_max/sigma_min)`` is never formed as a
        ratio that could overflow), so the entropy rate, S_tot and entropies are right for every such
        pair (e.g. ``VE(1e-200, 1e200)`` or ``VE(1e299, 1e300)``).  Quantities that need ``v(s)``
        or ``sigma(s)^2`` themselves (``marginal_var``, ``diffusion``, ``clock``, ``diffuse``, the
        speed limit, sampling) raise ValueError at times where they exceed the double range, which
        happens only when ``sigma_ve(s)`` exceeds :data:`VE_SIGMA_MAX_FINITE_VAR` = 1e154.
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        self.sigma_min = _finite_float("sigma_min", sigma_min)
        self.sigma_max = _finite_float("sigma_max", sigma_max)
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max (got {sigma_min}, {sigma_max})")
        self.T = 1.0
        self._log_smin = math.log(self.sigma_min)
        ratio = self.sigma_max / self.sigma_min
        self._log_ratio = (math.log(ratio) if math.isfinite(ratio) and ratio > 1.0
                           else math.log(self.sigma_max) - self._log_smin)
        # sigma_min^2 as a plain double when it is one (full relative precision), else through logs
        self._direct = 1e-150 <= self.sigma_min <= 1e150

    def _scaled(self, log_factor, direct_factor, x, direct_ok):
        """exp(log_factor + x) with ``direct_factor * exp(x)`` where that form is safe."""
        x = np.asarray(x, dtype=float)
        with np.errstate(over="ignore", under="ignore"):
            via_log = np.exp(log_factor + x)
            if not self._direct:
                return via_log
            return np.where(direct_ok & (x < 700.0), direct_factor * np.exp(np.minimum(x, 700.0)), via_log)

    def _finite(self, value, what, s):
        if not np.all(np.isfinite(value)):
            bad = float(np.atleast_1d(np.broadcast_to(s, np.shape(value)))[~np.isfinite(np.atleast_1d(value))][0])
            raise ValueError(f"{what} overflows double precision at s = {bad!r} for {self!r}: sigma_ve(s) exceeds "
                             f"{VE_SIGMA_MAX_FINITE_VAR:g} (use sigma_max <= {VE_SIGMA_MAX_FINITE_VAR:g}, or the "
                             "log-domain quantities: entropy rate, total entropy, log_marginal_var)")
        return value

    @classmethod
    def from_sigma(cls, sigma, s=None, *, dsigma=None, T: float = 1.0) -> "VE":
        r"""VE process :math:`Y_s = y_0 + \sqrt{v(s)} z`, :math:`v = \sigma(s)^2 - \sigma(0)^2`, from any sigma.

        ``sigma`` is a table (nodes ``s = (t + 1)/N`` unless ``s=`` is given, :math:`\sigma(0) = 0`,
        :math:`\sigma^2` linear between nodes), a vectorised increasing function of ``s`` (``dsigma=``
        its derivative, else differentiated numerically), or a schedule object of
        :mod:`nent_ref.core.schedules` (e.g. ``EDMSigma(80)``, EDM's sigma(t) = t as ``80 s``).
        """
        return ve_from_sigma(sigma, s, dsigma=dsigma, T=T)

    def sigma_ve(self, s):
        """Noise level sigma_ve(s)."""
        s = self._times(s)
        return self._scaled(self._log_smin, self.sigma_min, self._log_ratio * s, True)

    def _a(self, s):
        return np.zeros_like(s)

    def log_diffusion(self, s):
        """log D(s) = log(log(sigma_max/sigma_min)) + 2 log sigma_ve(s), finite for every valid VE."""
        s = self._times(s)
        return math.log(self._log_ratio) + 2.0 * (self._log_smin + self._log_ratio * s)

    def sigma2(self, s):
        s = self._times(s)
        out = 2.0 * self._log_ratio * self._scaled(2.0 * self._log_smin, self.sigma_min ** 2 if self._direct else 0.0,
                                                   2.0 * self._log_ratio * s, True)
        return self._finite(out, "sigma(s)^2", s)

    def _mu2(self, s):
        return np.ones_like(s)

    def _mu2_drop(self, s0, s1):
        return np.zeros(np.broadcast(s0, s1).shape)

    def marginal_var(self, s):
        s = self._times(s)
        return self._finite(self._v(s), "v(s)", s)

    def _v(self, s):
        x = 2.0 * self._log_ratio * s
        if not self._direct:
            with np.errstate(over="ignore"):
                return np.exp(self._log_v(s))
        with np.errstate(over="ignore"):
            direct = self.sigma_min ** 2 * np.expm1(np.minimum(x, 700.0))
            return np.where(x < 700.0, direct, np.exp(self._log_v(s)))

    def _log_v(self, s):
        return 2.0 * self._log_smin + _log_expm1(s, 2.0 * self._log_ratio)

    def _dv(self, s0, s1):
        # v(s1) - v(s0) = sigma_ve(s0)^2 expm1(2 L (s1 - s0)): no cancellation for short windows
        x0 = 2.0 * self._log_ratio * s0
        h = 2.0 * self._log_ratio * (s1 - s0)
        with np.errstate(over="ignore", under="ignore"):
            via_log = np.exp(2.0 * self._log_smin + x0 + _log_expm1(s1 - s0, 2.0 * self._log_ratio))
            if not self._direct:
                return via_log
            direct = self.sigma_min ** 2 * np.exp(np.minimum(x0, 700.0)) * np.expm1(np.minimum(h, 700.0))
            return np.where((x0 < 700.0) & (h < 700.0), direct, via_log)

    def rounding_growth(self, s):
        """Factor (>= 1) by which the relative rounding of ``v(s)`` and of its logarithm can exceed a few
        ulps: ``1 + 2 log(sigma_max/sigma_min) s + |log v(s)|`` (the exponent is rounded, then exponentiated)."""
        s = np.asarray(s, dtype=float)
        with np.errstate(divide="ignore"):
            log_v = np.asarray(self.log_marginal_var(s), dtype=float)
        return 1.0 + 2.0 * self._log_ratio * s + np.where(np.isfinite(log_v), np.abs(log_v), 0.0)

    def log_marginal_var_increase(self, s0, s1):
        """log(v(s1) - v(s0)), finite for every valid VE and s0 < s1 (-inf when s0 = s1)."""
        s0 = self._times(s0, "s0")
        s1 = self._times(s1, "s1")
        return 2.0 * (self._log_smin + self._log_ratio * s0) + _log_expm1(s1 - s0, 2.0 * self._log_ratio)

    def _clock(self, s0, s1):
        return self._finite(0.5 * self._dv(s0, s1), "the clock int D ds", s1)

    def __repr__(self):
        return f"VE(sigma_min={self.sigma_min:g}, sigma_max={self.sigma_max:g})"


# --------------------------------------------------------------------------- processes from schedule tables and functions
class ScheduledVE(VE):
    r"""VE process with any noise level :math:`\sigma(s)` (:class:`SigmaTable`, :class:`SigmaFunction`,
    :class:`EDMSigma`): :math:`\mu = 1`, :math:`v = \sigma(s)^2 - \sigma(0)^2`, :math:`D = v'/2`.
    ``sigma_min``/``sigma_max`` are :math:`\sigma(0)` and :math:`\sigma(T)`."""

    def __init__(self, sigma_schedule):
        if not all(callable(getattr(sigma_schedule, n, None)) for n in ("sigma", "v", "log_v", "dv")):
            raise ScheduleError(f"not a sigma schedule: {sigma_schedule!r}")
        self.sigma_schedule = sigma_schedule
        self.T = float(sigma_schedule.T)
        self.sigma_min = float(sigma_schedule.sigma0)
        self.sigma_max = float(sigma_schedule.sigma(np.array(self.T)))
        self.n_timesteps = getattr(sigma_schedule, "n_timesteps", None)

    def sigma_ve(self, s):
        return self.sigma_schedule.sigma(self._times(s))

    def sigma2(self, s):
        return self.sigma_schedule.dv(self._times(s))

    def _v(self, s):
        return self.sigma_schedule.v(s)

    def _log_v(self, s):
        return self.sigma_schedule.log_v(s)

    def rounding_growth(self, s):
        """``1 + |log v(s)|``: v comes from the schedule's own table or function, without an exponent to
        round first (see :meth:`VE.rounding_growth`)."""
        s = np.asarray(s, dtype=float)
        with np.errstate(divide="ignore"):
            log_v = np.asarray(self.log_marginal_var(s), dtype=float)
        return 1.0 + np.where(np.isfinite(log_v), np.abs(log_v), 0.0)

    def log_diffusion(self, s):
        """log D(s) = log(v'(s) / 2)."""
        with np.errstate(divide="ignore"):
            return np.log(0.5 * self.sigma_schedule.dv(self._times(s)))

    def _dv(self, s0, s1):
        # v(s1) - v(s0) as a difference of the tabulated/function values (a rounding bound covers it)
        return self._v(s1) - self._v(s0)

    def log_marginal_var_increase(self, s0, s1):
        """log(v(s1) - v(s0)) (-inf when s0 = s1)."""
        s0 = self._times(s0, "s0")
        s1 = self._times(s1, "s1")
        with np.errstate(divide="ignore"):
            return np.log(self._dv(s0, s1))

    def __repr__(self):
        return f"VE({self.sigma_schedule!r})"


def vp_from_alpha_bar(alpha_bar, s=None, *, form="alpha_bar", beta=None, kappa=1.0, T=None, betas=None,
                      source=None) -> VP:
    """The VP process of a table or function of alpha_bar (log-SNR, sigma); see :meth:`nent_ref.VP.from_alpha_bar`."""
    if betas is not None or not callable(alpha_bar):
        if form != "alpha_bar" and betas is None:
            vals = _real_array(form, alpha_bar)
            if form == "log_snr":
                alpha_bar = 1.0 / (1.0 + np.exp(-vals))
            elif form == "sigma":
                alpha_bar = 1.0 / (1.0 + vals * vals)
            else:
                raise ScheduleError(f"form must be 'alpha_bar', 'log_snr' or 'sigma' (got {form!r})")
        if beta is not None:
            raise ScheduleError("beta= is the derivative of a schedule function; a table defines its own rate")
        sched = AlphaBarTable(alpha_bar, s, betas=betas, source=source)
        Tt = sched.T
    else:
        if s is not None:
            raise ScheduleError("s= gives the nodes of a table; a function is evaluated at any s")
        sched = AlphaBarFunction(alpha_bar, form=form, beta=beta, T=1.0 if T is None else T)
        Tt = sched.T
    if T is not None and not math.isclose(float(T), Tt, rel_tol=0, abs_tol=0):
        raise ScheduleError(f"T = {T!r} but the schedule ends at s = {Tt!r}")
    proc = VP(schedule=sched, kappa=kappa, T=Tt)
    proc.singular_at_T = bool(getattr(sched, "singular_at_T", False))
    return proc


def ve_from_sigma(sigma, s=None, *, dsigma=None, T=1.0) -> VE:
    """The VE process of a table or function sigma(s); see :meth:`nent_ref.VE.from_sigma`."""
    if isinstance(sigma, (SigmaTable, SigmaFunction, EDMSigma)):
        return ScheduledVE(sigma)
    if callable(sigma):
        if s is not None:
            raise ScheduleError("s= gives the nodes of a table; a function is evaluated at any s")
        return ScheduledVE(SigmaFunction(sigma, dsigma=dsigma, T=T))
    if dsigma is not None:
        raise ScheduleError("dsigma= is the derivative of a sigma function; a table defines its own rate")
    return ScheduledVE(SigmaTable(sigma, s))


def vp_from_diffusers_config(config) -> VP:
    """The VP process of a diffusers DDPMScheduler/DDIMScheduler config (dict, file, directory, or scheduler);
    ``process.scheduler_config`` keeps the fields read (with ``prediction_type``)."""
    cfg = read_scheduler_config(config)
    betas = diffusers_betas(cfg["num_train_timesteps"], cfg["beta_start"], cfg["beta_end"], cfg["beta_schedule"],
                            cfg["trained_betas"])
    label = (f"diffusers {cfg['beta_schedule'] if cfg['trained_betas'] is None else 'trained_betas'}, "
             f"N={betas.size}")
    proc = vp_from_alpha_bar(None, betas=betas, source=label)
    proc.scheduler_config = cfg
    return proc
