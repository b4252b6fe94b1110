"""Theory figures rendered by ``nent-ref figures`` (PNG and PDF, with the plotted data as CSV).

Every figure function has the signature ``fig(out_dir: Path, options) -> list[Path]`` and is
registered in :data:`FIGURES`.  The data behind each figure is computed with
the library's public functions and written as CSV beside the picture, so a test can check
the plotted numbers against the tables.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from ..core.data import Dirac, Gaussian
from ..core.mixture import Empirical
from ..core.processes import VP
from ..quantities import sde
from ..quantities.entropy import entropy_production_rate, kl_to_equilibrium, rate_nodes, total_entropy
from ..quantities.reference_models import compare
from ..quantities.speed import speed_limit
from ..rg import (
    ISING2D_KC, ISING2D_SCHEMES, ising1d_kl_original_vs_lifted_coarse_per_site,
    ising1d_kl_original_vs_renormalised_per_site, ising2d_fixed_point, ising2d_kl_asymptotes,
    ising2d_kl_renormalised_vs_original_per_site, network_kl_layer0_vs_layer_l_pushforward_mc,
    network_kl_layer0_vs_layer_l_pushforward_meanfield, tanh_order_to_chaos_sigma_w2,
)
from . import cases
from .cases import NETWORK_INPUT_VARIANCE, NETWORK_SIGMA_B2, paper_mixture
from .executor import TableOptions, row_seed, suite_seed
from .figure_data import (CSV_SIGNIFICANT_DIGITS, FIGURE_DATA_ATOL, FIGURE_DATA_RTOL,  # noqa: F401 (public here too)
                          FIGURE_UNCERTAINTY_ATOL, compare_figure_csv, format_number, write_csv,
                          write_rows_csv)
from .figure_layout import place_legend

__all__ = ["FIGURES", "render_figures", "CSV_SIGNIFICANT_DIGITS", "format_number", "write_csv", "write_rows_csv", "save",
           "FIGURE_DATA_RTOL", "FIGURE_DATA_ATOL", "FIGURE_UNCERTAINTY_ATOL", "compare_figure_csv",
           "STYLE", "TALK_STYLE", "STYLES", "PALETTE", "SAVE_HOOKS", "NOTE_PT"]

#: Colour-blind-safe palette of every figure (Okabe & Ito, "Color universal design", 2008).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")

#: One style for all figures: mathtext labels, the palette above, no top/right spines, and type large
#: enough for a slide: no text below :data:`nent_ref.suites.figure_layout.MIN_TEXT_PT` (10 pt) at the saved
#: size (figures are at most 12 inches wide).
STYLE = {
    "font.size": 12, "axes.titlesize": 12.5, "axes.labelsize": 12, "legend.fontsize": 10.5,
    "xtick.labelsize": 11, "ytick.labelsize": 11, "axes.spines.top": False, "axes.spines.right": False,
    "legend.frameon": False, "lines.linewidth": 2.0, "lines.markersize": 6, "mathtext.fontset": "dejavusans",
    "savefig.dpi": 150, "figure.titlesize": 12.5,
}
#: Slide style (``nent-ref plot --style talk``): 16:9 figures, large type, thick lines.
TALK_STYLE = dict(STYLE, **{
    "font.size": 18, "axes.titlesize": 19, "axes.labelsize": 18, "legend.fontsize": 15, "xtick.labelsize": 16,
    "ytick.labelsize": 16, "lines.linewidth": 3.2, "lines.markersize": 9, "figure.titlesize": 19,
    "axes.linewidth": 1.4})
#: The styles by name.
STYLES = {"paper": STYLE, "talk": TALK_STYLE}
#: Font size of notes under a figure (points).
NOTE_PT = 10.5

#: Process labels (every parameter spelled out) and colours, shared by the figures.
_LABELS = {"vp16": r"VP ($\beta$: 0.1$\to$16, $\kappa$ = 1)", "vp20": r"VP ($\beta$: 0.1$\to$20, $\kappa$ = 1)",
           "vpx": r"VPx ($\beta$: 0.1$\to$16, $\kappa$ = 0.1)", "sl": r"SL ($\Sigma_0$ = 0.1)"}
_COLOURS = {"vp16": PALETTE[0], "vp20": PALETTE[5], "vpx": PALETTE[1], "sl": PALETTE[2]}
_SHORT = {"vp16": "VP", "vp20": "VP (0.1 to 20)", "vpx": "VPx", "sl": "SL"}
#: Line styles of the processes (colour is never the only cue).
_DASHES = {"vp16": "-", "vp20": ":", "vpx": "--", "sl": "-."}
#: The processes of the paper's transport setting, in plotting order.
PAPER_PROCESSES = ("vp16", "vpx", "sl")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _figure(fn):
    """Decorator of a figure function ``fn(out_dir, options)``: the output directory as a Path (created),
    and the figure drawn inside ``STYLE``."""
    @functools.wraps(fn)
    def wrapper(out_dir, options=None):
        plt = _pyplot()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with plt.rc_context(STYLE):
            return fn(out_dir, options)
    return wrapper


#: Functions ``hook(fig, stem)`` called by :func:`save` before a figure is written (the tests check the
#: layout of every rendered figure this way).
SAVE_HOOKS: list = []
#: Resolution of the PNGs (dots per inch); the tests render at a lower one.
PNG_DPI = [150]


def save(fig, out_dir: Path, stem: str) -> list[Path]:
    """Save a matplotlib figure as PNG and PDF; return the paths."""
    plt = _pyplot()
    for hook in SAVE_HOOKS:
        hook(fig, stem)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=PNG_DPI[0], bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None})
    plt.close(fig)
    return paths


@_figure
def gaussian_rate_figure(out_dir: Path, options=None) -> list[Path]:
    """Sdot(s) and S_tot(s0, s) of the canonical 3-D Gaussian (s0 = 0) and the canonical 3-D Dirac atom
    (s0 = 1e-5) under VP, VPx and SL (closed forms, docs/theory.md section 4)."""
    plt = _pyplot()
    s = np.concatenate([np.geomspace(cases.EPS, 1e-2, 60, endpoint=False), np.linspace(1e-2, 0.999, 200)])
    columns = {"s": s}
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
    for kind, data, s0 in (("gaussian", cases.gaussian_case(3), 0.0), ("dirac", cases.dirac_case(3), cases.EPS)):
        for name in PAPER_PROCESSES:
            proc = cases.processes()[name]
            rate = entropy_production_rate(data, proc, s).value
            stot = total_entropy(data, proc, s0, s).value
            columns[f"rate_{kind}_{name}"] = rate
            columns[f"S_tot_{kind}_{name}"] = stot
            style = dict(color=_COLOURS[name], ls="-" if kind == "gaussian" else "--",
                         label=f"{'Gaussian' if kind == 'gaussian' else 'Dirac'}, {_LABELS[name]}")
            axes[0].loglog(s, rate, **style)
            axes[1].semilogx(s, stot, **style)
    axes[0].set(xlabel=r"forward time $s$", ylabel=r"$\dot S(s)$ [nats per unit time]",
                title="entropy production rate")
    axes[1].set(xlabel=r"forward time $s$", ylabel=r"$S_{tot}(s_0, s)$ [nats]",
                title="total entropy produced by time $s$")
    fig.suptitle("Canonical 3-D Gaussian and 3-D Dirac atom (cases.gaussian_case(3), dirac_case(3)): closed forms")
    handles, labels = _process_and_style_handles(PAPER_PROCESSES, (("Gaussian, $s_0 = 0$", "-"),
                                                                   (r"Dirac atom, $s_0 = 10^{-5}$", "--")))
    _legend_below(fig, handles, labels, ncol=3, bottom=0.17)
    stem = "gaussian_rate"
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", columns)]


def _max_ticks(n):
    from matplotlib.ticker import MaxNLocator
    return MaxNLocator(n)


def _legend_below(fig, handles, labels, ncol, bottom=0.2):
    """A figure legend under the panels (the panels are laid out above ``bottom``, in figure fractions)."""
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=ncol)


def _process_and_style_handles(names, styles):
    """Legend proxies: one coloured line per process, one black line per line style (``(label, ls)``)."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=_COLOURS[n], lw=2.4) for n in names]
    labels = [_LABELS[n] for n in names]
    handles += [Line2D([], [], color=PALETTE[6], ls=ls, lw=2.0) for _, ls in styles]
    labels += [lab for lab, _ in styles]
    return handles, labels


def _transport_grid(s1=0.999):
    """Rate nodes: log-spaced near s = 0, linear in between, log-spaced towards T (where SL's rate falls)."""
    head = rate_nodes(0.0, s1, 48)
    tail = 1.0 - np.geomspace(1.0 - s1, 0.08, 16)
    return np.unique(np.concatenate([head, tail[tail <= s1]]))


@functools.lru_cache(maxsize=None)
def _paper_mixture_rate(process_name: str) -> np.ndarray:
    """Sdot(s) of the paper's 2-D mixture (:data:`PAPER_MIXTURE`) under a paper process at the nodes of
    :func:`_transport_grid`, by cubature: drawn by both the transport and the official-mixtures figure, so
    computed once per process (deterministic; read-only)."""
    rate = entropy_production_rate(cases.official_mixture(PAPER_MIXTURE), cases.processes()[process_name],
                                   _transport_grid(), method="quadrature").value
    rate = np.array(rate, dtype=float)
    rate.setflags(write=False)
    return rate


@_figure
def transport_figure(out_dir: Path, options=None) -> list[Path]:
    """Sdot(s) and S_tot(0, s) for VP, VPx and SL on the paper's 2-D mixture (the official code's
    notebook mixture, preset ``official-notebook-D2``).

    Both by adaptive cubature (``method="quadrature"``, relative accuracy 1e-8): the rate directly, and
    S_tot(0, s) as KL(p_0 || p_eq) - KL(p_s || p_eq) (identity 2.3).  The right panel shows the fraction
    S_tot(0, s) / S_tot(0, T) so that the three processes, whose totals differ by two orders of magnitude,
    share one axis; the totals are in the legend and the CSV holds the absolute values.
    """
    plt = _pyplot()
    data = cases.official_mixture(PAPER_MIXTURE)
    s = _transport_grid()
    columns = {"s": s}
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    for name in PAPER_PROCESSES:
        proc = cases.processes()[name]
        rate = _paper_mixture_rate(name)
        kl = kl_to_equilibrium(data, proc, np.concatenate([[0.0], s]), method="quadrature")
        stot = kl.value[0] - kl.value[1:]
        columns[f"rate_{name}"] = rate
        columns[f"S_tot_{name}"] = stot
        axes[0].semilogy(s, rate, color=_COLOURS[name], ls=_DASHES[name], label=_LABELS[name])
        axes[1].plot(s, stot / stot[-1], color=_COLOURS[name], ls=_DASHES[name],
                     label=rf"{_SHORT[name]}: {stot[-1]:.4g} nats")
    axes[0].set(xlabel=r"forward time $s$", ylabel=r"$\dot S(s)$ [nats per unit time]",
                title="entropy production rate")
    axes[1].set(xlabel=r"forward time $s$", ylabel=r"$S_{tot}(0, s)\,/\,S_{tot}(0, 0.999)$",
                title="fraction of the total produced by time $s$", ylim=(0, 1.02))
    fig.suptitle(f"The paper's 2-D mixture ({PAPER_MIXTURE}, 5 components), cubature")
    fig.tight_layout()
    place_legend(axes[0])
    place_legend(axes[1], title=r"$S_{tot}(0, 0.999)$", title_fontsize=10.5)
    stem = "transport_rates"
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", columns)]


#: The paper's own 2-D mixture (the official code's notebook mixture), used where a figure claims the
#: paper's setting.
PAPER_MIXTURE = "official-notebook-D2"

#: Equilibrium widths of the kappa figure.
KAPPAS = np.geomspace(0.1, 10.0, 13)  # contains 0.1 (VPx) and 1 (VP) at indices 0 and 6


@_figure
def kappa_figure(out_dir: Path, options=None) -> list[Path]:
    """S_tot(0, T) versus the equilibrium width kappa (VP, beta 0.1 -> 16) for the canonical 3-D
    Gaussian (closed form) and the paper's 2-D mixture ``official-notebook-D2`` (cubature)."""
    plt = _pyplot()
    gauss, mix = cases.gaussian_case(3), cases.official_mixture(PAPER_MIXTURE)
    g_vals, m_vals, m_err = [], [], []
    for kappa in KAPPAS:
        proc = VP(0.1, 16.0, kappa=float(kappa))
        g_vals.append(total_entropy(gauss, proc).value)
        est = total_entropy(mix, proc, method="quadrature")
        m_vals.append(est.value)
        m_err.append(est.error_bound)
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    ax.loglog(KAPPAS, g_vals, "o-", color=PALETTE[0], label="canonical Gaussian, D = 3 (closed form)")
    ax.loglog(KAPPAS, m_vals, "s--", color=PALETTE[1], label=f"paper's mixture {PAPER_MIXTURE} (cubature)")
    ax.set(xlabel=r"equilibrium width $\kappa$ [data units]", ylabel=r"$S_{tot}(0, T)$ [nats]",
           title=r"VP ($\beta$: 0.1$\to$16, $T$ = 1): total entropy versus $\kappa$")
    fig.tight_layout()
    place_legend(ax)
    stem = "stot_vs_kappa"
    cols = {"kappa": KAPPAS, "S_tot_gaussian3": g_vals, "S_tot_mixture2": m_vals, "S_tot_mixture2_error_bound": m_err}
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


#: Training-set sizes of the memoriser figure.
MEMORISER_SIZES = (1, 4, 16, 64, 256, 1024)


@_figure
def memoriser_figure(out_dir: Path, options=None) -> list[Path]:
    """The memoriser's S_tot(eps, T) versus N (VP, beta 0.1 -> 16, D = 2, eps = 1e-5): a network that stores
    N training points supplies this many nats; with the population S_tot(eps, T) and the bracket
    mean Dirac KL - log N <= KL(p_eps^emp || p_eq) <= mean Dirac KL.  Monte Carlo with standard errors
    (seeded by ``options.seed``)."""
    plt = _pyplot()
    seed = getattr(options, "seed", 0)
    proc = cases.processes()["vp16"]
    pop = cases.official_mixture(PAPER_MIXTURE)
    pop_est = total_entropy(pop, proc, cases.EPS, proc.T, method="quadrature")
    cols = {k: [] for k in ("N", "S_tot", "S_tot_stderr", "kl_eps", "kl_eps_stderr", "mean_dirac_kl",
                            "lower_bound", "S_tot_population")}
    for n in MEMORISER_SIZES:
        atoms = pop.sample(n, seed=[seed, 3, n])
        emp = Empirical(atoms)
        est = total_entropy(emp, proc, cases.EPS, proc.T, method="monte-carlo", seed=[seed, 3, n, 1],
                            n_samples=2 ** 14)
        dirac = float(np.mean([kl_to_equilibrium(Dirac(a), proc, cases.EPS).value for a in atoms]))
        kl0 = est.extra["kl_s0"]
        for key, val in (("N", n), ("S_tot", est.value), ("S_tot_stderr", est.stderr), ("kl_eps", kl0.value),
                         ("kl_eps_stderr", kl0.stderr), ("mean_dirac_kl", dirac),
                         ("lower_bound", dirac - np.log(n)), ("S_tot_population", pop_est.value)):
            cols[key].append(val)
    N = np.asarray(cols["N"], dtype=float)
    fig, ax = plt.subplots(figsize=(8.5, 5.6))
    ax.fill_between(N, cols["lower_bound"], cols["mean_dirac_kl"], color=PALETTE[5], alpha=0.25, lw=0,
                    label=r"bracket of the KL: $\overline{\mathrm{KL}}_{\delta} - \log N$ to $\overline{\mathrm{KL}}_{\delta}$")
    ax.errorbar(N, cols["S_tot"], yerr=cols["S_tot_stderr"], fmt="o-", color=PALETTE[0], zorder=3,
                label=r"memoriser $S_{tot}(\epsilon, T)$")
    ax.errorbar(N * 1.15, cols["kl_eps"], yerr=cols["kl_eps_stderr"], fmt="s", mfc="none", color=PALETTE[3],
                zorder=3, label=r"$\mathrm{KL}(p^{emp}_\epsilon\,\|\,p_{eq})$ (plotted at 1.15 N)")
    ax.axhline(pop_est.value, color=PALETTE[6], ls="--", label=r"population $S_{tot}(\epsilon, T)$ of the mixture")
    ax.set(xscale="log", xlabel=r"training-set size $N$", ylabel=r"entropy [nats]",
           title="Memorisation baseline: VP ($\\beta$: 0.1$\\to$16), " + PAPER_MIXTURE + r", $\epsilon = 10^{-5}$")
    fig.text(0.01, 0.0, r"$\overline{\mathrm{KL}}_{\delta}$: mean over the N atoms $a$ of "
             r"$\mathrm{KL}(\delta_a$ diffused to $\epsilon\,\|\,p_{eq})$, closed form; Monte Carlo $\pm$1 s.e."
             "\n" f"Atoms drawn from {PAPER_MIXTURE}, the paper's 2-D mixture.", fontsize=NOTE_PT, va="bottom")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    place_legend(ax, outside="below")
    stem = "memoriser"
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


_DIM_MARKERS = {1: "o", 2: "^", 3: "v", 6: "D", 9: "P"}


@_figure
def efficiency_figure(out_dir: Path, options=None) -> list[Path]:
    """Thermodynamic efficiency eta = W2^2 / (tau S_tot), tau = int D ds the clock, per process: canonical
    Gaussians D = 1, 2, 3, 6, 9 (closed form) and nent_ref's 1-D mixture ``paper_mixture(1)`` (drawn like the
    paper's mixtures; the paper has no 1-D mixture) (quantile quadrature);
    window [0, T] for VP and VPx, [0, 0.999] for SL (whose clock diverges at s = 1)."""
    plt = _pyplot()
    cols = {"process_index": [], "dim": [], "is_mixture": [], "efficiency": [], "efficiency_stderr": []}
    fig, ax = plt.subplots(figsize=(9, 5.6))
    for i, name in enumerate(PAPER_PROCESSES):
        proc = cases.processes()[name]
        s1 = proc.T - 1e-3 if proc.singular_at_T else proc.T
        for dim in cases.DIMS:
            res = speed_limit(cases.gaussian_case(dim), proc, 0.0, s1)
            for k, v in (("process_index", i), ("dim", dim), ("is_mixture", 0), ("efficiency", res.efficiency.value),
                         ("efficiency_stderr", res.efficiency.stderr)):
                cols[k].append(v)
        res = speed_limit(paper_mixture(1), proc, 0.0, s1)
        for k, v in (("process_index", i), ("dim", 1), ("is_mixture", 1), ("efficiency", res.efficiency.value),
                     ("efficiency_stderr", res.efficiency.stderr)):
            cols[k].append(v)
    proc_i, dims = np.asarray(cols["process_index"]), np.asarray(cols["dim"])
    mix, eff = np.asarray(cols["is_mixture"]) == 1, np.asarray(cols["efficiency"])
    for j, dim in enumerate(cases.DIMS):
        sel = (~mix) & (dims == dim)
        ax.plot(proc_i[sel] - 0.2 + 0.08 * j, eff[sel], _DIM_MARKERS[dim], color=PALETTE[0],
                label=f"canonical Gaussian, D = {dim}")
    ax.plot(proc_i[mix] + 0.3, eff[mix], "s", color=PALETTE[1], ms=8,
            label="nent_ref mixture-1d (5 components), D = 1")
    ax.set_xticks(range(len(PAPER_PROCESSES)), [_LABELS[n] for n in PAPER_PROCESSES])
    ax.set(ylabel=r"efficiency $\eta = W_2^2(p_{s_0}, p_{s_1}) / (\tau\, S_{tot})$", ylim=(0, 1.05),
           xlim=(-0.6, len(PAPER_PROCESSES) - 0.4),
           title=r"Speed limit $S_{tot} \geq W_2^2/\tau$, clock $\tau = \int_{s_0}^{s_1} D(s)\,ds$")
    fig.text(0.01, 0.0, r"Window $[0, 1]$ for VP and VPx, $[0, 0.999]$ for SL ($\tau$ diverges at 1); "
             r"$\eta = 1$ only on the $W_2$ geodesic at constant" "\n" r"speed in $\tau$ (dotted line).  "
             "Gaussians: closed forms (Bures); mixture: quantile quadrature. The paper has no 1-D mixture:\n"
             "the mixture is nent_ref's mixture-1d (cases.paper_mixture(1)), drawn the way the paper draws its "
             "mixtures.", fontsize=NOTE_PT, va="bottom")
    ax.axhline(1.0, color=PALETTE[6], lw=0.8, ls=":")
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    place_legend(ax, ncol=2, outside="below")
    stem = "speed_limit_efficiency"
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


@_figure
def fluctuation_figure(out_dir: Path, options=None) -> list[Path]:
    """Histogram of the total entropy production Delta s_tot along 20 000 forward paths (canonical 1-D
    Gaussian, VP beta 0.1 -> 16, 400 steps of the exact transition), with E[Delta s_tot] against the
    closed-form S_tot and the integral fluctuation theorem E[exp(-Delta s_tot)] = 1."""
    plt = _pyplot()
    seed = getattr(options, "seed", 0)
    data, proc = cases.gaussian_case(1), cases.processes()["vp16"]
    grid = np.linspace(0.0, 1.0, 401)
    pe = sde.path_entropy(data, proc, 20_000, grid, seed=seed)
    s_tot = total_entropy(data, proc, 0.0, 1.0).value
    fig, ax = plt.subplots(figsize=(9, 5.6))
    counts, edges, _ = ax.hist(pe.ds_tot, bins=80, density=True, color=PALETTE[5], alpha=0.55,
                               label="histogram, 20 000 paths")
    m, se = pe.mean.value, pe.mean.stderr
    ax.axvspan(m - se, m + se, color=PALETTE[1], alpha=0.35, lw=0,
               label=rf"mean = {m:.4f} $\pm$ {se:.4f} (1 s.e.)")
    ax.axvline(m, color=PALETTE[1], lw=1.2)
    ax.axvline(s_tot, color=PALETTE[6], ls=(0, (4, 2)), lw=1.4, zorder=4,
               label=rf"closed form $S_{{tot}}(0, 1)$ = {s_tot:.4f}")
    mean_g, var_g = float(data.mean[0]), float(data.cov[0, 0])
    ax.set(xlabel=r"$\Delta s_{tot}$ per path [nats]", ylabel="probability density [1/nats]",
           title=rf"Fluctuation theorem: $E[e^{{-\Delta s_{{tot}}}}]$ = {pe.ift.value:.4f} $\pm$ {pe.ift.stderr:.4f} (theory: 1)")
    fig.text(0.01, 0.0, rf"Data N({mean_g:.3f}, {var_g:.3f}) (canonical 1-D Gaussian), VP ($\beta$: 0.1$\to$16), "
             "20 000 forward paths, 400 exact steps on [0, 1].", fontsize=NOTE_PT, va="bottom")
    # zoom: the Monte Carlo mean with its standard error against the closed form
    inset = ax.inset_axes([0.73, 0.47, 0.25, 0.38])
    inset.axvspan(m - se, m + se, color=PALETTE[1], alpha=0.35, lw=0)
    inset.axvline(m, color=PALETTE[1], lw=1.2)
    inset.axvline(s_tot, color=PALETTE[6], ls=(0, (4, 2)), lw=1.4)
    inset.set_xlim(s_tot - 6 * se, s_tot + 6 * se)
    inset.set_yticks([])
    inset.tick_params(labelsize=10)
    inset.xaxis.set_major_locator(_max_ticks(3))
    inset.set_title(r"zoom: mean $\pm$ 1 s.e." "\n" "vs closed form", fontsize=10.5)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    place_legend(ax, locs=("upper left",), headroom=2)
    stem = "fluctuation_theorem"
    cols = {"bin_left": edges[:-1], "bin_right": edges[1:], "density": counts,
            "mean_ds_tot": np.full(counts.size, pe.mean.value), "mean_ds_tot_stderr": np.full(counts.size, pe.mean.stderr),
            "ift": np.full(counts.size, pe.ift.value), "ift_stderr": np.full(counts.size, pe.ift.stderr),
            "S_tot_closed_form": np.full(counts.size, s_tot)}
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


_MODEL_LABELS = {"exact": r"exact $e^*$", "perturbed": r"$e^* + 0.2\,x$", "best-linear": "best affine (Gaussian fit)",
                 "memoriser": "memoriser"}


@_figure
def neural_figure(out_dir: Path, options=None) -> list[Path]:
    """S_NN, S_tot and L_EM (likelihood weighting, with standard errors) of the reference models on the
    paper's 2-D mixture ``official-notebook-D2`` under VP (beta 0.1 -> 16), on [1e-5, T]: the exact e*, e* + 0.2 x, the best
    affine model and memorisers of N = 16 and 256 points.  Left: S_NN against the ground truth S_tot;
    right: L_EM, the distance from the optimum (0 for e*)."""
    plt = _pyplot()
    seed = getattr(options, "seed", 0)
    rows = compare(cases.official_mixture(PAPER_MIXTURE), cases.processes()["vp16"], s0=cases.EPS,
                   memoriser_sizes=(16, 256),
                   seed=seed, n_samples=2 ** 13, n_times=32)
    labels = [_MODEL_LABELS.get(r["model"], r["model"]) + (f", N = {r['N']}" if r["N"] else "") for r in rows]
    y = np.arange(len(rows))[::-1]
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharey=True)
    st = rows[0]["S_tot"]
    axes[0].axvline(st, color=PALETTE[6], ls="--", lw=1.2, label=rf"ground truth $S_{{tot}}$ = {st:.4f} nats")
    axes[0].errorbar([r["S_NN"] for r in rows], y, xerr=[r["S_NN_stderr"] for r in rows], fmt="o",
                     color=PALETTE[0], label=r"neural entropy $S_{NN}$ ($\pm$1 s.e.)")
    axes[1].errorbar([r["L_EM"] for r in rows], y, xerr=[r["L_EM_stderr"] for r in rows], fmt="s",
                     color=PALETTE[3], label=r"entropy-matching loss $L_{EM}$ ($\pm$1 s.e.)")
    axes[1].axvline(0.0, color=PALETTE[6], lw=0.8)
    for ax in axes:
        ax.set_xscale("symlog", linthresh=1.0)            # linear on [-1, 1] (shows L_EM = 0), log beyond
        ax.set_xlim(-0.3, 1e6)
    axes[0].set_yticks(y, labels)
    axes[0].set(xlabel=r"$S_{NN}$ [nats] (linear below 1, logarithmic above)", title=r"information the model supplies")
    axes[1].set(xlabel=r"$L_{EM}$ [nats] (linear below 1, logarithmic above)",
                title=r"distance from the optimum ($L_{EM}$ = 0 for $e^*$)")
    fig.suptitle(f"Reference models on the paper's 2-D mixture {PAPER_MIXTURE}, " + r"VP ($\beta$: 0.1$\to$16), "
                 r"window $[10^{-5}, 1]$")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    for ax in axes:
        place_legend(ax, locs=("upper right", "center right", "lower right", "lower center"), outside="below")
    stem = "neural_vs_total"
    x = np.arange(len(rows))
    cols = {"model_index": x, "N": [r["N"] or 0 for r in rows]}
    for key in ("S_tot", "S_NN", "L_EM", "C"):
        cols[key] = [r[key] for r in rows]
        cols[f"{key}_stderr"] = [r[f"{key}_stderr"] for r in rows]
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


@_figure
def official_figure(out_dir: Path, options=None) -> list[Path]:
    """The paper's own mixtures (the official code's presets, drawn under its pinned jax 0.4.25) under VP,
    VPx and SL.

    Left: the entropy production rate of the notebook's 2-D mixture (``official-notebook-D2``) by cubature.
    Right: S_tot(1e-5, 1) of each official mixture (cubature in D = 2, Monte Carlo with its standard error
    in D = 9, printed by each point) minus S_NN of the best affine model, which equals S_tot of the Gaussian
    with the mixture's mean and covariance (closed form: an affine model's S_NN depends on p_s through its
    first two moments only).  The gap S_tot - S_NN = L_EM of that model is the information no Gaussian
    model can supply; it is KL(p_s0 || g_s0) - KL(p_s1 || g_s1) with g the moment-matched Gaussian, nearly
    the same under every process (KL to a Gaussian of the same moments is the data's negentropy).
    """
    plt = _pyplot()
    seed = getattr(options, "seed", 0)
    s = _transport_grid()
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), gridspec_kw={"width_ratios": [1, 1.15]})
    columns = {"s": s}
    # the rate on the left: the paper's 2-D mixture (PAPER_MIXTURE, official-notebook-D2), as in the transport figure
    for name in PAPER_PROCESSES:
        rate = _paper_mixture_rate(name)
        columns[f"rate_{name}"] = rate
        axes[0].semilogy(s, rate, color=_COLOURS[name], ls=_DASHES[name], label=_LABELS[name])
    axes[0].set(xlabel=r"forward time $s$", ylabel=r"$\dot S(s)$ [nats per unit time]",
                title=r"rate, official-notebook-D2 (cubature)")
    rows = {k: [] for k in ("preset_index", "process_index", "dim", "S_tot", "S_tot_stderr", "S_tot_error_bound",
                            "S_NN_best_affine")}
    labels, totals = [], {}
    for i, preset in enumerate(cases.OFFICIAL_PRESETS):
        mix = cases.official_mixture(preset)
        mean, cov = mix.mean(), _mixture_covariance(mix)
        labels.append(preset.replace("official-", ""))
        for j, name in enumerate(PAPER_PROCESSES):
            proc = cases.processes()[name]
            opts = {"method": "quadrature"} if mix.dim <= 2 else {"seed": [seed, 17, i, j]}
            st = total_entropy(mix, proc, cases.EPS, proc.T, **opts)
            snn = total_entropy(Gaussian(mean, cov), proc, cases.EPS, proc.T)
            for key, val in (("preset_index", i), ("process_index", j), ("dim", mix.dim), ("S_tot", st.value),
                             ("S_tot_stderr", st.stderr), ("S_tot_error_bound", st.error_bound),
                             ("S_NN_best_affine", snn.value)):
                rows[key].append(val)
            x = i + 0.22 * (j - 1)
            gap = st.value - snn.value
            axes[1].errorbar(x, gap, yerr=st.stderr + st.error_bound or None, fmt="o", color=_COLOURS[name], ms=6,
                             label=_LABELS[name] if i == 0 else None)
            totals.setdefault(i, []).append(f"{st.value:.4g}")
    axes[1].set_xticks(range(len(labels)), [f"{lab}\n{' / '.join(totals[i])}" for i, lab in enumerate(labels)])
    axes[1].set_xlabel(r"preset; below it $S_{tot}$ [nats] under VP / VPx / SL")
    axes[1].set_xlim(-0.5, len(labels) - 0.5)
    gaps = np.asarray(rows["S_tot"]) - np.asarray(rows["S_NN_best_affine"])
    axes[1].set_ylim(0, 1.45 * float(np.max(gaps)))
    axes[1].set(ylabel=r"$S_{tot} - S_{NN}^{\mathrm{affine}}$ on $[10^{-5}, 1]$ [nats]",
                title=r"information no Gaussian model supplies: $L_{EM}$ of the best affine model")
    fig.suptitle("The paper's mixtures (official code, PRNGKey(32), jax 0.4.25; cases.OFFICIAL_PRESETS) under "
                 "the paper's processes")
    fig.tight_layout()
    place_legend(axes[0])
    place_legend(axes[1])
    stem = "official_mixtures"
    paths = save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}_rates.csv", columns)]
    return paths + [write_csv(out_dir / f"{stem}.csv", rows)]


def _mixture_covariance(mix) -> np.ndarray:
    """Covariance of a Gaussian mixture: sum_k w_k (S_k + m_k m_k^T) - m m^T."""
    w, means, covs = mix.weights, mix.means, mix.full_covs()
    mean = w @ means
    d = means - mean
    return np.einsum("k,kij->ij", w, covs) + (d.T * w) @ d



# --------------------------------------------------------------------------- RG figures
_SCHEME_LABELS = {"one_coupling": "one-coupling truncation", "migdal_kadanoff": "Migdal-Kadanoff"}


def _style_handles(*styles):
    """Black legend proxies of line/marker styles: ``(label, fmt)`` with fmt like ``"o-"``, ``"s--"``."""
    from matplotlib.lines import Line2D
    handles = []
    for _, fmt in styles:
        marker = fmt[0] if fmt[0] in "os^vDP" else None
        ls = fmt[1:] if marker else fmt
        handles.append(Line2D([], [], color=PALETTE[6], marker=marker, ls=ls or "none", mfc="none" if "--" in fmt
                              else PALETTE[6]))
    return handles, [lab for lab, _ in styles]


def _move_clear(ax):
    """Put the axes' current (style) legend at the first corner where it covers no data and no other legend."""
    from .figure_layout import data_points
    leg = ax.get_legend()
    handles, labels = leg.legend_handles, [t.get_text() for t in leg.get_texts()]
    others = [a for a in ax.artists if a is not leg and hasattr(a, "get_window_extent")]
    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    pts = data_points(ax)
    for loc in ("lower right", "center right", "upper right", "lower left", "center left", "upper left",
                "upper center", "lower center"):
        leg.remove()
        leg = ax.legend(handles, labels, loc=loc)
        box = leg.get_window_extent(r)
        inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)).any() \
            if len(pts) else False
        if not inside and not any(box.overlaps(o.get_window_extent(r)) for o in others):
            return leg
    return leg


@_figure
def rg_figure(out_dir, options) -> list[Path]:
    """Relative entropy versus coarse-graining step: 1-D Ising (exact b = 2 decimation), 2-D Ising
    (one-coupling truncation and Migdal-Kadanoff) and random tanh networks at several sigma_w^2 across
    the order-to-chaos line (mean field, with Monte Carlo on width-500 networks); plus the 2-D asymptote
    versus K_0 across K_c with the fixed points K* of both schemes marked.  Writes PNG, PDF and CSV.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    base_seed = suite_seed(options.seed)
    plt = _pyplot()
    data: list[list] = []
    fig, grid = plt.subplots(2, 2, figsize=(12, 9.5))
    axes = [grid[0, 0], grid[0, 1], grid[1, 0]]
    grid[1, 1].set_axis_off()                         # room for the network panel's legend

    ax = axes[0]
    steps = np.arange(9)
    for k, K0 in enumerate((0.5, 1.0, 2.0)):
        y = [ising1d_kl_original_vs_renormalised_per_site(K0, 0.0, int(n)) for n in steps]
        yl = [ising1d_kl_original_vs_lifted_coarse_per_site(K0, 0.0, int(n)) for n in steps]
        ax.plot(steps, y, "o-", color=PALETTE[k], label=rf"$K_0$ = {K0}")
        ax.plot(steps, yl, "s--", color=PALETTE[k], mfc="none")
        data += [["ising1d", f"original_vs_renormalised K0={K0}", int(n), v, 0.0] for n, v in zip(steps, y)]
        data += [["ising1d", f"original_vs_lifted_coarse K0={K0}", int(n), v, 0.0] for n, v in zip(steps, yl)]
    ax.set_xlabel(r"decimation step $n$ ($b = 2$)")
    ax.set_ylabel("relative entropy per site [nats]")
    ax.set_title(r"1-D Ising chain, $h = 0$, $N \to \infty$ (exact)")
    rg_legends = [(ax, _style_handles((r"$D(p_{K_0}\,\|\,p_{K_n})$", "o-"),
                                      (r"$D(p_{K_0}\,\|\,q_n)$, coarse law lifted", "s--")))]

    ax = axes[1]
    steps2 = np.arange(15)
    for scheme, style in (("one_coupling", "-"), ("migdal_kadanoff", "--")):
        for k, K0 in enumerate((0.25, 0.35, ISING2D_KC, 0.47)):
            y = [ising2d_kl_renormalised_vs_original_per_site(K0, int(n), scheme) for n in steps2]
            k0 = r"$K_c$" if K0 == ISING2D_KC else f"{K0:g}"
            ax.plot(steps2, y, ("o" if style == "-" else "^") + style, ms=4, color=PALETTE[k],
                    label=rf"$K_0$ = {k0}" if scheme == "one_coupling" else None)
            data += [["ising2d", f"renormalised_vs_original {scheme} K0={K0!r}", int(n), v, 0.0]
                     for n, v in zip(steps2, y)]
    ax.set_xlabel(r"RG step $n$")
    ax.set_ylabel(r"$D(p_{K_n}\,\|\,p_{K_0})$ per site [nats]")
    ax.set_title(rf"2-D Ising, square lattice; $K_c$ = {ISING2D_KC:.4f}")
    rg_legends.append((ax, _style_handles((_SCHEME_LABELS["one_coupling"], "o-"),
                                          (_SCHEME_LABELS["migdal_kadanoff"], "^--"))))

    ax = axes[2]
    sw_c = tanh_order_to_chaos_sigma_w2(NETWORK_SIGMA_B2)
    layers = np.arange(21)
    for k, sw in enumerate((1.2, 1.5, sw_c, 2.0, 3.0)):
        y = network_kl_layer0_vs_layer_l_pushforward_meanfield(20, sw, NETWORK_SIGMA_B2, NETWORK_INPUT_VARIANCE)
        name = r"$\sigma_w^2$ = " + (rf"{sw:.3f} (order to chaos)" if sw == sw_c else f"{sw:g}")
        ax.plot(layers, y, "-", color=PALETTE[k], label=name)
        mc = network_kl_layer0_vs_layer_l_pushforward_mc(20, sw, NETWORK_SIGMA_B2, NETWORK_INPUT_VARIANCE,
                                                         width=500, n_samples=64, n_networks=4,
                                                         seed=row_seed(base_seed, 11, k))
        ax.errorbar(layers, mc.value, yerr=mc.stderr, fmt="o", ms=3, color=PALETTE[k])
        # the order-to-chaos sigma_w2 is a root found numerically: its label carries 8 digits, not its last bits
        data += [["network", f"meanfield sigma_w2={format_number(sw)}", int(l_), v, 0.0] for l_, v in zip(layers, y)]
        data += [["network", f"mc width=500 sigma_w2={format_number(sw)}", int(l_), v, e]
                 for l_, v, e in zip(layers, mc.value, mc.stderr)]
    ax.set_xlabel(r"layer $l$")
    ax.set_ylabel(r"$\frac{1}{n} E[\log p^{fit}_0(z_0) - \log p^{fit}_l(z_l)]$ [nats/neuron]")
    ax.set_title(rf"random tanh network, $\sigma_b^2$ = {NETWORK_SIGMA_B2}")
    fig.tight_layout()
    for ax_, (handles, labels) in rg_legends:
        first = place_legend(ax_, headroom=3, ncol=1)
        ax_.add_artist(first)
        ax_.legend(handles, labels, loc="lower right", bbox_to_anchor=(1.0, 0.0))
        _move_clear(ax_)
    h, lab = axes[2].get_legend_handles_labels()
    h2, lab2 = _style_handles(("mean field", "-"), ("width-500 Monte Carlo, $\\pm$1 s.e.", "o"))
    axes[2].legend(h + h2, lab + lab2, loc="center left", bbox_to_anchor=(1.05, 0.5))

    written = save(fig, out_dir, "rg_kl_flow")        # PNG + PDF, reproducible bytes
    p = out_dir / "rg_kl_flow.csv"
    write_rows_csv(p, ["panel", "series", "step", "value_nats", "stderr_nats"], data)
    written.append(p)

    # asymptote across K_c
    fig, ax = plt.subplots(figsize=(10, 6.4))
    K0s = np.linspace(0.05, 0.8, 151)
    adata = []
    for k, scheme in enumerate(ISING2D_SCHEMES):
        rev = [ising2d_kl_asymptotes(K, scheme)["renormalised_vs_original"] for K in K0s]
        fwd = [ising2d_kl_asymptotes(K, scheme)["original_vs_renormalised"] for K in K0s]
        k_star = ising2d_fixed_point(scheme)
        below = K0s < k_star                           # plot the two basins separately (jump at K*)
        rev_a = np.array(rev)
        ax.plot(K0s[below], rev_a[below], color=PALETTE[k], label=rf"$D(p_\infty\,\|\,p_{{K_0}})$, {_SCHEME_LABELS[scheme]}")
        ax.plot(K0s[~below], rev_a[~below], color=PALETTE[k])
        fwd_plot = np.array([v if math.isfinite(v) else np.nan for v in fwd])
        ax.plot(K0s, fwd_plot, "--", color=PALETTE[k],
                label=rf"$D(p_{{K_0}}\,\|\,p_\infty)$, {_SCHEME_LABELS[scheme]} ($\infty$ beyond $K^*$)")
        ax.axvline(k_star, color=PALETTE[k], lw=1.0, ls=":")
        # the label sits above the plotting area, where no curve runs
        ax.annotate(rf"$K^*$ = {k_star:.4f}", (k_star, 1.01), xycoords=("data", "axes fraction"),
                    va="bottom", ha="center", fontsize=10.5, color=PALETTE[k], annotation_clip=False)
        adata += [[scheme, K, r, f] for K, r, f in zip(K0s, rev, fwd)]
    ax.axvline(ISING2D_KC, color=PALETTE[6], lw=1.0, ls="-.", label=rf"Onsager $K_c$ = {ISING2D_KC:.4f}")
    ax.set_xlabel(r"initial coupling $K_0 = J / k_B T$")
    ax.set_ylabel(r"asymptotic relative entropy per site [nats]")
    ax.set_title(r"2-D Ising: $n \to \infty$ limit of the per-site KL (jumps at $K^*$, not at $K_c$)", pad=24)
    fig.tight_layout()
    place_legend(ax, locs=("upper left",), ncol=2, outside="below")
    written += save(fig, out_dir, "rg_kl_asymptote")
    p = out_dir / "rg_kl_asymptote.csv"
    write_rows_csv(p, ["scheme", "K0", "kl_renormalised_vs_original_per_site",
                       "kl_original_vs_renormalised_per_site"], adata)
    written.append(p)
    return written


# --------------------------------------------------------------------------- registry
#: Figures: name -> function ``(out_dir: Path, options) -> list[Path]`` writing PNG, PDF and CSV.
FIGURES = {
    "gaussian_rate": gaussian_rate_figure,
    "transport_rates": transport_figure,
    "stot_vs_kappa": kappa_figure,
    "memoriser": memoriser_figure,
    "speed_limit_efficiency": efficiency_figure,
    "fluctuation_theorem": fluctuation_figure,
    "neural_vs_total": neural_figure,
    "rg_kl_flow": rg_figure,
    "official_mixtures": official_figure,
}


def render_figures(out: Path, options: TableOptions | None = None,
                   names: list[str] | None = None) -> list[Path]:
    """Render the named figures (default: all) into ``out``; return the files."""
    options = options or TableOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    names = list(names or FIGURES)
    for name in names:
        if name not in FIGURES:
            raise ValueError(f"unknown figure {name!r}; choose from {sorted(FIGURES)}")
    for name in options.steps(names, desc="figures", unit="figure"):
        written.extend(Path(p) for p in FIGURES[name](out, options))
    return written
