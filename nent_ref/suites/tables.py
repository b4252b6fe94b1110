"""Ground-truth tables: the named suites of ``nent-ref table``, their rows, and the output formats.

Every suite is a function ``rows(options) -> list[dict]`` of a
:class:`~nent_ref.suites.executor.TableOptions` (seed, workers, progress), registered in
:data:`SUITES`; :func:`table_rows` runs one (or ``"all"``) and :func:`format_rows` renders JSON or CSV.
Entropies are in nats.  The canonical cases the suites use live in :mod:`nent_ref.suites.cases`.
"""
from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from .._version import __version__
from ..core.checks import rng
from ..core.data import Dirac
from ..core.mixture import Empirical, GaussianMixture
from ..quantities import bounds
from ..quantities.entropy import kl_to_equilibrium, total_entropy
from ..quantities.speed import SpeedLimitResult, speed_limit
from ..core.estimate import Estimate
from ..rg import (
    ISING2D_KC, ISING2D_SCHEMES, ising1d_flow, ising1d_kl_lifted_coarse_vs_original_per_site, ising1d_kl_limits, ising1d_kl_original_vs_lifted_coarse_per_site, ising1d_kl_original_vs_renormalised_per_site, ising1d_kl_renormalised_vs_original_per_site, ising2d_decimation_couplings, ising2d_flow, ising2d_kl_asymptotes, ising2d_kl_original_vs_renormalised_per_site, ising2d_kl_renormalised_vs_original_per_site, ising2d_rg_eigenvalue, ising2d_thermo, network_kl_gaussian_fit_layer0_vs_layer_l_meanfield, network_kl_layer0_vs_layer_l_pushforward_mc, network_kl_layer0_vs_layer_l_pushforward_meanfield, tanh_length_sequence, tanh_meanfield, tanh_order_to_chaos_sigma_w2,
)
from ..statmech import (
    ExponentialFamily, cramer_rate, gaussian_max_entropy, gibbs_conditional, ising_exact, ising_mean_field, log_sum_tail_probability, log_type_probability, max_entropy, thermodynamics, total_variation, type_probability_bounds,
)
from .cases import DIMS, EPS, MIXTURE_DIMS, NETWORK_INPUT_VARIANCE, NETWORK_SIGMA_B2, dirac_case, gaussian_case, paper_mixture, paper_mixture_params, processes
from .executor import TableOptions, executor_for, row_seed, suite_seed

__all__ = ["SUITES", "table_rows", "format_rows", "shipped_table", "efficiency_columns"]


# --------------------------------------------------------------------------- closed-form and paper suites
def gaussian_rows(options=None) -> list[dict]:
    """Closed-form suite: S_tot, KL(p_s0 || p_eq) and KL(p_T || p_eq) for Gaussian and Dirac data.

    ``s0 = 0`` for Gaussians (then KL(p_s0 || p_eq) = KL(p_d || p_eq)) and ``s0 = EPS`` for
    Dirac atoms (whose KL(p_d || p_eq) is infinite).  ``s1 = T = 1``.  All values in nats.
    """
    rows = []
    for pname, proc in processes().items():
        for dim in DIMS:
            for kind, data, s0 in (("gaussian", gaussian_case(dim), 0.0), ("dirac", dirac_case(dim), EPS)):
                s1 = proc.T
                stot = total_entropy(data, proc, s0, s1)
                rows.append({
                    "data": kind, "dim": dim, "process": pname, "s0": s0, "s1": s1,
                    "S_tot": stot.value, "S_tot_stderr": stot.stderr,
                    "kl_s0_eq": kl_to_equilibrium(data, proc, s0).value,
                    "kl_T_eq": kl_to_equilibrium(data, proc, s1).value,
                    "clock": float(proc.clock(s0, s1)),
                    "method": stot.method,
                })
    return rows


#: Processes of the paper's analytic settings (VP beta 0.1 -> 16, VPx kappa = 0.1, SL Sigma0 = 0.1).
PAPER_PROCESSES = ("vp16", "vpx", "sl")


#: Training-set sizes of the memoriser rows of the ``paper`` suite.
PAPER_SIZES = (10, 100, 1000)


#: Monte Carlo sample size of the ``paper`` suite (per KL; standard errors are reported).
PAPER_N_SAMPLES = 2 ** 16


def _efficiency_window(proc):
    """[EPS, s1] for the speed-limit efficiency: s1 = T, or T - 1e-3 where the clock diverges (SL)."""
    return EPS, (proc.T - 1e-3 if proc.singular_at_T else proc.T)


def paper_rows(options=None) -> list[dict]:
    """Suite ``paper``: the paper's analytic settings, cutoff ``s0 = EPS = 1e-5``, ``s1 = T``.

    Mixture rows (5 components, D in 2, 3, 6, 9): S_tot(EPS, T) (cubature in 2-D, Monte Carlo with
    standard errors otherwise), KL(p_d || p_eq) at s = 0, KL(p_T || p_eq), and the speed-limit
    efficiency W2^2 / (clock S_tot) on [EPS, s1] (s1 = T - 1e-3 for SL, whose clock diverges at 1;
    W2^2 from exact OT between samples with its stderr and bias scale, biased upwards in high D,
    so the rows also give the closed-form bracket ``efficiency_lower`` (Gelbrich's moment bound)
    and ``efficiency_upper`` (component-wise Bures coupling, capped at 1 by the speed limit) of
    the true efficiency; ``efficiency`` is the sample plug-in, null where its bias scale is not
    below the bracket width (reason in ``efficiency_note``), and ``efficiency_quote`` +-
    ``efficiency_quote_error`` with ``efficiency_quote_kind`` ("plug-in" or "bracket") is the
    number to quote; see :func:`nent_ref.speed.speed_limit`).  Memoriser rows: the
    empirical S_tot(EPS, T) of N points drawn from the same mixture (N in 10, 100, 1000), the exact
    S_tot of a network that memorises its training set.  Nats; seeds derive from ``options.seed``.
    """
    with executor_for(options) as executor:
        return _paper_rows(options, executor)


def _paper_rows(options, executor) -> list[dict]:
    seed = getattr(options, "seed", 0)
    progress = getattr(options, "progress", lambda msg: None)
    rows = []
    for pname in PAPER_PROCESSES:
        proc = processes()[pname]
        for dim in MIXTURE_DIMS:
            progress(f"paper: mixture D={dim} {pname}")
            mix = paper_mixture(dim)
            mc = {"seed": [seed, 6, dim], "n_samples": PAPER_N_SAMPLES, "executor": executor}
            stot = total_entropy(mix, proc, EPS, proc.T, **mc)
            kl_d = kl_to_equilibrium(mix, proc, 0.0, **mc)
            kl_T = stot.extra["kl_s1"]          # KL(p_T || p_eq) from the same run as S_tot
            e0, e1 = _efficiency_window(proc)
            # S_tot on the efficiency window: the row's own value when the windows agree (VP, VPx)
            eff = speed_limit(mix, proc, e0, e1, w2_samples=500, w2_pairs=6, w2_seed=[seed, 7, dim],
                              s_tot=stot if e1 == proc.T else None, **mc).efficiency
            # the sample-based W2^2 is biased upwards in high D; the closed-form bracket
            # [Gelbrich lower, min(component-wise upper, 1)] / (clock S_tot) holds whatever the dimension,
            # and efficiency_quote(_kind) says which of the two to quote
            rows.append({"data": "mixture5", "dim": dim, "process": pname, "n_atoms": None, "s0": EPS,
                         "s1": proc.T, "S_tot": stot.value, "S_tot_stderr": stot.stderr,
                         "S_tot_error_bound": stot.error_bound, "kl_data_eq": kl_d.value,
                         "kl_data_eq_stderr": kl_d.stderr, "kl_T_eq": kl_T.value, "kl_T_eq_stderr": kl_T.stderr,
                         **efficiency_columns(eff), "efficiency_s1": e1, "method": stot.method})
            for n in PAPER_SIZES:
                progress(f"paper: memoriser D={dim} N={n} {pname}")
                emp = Empirical(mix.sample(n, seed=[seed, 8, dim, n]))
                est = total_entropy(emp, proc, EPS, proc.T, method="monte-carlo", seed=[seed, 9, dim, n],
                                    n_samples=PAPER_N_SAMPLES, executor=executor)
                rows.append({"data": "memoriser", "dim": dim, "process": pname, "n_atoms": n, "s0": EPS,
                             "s1": proc.T, "S_tot": est.value, "S_tot_stderr": est.stderr,
                             "S_tot_error_bound": est.error_bound, "method": est.method})
    return rows


def default_rows(options=None) -> list[dict]:
    """Suite ``default`` (what ``nent-ref table`` prints): the closed-form ``gaussian`` suite
    followed by the ``paper`` suite, each row tagged with its sub-suite."""
    return ([{"part": "gaussian", **r} for r in gaussian_rows(options)]
            + [{"part": "paper", **r} for r in paper_rows(options)])


def shipped_table() -> dict:
    """The versioned default table shipped with the package (``nent-ref table`` output, JSON).

    Regenerate with ``nent-ref table --quiet --out nent_ref/reference/default_table.json`` after any
    change that moves a number; ``tests/test_shipped_table.py`` recomputes a subset and compares.
    """
    import json
    from importlib import resources
    return json.loads(resources.files("nent_ref").joinpath("reference/default_table.json").read_text())


# --------------------------------------------------------------------------- mixture and empirical suites
def _row_common(est, k0, k1):
    return {"S_tot": est.value, "S_tot_stderr": est.stderr, "S_tot_error_bound": est.error_bound,
            "kl_s0_eq": k0.value, "kl_s0_eq_stderr": k0.stderr, "kl_T_eq": k1.value,
            "kl_T_eq_stderr": k1.stderr, "method": est.method, "n_samples": est.n_samples}


def mixture_rows(options=None) -> list[dict]:
    """Suite ``mixture``: the paper's 5-component mixtures, D in (2, 3, 6, 9), canonical processes,
    s0 = 0, s1 = T.  S_tot by the KL difference (quadrature in 2-D, Monte Carlo otherwise),
    with the Kolchinsky-Tracey bounds.  Nats."""
    seed = getattr(options, "seed", 0)
    progress = getattr(options, "progress", lambda msg: None)
    rows = []
    with executor_for(options) as executor:
        for pname, proc in processes().items():
            for dim in MIXTURE_DIMS:
                progress(f"mixture: {pname} D={dim}")
                data = paper_mixture(dim)
                s0, s1 = 0.0, proc.T
                est = total_entropy(data, proc, s0, s1, seed=[seed, dim], executor=executor)
                lo, hi = bounds.total_entropy_bounds(data, proc, s0, s1)
                rows.append({"data": "mixture5", "dim": dim, "process": pname, "s0": s0, "s1": s1,
                             **_row_common(est, est.extra["kl_s0"], est.extra["kl_s1"]),
                             "S_tot_lower_bound": lo, "S_tot_upper_bound": hi})
    return rows


#: Atom counts of the ``empirical`` suite.
EMPIRICAL_SIZES = (10, 100, 1000)


def empirical_rows(options=None) -> list[dict]:
    """Suite ``empirical``: the memoriser baseline.  N atoms drawn from the paper's mixture
    (D in 2, 3, 6, 9; N in :data:`EMPIRICAL_SIZES`), s0 = cases.EPS, s1 = T, canonical processes;
    each row also gives the population S_tot(EPS, T) of the mixture the atoms came from and
    mean Dirac KL (the upper end of KL(p_s0^emp || p_eq)).  Monte Carlo with 2**15 samples,
    quadrature in 2-D for N <= 64.  Nats."""
    seed = getattr(options, "seed", 0)
    progress = getattr(options, "progress", lambda msg: None)
    rows = []
    with executor_for(options) as executor:
        for pname, proc in processes().items():
            for dim in MIXTURE_DIMS:
                pop = paper_mixture(dim)
                pop_est = total_entropy(pop, proc, EPS, proc.T, seed=[seed, dim, 0], n_samples=2 ** 15,
                                        executor=executor)
                for N in EMPIRICAL_SIZES:
                    progress(f"empirical: {pname} D={dim} N={N}")
                    atoms = pop.sample(N, seed=[seed, dim, N])
                    data = Empirical(atoms)
                    est = total_entropy(data, proc, EPS, proc.T, seed=[seed, dim, N, 1], n_samples=2 ** 15,
                                        executor=executor)
                    dirac_kl = float(np.mean([kl_to_equilibrium(Dirac(a), proc, EPS).value for a in atoms]))
                    rows.append({"data": "empirical", "dim": dim, "process": pname, "n_atoms": N,
                                 "s0": EPS, "s1": proc.T,
                                 **_row_common(est, est.extra["kl_s0"], est.extra["kl_s1"]),
                                 "mean_dirac_kl_s0": dirac_kl, "log_N": math.log(N),
                                 "S_tot_population": pop_est.value,
                                 "S_tot_population_stderr": pop_est.stderr})
    return rows


# --------------------------------------------------------------------------- speed-limit suite
def speed_limit_rows(options) -> list[dict]:
    """``nent-ref table --suite speed-limit``: efficiency W2^2 / (clock S_tot) of VP, VPx and SL.

    Data: the canonical Gaussian cases (D in 1, 2, 3, 6, 9; closed form) and the paper's
    5-component mixtures (D = 1 exact via quantile quadrature; D in 2, 3, 6, 9 with S_tot from
    Monte Carlo and W2^2 from exact OT between samples, with stderr and bias scale).  Window
    [s0, s1] = [0, T] for VP/VPx, [0, 1 - 1e-3] for SL (whose clock diverges at s = 1).

    Efficiency columns (:func:`efficiency_columns`): ``efficiency`` (null where the sample plug-in
    is not reported, with the reason in ``efficiency_note``), the bracket ``efficiency_lower`` /
    ``efficiency_upper`` clipped to (0, 1], and the number to quote, ``efficiency_quote`` +-
    ``efficiency_quote_error`` of kind ``efficiency_quote_kind`` ("closed-form", "plug-in" or
    "bracket"; see :func:`speed_limit`).
    """
    rows = _speed_gaussian_rows()
    rows += _speed_mixture_rows(options)
    return rows


def _table_processes():
    procs = {k: v for k, v in processes().items() if k in ("vp16", "vpx", "sl")}
    return {k: (p, p.T - 1e-3 if k == "sl" else p.T) for k, p in procs.items()}


def _speed_gaussian_rows() -> list[dict]:
    rows = []
    for pname, (proc, s1) in _table_processes().items():
        for dim in DIMS:
            rows.append(_speed_row("gaussian", dim, pname, speed_limit(gaussian_case(dim), proc, 0.0, s1)))
    return rows


def _speed_mixture_rows(options) -> list[dict]:
    rows = []
    for pname, (proc, s1) in _table_processes().items():
        for dim in (1,) + tuple(MIXTURE_DIMS):
            w, m, sd = paper_mixture_params(dim)
            mix = GaussianMixture(w, m, sd ** 2)
            options.progress(f"speed-limit: mixture D={dim} {pname}")
            opts = {} if dim <= 2 else {"seed": options.seed}
            res = speed_limit(mix, proc, 0.0, s1, w2_samples=500, w2_pairs=6, w2_seed=options.seed, **opts)
            rows.append(_speed_row("mixture", dim, pname, res))
    return rows


def efficiency_columns(eff: Estimate) -> dict:
    """Table columns of an efficiency from :func:`speed_limit` (``result.efficiency``).

    ``efficiency``, ``efficiency_stderr``: the plug-in ``W2^2 / (clock S_tot)`` (null, with the reason
    in ``efficiency_note``, where a sample plug-in's bias scale is not below the bracket width);
    ``efficiency_bias_bound``: its bias scale (``error_bound``); ``efficiency_lower`` /
    ``efficiency_upper``: the closed-form bracket clipped to (0, 1] (null for closed-form rows);
    ``efficiency_quote`` +- ``efficiency_quote_error`` and ``efficiency_quote_kind`` in
    :data:`QUOTE_KINDS`: the number a user should quote (rules in :func:`speed_limit`).
    """
    x = eff.extra
    reported = x.get("plugin") is not None
    return {"efficiency": eff.value if reported else None,
            "efficiency_stderr": eff.stderr if reported else None,
            "efficiency_bias_bound": eff.error_bound,
            "efficiency_note": x.get("plugin_note"),
            "efficiency_lower": x.get("efficiency_lower"), "efficiency_upper": x.get("efficiency_upper"),
            "efficiency_quote": x.get("quote"), "efficiency_quote_error": x.get("quote_error"),
            "efficiency_quote_kind": x.get("quote_kind")}


def _speed_row(kind, dim, pname, res: SpeedLimitResult) -> dict:
    return {"data": kind, "dim": dim, "process": pname, "s0": res.s0, "s1": res.s1,
            "S_tot": res.s_tot.value, "S_tot_stderr": res.s_tot.stderr,
            "W2_squared": res.w2_squared.value, "W2_squared_stderr": res.w2_squared.stderr,
            "W2_squared_bias_scale": res.w2_squared.error_bound,
            "W2_squared_gelbrich_lower": res.w2_squared.extra.get("gelbrich_lower_bound"),
            "W2_squared_componentwise_upper": res.w2_squared.extra.get("componentwise_upper_bound"),
            "clock": float(res.clock), "bound": res.bound.value,
            **efficiency_columns(res.efficiency), "w2_method": res.w2_method, "S_tot_method": res.s_tot.method}


# --------------------------------------------------------------------------- RG suite


_ASYMPTOTE_K0 = (0.2, 0.3, 0.35, 0.4, 0.43, 0.44, ISING2D_KC, 0.442, 0.45, 0.48, 0.5, 0.52, 0.6, 0.8)


_NETWORK_SW2 = (1.0, 1.5, None, 2.0, 2.5, 3.0)     # None -> the critical value at sigma_b2 = 0.05




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
                                                         seed=row_seed(base_seed, 7, k))
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


def rg_rows(options) -> list[dict]:
    """Rows of ``nent-ref table --suite rg``: flows, relative entropies (nats per site / neuron),
    fixed points, the 2-D asymptote across K_c and the network mean-field and Monte Carlo values.

    ``options.seed`` (checked first, before any computation) seeds the Monte Carlo rows."""
    base_seed = suite_seed(options.seed)
    options.progress("rg: 1-D Ising decimation")
    rows = _ising1d_rows(options)
    options.progress("rg: 2-D Ising flows")
    rows += _ising2d_rows(options)
    options.progress("rg: random tanh networks")
    rows += _network_rows(options, base_seed)
    return [{k: (float(v) if isinstance(v, np.floating) else v) for k, v in r.items()} for r in rows]


# --------------------------------------------------------------------------- stat-mech suite
def statmech_rows(options) -> list[dict]:
    """Worked examples for ``nent-ref table --suite statmech`` (entropies in nats).

    ``options.seed`` (checked first by :func:`nent_ref.core.checks.rng`: an int >= 0, a sequence of them, a
    SeedSequence, a Generator or None) draws the maximum-likelihood sample."""
    gen = rng(options.seed, "seed")
    seed = options.seed
    int_seed = isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
    seed_label = str(int(seed)) if int_seed else f"_{type(seed).__name__}"
    rows: list[dict] = []

    def add(example, quantity, value, method, note=""):
        rows.append({"example": example, "quantity": quantity, "value": float(value),
                     "method": method, "note": note})

    faces = np.arange(1, 7)
    options.progress("statmech: Jaynes' die")
    die = max_entropy(faces, 4.5)
    ex = "jaynes_die_mean_4.5"
    add(ex, "theta", die.theta, "newton-dual", "p(k) = exp(theta k)/Z, k = 1..6")
    add(ex, "log_Z_counting", die.log_partition, "newton-dual", "Z = sum_k exp(theta k)")
    add(ex, "A_uniform_base", die.log_partition - math.log(6), "newton-dual",
        "log E_uniform exp(theta k) = log Z - log 6")
    add(ex, "entropy", die.entropy, "newton-dual", "H = log Z - 4.5 theta")
    add(ex, "kl_to_uniform", die.kl, "newton-dual", "= Sanov/Cramer rate of mean >= 4.5 for a fair die")
    for k in range(6):
        add(ex, f"p_{k + 1}", die.q[k], "newton-dual")
    add(ex, "cramer_rate_4.5", cramer_rate(np.full(6, 1 / 6), values=faces, a=4.5), "brent",
        "sup_l [4.5 l - log E exp(l X)]")

    options.progress("statmech: Gaussian maximum entropy")
    g = gaussian_max_entropy(0.0, 2.0)
    add("gaussian_maxent_var_2", "entropy", g.entropy, "closed-form", "0.5 log(2 pi e sigma^2)")

    options.progress("statmech: types")
    p = np.array([0.5, 0.3, 0.2])
    k = np.array([10, 6, 4])
    lo, hi = type_probability_bounds(k, p)
    add("type_n20_P(.5,.3,.2)", "log_prob_type_(10,6,4)", log_type_probability(k, p), "exact-multinomial")
    k2 = np.array([4, 6, 10])
    lo2, hi2 = type_probability_bounds(k2, p)
    add("type_n20_P(.5,.3,.2)", "log_prob_type_(4,6,10)", log_type_probability(k2, p), "exact-multinomial")
    add("type_n20_P(.5,.3,.2)", "log_lower_bound_(4,6,10)", lo2, "closed-form", "-|X| log(n+1) - n KL")
    add("type_n20_P(.5,.3,.2)", "log_upper_bound_(4,6,10)", hi2, "closed-form", "-n KL")

    options.progress("statmech: Gibbs conditioning")
    uniform = np.full(6, 1 / 6)
    for n in (10, 100, 1000):
        cond = gibbs_conditional(uniform, values=faces, n=n, total=int(round(4.5 * n)))
        add("gibbs_conditioning_die_mean_4.5", f"tv_to_iprojection_n{n}", total_variation(cond, die.q),
            "dynamic-programme", "law of X_1 given S_n = 4.5 n")
    for n in (10, 100, 1000):
        lt = log_sum_tail_probability(uniform, values=faces, n=n, total=int(round(4.5 * n)))
        add("cramer_die_tail_4.5", f"minus_log_P_over_n_n{n}", -lt / n, "dynamic-programme",
            "-(1/n) log P(S_n >= 4.5 n) -> kl_to_uniform")

    options.progress("statmech: free energy")
    th = thermodynamics([0.0, 1.0], 1.0)
    for name in ("log_partition", "free_energy", "internal_energy", "entropy", "heat_capacity"):
        add("two_level_eps1_beta1", name, getattr(th, name), "log-Z cumulants")

    options.progress("statmech: Ising ring, exact vs mean field")
    n = 8
    jr = np.zeros((n, n))
    for i in range(n):
        jr[i, (i + 1) % n] = jr[(i + 1) % n, i] = 1.0
    for beta in (0.3, 0.6):
        ex_ = ising_exact(jr, beta, field=np.full(n, 0.1))
        mf = ising_mean_field(jr, beta, field=np.full(n, 0.1))
        add(f"ising_ring8_J1_h0.1_beta{beta}", "free_energy_exact", ex_.free_energy, "enumeration")
        add(f"ising_ring8_J1_h0.1_beta{beta}", "free_energy_mean_field", mf.free_energy, "fixed-point",
            "F_MF >= F")
        add(f"ising_ring8_J1_h0.1_beta{beta}", "magnetization_exact", ex_.magnetization[0], "enumeration")
        add(f"ising_ring8_J1_h0.1_beta{beta}", "magnetization_mean_field", mf.m[0], "fixed-point")

    options.progress("statmech: maximum likelihood = moment matching")
    counts = np.bincount(gen.choice(6, size=200, p=die.q), minlength=6)
    fam = ExponentialFamily(faces)
    theta_hat = fam.fit(counts)
    ex = f"mle_die_200_draws_seed{seed_label}"
    add(ex, "theta_hat", theta_hat, "moment-matching", "draws from the mean-4.5 maxent die")
    add(ex, "sample_mean", (counts / counts.sum()) @ faces, "exact")
    add(ex, "min_log_loss", fam.log_loss(counts, theta_hat), "exact", "= H(p_theta_hat) (duality)")
    add(ex, "entropy_p_theta_hat", fam.entropy(theta_hat), "exact")
    return rows


# --------------------------------------------------------------------------- registry and formats
#: Table suites: name -> function of a :class:`~nent_ref.suites.executor.TableOptions` returning a
#: list of flat dicts (one per row).
SUITES = {
    "empirical": empirical_rows,
    "default": default_rows,
    "gaussian": gaussian_rows,
    "mixture": mixture_rows,
    "paper": paper_rows,
    "rg": rg_rows,
    "speed-limit": speed_limit_rows,
    "statmech": statmech_rows,
}


def _jsonable(value):
    """Turn numpy scalars and non-finite floats into JSON-safe values."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def table_rows(suite: str, options: TableOptions | None = None) -> list[dict]:
    """Compute the rows of one suite (or of every suite for ``"all"``)."""
    options = options or TableOptions()
    # "all": every suite once ("default" is only gaussian + paper again)
    names = [n for n in SUITES if n != "default"] if suite == "all" else [suite]
    rows: list[dict] = []
    for name in names:
        if name not in SUITES:
            raise ValueError(f"unknown suite {name!r}; choose from {sorted(SUITES) + ['all']}")
        options.progress(f"nent-ref: computing suite {name!r}")
        for row in SUITES[name](options):
            rows.append({"suite": name, **row})
    return rows


def format_rows(rows: list[dict], fmt: str, suite: str) -> str:
    """Render rows as JSON (with a header) or CSV (union of columns)."""
    if fmt == "json":
        doc = {"nent_ref_version": __version__, "suite": suite, "units": "nats",
               "rows": [_jsonable(r) for r in rows]}
        return json.dumps(doc, indent=1) + "\n"
    if fmt == "csv":
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _jsonable(v) for k, v in row.items()})
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}; choose 'json' or 'csv'")
