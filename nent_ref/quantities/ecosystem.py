r"""Models from the ecosystem as nent_ref models: diffusers UNets and EDM/k-diffusion denoisers.

* :func:`from_diffusers` -- a diffusers model (e.g. ``UNet2DModel``) called as ``model(x, t).sample`` on
  image tensors (B, C, H, W) with integer-valued timesteps, trained under a ``DDPMScheduler`` /
  ``DDIMScheduler``.  The scheduler (object, config dict, ``scheduler_config.json`` or pipeline
  directory; diffusers is not needed to read a file) gives the process
  (:meth:`nent_ref.VP.from_diffusers`) and the prediction type (epsilon, v_prediction, sample).  The
  adapter flattens images to rows on the way out and reshapes rows to images on the way in, unwraps
  ``.sample``, passes the timestep ``t = sN - 1`` as a float tensor and converts the prediction to
  ``e`` (:mod:`nent_ref.quantities.predictions`).
* :func:`from_edm` -- a denoiser :math:`D(x; \sigma)` (Karras et al. 2022; k-diffusion's ``Denoiser``
  wrappers, EDM's ``EDMPrecond``): an x0-prediction with the noise level :math:`\sigma = \sqrt v/\mu` as
  its time input, evaluated on :math:`x/\mu` (so it also measures an EDM denoiser under a VP process).
  The default process is EDM's :math:`\sigma(t) = t` as ``VE.from_sigma(EDMSigma(sigma_max))``, on which
  EDM's :math:`\sigma_{min}` is the cutoff ``s0 = sigma_min / sigma_max``.

Both return a :class:`~nent_ref.quantities.predictions.PredictionModel` with ``.process``; a torch network
is evaluated through :func:`~nent_ref.quantities.adapters.from_torch` (``no_grad``, eval mode, its own device
and dtype, batches of ``batch_size``, float64 numpy results), and every conversion is recorded in
``describe()["conversions"]`` and so in the report of :func:`nent_ref.validate`.
"""
from __future__ import annotations

import numpy as np

from ..core.processes import VE, VP, check_process
from ..core.schedules import PREDICTION_TYPES, EDMSigma, read_scheduler_config
from .adapters import DEFAULT_BATCH_SIZE, from_torch, is_torch_module
from .predictions import PREDICTIONS, PredictionModel

__all__ = ["from_diffusers", "from_edm", "edm_process"]


def _shape_of(model, sample_shape, D_hint=None):
    if sample_shape is not None:
        shape = tuple(int(n) for n in sample_shape)
        if not shape or any(n < 1 for n in shape):
            raise ValueError(f"sample_shape must be a shape such as (C, H, W) (got {sample_shape!r})")
        return shape
    cfg = getattr(model, "config", None)
    get = (cfg.get if isinstance(cfg, dict) else (lambda k, d=None: getattr(cfg, k, d))) if cfg is not None else None
    if get is not None and get("sample_size", None) is not None and get("in_channels", None) is not None:
        size = get("sample_size")
        hw = (int(size), int(size)) if np.ndim(size) == 0 else tuple(int(n) for n in size)
        return (int(get("in_channels")),) + hw
    return None


def _torch_image_module(torch, net, shape, call_sigma=False):
    """A torch module that reshapes rows to ``shape`` images, calls ``net(x, t)`` and flattens the output
    (unwrapping ``.sample`` or a tuple)."""

    class ImageRows(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x, t):
            b = x.shape[0]
            img = x.reshape((b,) + shape) if shape is not None else x
            out = self.net(img, t)
            if not isinstance(out, torch.Tensor):
                out = out.sample if hasattr(out, "sample") else out[0]
            return out.reshape(b, -1)

    mod = ImageRows()
    mod.train(bool(getattr(net, "training", False)))
    return mod


def _numpy_image_fn(fn, shape):
    def rows(x, t):
        b = x.shape[0]
        out = fn(x.reshape((b,) + shape), t)
        out = getattr(out, "sample", out)
        return np.asarray(out).reshape(b, -1)
    return rows


def _shape_note(shape, unwrap):
    if shape is None:
        return []
    d = int(np.prod(shape))
    dims = ", ".join(str(n) for n in shape)
    text = f"inputs (M, {d}) -> images (M, {dims}); outputs{' .sample' if unwrap else ''} (M, {dims}) -> (M, {d})"
    return [text]


def from_diffusers(model, scheduler, *, prediction=None, sample_shape=None, batch_size: int = DEFAULT_BATCH_SIZE,
                   device=None, dtype=None) -> PredictionModel:
    """A diffusers model and its scheduler as an ``e(x, s)`` model, with ``.process`` the scheduler's process.

    Parameters
    ----------
    model : torch.nn.Module or callable
        Called as ``model(x, t)`` with ``x`` images (B, C, H, W) and ``t`` float timesteps (B,); a
        ``.sample`` attribute of the output (diffusers' ``UNet2DOutput``) is unwrapped.
    scheduler : diffusers scheduler, dict, str or Path
        The scheduler object, its config, a ``scheduler_config.json`` file or a pipeline directory.
    prediction : str, optional
        Overrides the scheduler's ``prediction_type`` (diffusers' or nent_ref's names).
    sample_shape : tuple, optional
        (C, H, W); default from ``model.config`` (``in_channels``, ``sample_size``).  ``None`` with no
        config means the model takes rows (M, D).
    batch_size, device, dtype
        Passed to :func:`nent_ref.quantities.adapters.from_torch` for a torch module.

    Returns
    -------
    PredictionModel
        With ``.process`` (:meth:`nent_ref.VP.from_diffusers`), ``.prediction``, ``time_input="timestep"``.
    """
    if not callable(model):
        raise ValueError(f"from_diffusers needs a model called as model(x, t) (got {type(model).__name__})")
    process = VP.from_diffusers(scheduler)
    cfg = read_scheduler_config(scheduler) if not hasattr(process, "scheduler_config") else process.scheduler_config
    pred = cfg["prediction_type"] if prediction is None else prediction
    pred = PREDICTION_TYPES.get(pred, pred)
    if pred not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {', '.join(PREDICTION_TYPES)} or {', '.join(PREDICTIONS)} "
                         f"(got {prediction!r})")
    shape = _shape_of(model, sample_shape)
    inner = _image_model(model, shape, batch_size, device, dtype)
    notes = _shape_note(shape, unwrap=True)
    src = cfg.get("source") or "a config dict"
    notes.append(f"scheduler {cfg.get('_class_name') or 'config'} from {src}: {process.schedule!r}, "
                 f"prediction_type {cfg['prediction_type']!r}" + ("" if prediction is None else f" overridden by {pred!r}"))
    return PredictionModel(inner, process, pred, "timestep", extra_conversions=notes)


def _image_model(model, shape, batch_size, device, dtype):
    """The model on flat rows: a torch module through :func:`from_torch` (images of ``shape`` reshaped on the
    way in and out, ``.sample`` unwrapped), a numpy callable reshaped likewise, or as it is without a shape."""
    if is_torch_module(model):
        import torch
        return from_torch(_torch_image_module(torch, model, shape), batch_size=batch_size, device=device,
                          dtype=dtype, kind="e")
    return _numpy_image_fn(model, shape) if shape is not None else model


def edm_process(sigma_max: float = 80.0) -> VE:
    """EDM's process, sigma(t) = t, as ``VE.from_sigma(EDMSigma(sigma_max))`` on s in [0, 1] (sigma = sigma_max s)."""
    return VE.from_sigma(EDMSigma(sigma_max))


def from_edm(denoiser, process=None, *, sigma_max: float = 80.0, sample_shape=None,
             batch_size: int = DEFAULT_BATCH_SIZE, device=None, dtype=None) -> PredictionModel:
    r"""An EDM / k-diffusion denoiser :math:`D(x; \sigma)` (the clean-data estimate) as an ``e(x, s)`` model.

    ``D`` is called as ``denoiser(x / mu(s), sigma)`` with :math:`\sigma = \sqrt{v(s)}/\mu(s)` (rows, or
    images of ``sample_shape``); the output is an x0 prediction, converted by
    :math:`\nabla\log p_s = (\mu\hat x_0 - x)/v`.  ``process`` defaults to :func:`edm_process` (``sigma_max``);
    use ``s0 = sigma_min / sigma_max`` for EDM's smallest noise level.  Returns a PredictionModel with
    ``.process``.
    """
    if not callable(denoiser):
        raise ValueError(f"from_edm needs a denoiser called as D(x, sigma) (got {type(denoiser).__name__})")
    process = edm_process(sigma_max) if process is None else check_process(process)
    shape = _shape_of(denoiser, sample_shape)
    inner = _image_model(denoiser, shape, batch_size, device, dtype)
    notes = _shape_note(shape, unwrap=False)
    return PredictionModel(inner, process, "x0", "sigma", input_scale="edm", extra_conversions=notes)
