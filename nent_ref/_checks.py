"""Input validation shared by every module: one place for the checks and their error messages.

Every failure is a ValueError that names the argument and the problem, never a silent NaN.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["finite_float", "probability_vector", "model_output"]


def finite_float(name: str, value) -> float:
    """``value`` as a finite Python float, or a ValueError naming ``name``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number (got {value!r})") from None
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
    out = np.asarray(out, dtype=float)
    if out.shape != np.shape(x):
        raise ValueError(f"{name}(x, s) returned shape {out.shape} for x of shape {np.shape(x)} "
                         "(expected an array with the shape of x; x is (M, D), s is a time or (M,) times)")
    if not np.all(np.isfinite(out)):
        s_first = float(np.ravel(s)[0]) if np.size(s) else float("nan")
        raise ValueError(f"{name}(x, s) returned NaN or inf (at s = {s_first:.6g})")
    return out
