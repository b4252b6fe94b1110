"""The :class:`Estimate` container returned by every quantity in nent_ref.

An estimate carries a value, its standard error, a deterministic error bound, the method that
produced it and its unit.  Closed forms report ``stderr = 0`` and ``method = "closed-form"``;
quadrature reports ``stderr = 0`` and puts the integrator's own error bound in ``error_bound``;
Monte Carlo always reports a positive standard error.

Units
-----
Every estimate says what it is measured in (:data:`UNITS`): ``"nat"`` for entropies and
divergences, ``"nat/time"`` for rates (per unit of forward time ``s``), ``"length^2"`` for squared
data units (W2^2, the clock ``int D ds``), and ``"1"`` for dimensionless ratios (efficiencies,
S_NN / S_tot).  ``in_base(2)`` turns ``nat`` into ``bit`` and ``nat/time`` into ``bit/time``; it
refuses any other unit, because only information is measured in nats.

Comparisons
-----------
:meth:`Estimate.z_score` divides a difference by the estimate's uncertainty, which is its standard
error plus its error bound plus a *rounding floor*: :data:`ROUNDING_RTOL` times the magnitude
of the numbers the estimate was computed from (``scale``; by default ``|value|`` and the
reference).  The floor keeps an exact (``stderr = 0``) estimate that equals its reference up to
the last bits of floating-point arithmetic from producing an infinite z.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Estimate", "log_base", "UNITS", "ROUNDING_RTOL", "NAT", "NAT_PER_TIME", "LENGTH2", "DIMENSIONLESS", "TIME"]

#: Entropies, divergences, losses: natural units of information.
NAT = "nat"
#: Rates: nats per unit of forward time s.
NAT_PER_TIME = "nat/time"
#: Squared data units (W2^2, the clock int D ds).
LENGTH2 = "length^2"
#: Dimensionless ratios (efficiencies, S_NN / S_tot).
DIMENSIONLESS = "1"
#: Units of forward time (e.g. a loss with the unit weighting lambda = v, int v E|e - e*|^2 ds).
TIME = "time"
#: The units an Estimate may carry, with what they mean.
UNITS = {
    NAT: "nats (natural units of information)",
    NAT_PER_TIME: "nats per unit of forward time s",
    LENGTH2: "squared data units",
    DIMENSIONLESS: "dimensionless",
    TIME: "units of forward time s (unit-weighted losses)",
    "bit": "bits (base-2 units of information)",
    "bit/time": "bits per unit of forward time s",
}
#: Relative size of the rounding floor in :meth:`Estimate.z_score` (sums of up to ~1e6 terms
#: in double precision stay well inside it).
ROUNDING_RTOL = 1e-10

_INFO_UNITS = {NAT: "", NAT_PER_TIME: "/time"}


def log_base(base) -> float:
    """Natural log of a unit base: ``None`` or ``e`` -> 1 (nats), ``2`` -> log 2 (bits)."""
    if base is None:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, (int, float, np.integer, np.floating)):
        raise ValueError(f"base must be a positive number other than 1 (got {base!r})")
    base = float(base)
    if not math.isfinite(base) or base <= 0.0 or base == 1.0:
        raise ValueError(f"base must be a positive number other than 1 (got {base!r})")
    return math.log(base)


def _unit_name(base) -> str:
    if base is None or float(base) == math.e:
        return NAT
    return "bit" if float(base) == 2.0 else f"log{float(base):g}"


def _summary(x) -> str:
    return np.array2string(np.asarray(x), precision=6, threshold=8, edgeitems=3, separator=", ")


@dataclass(frozen=True)
class Estimate:
    """A number (or array of numbers) with its standard error, error bound, provenance and unit.

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
        One of :data:`UNITS`: ``"nat"`` (default), ``"nat/time"``, ``"length^2"``, ``"1"``,
        ``"bit"``, ``"bit/time"`` (or ``"log<b>"`` after ``in_base(b)``).
    extra : dict
        Further named results (component estimates, seeds, ...).
    scale : float or ndarray, optional
        Magnitude of the terms the value was computed from (e.g. ``|a| + |b|`` for ``a - b``),
        which sets the rounding floor of :meth:`z_score`.  Defaults to ``|value|``.
    """

    value: object
    stderr: object = 0.0
    method: str = "closed-form"
    error_bound: object = 0.0
    n_samples: int | None = None
    unit: str = NAT
    extra: dict = field(default_factory=dict, compare=False, repr=False)
    scale: object = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        value = np.asarray(self.value, dtype=float)
        stderr = np.broadcast_to(np.asarray(self.stderr, dtype=float), value.shape)
        bound = np.broadcast_to(np.asarray(self.error_bound, dtype=float), value.shape)
        scale = np.abs(value) if self.scale is None else np.maximum(
            np.broadcast_to(np.asarray(self.scale, dtype=float), value.shape), np.abs(value))
        if value.ndim == 0:
            object.__setattr__(self, "value", float(value))
            object.__setattr__(self, "stderr", float(stderr))
            object.__setattr__(self, "error_bound", float(bound))
            object.__setattr__(self, "scale", float(scale))
        else:
            object.__setattr__(self, "value", value)
            object.__setattr__(self, "stderr", np.array(stderr))
            object.__setattr__(self, "error_bound", np.array(bound))
            object.__setattr__(self, "scale", np.array(scale))
        if not isinstance(self.unit, str) or not self.unit:
            raise ValueError(f"unit must be a non-empty string (got {self.unit!r})")

    def __float__(self) -> float:
        if np.ndim(self.value) != 0:
            raise TypeError("this Estimate holds an array; use .value")
        return float(self.value)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    @property
    def shape(self):
        return np.shape(self.value)

    def with_unit(self, unit: str) -> "Estimate":
        """The same numbers labelled with another unit (no conversion)."""
        return replace(self, unit=unit)

    def in_base(self, base) -> "Estimate":
        """The same estimate in another information unit (``base=2`` for bits).

        Only nats (``"nat"``, ``"nat/time"``) convert; any other unit raises ValueError.
        """
        if self.unit not in _INFO_UNITS:
            raise ValueError(f"in_base converts from nats only (this estimate is in {self.unit!r})")
        scale = log_base(base)
        unit = _unit_name(base) + _INFO_UNITS[self.unit]
        return Estimate(np.asarray(self.value) / scale, np.asarray(self.stderr) / scale, self.method,
                        np.asarray(self.error_bound) / scale, self.n_samples, unit, dict(self.extra),
                        np.asarray(self.scale) / scale)

    def rounding_floor(self, reference=None):
        """``ROUNDING_RTOL`` times the magnitude of the numbers involved (``scale``, the reference)."""
        mag = np.asarray(self.scale, dtype=float)
        if reference is not None:
            mag = np.maximum(mag, np.abs(np.asarray(reference, dtype=float)))
        out = ROUNDING_RTOL * mag
        return float(out) if np.ndim(out) == 0 else out

    def uncertainty(self, reference=None):
        """stderr + error bound + rounding floor: the denominator of :meth:`z_score`."""
        out = (np.asarray(self.stderr) + np.asarray(self.error_bound)
               + np.asarray(self.rounding_floor(reference)))
        return float(out) if np.ndim(out) == 0 else out

    def z_score(self, reference) -> float | np.ndarray:
        """(value - reference) / uncertainty, the uncertainty being stderr + error bound + rounding floor.

        Returns 0 where the estimate equals the reference exactly, and +-inf only where both the
        difference and every magnitude involved are such that no rounding can explain it (a
        nonzero difference from a reference of exactly zero, with no scale).
        """
        ref = np.asarray(reference, dtype=float)
        sigma = np.asarray(self.uncertainty(ref))
        diff = np.asarray(self.value) - ref
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
            body = _summary(self.value)
            if np.any(np.asarray(self.stderr)):
                body += f" ± {_summary(self.stderr)}"
            if np.any(np.asarray(self.error_bound)):
                body += f" (bound {_summary(self.error_bound)})"
        return f"Estimate({body} {self.unit}, method={self.method!r})"
