r"""Relative entropy along coarse-graining flows: Ising decimation RG and deep random networks.

How much information does a coarse-graining flow discard?  Following Erdmenger, Grosvenor and Jefferson
(SciPost Phys. 12, 041 (2022), arXiv:2107.06898) this module gives exact numbers for

* the 1-D Ising chain under exact ``b = 2`` decimation (with field): the recursion, transfer-matrix
  thermodynamics at finite ``N`` (periodic) and ``N -> inf``, and four per-site relative entropies whose
  names say which two distributions they compare:

  - :func:`ising1d_kl_original_vs_renormalised_per_site`  :math:`D(p_{K_0}\|p_{K_n})` (same lattice),
  - :func:`ising1d_kl_renormalised_vs_original_per_site`  :math:`D(p_{K_n}\|p_{K_0})`,
  - :func:`ising1d_kl_original_vs_lifted_coarse_per_site` :math:`D(p_{K_0}\|q_n)`, ``q_n`` = coarse
    distribution on the survivors times uniform decimated spins,
  - :func:`ising1d_kl_lifted_coarse_vs_original_per_site` :math:`D(q_n\|p_{K_0})`;

* the 2-D square-lattice Ising model: Onsager's free energy and nearest-neighbour correlation, Kaufman's
  exact strips, small periodic lattices (transfer matrix and enumeration), one exact decimation step
  (nearest, next-nearest and four-spin couplings), the one-coupling truncation and Migdal-Kadanoff
  recursions with their fixed points, and the per-site relative entropies along those flows together
  with their asymptotes as functions of :math:`K_0` across :math:`K_c`;

* mean-field signal propagation in random tanh networks (Poole et al. 2016; Schoenholz et al. 2017):
  length and correlation maps, ``q*``, ``rho*``, ``chi_1``, depth scales, the order-to-chaos line, and the
  layer-to-layer relative entropy of the paper in the mean-field limit and by Monte Carlo on actual
  networks.

All entropies are in nats; couplings are dimensionless (``K = beta J``, ``h = beta H``).  Symbolic checks
of the decimation recursions: ``derivations/rg_decimation.py``.  User guide: ``docs/rg.md``.

References
----------
J. Erdmenger, K. T. Grosvenor, R. Jefferson, SciPost Phys. 12, 041 (2022), arXiv:2107.06898.
L. Onsager, Phys. Rev. 65, 117 (1944).
B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli, NeurIPS 2016, arXiv:1606.05340.
S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein, ICLR 2017, arXiv:1611.01232.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ._checks import seed_sequence
from ._rg_ising1d import (  # noqa: F401  (re-exported)
    DecimationFlow1D, Ising1DThermo, ising1d_boltzmann_probabilities, ising1d_decimation_step,
    ising1d_entropy_per_site, ising1d_enumerate_thermo, ising1d_flow, ising1d_kl_limits,
    ising1d_kl_lifted_coarse_vs_original_per_site, ising1d_kl_original_vs_lifted_coarse_per_site,
    ising1d_kl_original_vs_renormalised_per_site, ising1d_kl_renormalised_vs_original_per_site,
    ising1d_log_partition_per_site, ising1d_magnetization, ising1d_nn_correlation, ising1d_thermo,
)
from ._rg_ising2d import (  # noqa: F401
    ISING2D_KC, ISING2D_SCHEMES, Ising2DThermo, ising2d_boltzmann_probabilities,
    ising2d_decimation_couplings, ising2d_entropy_per_site, ising2d_enumerate_thermo, ising2d_fixed_point,
    ising2d_flow, ising2d_kl_asymptotes, ising2d_kl_original_vs_renormalised_per_site,
    ising2d_kl_renormalised_vs_original_per_site, ising2d_log_partition_double_integral,
    ising2d_log_partition_per_site, ising2d_migdal_kadanoff_step, ising2d_nn_correlation,
    ising2d_one_coupling_step, ising2d_rg_eigenvalue, ising2d_step, ising2d_strip_thermo,
    ising2d_thermo, ising2d_transfer_matrix_thermo,
)
from ._rg_network import (  # noqa: F401
    TanhMeanField, gauss_hermite_expectation, network_kl_gaussian_fit_layer0_vs_layer_l_meanfield,
    network_kl_layer0_vs_layer_l_pushforward_mc, network_kl_layer0_vs_layer_l_pushforward_meanfield,
    tanh_chi1, tanh_correlation_fixed_point, tanh_correlation_map, tanh_length_fixed_point,
    tanh_length_map, tanh_length_sequence, tanh_meanfield, tanh_order_to_chaos_sigma_w2,
)

__all__ = [
    # 1-D Ising
    "DecimationFlow1D", "Ising1DThermo", "ising1d_decimation_step", "ising1d_flow", "ising1d_thermo",
    "ising1d_log_partition_per_site", "ising1d_nn_correlation", "ising1d_magnetization",
    "ising1d_entropy_per_site", "ising1d_enumerate_thermo", "ising1d_boltzmann_probabilities",
    "ising1d_kl_original_vs_renormalised_per_site", "ising1d_kl_renormalised_vs_original_per_site",
    "ising1d_kl_original_vs_lifted_coarse_per_site", "ising1d_kl_lifted_coarse_vs_original_per_site",
    "ising1d_kl_limits",
    # 2-D Ising
    "ISING2D_KC", "ISING2D_SCHEMES", "Ising2DThermo", "ising2d_thermo", "ising2d_log_partition_per_site",
    "ising2d_nn_correlation", "ising2d_entropy_per_site", "ising2d_log_partition_double_integral",
    "ising2d_strip_thermo", "ising2d_transfer_matrix_thermo", "ising2d_enumerate_thermo",
    "ising2d_boltzmann_probabilities", "ising2d_decimation_couplings", "ising2d_one_coupling_step",
    "ising2d_migdal_kadanoff_step", "ising2d_step", "ising2d_fixed_point", "ising2d_rg_eigenvalue",
    "ising2d_flow", "ising2d_kl_original_vs_renormalised_per_site",
    "ising2d_kl_renormalised_vs_original_per_site", "ising2d_kl_asymptotes",
    # networks
    "TanhMeanField", "gauss_hermite_expectation", "tanh_length_map", "tanh_length_sequence",
    "tanh_length_fixed_point", "tanh_correlation_map", "tanh_correlation_fixed_point", "tanh_chi1",
    "tanh_meanfield", "tanh_order_to_chaos_sigma_w2",
    "network_kl_layer0_vs_layer_l_pushforward_meanfield",
    "network_kl_gaussian_fit_layer0_vs_layer_l_meanfield",
    "network_kl_layer0_vs_layer_l_pushforward_mc",
    # CLI hooks
    "table_rows", "kl_flow_figure",
]

#: Input variance used by the table and the figure: q^0 = sigma_w2 * 0.1 + sigma_b2 lies below q*
#: for every sigma_w2 shown, so the layer-to-layer quantity rises from 0 (as in the paper's figures).
NETWORK_INPUT_VARIANCE = 0.1
#: Bias variance of the network examples (order-to-chaos at sigma_w2 ~ 1.761).
NETWORK_SIGMA_B2 = 0.05


# ----------------------------------------------------------------------------- seeds of the table and figure
def _table_seed(seed):
    """``options.seed`` checked by :func:`nent_ref._checks.seed_sequence` (ValueError for -1, "a", 1.5, True).

    An int >= 0 is kept as is, so the Monte Carlo rows keep their streams ``[seed, tag, k]``; anything
    else accepted (a sequence of ints, a SeedSequence, a Generator, None) becomes one SeedSequence.
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return int(seed)
    return seed_sequence(seed, "seed")


def _row_seed(base, *keys):
    """Seed of one Monte Carlo row: ``[base, *keys]`` for an int base, else a keyed child of the sequence."""
    if isinstance(base, int):
        return [base, *keys]
    return np.random.SeedSequence(base.entropy, spawn_key=tuple(base.spawn_key) + tuple(keys))


# ----------------------------------------------------------------------------- table
def _ising1d_rows(options) -> list[dict]:
    rows = []
    for K0, h0 in ((0.5, 0.0), (1.0, 0.0), (2.0, 0.0), (1.0, 0.2)):
        flow = ising1d_flow(K0, h0, 10)
        for n in range(11):
            rows.append({
                "section": "ising1d_flow", "K0": K0, "h0": h0, "n": n, "N": "inf",
                "K_n": flow.K[n], "h_n": flow.h[n],
                "kl_original_vs_renormalised_per_site": ising1d_kl_original_vs_renormalised_per_site(K0, h0, n),
                "kl_renormalised_vs_original_per_site": ising1d_kl_renormalised_vs_original_per_site(K0, h0, n),
                "kl_original_vs_lifted_coarse_per_site": ising1d_kl_original_vs_lifted_coarse_per_site(K0, h0, n),
                "kl_lifted_coarse_vs_original_per_site": ising1d_kl_lifted_coarse_vs_original_per_site(K0, h0, n),
            })
        lim = ising1d_kl_limits(K0, h0)
        rows.append({"section": "ising1d_limit", "K0": K0, "h0": h0, "n": "inf", "N": "inf",
                     "h_n": lim["h_inf"],
                     "kl_original_vs_renormalised_per_site": lim["original_vs_renormalised"],
                     "kl_renormalised_vs_original_per_site": lim["renormalised_vs_original"],
                     "kl_original_vs_lifted_coarse_per_site": lim["original_vs_lifted_coarse"],
                     "kl_lifted_coarse_vs_original_per_site": lim["lifted_coarse_vs_original"]})
    for n in range(5):   # finite periodic chain of 16 spins
        rows.append({
            "section": "ising1d_finite", "K0": 1.0, "h0": 0.2, "n": n, "N": 16,
            "kl_original_vs_renormalised_per_site": ising1d_kl_original_vs_renormalised_per_site(1.0, 0.2, n, 16),
            "kl_renormalised_vs_original_per_site": ising1d_kl_renormalised_vs_original_per_site(1.0, 0.2, n, 16),
            "kl_original_vs_lifted_coarse_per_site": ising1d_kl_original_vs_lifted_coarse_per_site(1.0, 0.2, n, 16),
            "kl_lifted_coarse_vs_original_per_site": ising1d_kl_lifted_coarse_vs_original_per_site(1.0, 0.2, n, 16),
        })
    return rows


_ASYMPTOTE_K0 = (0.2, 0.3, 0.35, 0.4, 0.43, 0.44, ISING2D_KC, 0.442, 0.45, 0.48, 0.5, 0.52, 0.6, 0.8)


def _ising2d_rows(options) -> list[dict]:
    rows = []
    for K in (0.2, ISING2D_KC, 0.6):
        t = ising2d_thermo(K)
        K1, K2, K4, g = ising2d_decimation_couplings(K)
        rows.append({"section": "ising2d_exact_step", "K0": K, "K_nn": K1, "K_nnn": K2, "K_4": K4,
                     "g_per_decimated_spin": g, "log_partition_per_site": t.log_partition_per_site,
                     "nn_correlation": t.nn_correlation, "entropy_per_site": t.entropy_per_site})
    for scheme in ISING2D_SCHEMES:
        ev = ising2d_rg_eigenvalue(scheme)
        rows.append({"section": "ising2d_fixed_point", "scheme": scheme, "K_star": ev["K_star"],
                     "K_c_onsager": ISING2D_KC, "slope_at_K_star": ev["slope"], "b": ev["b"], "nu": ev["nu"]})
    for scheme in ISING2D_SCHEMES:
        for K0 in (0.25, ISING2D_KC, 0.6):
            Ks = ising2d_flow(K0, 8, scheme)
            for n in range(9):
                rows.append({
                    "section": "ising2d_flow", "scheme": scheme, "K0": K0, "n": n, "K_n": Ks[n],
                    "kl_original_vs_renormalised_per_site":
                        ising2d_kl_original_vs_renormalised_per_site(K0, n, scheme),
                    "kl_renormalised_vs_original_per_site":
                        ising2d_kl_renormalised_vs_original_per_site(K0, n, scheme),
                })
        for K0 in _ASYMPTOTE_K0:
            a = ising2d_kl_asymptotes(K0, scheme)
            rows.append({"section": "ising2d_asymptote", "scheme": scheme, "K0": K0,
                         "K0_over_Kc": K0 / ISING2D_KC, "K_star": a["K_star"], "flows_to": a["phase"],
                         "kl_original_vs_renormalised_per_site": a["original_vs_renormalised"],
                         "kl_renormalised_vs_original_per_site": a["renormalised_vs_original"]})
    return rows


_NETWORK_SW2 = (1.0, 1.5, None, 2.0, 2.5, 3.0)     # None -> the critical value at sigma_b2 = 0.05


def _network_rows(options, base_seed) -> list[dict]:
    rows = []
    for sb in (0.0, 0.01, 0.05, 0.1, 0.3):
        rows.append({"section": "network_order_to_chaos", "sigma_b2": sb,
                     "sigma_w2_critical": tanh_order_to_chaos_sigma_w2(sb)})
    sw_c = tanh_order_to_chaos_sigma_w2(NETWORK_SIGMA_B2)
    sws = [sw_c if s is None else s for s in _NETWORK_SW2]
    for sw in sws:
        mf = tanh_meanfield(sw, NETWORK_SIGMA_B2)
        rows.append({"section": "network_meanfield", "sigma_w2": sw, "sigma_b2": NETWORK_SIGMA_B2,
                     "q_star": mf.q_star, "rho_star": mf.rho_star, "chi_1": mf.chi_1, "chi_c": mf.chi_c,
                     "xi_c": mf.xi_c, "chi_q": mf.chi_q, "xi_q": mf.xi_q, "phase": mf.phase,
                     "quadrature_error": mf.quadrature_error})
    depth = 20
    for k, sw in enumerate(sws):
        options.progress(f"rg: network sigma_w2 = {sw:.4f}")
        mf = network_kl_layer0_vs_layer_l_pushforward_meanfield(depth, sw, NETWORK_SIGMA_B2,
                                                                NETWORK_INPUT_VARIANCE)
        fit = network_kl_gaussian_fit_layer0_vs_layer_l_meanfield(depth, sw, NETWORK_SIGMA_B2,
                                                                  NETWORK_INPUT_VARIANCE)
        mc = network_kl_layer0_vs_layer_l_pushforward_mc(depth, sw, NETWORK_SIGMA_B2, NETWORK_INPUT_VARIANCE,
                                                         width=500, n_samples=64, n_networks=6,
                                                         seed=_row_seed(base_seed, 7, k))
        q = tanh_length_sequence(depth, sw, NETWORK_SIGMA_B2, NETWORK_INPUT_VARIANCE)
        for layer in range(depth + 1):
            rows.append({"section": "network_kl", "sigma_w2": sw, "sigma_b2": NETWORK_SIGMA_B2,
                         "input_variance": NETWORK_INPUT_VARIANCE, "layer": layer, "q_l": q[layer],
                         "kl_layer0_vs_layer_l_pushforward_meanfield_per_neuron": mf[layer],
                         "kl_gaussian_fit_layer0_vs_layer_l_meanfield_per_neuron": fit[layer],
                         "kl_layer0_vs_layer_l_pushforward_mc_per_neuron": mc.value[layer],
                         "kl_layer0_vs_layer_l_pushforward_mc_stderr": mc.stderr[layer],
                         "mc_width": 500, "mc_networks": 6, "mc_samples_per_network": 64})
    return rows


def table_rows(options) -> list[dict]:
    """Rows of ``nent-ref table --suite rg``: flows, relative entropies (nats per site / neuron),
    fixed points, the 2-D asymptote across K_c and the network mean-field and Monte Carlo values.

    ``options.seed`` (checked first, before any computation) seeds the Monte Carlo rows."""
    base_seed = _table_seed(options.seed)
    options.progress("rg: 1-D Ising decimation")
    rows = _ising1d_rows(options)
    options.progress("rg: 2-D Ising flows")
    rows += _ising2d_rows(options)
    options.progress("rg: random tanh networks")
    rows += _network_rows(options, base_seed)
    return [{k: (float(v) if isinstance(v, np.floating) else v) for k, v in r.items()} for r in rows]


# ----------------------------------------------------------------------------- figure
def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def kl_flow_figure(out_dir, options) -> list[Path]:
    """Relative entropy versus coarse-graining step: 1-D Ising, 2-D Ising (one-coupling truncation and
    Migdal-Kadanoff) and random tanh networks at several sigma_w^2 across the order-to-chaos line; plus
    the 2-D asymptote versus K_0 across K_c.  Writes PNG, PDF and the plotted data as CSV.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from .figures import _pyplot, save
    base_seed = _table_seed(options.seed)
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
                                                         seed=_row_seed(base_seed, 11, k))
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
    _write_csv(p, ["panel", "series", "step", "value_nats", "stderr_nats"], data)
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
    _write_csv(p, ["scheme", "K0", "kl_renormalised_vs_original_per_site",
                   "kl_original_vs_renormalised_per_site"], adata)
    written.append(p)
    return written
