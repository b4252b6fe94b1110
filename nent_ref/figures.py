"""Theory figures rendered by ``nent-ref figures`` (PNG and PDF, with the plotted data as CSV).

Every figure function has the signature ``fig(out_dir: Path, options) -> list[Path]`` and is
registered in :data:`nent_ref.cli.FIGURES`.  The data behind each figure is computed with
the library's public functions and written as CSV beside the picture, so a test can check
the plotted numbers against the tables.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from . import cases
from .entropy import entropy_production_rate, total_entropy

__all__ = ["write_csv", "save", "gaussian_rate_figure"]

_LABELS = {"vp16": r"VP ($\beta$ 0.1$\to$16)", "vp20": r"VP ($\beta$ 0.1$\to$20)",
           "vpx": r"VPx ($\kappa$ = 0.1)", "sl": r"SL ($\Sigma_0$ = 0.1)"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def write_csv(path: Path, columns: dict) -> Path:
    """Write equal-length columns (name -> 1-D array) to ``path`` as CSV."""
    names = list(columns)
    data = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in data:
            writer.writerow([repr(float(v)) for v in row])
    return path


def save(fig, out_dir: Path, stem: str) -> list[Path]:
    """Save a matplotlib figure as PNG and PDF; return the paths."""
    plt = _pyplot()
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None})
    plt.close(fig)
    return paths


def gaussian_rate_figure(out_dir: Path, options=None) -> list[Path]:
    """Sdot(s) and S_tot(0, s) for the 3-D canonical Gaussian and the 3-D Dirac atom
    (s0 = EPS) under the paper's processes (closed forms)."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    s = np.concatenate([np.geomspace(cases.EPS, 1e-2, 60, endpoint=False), np.linspace(1e-2, 0.999, 200)])
    columns = {"s": s}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for kind, data, s0 in (("gaussian", cases.gaussian_case(3), 0.0), ("dirac", cases.dirac_case(3), cases.EPS)):
        for name in ("vp16", "vpx", "sl"):
            proc = cases.processes()[name]
            rate = entropy_production_rate(data, proc, s).value
            stot = total_entropy(data, proc, s0, s).value
            columns[f"rate_{kind}_{name}"] = rate
            columns[f"S_tot_{kind}_{name}"] = stot
            style = "-" if kind == "gaussian" else "--"
            axes[0].loglog(s, rate, style, label=f"{kind}, {_LABELS[name]}")
            axes[1].semilogx(s, stot, style, label=f"{kind}, {_LABELS[name]}")
    axes[0].set(xlabel="forward time s", ylabel=r"$\dot S(s)$ [nats per unit time]",
                title="entropy production rate (D = 3)")
    axes[1].set(xlabel="forward time s", ylabel=r"$S_{tot}(s_0, s)$ [nats]",
                title=r"total entropy ($s_0$ = 0 Gaussian, $10^{-5}$ Dirac)")
    axes[0].legend(fontsize=7)
    stem = "gaussian_rate"
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", columns)]
