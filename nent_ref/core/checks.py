"""Input validation shared by every module: one place for the checks and their error messages.

Every failure is a ValueError that names the argument and the problem, never a silent NaN.
"""
from __future__ import annotations

import math

import numpy as np


class InputTypeError(TypeError, ValueError):
    """An argument of the wrong type.  Both a TypeError (what Python code expects for a wrong type)
    and a ValueError (what nent_ref raises for every bad input, and what the CLI reports as a usage
    error), so callers catching either see it."""

class ModelError(ValueError):
    """A user's model misbehaved: it raised, returned something that is not a finite real array with
    the shape of its input ``x`` (NaN, inf, values so large that the estimator's ``|e|^2`` overflows,
    complex values, a wrong shape), or wrote into its input.

    The message names the model and the time ``s`` of the call.  A ValueError (the model is bad input
    to nent_ref), so ``except ValueError`` still catches it; the ``nent-ref`` command reports it as an
    error in the user's code (exit status 3).
    """


__all__ = ["InputTypeError", "ModelError", "real_scalar", "finite_float", "probability_vector", "model_output",
           "call_model", "model_label", "seed_sequence", "rng", "real_array", "count", "executor"]


def finite_float(name: str, value) -> float:
    """``value`` as a finite Python float, or a ValueError naming ``name``.

    Accepts real numbers (Python, numpy scalars, 0-d arrays); rejects strings, booleans, complex
    numbers (numpy would drop the imaginary part), arrays, NaN and inf.
    """
    if isinstance(value, (str, bytes, bool, np.bool_)) or isinstance(value, (complex, np.complexfloating)):
        raise ValueError(f"{name} must be a real number (got {value!r})")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number (got {value!r})") from None
    if arr.ndim != 0 or arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real number (got {value!r})")
    x = float(arr)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite (got {x})")
    return x


def probability_vector(value, n: int | None = None, name: str = "weights", tol: float = 1e-9,
                       note: str = "", what: str = "entries expected") -> tuple[np.ndarray, float]:
    """Validate a probability vector and return ``(value / sum, sum)``.

    Checks: a real 1-D array (of length ``n`` when given), finite, non-negative, summing to one
    within ``tol`` (the division by the sum then only removes rounding).  ``note`` is appended to
    the sum-to-one message (e.g. how a caller treats rounding); ``what`` names the ``n`` things the
    entries stand for (components, points, outcomes) in the shape message.
    """
    raw = np.asarray(value)
    if raw.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a real array (got dtype {raw.dtype})")
    w = raw.astype(float)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (got shape {np.shape(value)})")
    if n is not None and w.size != n:
        raise ValueError(f"{name} must have shape ({n},): it has {w.size} entries but there are {n} {what}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} contains NaN or inf")
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative (has negative entries, smallest {w.min():.3g})")
    total = float(w.sum())
    if not abs(total - 1.0) <= tol:
        raise ValueError(f"{name} must sum to one (sum to 1 within {tol:g}; they sum to {total!r}){note}")
    return w / total, total


def model_label(fn) -> str:
    """A short name of a user's model for error messages: its qualified name, else its type."""
    inner = getattr(fn, "fn", None)              # a wrapper of nent_ref's (FixedBatchModel) names what it wraps
    target = inner if callable(inner) else fn
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if not name:
        return type(target).__name__
    return str(name).rsplit("<locals>.", 1)[-1]          # a function defined inside another: its own name


def _first_time(s) -> str:
    try:
        flat = np.ravel(np.asarray(s, dtype=float))
    except (TypeError, ValueError):
        return "?"
    return f"{float(flat[0]):.6g}" if flat.size else "?"


def model_output(out, x, name: str, s, *, label: str | None = None) -> np.ndarray:
    """Check what a user model ``f(x, s)`` returned: a finite float array with the shape of ``x``.

    Raises :class:`ModelError` (naming the model ``label``, its role ``name`` and the time ``s``) for
    complex or non-numeric values, a wrong shape, NaN or inf, and for values so large that the squared
    norm ``|f(x, s)|^2`` of a row overflows (every estimator of nent_ref uses it).
    """
    who = f"the model {label} ({name}(x, s))" if label else f"{name}(x, s)"
    when = f"at s = {_first_time(s)}"
    raw = np.asarray(out)
    if raw.dtype.kind not in "fiub":
        what = "complex values" if raw.dtype.kind == "c" else f"dtype {raw.dtype}"
        raise ModelError(f"{who} returned {what} {when}; expected a real float array with the shape of x")
    out = raw.astype(float, copy=False)
    if out.shape != np.shape(x):
        raise ModelError(f"{who} returned shape {out.shape} for x of shape {np.shape(x)} {when} "
                         "(expected an array with the shape of x; x is (M, D), s is a time or (M,) times)")
    if not np.all(np.isfinite(out)):
        raise ModelError(f"{who} returned NaN or inf {when}")
    if out.size:
        with np.errstate(over="ignore"):
            sq = np.einsum("...j,...j->...", out, out) if out.ndim else out * out
        if not np.all(np.isfinite(sq)):
            raise ModelError(f"{who} returned values up to {float(np.max(np.abs(out))):.3g} {when}: the squared "
                             "norm of a row overflows double precision, so no estimate can be formed (a score or "
                             "e of that size is not a usable model output)")
    return out


def call_model(fn, x, s, name: str = "e", *, label: str | None = None) -> np.ndarray:
    """Call a user's model ``fn(x, s)`` and check its output with :func:`model_output`.

    The model gets read-only copies of ``x`` and ``s``: an in-place write raises inside the model and
    is reported as a :class:`ModelError`; a write that gets around the flag (e.g. through a framework
    tensor sharing the memory) is detected by comparing the copy with ``x`` afterwards.  Either way
    nent_ref's own arrays are never changed by the model.
    """
    label = label or model_label(fn)
    x = np.asarray(x)
    xin = np.array(x, copy=True)
    xin.flags.writeable = False
    s_arr = np.asarray(s)
    sin = np.array(s_arr, copy=True)
    sin.flags.writeable = False
    sin_pass = sin if s_arr.ndim else sin[()]  # a scalar time stays a scalar
    try:
        out = fn(xin, sin_pass)
    except ValueError as exc:
        if "read-only" in str(exc):            # numpy's "assignment destination is read-only" & co
            raise ModelError(f"the model {label} ({name}(x, s)) wrote into its input at s = {_first_time(s)} "
                             f"({type(exc).__name__}: {exc}); a model must not change x or s in place: "
                             "work on a copy (x = x.copy()) or use out-of-place operations") from exc
        raise
    if not (np.array_equal(xin, x) and np.array_equal(sin, s_arr)):
        raise ModelError(f"the model {label} ({name}(x, s)) changed its input x or s in place at s = "
                         f"{_first_time(s)}; a model must not change its inputs (work on a copy)")
    return model_output(out, x, name, s, label=label)


# --------------------------------------------------------------------------- seeds
_SEED_HELP = ("must be a non-negative integer, a sequence of non-negative integers, a numpy "
              "SeedSequence, a numpy Generator, or None for fresh OS entropy")


def seed_sequence(seed, name: str = "seed") -> np.random.SeedSequence:
    """The one seed validator of the package: ``seed`` as a :class:`numpy.random.SeedSequence`.

    Accepts a non-negative integer (Python or numpy), a sequence of non-negative integers, a
    SeedSequence (returned as is), a :class:`numpy.random.Generator` (a child of its seed
    sequence is spawned, so the result is deterministic given the generator and independent of
    how work is later split), or ``None`` (fresh OS entropy; the entropy is recorded in the
    SeedSequence).  Anything else (negative or fractional numbers, strings, booleans) is a
    ValueError naming ``name``.
    """
    if isinstance(seed, np.random.SeedSequence):
        # a copy: spawning children advances a SeedSequence, so reusing the caller's object would make
        # two calls with the same seed draw different numbers
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size,
                                      n_children_spawned=seed.n_children_spawned)
    if isinstance(seed, np.random.Generator):
        ss = getattr(seed.bit_generator, "seed_seq", None) or getattr(seed.bit_generator, "_seed_seq", None)
        if not isinstance(ss, np.random.SeedSequence):
            raise ValueError(f"{name}: this Generator carries no SeedSequence; pass an int or SeedSequence")
        return ss.spawn(1)[0]
    if seed is None:
        return np.random.SeedSequence()
    items = seed if isinstance(seed, (list, tuple, np.ndarray)) else [seed]
    if isinstance(seed, np.ndarray) and seed.ndim != 1:
        raise ValueError(f"{name} {_SEED_HELP} (got an array of shape {seed.shape})")
    if len(items) == 0:
        raise ValueError(f"{name} {_SEED_HELP} (got an empty sequence)")
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)) or item < 0:
            raise ValueError(f"{name} {_SEED_HELP} (got {seed!r})")
    if isinstance(seed, (list, tuple, np.ndarray)):
        return np.random.SeedSequence([int(i) for i in items])
    return np.random.SeedSequence(int(seed))


def rng(seed, name: str = "seed") -> np.random.Generator:
    """A :class:`numpy.random.Generator` from ``seed``: a Generator is used as is (its stream
    continues), anything else goes through :func:`seed_sequence`."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed_sequence(seed, name))


# --------------------------------------------------------------------------- arrays and counts
def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry of a float array is finite.  The sum is finite when every entry is (unless it
    overflows), so the elementwise test runs only when the sum is not: a large array is checked without a
    boolean temporary of its size."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return True
    return bool(np.all(np.isfinite(arr)))


def real_array(name: str, value, *, finite: bool = True, copy: bool = True) -> np.ndarray:
    """``value`` as a float ndarray; ValueError for complex, non-numeric or (``finite``) NaN/inf input.

    A complex array is rejected even when its imaginary part is zero: numpy would silently drop it.
    With ``copy=False`` a float64 ndarray is returned as it is (the caller must not write to it).
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real numeric array ({exc})") from None
    if raw.dtype.kind == "c":
        raise InputTypeError(f"{name} must be real (got a complex array; pass its real part explicitly if "
                             "the imaginary part is meant to be zero)")
    if raw.dtype.kind not in "fiub":
        got = f"dtype {raw.dtype}" if raw.dtype.kind != "O" or raw.ndim else f"a {type(value).__name__}"
        raise InputTypeError(f"{name} must be a real number or a numeric array (got {got})")
    arr = raw.astype(float, copy=copy)
    if finite and not all_finite(arr):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def count(name: str, value, minimum: int = 1, maximum: int | None = None, why: str = "") -> int:
    """``value`` as a Python int >= ``minimum`` (and <= ``maximum`` when given; ``why`` is appended to
    that message: what the limit protects).  Rejects booleans, fractions, strings."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        if maximum is not None:
            what += f" and <= {maximum}"
        raise ValueError(f"{name} must be {what} (got {value!r})")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} = {value} is above the limit {maximum}{(': ' + why) if why else ''}")
    return int(value)


def executor(value, name: str = "executor", method: str = "map"):
    """``value`` itself when it is None or has a callable ``method`` (``map`` for the estimators of neural
    entropy, ``submit`` for the mixture Monte Carlo), else an :class:`InputTypeError` naming ``name``."""
    if value is None or callable(getattr(value, method, None)):
        return value
    raise InputTypeError(f"{name} must be None or an executor with a {method}() method (e.g. "
                         f"concurrent.futures.ProcessPoolExecutor(), or a dask client.get_executor()); got "
                         f"{type(value).__name__} {value!r:.80}")


def real_scalar(name: str, value) -> np.ndarray:
    """``value`` as a real 0-d float array (NaN/inf allowed, checked by the caller; complex rejected)."""
    arr = real_array(name, value, finite=False)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a single time (got shape {arr.shape})")
    return arr
