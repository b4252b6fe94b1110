"""The vocabulary of case specifications: the format's version, the quantity names (one name per quantity
across all suites, specs, tables and claims), and the grid and model quantities with their defaults.  Shared
by :mod:`nent_ref.suites.specs` (which re-exports it), :mod:`nent_ref.suites.spec_quantities` and the models of
:mod:`nent_ref.suites.spec_schema`; it imports neither, so the three import no circle."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.estimate import LENGTH2, NAT

__all__ = ["SPEC_VERSION", "Quantity", "QUANTITIES", "GRID_QUANTITIES", "MODEL_QUANTITIES", "GRID_DEFAULTS",
           "MODEL_DEFAULTS"]

#: Version of the spec format (the optional top-level ``version`` field).
SPEC_VERSION = 1

#: Quantities on the spec's time grid: name -> (unit kind, description).
GRID_QUANTITIES = {
    "entropy_production_rate": ("nat/time", "entropy production rate Sdot(s) at every grid time"),
    "S_tot_cumulative": (NAT, "S_tot(s0, s) at every grid time s (0 at s = s0)"),
    "kl_to_equilibrium": (NAT, "KL(p_s || p_eq) at every grid time s"),
    "speed_limit_grid": ("group", "speed limit at every grid time s > s0: S_tot(s0, s), W2^2(p_s0, p_s), the "
                                  "clock tau(s0, s), bound = W2^2 / tau (with stderr and bias scale) and the "
                                  "efficiency"),
}
#: Quantities of the spec's ``model``: name -> (unit kind, description).
MODEL_QUANTITIES = {
    "S_NN": (NAT, "neural entropy of the spec's model on the window (likelihood weighting)"),
    "L_EM": (NAT, "entropy-matching loss of the spec's model on the window (likelihood weighting)"),
    "decomposition": ("group", "S_tot, S_NN, C and L_EM of the model on one set of samples, the identity "
                               "residual L_EM - (S_tot + S_NN - 2C), the bound margin, KL(p_s1 || p_eq) + L_EM"),
}
#: The default grid (filled into the canonical form when a grid quantity is asked for).
GRID_DEFAULTS = {"spacing": "log", "n": 64, "first": 1e-4}
#: The model options and their defaults (those of ``nent-ref validate``).
MODEL_DEFAULTS = {"target": None, "factory": False, "score": None, "n_samples": None, "n_times": None,
                  "rtol": None, "atol": None, "seed": 0, "batch_size": None}


# --------------------------------------------------------------------------- the quantities
@dataclass(frozen=True)
class Quantity:
    """A quantity a spec may ask for: its name (the one name used in every suite), its unit
    (``"nat"`` quantities convert to bits with ``unit: "bit"``), what it is, and whether ``nent-ref check``
    grades claims about it (a scalar with an uncertainty)."""

    name: str
    unit: str
    description: str
    checkable: bool = True


#: The quantity vocabulary: one name per quantity across all suites, specs, tables and claims.
QUANTITIES = {q.name: q for q in (
    Quantity("S_tot", NAT, "total entropy produced on the window, S_tot(s0, s1) = int_s0^s1 Sdot ds "
                           "(= KL(p_s0||p_eq) - KL(p_s1||p_eq) with an equilibrium; H(p_s1) - H(p_s0) for VE)"),
    Quantity("kl_s0_eq", NAT, "KL(p_s0 || p_eq) at the start of the window (s0 = 0: KL(p_data || p_eq))"),
    Quantity("kl_s1_eq", NAT, "KL(p_s1 || p_eq) at the end of the window, what the process leaves undone"),
    Quantity("clock", LENGTH2, "thermodynamic clock int_s0^s1 D(s) ds (squared data units; infinite for SL "
                               "and the cosine VP at s1 = T: null with a reason)"),
    Quantity("S_tot_lower_bound", NAT, "closed-form lower bound on S_tot from the Kolchinsky-Tracey entropy "
                                       "bounds at both ends (mixture, empirical, gaussian, dirac data)"),
    Quantity("S_tot_upper_bound", NAT, "closed-form upper bound on S_tot (Kolchinsky-Tracey)"),
    Quantity("mean_dirac_kl_s0", NAT, "empirical data: mean over atoms of KL(p_s0 || p_eq) of one atom, the "
                                      "upper end of KL(p_s0^emp || p_eq) (which is >= that minus log N)"),
    Quantity("log_N", NAT, "empirical data: log of the number of atoms N"),
    Quantity("S_tot_population", NAT, "empirical data drawn by a generator: S_tot on the window of the "
                                      "population the atoms were drawn from (seed: accuracy.seed + [1])"),
    Quantity("speed_limit", "group", "the speed limit S_tot >= W2^2/clock: columns W2_squared (+ _stderr, "
                                     "_bias_scale, _gelbrich_lower, _componentwise_upper), clock, bound "
                                     "(= W2^2/clock, nats, + _stderr, _bias_scale), efficiency columns "
                                     "(efficiency_quote ...), w2_method, S_tot_method; W2 options accuracy.w2_*",
             checkable=False),
    *(Quantity(name, unit, f"on the spec's grid: {text}", checkable=False)
      for name, (unit, text) in GRID_QUANTITIES.items()),
    *(Quantity(name, unit, text, checkable=False) for name, (unit, text) in MODEL_QUANTITIES.items()),
)}

