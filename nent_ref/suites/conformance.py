r"""Conformance: grade another implementation's numbers against nent_ref's ground truth.

Workflow (docs/conformance.md):

1. ``nent-ref conformance --emit cases.json`` writes the canonical cases (:func:`canonical_cases`) as case
   specifications (:mod:`nent_ref.suites.specs`, format in docs/specs.md): inputs only, no answers.  Large
   generated data go to ``cases.data/<id>.npy`` beside it, named with their sha256.
2. The other implementation computes the quantities each case lists and writes a *claims* file::

       {"implementation": "my-code 1.2",
        "claims": [{"case": "gaussian-1d-vp16", "quantity": "S_tot", "value": 0.1378639},
                   {"case": "official-mlp-D9-vp16", "quantity": "S_tot", "value": 5.63, "stderr": 0.004},
                   {"spec": {...any spec...}, "quantity": "kl_s0_eq", "value": 1.25, "unit": "bit"}]}

   A claim names a case id or carries a full spec, one quantity (:data:`nent_ref.suites.specs.QUANTITIES`,
   the checkable ones) and its value (null for a quantity that is infinite), optionally its ``stderr``
   (Monte Carlo), its own deterministic ``error_bound``, the number of significant ``digits`` it was
   rounded to (a published number), its ``unit`` (default the case's) and a ``note`` (shown in the report).
3. ``nent-ref check claims.json`` computes the reference for each claim and grades it with

   .. math:: z = \frac{c - r}{\sqrt{\sigma_c^2 + \sigma_r^2} + b_c + b_r + h_c + \epsilon\,\max(|r|, |c|, \mathrm{scale}_r)},

   the claim's and the reference's standard errors combined in quadrature (a Monte Carlo reference's
   uncertainty is part of every z graded against it), plus both deterministic error bounds, the claim's
   rounding error ``h_c`` (half a unit in the last of its ``digits`` significant digits; 0 without
   ``digits``) and a rounding floor (``epsilon`` = ``--rtol``, default :data:`nent_ref.core.estimate.ROUNDING_RTOL`
   = 1e-10; raise it for float32 implementations).  A claim passes when ``|z| <= threshold`` (default 5).
   A non-finite claim (NaN, or an infinity where the reference is finite) fails with its reason; the
   other claims are graded all the same.  The command prints a readable report (and a JSON one with ``--json`` / ``--report FILE``) and exits 1
   when any claim fails.

:func:`official_recipe` re-expresses the official Neural Entropy code's estimator in numpy on nent_ref's
exact scores, for the audit in docs/official_audit.md.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..core.checks import rng as _rng
from ..core.estimate import ROUNDING_RTOL, Estimate
from ..core.progress import progress_bar
from ..core.processes import check_process
from . import cases as _cases
from . import spec_schema, specs
from .specs import Case, QUANTITIES, SpecError, did_you_mean

__all__ = ["CONFORMANCE_VERSION", "canonical_cases", "emit", "Claim", "ClaimResult", "CheckReport",
           "load_claims", "check", "grade", "rounding_half_unit", "DEFAULT_THRESHOLD", "MAX_DIGITS",
           "OfficialRecipe", "official_recipe"]

#: Version of the cases and claims formats.
CONFORMANCE_VERSION = 1
#: A claim passes when |z| <= this.
DEFAULT_THRESHOLD = 5.0
#: Most significant digits a claim may give (a float64 holds 15 to 17).
MAX_DIGITS = 17


# --------------------------------------------------------------------------- the canonical cases
#: Accuracy of the D = 9 official case (Monte Carlo): 2^21 samples, standard error about 1.4e-3 nats
#: (0.02 % of S_tot), so that the reference's own scatter moves the z of a claim with stderr 4e-3 by
#: under 6 % (its stderr is combined into z all the same).  A single-seed reference 2.8 standard errors
#: off, its stderr left out of z, had moved such a claim from z = -2.9 to z = -5.2 (issue 18).
_D9_ACCURACY = {"seed": 1, "n_samples": 2 ** 21}


def canonical_cases() -> list[dict]:
    """The canonical conformance cases (specs with ids, not yet normalised).

    Closed forms (Gaussian in 1, 2, 3, 9 D under VP, VPx, SL, VE and the cosine VP; a Dirac atom), the
    official code's mixtures under the paper's processes (cubature in 2-D, Monte Carlo in 9-D), including
    the two windows of the official estimator, a mixture with full covariances, and empirical data (inline,
    and 200 atoms drawn from the official D = 2 mixture, written to a file by :func:`emit`).
    """
    eps = _cases.EPS
    win = _cases.official_windows()

    def case(cid, data, process, s0, s1, quantities, accuracy=None, description=None):
        spec = {"id": cid, "data": data if isinstance(data, dict) else {"kind": "preset", "name": data},
                "process": {"kind": "preset", "name": process}, "window": {"s0": s0, "s1": s1},
                "quantities": quantities}
        if accuracy:
            spec["accuracy"] = accuracy
        if description:
            spec["description"] = description
        return spec

    three = ["S_tot", "kl_s0_eq", "kl_s1_eq"]
    out = [
        case("gaussian-1d-vp16", "gaussian-1d", "vp16", 0.0, 1.0, three + ["clock"]),
        case("gaussian-3d-vpx", "gaussian-3d", "vpx", 0.0, 1.0, three + ["clock"]),
        case("gaussian-9d-sl", "gaussian-9d", "sl", 0.0, 1.0, three),
        case("gaussian-2d-ve", "gaussian-2d", "ve", 0.0, 1.0, ["S_tot", "clock"]),
        case("gaussian-2d-vp-cosine", "gaussian-2d", "vp-cosine", 0.0, 1.0, ["S_tot", "kl_s0_eq"]),
        case("dirac-3d-vp20", "dirac-3d", "vp20", eps, 1.0, three),
    ]
    for preset, procs in (("official-notebook-D2", ("vp16", "vpx", "sl")), ("official-mlp-D2", ("vp16",)),
                          ("official-mlp-D9", ("vp16",))):
        for p in procs:
            out.append(case(f"{preset}-{p}", preset, p, eps, 1.0, three if preset != "official-mlp-D9" else ["S_tot"],
                            _D9_ACCURACY if preset == "official-mlp-D9" else None))
    out.append(case("official-notebook-D2-vpx-official-S_tot-window", "official-notebook-D2", "vpx",
                    *win["S_tot"], ["S_tot"],
                    description="the window of the S_tot the official estimator reports: its grid "
                                "linspace(1e-5, 1, 100) up to the second-to-last node"))
    out.append(case("official-notebook-D2-sl-official-S_NN-window", "official-notebook-D2", "sl",
                    *win["S_NN"], ["S_tot"],
                    description="the window of the official neural-entropy integral (second to second-to-last "
                                "node); for the exact score S_NN = S_tot on it"))
    out.append(case("mixture-full-2d-vp20",
                    {"kind": "mixture", "weights": [0.3, 0.7], "means": [[-1.0, 0.5], [1.5, -0.5]],
                     "covs": [[[0.5, 0.2], [0.2, 0.4]], [[0.3, -0.1], [-0.1, 0.6]]]},
                    "vp20", 0.0, 1.0, three))
    out.append(case("empirical-1d-sl", {"kind": "empirical", "points": [[-1.2], [-0.3], [0.4], [0.9], [2.0]]},
                    "sl", eps, 0.999, ["S_tot", "kl_s0_eq"]))
    out.append(case("empirical-official-mlp-D2-N200-vp16",
                    {"kind": "empirical", "generator": {"sample": {"kind": "preset", "name": "official-mlp-D2"},
                                                        "n": 200, "seed": [12, 1]}},
                    "vp16", eps, 1.0, ["S_tot"], {"method": "monte-carlo", "seed": 2, "n_samples": 2 ** 16}))
    return out


def _case_table(cases_source=None) -> dict:
    """Case id -> Case: the canonical cases, or those of a cases file / parsed document."""
    if cases_source is None:
        found = specs.load_cases({"cases": canonical_cases()})
    else:
        found = specs.load_cases(cases_source)
    return {c.id: c for c in found if c.id}


def emit(path) -> Path:
    """Write the canonical cases (inputs only) to ``path`` (JSON); generated empirical data are written
    inline when small, else to ``<stem>.data/<id>.npy`` beside ``path`` with their sha256.  Returns the path."""
    path = Path(path)
    data_dir = path.parent / f"{path.stem}.data"
    out = []
    for c in specs.load_cases({"cases": canonical_cases()}):
        out.append(specs.materialise(c.spec, data_dir, c.id))
    doc = {"format": "nent_ref-cases", "version": CONFORMANCE_VERSION,
           "description": f"nent_ref {__version__} conformance cases: compute each case's quantities (no answers "
                          "here) and grade them with `nent-ref check claims.json` (docs/conformance.md)",
           "cases": out}
    path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return path


# --------------------------------------------------------------------------- claims
@dataclass
class Claim:
    """One claimed number: a case (its id, or its own spec), a quantity, the value and its uncertainties."""

    index: int
    quantity: str
    value: float | None
    stderr: float = 0.0
    error_bound: float = 0.0
    unit: str | None = None
    case_id: str | None = None
    spec: dict | None = None
    note: str | None = None
    digits: int | None = None

    @property
    def label(self) -> str:
        """Where the claim sits in its file: ``claims[<index>]``."""
        return f"claims[{self.index}]"

    @property
    def rounding(self) -> float:
        """Half a unit in the last of the claim's significant :attr:`digits` (0 without digits)."""
        if self.digits is None or self.value is None or not math.isfinite(self.value):
            return 0.0
        return rounding_half_unit(self.value, self.digits)


_CLAIM_KEYS = ("case", "spec", "quantity", "value", "stderr", "error_bound", "digits", "unit", "note")


def rounding_half_unit(value: float, digits: int) -> float:
    r"""Half a unit in the last significant digit of ``value`` written with ``digits`` significant digits.

    :math:`h = \tfrac12\,10^{\,e - n + 1}` with :math:`e` the decimal exponent of ``value`` rounded to
    :math:`n` = ``digits`` significant digits (``317.874``, 6 digits: ``h = 5e-4``).  A value of 0 has no
    significant digits: ValueError.
    """
    digits = int(digits)
    if not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be an integer in [1, {MAX_DIGITS}] (got {digits!r})")
    value = float(value)
    if not math.isfinite(value) or value == 0.0:
        raise ValueError(f"digits: a value of {value!r} has no significant digits; give an error_bound instead")
    exponent = int(f"{abs(value):.{digits - 1}e}".rsplit("e", 1)[1])     # as written, after rounding
    return 0.5 * 10.0 ** (exponent - digits + 1)


def _claim_digits(value, path):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIGITS:
        raise SpecError(path, f"must be the number of significant digits of the value, an integer in "
                              f"[1, {MAX_DIGITS}] (got {value!r})")
    return int(value)


def load_claims(source, *, digits=None) -> tuple[list[Claim], dict, Path]:
    """Read a claims file (JSON) or document: ``{"claims": [...], "implementation": ..., ...}`` or a bare list
    of claims.  Returns ``(claims, header, base_dir)``; a :class:`SpecError` names the bad field
    (``claims[3].quantity``).  ``digits``: significant digits of the claims that do not give their own
    (``--digits`` of ``nent-ref check``; default none).  A NaN or infinite value is read (and graded as a
    failure by :func:`grade`), not rejected."""
    digits = _claim_digits(digits, "digits")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if str(source) != "-" and not path.is_file():
            raise SpecError("", f"no such claims file: {str(source)!r}")
        doc, base = specs.read_spec_file(source)
    else:
        doc, base = source, Path.cwd()
    # keys, types, quantity names, ranges, case or spec, digits of a nonzero value; each claim's spec as well
    doc = spec_schema.check_claims(doc)
    header = {}
    if isinstance(doc, dict):
        header = {k: v for k, v in doc.items() if k not in ("claims", "$schema")}
        items = doc["claims"]
    else:
        items = doc
    claims = []
    for i, item in enumerate(items):
        p = f"claims[{i}]"
        q = item["quantity"]
        unit = item.get("unit")
        note = item.get("note")
        # a NaN or infinite value is read and graded as a failure with its reason (grade())
        value = None if item["value"] is None else float(item["value"])
        own_digits = item.get("digits")
        claim = Claim(index=i, quantity=q, value=value,
                      stderr=float(item.get("stderr") or 0.0), error_bound=float(item.get("error_bound") or 0.0),
                      unit=None if unit is None else unit.rstrip("s"), note=note,
                      digits=own_digits if own_digits is not None else (digits if value != 0.0 else None))
        if item.get("case") is not None:
            claim.case_id = item["case"]
        else:
            claim.spec = specs.normalize_spec(item["spec"], f"{p}.spec", checked=True)
        claims.append(claim)
    return claims, header, base


# --------------------------------------------------------------------------- grading
@dataclass
class ClaimResult:
    """The grade of one claim: the reference, the combined uncertainty ``sigma``, ``z`` and the verdict."""

    claim: Claim
    case: str
    unit: str
    reference: Estimate
    sigma: float
    z: float
    passed: bool
    note: str = ""

    def to_dict(self) -> dict:
        ref = self.reference
        c = self.claim
        return {"index": c.index, "label": c.label, "case": self.case, "quantity": c.quantity, "unit": self.unit,
                "claimed": {"value": _json_number(c.value), "stderr": c.stderr, "error_bound": c.error_bound,
                            "digits": c.digits, "rounding": c.rounding, "note": c.note},
                "reference": {"value": _finite_or_none(ref.value), "stderr": ref.stderr,
                              "error_bound": ref.error_bound, "method": ref.method, "n_samples": ref.n_samples},
                "sigma": _finite_or_none(self.sigma), "z": _finite_or_none(self.z),
                "verdict": "pass" if self.passed else "FAIL", "note": self.note or None}


def _finite_or_none(x):
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _json_number(x):
    """A claimed value for the JSON report: the number, null, or "NaN" / "Infinity" / "-Infinity"."""
    if x is None or math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


_DIGITS_HINT = ("no stderr, error_bound or digits given: if the claim is rounded, say to how many significant "
                "digits (\"digits\": n in the claim, or --digits n): half a unit in the last one joins its error")


def grade(claim: Claim, reference: Estimate, *, threshold=DEFAULT_THRESHOLD, rtol=ROUNDING_RTOL):
    """``(sigma, z, passed, note)`` of a claim against its reference (see the module docstring)."""
    r = float(reference.value)
    c = claim.value
    if c is not None and math.isnan(c):
        return math.nan, math.nan, False, "the claim is not a number (NaN)"
    if not math.isfinite(r):
        ok = c is None or c == r
        return math.nan, (0.0 if ok else math.inf), ok, "the reference is infinite" + (
            "" if ok else "; claim null (or the same infinity) for it")
    if c is None:
        return math.nan, math.inf, False, "the claim is null but the reference is finite"
    if not math.isfinite(c):
        return math.nan, c, False, f"the claim is {'+' if c > 0 else '-'}infinite but the reference is finite"
    scale = max(abs(r), abs(c), float(reference.scale))
    sigma = (math.hypot(claim.stderr, float(reference.stderr)) + claim.error_bound
             + float(reference.error_bound) + claim.rounding + rtol * scale)
    diff = c - r
    if sigma > 0:
        z = diff / sigma
    else:
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    ok = abs(z) <= threshold
    note = ""
    if not ok and claim.stderr == 0 and claim.error_bound == 0 and claim.digits is None:
        note = _DIGITS_HINT
    return sigma, z, ok, note


@dataclass
class CheckReport:
    """The graded claims of one ``nent-ref check`` run."""

    results: list
    threshold: float
    rtol: float
    header: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def n_failed(self) -> int:
        return sum(not r.passed for r in self.results)

    def to_dict(self) -> dict:
        return {"nent_ref_version": __version__, "format": "nent_ref-check-report", "version": CONFORMANCE_VERSION,
                "implementation": self.header.get("implementation"), "passed": self.passed,
                "n_claims": len(self.results), "n_failed": self.n_failed, "threshold": self.threshold,
                "rtol": self.rtol, "z": "(claim - reference) / (sqrt(stderr_claim^2 + stderr_ref^2) + error_bound_claim"
                                        " + error_bound_ref + rounding_claim + rtol * max(|reference|, |claim|, "
                                        "scale)); rounding_claim = half a unit in the last of the claim's digits",
                "claims": [r.to_dict() for r in self.results]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)

    def __str__(self) -> str:
        lines = [f"nent-ref check: {len(self.results)} claims graded against nent_ref {__version__} "
                 f"(pass when |z| <= {self.threshold:g}; z = (claim - reference) / (combined stderr + error bounds "
                 f"+ claim rounding + {self.rtol:g} |reference|))"]
        if self.header.get("implementation"):
            lines.append(f"implementation: {self.header['implementation']}")
        rows = [("#", "case", "quantity", "claim", "reference", "z", "verdict")]
        for r in self.results:
            c = r.claim
            claim = "null" if c.value is None else f"{c.value:.10g}"
            if c.stderr:
                claim += f" ± {c.stderr:.2g}"
            if c.digits is not None:
                claim += f" ({c.digits} digits)"
            ref = r.reference
            refs = f"{float(ref.value):.12g}" if math.isfinite(float(ref.value)) else "inf"
            if ref.stderr:
                refs += f" ± {ref.stderr:.2g}"
            refs += f" ({ref.method})"
            if math.isnan(r.z):
                z = "-"
            elif not math.isfinite(r.z):
                z = "+inf" if r.z > 0 else "-inf"
            else:
                z = f"{r.z:+.2f}" if abs(r.z) < 1e4 else f"{r.z:+.2e}"
            verdict = "pass" if r.passed else "FAIL"
            if r.note:
                verdict += f" ({r.note})"
            if c.note:
                verdict += f"; note: {c.note}"
            rows.append((str(c.index), r.case, f"{c.quantity} [{r.unit}]", claim, refs, z, verdict))
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        for row in rows:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:6], widths)) + "  " + row[6])
        n = len(self.results)
        lines.append(f"overall: {'PASSED' if self.passed else 'FAILED'} ({n - self.n_failed} of {n} claims pass)")
        return "\n".join(lines)


def check(claims_source, *, cases=None, threshold=DEFAULT_THRESHOLD, rtol=ROUNDING_RTOL, digits=None,
          executor=None, progress=None) -> CheckReport:
    """Grade a claims file (or parsed document) against the reference.

    ``cases``: where case ids are looked up (a cases file or document; default :func:`canonical_cases`).
    ``digits``: significant digits of the claims that do not say (``"digits"`` in a claim wins).
    Each case is computed once, for the union of the quantities claimed about it, in the claimed unit;
    each result is labelled with its own claim (``claims[3]``).
    """
    threshold = float(threshold)
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a positive number (got {threshold!r})")
    rtol = float(rtol)
    if not (math.isfinite(rtol) and 0 <= rtol < 1):
        raise ValueError(f"rtol must be in [0, 1) (got {rtol!r})")
    rtol = max(rtol, ROUNDING_RTOL)
    claims, header, base = load_claims(claims_source, digits=digits)
    table = _case_table(cases) if any(c.case_id for c in claims) else {}
    groups: dict = {}
    for c in claims:
        if c.case_id is not None:
            if c.case_id not in table:
                raise SpecError(f"claims[{c.index}].case", f"unknown case id {c.case_id!r} (the cases are: "
                                                           f"{', '.join(table)}){did_you_mean(c.case_id, table)}")
            spec, label = table[c.case_id].spec, c.case_id
            cbase = table[c.case_id].base_dir
        else:
            spec, label, cbase = c.spec, c.spec.get("id") or f"{c.label}.spec", base
        unit = c.unit or spec["unit"]
        try:                                       # the claimed quantity must exist for this case
            specs.normalize_spec(dict(spec, quantities=[c.quantity], unit=unit))
        except SpecError as exc:
            msg = str(exc).split(": ", 1)[-1]
            raise SpecError(f"claims[{c.index}].quantity", f"{c.quantity!r} for case {label!r}: {msg}") from None
        key = (json.dumps(spec, sort_keys=True), unit)
        g = groups.setdefault(key, {"spec": spec, "unit": unit, "label": label, "base": cbase, "claims": []})
        g["claims"].append((c, label))
    results = {}
    for g in progress_bar(list(groups.values()), desc="check", unit="case", quiet=progress is None):
        spec = dict(g["spec"])
        wanted = {c.quantity for c, _ in g["claims"]}
        order = [q for q in spec["quantities"] if q in wanted] + [q for q in QUANTITIES if q in wanted
                                                                  and q not in spec["quantities"]]
        spec.update(quantities=order, unit=g["unit"])
        case = Case(spec, base_dir=g["base"])
        if progress:
            progress(f"check: computing {g['label']} ({', '.join(order)})")
        ref = specs.compute(case, executor=executor)
        for c, label in g["claims"]:                 # each claim keeps its own label (claims[3].spec, not claims[0]'s)
            sigma, z, ok, note = grade(c, ref[c.quantity], threshold=threshold, rtol=rtol)
            results[c.index] = ClaimResult(c, label, ref[c.quantity].unit, ref[c.quantity], sigma, z, ok, note)
    return CheckReport([results[i] for i in sorted(results)], threshold, rtol, header)


# --------------------------------------------------------------------------- the official estimator
@dataclass
class OfficialRecipe:
    """One run of the official estimator (re-expressed in numpy; see :func:`official_recipe`).

    ``times``: the grid; ``rates``: the sample-mean entropy-production rate at each node (NaN where
    D(s) = inf meets an exactly zero score difference, as for SL at s = 1); ``s_tot``: the reported total,
    the cumulative trapezoid's second-to-last value = S_tot estimate on ``s_tot_window``; ``s_nn``: the
    neural-entropy integral, trapezoid from the second to the second-to-last node (``s_nn_window``).
    """

    times: np.ndarray
    rates: np.ndarray
    cumulative: np.ndarray
    s_tot: float
    s_nn: float
    s_tot_window: tuple
    s_nn_window: tuple
    n_data: int


def official_recipe(data, process, *, e=None, n_data: int = _cases.OFFICIAL_N_DATA, n_times: int = 100,
                    seed=0) -> OfficialRecipe:
    r"""The official Neural Entropy estimator, re-expressed in numpy on nent_ref's exact scores.

    The recipe (package data ``official_estimator``, facts read from the official code): ``n_data`` data
    samples drawn once and reused at every time; times ``linspace(1e-5, 1, n_times)``; at each time one noise
    draw per sample, ``y = mu x + sqrt(v) z``, and the sample mean of the rate
    :math:`D(s)\,|\nabla\log p_{eq}(y) - \nabla\log p_s(y)|^2` (or :math:`D(s)|e(y, s)|^2` for a model
    ``e``); then the cumulative trapezoid.  The reported S_tot is its second-to-last value (the last is NaN
    under SL: D(1) is infinite and the score difference exactly zero), and the neural-entropy integral
    runs from the second node.  Random numbers come from numpy (``seed``: anything :func:`nent_ref.core.
    checks.rng` accepts), not from JAX, so single runs differ from the official ones; their spread over
    seeds is what this function is for.

    ``e`` (optional): a model ``e(x, s)`` (batched, x (M, D), s (M,)); default the exact
    :math:`e^* = \nabla\log p_s - \nabla\log p_{eq}`, for which the neural rate equals the total rate.
    """
    check_process(process)
    gen = _rng(seed)
    x = np.asarray(data.sample(int(n_data), seed=gen), dtype=float)
    times = np.linspace(_cases.EPS, process.T, int(n_times))
    rates = np.empty(times.size)
    for j, s in enumerate(times):
        mu, v = float(process.mean_coeff(s)), float(process.marginal_var(s))
        y = mu * x + math.sqrt(v) * gen.standard_normal(x.shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d_coef = float(process.diffusion(s))
            if e is None:
                diff = process.grad_log_peq(y) - data.diffuse(process, s).score(y)
            else:
                diff = np.asarray(e(y, np.full(y.shape[0], s)), dtype=float)
            rates[j] = float(np.mean(d_coef * np.einsum("nd,nd->n", diff, diff)))
    with np.errstate(invalid="ignore"):
        steps = 0.5 * (rates[1:] + rates[:-1]) * np.diff(times)
        cumulative = np.cumsum(steps)
        s_nn = float(np.sum(steps[1:-1]))
    return OfficialRecipe(times, rates, cumulative, float(cumulative[-2]), s_nn,
                          (float(times[0]), float(times[-2])), (float(times[1]), float(times[-2])), int(n_data))
