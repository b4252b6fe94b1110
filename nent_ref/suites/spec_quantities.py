r"""The parts of a case spec beyond scalars on a window: quantities on a time grid, a user's model, and
the unit of every output column.

Grid quantities (``"grid"`` in a spec, docs/specs.md)
-----------------------------------------------------
``entropy_production_rate``
    :math:`\dot S(s)` at every grid time (nats per unit time).
``S_tot_cumulative``
    :math:`S_{tot}(s_0, s) = \int_{s_0}^{s}\dot S\,ds'` at every grid time (nats; 0 at ``s = s0``).
``kl_to_equilibrium``
    :math:`\mathrm{KL}(p_s\,\|\,p_{eq})` at every grid time (nats; processes with an equilibrium).
``speed_limit_grid``
    both sides of the speed limit :math:`S_{tot}(s_0, s) \ge W_2^2(p_{s_0}, p_s)/\tau(s_0, s)` at every
    grid time ``s > s0`` (``s = s0`` is left out: the window has length 0 there).

The grid is ``{"n": 64, "spacing": "log"}`` (the default), ``{"n": N, "spacing": "linear"}`` or
explicit ``{"times": [...]}`` inside the window.  ``"log"`` spacing is logarithmic in the time since
``s0``: :math:`s_i = s_0 + (s_1 - s_0)\,f^{1 - i/(n-1)}` for ``i = 0 .. n-1`` with ``f = first``
(default 1e-4), so the grid resolves the fast start of the process (where the rate is largest) and
ends at ``s1``; ``"linear"`` is ``linspace(s0, s1, n)``.

Model quantities (``"model"`` in a spec)
----------------------------------------
``S_NN``, ``L_EM`` and ``decomposition`` of a score model named ``"package.module:function"``
(:func:`nent_ref.quantities.neural.decompose`, likelihood weighting, with the exact S_tot of the case),
with the options of ``nent-ref validate``: ``factory``, ``score``, ``n_samples``, ``n_times``,
``rtol``, ``atol``, ``seed``, ``batch_size``.

Units
-----
:func:`column_unit` names the unit of any output column (``nat``/``bit``, ``nat/time``, ``length^2``,
``1`` for dimensionless ratios, ``time``, ``count``; ``""`` for text columns).
"""
from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import numpy as np

from ..core.estimate import DIMENSIONLESS, LENGTH2, NAT, Estimate
from ..quantities.entropy import entropy_production_rate, kl_to_equilibrium, total_entropy
from ..quantities.speed import speed_limit
from .spec_errors import SpecError
from .spec_vocabulary import GRID_DEFAULTS, GRID_QUANTITIES, MODEL_DEFAULTS, MODEL_QUANTITIES

__all__ = ["GRID_QUANTITIES", "MODEL_QUANTITIES", "GRID_DEFAULTS", "MODEL_DEFAULTS", "normalize_grid",
           "grid_times", "normalize_model", "load_model", "ModelRaised", "compute_grid_quantity",
           "compute_model_quantities", "grid_columns", "model_columns", "column_unit", "column_units",
           "negative_note", "NONNEGATIVE"]

#: Quantities that are never negative (a negative Monte Carlo estimate gets a note).
NONNEGATIVE = ("S_tot", "kl_s0_eq", "kl_s1_eq", "S_tot_cumulative", "kl_to_equilibrium", "S_NN", "L_EM",
               "entropy_production_rate")


# --------------------------------------------------------------------------- grid
def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def normalize_grid(g, path: str, s0: float, s1: float) -> dict:
    """Canonical grid: ``{"spacing": "log"|"linear", "n": int, "first": float}`` (``first`` for log spacing
    only) or ``{"times": [floats]}``, the defaults :data:`GRID_DEFAULTS` filled in (``g=None``: the default
    grid).

    ``g`` is checked by the spec models (:func:`nent_ref.suites.spec_schema.check_grid`): its keys, ``n`` in
    [2, 4096], ``first`` in (0, 1), ``first`` with log spacing only, explicit times finite and strictly
    increasing; and explicit times inside the window ``[s0, s1]``.  Errors are :class:`SpecError` naming
    ``path`` and the field."""
    from . import spec_schema                      # at call time: pydantic loads with the first spec
    if g is not None:
        g = spec_schema.check_grid(g, path)
    g = {k: v for k, v in (g or {}).items() if v is not None}
    if "times" in g and not (s0 <= min(g["times"]) and max(g["times"]) <= s1):
        raise SpecError(_join_path(path, "times"), f"must lie in the window [s0, s1] = [{s0}, {s1}] "
                                                   f"(got {min(g['times'])} .. {max(g['times'])})")
    if "times" in g:
        return {"times": [float(x) for x in g["times"]]}
    spacing = g.get("spacing", GRID_DEFAULTS["spacing"])
    out = {"spacing": spacing, "n": int(g.get("n", GRID_DEFAULTS["n"]))}
    if spacing == "log":
        out["first"] = float(g.get("first", GRID_DEFAULTS["first"]))
    return out


def grid_times(grid: dict, s0: float, s1: float) -> np.ndarray:
    """The times of a canonical grid on the window [s0, s1] (see the module docstring)."""
    if "times" in grid:
        return np.asarray(grid["times"], dtype=float)
    n = grid["n"]
    if grid["spacing"] == "linear":
        return np.linspace(s0, s1, n)
    frac = grid["first"] ** (1.0 - np.arange(n) / (n - 1))
    t = s0 + (s1 - s0) * frac
    t[-1] = s1
    return t


# --------------------------------------------------------------------------- grid quantities
def compute_grid_quantity(name: str, data, process, s0: float, s1: float, times: np.ndarray, opts: dict,
                          acc: dict):
    """The grid quantity ``name`` at ``times``: an Estimate with array values, or (``speed_limit_grid``)
    a dict of arrays (see :func:`grid_columns`).  ``opts`` are the accuracy options of the case."""
    if name == "entropy_production_rate":
        return entropy_production_rate(data, process, times, **opts)
    if name == "kl_to_equilibrium":
        return kl_to_equilibrium(data, process, times, **opts)
    if name == "S_tot_cumulative":
        return total_entropy(data, process, s0, times, **opts)
    if name == "speed_limit_grid":
        return _speed_limit_grid(data, process, s0, times, opts, acc)
    raise ValueError(f"no grid quantity {name!r}")


#: Entries of the ``speed_limit_grid`` result that are null by design where they are not available (NaN in the
#: result, null in the row, with the reason in ``speed_limit_grid_efficiency_note``): the sample plug-in
#: efficiency where its bias dominates, the bracket of a closed-form W2, Gelbrich's bound where it has none.
NULLABLE_GRID_COLUMNS = frozenset(f"speed_limit_grid.{k}" for k in (
    "efficiency", "efficiency_stderr", "efficiency_lower", "efficiency_upper", "gelbrich_bound"))


def _speed_limit_grid(data, process, s0, times, opts, acc) -> dict:
    t = times[times > s0]
    stot = total_entropy(data, process, s0, t, **opts)
    keys = ("W2_squared", "W2_squared_stderr", "W2_squared_bias_scale", "clock", "bound", "bound_stderr",
            "bound_bias_scale", "S_tot", "S_tot_stderr", "efficiency", "efficiency_stderr", "efficiency_lower",
            "efficiency_upper", "efficiency_quote", "efficiency_quote_error", "gelbrich_bound")
    cols = {k: [] for k in keys}
    methods = set()
    for i, s in enumerate(t):
        st = Estimate(float(stot.value[i]), float(np.ravel(stot.stderr)[i] if np.ndim(stot.stderr) else
                                                  stot.stderr), stot.method,
                      float(np.ravel(stot.error_bound)[i] if np.ndim(stot.error_bound) else stot.error_bound),
                      unit=NAT)
        res = speed_limit(data, process, s0, float(s), w2_method=acc.get("w2_method", "auto"),
                          w2_samples=acc.get("w2_samples", 1000), w2_pairs=acc.get("w2_pairs", 8),
                          w2_seed=_child(acc.get("w2_seed", 0), i), s_tot=st)
        methods.add(res.w2_method)
        w2, b, eff = res.w2_squared, res.bound, res.efficiency
        for k, v in (("W2_squared", w2.value), ("W2_squared_stderr", w2.stderr),
                     ("W2_squared_bias_scale", w2.error_bound), ("clock", float(res.clock)), ("bound", b.value),
                     ("bound_stderr", b.stderr), ("bound_bias_scale", b.error_bound), ("S_tot", st.value),
                     ("S_tot_stderr", st.stderr)):
            cols[k].append(float(v))
        # the efficiency as speed_limit's own columns give it: the sample plug-in only where its bias scale is
        # below the width of the closed-form bracket (else null: near s0 the plug-in W2^2 of two samples is
        # all bias and its eta runs to 1e8), with the bracket and the number to quote at every time
        x = eff.extra or {}
        plugin = x.get("plugin", eff.value)
        cols["efficiency"].append(math.nan if plugin is None else float(eff.value))
        cols["efficiency_stderr"].append(math.nan if plugin is None else float(eff.stderr))
        for k, xk in (("efficiency_lower", "efficiency_lower"), ("efficiency_upper", "efficiency_upper"),
                      ("efficiency_quote", "quote"), ("efficiency_quote_error", "quote_error")):
            cols[k].append(math.nan if x.get(xk) is None else float(x[xk]))
        # Gelbrich's moment bound on W2^2 (never above the true W2^2) over the clock: a bound on S_tot that
        # does not inherit the plug-in's upward bias (sampled W2 only; the closed forms equal W2^2 itself)
        gel = w2.extra.get("gelbrich_lower_bound") if w2.extra else None
        cols["gelbrich_bound"].append(float(w2.value if gel is None and res.w2_method != "samples" else
                                            (gel if gel is not None else math.nan)) / float(res.clock))
    out = {"s": t}
    out.update({k: np.asarray(v) for k, v in cols.items()})
    out["w2_method"] = ", ".join(sorted(methods))
    if np.any(np.isnan(out["efficiency"])):
        out["efficiency_note"] = ("efficiency null where the sample plug-in's bias scale is not below the width of "
                                  "the closed-form bracket [efficiency_lower, efficiency_upper]; quote "
                                  "efficiency_quote +- efficiency_quote_error there")
    out["S_tot_method"] = stot.method
    return out


def _child(seed, key):
    return [seed, key] if _is_int(seed) else [*seed, key]


def _as_list(x, n):
    a = np.asarray(x, dtype=float)
    return np.broadcast_to(a, (n,)).tolist() if a.ndim == 0 else a.tolist()


def grid_columns(name: str, res, times: np.ndarray, info_unit: str) -> dict:
    """Row columns of a grid quantity: lists of numbers (one entry per grid time) and its method/unit.

    An Estimate gives ``<name>``, ``<name>_stderr``, ``<name>_error_bound``, ``<name>_method`` and
    ``<name>_unit``; ``speed_limit_grid`` gives ``speed_limit_grid_s`` (the grid times > s0) and
    ``speed_limit_grid_<column>`` for W2_squared (+ _stderr, _bias_scale), clock, bound (+ _stderr,
    _bias_scale), S_tot (+ _stderr), efficiency (+ _stderr; null where a sampled plug-in's bias scale is not
    below the width of the closed-form bracket, as in ``speed_limit``'s own columns), efficiency_lower /
    efficiency_upper (that bracket; null for closed-form W2), efficiency_quote (+ _error: the number to quote,
    rules in :func:`nent_ref.speed_limit`) and gelbrich_bound (Gelbrich's moment lower
    bound on W2^2 over the clock: a lower bound on S_tot free of the sample plug-in's upward bias; equal to
    ``bound`` for closed-form W2; null where unavailable)."""
    if isinstance(res, Estimate):
        n = times.size
        cols = {name: _as_list(res.value, n), f"{name}_stderr": _as_list(res.stderr, n),
                f"{name}_error_bound": _as_list(res.error_bound, n), f"{name}_method": res.method,
                f"{name}_unit": res.unit}
        if res.n_samples is not None:
            cols[f"{name}_n_samples"] = int(np.max(res.n_samples))
        return cols
    cols = {f"{name}_s": res["s"].tolist()}
    for k, v in res.items():
        if k != "s":
            cols[f"{name}_{k}"] = ([None if not math.isfinite(x) else x for x in v.tolist()]
                                   if isinstance(v, np.ndarray) else v)
    cols[f"{name}_unit"] = "group"
    return cols


# --------------------------------------------------------------------------- model
def normalize_model(m, path: str) -> dict:
    """Canonical model spec from ``"package.module:function"`` or an object with ``target`` and the options
    of ``nent-ref validate``: :data:`MODEL_DEFAULTS` filled in, tolerances as floats.

    ``m`` is checked by the spec models (:func:`nent_ref.suites.spec_schema.check_model`): its keys, the form
    of ``target``, the types and ranges of the options; errors are :class:`SpecError` naming ``path``."""
    from . import spec_schema                      # at call time: pydantic loads with the first spec
    m = spec_schema.check_model(m, path)
    if isinstance(m, str):
        m = {"target": m}
    out = dict(MODEL_DEFAULTS)
    out.update({k: v for k, v in m.items() if v is not None})
    for key in ("rtol", "atol"):
        if out[key] is not None:
            out[key] = float(out[key])
    return out


class ModelRaised(Exception):
    """The spec's model (its module, its factory or the model itself) raised; the message says where.
    ``nent-ref compute`` exits 3 on it, as ``nent-ref validate`` does."""


def load_model(model: dict, data, process, base_dir, path: str = "model"):
    """The callable ``e(x, s)`` named by a canonical model spec (imported from the spec's directory, then the
    working directory and sys.path; a factory is called as ``f(data, process)``; torch modules and JAX
    functions are adapted)."""
    from .validation import adapt                  # noqa: PLC0415  (torch/jax adapters, loaded lazily)
    module_name, _, attr_path = model["target"].partition(":")
    for d in (str(Path(base_dir).resolve()), str(Path.cwd())):
        if d not in sys.path:
            sys.path.insert(0, d)
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise SpecError(_join(path, "target"), f"no module named {exc.name!r} (searched the spec's directory, "
                                                   "the working directory and sys.path)") from None
        raise ModelRaised(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise ModelRaised(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from exc
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise SpecError(_join(path, "target"), f"{getattr(obj, '__name__', module_name)!r} has no attribute "
                                                   f"{part!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(_join(path, "target"), f"{model['target']!r} is a {type(obj).__name__}, not a callable")
    if model["factory"]:
        try:
            obj = obj(data, process)
        except Exception as exc:
            raise ModelRaised(f"the factory {model['target']}(data, process) raised {type(exc).__name__}: "
                              f"{exc}") from exc
        if not callable(obj):
            raise SpecError(_join(path, "factory"), f"the factory returned a {type(obj).__name__}, not a model")
    return adapt(obj)


class _Guarded:
    """The user's model with its exceptions turned into :class:`ModelRaised` (nent_ref's own ValueErrors
    about the model's output still come from the checks around the call)."""

    def __init__(self, fn, label):
        self._fn, self._label = fn, label
        for attr in ("kind", "batch_size"):
            if hasattr(fn, attr):
                setattr(self, attr, getattr(fn, attr))

    def __call__(self, x, s):
        try:
            return self._fn(x, s)
        except Exception as exc:
            raise ModelRaised(f"the model {self._label} raised {type(exc).__name__}: {exc}") from exc


def compute_model_quantities(model_spec: dict, data, process, s0, s1, s_tot, base_dir, executor=None):
    """:func:`nent_ref.quantities.neural.decompose` of the spec's model with its options; returns the
    Decomposition (S_NN, C, L_EM ... in nats)."""
    from ..quantities.neural import decompose
    fn = _Guarded(load_model(model_spec, data, process, base_dir), model_spec["target"])
    kw = {k: model_spec[k] for k in ("n_samples", "n_times", "rtol", "atol") if model_spec[k] is not None}
    if model_spec["batch_size"] is not None:
        kw["chunk_size"] = model_spec["batch_size"]
    return decompose(fn, data, process, s0, s1, score=model_spec["score"], seed=model_spec["seed"],
                     executor=executor, s_tot=s_tot, **kw)


def model_columns(wanted, dec, unit: str) -> dict:
    """Row columns of the model quantities asked for (``S_NN``, ``L_EM``; ``decomposition`` adds C, the
    identity residual, the bound margin, the likelihood bound and the Monte Carlo S_tot check)."""
    conv = (lambda e: e.in_base(2)) if unit == "bit" else (lambda e: e)      # noqa: E731
    parts = []
    if "S_NN" in wanted or "decomposition" in wanted:
        parts.append(("S_NN", dec.s_nn))
    if "L_EM" in wanted or "decomposition" in wanted:
        parts.append(("L_EM", dec.l_em))
    if "decomposition" in wanted:
        parts += [("C", dec.cross), ("S_tot_mc", dec.s_tot_mc), ("identity_residual", dec.residual),
                  ("bound_margin", dec.bound_margin)]
        if dec.likelihood_bound is not None:
            parts.append(("likelihood_bound", dec.likelihood_bound))
    cols = {}
    for name, est in parts:
        e = conv(est) if est.unit == NAT else est
        cols.update({name: e.value, f"{name}_stderr": e.stderr, f"{name}_error_bound": e.error_bound,
                     f"{name}_method": e.method, f"{name}_unit": e.unit})
        if e.n_samples is not None:
            cols[f"{name}_n_samples"] = int(e.n_samples)
    return cols


# --------------------------------------------------------------------------- units and notes
_SUFFIXES = ("_stderr", "_error_bound", "_bias_scale", "_bias_bound", "_gelbrich_lower", "_componentwise_upper",
             "_quote_error", "_lower", "_upper", "_quote")
_COUNT = ("dim", "n_atoms", "N", "n_samples")
_TIME = ("s0", "s1", "s", "t", "T", "grid_s")


def column_unit(column: str, info: str = NAT) -> str:
    """Unit of an output column by its name: ``info`` (``"nat"`` or ``"bit"``) for entropies, divergences
    and the speed-limit bound, ``info + "/time"`` for rates, ``"length^2"`` for W2^2 and the clock, ``"1"``
    for efficiencies and ratios, ``"time"`` for times, ``"count"`` for sizes and sample counts, ``""`` for
    text and columns without a unit."""
    c = column
    if c.endswith(("_method", "_note", "_unit", "_kind", "_warning", "_warnings", "_target_met")) or c in (
            "id", "suite", "part", "data", "preset", "process", "method", "unit", "spec", "w2_method", "model"):
        return ""
    if c.endswith("_n_samples") or c in _COUNT:
        return "count"
    if c in _TIME or c.endswith("_s") and c.startswith(tuple(GRID_QUANTITIES)):
        return "time"
    for suffix in _SUFFIXES:
        if c.endswith(suffix) and len(c) > len(suffix):
            c = c[: -len(suffix)]
            break
    if c.startswith("speed_limit_grid_"):
        c = c[len("speed_limit_grid_"):]
    if "efficiency" in c or c.endswith("_fraction") or c.startswith("ratio"):
        return DIMENSIONLESS
    if c.startswith(("W2_squared", "clock")):
        return LENGTH2
    if c.startswith("entropy_production_rate") or c.startswith("rate"):
        return f"{info}/time"
    if c.startswith(("S_", "kl", "KL", "bound", "gelbrich_bound", "L_EM", "C", "mean_dirac_kl", "log_N", "identity_residual",
                     "likelihood_bound", "value")) or "entropy" in c or c.endswith("_nats"):
        return info
    return ""


def column_units(columns, info: str = NAT) -> dict:
    """``{column: unit}`` for the given column names (:func:`column_unit`)."""
    return {c: column_unit(c, info) for c in columns}


def negative_note(name: str, value: float, stderr: float) -> str | None:
    """Note for a negative estimate of a non-negative quantity (a Monte Carlo KL near 0), else None.

    The value is printed as computed, not clipped: clipping at 0 would bias averages and the error bar
    upwards, while the unclipped estimate is unbiased and its stderr is honest.  The true value lies in
    [0, value + k stderr]."""
    if name not in NONNEGATIVE or value is None or not value < 0:
        return None
    z = -value / stderr if stderr else math.inf
    if math.isinf(z):
        return (f"negative ({value:.3g}) with no statistical error: a rounding-level value of a quantity that "
                "is >= 0")
    return (f"negative Monte Carlo estimate of a quantity that is >= 0: {value:.3g} = -{z:.2g} standard errors; "
            "printed unclipped (unbiased; clipping at 0 would bias it upwards). The true value is in "
            f"[0, {value + 5 * stderr:.3g}] at 5 standard errors")
