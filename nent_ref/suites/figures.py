"""Theory figures rendered by ``nent-ref figures`` (PNG and PDF, with the plotted data as CSV).

Every figure function has the signature ``fig(out_dir: Path, options) -> list[Path]`` and is
registered in :data:`FIGURES`.  The data behind each figure is computed with
the library's public functions and written as CSV beside the picture, so a test can check
the plotted numbers against the tables.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..core.data import Dirac
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

__all__ = ["FIGURES", "render_figures", "CSV_SIGNIFICANT_DIGITS", "format_number", "write_csv", "write_rows_csv", "save"]

_LABELS = {"vp16": r"VP ($\beta$ 0.1$\to$16)", "vp20": r"VP ($\beta$ 0.1$\to$20)",
           "vpx": r"VPx ($\kappa$ = 0.1)", "sl": r"SL ($\Sigma_0$ = 0.1)"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


#: Significant digits of every number in a figure's CSV.  Figure data are for plotting and for
#: checking against the tables; 8 digits keep committed CSVs byte-identical across machines whose
#: BLAS builds differ in the last bits (differences of ~1e-14 relative), and no figure needs more.
CSV_SIGNIFICANT_DIGITS = 8


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


# --------------------------------------------------------------------------- issue-6 theory figures
#: The processes of the paper's transport setting, in plotting order.
PAPER_PROCESSES = ("vp16", "vpx", "sl")


def transport_figure(out_dir: Path, options=None) -> list[Path]:
    """Figure 1: Sdot(s) and S_tot(0, s) for VP, VPx and SL on the paper's 2-D mixture.

    Both by adaptive cubature (``method="quadrature"``, relative accuracy 1e-8):
    the rate directly, S_tot(0, s) as KL(p_0 || p_eq) - KL(p_s || p_eq) (identity 2.3).
    """
    plt = _pyplot()
    out_dir = Path(out_dir)
    data = paper_mixture(2)
    s = rate_nodes(0.0, 0.999, 30)
    columns = {"s": s}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in PAPER_PROCESSES:
        proc = cases.processes()[name]
        rate = entropy_production_rate(data, proc, s, method="quadrature")
        kl = kl_to_equilibrium(data, proc, np.concatenate([[0.0], s]), method="quadrature")
        stot = kl.value[0] - kl.value[1:]
        columns[f"rate_{name}"] = rate.value
        columns[f"S_tot_{name}"] = stot
        axes[0].semilogy(s, rate.value, label=_LABELS[name])
        axes[1].plot(s, stot, label=_LABELS[name])
    axes[0].set(xlabel="forward time s", ylabel=r"$\dot S(s)$ [nats per unit time]",
                title="entropy production rate, 5-component mixture (D = 2)")
    axes[1].set(xlabel="forward time s", ylabel=r"$S_{tot}(0, s)$ [nats]", title="total entropy")
    axes[0].legend(fontsize=8)
    stem = "transport_rates"
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", columns)]


#: Equilibrium widths of figure 2.
KAPPAS = np.geomspace(0.1, 10.0, 13)  # contains 0.1 (VPx) and 1 (VP) at indices 0 and 6


def kappa_figure(out_dir: Path, options=None) -> list[Path]:
    """Figure 2: S_tot(0, T) versus the equilibrium width kappa (VP, beta 0.1 -> 16) for the
    3-D canonical Gaussian (closed form) and the paper's 2-D mixture (cubature)."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    gauss, mix = cases.gaussian_case(3), paper_mixture(2)
    g_vals, m_vals, m_err = [], [], []
    for kappa in KAPPAS:
        proc = VP(0.1, 16.0, kappa=float(kappa))
        g_vals.append(total_entropy(gauss, proc).value)
        est = total_entropy(mix, proc, method="quadrature")
        m_vals.append(est.value)
        m_err.append(est.error_bound)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(KAPPAS, g_vals, "o-", label="Gaussian, D = 3 (closed form)")
    ax.loglog(KAPPAS, m_vals, "s-", label="5-component mixture, D = 2 (cubature)")
    ax.set(xlabel=r"equilibrium width $\kappa$", ylabel=r"$S_{tot}(0, T)$ [nats]",
           title=r"VP ($\beta$ 0.1$\to$16): entropy versus $\kappa$")
    ax.legend(fontsize=8)
    stem = "stot_vs_kappa"
    cols = {"kappa": KAPPAS, "S_tot_gaussian3": g_vals, "S_tot_mixture2": m_vals, "S_tot_mixture2_error_bound": m_err}
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


#: Training-set sizes of figure 3.
MEMORISER_SIZES = (1, 4, 16, 64, 256, 1024)


def memoriser_figure(out_dir: Path, options=None) -> list[Path]:
    """Figure 3: the memoriser's S_tot(EPS, T) versus N (VP, beta 0.1 -> 16, D = 2), with the
    population S_tot(EPS, T) and the bounds mean Dirac KL - log N <= KL(p_EPS^emp || p_eq) <= mean
    Dirac KL.  Monte Carlo with standard errors (seeded by ``options.seed``)."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    seed = getattr(options, "seed", 0)
    proc = cases.processes()["vp16"]
    pop = paper_mixture(2)
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
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(N, cols["S_tot"], yerr=cols["S_tot_stderr"], fmt="o-", label=r"memoriser $S_{tot}(\epsilon, T)$")
    ax.errorbar(N, cols["kl_eps"], yerr=cols["kl_eps_stderr"], fmt="s", ms=3,
                label=r"KL$(p^{emp}_\epsilon \| p_{eq})$")
    ax.fill_between(N, cols["lower_bound"], cols["mean_dirac_kl"], alpha=0.2,
                    label=r"mean Dirac KL $-\log N$ .. mean Dirac KL")
    ax.axhline(pop_est.value, color="k", ls="--", label=r"population $S_{tot}(\epsilon, T)$")
    ax.set(xscale="log", xlabel="training-set size N", ylabel="[nats]",
           title=r"memorisation baseline (VP, D = 2, $\epsilon = 10^{-5}$)")
    ax.legend(fontsize=7)
    stem = "memoriser"
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


def efficiency_figure(out_dir: Path, options=None) -> list[Path]:
    """Figure 4: thermodynamic efficiency W2^2 / (clock S_tot) per process for the canonical
    Gaussians (closed form) and the paper's 1-D mixture (quantile quadrature); SL on [0, 1 - 1e-3]."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    cols = {"process_index": [], "dim": [], "is_mixture": [], "efficiency": [], "efficiency_stderr": []}
    fig, ax = plt.subplots(figsize=(6, 4))
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
    idx = np.asarray(cols["process_index"]) + 0.06 * (np.asarray(cols["dim"]) - 5)
    mix = np.asarray(cols["is_mixture"]) == 1
    eff = np.asarray(cols["efficiency"])
    ax.plot(idx[~mix], eff[~mix], "o", label="Gaussian, D = 1..9")
    ax.plot(idx[mix], eff[mix], "s", label="5-component mixture, D = 1")
    ax.set_xticks(range(len(PAPER_PROCESSES)), [_LABELS[n] for n in PAPER_PROCESSES], fontsize=8)
    ax.set(ylabel=r"efficiency $W_2^2 / (\tau\, S_{tot})$ [dimensionless]", ylim=(0, 1.05),
           title="thermodynamic speed limit: efficiency")
    ax.legend(fontsize=8)
    stem = "speed_limit_efficiency"
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


def fluctuation_figure(out_dir: Path, options=None) -> list[Path]:
    """Figure 5: histogram of the total entropy production Delta s_tot along 20 000 forward paths
    (1-D canonical Gaussian, VP beta 0.1 -> 16, 400 steps), with E[Delta s_tot] against the closed-form
    S_tot and the integral fluctuation theorem E[exp(-Delta s_tot)] = 1."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    seed = getattr(options, "seed", 0)
    data, proc = cases.gaussian_case(1), cases.processes()["vp16"]
    grid = np.linspace(0.0, 1.0, 401)
    pe = sde.path_entropy(data, proc, 20_000, grid, seed=seed)
    s_tot = total_entropy(data, proc, 0.0, 1.0).value
    fig, ax = plt.subplots(figsize=(6, 4))
    counts, edges, _ = ax.hist(pe.ds_tot, bins=80, density=True, alpha=0.7)
    ax.axvline(s_tot, color="k", ls="--", label=f"closed-form $S_{{tot}}$ = {s_tot:.4f}")
    ax.axvline(pe.mean.value, color="C1", label=rf"mean $\Delta s_{{tot}}$ = {pe.mean.value:.4f} ± {pe.mean.stderr:.4f}")
    ax.set(xlabel=r"$\Delta s_{tot}$ per path [nats]", ylabel="probability density [1/nats]",
           title=rf"fluctuation theorem: E[exp(-$\Delta s_{{tot}}$)] = {pe.ift.value:.4f} ± {pe.ift.stderr:.4f}")
    ax.legend(fontsize=8)
    stem = "fluctuation_theorem"
    cols = {"bin_left": edges[:-1], "bin_right": edges[1:], "density": counts,
            "mean_ds_tot": np.full(counts.size, pe.mean.value), "mean_ds_tot_stderr": np.full(counts.size, pe.mean.stderr),
            "ift": np.full(counts.size, pe.ift.value), "ift_stderr": np.full(counts.size, pe.ift.stderr),
            "S_tot_closed_form": np.full(counts.size, s_tot)}
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


def neural_figure(out_dir: Path, options=None) -> list[Path]:
    """Figure 6: S_NN, S_tot and L_EM (likelihood weighting, with standard errors) of the reference
    models on the paper's 2-D mixture under VP (beta 0.1 -> 16): the exact e*, e* + 0.2 x, the best
    linear model and memorisers of N = 16 and 256 points, on [EPS, T]."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    seed = getattr(options, "seed", 0)
    rows = compare(paper_mixture(2), cases.processes()["vp16"], s0=cases.EPS, memoriser_sizes=(16, 256),
                   seed=seed, n_samples=2 ** 13, n_times=32)
    labels = [r["model"] + (f" N={r['N']}" if r["N"] else "") for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7, 4))
    for j, key in enumerate(("S_tot", "S_NN", "L_EM")):
        ax.bar(x + (j - 1) * 0.27, [r[key] for r in rows], 0.27, yerr=[r[f"{key}_stderr"] for r in rows],
               label=key.replace("_", " "))
    ax.set_xticks(x, labels, fontsize=8, rotation=15)
    ax.set_yscale("log")
    ax.set(ylabel="[nats] (log scale)", title=r"neural entropy of reference models (mixture D = 2, VP, $\epsilon = 10^{-5}$)")
    ax.legend(fontsize=8)
    stem = "neural_vs_total"
    cols = {"model_index": x, "N": [r["N"] or 0 for r in rows]}
    for key in ("S_tot", "S_NN", "L_EM", "C"):
        cols[key] = [r[key] for r in rows]
        cols[f"{key}_stderr"] = [r[f"{key}_stderr"] for r in rows]
    return save(fig, out_dir, stem) + [write_csv(out_dir / f"{stem}.csv", cols)]


# --------------------------------------------------------------------------- RG figures
def write_rows_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    """Write rows of mixed text and numbers as CSV; numbers with :data:`CSV_SIGNIFICANT_DIGITS` digits."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([v if isinstance(v, str) else format_number(v) for v in row])
    return path


def rg_figure(out_dir, options) -> list[Path]:
    """Relative entropy versus coarse-graining step: 1-D Ising, 2-D Ising (one-coupling truncation and
    Migdal-Kadanoff) and random tanh networks at several sigma_w^2 across the order-to-chaos line; plus
    the 2-D asymptote versus K_0 across K_c.  Writes PNG, PDF and the plotted data as CSV.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    base_seed = suite_seed(options.seed)
    plt = _pyplot()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data: list[list] = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))

    ax = axes[0]
    steps = np.arange(9)
    for K0 in (0.5, 1.0, 2.0):
        y = [ising1d_kl_original_vs_renormalised_per_site(K0, 0.0, int(n)) for n in steps]
        yl = [ising1d_kl_original_vs_lifted_coarse_per_site(K0, 0.0, int(n)) for n in steps]
        line, = ax.plot(steps, y, "o-", label=f"D(p_K0 || p_Kn), K0={K0}")
        ax.plot(steps, yl, "s--", color=line.get_color(), label=f"D(p_K0 || lifted q_n), K0={K0}")
        data += [["ising1d", f"original_vs_renormalised K0={K0}", int(n), v, 0.0] for n, v in zip(steps, y)]
        data += [["ising1d", f"original_vs_lifted_coarse K0={K0}", int(n), v, 0.0] for n, v in zip(steps, yl)]
    ax.set_xlabel("decimation step n (dimensionless, b = 2)")
    ax.set_ylabel("relative entropy per site (nats)")
    ax.set_title("1-D Ising, h = 0, N -> inf")
    ax.legend(fontsize=7)

    ax = axes[1]
    steps2 = np.arange(15)
    for scheme, style in (("one_coupling", "-"), ("migdal_kadanoff", "--")):
        for K0 in (0.25, 0.35, ISING2D_KC, 0.47):
            y = [ising2d_kl_renormalised_vs_original_per_site(K0, int(n), scheme) for n in steps2]
            ax.plot(steps2, y, "o" + style, ms=3, label=f"{scheme}, K0={K0:.3f}")
            data += [["ising2d", f"renormalised_vs_original {scheme} K0={K0!r}", int(n), v, 0.0]
                     for n, v in zip(steps2, y)]
    ax.set_xlabel("RG step n (dimensionless)")
    ax.set_ylabel("D(p_Kn || p_K0) per site (nats)")
    ax.set_title(f"2-D Ising (Onsager), K_c = {ISING2D_KC:.4f}")
    ax.legend(fontsize=6)

    ax = axes[2]
    sw_c = tanh_order_to_chaos_sigma_w2(NETWORK_SIGMA_B2)
    layers = np.arange(21)
    for k, sw in enumerate((1.2, 1.5, sw_c, 2.0, 3.0)):
        y = network_kl_layer0_vs_layer_l_pushforward_meanfield(20, sw, NETWORK_SIGMA_B2, NETWORK_INPUT_VARIANCE)
        line, = ax.plot(layers, y, "-", label=f"sigma_w^2={sw:.3f} mean field")
        mc = network_kl_layer0_vs_layer_l_pushforward_mc(20, sw, NETWORK_SIGMA_B2, NETWORK_INPUT_VARIANCE,
                                                         width=500, n_samples=64, n_networks=4,
                                                         seed=row_seed(base_seed, 11, k))
        ax.errorbar(layers, mc.value, yerr=mc.stderr, fmt="o", ms=3, color=line.get_color())
        data += [["network", f"meanfield sigma_w2={sw!r}", int(l_), v, 0.0] for l_, v in zip(layers, y)]
        data += [["network", f"mc width=500 sigma_w2={sw!r}", int(l_), v, e]
                 for l_, v, e in zip(layers, mc.value, mc.stderr)]
    ax.set_xlabel("layer l (dimensionless)")
    ax.set_ylabel("(1/n) E[log p0_fit(z0) - log pl_fit(zl)] (nats per neuron)")
    ax.set_title(f"tanh network, sigma_b^2 = {NETWORK_SIGMA_B2}, order-to-chaos at {sw_c:.4f}")
    ax.legend(fontsize=6)
    fig.tight_layout()

    written = save(fig, out_dir, "rg_kl_flow")        # PNG + PDF, reproducible bytes
    p = out_dir / "rg_kl_flow.csv"
    write_rows_csv(p, ["panel", "series", "step", "value_nats", "stderr_nats"], data)
    written.append(p)

    # asymptote across K_c
    fig, ax = plt.subplots(figsize=(6, 4.5))
    K0s = np.linspace(0.05, 0.8, 151)
    adata = []
    for scheme in ISING2D_SCHEMES:
        rev = [ising2d_kl_asymptotes(K, scheme)["renormalised_vs_original"] for K in K0s]
        fwd = [ising2d_kl_asymptotes(K, scheme)["original_vs_renormalised"] for K in K0s]
        below = K0s < ising2d_fixed_point(scheme)       # plot the two basins separately (jump at K*)
        rev_a = np.array(rev)
        line, = ax.plot(K0s[below], rev_a[below], label=f"D(p_inf || p_K0), {scheme}")
        ax.plot(K0s[~below], rev_a[~below], color=line.get_color())
        fwd_plot = np.array([v if math.isfinite(v) else np.nan for v in fwd])
        ax.plot(K0s, fwd_plot, "--", label=f"D(p_K0 || p_inf), {scheme} (inf beyond K*)")
        adata += [[scheme, K, r, f] for K, r, f in zip(K0s, rev, fwd)]
    ax.axvline(ISING2D_KC, color="k", lw=0.8, label="Onsager K_c")
    ax.set_xlabel("initial coupling K0 = J / k_B T (dimensionless)")
    ax.set_ylabel("asymptotic relative entropy per site (nats)")
    ax.set_title("2-D Ising: n -> inf limit of the per-site KL")
    ax.legend(fontsize=6)
    fig.tight_layout()
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
}


def render_figures(out: Path, options: TableOptions | None = None,
                   names: list[str] | None = None) -> list[Path]:
    """Render the named figures (default: all) into ``out``; return the files."""
    options = options or TableOptions()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in names or list(FIGURES):
        if name not in FIGURES:
            raise ValueError(f"unknown figure {name!r}; choose from {sorted(FIGURES)}")
        options.progress(f"nent-ref: rendering figure {name!r}")
        written.extend(Path(p) for p in FIGURES[name](out, options))
    return written
