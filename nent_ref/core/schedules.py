r"""Noise schedules from tables and functions: any VP-family schedule (ᾱ, log-SNR or σ form), any VE σ(s).

A VP process is fixed by :math:`\bar\alpha(s) = \mu(s)^2` (docs/theory.md section 1):
:math:`Y_s \mid y_0 \sim N(\sqrt{\bar\alpha}\, y_0, \kappa^2 (1 - \bar\alpha) I)`, with the integrated rate
:math:`B(s) = -\log\bar\alpha(s)` and the rate :math:`\beta(s) = B'(s) = -d\log\bar\alpha/ds`.  The
equivalent forms are the log signal-to-noise ratio :math:`\lambda = \log(\bar\alpha/(1 - \bar\alpha))`
(:math:`B = \log(1 + e^{-\lambda})`) and the EDM/k-diffusion noise level
:math:`\sigma = \sqrt{(1 - \bar\alpha)/\bar\alpha}` (:math:`B = \log(1 + \sigma^2)`).

**Tables** (:class:`AlphaBarTable`).  N values :math:`\bar\alpha_t`, :math:`t = 0, \dots, N-1`, sit at the
nodes :math:`s_t = (t + 1)/N` (unless ``s=`` gives other nodes), with :math:`\bar\alpha(0) = 1` at
:math:`s = 0`.  This is the diffusers convention :math:`x_t = \sqrt{\bar\alpha_t} x_0 + \sqrt{1 - \bar\alpha_t}\,
\varepsilon`, :math:`\bar\alpha_t = \prod_{i \le t}(1 - \beta_i)`: the discrete timestep ``t`` is at
:math:`s = (t + 1)/N`, and conversely :math:`t = sN - 1` (so ``t = -1`` is the clean data).  Between
nodes :math:`\log\bar\alpha` is interpolated linearly, so :math:`\beta(s)` is constant on each interval,
:math:`\beta = (B_{t+1} - B_t)/(s_{t+1} - s_t)`.  Every quantity that depends only on the marginals
(:math:`S_{tot}`, KL, entropies, :math:`W_2`) is exact at the nodes whatever the interpolation; between
nodes it is that of the interpolated process.  :math:`B_t` is formed as
:math:`-\sum_{i \le t}\log(1 - \beta_i)` (``log1p``) when the betas are given, so small :math:`B` keep
their digits.

**Functions** (:class:`AlphaBarFunction`).  A vectorised callable of ``s`` in one of the three forms;
its rate :math:`\beta = B'` is the callable ``beta=`` when given, otherwise a Richardson-extrapolated
central difference of ``B`` (one-sided at the ends) that raises when its own error estimate exceeds
``DERIVATIVE_RTOL`` relative.

**VE** (:class:`SigmaTable`, :class:`SigmaFunction`, :class:`EDMSigma`).  :math:`Y_s = y_0 + \sqrt{v(s)}\, z`
with :math:`v(s) = \sigma(s)^2 - \sigma(0)^2` and :math:`D(s) = v'(s)/2 = \sigma\sigma'`.  A table of
:math:`\sigma` values has the same default nodes and :math:`\sigma(0) = 0`; :math:`v` is interpolated
linearly between nodes (D constant on each interval).  EDM (Karras et al. 2022) uses
:math:`\sigma(t) = t`; here :math:`\sigma(s) = \sigma_{max} s` on :math:`s \in [0, 1]`
(:class:`EDMSigma`), and EDM's :math:`\sigma_{min}` is the cutoff :math:`s_0 = \sigma_{min}/\sigma_{max}`.
Neither :math:`S_{tot}` nor :math:`S_{NN}` depends on how ``s`` parametrises the noise levels
(:math:`D\,ds = d(\sigma^2)/2`).

**diffusers configs** (:func:`diffusers_betas`, :func:`read_scheduler_config`).  ``DDPMScheduler`` /
``DDIMScheduler`` configs (``num_train_timesteps``, ``beta_start``, ``beta_end``, ``beta_schedule`` in
linear, scaled_linear, squaredcos_cap_v2, sigmoid, or ``trained_betas``) are read without diffusers.
The betas are computed in float64 from their definitions; diffusers builds them in float32
(relative differences of order 1e-7 in the betas, up to ~1e-5 in ᾱ at the tail of squaredcos_cap_v2,
~1e-6 for linear and scaled_linear; tests/test_schedules.py compares with
diffusers' own scheduler when it is installed).

References
----------
Ho, Jain, Abbeel, NeurIPS 2020 (DDPM); Nichol & Dhariwal, ICML 2021 (squaredcos_cap_v2); Kingma et al.,
"Variational diffusion models", NeurIPS 2021 (log-SNR); Karras et al., "Elucidating the design space of
diffusion-based generative models", NeurIPS 2022 (EDM, sigma(t) = t).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .checks import finite_float, real_array

__all__ = ["AlphaBarTable", "AlphaBarFunction", "SigmaTable", "SigmaFunction", "EDMSigma", "table_nodes",
           "diffusers_betas", "read_scheduler_config", "DIFFUSERS_BETA_SCHEDULES", "PREDICTION_TYPES",
           "DERIVATIVE_RTOL", "ScheduleError"]

#: Largest relative error estimate accepted for a numerically differentiated schedule.
DERIVATIVE_RTOL = 1e-7
#: The beta schedules of diffusers' DDPMScheduler/DDIMScheduler read by :func:`diffusers_betas`.
DIFFUSERS_BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid")
#: diffusers' prediction_type -> nent_ref's prediction name (nent_ref.quantities.predictions).
PREDICTION_TYPES = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}


class ScheduleError(ValueError):
    """A schedule table, function or config that does not define a forward process."""


def table_nodes(n: int, T: float = 1.0) -> np.ndarray:
    """Default nodes of an N-value table: ``s_t = T (t + 1)/N`` for ``t = 0..N-1``."""
    return T * (np.arange(1, n + 1, dtype=float) / n)


def _nodes(values, s, name):
    vals = real_array(name, values)
    if vals.ndim != 1 or vals.size < 1:
        raise ScheduleError(f"{name} must be a non-empty 1-D table (got shape {vals.shape})")
    if s is None:
        nodes = table_nodes(vals.size)
        return vals, nodes, True
    nodes = real_array("s", s)
    if nodes.shape != vals.shape:
        raise ScheduleError(f"s must give one node per entry of {name} (got {nodes.shape} for {vals.shape})")
    if nodes[0] <= 0 or np.any(np.diff(nodes) <= 0):
        raise ScheduleError("s must be strictly increasing and positive (the data sit at s = 0)")
    return vals, nodes, False


class _PiecewiseLinear:
    """f(s) piecewise linear through (0, 0) and (s_k, F_k): value, slope (right-continuous), log f."""

    def __init__(self, nodes, F):
        self.x = np.concatenate([[0.0], nodes])
        self.F = np.concatenate([[0.0], F])
        self.slopes = np.diff(self.F) / np.diff(self.x)

    def _segment(self, s):
        k = np.searchsorted(self.x, s, side="right") - 1
        return np.clip(k, 0, self.slopes.size - 1)

    def value(self, s):
        s = np.asarray(s, dtype=float)
        k = self._segment(s)
        return self.F[k] + self.slopes[k] * (s - self.x[k])

    def slope(self, s):
        return self.slopes[self._segment(np.asarray(s, dtype=float))]

    def log_value(self, s):
        s = np.asarray(s, dtype=float)
        with np.errstate(divide="ignore"):
            first = math.log(self.slopes[0]) + np.log(s)
            return np.where(s <= self.x[1], first, np.log(np.maximum(self.value(s), 1e-300)))


class AlphaBarTable:
    r"""VP noise schedule from a table of :math:`\bar\alpha` (module docstring: nodes and interpolation).

    Parameters
    ----------
    alpha_bar : array_like, shape (N,)
        Strictly decreasing values in (0, 1); ignored when ``betas`` is given.
    s : array_like, optional
        Nodes (strictly increasing, positive); default ``(t + 1)/N``.
    betas : array_like, optional
        Per-step betas (diffusers' ``betas``): :math:`\bar\alpha_t = \prod_{i\le t}(1-\beta_i)`, with
        :math:`B_t = -\sum\log(1-\beta_i)` summed without forming the product.
    """

    singular_at_T = False

    def __init__(self, alpha_bar=None, s=None, *, betas=None, source=None):
        if betas is not None:
            b = real_array("betas", betas)
            if b.ndim != 1 or b.size < 1:
                raise ScheduleError(f"betas must be a non-empty 1-D table (got shape {b.shape})")
            if np.any(b <= 0) or np.any(b >= 1):
                raise ScheduleError("betas must lie in (0, 1) (a beta of 1 makes alpha_bar 0: zero terminal SNR, "
                                    "where the process reaches p_eq at a finite step; drop that step)")
            B = np.cumsum(-np.log1p(-b))
            _, nodes, default = _nodes(b, s, "betas")
            self.betas = b
            self.input_form, self.input_values = "betas", b
        else:
            if alpha_bar is None:
                raise ScheduleError("give alpha_bar (a table) or betas=")
            ab, nodes, default = _nodes(alpha_bar, s, "alpha_bar")
            if np.any(ab <= 0) or np.any(ab >= 1):
                raise ScheduleError("alpha_bar must lie in (0, 1) at every node (alpha_bar(0) = 1 is implied at s = 0; "
                                    "a value of 0 is zero terminal SNR: drop that node)")
            if np.any(np.diff(ab) >= 0):
                k = int(np.flatnonzero(np.diff(ab) >= 0)[0])
                raise ScheduleError(f"alpha_bar must be strictly decreasing (entries {k} and {k + 1}: {ab[k]!r}, "
                                    f"{ab[k + 1]!r}); did you pass alpha = 1 - beta instead of alpha_bar = cumprod(alpha)?")
            B = -np.log(ab)
            self.betas = None
            self.input_form, self.input_values = "alpha_bar", ab
        self.nodes = nodes
        self.default_nodes = default
        self.n_timesteps = int(nodes.size)
        self.B_nodes = B
        self.source = source
        self._f = _PiecewiseLinear(nodes, B)
        self.T = float(nodes[-1])

    @property
    def alpha_bar(self) -> np.ndarray:
        """The table :math:`\\bar\\alpha_t = e^{-B_t}` at the nodes."""
        return np.exp(-self.B_nodes)

    def beta(self, s):
        """beta(s) = -d log alpha_bar/ds: constant on each interval [s_t, s_{t+1}) (right-continuous)."""
        return self._f.slope(s)

    def integral(self, s):
        """B(s) = -log alpha_bar(s), linear between nodes."""
        return self._f.value(s)

    def log_integral(self, s):
        """log B(s), accurate where B underflows (first interval: log(slope) + log s)."""
        return self._f.log_value(s)

    def __repr__(self):
        src = f", source={self.source!r}" if self.source else ""
        return f"AlphaBarTable(N={self.n_timesteps}, alpha_bar_last={self.alpha_bar[-1]:.6g}{src})"


def _derivative(f, s, lo, hi, name):
    """f'(s) by Richardson-extrapolated differences (central inside, one-sided second order near the ends);
    ScheduleError when the error estimate exceeds DERIVATIVE_RTOL relative."""
    s = np.asarray(s, dtype=float)
    h = 1e-3 * (hi - lo)

    def diff(h):
        left = s - h < lo
        right = s + h > hi
        c = (f(np.minimum(s + h, hi)) - f(np.maximum(s - h, lo))) / (np.minimum(s + h, hi) - np.maximum(s - h, lo))
        fw = (-3 * f(s) + 4 * f(np.minimum(s + h, hi)) - f(np.minimum(s + 2 * h, hi))) / (2 * h)
        bw = (3 * f(s) - 4 * f(np.maximum(s - h, lo)) + f(np.maximum(s - 2 * h, lo))) / (2 * h)
        return np.where(left, fw, np.where(right, bw, c))

    d1, d2 = diff(h), diff(0.5 * h)
    rich = (4.0 * d2 - d1) / 3.0
    err = np.abs(rich - d2)
    scale = np.abs(rich)
    bad = ~np.isfinite(rich) | (err > DERIVATIVE_RTOL * scale + 1e-300)
    if np.any(bad):
        at = float(np.atleast_1d(s)[np.atleast_1d(bad)][0])
        raise ScheduleError(f"the numerical derivative of {name} at s = {at!r} is not accurate to "
                            f"{DERIVATIVE_RTOL:g} relative (the schedule is not smooth there, or varies on a "
                            "scale below 1e-3 of the domain): pass its derivative explicitly")
    return rich


class AlphaBarFunction:
    r"""VP noise schedule from a vectorised function of ``s`` in the ᾱ, log-SNR or σ form.

    ``form="alpha_bar"``: :math:`B = -\log\bar\alpha(s)`; ``"log_snr"``: :math:`B = \log(1 + e^{-\lambda(s)})`;
    ``"sigma"``: :math:`B = \log(1 + \sigma(s)^2)`.  ``beta`` (optional) is :math:`B'(s)`; without it
    the rate is differentiated numerically (module docstring).  :math:`B(0)` must be 0 (to 1e-12):
    the data sit at ``s = 0``.
    """

    singular_at_T = False

    def __init__(self, fn, *, form="alpha_bar", beta=None, T=1.0):
        if not callable(fn):
            raise ScheduleError(f"the schedule must be a table or a callable of s (got {type(fn).__name__})")
        if form not in ("alpha_bar", "log_snr", "sigma"):
            raise ScheduleError(f"form must be 'alpha_bar', 'log_snr' or 'sigma' (got {form!r})")
        if beta is not None and not callable(beta):
            raise ScheduleError("beta must be a callable beta(s) = -d log alpha_bar/ds")
        self.fn, self.form, self._beta, self.T = fn, form, beta, finite_float("T", T)
        grid = np.linspace(0.0, self.T, 257)
        B = self.integral(grid)
        if not np.all(np.isfinite(B[:-1])) or np.isnan(B[-1]):
            raise ScheduleError(f"the {form} function gives a non-finite alpha_bar inside [0, T)")
        if abs(B[0]) > 1e-12:
            raise ScheduleError(f"the {form} function gives alpha_bar(0) = {math.exp(-B[0])!r}; the data sit at s = 0, "
                                "where alpha_bar must be 1 (shift or rescale the schedule)")
        if np.any(np.diff(B) <= 0):
            raise ScheduleError(f"the {form} function must make alpha_bar strictly decreasing in s")
        self.singular_at_T = not math.isfinite(B[-1])

    def _raw(self, s):
        with np.errstate(over="ignore", divide="ignore"):
            out = np.asarray(self.fn(np.asarray(s, dtype=float)), dtype=float)
        if out.shape != np.shape(s):
            raise ScheduleError(f"the schedule function must be vectorised (returned shape {out.shape} for s of "
                                f"shape {np.shape(s)})")
        return out

    def integral(self, s):
        r = self._raw(s)
        with np.errstate(divide="ignore", over="ignore"):
            if self.form == "alpha_bar":
                return -np.log(r)
            if self.form == "log_snr":
                return np.logaddexp(0.0, -r)
            return np.log1p(r * r)

    def beta(self, s):
        s = np.asarray(s, dtype=float)
        if self._beta is not None:
            return np.asarray(self._beta(s), dtype=float) + np.zeros_like(s)
        return _derivative(self.integral, s, 0.0, self.T, f"B(s) of the {self.form} function")

    def __repr__(self):
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        return f"AlphaBarFunction({name}, form={self.form!r}, T={self.T:g})"


# --------------------------------------------------------------------------- VE sigma schedules
class SigmaTable:
    r"""VE noise levels from a table :math:`\sigma_t` at nodes (default ``(t + 1)/N``, with :math:`\sigma(0) = 0`);
    :math:`v = \sigma^2` linear between nodes."""

    def __init__(self, sigma, s=None):
        sig, nodes, default = _nodes(sigma, s, "sigma")
        if np.any(sig <= 0) or np.any(np.diff(sig) <= 0):
            raise ScheduleError("sigma must be positive and strictly increasing in s (sort a sampling grid "
                                "sigma_max -> sigma_min into increasing order)")
        self.sigma_nodes, self.nodes, self.default_nodes = sig, nodes, default
        self.n_timesteps = int(sig.size)
        self._f = _PiecewiseLinear(nodes, sig * sig)
        self.T = float(nodes[-1])
        self.sigma0 = 0.0

    def sigma(self, s):
        return np.sqrt(self._f.value(s))

    def v(self, s):
        return self._f.value(s)

    def log_v(self, s):
        return self._f.log_value(s)

    def dv(self, s):
        return self._f.slope(s)

    def __repr__(self):
        return f"SigmaTable(N={self.n_timesteps}, sigma_max={self.sigma_nodes[-1]:.6g})"


class SigmaFunction:
    r"""VE noise level from a vectorised, strictly increasing :math:`\sigma(s)`; :math:`v = \sigma^2 - \sigma(0)^2`,
    :math:`v' = 2\sigma\sigma'` with ``dsigma`` :math:`= \sigma'` given or differentiated numerically."""

    def __init__(self, fn, *, dsigma=None, T=1.0):
        if not callable(fn):
            raise ScheduleError(f"sigma must be a table or a callable of s (got {type(fn).__name__})")
        if dsigma is not None and not callable(dsigma):
            raise ScheduleError("dsigma must be a callable dsigma(s) = d sigma/ds")
        self.fn, self._dsigma, self.T = fn, dsigma, finite_float("T", T)
        grid = np.linspace(0.0, self.T, 257)
        sig = self.sigma(grid)
        if not np.all(np.isfinite(sig)) or sig[0] < 0 or np.any(np.diff(sig) <= 0):
            raise ScheduleError("sigma(s) must be finite, non-negative and strictly increasing on [0, T]")
        self.sigma0 = float(sig[0])

    def sigma(self, s):
        out = np.asarray(self.fn(np.asarray(s, dtype=float)), dtype=float)
        if out.shape != np.shape(s):
            raise ScheduleError(f"sigma(s) must be vectorised (returned shape {out.shape} for shape {np.shape(s)})")
        return out

    def v(self, s):
        sig = self.sigma(s)
        return (sig - self.sigma0) * (sig + self.sigma0)

    def log_v(self, s):
        with np.errstate(divide="ignore"):
            return np.log(self.v(s))

    def dv(self, s):
        s = np.asarray(s, dtype=float)
        if self._dsigma is not None:
            d = np.asarray(self._dsigma(s), dtype=float) + np.zeros_like(s)
        else:
            d = _derivative(self.sigma, s, 0.0, self.T, "sigma(s)")
        return 2.0 * self.sigma(s) * d

    def __repr__(self):
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        return f"SigmaFunction({name}, T={self.T:g})"


class EDMSigma:
    r"""EDM's :math:`\sigma(t) = t` on :math:`s \in [0, 1]`: :math:`\sigma(s) = \sigma_{max} s`,
    :math:`v = \sigma_{max}^2 s^2`, :math:`D = \sigma_{max}^2 s` (Karras et al. 2022, default
    :math:`\sigma_{max} = 80`)."""

    T = 1.0
    sigma0 = 0.0

    def __init__(self, sigma_max: float = 80.0):
        self.sigma_max = finite_float("sigma_max", sigma_max)
        if self.sigma_max <= 0:
            raise ScheduleError(f"sigma_max must be positive (got {sigma_max})")

    def sigma(self, s):
        return self.sigma_max * np.asarray(s, dtype=float)

    def v(self, s):
        return (self.sigma_max * np.asarray(s, dtype=float)) ** 2

    def log_v(self, s):
        with np.errstate(divide="ignore"):
            return 2.0 * (math.log(self.sigma_max) + np.log(np.asarray(s, dtype=float)))

    def dv(self, s):
        return 2.0 * self.sigma_max ** 2 * np.asarray(s, dtype=float)

    def __repr__(self):
        return f"EDMSigma(sigma_max={self.sigma_max:g})"


# --------------------------------------------------------------------------- diffusers configs
def diffusers_betas(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                    trained_betas=None) -> np.ndarray:
    r"""The betas of diffusers' DDPMScheduler/DDIMScheduler, in float64 from their definitions.

    * ``linear``: ``linspace(beta_start, beta_end, N)``;
    * ``scaled_linear``: ``linspace(sqrt(beta_start), sqrt(beta_end), N)**2``;
    * ``squaredcos_cap_v2``: :math:`\beta_i = \min(1 - \bar\alpha((i+1)/N)/\bar\alpha(i/N), 0.999)` with
      :math:`\bar\alpha(t) = \cos^2(\tfrac{t + 0.008}{1.008}\tfrac{\pi}{2})` (Nichol & Dhariwal 2021);
    * ``sigmoid``: ``sigmoid(linspace(-6, 6, N)) * (beta_end - beta_start) + beta_start``;
    * ``trained_betas``: the list itself.
    """
    if trained_betas is not None:
        return real_array("trained_betas", trained_betas).astype(float)
    n = int(num_train_timesteps)
    if n != num_train_timesteps or n < 1:
        raise ScheduleError(f"num_train_timesteps must be a positive integer (got {num_train_timesteps!r})")
    b0, b1 = finite_float("beta_start", beta_start), finite_float("beta_end", beta_end)
    if beta_schedule == "linear":
        return np.linspace(b0, b1, n)
    if beta_schedule == "scaled_linear":
        return np.linspace(math.sqrt(b0), math.sqrt(b1), n) ** 2
    if beta_schedule == "squaredcos_cap_v2":
        def ab(t):
            return np.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        i = np.arange(n, dtype=float)
        return np.minimum(1.0 - ab((i + 1) / n) / ab(i / n), 0.999)
    if beta_schedule == "sigmoid":
        x = np.linspace(-6.0, 6.0, n)
        return 1.0 / (1.0 + np.exp(-x)) * (b1 - b0) + b0
    raise ScheduleError(f"beta_schedule must be one of {', '.join(DIFFUSERS_BETA_SCHEDULES)} (got {beta_schedule!r})")


def read_scheduler_config(config) -> dict:
    """A diffusers scheduler config (a dict, a ``scheduler_config.json`` file, or a pipeline/scheduler
    directory holding one) as the dict of the fields nent_ref uses, with defaults of DDPMScheduler:
    ``num_train_timesteps`` (1000), ``beta_start`` (1e-4), ``beta_end`` (0.02), ``beta_schedule``
    ("linear"), ``trained_betas`` (None), ``prediction_type`` ("epsilon"), ``_class_name`` and
    ``source`` (the file read, or None)."""
    source = None
    if isinstance(config, (str, Path)):
        path = Path(config)
        if path.is_dir():
            for cand in (path / "scheduler" / "scheduler_config.json", path / "scheduler_config.json"):
                if cand.is_file():
                    path = cand
                    break
            else:
                raise ScheduleError(f"no scheduler_config.json in {str(config)!r} (nor in its scheduler/ folder)")
        if not path.is_file():
            raise ScheduleError(f"no such scheduler config file {str(config)!r}")
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ScheduleError(f"{str(path)!r} is not valid JSON: {exc}") from None
        source = str(path)
    elif not isinstance(config, dict):
        cfg = getattr(config, "config", None)          # a diffusers scheduler object: its FrozenDict config
        if cfg is None:
            raise ScheduleError(f"scheduler must be a config dict, a scheduler_config.json path or a diffusers "
                                f"scheduler (got {type(config).__name__})")
        name = type(config).__name__
        config = dict(cfg)
        config.setdefault("_class_name", name)
    out = {"num_train_timesteps": config.get("num_train_timesteps", 1000),
           "beta_start": config.get("beta_start", 0.0001), "beta_end": config.get("beta_end", 0.02),
           "beta_schedule": config.get("beta_schedule", "linear"), "trained_betas": config.get("trained_betas"),
           "prediction_type": config.get("prediction_type", "epsilon"),
           "_class_name": config.get("_class_name"), "source": source}
    if config.get("rescale_betas_zero_snr"):
        raise ScheduleError("rescale_betas_zero_snr=True makes alpha_bar 0 at the last step (zero terminal SNR): "
                            "not supported (the process reaches p_eq at a finite step)")
    if out["prediction_type"] not in PREDICTION_TYPES:
        raise ScheduleError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)} "
                            f"(got {out['prediction_type']!r})")
    return out
