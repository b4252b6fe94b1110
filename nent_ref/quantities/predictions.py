r"""One conversion layer between what a network predicts and what nent_ref measures.

Every estimator works with the deviation from equilibrium :math:`e(x, s) = \nabla\log p_s(x) -
\nabla\log p_{eq}(x)` at forward time ``s``.  Networks are trained to predict other things, with other
time inputs.  For a linear process with :math:`x = \mu x_0 + \sqrt v\,\varepsilon` (:math:`\mu = \mu(s)`,
:math:`v = v(s)`, :math:`p_{eq} = N(0, \kappa^2 I)`, or :math:`\nabla\log p_{eq} = 0` for VE), the
optimal predictions are conditional means, and (docs/theory.md section 3b; derivations/predictions.py)

.. math::
    \text{score} &= -\hat\varepsilon/\sqrt v                           &&(\text{"eps"})\\
    \text{score} &= (\mu\,\hat x_0 - x)/v                              &&(\text{"x0"}, a denoiser)\\
    \hat\varepsilon &= a\,\hat{\mathrm v} + b\,x/r,\quad
        r = \sqrt{\mu^2 + v},\ a = \mu/r,\ b = \sqrt v/r               &&(\text{"v"}: \mathrm v = a\varepsilon - b x_0)\\
    e &= \text{score} + x/\kappa^2 \quad(\text{VP, SL}),\qquad e = \text{score}\quad(\text{VE}).

For VP with :math:`\kappa = 1` (:math:`\mu^2 + v = 1`) the v-prediction is diffusers'
``v_prediction`` (Salimans & Ho 2022: :math:`\mathrm v = \sqrt{\bar\alpha}\varepsilon - \sqrt{1-\bar\alpha}x_0`);
for VE it is k-diffusion's with :math:`\sigma_{data} = 1`.  The inverse maps (used to wrap the exact
score as a predictor, :func:`from_e`) are :math:`\hat\varepsilon = -\sqrt v\,\text{score}`,
:math:`\hat x_0 = (x + v\,\text{score})/\mu`, :math:`\hat{\mathrm v} = a\hat\varepsilon - b\hat x_0`.

Time inputs (what the network receives instead of ``s``):

* ``"s"``: forward time itself;
* ``"timestep"``: the discrete timestep :math:`t = sN/T - 1` as a float (N = ``process.n_timesteps``
  for a table, else ``n_timesteps=``): integer at the table's nodes, ``t = 0`` the first noisy step
  (diffusers' convention, nent_ref.core.schedules);
* ``"sigma"``: the EDM noise level :math:`\sigma = \sqrt v/\mu` (noise-to-signal ratio; for VE with
  :math:`\sigma(0) = 0` the process's own sigma);
* ``"log_snr"``: :math:`\lambda = \log(\mu^2/v)`.

:class:`PredictionModel` wraps any model ``f(x, t)`` (numpy callable or framework adapter) into an
``e(x, s)`` model, and records every conversion (:meth:`PredictionModel.describe`), as the framework
adapters do.  ``input_scale="edm"`` divides the inputs by :math:`\mu(s)` before the call (EDM
denoisers work on :math:`x/\mu = x_0 + \sigma\varepsilon`).
"""
from __future__ import annotations

import numpy as np

from ..core.checks import count, model_output
from ..core.processes import check_process

__all__ = ["PREDICTIONS", "TIME_INPUTS", "PredictionModel", "as_e_model", "time_input_of", "s_of_time_input",
           "to_e", "from_e", "coefficients"]

#: Prediction types: deviation from equilibrium, full score, noise, velocity, clean data.
PREDICTIONS = ("e", "score", "eps", "v", "x0")
#: Time inputs a model may take.
TIME_INPUTS = ("s", "timestep", "sigma", "log_snr")

_FORMULAS = {
    "e": "e as returned",
    "score": "e = score - grad log p_eq(x)",
    "eps": "score = -eps / sqrt(v(s))",
    "x0": "score = (mu(s) x0 - x) / v(s)",
    "v": "eps = a v + b x / r with r = sqrt(mu^2 + v), a = mu/r, b = sqrt(v)/r; score = -eps / sqrt(v)",
}


def _check_prediction(prediction):
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {', '.join(map(repr, PREDICTIONS))} (got {prediction!r}); "
                         "diffusers' 'epsilon', 'v_prediction', 'sample' are 'eps', 'v', 'x0'")
    return prediction


def _check_time_input(time_input):
    if time_input not in TIME_INPUTS:
        raise ValueError(f"time_input must be one of {', '.join(map(repr, TIME_INPUTS))} (got {time_input!r})")
    return time_input


def coefficients(process, s):
    """``(mu, v, k2)`` at times ``s`` (arrays; ``k2`` is the equilibrium variance or None for VE)."""
    s = np.asarray(s, dtype=float)
    return process.mean_coeff(s), process.marginal_var(s), process.peq_var


def _col(a):
    a = np.asarray(a, dtype=float)
    return a[..., None] if a.ndim else a


def to_e(out, x, s, process, prediction):
    """The deviation from equilibrium ``e`` from a model output of the given prediction type (module docstring)."""
    _check_prediction(prediction)
    x = np.asarray(x, dtype=float)
    out = np.asarray(out, dtype=float)
    if prediction == "e":
        return out
    if prediction == "score":
        score = out
    else:
        mu, v, _ = coefficients(process, s)
        mu, v = _col(mu), _col(v)
        if prediction == "x0":
            score = (mu * out - x) / v
        else:
            sv = np.sqrt(v)
            if prediction == "eps":
                eps = out
            else:
                r = np.sqrt(mu * mu + v)
                eps = (mu / r) * out + (sv / r) * (x / r)
            score = -eps / sv
    return score - process.grad_log_peq(x)


def from_e(e, x, s, process, prediction):
    """The inverse of :func:`to_e`: the prediction of the given type that corresponds to ``e``."""
    _check_prediction(prediction)
    x = np.asarray(x, dtype=float)
    e = np.asarray(e, dtype=float)
    if prediction == "e":
        return e
    score = e + process.grad_log_peq(x)
    if prediction == "score":
        return score
    mu, v, _ = coefficients(process, s)
    mu, v = _col(mu), _col(v)
    sv = np.sqrt(v)
    eps = -sv * score
    if prediction == "eps":
        return eps
    x0 = (x + v * score) / mu
    if prediction == "x0":
        return x0
    r = np.sqrt(mu * mu + v)
    return (mu / r) * eps - (sv / r) * x0


def _n_steps(process, n_timesteps):
    if n_timesteps is not None:
        return count("n_timesteps", n_timesteps, 1)
    n = getattr(process, "n_timesteps", None)
    if n is None:
        raise ValueError(f"time_input='timestep' needs the number of timesteps: {process!r} is not a table "
                         "(build it with VP.from_alpha_bar / VP.from_diffusers, or pass n_timesteps=)")
    return int(n)


def time_input_of(process, s, time_input, n_timesteps=None):
    """What a model with this time input receives at forward times ``s`` (float array)."""
    _check_time_input(time_input)
    s = np.asarray(s, dtype=float)
    if time_input == "s":
        return s
    if time_input == "timestep":
        return s * (_n_steps(process, n_timesteps) / process.T) - 1.0
    log_v = process.log_marginal_var(s)
    log_mu2 = np.log(process.mean_coeff_sq(s))
    if time_input == "sigma":
        return np.exp(0.5 * (log_v - log_mu2))
    return log_mu2 - log_v


def s_of_time_input(process, t, time_input, n_timesteps=None):
    """The forward time ``s`` at which a model receives the time input ``t`` (inverse of :func:`time_input_of`;
    ``sigma``/``log_snr`` by bisection on ``[0, T]`` to full double precision: both are monotone in ``s``)."""
    _check_time_input(time_input)
    t = np.asarray(t, dtype=float)
    if time_input == "s":
        return t
    if time_input == "timestep":
        return np.clip((t + 1.0) * (process.T / _n_steps(process, n_timesteps)), 0.0, process.T)
    sign = 1.0 if time_input == "sigma" else -1.0            # sigma increases with s, log-SNR decreases
    lo = np.zeros_like(t)
    hi = np.full_like(t, process.T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            below = sign * (time_input_of(process, np.maximum(mid, 1e-300), time_input) - t) < 0
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
            if np.all(hi - lo <= 2 * np.finfo(float).eps * np.maximum(hi, 1e-300)):
                break
    return 0.5 * (lo + hi)


class PredictionModel:
    """A model ``f(x, t)`` of some prediction type and time input as an ``e(x, s)`` model for nent_ref.

    Parameters
    ----------
    model : callable
        ``model(x, t)`` with ``x`` of shape (M, D) and ``t`` of shape (M,) (the time input), returning
        (M, D); a framework adapter (``from_torch``/``from_jax``) is used as it is (its batches,
        device and conversions are kept and reported).
    process : VP, SL or VE
    prediction : {"e", "score", "eps", "v", "x0"}
    time_input : {"s", "timestep", "sigma", "log_snr"}
    n_timesteps : int, optional
        N of ``time_input="timestep"`` when the process is not a table.
    input_scale : {None, "edm"}
        ``"edm"``: the model receives ``x / mu(s)`` (EDM/k-diffusion denoisers); recorded.
    extra_conversions : list of str
        Further conversions done by the caller (reshapes, config read), listed first in the report.
    """

    is_model_adapter = True
    kind = "e"

    def __init__(self, model, process, prediction="e", time_input="s", *, n_timesteps=None, input_scale=None,
                 extra_conversions=()):
        if not callable(model):
            raise ValueError(f"the model must be callable as f(x, t) (got {type(model).__name__})")
        check_process(process)
        self.model = model
        self.process = process
        self.prediction = _check_prediction(prediction)
        self.time_input = _check_time_input(time_input)
        if input_scale not in (None, "edm"):
            raise ValueError(f"input_scale must be None or 'edm' (got {input_scale!r})")
        self.input_scale = input_scale
        self.n_timesteps = _n_steps(process, n_timesteps) if time_input == "timestep" else n_timesteps
        inner_kind = getattr(model, "kind", None) if getattr(model, "is_model_adapter", False) else None
        if inner_kind == "score" and prediction not in ("score",):
            raise ValueError(f"the adapter was built with kind='score' but prediction={prediction!r}; build it "
                             "with kind='e' (the prediction layer converts)")
        self.extra_conversions = [str(c) for c in extra_conversions]
        self.calls = 0
        self.evaluations = 0

    # adapter interface ------------------------------------------------------------------------
    @property
    def batch_size(self):
        return getattr(self.model, "batch_size", None)

    @property
    def pad(self):
        return getattr(self.model, "pad", True)

    @property
    def conversions(self) -> list[str]:
        """The conversions between nent_ref's (x, s, e) and the model's inputs and outputs."""
        out = list(self.extra_conversions)
        if self.input_scale == "edm":
            out.append("inputs x -> x / mu(s) (EDM scaling)")
        if self.time_input == "timestep":
            out.append(f"time s -> timestep t = s N / T - 1 (N = {self.n_timesteps}, T = {self.process.T:g}; float)")
        elif self.time_input == "sigma":
            out.append("time s -> sigma = sqrt(v(s)) / mu(s)")
        elif self.time_input == "log_snr":
            out.append("time s -> log_snr = log(mu(s)^2 / v(s))")
        if self.prediction != "e":
            text = f"prediction {self.prediction} -> e: {_FORMULAS[self.prediction]}"
            if self.prediction != "score":
                text += "; e = score - grad log p_eq(x)"
            out.append(text)
        inner = getattr(self.model, "conversions", None)
        if getattr(self.model, "is_model_adapter", False) and isinstance(inner, list):
            out += list(inner)
        return out

    def describe(self) -> dict:
        inner = self.model.describe() if getattr(self.model, "is_model_adapter", False) and \
            callable(getattr(self.model, "describe", None)) else {"framework": "numpy"}
        out = dict(inner)
        out.update({"kind": "e", "prediction": self.prediction, "time_input": self.time_input,
                    "n_timesteps": self.n_timesteps, "input_scale": self.input_scale,
                    "process": repr(self.process), "conversions": self.conversions,
                    "prediction_calls": self.calls, "evaluations": self.evaluations})
        out.setdefault("notes", [])
        return out

    def summary(self) -> str:
        """One line: the inner model's summary, then this layer's conversions."""
        inner = self.model.summary() if callable(getattr(self.model, "summary", None)) else "numpy callable"
        inner_conv = getattr(self.model, "conversions", []) if getattr(self.model, "is_model_adapter", False) else []
        own = [c for c in self.conversions if c not in inner_conv]
        return "; ".join([inner] + own)

    def __repr__(self):
        name = (repr(self.model) if getattr(self.model, "is_model_adapter", False)
                else getattr(self.model, "__qualname__", type(self.model).__name__))
        return f"PredictionModel({name}, prediction={self.prediction!r}, time_input={self.time_input!r})"

    # evaluation -------------------------------------------------------------------------------
    def __call__(self, x, s):
        x = np.asarray(x, dtype=float)
        s = np.broadcast_to(np.asarray(s, dtype=float), x.shape[:1])
        xin = x
        if self.input_scale == "edm":
            xin = x / self.process.mean_coeff(s)[:, None]
        t = time_input_of(self.process, s, self.time_input, self.n_timesteps)
        out = model_output(self.model(xin, t), x, self.prediction, s)
        self.calls += 1
        self.evaluations += x.shape[0]
        e = to_e(out, x, s, self.process, self.prediction)
        if not np.all(np.isfinite(e)):
            raise ValueError(f"converting the {self.prediction!r} prediction to e gave NaN or inf at s = "
                             f"{float(s[0]):.6g} (v(s) = {float(self.process.marginal_var(s[0])):.3g})")
        return e


def as_e_model(model, process, prediction=None, time_input=None, *, n_timesteps=None):
    """``model`` as an ``e(x, s)`` model: itself when both options are None (or "e"/"s"), else a
    :class:`PredictionModel`.  ``prediction=None`` takes a PredictionModel-like adapter's own settings."""
    if prediction is None and time_input is None:
        return model
    if isinstance(model, PredictionModel):
        raise ValueError("the model already converts its predictions (a PredictionModel / from_diffusers / "
                         "from_edm adapter); do not pass prediction= or time_input= again")
    prediction = "e" if prediction is None else prediction
    time_input = "s" if time_input is None else time_input
    return PredictionModel(model, process, prediction, time_input, n_timesteps=n_timesteps)
