r"""Framework adapters: a PyTorch module or a JAX function as a plain numpy model ``f(x, s)``.

Every estimator of nent_ref (:func:`nent_ref.neural_entropy`, :func:`nent_ref.validate`, ...) calls
a model as ``f(x, s)`` with numpy arrays, ``x`` of shape (M, D) and ``s`` of shape (M,), and expects
an (M, D) float array back: the deviation from equilibrium ``e`` (or the full score).  Networks are
trained in PyTorch or JAX; the adapters here do the plumbing once, and record it:

* :func:`from_torch` -- evaluates a ``torch.nn.Module`` (or any function of tensors) under
  ``torch.no_grad()``, in eval mode, on its own device and dtype, in batches of ``batch_size``
  rows;
* :func:`from_jax` -- jit-compiles a JAX function once, for one fixed batch shape (the last batch
  of a call is padded), in float64 when ``jax_enable_x64`` is on (float32 otherwise), with the
  parameters bound (``fn(params, x, s)``, e.g. a flax ``model.apply``);
* :class:`FixedBatchModel` -- calls any model in batches of exactly ``batch_size`` rows, counts
  the calls and the time spent in them, and can answer a repeated call from memory.
  :func:`nent_ref.validate` wraps every model in one.

Each adapter returns float64 numpy arrays and says what it converted: :meth:`ModelAdapter.describe`
gives the framework, its version, the model's dtype and device, the batch size and the list of
conversions (``"inputs float64 -> float32"``: a float32 network evaluated on the float64 inputs
nent_ref draws is fine, but the report says so).

PyTorch and JAX are optional (``pip install 'nent_ref[torch]'`` / ``'nent_ref[jax]'``); they are
imported only when an adapter is built.  :func:`adapt` recognises a torch module or a jit-compiled
JAX function without importing either framework, so ``nr.validate(net, data, process)`` works
for both.
"""
from __future__ import annotations

import hashlib
import importlib
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.checks import count

__all__ = ["DEFAULT_BATCH_SIZE", "MissingFrameworkError", "CallStats", "FixedBatchModel", "ModelAdapter",
           "TorchModel", "JaxModel", "from_torch", "from_jax", "adapt", "is_adapter", "is_torch_module",
           "is_jax_function"]

#: Rows per model call when nothing else is said: the number of samples per time level of the
#: default design of :func:`nent_ref.validate` (2^15 samples over 32 strata x 4 levels), so that
#: no call is padded there.
DEFAULT_BATCH_SIZE = 256

_KINDS = ("e", "score")


class MissingFrameworkError(ImportError):
    """An adapter was asked for a framework (PyTorch, JAX) that is not installed."""


def _require(module: str, extra: str, what: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingFrameworkError(
            f"{what} needs {module!r}, which cannot be imported ({exc}); install the optional extra: "
            f"pip install 'nent_ref[{extra}]'") from None


def _check_kind(kind) -> str:
    if kind not in _KINDS:
        raise ValueError(f"kind must be 'e' (deviation from equilibrium) or 'score' (full score); got {kind!r}")
    return kind


def _batch_inputs(x, s):
    x = np.asarray(x)
    s = np.asarray(s)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (M, D) (got {x.shape})")
    if s.ndim == 0:
        s = np.full(x.shape[0], s)
    if s.shape != (x.shape[0],):
        raise ValueError(f"s must have shape ({x.shape[0]},) to match x (got {s.shape})")
    return x, s


def _pad(a, size):
    """``a`` with its last row repeated up to ``size`` rows."""
    n = a.shape[0]
    if n == size:
        return a
    return np.concatenate([a, np.repeat(a[-1:], size - n, axis=0)])


# --------------------------------------------------------------------------- fixed-size batches
@dataclass
class CallStats:
    """What a :class:`FixedBatchModel` did: model calls, rows, padding, time, answers from memory."""

    calls: int = 0              # calls of the wrapped model
    rows: int = 0               # rows asked for (without padding)
    padded_rows: int = 0        # rows added to fill the last batch of a call
    seconds: float = 0.0        # wall time inside the wrapped model
    memo_calls: int = 0         # calls answered from memory (identical inputs seen before)
    memo_rows: int = 0
    output_dtypes: list = field(default_factory=list)   # dtypes the model returned (in order of first sight)

    def to_dict(self) -> dict:
        return {"calls": self.calls, "rows": self.rows, "padded_rows": self.padded_rows,
                "seconds": self.seconds, "memo_calls": self.memo_calls, "memo_rows": self.memo_rows,
                "output_dtypes": list(self.output_dtypes)}


class FixedBatchModel:
    """Call ``fn(x, s)`` in batches of exactly ``batch_size`` rows.

    A call with M rows is cut into batches of ``batch_size``; with ``pad=True`` the last batch is
    filled up by repeating its last row and the extra outputs are dropped, so the model only ever
    sees one input shape (a jit-compiled model compiles once).  The model must treat rows
    independently (any model of ``(x, s)`` does; one that normalises over the batch does not).

    ``memo_bytes > 0`` keeps the outputs of up to that many bytes of calls and answers a call with
    byte-identical ``(x, s)`` from memory (exact for a deterministic model; nent_ref repeats a run
    with the same seed, e.g. the unit-weighted denoising run of :func:`nent_ref.quantities.neural.decompose`).
    The memory is not pickled (a process pool gets an empty one).

    ``stats`` (:class:`CallStats`) counts calls, rows, padding and the time spent in ``fn``.
    """

    def __init__(self, fn, batch_size: int = DEFAULT_BATCH_SIZE, *, pad: bool = True, memo_bytes: int = 0):
        if not callable(fn):
            raise ValueError(f"the model must be callable as f(x, s) (got {type(fn).__name__})")
        self.fn = fn
        self.batch_size = count("batch_size", batch_size, 1)
        self.pad = bool(pad)
        self.memo_bytes = count("memo_bytes", memo_bytes, 0)
        self.stats = CallStats()
        self._memo: dict = {}
        self._memo_used = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_memo"], state["_memo_used"] = {}, 0
        return state

    def clear_memo(self) -> None:
        self._memo.clear()
        self._memo_used = 0

    @staticmethod
    def _key(x, s) -> bytes:
        h = hashlib.blake2b(digest_size=20)
        for a in (x, s):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.data)
        return h.digest()

    def __call__(self, x, s):
        x, s = _batch_inputs(x, s)
        m = x.shape[0]
        key = None
        if self.memo_bytes:
            key = self._key(x, s)
            hit = self._memo.get(key)
            if hit is not None:
                self.stats.memo_calls += 1
                self.stats.memo_rows += m
                return hit.copy()
        if m == 0:
            return self.fn(x, s)
        size = self.batch_size
        outs = []
        for a in range(0, m, size):
            xb, sb = x[a:a + size], s[a:a + size]
            n = xb.shape[0]
            if self.pad and n < size:
                xb, sb = _pad(xb, size), _pad(sb, size)
            t0 = time.perf_counter()
            out = self.fn(xb, sb)
            self.stats.seconds += time.perf_counter() - t0
            self.stats.calls += 1
            self.stats.rows += n
            self.stats.padded_rows += xb.shape[0] - n
            arr = np.asarray(out)
            if arr.ndim == 0 or arr.shape[0] != xb.shape[0]:
                raise ValueError(f"the model returned shape {arr.shape} for a batch x of shape {xb.shape} "
                                 "(expected an array with the shape of x: one row per row of x)")
            if arr.dtype.str not in self.stats.output_dtypes:
                self.stats.output_dtypes.append(arr.dtype.str)
            outs.append(arr[:n])
        res = outs[0] if len(outs) == 1 else np.concatenate(outs)
        if key is not None and self._memo_used + res.nbytes <= self.memo_bytes:
            self._memo[key] = np.array(res, copy=True)
            self._memo_used += res.nbytes
        return res

    def __repr__(self):
        return f"FixedBatchModel({self.fn!r}, batch_size={self.batch_size})"


# --------------------------------------------------------------------------- adapters
class ModelAdapter:
    """Base of the framework adapters: a numpy model ``f(x, s) -> (M, D) float64``.

    Attributes
    ----------
    framework : str
        ``"torch"`` or ``"jax"`` (with ``framework_version``).
    kind : {"e", "score"}
        What the model returns (``"score"``: :func:`nent_ref.validate` subtracts the equilibrium score).
    batch_size : int
        Rows per call of the underlying model; :func:`nent_ref.validate` calls the adapter with
        exactly this many rows.
    dtype, device : str
        Where and in which precision the model is evaluated.
    """

    is_model_adapter = True
    framework = "?"
    framework_version = "?"

    def __init__(self, *, kind, batch_size, pad):
        self.kind = _check_kind(kind)
        self.batch_size = count("batch_size", batch_size, 1)
        self.pad = bool(pad)
        self.dtype = "float64"
        self.device = "cpu"
        self.notes: list[str] = []
        self._input_conversions: list[str] = []
        self._output_dtypes: list[str] = []
        self._other_conversions: list[str] = []
        self.calls = 0

    def _note_output(self, dtype_name: str) -> None:
        """Record an output dtype that numpy does not know (converted by the subclass)."""
        text = f"outputs {dtype_name} -> float64"
        if text not in self._other_conversions:
            self._other_conversions.append(text)

    # subclasses: _call_batch(x, s) -> numpy array (framework dtype) for one batch
    def _call_batch(self, x, s):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x, s):
        x, s = _batch_inputs(x, s)
        m, size = x.shape[0], self.batch_size
        outs = []
        for a in range(0, max(m, 1), size):
            xb, sb = x[a:a + size], s[a:a + size]
            n = xb.shape[0]
            if self.pad and 0 < n < size:
                xb, sb = _pad(xb, size), _pad(sb, size)
            out = np.asarray(self._call_batch(xb, sb))
            self.calls += 1
            if out.ndim == 0 or out.shape[0] != xb.shape[0]:
                raise ValueError(f"the {self.framework} model returned shape {out.shape} for a batch x of shape "
                                 f"{xb.shape} (expected an array with the shape of x)")
            if out.dtype.str not in self._output_dtypes:
                self._output_dtypes.append(out.dtype.str)
            if out.dtype.kind == "f" and out.dtype != np.float64:
                out = out.astype(np.float64)
            outs.append(out[:n])
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    @property
    def conversions(self) -> list[str]:
        """Every dtype conversion between nent_ref's float64 arrays and the model."""
        out = list(self._input_conversions) + list(self._other_conversions)
        for dt in self._output_dtypes:
            dt = np.dtype(dt)
            if dt.kind == "f" and dt != np.float64:
                out.append(f"outputs {dt.name} -> float64")
        return out

    def describe(self) -> dict:
        """Framework, version, dtype, device, batch size, conversions and notes (for the report)."""
        return {"framework": self.framework, "framework_version": self.framework_version, "kind": self.kind,
                "dtype": self.dtype, "device": self.device, "batch_size": self.batch_size, "pad": self.pad,
                "conversions": self.conversions, "notes": list(self.notes), "calls": self.calls}

    def summary(self) -> str:
        """One line: ``torch 2.13.0: float32 on cpu, batches of 256; inputs float64 -> float32, ...``."""
        text = (f"{self.framework} {self.framework_version}: {self.dtype} on {self.device}, "
                f"batches of {self.batch_size}{' (padded)' if self.pad else ''}")
        extra = self.conversions + self.notes
        return text + ("; " + "; ".join(extra) if extra else "")

    def __repr__(self):
        return f"{type(self).__name__}({self._model_name()}, {self.dtype} on {self.device}, kind={self.kind!r})"

    def _model_name(self) -> str:  # pragma: no cover - overridden
        return "?"


def _torch_dtype(torch, dtype, name="dtype"):
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    text = np.dtype(dtype).name if not isinstance(dtype, str) else dtype.replace("torch.", "")
    out = getattr(torch, text, None)
    if not isinstance(out, torch.dtype) or not out.is_floating_point:
        raise ValueError(f"{name} must be a floating torch dtype (e.g. torch.float32 or 'float64'); got {dtype!r}")
    return out


class TorchModel(ModelAdapter):
    """A torch module (or function of tensors) ``module(x, s)`` as a numpy model; see :func:`from_torch`."""

    framework = "torch"

    def __init__(self, module, *, device=None, dtype=None, batch_size=DEFAULT_BATCH_SIZE, kind="e",
                 eval_mode=True, pad=False):
        torch = _require("torch", "torch", "from_torch")
        if not callable(module):
            raise ValueError(f"from_torch needs a torch.nn.Module or a function of tensors (got "
                             f"{type(module).__name__})")
        super().__init__(kind=kind, batch_size=batch_size, pad=pad)
        self.framework_version = str(torch.__version__)
        self.module = module
        tensors = []
        for attr in ("parameters", "buffers"):
            get = getattr(module, attr, None)
            if callable(get):
                tensors += [t for t in get() if isinstance(t, torch.Tensor)]
        floating = [t for t in tensors if t.is_floating_point()]
        own_dtypes = sorted({str(t.dtype).replace("torch.", "") for t in floating})
        own_devices = sorted({str(t.device) for t in tensors})
        if len(own_dtypes) > 1:
            self.notes.append(f"parameters of several dtypes ({', '.join(own_dtypes)})")
        if len(own_devices) > 1:
            raise ValueError(f"the module's parameters are on several devices ({', '.join(own_devices)}); "
                             "from_torch evaluates a module that lives on one device")
        requested = _torch_dtype(torch, dtype)
        own = floating[0].dtype if floating else None
        if requested is not None and own is not None and requested != own:
            raise ValueError(f"dtype={requested} but the module's parameters are {own}; convert the module "
                             f"(module.to({requested})) or leave dtype=None")
        self._dtype = requested or own or torch.get_default_dtype()
        self.dtype = str(self._dtype).replace("torch.", "")
        if device is not None:
            try:
                dev = torch.device(device)
            except (RuntimeError, TypeError) as exc:
                raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda:0' (got {device!r}: "
                                 f"{exc})") from None
            if own_devices and torch.device(own_devices[0]) != dev:
                raise ValueError(f"device={str(dev)!r} but the module's parameters are on {own_devices[0]}; "
                                 f"move the module (module.to({str(dev)!r})) or leave device=None")
            self._device = dev
        else:
            self._device = torch.device(own_devices[0]) if own_devices else torch.device("cpu")
        self.device = str(self._device)
        self.eval_mode = bool(eval_mode)
        if getattr(module, "training", False):
            self.notes.append("module in training mode: evaluated in eval mode (dropout off, batch-norm "
                              "running statistics), its mode restored after each call" if self.eval_mode else
                              "module evaluated in training mode (dropout and batch-norm make e random or "
                              "batch-dependent)")
        self.notes.append("evaluated under torch.no_grad()")
        if self._dtype != torch.float64:
            self._input_conversions.append(f"inputs float64 -> {self.dtype}")

    def _model_name(self) -> str:
        return type(self.module).__name__

    def _call_batch(self, x, s):
        import torch
        toggle = self.eval_mode and getattr(self.module, "training", False) and hasattr(self.module, "train")
        with torch.no_grad():
            # copies: a tensor must not share memory with nent_ref's (read-only) input arrays
            xt = torch.as_tensor(np.array(x, copy=True)).to(device=self._device, dtype=self._dtype)
            st = torch.as_tensor(np.array(s, copy=True)).to(device=self._device, dtype=self._dtype)
            if toggle:
                self.module.train(False)
            try:
                out = self.module(xt, st)
            finally:
                if toggle:
                    self.module.train(True)
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"the torch model returned {type(out).__name__}; expected a tensor with the shape "
                             "of x (M, D)")
        if out.is_complex():
            raise ValueError("the torch model returned complex values; expected a real tensor")
        if out.dtype == torch.bfloat16:          # no numpy dtype: widen here, and say so
            self._note_output("bfloat16")
            out = out.to(torch.float64)
        return out.detach().to("cpu").numpy()


def from_torch(module, *, device=None, dtype=None, batch_size: int = DEFAULT_BATCH_SIZE, kind: str = "e",
               eval_mode: bool = True, pad: bool = False) -> TorchModel:
    """A PyTorch model as a numpy model ``f(x, s)`` for nent_ref.

    Parameters
    ----------
    module : torch.nn.Module or callable
        Called as ``module(x, s)`` with tensors ``x`` of shape (B, D) and ``s`` of shape (B,),
        returning a (B, D) tensor: the deviation from equilibrium ``e`` (``kind="e"``) or the full
        score (``kind="score"``).  Wrap a network with another signature in a small function.
    device : str or torch.device, optional
        Where to evaluate; default the device of the module's parameters (CPU without any).  A
        device other than the parameters' is an error (the module is not moved behind your back).
    dtype : torch dtype or str, optional
        Input dtype; default the dtype of the module's floating parameters (else torch's default).
        nent_ref's float64 inputs are converted to it and the outputs back to float64; both
        conversions are recorded (:attr:`ModelAdapter.conversions`).
    batch_size : int
        Rows per call (memory bound; :func:`nent_ref.validate` uses it as its batch size).
    kind : {"e", "score"}
    eval_mode : bool
        Evaluate a module that is in training mode in eval mode (restored after each call).
    pad : bool
        Pad the last batch of a call to ``batch_size`` rows (for a compiled module with static shapes).

    Returns
    -------
    TorchModel
        Callable ``f(x, s) -> ndarray`` (float64), evaluated under ``torch.no_grad()``; picklable
        when the module is.
    """
    return TorchModel(module, device=device, dtype=dtype, batch_size=batch_size, kind=kind,
                      eval_mode=eval_mode, pad=pad)


def _jax_x64(jax) -> bool:
    try:
        return bool(jax.config.read("jax_enable_x64"))
    except (AttributeError, KeyError):     # pragma: no cover - older JAX
        return bool(getattr(jax.config, "jax_enable_x64", False))


class JaxModel(ModelAdapter):
    """A JAX function ``fn(x, s)`` or ``fn(params, x, s)`` as a numpy model; see :func:`from_jax`."""

    framework = "jax"

    def __init__(self, fn, params=None, *, batch_size=DEFAULT_BATCH_SIZE, kind="e", dtype=None, jit=True):
        jax = _require("jax", "jax", "from_jax")
        if not callable(fn):
            raise ValueError(f"from_jax needs a function fn(x, s) or fn(params, x, s) (got {type(fn).__name__})")
        super().__init__(kind=kind, batch_size=batch_size, pad=True)
        self.framework_version = str(jax.__version__)
        self.fn = fn
        self.params = params
        self.jit = bool(jit)
        x64 = _jax_x64(jax)
        if dtype is None:
            self.dtype = "float64" if x64 else "float32"
        else:
            try:
                name = np.dtype(dtype).name
            except TypeError:
                name = repr(dtype)
            if name not in ("float16", "float32", "float64"):
                raise ValueError(f"dtype must be a floating dtype such as 'float32' or 'float64' (got {dtype!r})")
            if name == "float64" and not x64:
                raise ValueError("dtype='float64' needs 64-bit JAX: jax.config.update('jax_enable_x64', True) "
                                 "before building the model")
            self.dtype = name
        self.x64 = x64
        try:
            self.device = str(jax.devices()[0].platform)
        except Exception:                  # pragma: no cover - no backend
            self.device = "?"
        if self.dtype != "float64":
            why = " (jax_enable_x64 is off)" if dtype is None else ""
            self._input_conversions.append(f"inputs float64 -> {self.dtype}{why}")
        leaves = jax.tree_util.tree_leaves(params) if params is not None else []
        pdt = sorted({np.dtype(getattr(leaf, "dtype", np.float64)).name for leaf in leaves
                      if np.dtype(getattr(leaf, "dtype", np.float64)).kind == "f"})
        self.param_dtypes = pdt
        if pdt and self.dtype not in pdt:
            self.notes.append(f"{'/'.join(pdt)} parameters evaluated on {self.dtype} inputs (JAX computes in the "
                              "wider of the two by type promotion)")
        self.notes.append(f"jit-compiled once for batches of {self.batch_size} (the last batch of a call is padded)"
                          if self.jit else "not jit-compiled")
        self.traces = 0
        self._compiled = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_compiled"] = None            # a compiled function does not pickle; rebuilt on first call
        return state

    def _model_name(self) -> str:
        return getattr(self.fn, "__qualname__", None) or getattr(self.fn, "__name__", None) or type(self.fn).__name__

    def _build(self):
        import jax
        fn, with_params = self.fn, self.params is not None

        def call(params, x, s):
            self.traces += 1                   # runs once per trace (= per compile), not per call
            return fn(params, x, s) if with_params else fn(x, s)
        self._compiled = jax.jit(call) if self.jit else call

    def _call_batch(self, x, s):
        if self._compiled is None:
            self._build()
        dt = self.dtype
        out = self._compiled(self.params, np.asarray(x, dtype=dt), np.asarray(s, dtype=dt))
        arr = np.asarray(out)
        if arr.dtype.kind == "c":
            raise ValueError("the jax model returned complex values; expected a real array")
        if arr.dtype.kind not in "fiub":         # e.g. bfloat16 (an ml_dtypes type): widen here, and say so
            self._note_output(arr.dtype.name)
            arr = arr.astype(np.float64)
        return arr

    def describe(self) -> dict:
        out = super().describe()
        out.update({"jit": self.jit, "compiles": self.traces, "x64": self.x64, "param_dtypes": self.param_dtypes})
        return out


def from_jax(fn, params=None, *, batch_size: int = DEFAULT_BATCH_SIZE, kind: str = "e", dtype=None,
             jit: bool = True) -> JaxModel:
    """A JAX model as a numpy model ``f(x, s)`` for nent_ref, compiled once.

    Parameters
    ----------
    fn : callable
        ``fn(x, s)``, or ``fn(params, x, s)`` when ``params`` is given (e.g. a flax ``model.apply``
        with its variables), with ``x`` of shape (B, D) and ``s`` of shape (B,), returning (B, D):
        ``e`` (``kind="e"``) or the full score (``kind="score"``).
    params : pytree, optional
        Parameters bound as the first argument (passed to the compiled function as an argument,
        not baked in as constants).
    batch_size : int
        The one batch shape the function is compiled for: every call is cut into batches of this
        many rows and the last one is padded (by repeating its last row), so there is one compile.
    kind : {"e", "score"}
    dtype : str, optional
        Input dtype; default float64 when ``jax_enable_x64`` is on, float32 otherwise (recorded as
        a conversion).  ``"float64"`` without x64 is an error.
    jit : bool
        Compile with ``jax.jit`` (default); ``False`` calls ``fn`` as it is.

    Returns
    -------
    JaxModel
        Callable ``f(x, s) -> ndarray`` (float64); ``.traces`` counts compilations.
    """
    return JaxModel(fn, params, batch_size=batch_size, kind=kind, dtype=dtype, jit=jit)


# --------------------------------------------------------------------------- recognising framework models
def is_adapter(model) -> bool:
    """True for the adapters of this module (and wrappers that forward their attributes)."""
    return getattr(model, "is_model_adapter", False) is True


def is_torch_module(model) -> bool:
    """True for an instance of ``torch.nn.Module`` (recognised without importing torch)."""
    return any(c.__name__ == "Module" and c.__module__ == "torch.nn.modules.module" for c in type(model).__mro__)


def is_jax_function(model) -> bool:
    """True for a jit-compiled (or otherwise transformed) JAX callable, recognised without importing jax."""
    root = (type(model).__module__ or "").split(".")[0]
    return callable(model) and root in ("jax", "jaxlib")


def adapt(model, **options):
    """``model`` ready for nent_ref: a torch module through :func:`from_torch`, a jit-compiled JAX function
    through :func:`from_jax` (``options`` are passed on), anything else (numpy callables, adapters) as is."""
    if is_adapter(model):
        return model
    if is_torch_module(model):
        return from_torch(model, **options)
    if is_jax_function(model):
        return from_jax(model, **options)
    return model
