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

from .checks import InputTypeError, finite_float as _finite_float, real_array
from .schedules import (AlphaBarFunction, AlphaBarTable, EDMSigma, ScheduleError, SigmaFunction, SigmaTable,
                        diffusers_betas, read_scheduler_config)

__all__ = ["check_process", "diffusion_coefficients", "LinearSchedule", "CosineSchedule", "VP", "SL", "VE", "check_times",
           "is_process", "ScheduledVE", "vp_from_alpha_bar", "ve_from_sigma", "vp_from_diffusers_config"]

#: Below this, B(s) (or 2 log(sigma_max/sigma_min) s for VE) is treated through its logarithm.
_TINY = 1e-290


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

    Raises ValueError for NaN/inf or times outside ``[0, T]`` (``[0, T)`` when ``allow_T``
    is False, used where the drift is singular at ``T``).
    """
    arr = np.asarray(s, dtype=float)
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

    Parameters
    ----------
    offset : float
        The offset ``c`` (> 0; Nichol & Dhariwal use 0.008).  It was called ``s`` before 0.2, the
        letter of forward time; ``CosineSchedule(s=...)`` and the attribute ``.s`` remain as deprecated
        aliases.
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
        self._phase0 = 0.5 * math.pi * self.offset / (1.0 + self.offset)

    @property
    def s(self) -> float:
        """Deprecated alias of :attr:`offset`."""
        return self.offset

    def _phase(self, t):
        return 0.5 * math.pi * (np.asarray(t, dtype=float) + self.offset) / (1.0 + self.offset)

    def beta(self, t):
        """beta(t) = pi/(1+c) tan(phase(t)); infinite at t = 1."""
        with np.errstate(divide="ignore", over="ignore"):
            return math.pi / (1.0 + self.offset) * np.tan(self._phase(t))

    def integral(self, t):
        """B(t) = -2 log( cos(phase(t)) / cos(phase(0)) ); +inf at t = 1.

        Evaluated without cancellation at small t: with d = phase(t) - phase(0),
        cos(phase0 + d)/cos(phase0) = 1 - 2 sin^2(d/2) - tan(phase0) sin d, then log1p.
        """
        t = np.asarray(t, dtype=float)
        d = 0.5 * math.pi * t / (1.0 + self.offset)
        ratio_m1 = -2.0 * np.sin(0.5 * d) ** 2 - math.tan(self._phase0) * np.sin(d)
        with np.errstate(divide="ignore"):
            return np.where(t >= 1.0, np.inf, -2.0 * np.log1p(np.maximum(ratio_m1, -1.0)))

    def log_integral(self, t):
        """log B(t), accurate where B underflows (every representable t > 0).

        For t < 1e-100, B = 2 tan(phase0) d (1 + O(d)) with d = (pi/2) t / (1 + c), so
        log B = log(2 tan(phase0) pi / (2 (1 + c))) + log t to double precision; elsewhere log(B(t)).
        """
        t = np.asarray(t, dtype=float)
        const = math.log(math.pi * math.tan(self._phase0) / (1.0 + self.offset))
        with np.errstate(divide="ignore"):
            direct = np.log(self.integral(np.maximum(t, 1e-100)))
            return np.where(t < 1e-100, const + np.log(t), direct)

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

    def clock(self, s0, s1):
        """Thermodynamic clock tau = int_{s0}^{s1} D(s) ds (units of squared length)."""
        s0 = self._times(s0, "s0")
        s1 = self._times(s1, "s1")
        if np.any(s0 > s1):
            raise ValueError(f"need s0 <= s1 (got s0={s0}, s1={s1})")
        return self._clock(s0, s1)


class VP(_LinearProcess):
    r"""Variance-preserving process, optionally with equilibrium width ``kappa`` (VPx).

    .. math:: dY = -\tfrac{\beta(s)}{2} Y\,ds + \kappa\sqrt{\beta(s)}\, dW,\qquad
              \mu = e^{-B(s)/2},\quad v = \kappa^2 (1 - \mu^2),\quad p_{eq} = N(0, \kappa^2 I).

    Parameters
    ----------
    beta_min, beta_max : float
        Linear schedule (ignored when ``schedule`` is given).  Defaults 0.1 -> 20 (Song et al.).
    kappa : float
        Equilibrium standard deviation (``kappa = 1`` is the usual VP; the paper's VPx uses 0.1).
    schedule : LinearSchedule or CosineSchedule, optional
        Any object with ``beta(s)``, ``integral(s)`` and ``singular_at_T``.
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
        self.kappa = _finite_float("kappa", kappa)
        if self.kappa <= 0:
            raise ValueError(f"kappa must be positive (got {kappa})")
        self.T = _finite_float("T", T)
        if self.T <= 0:
            raise ValueError(f"T must be positive (got {T})")
        if isinstance(self.schedule, CosineSchedule) and self.T > 1:
            raise ValueError(f"the cosine schedule is defined on [0, 1] only (got T={T})")
        self.singular_at_T = bool(getattr(self.schedule, "singular_at_T", False)) and self.T == 1.0
        self.peq_var = self.kappa ** 2

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
        return self.schedule.beta(self._times(s))

    def B(self, s):
        """Integrated rate B(s) = int_0^s beta."""
        return self.schedule.integral(self._times(s))

    def _a(self, s):
        return 0.5 * self.schedule.beta(s)

    def sigma2(self, s):
        """sigma(s)^2 = kappa^2 beta(s)."""
        return self.peq_var * self.schedule.beta(self._times(s))

    def _mu2(self, s):
        return np.exp(-self.schedule.integral(s))

    def _one_minus_mu2(self, s):
        return -np.expm1(-self.schedule.integral(s))

    def _log_omm(self, s):
        # log(-expm1(-B)) = log B + log(-expm1(-B)/B); the second term is below 1e-290 where B < 1e-290
        B = self.schedule.integral(s)
        log_b = getattr(self.schedule, "log_integral", None)
        with np.errstate(divide="ignore"):
            direct = np.log(-np.expm1(-B))
            if log_b is None:
                return direct
            return np.where(B > _TINY, direct, log_b(s))

    def _clock(self, s0, s1):
        return 0.5 * self.peq_var * (self.schedule.integral(s1) - self.schedule.integral(s0))

    def __repr__(self):
        return f"VP({self.schedule!r}, kappa={self.kappa:g}, T={self.T:g})"


class SL(_LinearProcess):
    r"""Straight-line process: :math:`\mu = 1 - s`, reaching :math:`p_{eq} = N(0, \Sigma_0^2 I)` at s = 1.

    .. math:: b = -\frac{x}{1 - s},\quad \sigma^2 = \frac{2\Sigma_0^2}{1 - s},\quad
              v = \Sigma_0^2 (1 - (1 - s)^2).

    The drift is singular at s = T = 1: closed-form KL and S_tot accept s = 1 (where
    p_1 = p_eq exactly), rates and simulations need s < 1.
    """

    singular_at_T = True

    def __init__(self, sigma0: float = 1.0):
        self.sigma0 = _finite_float("sigma0", sigma0)
        if self.sigma0 <= 0:
            raise ValueError(f"sigma0 must be positive (got {sigma0})")
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

    def _log_omm(self, s):
        with np.errstate(divide="ignore"):
            return np.log(s) + np.log(2.0 - s)

    def _clock(self, s0, s1):
        with np.errstate(divide="ignore"):
            return self.peq_var * (np.log1p(-s0) - np.log1p(-s1))

    def __repr__(self):
        return f"SL(sigma0={self.sigma0:g})"


class VE(_LinearProcess):
    r"""Variance-exploding process with geometric noise :math:`\sigma_{ve}(s) = \sigma_{min} (\sigma_{max}/\sigma_{min})^s`.

    .. math:: b = 0,\quad \sigma^2 = \frac{d\sigma_{ve}^2}{ds} = 2 \log(\sigma_{max}/\sigma_{min})\, \sigma_{ve}(s)^2,
              \quad \mu = 1,\quad v = \sigma_{ve}(s)^2 - \sigma_{ve}(0)^2.

    There is no normalisable equilibrium: ``grad_log_peq`` is zero, ``kl_to_equilibrium``
    raises, and the total entropy is the entropy difference :math:`H(p_{s_1}) - H(p_{s_0})`.
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0):
        self.sigma_min = _finite_float("sigma_min", sigma_min)
        self.sigma_max = _finite_float("sigma_max", sigma_max)
        if not 0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max (got {sigma_min}, {sigma_max})")
        self.T = 1.0
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

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
        return self.sigma_min * np.exp(self._log_ratio * self._times(s))

    def _a(self, s):
        return np.zeros_like(s)

    def sigma2(self, s):
        s = self._times(s)
        return 2.0 * self._log_ratio * self.sigma_min ** 2 * np.exp(2.0 * self._log_ratio * s)

    def _mu2(self, s):
        return np.ones_like(s)

    def _v(self, s):
        return self.sigma_min ** 2 * np.expm1(2.0 * self._log_ratio * s)

    def _log_v(self, s):
        # log expm1(x) = log x + log(expm1(x)/x), the second term below 1e-290 where x < 1e-290
        x = 2.0 * self._log_ratio * s
        with np.errstate(divide="ignore"):
            small = np.log(2.0 * self._log_ratio) + np.log(s)
            return 2.0 * math.log(self.sigma_min) + np.where(x > _TINY, np.log(np.expm1(np.maximum(x, _TINY))),
                                                             small)

    def _clock(self, s0, s1):
        return 0.5 * (self._v(s1) - self._v(s0))

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

    def _clock(self, s0, s1):
        return 0.5 * (self._v(s1) - self._v(s0))

    def __repr__(self):
        return f"VE({self.sigma_schedule!r})"


def vp_from_alpha_bar(alpha_bar, s=None, *, form="alpha_bar", beta=None, kappa=1.0, T=None, betas=None,
                      source=None) -> VP:
    """The VP process of a table or function of alpha_bar (log-SNR, sigma); see :meth:`nent_ref.VP.from_alpha_bar`."""
    if betas is not None or not callable(alpha_bar):
        if form != "alpha_bar" and betas is None:
            vals = real_array(form, alpha_bar)
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
