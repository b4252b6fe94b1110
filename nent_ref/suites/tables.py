"""Ground-truth tables: the named suites of ``nent-ref table``, their rows, and the output formats.

Every suite is a function ``rows(options) -> list[dict]`` of a
:class:`~nent_ref.suites.executor.TableOptions` (seed, workers, progress), registered in
:data:`SUITES`; :func:`table_rows` runs one (or ``"all"``) and :func:`format_rows` renders JSON or CSV.
Entropies are in nats.  The canonical cases the suites use live in :mod:`nent_ref.suites.cases`.

The diffusion suites (``gaussian``, ``paper``, ``default``, ``mixture``, ``empirical``, ``speed-limit``)
are lists of case specifications (:data:`SUITE_SPECS`, format in docs/specs.md): each row is
:func:`nent_ref.suites.specs.compute_row` of one spec, with the quantities under their one name
(:data:`nent_ref.suites.specs.QUANTITIES`) and the canonical spec in the row's ``spec`` column, so
``nent-ref compute`` on that spec rebuilds the row.  The ``rg`` and ``statmech`` suites are worked
examples outside the diffusion setting; their parameters are columns of their rows.

Non-finite numbers are written as JSON null with the reason in a ``<column>_note`` column (an
infinite clock, an infinite chain), never as strings.
"""
from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from .._version import __version__
from ..core.checks import rng
from ..quantities.speed import SpeedLimitResult
from . import specs
from .cases import (DIMS, EPS, MIXTURE_DIMS, NETWORK_INPUT_VARIANCE, NETWORK_SIGMA_B2, OFFICIAL_PRESETS,
                    official_windows, paper_mixture_params, processes)
from .executor import TableOptions, executor_for, row_seed, suite_seed
from . import spec_quantities
from .specs import efficiency_columns, speed_limit_columns

__all__ = ["SUITES", "SUITE_SPECS", "suite_specs", "run_specs", "table_rows", "format_rows", "shipped_table",
           "efficiency_columns"]


# --------------------------------------------------------------------------- diffusion suites as specs
# Every row of the diffusion suites (gaussian, paper, default, mixture, empirical, speed-limit) is the
# computation of one case specification (nent_ref.suites.specs): the suite lists its specs, each row is
# ``specs.compute_row`` of one and carries its canonical spec, so ``nent-ref compute`` on a row's spec
# gives the row's numbers again.


def _spec_seed(seed):
    """The master seed as a JSON seed (an int >= 0, or a list of them) for the specs the suites write."""
    seed = suite_seed(seed)
    if isinstance(seed, int):
        return seed
    if isinstance(seed, np.random.SeedSequence) and not seed.spawn_key and isinstance(seed.entropy, int):
        return int(seed.entropy)
    raise ValueError("the diffusion suites record each row's seed in its spec, so they need a master seed that is "
                     f"an integer >= 0 (got {seed!r})")


def run_specs(spec_list, options=None, *, extra=None) -> list[dict]:
    """Rows of a list of specs (:func:`nent_ref.suites.specs.compute_row`), Monte Carlo on the options'
    executor; ``extra(spec) -> dict`` adds leading columns (e.g. ``part``)."""
    rows = []
    pairs = [(spec, specs.Case(spec)) for spec in spec_list]
    steps = options.steps(pairs, desc="cases", unit="case", label=lambda p: p[1].label()) if hasattr(
        options, "steps") else pairs
    with executor_for(options) as executor:
        for spec, case in steps:
            row = specs.compute_row(case, executor=executor)
            rows.append({**(extra(spec) if extra else {}), **row})
    return rows


def gaussian_specs(options=None) -> list[dict]:
    """Specs of the closed-form suite: Gaussian and Dirac presets (D in :data:`~nent_ref.suites.cases.DIMS`)
    under the canonical processes, window [0, T] for Gaussians and [EPS, T] for Dirac atoms (whose
    KL(p_data || p_eq) is infinite); S_tot, KL at both ends and the clock."""
    out = []
    for pname, proc in processes().items():
        for dim in DIMS:
            for kind, s0 in (("gaussian", 0.0), ("dirac", EPS)):
                out.append({"id": f"gaussian/{kind}-{dim}d/{pname}",
                            "data": {"kind": "preset", "name": f"{kind}-{dim}d"},
                            "process": {"kind": "preset", "name": pname},
                            "window": {"s0": s0, "s1": proc.T},
                            "quantities": ["S_tot", "kl_s0_eq", "kl_s1_eq", "clock"]})
    return out


def gaussian_rows(options=None) -> list[dict]:
    """Closed-form suite (rows of :func:`gaussian_specs`): S_tot, KL(p_s0 || p_eq), KL(p_s1 || p_eq) and the
    clock; the clock of SL at s1 = 1 is infinite (null, with the reason in ``clock_note``).  Nats."""
    return run_specs(gaussian_specs(options), options)


#: Processes of the paper's analytic settings (VP beta 0.1 -> 16, VPx kappa = 0.1, SL Sigma0 = 0.1).
PAPER_PROCESSES = ("vp16", "vpx", "sl")


#: Training-set sizes of the memoriser rows of the ``paper`` suite.
PAPER_SIZES = (10, 100, 1000)


#: Official mixtures with memoriser rows (the MLP script's mixtures, from which it draws training sets).
PAPER_MEMORISER_PRESETS = ("official-mlp-D2", "official-mlp-D9")




#: End of the efficiency window for processes whose clock diverges at T (SL): T - 1e-3.
EFFICIENCY_END_GAP = 1e-3


def paper_specs(options=None) -> list[dict]:
    """Specs of the ``paper`` suite: the official code's mixtures (:data:`~nent_ref.suites.cases.OFFICIAL_PRESETS`)
    under the paper's processes (:data:`PAPER_PROCESSES`), with the paper's windows.

    For each mixture and process:

    * ``paper/<preset>/<process>``: window [EPS, T]: S_tot, KL(p_s0 || p_eq), KL(p_s1 || p_eq) and, for VP
      and VPx, the speed limit (W2^2 from exact OT between 500-point samples, 6 pairs, and the efficiency
      with its closed-form bracket);
    * ``.../efficiency`` (SL only, whose clock diverges at 1): window [EPS, T - 1e-3], S_tot and the speed limit;
    * ``.../official-S_tot-window``: S_tot(1e-5, 0.98990), the window of the S_tot the official estimator
      reports (second-to-last node of linspace(1e-5, 1, 100));
    * ``.../official-S_NN-window``: S_tot(0.010111, 0.98990), the window of its neural-entropy integral
      (for the exact score S_NN = S_tot on it).

    Memoriser rows ``paper/<preset>/<process>/memoriser-N<n>`` for :data:`PAPER_MEMORISER_PRESETS`: the exact
    S_tot(EPS, T) of n atoms drawn from the mixture (n in :data:`PAPER_SIZES`), the entropy a network that
    memorises its training set must store.  Monte Carlo to the library's default precision (stderr <=
    max(1e-3 |value|, 1e-3) per quantity, nent_ref.quantities.mixture_entropy.DEFAULT_RTOL), seeds from
    ``options.seed``; 2-D mixtures by cubature.
    """
    seed = _spec_seed(getattr(options, "seed", 0))
    windows = official_windows()
    out = []
    for k, preset in enumerate(OFFICIAL_PRESETS):
        data = {"kind": "preset", "name": preset}
        for pname in PAPER_PROCESSES:
            proc = processes()[pname]
            base = f"paper/{preset}/{pname}"
            acc = {"seed": [seed, 6, k], "w2_samples": 500, "w2_pairs": 6, "w2_seed": [seed, 7, k]}
            process = {"kind": "preset", "name": pname}
            main = ["S_tot", "kl_s0_eq", "kl_s1_eq"] + ([] if proc.singular_at_T else ["speed_limit"])
            out.append({"id": base, "data": data, "process": process, "window": {"s0": EPS, "s1": proc.T},
                        "quantities": main, "accuracy": acc})
            if proc.singular_at_T:
                out.append({"id": f"{base}/efficiency", "data": data, "process": process,
                            "window": {"s0": EPS, "s1": proc.T - EFFICIENCY_END_GAP},
                            "quantities": ["S_tot", "speed_limit"], "accuracy": acc})
            for label, (a, b) in (("S_tot", windows["S_tot"]), ("S_NN", windows["S_NN"])):
                out.append({"id": f"{base}/official-{label}-window", "data": data, "process": process,
                            "window": {"s0": a, "s1": b}, "quantities": ["S_tot"],
                            "accuracy": {"seed": [seed, 10, k, len(label)]}})
            if preset in PAPER_MEMORISER_PRESETS:
                for n in PAPER_SIZES:
                    out.append({"id": f"{base}/memoriser-N{n}",
                                "data": {"kind": "empirical",
                                         "generator": {"sample": data, "n": n, "seed": [seed, 8, k, n]}},
                                "process": process, "window": {"s0": EPS, "s1": proc.T}, "quantities": ["S_tot"],
                                "accuracy": {"method": "monte-carlo", "seed": [seed, 9, k, n]}})
    return out


def paper_rows(options=None) -> list[dict]:
    """Suite ``paper``: the rows of :func:`paper_specs` (the official mixtures with the paper's processes and
    windows, and the memoriser baseline).  Nats."""
    return run_specs(paper_specs(options), options)


def default_rows(options=None) -> list[dict]:
    """Suite ``default`` (what ``nent-ref table`` prints): the closed-form ``gaussian`` suite
    followed by the ``paper`` suite, each row tagged with its sub-suite."""
    return ([{"part": "gaussian", **r} for r in gaussian_rows(options)]
            + [{"part": "paper", **r} for r in paper_rows(options)])


def shipped_table() -> dict:
    """The versioned default table shipped with the package (``nent-ref table`` output, JSON).

    Regenerate with ``nent-ref table --quiet --out nent_ref/reference/default_table.json`` after any
    change that moves a number; ``tests/test_shipped_table.py`` recomputes a subset from the rows' own
    specs and compares.
    """
    from importlib import resources
    return json.loads(resources.files("nent_ref").joinpath("reference/default_table.json").read_text())


# --------------------------------------------------------------------------- mixture and empirical suites
def mixture_specs(options=None) -> list[dict]:
    """Specs of the ``mixture`` suite: nent_ref's paper-like 5-component mixtures (presets ``mixture-<D>d``,
    D in 2, 3, 6, 9) under the canonical processes, window [0, T]: S_tot and both KLs (quadrature in 2-D,
    Monte Carlo otherwise) with the Kolchinsky-Tracey bounds."""
    seed = _spec_seed(getattr(options, "seed", 0))
    return [{"id": f"mixture/mixture-{dim}d/{pname}", "data": {"kind": "preset", "name": f"mixture-{dim}d"},
             "process": {"kind": "preset", "name": pname}, "window": {"s0": 0.0, "s1": proc.T},
             "quantities": ["S_tot", "kl_s0_eq", "kl_s1_eq", "S_tot_lower_bound", "S_tot_upper_bound"],
             "accuracy": {"seed": [seed, dim]}}
            for pname, proc in processes().items() for dim in MIXTURE_DIMS]


def mixture_rows(options=None) -> list[dict]:
    """Suite ``mixture``: the rows of :func:`mixture_specs`.  Nats."""
    return run_specs(mixture_specs(options), options)


#: Atom counts of the ``empirical`` suite.
EMPIRICAL_SIZES = (10, 100, 1000)


def empirical_specs(options=None) -> list[dict]:
    """Specs of the ``empirical`` suite, the memoriser baseline: N atoms drawn from the ``mixture-<D>d`` preset
    (D in 2, 3, 6, 9; N in :data:`EMPIRICAL_SIZES`) under the canonical processes, window [EPS, T]: S_tot,
    both KLs, the mean Dirac KL (the upper end of KL(p_s0^emp || p_eq)), log N and the population's
    S_tot on the same window.  Monte Carlo to the library's default precision (stderr <= max(1e-3 |value|,
    1e-3)), quadrature in 2-D for N <= 64."""
    seed = _spec_seed(getattr(options, "seed", 0))
    return [{"id": f"empirical/mixture-{dim}d-N{N}/{pname}",
             "data": {"kind": "empirical", "generator": {"sample": {"kind": "preset", "name": f"mixture-{dim}d"},
                                                         "n": N, "seed": [seed, dim, N]}},
             "process": {"kind": "preset", "name": pname}, "window": {"s0": EPS, "s1": proc.T},
             "quantities": ["S_tot", "kl_s0_eq", "kl_s1_eq", "mean_dirac_kl_s0", "log_N", "S_tot_population"],
             "accuracy": {"seed": [seed, dim, N, 1]}}
            for pname, proc in processes().items() for dim in MIXTURE_DIMS for N in EMPIRICAL_SIZES]


def empirical_rows(options=None) -> list[dict]:
    """Suite ``empirical``: the rows of :func:`empirical_specs`.  Nats."""
    return run_specs(empirical_specs(options), options)


# --------------------------------------------------------------------------- speed-limit suite
def _table_processes():
    procs = {k: v for k, v in processes().items() if k in ("vp16", "vpx", "sl")}
    return {k: (p, p.T - EFFICIENCY_END_GAP if p.singular_at_T else p.T) for k, p in procs.items()}


def speed_limit_specs(options=None) -> list[dict]:
    """Specs of ``nent-ref table --suite speed-limit``: the efficiency W2^2 / (clock S_tot) of VP, VPx and SL.

    Data: the Gaussian presets (D in 1, 2, 3, 6, 9; closed form) and nent_ref's paper-like 5-component
    mixtures (D = 1 inline, exact W2 by quantile quadrature; D in 2, 3, 6, 9 with W2^2 from exact OT between
    500-point samples, 6 pairs, and S_tot by cubature in 2-D, Monte Carlo otherwise).  Window [0, T] for
    VP/VPx, [0, 1 - 1e-3] for SL (whose clock diverges at s = 1).
    """
    seed = _spec_seed(getattr(options, "seed", 0))
    out = []
    for pname, (proc, s1) in _table_processes().items():
        for dim in DIMS:
            out.append({"id": f"speed-limit/gaussian-{dim}d/{pname}",
                        "data": {"kind": "preset", "name": f"gaussian-{dim}d"},
                        "process": {"kind": "preset", "name": pname}, "window": {"s0": 0.0, "s1": s1},
                        "quantities": ["speed_limit"]})
    for pname, (proc, s1) in _table_processes().items():
        for dim in (1,) + tuple(MIXTURE_DIMS):
            if dim == 1:
                w, m, sd = paper_mixture_params(1)
                data = {"kind": "mixture", "weights": w.tolist(), "means": m.tolist(), "stds": sd.tolist()}
            else:
                data = {"kind": "preset", "name": f"mixture-{dim}d"}
            out.append({"id": f"speed-limit/mixture-{dim}d/{pname}", "data": data,
                        "process": {"kind": "preset", "name": pname}, "window": {"s0": 0.0, "s1": s1},
                        "quantities": ["speed_limit"],
                        "accuracy": {"seed": seed, "w2_samples": 500, "w2_pairs": 6, "w2_seed": seed}})
    return out


def speed_limit_rows(options) -> list[dict]:
    """``nent-ref table --suite speed-limit``: the rows of :func:`speed_limit_specs`.

    Efficiency columns (:func:`efficiency_columns`): ``efficiency`` (null where the sample plug-in
    is not reported, with the reason in ``efficiency_note``), the bracket ``efficiency_lower`` /
    ``efficiency_upper`` clipped to (0, 1], and the number to quote, ``efficiency_quote`` +-
    ``efficiency_quote_error`` of kind ``efficiency_quote_kind`` ("closed-form", "plug-in" or
    "bracket"; see :func:`speed_limit`).
    """
    return run_specs(speed_limit_specs(options), options)


def _speed_gaussian_rows() -> list[dict]:
    """The closed-form (Gaussian) part of the speed-limit suite as plain rows (:func:`_speed_row`, no specs)."""
    rows = []
    for spec in speed_limit_specs():
        if spec["data"].get("name", "").startswith("gaussian-"):
            case = specs.Case(spec)
            res = specs.compute(case)["speed_limit"]
            rows.append(_speed_row("gaussian", case.data.dim, spec["process"]["name"], res))
    return rows


def _speed_row(kind, dim, pname, res: SpeedLimitResult) -> dict:
    return {"data": kind, "dim": dim, "process": pname, "s0": res.s0, "s1": res.s1, **speed_limit_columns(res)}


# --------------------------------------------------------------------------- RG suite


#: Starting couplings of the 2-D asymptote rows; None stands for Onsager's K_c (rg.ISING2D_KC, read when the
#: rows are computed: the rg module loads scipy.integrate/optimize).
_ASYMPTOTE_K0 = (0.2, 0.3, 0.35, 0.4, 0.43, 0.44, None, 0.442, 0.45, 0.48, 0.5, 0.52, 0.6, 0.8)


_NETWORK_SW2 = (1.0, 1.5, None, 2.0, 2.5, 3.0)     # None -> the critical value at sigma_b2 = 0.05




#: The N column of rows of the infinite 1-D chain (null in JSON, with the reason).
_INFINITE_CHAIN = {"N": math.inf, "N_note": "infinite chain (thermodynamic limit)"}


def _ising1d_rows(options) -> list[dict]:
    from ..rg import (  # noqa: PLC0415  (loaded on first use, with scipy.integrate/optimize)
        ising1d_flow, ising1d_kl_lifted_coarse_vs_original_per_site, ising1d_kl_limits,
        ising1d_kl_original_vs_lifted_coarse_per_site, ising1d_kl_original_vs_renormalised_per_site,
        ising1d_kl_renormalised_vs_original_per_site,
    )
    rows = []
    for K0, h0 in ((0.5, 0.0), (1.0, 0.0), (2.0, 0.0), (1.0, 0.2)):
        flow = ising1d_flow(K0, h0, 10)
        for n in range(11):
            rows.append({
                "section": "ising1d_flow", "K0": K0, "h0": h0, "n": n, **_INFINITE_CHAIN,
                "K_n": flow.K[n], "h_n": flow.h[n],
                "kl_original_vs_renormalised_per_site": ising1d_kl_original_vs_renormalised_per_site(K0, h0, n),
                "kl_renormalised_vs_original_per_site": ising1d_kl_renormalised_vs_original_per_site(K0, h0, n),
                "kl_original_vs_lifted_coarse_per_site": ising1d_kl_original_vs_lifted_coarse_per_site(K0, h0, n),
                "kl_lifted_coarse_vs_original_per_site": ising1d_kl_lifted_coarse_vs_original_per_site(K0, h0, n),
            })
        lim = ising1d_kl_limits(K0, h0)
        rows.append({"section": "ising1d_limit", "K0": K0, "h0": h0, "n": math.inf,
                     "n_note": "limit of infinitely many decimation steps", **_INFINITE_CHAIN,
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
    from ..rg import (  # noqa: PLC0415  (loaded on first use, with scipy.integrate/optimize)
        ISING2D_KC, ISING2D_SCHEMES, ising2d_decimation_couplings, ising2d_flow, ising2d_kl_asymptotes,
        ising2d_kl_original_vs_renormalised_per_site, ising2d_kl_renormalised_vs_original_per_site,
        ising2d_rg_eigenvalue, ising2d_thermo,
    )
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
        for K0 in (ISING2D_KC if k is None else k for k in _ASYMPTOTE_K0):
            a = ising2d_kl_asymptotes(K0, scheme)
            rows.append({"section": "ising2d_asymptote", "scheme": scheme, "K0": K0,
                         "K0_over_Kc": K0 / ISING2D_KC, "K_star": a["K_star"], "flows_to": a["phase"],
                         "kl_original_vs_renormalised_per_site": a["original_vs_renormalised"],
                         "kl_renormalised_vs_original_per_site": a["renormalised_vs_original"]})
    return rows


def _network_rows(options, base_seed) -> list[dict]:
    from ..rg import (  # noqa: PLC0415  (loaded on first use, with scipy.integrate/optimize)
        network_kl_gaussian_fit_layer0_vs_layer_l_meanfield, network_kl_layer0_vs_layer_l_pushforward_mc,
        network_kl_layer0_vs_layer_l_pushforward_meanfield, tanh_length_sequence, tanh_meanfield,
        tanh_order_to_chaos_sigma_w2,
    )
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
    from ..statmech import (  # noqa: PLC0415  (loaded on first use)
        ExponentialFamily, cramer_rate, gaussian_max_entropy, gibbs_conditional, ising_exact,
        ising_mean_field, log_sum_tail_probability, log_type_probability, max_entropy, thermodynamics,
        total_variation, type_probability_bounds,
    )
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

#: The specs of the diffusion suites: name -> function of the options returning the list of specs whose
#: rows the suite prints (``default`` is ``gaussian`` followed by ``paper``).
SUITE_SPECS = {
    "empirical": empirical_specs,
    "default": lambda options=None: gaussian_specs(options) + paper_specs(options),
    "gaussian": gaussian_specs,
    "mixture": mixture_specs,
    "paper": paper_specs,
    "speed-limit": speed_limit_specs,
}


def suite_specs(suite: str, options=None) -> list[dict]:
    """The specs of a diffusion suite (:data:`SUITE_SPECS`); ValueError for rg/statmech/unknown names."""
    if suite not in SUITE_SPECS:
        raise ValueError(f"suite {suite!r} is not made of case specs; choose from {sorted(SUITE_SPECS)}")
    return SUITE_SPECS[suite](options)


def _note_nonfinite(row: dict) -> dict:
    """A copy of a row where every non-finite float has a ``<key>_note`` (added when missing)."""
    out = dict(row)
    for key, val in row.items():
        if isinstance(val, (float, np.floating)) and not math.isfinite(val) and f"{key}_note" not in row:
            out[f"{key}_note"] = "not a number (NaN)" if math.isnan(val) else ("+infinite" if val > 0 else "-infinite")
    return out


def _jsonable(value):
    """Turn numpy scalars into Python ones and non-finite floats into None (JSON null)."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
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
    for name in options.steps(names, desc="suites", unit="suite"):
        for row in SUITES[name](options):
            rows.append({"suite": name, **row})
    return rows


def _csv_cell(value):
    value = _jsonable(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value


def format_rows(rows: list[dict], fmt: str, suite: str | None, *, units: str = "nats", command: str = "table",
                source: str | None = None) -> str:
    """Render rows as JSON (with a header: version, command, suite or source, ``units`` -- the unit of
    information of the entropy columns -- and ``column_units``, the unit of every column that has one,
    by :func:`nent_ref.suites.spec_quantities.column_unit`) or CSV (union of columns; the line after the
    header is the units row, its first cell ``# units`` unless that column has a unit; a ``spec`` column
    holds compact JSON).

    Non-finite numbers become null (empty in CSV) with a ``<column>_note`` saying why."""
    rows = [_note_nonfinite(r) for r in rows]
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    info = "bit" if str(units).startswith("bit") else ("nat" if str(units).startswith("nat") else "nat or bit")
    col_units = spec_quantities.column_units(columns, info)
    if fmt == "json":
        doc = {"nent_ref_version": __version__, "command": command}
        if suite is not None:
            doc["suite"] = suite
        if source is not None:
            doc["source"] = str(source)
        doc.update(units=units, column_units={c: u for c, u in col_units.items() if u}, rows=[_jsonable(r) for r in rows])
        return json.dumps(doc, indent=1, allow_nan=False) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        units_row = dict(col_units)
        if columns and not units_row[columns[0]]:
            units_row[columns[0]] = "# units"      # the second line is the units row (skip it: skiprows=[1])
        writer.writerow(units_row)
        for row in rows:
            writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}; choose 'json' or 'csv'")
