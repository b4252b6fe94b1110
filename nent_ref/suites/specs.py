r"""Case specifications: one format that names everything a ground-truth number depends on.

A *spec* is a JSON object (or a TOML document, read with the standard library's ``tomllib``)

.. code-block:: json

    {"id": "notebook-vp",
     "data": {"kind": "preset", "name": "official-notebook-D2"},
     "process": {"kind": "vp", "schedule": "linear", "beta_min": 0.1, "beta_max": 16.0, "kappa": 1.0},
     "window": {"s0": 1e-05, "s1": 1.0},
     "quantities": ["S_tot", "kl_s0_eq", "kl_s1_eq"],
     "unit": "nat",
     "accuracy": {"method": "auto", "seed": 0, "n_samples": 262144}}

with the data (``gaussian`` mean/cov, ``dirac`` point, ``mixture`` weights/means and covs, variances or
stds, ``empirical`` points inline, from a .npy/.npz/.csv file with its sha256, or drawn by a seeded
generator, or a named ``preset``), the process with all its parameters (VP linear or cosine with
kappa, SL, VE), the window [s0, s1], the quantities (:data:`QUANTITIES`), the unit (nat or bit) and
the accuracy (method, Monte Carlo sample size and seed, quadrature rtol).  docs/specs.md is the
reference of the format; this module reads, checks and normalises specs and computes them.

* :func:`normalize_spec` turns a spec into its *canonical form*: every default filled in, presets
  expanded to their numbers (the preset name kept as a label and checked on re-reading), parameters as
  floats.  Canonical forms round-trip: ``normalize_spec(json.loads(json.dumps(c))) == c`` (and through
  :func:`dumps_toml` / ``tomllib``).
* :class:`Case` is a checked spec with its data and process built; :func:`load_cases` reads a file
  (one spec, a list of specs, or ``{"cases": [...]}``).
* :func:`compute` returns the Estimates of a case's quantities; :func:`compute_row` the flat table row
  (``<q>``, ``<q>_stderr``, ``<q>_error_bound``, ``<q>_method`` ... and the canonical ``spec`` itself), which
  is what ``nent-ref compute`` prints and what every row of ``nent-ref table``'s diffusion suites is.

Every problem is a :class:`SpecError` (a ValueError) whose message starts with the dotted path of the
field (``data.covs``, ``process.beta_max``, ``cases[2].window.s0``).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from ..core.data import Dirac, Gaussian
from ..core.estimate import Estimate
from ..core.mixture import Empirical, GaussianMixture
from ..core.images import scale_values
from ..core.processes import SL, VE, VP, CosineSchedule, LinearSchedule, ScheduledVE, vp_from_alpha_bar, ve_from_sigma
from ..core.schedules import AlphaBarTable, EDMSigma, SigmaTable, diffusers_betas, read_scheduler_config
from ..quantities import bounds
from ..quantities.entropy import kl_to_equilibrium, total_entropy
from ..quantities.mixture_entropy import AUTO_QUADRATURE_MAX_COMPONENTS, DEFAULT_ATOL, DEFAULT_RTOL
from ..quantities.precision import PrecisionWarning, target_from
from ..quantities.speed import SpeedLimitResult, clock_estimate, speed_limit
from . import cases
from . import spec_quantities
from . import spec_schema
from .spec_schema import did_you_mean
from .spec_vocabulary import QUANTITIES, SPEC_VERSION, Quantity
from .spec_errors import SpecError

#: unit roundoff of float64
_EPS = float(np.finfo(float).eps) / 2.0

__all__ = ["SPEC_VERSION", "SpecError", "NonFiniteResultError", "MAX_GENERATED_NUMBERS", "MAX_NESTING",
           "EXTREME_ABOVE", "EXTREME_BELOW", "check_nesting", "Quantity", "QUANTITIES", "INLINE_MAX", "ACCURACY_DEFAULTS",
           "W2_DEFAULTS", "normalize_spec", "Case", "load_cases", "read_spec_file", "data_spec_of",
           "process_spec_of", "accuracy_options", "resolve_method", "compute", "compute_row", "rows_of",
           "speed_limit_columns", "efficiency_columns", "points_sha256", "file_sha256", "dumps_toml",
           "generated_points_portable",
           "materialise", "null_reason", "did_you_mean"]

#: Largest number of floats (N * D) that a spec's empirical ``generator`` may draw: 1e8, 0.8 GB in float64.
#: A larger ``n`` is a SpecError naming ``data.generator.n``, raised before anything is allocated.
MAX_GENERATED_NUMBERS = 10 ** 8
#: Deepest nesting of lists and objects a spec or claims file may have (a spec needs about 8 levels); a
#: deeper document is a SpecError, not a RecursionError.
MAX_NESTING = 64
#: When a result is not a finite number, the spec's numbers beyond these magnitudes (``|x| > 1e100`` or
#: ``0 < |x| < 1e-100``) are named as the inputs out of range (a SpecError); without such numbers a
#: non-finite result is an internal error (:class:`NonFiniteResultError`).
EXTREME_ABOVE, EXTREME_BELOW = 1e100, 1e-100
#: Empirical data with at most this many numbers (N * D) are written inline by :func:`materialise`;
#: larger arrays go to a .npy file named in the spec with its sha256.
INLINE_MAX = 256




class NonFiniteResultError(RuntimeError):
    """A quantity came out NaN or infinite (where theory says it is finite) for a spec whose numbers are all
    moderate: a bug in nent_ref, never a result (the CLI reports it as an internal error, exit status 4)."""


#: Defaults of the ``accuracy`` object (filled into the canonical form).  ``rtol: null`` means the
#: library's quadrature default (1e-10 in 1-D, 1e-8 in 2-D).
ACCURACY_DEFAULTS = {"method": "auto", "n_samples": None, "seed": 0, "rtol": None, "atol": None, "max_samples": None}
#: Defaults of the W2 options (filled in when ``speed_limit`` is asked for; see nr.speed_limit).
W2_DEFAULTS = {"w2_method": "auto", "w2_samples": 1000, "w2_pairs": 8, "w2_seed": 0}
_METHODS = ("auto", "closed-form", "quadrature", "monte-carlo")
_W2_METHODS = ("auto", "closed-form", "quantile", "samples")
_UNITS = {"nat": "nat", "nats": "nat", "bit": "bit", "bits": "bit"}
_TOP_KEYS = ("version", "id", "description", "data", "process", "window", "quantities", "unit", "accuracy", "grid",
             "model")


# --------------------------------------------------------------------------- low-level checks
def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _floats(value) -> list:
    """Nested lists of numbers (checked by spec_schema: rectangular, finite) as nested lists of floats."""
    return np.asarray(value, dtype=float).tolist()


def points_sha256(points) -> str:
    """sha256 of an (N, D) array as little-endian float64 in C order: the digest ``points_sha256`` of a
    spec names (independent of how the array was stored)."""
    return hashlib.sha256(np.ascontiguousarray(points, dtype="<f8").tobytes()).hexdigest()


def file_sha256(path) -> str:
    """sha256 of a file's bytes (what ``sha256sum FILE`` prints)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- data
_DATA_KINDS = ("gaussian", "dirac", "mixture", "empirical", "preset")
_SPREADS = ("covs", "variances", "stds")


def _preset_data_spec(name: str, path: str) -> dict:
    """Canonical data spec of a named preset, in the form the preset is defined in."""
    if name not in cases.data_preset_names():
        raise SpecError(path, f"unknown data preset {name!r} (choose from {', '.join(cases.data_preset_names())})"
                              f"{did_you_mean(name, cases.data_preset_names())}")
    if name in cases.OFFICIAL_PRESETS + cases.OFFICIAL_JAX05_PRESETS:
        w, m, sd = cases.official_mixture_arrays(name)
        out = {"kind": "mixture", "weights": w.tolist(), "means": m.tolist(), "stds": sd.tolist()}
    elif name in cases.own_preset_names():
        out = cases.stored_preset(name)            # the stored numbers, never recomputed
    else:
        out = data_spec_of(cases.data_preset(name))
    out["preset"] = name
    return out


def data_spec_of(data) -> dict:
    """The canonical data spec of a data object (Gaussian, Dirac, GaussianMixture in its stored form,
    Empirical with inline points)."""
    if isinstance(data, Gaussian):
        return {"kind": "gaussian", "mean": data.mean.tolist(), "cov": data.cov.tolist()}
    if isinstance(data, Dirac):
        return {"kind": "dirac", "point": data.point.tolist()}
    if isinstance(data, GaussianMixture):
        spread = "covs" if data.kind == "full" else "variances"
        return {"kind": "mixture", "weights": data.weights.tolist(), "means": data.means.tolist(),
                spread: data.covs.tolist()}
    if isinstance(data, Empirical):
        out = {"kind": "empirical", "points": data.points.tolist(), "weights": data.weights.tolist()}
        if getattr(data, "image_info", None) is not None:          # Empirical.from_images: source and scaling
            out["provenance"] = copy.deepcopy(data.image_info)
        return out
    raise TypeError(f"no spec form for data of type {type(data).__name__}")


def _normalize_data(d, path: str, *, allow_generator=True) -> dict:
    kind = d["kind"]                               # keys, kinds and types: checked by spec_schema
    if kind == "preset":
        return _preset_data_spec(d["name"], _join(path, "name"))
    # shapes that must agree, finite numbers: spec_schema
    if kind == "gaussian":
        out = {"kind": kind, "mean": _floats(d["mean"]), "cov": _floats(d["cov"])}
    elif kind == "dirac":
        out = {"kind": kind, "point": _floats(d["point"])}
    elif kind == "mixture":
        spread = next(k for k in _SPREADS if d.get(k) is not None)    # exactly one: spec_schema
        out = {"kind": kind, "weights": _floats(d["weights"]), "means": _floats(d["means"]),
               spread: _floats(d[spread])}
    else:
        out = _normalize_empirical(d, path, allow_generator)
    if d.get("preset") is not None:
        name = d["preset"]
        expected = _preset_data_spec(name, _join(path, "preset"))
        # Numbers recomputed on another machine differ in the last bits: the label holds when every array
        # agrees within cases.PRESET_RTOL (max-norm relative), and the data are then the preset's stored numbers.
        problems = cases.preset_differences(out, expected)
        if problems:
            raise SpecError(_join(path, "preset"), f"the data are labelled preset {name!r} but differ from that "
                                                   f"preset's: {'; '.join(problems)}; drop the label or the edits")
        out = expected
    return out


def _normalize_empirical(d: dict, path: str, allow_generator: bool) -> dict:
    # one source, sha256 with file, array/weights/scale where they apply, scale low < high: spec_schema
    out = {"kind": "empirical"}
    src = next(k for k in ("points", "file", "generator") if d.get(k) is not None)
    if src == "points":
        out["points"] = _floats(d["points"])
    elif src == "file":
        out["file"] = d["file"]
        out["sha256"] = d["sha256"].lower()
        if d.get("array") is not None:
            out["array"] = d["array"]
    else:
        g = d["generator"]
        gp = _join(path, "generator")
        sample = _normalize_data(g["sample"], _join(gp, "sample"), allow_generator=False)
        if sample["kind"] == "empirical":
            raise SpecError(_join(gp, "sample"), "must be gaussian, dirac or mixture data (or their preset)")
        n = int(g["n"])
        D = _data_dim(sample)
        if n * D > MAX_GENERATED_NUMBERS:
            raise SpecError(_join(gp, "n"), f"n = {n} atoms of dimension {D} are {n * D:.3g} numbers, above the "
                                            f"limit of {MAX_GENERATED_NUMBERS:.0e} (N * D) for generated data "
                                            f"({8 * MAX_GENERATED_NUMBERS / 1e9:g} GB in float64); the limit is "
                                            "nent_ref.suites.specs.MAX_GENERATED_NUMBERS")
        out["generator"] = {"sample": sample, "n": n, "seed": copy.deepcopy(g["seed"])}
    if d.get("weights") is not None:
        out["weights"] = _floats(d["weights"])
    if d.get("scale") is not None:                 # the training scaling of image data, e.g. [0, 255] -> [-1, 1]
        out["scale"] = {key: [float(x) for x in d["scale"][key]] for key in ("from", "to")}
    if d.get("points_sha256") is not None:
        if src == "generator" and not generated_points_portable(out["generator"]["sample"]):
            raise SpecError(_join(path, "points_sha256"),
                            "cannot be checked for atoms drawn from a Gaussian or a full-covariance mixture: those "
                            "draws pass through an eigendecomposition or Cholesky factor and a matrix product, "
                            "whose last bits differ between machines; leave points_sha256 out (the generator and "
                            "seed name the atoms) or store the atoms in a file with its sha256")
        out["points_sha256"] = d["points_sha256"].lower()
    if d.get("provenance") is not None:
        out["provenance"] = copy.deepcopy(d["provenance"])
    return out


def generated_points_portable(sample: dict) -> bool:
    """Whether atoms drawn from the canonical ``sample`` data are the same bits on every machine (for the
    same numpy): a Dirac atom, or a mixture with isotropic or diagonal spreads (``mean + std * z``, element
    by element).  A Gaussian (eigendecomposition, matrix product) or a mixture with full covariances
    (Cholesky factor, matrix product) goes through linear algebra whose last bits vary with the CPU and the
    BLAS build, so their atoms get no ``points_sha256``."""
    if sample["kind"] == "dirac":
        return True
    if sample["kind"] == "mixture":
        spread = next(k for k in _SPREADS if k in sample)
        return np.asarray(sample[spread]).ndim <= 2
    return False


def _data_dim(d: dict) -> int:
    if d["kind"] == "gaussian":
        return len(d["mean"])
    if d["kind"] == "dirac":
        return len(d["point"])
    if d["kind"] == "mixture":
        return len(d["means"][0])
    if "points" in d:
        return len(d["points"][0])
    if "generator" in d:
        return _data_dim(d["generator"]["sample"])
    return -1                                         # from a file: known once the file is read


def _n_components(d: dict) -> int | None:
    if d["kind"] == "mixture":
        return len(d["weights"])
    if d["kind"] == "empirical":
        if "points" in d:
            return len(d["points"])
        if "generator" in d:
            return d["generator"]["n"]
    return None


def _build_data(d: dict, path: str, base_dir: Path):
    try:
        if d["kind"] == "gaussian":
            return Gaussian(d["mean"], d["cov"])
        if d["kind"] == "dirac":
            return Dirac(d["point"])
        if d["kind"] == "mixture":
            spread = next(k for k in _SPREADS if k in d)
            return GaussianMixture.from_arrays(d["weights"], d["means"], **{spread: d[spread]})
        if "generator" in d:
            g = d["generator"]
            pop = _build_data(g["sample"], _join(_join(path, "generator"), "sample"), base_dir)
            points = pop.sample(g["n"], seed=g["seed"])
        elif "file" in d:
            points = _read_points_file(d, path, base_dir)
        else:
            points = np.array(d["points"], dtype=float)
        if d.get("scale") is not None:
            lo, hi = d["scale"]["from"]
            if points.min() < lo or points.max() > hi:
                raise SpecError(_join(path, "scale"), f"the values lie in [{points.min():g}, {points.max():g}], outside "
                                                      f"scale.from = {d['scale']['from']}")
            points = scale_values(points, d["scale"]["from"], d["scale"]["to"])
        if d.get("points_sha256") is not None and points_sha256(points) != d["points_sha256"]:
            raise SpecError(_join(path, "points_sha256"),
                            f"the atoms have sha256 {points_sha256(points)} (little-endian float64), the spec says "
                            f"{d['points_sha256']}" + (" (has numpy's generator changed?)" if "generator" in d else ""))
        return Empirical(points, d.get("weights"))
    except SpecError:
        raise
    except ValueError as exc:
        raise SpecError(path, str(exc)) from None


def _read_points_file(d: dict, path: str, base_dir: Path) -> np.ndarray:
    file = Path(d["file"])
    full = file if file.is_absolute() else base_dir / file
    if not full.is_file():
        raise SpecError(_join(path, "file"), f"no such file {str(full)!r} (relative names are read from the spec's "
                                             "directory)")
    digest = file_sha256(full)
    if digest != d["sha256"]:
        raise SpecError(_join(path, "sha256"), f"the file {file.name!r} has sha256 {digest}, the spec says "
                                               f"{d['sha256']}: the file is not the one the spec names")
    suffix = full.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(full, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(full, allow_pickle=False) as f:
                key = d.get("array") or ("points" if "points" in f.files else (f.files[0] if len(f.files) == 1
                                                                               else None))
                if key is None or key not in f.files:
                    raise SpecError(_join(path, "array"), f"name the array to read from {file.name!r} "
                                                          f"(it holds {sorted(f.files)})")
                arr = f[key]
        else:
            arr = np.loadtxt(full, delimiter=",", ndmin=2, comments="#")
    except SpecError:
        raise
    except ValueError as exc:
        raise SpecError(_join(path, "file"), f"cannot read {file.name!r}: {exc}") from None
    if arr.dtype.kind not in "fiu" or arr.ndim < 2 or arr.size == 0:
        raise SpecError(_join(path, "file"), f"{file.name!r} must hold an (N, D) array of real numbers, or a stack "
                                             f"(N, ...) of images (got shape {arr.shape}, dtype {arr.dtype})")
    arr = arr.reshape(arr.shape[0], -1)            # images (N, C, H, W) or (N, H, W): one row per image
    if d.get("weights") is not None and len(d["weights"]) != arr.shape[0]:
        raise SpecError(_join(path, "weights"), f"has {len(d['weights'])} entries but {file.name!r} holds "
                                                f"{arr.shape[0]} points")
    return arr.astype(float)


# --------------------------------------------------------------------------- processes
_PROCESS_KEYS = {
    ("vp", "linear"): ("beta_min", "beta_max", "kappa"),
    ("vp", "cosine"): ("offset", "kappa"),
    ("sl", None): ("sigma0",),
    ("ve", None): ("sigma_min", "sigma_max"),
}


def _schedule_spec_of(process):
    """The schedule object of a table/EDM process as a spec (None for the named schedules)."""
    if isinstance(process, ScheduledVE):
        sig = process.sigma_schedule
        if isinstance(sig, EDMSigma):
            return {"kind": "edm", "sigma_max": sig.sigma_max}
        if isinstance(sig, SigmaTable):
            out = {"kind": "sigma", "values": sig.sigma_nodes.tolist()}
            if not sig.default_nodes:
                out["s"] = sig.nodes.tolist()
            return out
        raise TypeError(f"no spec form for a VE with the sigma function {sig!r} (tabulate it)")
    sched = process.schedule
    if isinstance(sched, AlphaBarTable):
        cfg = getattr(process, "scheduler_config", None)
        if cfg is not None and cfg.get("trained_betas") is None and sched.default_nodes:
            return {"kind": "diffusers", **{k: cfg[k] for k in ("num_train_timesteps", "beta_start", "beta_end",
                                                                "beta_schedule")}}
        out = {"kind": sched.input_form, "values": sched.input_values.tolist()}
        if not sched.default_nodes:
            out["s"] = sched.nodes.tolist()
        return out
    return None


def process_spec_of(process) -> dict:
    """The canonical process spec of a process object (VP with a linear, cosine, alpha-bar table or diffusers
    schedule, SL, VE geometric, EDM or sigma table)."""
    if isinstance(process, ScheduledVE):
        return {"kind": "ve", "schedule": _schedule_spec_of(process)}
    if isinstance(process, VP) and isinstance(process.schedule, AlphaBarTable):
        return {"kind": "vp", "schedule": _schedule_spec_of(process), "kappa": process.kappa}
    if isinstance(process, VP):
        sched = process.schedule
        if isinstance(sched, LinearSchedule):
            return {"kind": "vp", "schedule": "linear", "beta_min": sched.beta_min, "beta_max": sched.beta_max,
                    "kappa": process.kappa, "T": process.T}
        if isinstance(sched, CosineSchedule):
            return {"kind": "vp", "schedule": "cosine", "offset": sched.s, "kappa": process.kappa, "T": process.T}
        raise TypeError(f"no spec form for a VP with schedule {sched!r}")
    if isinstance(process, SL):
        return {"kind": "sl", "sigma0": process.sigma0}
    if isinstance(process, VE):
        return {"kind": "ve", "sigma_min": process.sigma_min, "sigma_max": process.sigma_max}
    raise TypeError(f"no spec form for a process of type {type(process).__name__}")


def _normalize_process(p, path: str) -> dict:
    if isinstance(p, str):                         # shorthand: a preset name
        p = {"kind": "preset", "name": p}
    kind = p["kind"]                               # keys, kinds and types: checked by spec_schema
    if kind == "preset":
        name = p["name"]
        try:
            proc = cases.process_preset(name)
        except ValueError as exc:
            raise SpecError(_join(path, "name"), str(exc)) from None
        return {**process_spec_of(proc), "preset": name}
    if isinstance(p.get("schedule"), dict) or (kind == "ve" and p.get("schedule") is not None):
        return _normalize_table_process(p, path)
    schedule = None
    if kind == "vp":
        schedule = p["schedule"]
    params = _PROCESS_KEYS[(kind, schedule)]
    out = {"kind": kind}
    if kind == "vp":
        out["schedule"] = schedule
    for key in params:                             # finite, in range: spec_schema
        out[key] = float(p[key])
    if kind == "vp":
        out["T"] = float(1.0 if p.get("T") is None else p["T"])
    _build_process(out, path)                      # parameter relations (beta_max >= beta_min, ...)
    if p.get("preset") is not None:
        name = p["preset"]
        try:
            expected = process_spec_of(cases.process_preset(name))
        except ValueError as exc:
            raise SpecError(_join(path, "preset"), str(exc)) from None
        if expected != out:
            raise SpecError(_join(path, "preset"), f"the process is labelled preset {name!r} but its parameters "
                                                   f"differ from that preset's ({expected})")
        out["preset"] = name
    return out


_SCHEDULE_KINDS = {"vp": ("alpha_bar", "betas", "log_snr", "sigma", "diffusers"), "ve": ("edm", "sigma")}
_DIFFUSERS_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule")


def _normalize_table_process(p: dict, path: str) -> dict:
    """A process whose schedule is an object: {"kind": "alpha_bar" | "betas" | "log_snr" | "sigma", "values": [...],
    "s": [...] (optional nodes)}, {"kind": "diffusers", <scheduler config fields>} for VP; {"kind": "edm",
    "sigma_max": ...} or {"kind": "sigma", "values": [...], "s": [...]} for VE."""
    kind = p["kind"]
    sc = {k: v for k, v in p["schedule"].items() if v is not None}    # keys, kinds, types: spec_schema
    skind = sc["kind"]
    out_s = {"kind": skind}
    if skind == "diffusers":
        out_s["num_train_timesteps"] = int(sc.get("num_train_timesteps", 1000))
        out_s["beta_start"] = float(sc.get("beta_start", 0.0001))
        out_s["beta_end"] = float(sc.get("beta_end", 0.02))
        out_s["beta_schedule"] = sc.get("beta_schedule", "linear")
    elif skind == "edm":
        out_s["sigma_max"] = float(sc.get("sigma_max", 80.0))
    else:
        out_s["values"] = _floats(sc["values"])
        if sc.get("s") is not None:
            out_s["s"] = _floats(sc["s"])
    out = {"kind": kind, "schedule": out_s}
    if kind == "vp":
        out["kappa"] = float(1.0 if p.get("kappa") is None else p["kappa"])
    _build_process(out, path)
    return out


def _build_table_process(p: dict):
    sc = p["schedule"]
    if p["kind"] == "ve":
        if sc["kind"] == "edm":
            return ve_from_sigma(EDMSigma(sc["sigma_max"]))
        return ve_from_sigma(sc["values"], sc.get("s"))
    if sc["kind"] == "diffusers":
        cfg = read_scheduler_config({k: sc[k] for k in _DIFFUSERS_KEYS})
        proc = vp_from_alpha_bar(None, betas=diffusers_betas(*(sc[k] for k in _DIFFUSERS_KEYS)), kappa=p["kappa"],
                                 source=f"diffusers {sc['beta_schedule']}, N={sc['num_train_timesteps']}")
        proc.scheduler_config = cfg
        return proc
    if sc["kind"] == "betas":
        return vp_from_alpha_bar(None, sc.get("s"), betas=sc["values"], kappa=p["kappa"])
    return vp_from_alpha_bar(sc["values"], sc.get("s"), form=sc["kind"], kappa=p["kappa"])


def _build_process(p: dict, path: str):
    try:
        if isinstance(p.get("schedule"), dict):
            return _build_table_process(p)
        if p["kind"] == "vp" and p["schedule"] == "linear":
            return VP(beta_min=p["beta_min"], beta_max=p["beta_max"], kappa=p["kappa"], T=p["T"])
        if p["kind"] == "vp":
            return VP(schedule=CosineSchedule(p["offset"]), kappa=p["kappa"], T=p["T"])
        if p["kind"] == "sl":
            return SL(sigma0=p["sigma0"])
        return VE(sigma_min=p["sigma_min"], sigma_max=p["sigma_max"])
    except ValueError as exc:
        raise SpecError(path, str(exc)) from None


# --------------------------------------------------------------------------- the whole spec
def resolve_method(data_spec: dict, method: str) -> str:
    """The method ``"auto"`` resolves to for these data: closed form for Gaussian/Dirac, quadrature for
    mixtures and empirical data with D <= 2 and at most AUTO_QUADRATURE_MAX_COMPONENTS components,
    Monte Carlo otherwise (the rule of :func:`nent_ref.total_entropy`)."""
    if data_spec["kind"] in ("gaussian", "dirac"):
        return "closed-form"
    if method != "auto":
        return method
    K = _n_components(data_spec)
    D = _data_dim(data_spec)
    return "quadrature" if 0 < D <= 2 and K is not None and K <= AUTO_QUADRATURE_MAX_COMPONENTS else "monte-carlo"


def _normalize_accuracy(a, path: str, data: dict, quantities: list) -> dict:
    a = {} if a is None else {k: v for k, v in a.items() if v is not None}   # keys and types: spec_schema
    out = {}
    method = a.get("method", "auto")
    kind, D = data["kind"], _data_dim(data)
    if kind in ("gaussian", "dirac") and method not in ("auto", "closed-form"):
        raise SpecError(_join(path, "method"), f"{kind} data are closed form: use 'auto' or 'closed-form' "
                                               f"(got {method!r})")
    if kind in ("mixture", "empirical") and method == "closed-form":
        raise SpecError(_join(path, "method"), f"{kind} data have no closed form: use 'auto', 'quadrature' or "
                                               "'monte-carlo'")
    if method == "quadrature" and D > 2:
        raise SpecError(_join(path, "method"), f"quadrature is available for D <= 2 only (the data have D = {D}); "
                                               "use 'monte-carlo' or 'auto'")
    out["method"] = method
    n = a.get("n_samples")
    out["n_samples"] = None if n is None else int(n)
    out["seed"] = copy.deepcopy(a.get("seed", ACCURACY_DEFAULTS["seed"]))
    for key in ("rtol", "atol"):                   # ranges, a target that can be met: spec_schema
        out[key] = None if a.get(key) is None else float(a[key])
    cap = a.get("max_samples")
    out["max_samples"] = None if cap is None else int(cap)
    if {"speed_limit", "speed_limit_grid"} & set(quantities) or any(k in a for k in W2_DEFAULTS):
        out["w2_method"] = a.get("w2_method", W2_DEFAULTS["w2_method"])
        out["w2_samples"] = int(a.get("w2_samples", W2_DEFAULTS["w2_samples"]))
        out["w2_pairs"] = int(a.get("w2_pairs", W2_DEFAULTS["w2_pairs"]))
        out["w2_seed"] = copy.deepcopy(a.get("w2_seed", W2_DEFAULTS["w2_seed"]))
    return out


def _check_quantity(name: str, path: str, data: dict, process: dict):
    kind = data["kind"]
    has_eq = process["kind"] != "ve"
    if name in ("kl_s0_eq", "kl_s1_eq") and not has_eq:
        raise SpecError(path, f"{name} needs a process with an equilibrium p_eq; VE has none")
    if name in ("S_tot_lower_bound", "S_tot_upper_bound") and kind not in ("gaussian", "dirac", "mixture",
                                                                           "empirical"):
        raise SpecError(path, f"{name} is not available for {kind} data")
    if name in ("mean_dirac_kl_s0", "log_N") and kind != "empirical":
        raise SpecError(path, f"{name} is defined for empirical data only (these are {kind})")
    if name == "mean_dirac_kl_s0" and not has_eq:
        raise SpecError(path, f"{name} needs a process with an equilibrium p_eq; VE has none")
    if name == "S_tot_population" and "generator" not in data:
        raise SpecError(path, f"{name} needs empirical data drawn by a generator (the population it names)")
    if name == "kl_to_equilibrium" and not has_eq:
        raise SpecError(path, f"{name} needs a process with an equilibrium p_eq; VE has none")


def normalize_spec(spec, path: str = "", *, base_dir=None, checked: bool = False) -> dict:
    """The canonical form of a spec (a new dict); :class:`SpecError` naming the field otherwise.

    Presets are expanded to their numbers (``"preset": name`` kept as a checked label), process
    parameters become floats, and the defaults of ``quantities`` (``["S_tot"]``), ``unit`` (``"nat"``) and
    ``accuracy`` (:data:`ACCURACY_DEFAULTS`) are filled in.  ``base_dir`` is only used by
    :class:`Case` (files are not read here).

    The structure (keys, kinds, types, single-value ranges) is checked first by the models of
    :mod:`nent_ref.suites.spec_schema` (skipped with ``checked=True``, for a document they have checked
    already); this function checks what a schema cannot say: shapes that must agree, positive definiteness,
    parameter relations, preset labels, sizes.  A ``"$schema"`` key (for editors) is dropped.
    """
    if not checked:
        spec = spec_schema.check_spec(spec, path)
    out = {"version": SPEC_VERSION}
    for key in ("id", "description"):
        if spec.get(key) is not None:
            out[key] = spec[key]
    data = _normalize_data(spec["data"], _join(path, "data"))
    process = _normalize_process(spec["process"], _join(path, "process"))
    out["data"], out["process"] = data, process
    w = spec["window"]
    wp = _join(path, "window")
    s0, s1 = float(w["s0"]), float(w["s1"])       # finite, 0 <= s0 < s1: spec_schema
    T = process.get("T", 1.0)
    if not s1 <= T:
        raise SpecError(_join(wp, "s1"), f"must be <= T = {T:g} of the process (got {s1!r})")
    if data["kind"] in ("dirac", "empirical") and not s0 > 0:
        raise SpecError(_join(wp, "s0"), f"must be > 0 for {data['kind']} data: their entropy production diverges "
                                         "like (D/2) log(1/s0) (the paper's cutoff is 1e-5)")
    out["window"] = {"s0": s0, "s1": s1}
    quantities = list(spec.get("quantities") or ["S_tot"])    # names, each once: spec_schema
    for i, q in enumerate(quantities):
        _check_quantity(q, _join(_join(path, "quantities"), i), data, process)
    out["quantities"] = quantities
    out["unit"] = _UNITS[spec.get("unit") or "nat"]
    out["accuracy"] = _normalize_accuracy(spec.get("accuracy"), _join(path, "accuracy"), data, quantities)
    _normalize_grid_and_model(spec, out, path)
    return out


def _normalize_grid_and_model(spec: dict, out: dict, path: str) -> None:
    """``grid`` (filled in when a grid quantity is asked for; kept when given, as the grid of ``nent-ref
    plot``) and ``model`` (required by S_NN, L_EM, decomposition; kept when given) of the canonical form."""
    quantities = out["quantities"]
    gridded = [q for q in quantities if q in spec_quantities.GRID_QUANTITIES]
    if gridded or spec.get("grid") is not None:    # a grid alone is the grid of `nent-ref plot`'s curves
        w = out["window"]
        out["grid"] = spec_quantities.normalize_grid(spec.get("grid"), _join(path, "grid"), w["s0"], w["s1"])
    if spec.get("model") is not None:              # a model alone is drawn by `nent-ref plot`; required by
        # S_NN, L_EM and decomposition (checked by spec_schema)
        out["model"] = spec_quantities.normalize_model(spec["model"], _join(path, "model"))


# --------------------------------------------------------------------------- cases and files
class Case:
    """A checked spec (canonical form in :attr:`spec`) with its data and process built on demand.

    ``base_dir`` is where relative data files are read from (the spec file's directory).
    """

    def __init__(self, spec, *, base_dir=None, path: str = ""):
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self.path = path
        self.spec = normalize_spec(spec, path)
        self._data = None
        self._process = None

    @property
    def id(self) -> str | None:
        return self.spec.get("id")

    @property
    def data(self):
        if self._data is None:
            self._data = _build_data(self.spec["data"], _join(self.path, "data"), self.base_dir)
            D, want = self._data.dim, _data_dim(self.spec["data"])
            if want > 0 and D != want:   # pragma: no cover - shapes are checked when normalising
                raise SpecError(_join(self.path, "data"), f"built data have D = {D}, expected {want}")
            acc = self.spec["accuracy"]
            if isinstance(self._data, Empirical) and "file" in self.spec["data"]:   # D, N known only now
                if acc["method"] == "quadrature" and D > 2:
                    raise SpecError(_join(self.path, "accuracy.method"), "quadrature is available for D <= 2 only "
                                                                         f"(the data file holds D = {D})")
        return self._data

    @property
    def process(self):
        if self._process is None:
            self._process = _build_process(self.spec["process"], _join(self.path, "process"))
        return self._process

    def label(self) -> str:
        """A short description for progress lines: ``id`` or ``data / process [s0, s1]``."""
        s = self.spec
        if s.get("id"):
            return s["id"]
        w = s["window"]
        return f"{_data_label(s['data'])} / {_process_label(s['process'])} [{w['s0']:g}, {w['s1']:g}]"

    def __repr__(self):
        return f"Case({self.label()!r})"


def _data_label(d: dict) -> str:
    return d.get("preset") or d["kind"]


def _process_label(p: dict) -> str:
    sc = p.get("schedule")
    if isinstance(sc, dict):                      # vp-diffusers-linear-1000, vp-alpha_bar-1000, ve-edm, ve-sigma-18
        tail = (f"{sc['beta_schedule']}-{sc['num_train_timesteps']}" if sc["kind"] == "diffusers" else
                str(len(sc["values"])) if "values" in sc else "")
        return f"{p['kind']}-{sc['kind']}" + (f"-{tail}" if tail else "")
    return p.get("preset") or (f"vp-{sc}" if p["kind"] == "vp" else p["kind"])


def read_spec_file(source):
    """The parsed content of a spec file (``.json`` or ``.toml``; ``-`` reads JSON from stdin) and the
    directory relative data files are read from: ``(document, base_dir)``."""
    if str(source) == "-":
        text = sys.stdin.read()
        base = Path.cwd()
        suffix = ".json"
    else:
        path = Path(source)
        if not path.is_file():
            raise SpecError("", f"no such spec file: {str(source)!r}")
        text = path.read_text()
        base = path.resolve().parent
        suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            import tomllib
        except ImportError:                          # Python 3.10
            raise SpecError("", "TOML specs need Python >= 3.11 (tomllib); use JSON") from None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError("", f"{source}: not valid TOML ({exc})") from None
        except RecursionError:
            raise SpecError("", f"{source}: nested more than {MAX_NESTING} levels deep") from None
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError("", f"{source}: not valid JSON ({exc})") from None
        except RecursionError:                       # the parser recurses once per level
            raise SpecError("", f"{source}: nested more than {MAX_NESTING} levels deep") from None
    check_nesting(doc, str(source))
    return doc, base


def check_nesting(doc, what: str = "the document") -> None:
    """SpecError when lists/objects in ``doc`` nest deeper than :data:`MAX_NESTING` (checked without recursion,
    before any recursive processing)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth > MAX_NESTING:
            raise SpecError("", f"{what}: nested more than {MAX_NESTING} levels deep")
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list, tuple)))


def load_cases(source, *, base_dir=None) -> list[Case]:
    """Cases from a spec file name (JSON/TOML, ``-`` for stdin), or from an already parsed document: one
    spec (an object with ``data``), a list of specs, or ``{"cases": [spec, ...]}`` (other top-level keys
    of that form: ``format``, ``version``, ``description``).  Field paths in errors say which case."""
    if isinstance(source, (str, Path)):
        doc, base = read_spec_file(source)
    else:
        doc, base = source, (Path(base_dir) if base_dir is not None else Path.cwd())
        check_nesting(doc, "the specs")
    if isinstance(doc, dict) and "cases" in doc and "data" not in doc:
        doc = spec_schema.check_cases(doc)         # the wrapper's keys, a non-empty list, every spec in it
        items, prefix = doc["cases"], "cases"
    elif isinstance(doc, list):
        if not doc:
            raise SpecError("", "the spec list is empty")
        items, prefix = doc, ""
    else:
        return [Case(doc, base_dir=base)]
    out = [Case(item, base_dir=base, path=f"{prefix}[{i}]") for i, item in enumerate(items)]
    ids = [c.id for c in out if c.id]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SpecError(prefix, f"case ids must be unique (repeated: {', '.join(dup)})")
    return out


# --------------------------------------------------------------------------- computing
def accuracy_options(case: Case) -> dict:
    """Keyword options for :func:`nent_ref.total_entropy` and friends from the spec's ``accuracy``.

    The one place the accuracy fields become library options.  Gaussian/Dirac: ``method`` only (closed
    form).  Mixtures and empirical data: ``method`` and ``seed``, and each of ``n_samples``, ``rtol``,
    ``atol``, ``max_samples`` that the spec gives (a null field takes the library's default).  Their meaning
    is the library's: Monte Carlo with ``n_samples`` alone is a fixed run; with ``rtol``/``atol`` (or neither
    field) it runs to the precision target ``stderr <= max(rtol |value|, atol)`` (default rtol = atol =
    1e-3, at most ``max_samples`` = 2**20 per point), ``n_samples`` being the pilot; for quadrature
    ``rtol``/``atol`` are the cubature tolerances (default rtol 1e-10 in 1-D, 1e-8 in 2-D).
    """
    acc, data = case.spec["accuracy"], case.spec["data"]
    if data["kind"] in ("gaussian", "dirac"):
        return {} if acc["method"] == "auto" else {"method": acc["method"]}
    opts = {"method": acc["method"], "seed": acc["seed"]}
    for key in ("n_samples", "rtol", "atol", "max_samples"):
        if acc.get(key) is not None:
            opts[key] = acc[key]
    return opts


def _child_seed(seed, key: int):
    return [seed, key] if isinstance(seed, int) else [*seed, key]


def _in_unit(est: Estimate, unit: str) -> Estimate:
    return est.in_base(2) if unit == "bit" and est.unit in ("nat", "nat/time") else est


def _by_product_target(est: Estimate, name: str, opts: dict) -> Estimate:
    """A KL taken from the S_tot run answers to the spec's precision target as a KL computed on its own would:
    a Monte Carlo KL whose stderr exceeds ``max(rtol |value|, atol)`` (default 1e-3 each; no target for a fixed
    ``n_samples`` run) gets ``extra["target_met"] = False`` and a PrecisionWarning (recorded in the row)."""
    if "monte-carlo" not in est.method or ("n_samples" in opts and "rtol" not in opts and "atol" not in opts):
        return est
    tgt = target_from(opts.get("rtol"), opts.get("atol"), DEFAULT_RTOL, DEFAULT_ATOL)
    target = tgt.tolerance(est.value)
    if not est.stderr > target:
        return est
    warnings.warn(f"{name} (from the S_tot run) by Monte Carlo: the requested precision (stderr <= max(rtol |value|, "
                  f"atol) with rtol = {tgt.rtol:g}, atol = {tgt.atol:g}) was not reached: value {est.value:.6g} has stderr "
                  f"{est.stderr:.3g} > {target:.3g} (reported as is, never claimed)", PrecisionWarning, stacklevel=3)
    return dataclasses.replace(est, extra={**(est.extra or {}), "target_met": False})


def compute(case: Case, *, executor=None, progress=None) -> dict:
    """Estimates of the case's quantities, by name (in the spec's unit).

    ``speed_limit`` maps to a :class:`nent_ref.quantities.speed.SpeedLimitResult` (its nat parts converted
    with the unit); every other quantity to an :class:`Estimate`.  ``S_tot``, ``kl_s0_eq`` and ``kl_s1_eq``
    come from one run when S_tot is asked for and the method provides the two KLs (Monte Carlo with
    common random numbers, quadrature); otherwise each KL is computed on its own.
    """
    spec = case.spec
    data, proc = case.data, case.process
    s0, s1 = spec["window"]["s0"], spec["window"]["s1"]
    opts = accuracy_options(case)
    mc_opts = dict(opts, executor=executor) if executor is not None and "seed" in opts else opts
    say = progress or (lambda msg: None)
    out = {}
    stot = None
    wanted = spec["quantities"]
    if "S_tot" in wanted:
        say(f"compute: {case.label()}: S_tot")
        stot = total_entropy(data, proc, s0, s1, **mc_opts)
        out["S_tot"] = stot
    for name, s, key in (("kl_s0_eq", s0, "kl_s0"), ("kl_s1_eq", s1, "kl_s1")):
        if name in wanted:
            if stot is not None and isinstance(stot.extra.get(key), Estimate):
                out[name] = _by_product_target(stot.extra[key], name, opts)
            else:
                say(f"compute: {case.label()}: {name}")
                out[name] = kl_to_equilibrium(data, proc, s, **mc_opts)
    if "clock" in wanted:
        out["clock"] = clock_estimate(proc, s0, s1)
    if "S_tot_lower_bound" in wanted or "S_tot_upper_bound" in wanted:
        lo, hi = bounds.total_entropy_bounds(data, proc, s0, s1)
        err = bounds.total_entropy_bounds_rounding(data, proc, s0, s1)
        out["S_tot_lower_bound"] = Estimate(lo, 0.0, "closed-form (Kolchinsky-Tracey)", error_bound=err)
        out["S_tot_upper_bound"] = Estimate(hi, 0.0, "closed-form (Kolchinsky-Tracey)", error_bound=err)
    if "mean_dirac_kl_s0" in wanted:
        kls = [kl_to_equilibrium(Dirac(a), proc, s0) for a in data.points]
        kl = np.array([k.value for k in kls])
        # the atoms' own rounding bounds, averaged, plus the rounding of the sum (n eps of the mean magnitude)
        kl_bound = float(np.mean([k.error_bound for k in kls])) + len(kl) * _EPS * float(np.mean(np.abs(kl)))
        out["mean_dirac_kl_s0"] = Estimate(float(np.mean(kl)), 0.0, "closed-form", error_bound=kl_bound)
    if "log_N" in wanted:
        log_n = math.log(data.n_atoms)                    # within one unit in the last place of log N
        out["log_N"] = Estimate(log_n, 0.0, "closed-form", error_bound=2.0 * _EPS * log_n)
    if "S_tot_population" in wanted:
        say(f"compute: {case.label()}: S_tot_population")
        pop = _build_data(spec["data"]["generator"]["sample"], "data.generator.sample", case.base_dir)
        pop_spec = dict(spec, data=spec["data"]["generator"]["sample"])
        pop_opts = accuracy_options(_bare_case(pop_spec, case.base_dir))
        if "seed" in pop_opts:
            pop_opts["seed"] = _child_seed(pop_opts["seed"], 1)
        if executor is not None and "seed" in pop_opts:
            pop_opts["executor"] = executor
        out["S_tot_population"] = total_entropy(pop, proc, s0, s1, **pop_opts)
    if "speed_limit" in wanted:
        say(f"compute: {case.label()}: speed limit")
        acc = spec["accuracy"]
        res = speed_limit(data, proc, s0, s1, w2_method=acc["w2_method"], w2_samples=acc["w2_samples"],
                          w2_pairs=acc["w2_pairs"], w2_seed=acc["w2_seed"], s_tot=stot, **mc_opts)
        out["speed_limit"] = res
    _compute_grid_and_model(case, out, stot, mc_opts, executor, say)
    _check_results(out, case)
    unit = spec["unit"]
    for name, est in out.items():
        if isinstance(est, Estimate):
            out[name] = _in_unit(est, unit)
        elif isinstance(est, dict):                # speed_limit_grid: convert its nat columns
            if unit == "bit":
                out[name] = {k: (v / math.log(2) if k.startswith(("bound", "S_tot")) and not k.endswith("method")
                                 else v) for k, v in est.items()}
        elif not isinstance(est, SpeedLimitResult):
            pass                                   # a model decomposition: converted by its columns
        elif unit == "bit":
            out[name] = SpeedLimitResult(_in_unit(est.s_tot, unit), est.w2_squared, est.clock,
                                         _in_unit(est.bound, unit), est.efficiency, est.s0, est.s1, est.w2_method)
    return {name: out[name] for name in wanted}


def _compute_grid_and_model(case: Case, out: dict, stot, opts: dict, executor, say) -> None:
    """The grid quantities (on :func:`nent_ref.suites.spec_quantities.grid_times`) and the model quantities
    (one :func:`nent_ref.quantities.neural.decompose` run shared by S_NN, L_EM and decomposition)."""
    spec = case.spec
    s0, s1 = spec["window"]["s0"], spec["window"]["s1"]
    wanted = spec["quantities"]
    if "grid" in spec:
        times = spec_quantities.grid_times(spec["grid"], s0, s1)
        for name in wanted:
            if name in spec_quantities.GRID_QUANTITIES:
                say(f"compute: {case.label()}: {name} on {times.size} times")
                out[name] = spec_quantities.compute_grid_quantity(name, case.data, case.process, s0, s1, times,
                                                                  opts, spec["accuracy"])
    modelled = [q for q in wanted if q in spec_quantities.MODEL_QUANTITIES]
    if modelled:
        say(f"compute: {case.label()}: model {spec['model']['target']}")
        if stot is None:
            stot = total_entropy(case.data, case.process, s0, s1, **opts)
        dec = spec_quantities.compute_model_quantities(spec["model"], case.data, case.process, s0, s1, stot,
                                                       case.base_dir, executor)
        for name in modelled:
            out[name] = dec


def _bare_case(spec: dict, base_dir) -> Case:
    c = Case.__new__(Case)
    c.base_dir, c.path, c.spec, c._data, c._process = Path(base_dir), "", spec, None, None
    return c


def _infinite_by_theory(name: str, value: float, case: Case) -> bool:
    """True when theory makes the quantity +infinite for this case (reported as null with a reason)."""
    if value != math.inf:
        return False
    name = name.rsplit(".", 1)[-1]                   # a column of a grid quantity: speed_limit_grid.clock
    if name == "clock":
        return bool(case.process.singular_at_T) and case.spec["window"]["s1"] >= case.process.T
    if name in ("S_tot", "kl_s0_eq", "S_tot_upper_bound", "mean_dirac_kl_s0"):   # atoms at s0 = 0
        return case.spec["data"]["kind"] in ("dirac", "empirical") and case.spec["window"]["s0"] == 0.0
    return False


def _extreme_fields(spec: dict) -> list[str]:
    """Dotted paths of the numbers in the spec's data, process and window beyond :data:`EXTREME_ABOVE` /
    below :data:`EXTREME_BELOW` in magnitude (iterative walk; at most 5 are listed)."""
    found = []
    stack = [(spec.get(key), key) for key in ("window", "process", "data")]
    while stack and len(found) < 5:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, _join(path, k)) for k, v in reversed(list(node.items())) if k != "provenance")
        elif isinstance(node, (list, tuple)):
            stack.extend((v, _join(path, i)) for i, v in reversed(list(enumerate(node))))
        elif _is_number(node):
            x = abs(float(node))
            if x > EXTREME_ABOVE or 0.0 < x < EXTREME_BELOW:
                found.append(f"{path} = {float(node):g}")
    return found


def _result_numbers(out: dict):
    """(column name, number or array) of every number in a compute result: Estimates (scalar or on a grid),
    speed-limit results and the dicts of grid quantities."""
    for name, res in out.items():
        if isinstance(res, Estimate):
            yield from ((name, res.value), (f"{name}_stderr", res.stderr), (f"{name}_error_bound", res.error_bound))
        elif isinstance(res, dict):
            yield from _result_numbers({f"{name}.{k}": v for k, v in res.items()})
        elif isinstance(res, SpeedLimitResult):
            yield from (("S_tot", res.s_tot.value), ("S_tot_stderr", res.s_tot.stderr),
                        ("W2_squared", res.w2_squared.value), ("W2_squared_stderr", res.w2_squared.stderr),
                        ("clock", float(res.clock)), ("bound", res.bound.value))
        elif isinstance(res, (int, float, np.ndarray)) and not isinstance(res, bool):
            yield name, res


def _check_results(out: dict, case: Case) -> None:
    """A NaN is never a result: every number of every estimate must be finite, except a value that theory
    makes +infinite (:func:`_infinite_by_theory`, reported as null with :func:`null_reason`).  Otherwise a
    SpecError naming the spec's extreme numbers (inputs out of range), or :class:`NonFiniteResultError`."""
    for key, val in _result_numbers(out):
        bad = [float(v) for v in np.ravel(np.asarray(val, dtype=float)) if not math.isfinite(v)]
        for val in bad:                              # every entry of a grid quantity, too
            if math.isnan(val) and key in spec_quantities.NULLABLE_GRID_COLUMNS:
                continue                             # null by design, with its note in the row
            if _infinite_by_theory(key, val, case):
                continue
            extreme = _extreme_fields(case.spec)
            what = "NaN" if math.isnan(val) else f"{'+' if val > 0 else '-'}inf"
            if extreme:
                raise SpecError(extreme[0].split(" = ")[0],
                                f"out of range: {key} came out {what}, not a number nent_ref can stand behind; "
                                f"the case has numbers beyond double-precision reach ({', '.join(extreme)}): "
                                "bring them within 1e-100 .. 1e100 in magnitude")
            raise NonFiniteResultError(f"{case.label()}: {key} came out {what} although every number of the spec "
                                       "is moderate: this is a bug in nent_ref, please report it with the spec")


def null_reason(name: str, value: float, case: Case) -> str:
    """Why a quantity's value is not a finite number (the ``<name>_note`` of a row whose value is null)."""
    if name in ("clock", "bound") and value == math.inf:
        return ("infinite: the clock int D ds diverges at s1 = T for a process whose drift is singular at T "
                "(SL, cosine VP); take s1 < T")
    if math.isnan(value):
        return "not a number (NaN)"
    return f"{'+' if value > 0 else '-'}infinite"


def efficiency_columns(eff: Estimate) -> dict:
    """Table columns of an efficiency from :func:`nent_ref.speed_limit` (``result.efficiency``).

    ``efficiency``, ``efficiency_stderr``: the plug-in ``W2^2 / (clock S_tot)`` (null, with the reason
    in ``efficiency_note``, where a sample plug-in's bias scale is not below the bracket width);
    ``efficiency_bias_bound``: its bias scale (``error_bound``); ``efficiency_lower`` /
    ``efficiency_upper``: the closed-form bracket clipped to (0, 1] (null for closed-form rows);
    ``efficiency_quote`` +- ``efficiency_quote_error`` and ``efficiency_quote_kind`` in
    ``nent_ref.quantities.speed.QUOTE_KINDS``: the number a user should quote (rules in :func:`speed_limit`).
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


def speed_limit_columns(res: SpeedLimitResult) -> dict:
    """Columns of the ``speed_limit`` quantity group (the speed-limit suite's columns).

    ``bound`` = W2^2 / clock carries the uncertainty of W2^2 divided by the (exact) clock:
    ``bound_stderr`` = ``W2_squared_stderr`` / clock and ``bound_bias_scale`` = ``W2_squared_bias_scale`` /
    clock.  A plug-in W2^2 from samples is biased *upwards* (by about its bias scale): its bound may then
    overstate the true lower bound on S_tot; the Gelbrich column is a bound that never does."""
    return {"S_tot": res.s_tot.value, "S_tot_stderr": res.s_tot.stderr,
            "W2_squared": res.w2_squared.value, "W2_squared_stderr": res.w2_squared.stderr,
            "W2_squared_bias_scale": res.w2_squared.error_bound,
            "W2_squared_gelbrich_lower": res.w2_squared.extra.get("gelbrich_lower_bound"),
            "W2_squared_componentwise_upper": res.w2_squared.extra.get("componentwise_upper_bound"),
            "clock": float(res.clock), "bound": res.bound.value, "bound_stderr": res.bound.stderr,
            "bound_bias_scale": res.bound.error_bound,
            **efficiency_columns(res.efficiency), "w2_method": res.w2_method, "S_tot_method": res.s_tot.method}


def _estimate_columns(name: str, est: Estimate) -> dict:
    cols = {name: est.value, f"{name}_stderr": est.stderr, f"{name}_error_bound": est.error_bound,
            f"{name}_method": est.method, f"{name}_unit": est.unit}
    if est.n_samples is not None:
        cols[f"{name}_n_samples"] = est.n_samples
    note = spec_quantities.negative_note(name, est.value, est.stderr)
    if note:
        cols[f"{name}_note"] = note
    if (est.extra or {}).get("target_met") is False:
        cols[f"{name}_target_met"] = False
    return cols


def _columns_of(name: str, res, case: Case, done: set) -> dict:
    """Row columns of one result of :func:`compute` (``done`` remembers a model decomposition already written)."""
    if name == "speed_limit":
        return speed_limit_columns(res)
    if name in spec_quantities.GRID_QUANTITIES:
        s0, s1 = case.spec["window"]["s0"], case.spec["window"]["s1"]
        times = spec_quantities.grid_times(case.spec["grid"], s0, s1)
        cols = {} if "grid_s" in done else {"grid_s": times.tolist()}
        done.add("grid_s")
        return {**cols, **spec_quantities.grid_columns(name, res, times, case.spec["unit"])}
    if name in spec_quantities.MODEL_QUANTITIES:
        if "model" in done:
            return {}
        done.add("model")
        return spec_quantities.model_columns(case.spec["quantities"], res, case.spec["unit"])
    return _estimate_columns(name, res)


def compute_row(case: Case, *, executor=None, progress=None, results=None) -> dict:
    """The flat row of a case: labels (``id``, ``data``, ``preset``, ``dim``, ``n_atoms``, ``process``,
    ``s0``, ``s1``), for each quantity ``<q>``, ``<q>_stderr``, ``<q>_error_bound``, ``<q>_method``
    (``<q>_n_samples`` for Monte Carlo; a null value comes with ``<q>_note``; ``speed_limit`` gives the
    columns of :func:`speed_limit_columns`), ``method`` (that of the first quantity), ``unit`` and the
    canonical ``spec`` (for data drawn by a generator, with the ``points_sha256`` of the atoms drawn where
    those are the same bits on every machine: :func:`generated_points_portable`)."""
    spec = copy.deepcopy(case.spec)
    caught = []
    if results is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PrecisionWarning)
            results = compute(case, executor=executor, progress=progress)
        for w in caught:                           # every warning is still shown (and errors where filtered so)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    data = case.data
    row = {}
    if spec.get("id"):
        row["id"] = spec["id"]
    row["data"] = spec["data"]["kind"]
    if spec["data"].get("preset"):
        row["preset"] = spec["data"]["preset"]
    row["dim"] = int(data.dim)
    if isinstance(data, Empirical):
        row["n_atoms"] = int(data.n_atoms)
        if ("generator" in spec["data"] and "points_sha256" not in spec["data"]
                and generated_points_portable(spec["data"]["generator"]["sample"])):
            spec["data"]["points_sha256"] = points_sha256(data.points)
    row["process"] = _process_label(spec["process"])
    row["s0"], row["s1"] = spec["window"]["s0"], spec["window"]["s1"]
    first_method = None
    done = set()
    for name, res in results.items():
        cols = _columns_of(name, res, case, done)
        first_method = first_method or (res.s_tot.method if name == "speed_limit" else
                                        res.method if isinstance(res, Estimate) else
                                        res.get("S_tot_method") if isinstance(res, dict) else res.s_nn.method)
        for key, val in cols.items():
            if isinstance(val, float) and not math.isfinite(val) and key in (name, "clock", "bound"):
                row[key] = None
                row[f"{key}_note"] = null_reason(key, val, case)
            else:
                row[key] = val
    row["method"] = first_method
    row["unit"] = spec["unit"]
    unmet = [str(w.message) for w in caught if issubclass(w.category, PrecisionWarning)]
    if unmet:                                      # a precision target not met is part of the result
        row["precision_warnings"] = unmet
    row["spec"] = spec
    return row


def rows_of(cases_, *, executor=None, progress=None) -> list[dict]:
    """:func:`compute_row` of each case."""
    return [compute_row(c, executor=executor, progress=progress) for c in cases_]


# --------------------------------------------------------------------------- writing specs
def materialise(spec: dict, directory, stem: str) -> dict:
    """A copy of a canonical spec whose generated empirical data are written out, for readers without
    nent_ref: inline ``points`` when N * D <= :data:`INLINE_MAX`, else the file ``directory/<stem>.npy``,
    named in the spec as ``<directory name>/<stem>.npy`` (relative to the directory holding
    ``directory``, where the spec file goes) with its ``sha256``.  The generator is kept as ``provenance``
    and the atoms' digest as ``points_sha256``; ``S_tot_population`` (which needs the generator) is
    dropped from the quantities.  Other specs are returned unchanged (copied)."""
    spec = copy.deepcopy(spec)
    d = spec["data"]
    if d["kind"] != "empirical" or "generator" not in d:
        return spec
    case = _bare_case(spec, Path.cwd())
    points = case.data.points
    new = {"kind": "empirical"}
    if points.size <= INLINE_MAX:
        new["points"] = points.tolist()
    else:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{stem}.npy"
        np.save(target, np.ascontiguousarray(points, dtype="<f8"), allow_pickle=False)
        new["file"] = f"{directory.name}/{target.name}"
        new["sha256"] = file_sha256(target)
    new["points_sha256"] = points_sha256(points)
    new["provenance"] = {"generator": d["generator"]}
    spec["data"] = new
    spec["quantities"] = [q for q in spec["quantities"] if q != "S_tot_population"] or ["S_tot"]
    return spec


def _toml_ready(v):
    """A spec value TOML can hold: null fields of tables left out (TOML has no null), finite numbers only."""
    if isinstance(v, dict):
        return {k: _toml_ready(x) for k, x in v.items() if x is not None}
    if isinstance(v, (list, tuple)):
        return [_toml_ready(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError("TOML specs hold finite numbers only")
    return v


def dumps_toml(spec: dict) -> str:
    """A spec as a TOML document, written by ``tomli_w`` (null fields are left out; reading it back with
    ``tomllib`` and :func:`normalize_spec` gives the same canonical form)."""
    import tomli_w                                   # deferred: only writing TOML needs it
    return tomli_w.dumps(_toml_ready(spec))

