"""The :class:`Estimate` container returned by every quantity in nent_ref.

An estimate carries a value, its standard error and the method that produced it.
Closed forms report ``stderr = 0`` and ``method = "closed-form"``; quadrature
reports ``stderr = 0`` and puts the integrator's own error bound in
``error_bound``; Monte Carlo always reports a positive standard error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Estimate", "log_base"]


def log_base(base) -> float:
    """Natural log of a unit base: ``None`` or ``e`` -> 1 (nats), ``2`` -> log 2 (bits)."""
    if base is None:
        return 1.0
    base = float(base)
    if not math.isfinite(base) or base <= 0.0 or base == 1.0:
        raise ValueError(f"base must be a positive number other than 1 (got {base!r})")
    return math.log(base)


@dataclass(frozen=True)
class Estimate:
    """A number (or array of numbers) with its standard error and provenance.

    Parameters
    ----------
    value : float or ndarray
        The estimate.  An array when the quantity was evaluated on an array of times.
    stderr : float or ndarray
        One standard error of ``value`` (0 for closed forms and quadrature).
    method : str
        ``"closed-form"``, ``"quadrature"``, ``"monte-carlo"``, ...
    error_bound : float or ndarray, optional
        A deterministic error estimate (quadrature), 0 when exact to rounding.
    n_samples : int, optional
        Monte Carlo sample size, when relevant.
    unit : str
        ``"nat"`` unless a ``base=`` argument asked for another unit.
    """

    value: object
    stderr: object = 0.0
    method: str = "closed-form"
    error_bound: object = 0.0
    n_samples: int | None = None
    unit: str = "nat"
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        value = np.asarray(self.value, dtype=float)
        stderr = np.broadcast_to(np.asarray(self.stderr, dtype=float), value.shape)
        bound = np.broadcast_to(np.asarray(self.error_bound, dtype=float), value.shape)
        if value.ndim == 0:
            object.__setattr__(self, "value", float(value))
            object.__setattr__(self, "stderr", float(stderr))
            object.__setattr__(self, "error_bound", float(bound))
        else:
            object.__setattr__(self, "value", value)
            object.__setattr__(self, "stderr", np.array(stderr))
            object.__setattr__(self, "error_bound", np.array(bound))

    def __float__(self) -> float:
        if np.ndim(self.value) != 0:
            raise TypeError("this Estimate holds an array; use .value")
        return float(self.value)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    @property
    def shape(self):
        return np.shape(self.value)

    def in_base(self, base) -> "Estimate":
        """The same estimate expressed in another unit (``base=2`` for bits)."""
        if self.unit != "nat":
            raise ValueError("in_base converts from nats only")
        scale = log_base(base)
        unit = "nat" if base is None else ("bit" if float(base) == 2.0 else f"log{float(base):g}")
        return Estimate(np.asarray(self.value) / scale, np.asarray(self.stderr) / scale, self.method,
                        np.asarray(self.error_bound) / scale, self.n_samples, unit, dict(self.extra))

    def z_score(self, reference) -> float | np.ndarray:
        """(value - reference) / uncertainty, the uncertainty being stderr plus error bound.

        Returns 0 where the estimate is exact and equal to the reference, and inf where
        it is exact but differs.
        """
        sigma = np.asarray(self.stderr) + np.asarray(self.error_bound)
        diff = np.asarray(self.value) - np.asarray(reference)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sigma > 0, diff / np.where(sigma > 0, sigma, 1.0),
                         np.where(diff == 0, 0.0, np.inf * np.sign(diff)))
        return float(z) if np.ndim(z) == 0 else z

    def to_dict(self) -> dict:
        """Plain-Python representation (for JSON)."""
        def conv(x):
            return x.tolist() if isinstance(x, np.ndarray) else x
        return {"value": conv(self.value), "stderr": conv(self.stderr), "method": self.method,
                "error_bound": conv(self.error_bound), "n_samples": self.n_samples, "unit": self.unit}

    def __repr__(self) -> str:
        if np.ndim(self.value) == 0:
            body = f"{self.value:.12g}"
            if self.stderr:
                body += f" ± {self.stderr:.3g}"
            if self.error_bound:
                body += f" (bound {self.error_bound:.2g})"
        else:
            body = f"array(shape={np.shape(self.value)})"
        return f"Estimate({body} {self.unit}, method={self.method!r})"
