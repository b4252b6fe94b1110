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

__all__ = ["InputTypeError", "real_scalar", "finite_float", "probability_vector", "model_output", "seed_sequence", "rng", "real_array", "count"]


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


def model_output(out, x, name: str, s) -> np.ndarray:
    """Check what a user model ``f(x, s)`` returned: a finite float array with the shape of ``x``.

    ``s`` (scalar or array of times) is quoted in the error message.
    """
    raw = np.asarray(out)
    if raw.dtype.kind not in "fiub":
        what = "complex values" if raw.dtype.kind == "c" else f"dtype {raw.dtype}"
        raise ValueError(f"{name}(x, s) returned {what}; expected a real float array with the shape of x")
    out = raw.astype(float, copy=False)
    if out.shape != np.shape(x):
        raise ValueError(f"{name}(x, s) returned shape {out.shape} for x of shape {np.shape(x)} "
                         "(expected an array with the shape of x; x is (M, D), s is a time or (M,) times)")
    if not np.all(np.isfinite(out)):
        s_first = float(np.ravel(s)[0]) if np.size(s) else float("nan")
        raise ValueError(f"{name}(x, s) returned NaN or inf (at s = {s_first:.6g})")
    return out


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
def real_array(name: str, value, *, finite: bool = True) -> np.ndarray:
    """``value`` as a float ndarray; ValueError for complex, non-numeric or (``finite``) NaN/inf input.

    A complex array is rejected even when its imaginary part is zero: numpy would silently drop it.
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real numeric array ({exc})") from None
    if raw.dtype.kind == "c":
        raise ValueError(f"{name} must be real (got a complex array; pass its real part explicitly if "
                         "the imaginary part is meant to be zero)")
    if raw.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a real numeric array (got dtype {raw.dtype})")
    arr = raw.astype(float)
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def count(name: str, value, minimum: int = 1) -> int:
    """``value`` as a Python int >= ``minimum`` (rejects booleans, fractions, strings)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what} (got {value!r})")
    return int(value)


def real_scalar(name: str, value) -> np.ndarray:
    """``value`` as a real 0-d float array (NaN/inf allowed, checked by the caller; complex rejected)."""
    arr = real_array(name, value, finite=False)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a single time (got shape {arr.shape})")
    return arr
