r"""A figure of your own case: ``nent-ref plot case.json`` and :func:`plot`.

For every case of a spec file (docs/specs.md) the standard views, computed from the case's own data,
process, window and accuracy:

* the entropy production rate :math:`\dot S(s)` with its error band (stderr + error bound);
* the cumulative :math:`S_{tot}(s_0, s)`;
* :math:`\mathrm{KL}(p_s\,\|\,p_{eq})` (processes with an equilibrium);
* the speed limit: :math:`S_{tot}(s_0, s)` against its lower bound :math:`W_2^2(p_{s_0}, p_s)/\tau(s_0, s)`
  (with the bound's standard error and bias scale as a band; a sampled W2 is drawn only where
  stderr + bias scale is below half its value, and Gelbrich's moment bound, which is never biased
  upwards, is drawn beside it);
* for a spec with a ``model``: :math:`S_{NN}` and :math:`L_{EM}` of the model against the exact
  :math:`S_{tot}` (with standard errors).

Each case gives ``<stem>.png``, ``<stem>.pdf``, ``<stem>.csv`` (the plotted numbers, one line per
point: ``series, s, value, stderr, error_bound, unit``) and ``<stem>.spec.json`` (the canonical specs
of the computations, so the figure can be regenerated).  The grid is the spec's ``grid`` (default 64
log-spaced times); the speed limit uses at most :data:`SPEED_LIMIT_POINTS` of them (each point is an
optimal-transport problem when W2 is sampled).  ``style="talk"`` draws for a slide: 16:9, large fonts,
thick lines.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from . import specs
from .figure_layout import place_legend
from .figures import PALETTE, STYLES, save, write_rows_csv
from .spec_quantities import GRID_DEFAULTS, MODEL_QUANTITIES, grid_times

__all__ = ["plot", "plot_case", "SPEED_LIMIT_POINTS", "VIEWS"]

#: Largest number of grid times of the speed-limit view.
SPEED_LIMIT_POINTS = 16
#: The views, in drawing order.
VIEWS = ("rate", "cumulative", "kl", "speed_limit", "model")


def _derived(spec: dict, quantities: list, grid: dict | None) -> dict:
    out = {k: copy.deepcopy(v) for k, v in spec.items() if k not in ("quantities", "grid", "model")}
    out["quantities"] = quantities
    if grid is not None:
        out["grid"] = grid
    if any(q in MODEL_QUANTITIES for q in quantities):
        out["model"] = copy.deepcopy(spec["model"])
    return out


def _speed_grid(grid: dict, s0: float, s1: float) -> dict:
    t = grid_times(grid, s0, s1)
    t = t[t > s0]
    if t.size <= SPEED_LIMIT_POINTS:
        return {"times": t.tolist()}
    idx = np.unique(np.round(np.linspace(0, t.size - 1, SPEED_LIMIT_POINTS)).astype(int))
    return {"times": t[idx].tolist()}


def _case_rows(case: specs.Case, executor=None, progress=None):
    """The rows behind the views: (main row with the grid quantities and the model's, speed-limit row)."""
    spec = case.spec
    s0, s1 = spec["window"]["s0"], spec["window"]["s1"]
    grid = spec.get("grid") or dict(GRID_DEFAULTS)
    has_eq = spec["process"]["kind"] != "ve"
    qs = ["entropy_production_rate", "S_tot_cumulative"] + (["kl_to_equilibrium"] if has_eq else [])
    if spec.get("model") is not None:
        qs += ["S_tot", "decomposition"]
    main = specs.Case(_derived(spec, qs, grid), base_dir=case.base_dir)
    speed = specs.Case(_derived(spec, ["speed_limit_grid"], _speed_grid(grid, s0, s1)), base_dir=case.base_dir)
    rows = [specs.compute_row(c, executor=executor, progress=progress) for c in (main, speed)]
    return rows[0], rows[1]


def _band(ax, t, y, err, colour, label, **kw):
    y, err = np.asarray(y, dtype=float), np.asarray(err, dtype=float)
    line, = ax.plot(t, y, color=colour, label=label, **kw)
    if np.any(err > 0):
        ax.fill_between(t, y - err, y + err, color=colour, alpha=0.25, lw=0)
    return line


def _log_x(ax, t):
    if t[0] > 0 and t[-1] / t[0] > 50:
        ax.set_xscale("log")


def plot_case(case: specs.Case, out_dir, *, stem: str | None = None, style: str = "paper", executor=None,
              progress=None) -> list[Path]:
    """Draw the views of one case into ``out_dir`` (PNG, PDF, CSV, spec JSON); return the files."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)} (got {style!r})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or (case.id or "case").replace("/", "_")
    main, speed = _case_rows(case, executor, progress)
    unit = case.spec["unit"]
    t = np.asarray(main["grid_s"])
    data: list[list] = []

    def record(series, s, val, se, eb, u):
        for a, b, c, d in zip(np.atleast_1d(s), np.atleast_1d(val), np.atleast_1d(se), np.atleast_1d(eb)):
            data.append([series, float(a), float(b), float(c), float(d), u])

    has_kl = "kl_to_equilibrium" in main
    has_model = "S_NN" in main
    panels = ["rate", "cumulative"] + (["kl"] if has_kl else []) + ["speed_limit"] + (["model"] if has_model else [])
    legend_axes = []
    # the three grid views: (quantity, colour, legend label, line style, unit, y label, title)
    grid_views = {
        "rate": ("entropy_production_rate", PALETTE[0], r"$\dot S(s)$", {"marker": "o", "ms": 3}, f"{unit}/time",
                 rf"$\dot S(s)$ [{unit}s per unit time]", "entropy production rate"),
        "cumulative": ("S_tot_cumulative", PALETTE[1], r"$S_{tot}(s_0, s)$", {"ls": "--"}, unit,
                       rf"$S_{{tot}}(s_0, s)$ [{unit}s]", "cumulative entropy production"),
        "kl": ("kl_to_equilibrium", PALETTE[2], r"KL$(p_s\,\|\,p_{eq})$", {"ls": "-."}, unit,
               rf"KL$(p_s\,\|\,p_{{eq}})$ [{unit}s]", "KL to equilibrium"),
    }
    with plt.rc_context(STYLES[style]):
        figsize = (13.33, 7.5) if style == "talk" else (10.0, 7.0)
        ncols = 2 if len(panels) <= 4 else 3
        fig, axes = plt.subplots(2, ncols, figsize=figsize, squeeze=False)
        flat = axes.ravel()
        for ax in flat[len(panels):]:
            ax.set_visible(False)
        for ax, view in zip(flat, panels):
            if view in grid_views:
                q, color, label, style_kw, q_unit, ylabel, title = grid_views[view]
                err = np.asarray(main[f"{q}_stderr"]) + np.asarray(main[f"{q}_error_bound"])
                _band(ax, t, main[q], err, color, label, **style_kw)
                record(q, t, main[q], main[f"{q}_stderr"], main[f"{q}_error_bound"], q_unit)
                _log_x(ax, t)
                if view == "rate" and np.all(np.asarray(main[q]) > 0):
                    ax.set_yscale("log")
                ax.set(xlabel=r"forward time $s$", ylabel=ylabel, title=title)
            elif view == "speed_limit":
                ts = np.asarray(speed["speed_limit_grid_s"])
                st = np.asarray(speed["speed_limit_grid_S_tot"])
                b = np.asarray(speed["speed_limit_grid_bound"])
                b_se = np.asarray(speed["speed_limit_grid_bound_stderr"])
                b_bias = np.asarray(speed["speed_limit_grid_bound_bias_scale"])
                _band(ax, ts, st, np.asarray(speed["speed_limit_grid_S_tot_stderr"]), PALETTE[1],
                      r"$S_{tot}(s_0, s)$", marker="s", ms=4)
                # the plug-in bound only where it is resolved: stderr + bias scale below half its value (a
                # sampled W2^2 over a short window is noise over a tiny clock, biased upwards: it says nothing)
                ok = (b_se + b_bias) < 0.5 * np.abs(b)
                if np.any(ok):
                    _band(ax, ts[ok], b[ok], (b_se + b_bias)[ok], PALETTE[3], r"bound $W_2^2/\tau$", ls=":",
                          marker="^", ms=4)
                gel = np.array([np.nan if v is None else v for v in speed["speed_limit_grid_gelbrich_bound"]], float)
                if speed["speed_limit_grid_w2_method"] == "samples" and np.any(np.isfinite(gel)):
                    ax.plot(ts, gel, color=PALETTE[4], ls="--", marker="v", ms=4,
                            label=r"Gelbrich bound (moments)$/\tau$")
                    fin = np.isfinite(gel)
                    record("speed_limit_gelbrich_bound", ts[fin], gel[fin], np.zeros(fin.sum()), np.zeros(fin.sum()),
                           unit)
                record("speed_limit_S_tot", ts, st, speed["speed_limit_grid_S_tot_stderr"], np.zeros_like(ts), unit)
                record("speed_limit_bound", ts[ok], b[ok], b_se[ok], b_bias[ok], unit)
                _log_x(ax, ts)
                ax.set(xlabel=r"forward time $s$", ylabel=f"[{unit}s]", title=r"speed limit $S_{tot} \geq W_2^2/\tau$")
                legend_axes.append(ax)
            elif view == "model":
                names = ["S_tot", "S_NN", "L_EM"]
                vals = [main[n] for n in names]
                errs = [main[f"{n}_stderr"] + main[f"{n}_error_bound"] for n in names]
                x = np.arange(3)
                for k, (xv, v, e, mk) in enumerate(zip(x, vals, errs, ("o", "s", "D"))):
                    ax.errorbar([xv], [v], yerr=[e], fmt=mk, color=PALETTE[k], ms=8, capsize=4)
                    record(names[k], [case.spec["window"]["s1"]], [v], [main[f"{names[k]}_stderr"]],
                           [main[f"{names[k]}_error_bound"]], unit)
                ax.set_xticks(x, [r"$S_{tot}$", r"$S_{NN}$", r"$L_{EM}$"])
                ax.set_xlim(-0.6, 2.6)
                ax.axhline(0.0, color=PALETTE[6], lw=0.8)
                ax.set(ylabel=f"[{unit}s]", title=f"model {case.spec['model']['target']}")
        w = case.spec["window"]
        fig.suptitle(f"{case.label()}: window [{w['s0']:g}, {w['s1']:g}]; bands: stderr + error bound")
        fig.tight_layout()
        for ax in legend_axes:
            place_legend(ax, locs=("upper left", "lower right", "center right"), headroom=2)
        paths = save(fig, out_dir, stem)
    csv_path = write_rows_csv(out_dir / f"{stem}.csv", ["series", "s", "value", "stderr", "error_bound", "unit"], data)
    spec_path = out_dir / f"{stem}.spec.json"
    spec_path.write_text(json.dumps({"case": case.spec, "computed": [main["spec"], speed["spec"]]}, indent=1) + "\n")
    return paths + [csv_path, spec_path]


def plot(source, out=".", *, style: str = "paper", executor=None, progress=None, base_dir=None) -> list[Path]:
    """Draw the standard views of every case in ``source`` into the directory ``out``.

    Parameters
    ----------
    source : str, Path, dict, list or Case
        A spec file (JSON/TOML), a parsed spec document (one spec, a list, ``{"cases": [...]}``) or a Case.
    out : str or Path
        Output directory (created).
    style : {"paper", "talk"}
        ``"talk"``: 16:9, large fonts and thick lines, for slides.

    Returns
    -------
    list of Path
        PNG, PDF, CSV and spec JSON of each case (stem: the case id, else ``case<i>``).
    """
    if isinstance(source, specs.Case):
        cases_ = [source]
    else:
        cases_ = specs.load_cases(source, base_dir=base_dir)
    written: list[Path] = []
    for i, case in enumerate(cases_):
        stem = (case.id or f"case{i}").replace("/", "_")
        written += plot_case(case, out, stem=stem, style=style, executor=executor, progress=progress)
    return written
