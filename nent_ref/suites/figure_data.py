"""The data files beside the figures: CSV with a fixed number of significant digits, and their comparison
within a tolerance (recomputed figure data against committed ones, never byte for byte).

Kept apart from the rendering (:mod:`nent_ref.suites.figures`, which re-exports every name here) so that
checking figure data (``tools/check_figure_data.py``, CI) imports neither matplotlib nor the quantities.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

__all__ = ["CSV_SIGNIFICANT_DIGITS", "FIGURE_DATA_RTOL", "FIGURE_DATA_ATOL", "FIGURE_UNCERTAINTY_ATOL",
           "compare_figure_csv", "format_number", "write_csv", "write_rows_csv"]

#: Significant digits of every number in a figure's CSV.  Figure data are for plotting and for
#: checking against the tables; no figure needs more.  Fewer digits do not make CSVs byte-identical across
#: machines (a last-bit difference can still flip the 8th digit's rounding, and a Monte Carlo standard
#: error of values equal up to rounding is 0 on one machine and 1e-10 on another): committed figure data
#: are compared with :func:`compare_figure_csv`, within a tolerance.
CSV_SIGNIFICANT_DIGITS = 8

#: Relative tolerance of :func:`compare_figure_csv` for every number: recomputed figure data agree with the
#: committed ones when ``|a - b| <= FIGURE_DATA_RTOL * max(|a|, |b|) + atol``.  Different CPUs and BLAS
#: kernels move results by ~1e-14 relative, and 8-digit rounding turns that into at most one unit in the
#: 8th digit (1e-7 relative); 1e-6 covers both and still catches any change a figure could show.
FIGURE_DATA_RTOL = 1e-6
#: Absolute part of the tolerance for a value column, as a fraction of the column's largest committed
#: magnitude (a value that is the rounding residue of a cancellation, e.g. 0 against 1e-16, passes).
FIGURE_DATA_ATOL = 1e-12
#: Absolute part of the tolerance for an uncertainty column (a name with ``stderr`` or ``error_bound``), as a
#: fraction of the magnitude of the value it belongs to (``X_stderr`` and ``X_error_bound`` go with ``X``,
#: ``stderr_nats`` with ``value_nats``): a standard error or bound below 1e-9 of its value is rounding noise
#: (0 on one machine, 2.9e-10 on a value of 14.76 on another) and passes.
FIGURE_UNCERTAINTY_ATOL = 1e-9


def _uncertainty_value_column(name: str, names: list[str]) -> str | None:
    """The value column an uncertainty column belongs to, None for a value column; ValueError if an
    uncertainty column has no value column."""
    if "stderr" not in name and "error_bound" not in name:
        return None
    for suffix in ("_stderr", "_error_bound"):
        if name.endswith(suffix) and name[: -len(suffix)] in names:
            return name[: -len(suffix)]
    if name.replace("stderr", "value") in names:
        return name.replace("stderr", "value")
    raise ValueError(f"uncertainty column {name!r} has no value column")


_NUMBER_TOKEN = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def _same_label(a: str, b: str) -> bool:
    """Two text fields agree: equal words, and numbers inside them (a label such as ``sigma_w2=1.76095``)
    within :data:`FIGURE_DATA_RTOL`."""
    if a == b:
        return True
    ta, tb = _NUMBER_TOKEN.split(a), _NUMBER_TOKEN.split(b)
    if len(ta) != len(tb):
        return False
    for i, (x, y) in enumerate(zip(ta, tb)):
        if i % 2 == 0:                             # words between numbers
            if x != y:
                return False
        elif not abs(float(x) - float(y)) <= FIGURE_DATA_RTOL * max(abs(float(x)), abs(float(y))):
            return False
    return True


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def compare_figure_csv(committed: str, fresh: str, name: str = "csv") -> list[str]:
    """Differences between two versions of a figure's CSV text beyond the documented tolerance (empty when
    they agree): same header and row count, equal text (numbers inside a text label, such as
    ``sigma_w2=1.7609546``, within :data:`FIGURE_DATA_RTOL`), and numbers within
    :data:`FIGURE_DATA_RTOL` relative plus an absolute part, :data:`FIGURE_DATA_ATOL` of the column's
    largest committed magnitude for a value column, :data:`FIGURE_UNCERTAINTY_ATOL` of the value's
    magnitude for an uncertainty column (standard error or error bound).  Infinities must match exactly.
    ``name`` prefixes every line."""
    old = list(csv.reader(committed.splitlines()))
    new = list(csv.reader(fresh.splitlines()))
    if not old or not new or old[0] != new[0]:
        return [f"{name}: header {new[0] if new else None} instead of {old[0] if old else None}"]
    header = old[0]
    if len(old) != len(new):
        return [f"{name}: {len(new) - 1} rows instead of {len(old) - 1}"]
    pairs = {c: _uncertainty_value_column(c, header) for c in header}
    index = {c: i for i, c in enumerate(header)}
    scale = {}
    for j, c in enumerate(header):
        vals = [abs(v) for v in (_number(r[j]) for r in old[1:] if j < len(r)) if v is not None and math.isfinite(v)]
        scale[c] = max(vals, default=0.0)
    out = []
    for i, (ro, rn) in enumerate(zip(old[1:], new[1:]), start=2):
        if len(ro) != len(header) or len(rn) != len(header):
            out.append(f"{name} line {i}: {len(rn)} fields instead of {len(ro)}")
            continue
        for j, c in enumerate(header):
            a, b = _number(ro[j]), _number(rn[j])
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
                if not (_same_label(ro[j], rn[j]) or (a is not None and a == b)):
                    out.append(f"{name} line {i}, {c}: {rn[j]!r} instead of {ro[j]!r}")
                continue
            if pairs[c] is None:
                atol = FIGURE_DATA_ATOL * scale[c]
            else:
                k = index[pairs[c]]
                va, vb = _number(ro[k]), _number(rn[k])
                mag = max(abs(va) if va is not None and math.isfinite(va) else 0.0,
                          abs(vb) if vb is not None and math.isfinite(vb) else 0.0)
                atol = FIGURE_UNCERTAINTY_ATOL * mag
            if not abs(a - b) <= FIGURE_DATA_RTOL * max(abs(a), abs(b)) + atol:
                out.append(f"{name} line {i}, {c}: {rn[j]} instead of {ro[j]} (difference {abs(a - b):.3g}, "
                           f"tolerance {FIGURE_DATA_RTOL * max(abs(a), abs(b)) + atol:.3g})")
    return out


def format_number(value) -> str:
    """One CSV field: ``value`` with :data:`CSV_SIGNIFICANT_DIGITS` significant digits (``-0`` as ``0``).

    Infinities are written ``inf`` / ``-inf`` (a divergent KL is a value, e.g. beyond an RG fixed point);
    NaN raises ValueError: figure data never hold it.
    """
    v = float(value)
    if math.isnan(v):
        raise ValueError("figure data must not hold NaN")
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    text = f"{v:.{CSV_SIGNIFICANT_DIGITS}g}"
    return "0" if text == "-0" else text


def write_csv(path: Path, columns: dict) -> Path:
    """Write equal-length numeric columns (name -> 1-D array) to ``path`` as CSV, with
    :data:`CSV_SIGNIFICANT_DIGITS` significant digits."""
    names = list(columns)
    data = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(names)
        for row in data:
            writer.writerow([format_number(v) for v in row])
    return path


def write_rows_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    """Write rows of mixed text and numbers as CSV; numbers with :data:`CSV_SIGNIFICANT_DIGITS` digits."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([v if isinstance(v, str) else format_number(v) for v in row])
    return path
