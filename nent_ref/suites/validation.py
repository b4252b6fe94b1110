r"""Validate a score model against exact ground truth: ``nr.validate(model, data, process)``.

The report answers two separate questions, quality first.

**Quality: how far is the model from the exact optimum** :math:`e^*`?  Measured by the
entropy-matching loss :math:`L_{EM}` (likelihood weighting: the path KL between the model's reverse
SDE and the exact one, in nats), by :math:`L_{EM}/S_{tot}` (the same as a fraction of the
information the reverse process needs), by the likelihood bound
:math:`\mathrm{KL}(p_{data}\|p_{model}) \le \mathrm{KL}(p_{s_1}\|p_{eq}) + L_{EM}` and by the
per-time rates.  :math:`S_{NN}/S_{tot}` is printed but is *not* a quality measure: since
:math:`S_{NN} = S_{tot} + L_{EM} - 2(S_{tot} - C)`, a model can have :math:`S_{NN} = S_{tot}`
with a large :math:`L_{EM}` (a ratio of 1.002 was seen for a network with 3.5 times the
:math:`L_{EM}` of a better-trained one).  The verdict comes from **gates** the user sets; a gate
on an estimate :math:`\hat q` with uncertainty :math:`\sigma` (standard error plus error bound)
and limit :math:`g`

* passes when the upper confidence bound :math:`\hat q + z\sigma \le g`,
* fails when the lower confidence bound :math:`\hat q - z\sigma > g`,
* is *inconclusive* otherwise (not passed: more samples, ``n_samples``, decide),

with ``z = gate_z`` (default 2, a one-sided 97.7 % bound).  So a model passes only when the
data show it is within the gate, and the exact model, whose :math:`L_{EM}` is exactly 0, always
passes.  Default gates (always in nats, whatever ``base``):

* ``max_l_em = 0.1`` nats: by the likelihood bound the generated distribution is then within
  :math:`\mathrm{KL}(p_{s_1}\|p_{eq}) + 0.1` nats of the data, i.e. in total variation within
  :math:`\sqrt{(\mathrm{KL}(p_{s_1}\|p_{eq}) + 0.1)/2} \approx 0.22` (Pinsker) -- a strict, absolute
  budget, sized for the low-dimensional cases nent_ref has exact ground truth for; an absolute
  budget grows with the dimension, so set it for yours (or ``None``);
* ``max_l_em_fraction = 0.05``: the model misses at most 5 % of the information the reverse
  process needs (scale-free; the Gaussian fit of the paper's 2-D mixture misses 36 %, the best
  affine model as much);
* ``max_kl_bound = None`` (off): a limit on :math:`\mathrm{KL}(p_{s_1}\|p_{eq}) + L_{EM}`
  (needs a process with an equilibrium).

**Consistency: is the pipeline computing what it claims?**  Identities and bounds of
docs/theory.md section 3 that hold for *any* model, so a pass says nothing about quality and a failure
means the numbers cannot be trusted (wrong ground truth, data or process mismatch, a false
claim), not that the model is poor:

* ``decomposition``: :math:`L_{EM} = S_{tot} + S_{NN} - 2C` (identity; on the same samples it
  compares the exact-score Monte Carlo with the closed-form/quadrature ground truth);
* ``sqrt_bound``: :math:`(\sqrt{S_{tot}} - \sqrt{S_{NN}})^2 \le L_{EM}` (bound);
* ``denoising``: :math:`L_{den} - K = L_{EM}` (identity: the training loss equals the exact loss
  up to the e-independent constant K), with the likelihood weighting when ``s0 > 0`` and the unit
  weighting (:math:`\lambda = v`, unit "time") when ``s0 = 0``; the report prints the
  :math:`L_{EM}` of that weighting, ``l_em_denoising``;
* ``likelihood_bound``: :math:`\mathrm{KL}(p_{s_0}\|p^{model}_{s_0}) \le \mathrm{KL}(p_{s_1}\|p_{eq})
  + L_{EM}` (bound), only when :math:`\mathrm{KL}(p_{s_0}\|p^{model}_{s_0})` is known: passed as
  ``kl_data_model=`` or provided by the model's own ``kl_data_model(s0, s1)`` method (the
  reference model :func:`nent_ref.quantities.reference_models.perturbed_e` with Gaussian data has one).

An identity passes when ``|z| <= threshold`` and a bound when ``z >= -threshold`` (default 5),
where ``z = margin.z_score(0)``: the margin divided by its standard error plus any deterministic
error bound plus the rounding floor of :meth:`nent_ref.core.estimate.Estimate.z_score`
(``ROUNDING_RTOL = 1e-10`` times ``margin.scale``), which keeps exact cases (``stderr = 0``, a
margin of a few ulps) from dividing by zero.

**Verdict and exit codes.**  ``report.passed`` is the overall verdict: every consistency check
and every quality gate passed.  ``report.consistent`` and ``report.quality_passed`` give the two
parts, ``report.verdict`` one word, and ``report.exit_code`` the status the ``nent-ref validate``
command exits with: 0 passed, :data:`EXIT_QUALITY_FAILED` (1) a quality gate failed or was
inconclusive (the numbers are consistent), :data:`EXIT_CONSISTENCY_FAILED` (5) a consistency
check failed (this takes precedence: the quality numbers cannot be trusted then).  A Python
script can end with ``raise SystemExit(report.exit_code)``.

**Model calls.**  The model is called in batches of exactly ``chunk_size`` rows (default: the
samples per time level, at most 256, or the ``batch_size`` of a JAX adapter), the last
batch of a call padded by repeating its last row, so a jit-compiled model compiles once.  A
torch module or a jit-compiled JAX function is wrapped by :func:`nent_ref.quantities.adapters.adapt`
(PyTorch: ``no_grad``, eval mode, its device and dtype; JAX: one compile, float64 where enabled);
for options use :func:`~nent_ref.quantities.adapters.from_torch` /
:func:`~nent_ref.quantities.adapters.from_jax`.  The report records the framework, dtype,
device, every dtype conversion, and the calls, rows, padding and time spent in the model.  Calls
with byte-identical inputs (the unit-weighted denoising run repeats the samples of the main run)
are answered from memory, so the model is evaluated once per sample.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.checks import ModelError, count, finite_float, real_scalar, seed_sequence
from ..core.data import DEFAULT_CUTOFF, Gaussian, needs_cutoff
from ..core.estimate import DIMENSIONLESS, NAT, NAT_PER_TIME, Estimate, log_base
from ..core.mixture import Empirical, GaussianMixture
from ..core.processes import VE, VP, SL, CosineSchedule, check_process
from ..quantities.predictions import as_e_model
from ..quantities.adapters import DEFAULT_BATCH_SIZE, FixedBatchModel, adapt, is_adapter
from ..quantities.entropy import total_entropy
from ..quantities.neural import (LEVELS_PER_STRATUM, RateCurves, check_atom_cutoff, check_s_tot, decompose,
                                 entropy_matching_loss, rate_curves)
from ..quantities.precision import PILOT_N_SAMPLES, PILOT_N_TIMES
from . import cases

__all__ = ["validate", "ValidationReport", "Check", "Gate", "load_data", "data_presets", "process_presets",
           "make_process", "process_family", "PROCESS_FAMILIES", "EXIT_QUALITY_FAILED", "EXIT_CONSISTENCY_FAILED",
           "DEFAULT_MAX_L_EM", "DEFAULT_MAX_L_EM_FRACTION", "DEFAULT_MAX_KL_BOUND", "DEFAULT_GATE_Z",
           "adapt", "ModelError"]   # re-exported from nent_ref.quantities.adapters and nent_ref.core.checks (CLI)

#: Default cutoff s0 for data whose entropy production diverges at s = 0 (Dirac, empirical).
DEFAULT_EPS = DEFAULT_CUTOFF

#: ``report.exit_code`` (and ``nent-ref validate``'s status) when a quality gate failed or was
#: inconclusive while every consistency check passed.
EXIT_QUALITY_FAILED = 1
#: ``report.exit_code`` when a consistency check failed (whatever the gates say).
EXIT_CONSISTENCY_FAILED = 5

#: Default gate on L_EM (nats; see the module docstring for the reasoning).
DEFAULT_MAX_L_EM = 0.1
#: Default gate on L_EM / S_tot.
DEFAULT_MAX_L_EM_FRACTION = 0.05
#: Default gate on the likelihood bound KL(p_s1 || p_eq) + L_EM (off).
DEFAULT_MAX_KL_BOUND = None
#: Confidence multiplier of the gates: pass when value + z * uncertainty <= limit.
DEFAULT_GATE_Z = 2.0

#: Bytes of model outputs kept to answer repeated calls (the unit-weighted denoising run).
MEMO_BYTES = 256 * 2 ** 20
#: Rows per call that validate hands the Monte Carlo engine (split further into model batches).
_ENGINE_CHUNK = 8192

_VERDICTS = {"passed": "PASSED", "quality-failed": "FAILED (quality)", "consistency-failed": "FAILED (consistency)"}


@dataclass
class Check:
    """One identity or bound: ``margin`` (an Estimate), its ``z`` = margin / uncertainty, and the verdict."""

    name: str
    statement: str
    kind: str           # "identity" or "bound"
    margin: Estimate
    z: float
    threshold: float
    passed: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "statement": self.statement, "kind": self.kind,
                "margin": self.margin.to_dict(), "z": _num(self.z), "threshold": self.threshold,
                "passed": self.passed}


@dataclass
class Gate:
    r"""A quality gate ``quantity <= limit``, judged with confidence bounds ``value -+ z * uncertainty``.

    ``status`` is ``"pass"`` (upper bound within the limit), ``"fail"`` (lower bound above it),
    ``"inconclusive"`` (the limit lies between the bounds: more samples decide), ``"off"`` (no
    limit set) or ``"n/a"`` (the quantity is undefined, e.g. :math:`L_{EM}/S_{tot}` with
    :math:`S_{tot} = 0`).  Only ``"pass"`` and ``"off"`` count as passed.  ``value`` and ``limit``
    are in the report's unit (``unit``).
    """

    name: str           # the argument of validate that sets it: max_l_em, max_l_em_fraction, max_kl_bound
    quantity: str
    value: Estimate | None
    limit: float | None
    z: float
    status: str
    unit: str
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "off")

    @property
    def upper(self) -> float:
        return math.nan if self.value is None else self.value.value + self.z * self.value.uncertainty()

    @property
    def lower(self) -> float:
        return math.nan if self.value is None else self.value.value - self.z * self.value.uncertainty()

    def describe(self) -> str:
        """One sentence: ``L_EM = 0.25 ± 0.005 nat is above the gate 0.1 nat``."""
        unit = "" if self.unit == DIMENSIONLESS else f" {self.unit}"
        if self.status == "off":
            return f"{self.quantity}: no gate ({self.name}=None)"
        if self.value is None:
            return f"{self.quantity}: not available ({self.note})"
        val = f"{self.quantity} = {_fmt_value(self.value)}{unit}"
        if self.status == "pass":
            return f"{val} is within the gate {self.limit:g}{unit} (upper bound {self.upper:.3g})"
        if self.status == "fail":
            return f"{val} is above the gate {self.limit:g}{unit} (lower bound {self.lower:.3g})"
        if self.status == "inconclusive":
            return (f"{val} is within {self.z:g} standard errors of the gate {self.limit:g}{unit}: inconclusive "
                    "(more samples, n_samples, decide)")
        return f"{val}: {self.note}"

    def to_dict(self) -> dict:
        return {"name": self.name, "quantity": self.quantity, "limit": self.limit, "unit": self.unit,
                "z": self.z, "status": self.status, "passed": self.passed,
                "value": None if self.value is None else self.value.to_dict(),
                "upper": _num(self.upper), "lower": _num(self.lower), "note": self.note}


def _num(x):
    x = float(x)
    if math.isfinite(x):
        return x
    return None if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _fmt_value(e: Estimate) -> str:
    out = f"{e.value:.4g}"
    unc = e.stderr + e.error_bound
    return out + (f" ± {unc:.2g}" if unc else "")


def _make_check(name, statement, kind, margin: Estimate, threshold):
    """A Check with ``z = margin.z_score(0.0)`` (stderr + error bound + rounding floor from ``margin.scale``)."""
    z = float(margin.z_score(0.0))
    passed = abs(z) <= threshold if kind == "identity" else z >= -threshold
    return Check(name, statement, kind, margin, z, float(threshold), bool(passed))


def _make_gate(name, quantity, est, limit, z, unit, note="") -> Gate:
    if limit is None:
        return Gate(name, quantity, est, None, z, "off", unit, note)
    if est is None:
        return Gate(name, quantity, None, limit, z, "n/a", unit, note)
    unc = est.uncertainty()
    if est.value + z * unc <= limit:
        status = "pass"
    elif est.value - z * unc > limit:
        status = "fail"
    else:
        status = "inconclusive"
    return Gate(name, quantity, est, float(limit), z, status, unit, note)


def _gate_limit(name, value):
    if value is None:
        return None
    value = finite_float(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0 or None (got {value})")
    return value


def _ratio(num: Estimate, den: Estimate) -> Estimate | None:
    """num / den with delta-method errors (independent parts), dimensionless; None when den <= 0."""
    if not den.value > 0:
        return None
    r = num.value / den.value
    se = math.hypot(num.stderr, r * den.stderr) / den.value
    bound = (num.error_bound + abs(r) * den.error_bound) / den.value
    return Estimate(r, se, num.method, bound, num.n_samples, DIMENSIONLESS)


@dataclass
class ValidationReport:
    """Result of :func:`validate`.

    ``passed`` is the overall verdict (every consistency check and every quality gate passed);
    ``consistent`` and ``quality_passed`` are its two parts, ``verdict`` one word
    (``"passed"``, ``"quality-failed"``, ``"consistency-failed"``) and ``exit_code`` the status of
    ``nent-ref validate`` (0, :data:`EXIT_QUALITY_FAILED`, :data:`EXIT_CONSISTENCY_FAILED`).
    Estimates are in ``unit`` (nats, or bits with ``base=2``).  Before issue 13 ``passed``
    meant the consistency checks only; that is now ``consistent``.
    """

    model: str
    data: str
    process: str
    s0: float
    s1: float
    settings: dict
    s_tot: Estimate
    s_tot_mc: Estimate
    s_nn: Estimate
    cross: Estimate
    l_em: Estimate
    kl_s1_eq: Estimate | None
    likelihood_bound: Estimate | None
    kl_data_model: Estimate | None
    denoising_loss: Estimate | None
    denoising_constant: Estimate | None
    denoising_weighting: str
    checks: list = field(default_factory=list)
    curves: RateCurves | None = None
    gates: list = field(default_factory=list)
    l_em_fraction: Estimate | None = None
    l_em_denoising: Estimate | None = None
    unit: str = NAT
    model_info: dict = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        """Every consistency check (identity or bound) passed."""
        return all(c.passed for c in self.checks)

    @property
    def quality_passed(self) -> bool:
        """Every quality gate passed (or is off)."""
        return all(g.passed for g in self.gates)

    @property
    def passed(self) -> bool:
        """The overall verdict: consistent and every quality gate passed."""
        return self.consistent and self.quality_passed

    @property
    def verdict(self) -> str:
        """``"passed"``, ``"quality-failed"`` or ``"consistency-failed"`` (consistency first)."""
        if not self.consistent:
            return "consistency-failed"
        return "passed" if self.quality_passed else "quality-failed"

    @property
    def exit_code(self) -> int:
        """0, :data:`EXIT_QUALITY_FAILED` (1) or :data:`EXIT_CONSISTENCY_FAILED` (5)."""
        return {"passed": 0, "quality-failed": EXIT_QUALITY_FAILED,
                "consistency-failed": EXIT_CONSISTENCY_FAILED}[self.verdict]

    @property
    def stored_fraction(self) -> float:
        """S_NN / S_tot (1 for e*).  Not a quality measure: it can be 1 for a poor model, and above 1
        it is not a share of anything; judge the model by ``l_em`` and ``l_em_fraction``."""
        return float(self.s_nn.value) / float(self.s_tot.value) if self.s_tot.value else math.nan

    s_nn_ratio = stored_fraction

    def summary(self) -> str:
        """The verdict in one or two sentences (the ``verdict`` line of the printed report)."""
        failed = [c.name for c in self.checks if not c.passed]
        bad = [g for g in self.gates if not g.passed]
        if failed:
            return (f"FAILED (consistency): {', '.join(failed)} failed, so the numbers of this report cannot be "
                    "trusted (wrong ground truth, data or process mismatch, or a false claim); the quality gates "
                    "are not a verdict on the model until that is resolved")
        if bad:
            return ("FAILED (quality): " + "; ".join(g.describe() for g in bad)
                    + ". The consistency checks passed: the numbers can be trusted")
        on = [g for g in self.gates if g.status == "pass"]
        if not on:
            return "PASSED: consistency checks passed; no quality gate was set, so this says nothing about quality"
        return "PASSED: " + "; ".join(g.describe() for g in on) + "; consistency checks passed"

    def to_dict(self) -> dict:
        def est(x):
            return None if x is None else x.to_dict()
        units = {"nat": "nats", "bit": "bits"}.get(self.unit, self.unit)
        return {
            "model": self.model, "data": self.data, "process": self.process, "s0": self.s0, "s1": self.s1,
            "units": units, "settings": self.settings, "model_info": self.model_info,
            "verdict": self.verdict, "exit_code": self.exit_code, "summary": self.summary(),
            "passed": self.passed, "consistent": self.consistent, "quality_passed": self.quality_passed,
            "quality": {"L_EM": est(self.l_em), "L_EM_over_S_tot": est(self.l_em_fraction),
                        "S_tot": est(self.s_tot), "S_NN": est(self.s_nn),
                        "S_NN_over_S_tot": _num(self.stored_fraction),
                        "S_NN_over_S_tot_note": "not a quality measure: S_NN can equal S_tot with a large L_EM",
                        "likelihood_bound": est(self.likelihood_bound), "KL_p_s1_p_eq": est(self.kl_s1_eq),
                        "gates": [g.to_dict() for g in self.gates]},
            "S_tot": est(self.s_tot), "S_tot_monte_carlo": est(self.s_tot_mc), "S_NN": est(self.s_nn),
            "C": est(self.cross), "L_EM": est(self.l_em), "KL_p_s1_p_eq": est(self.kl_s1_eq),
            "likelihood_bound": est(self.likelihood_bound), "KL_data_model": est(self.kl_data_model),
            "denoising_loss": est(self.denoising_loss), "denoising_constant": est(self.denoising_constant),
            "L_EM_denoising_weighting": est(self.l_em_denoising),
            "denoising_weighting": self.denoising_weighting, "S_NN_over_S_tot": _num(self.stored_fraction),
            "checks": [c.to_dict() for c in self.checks],
            "curves": None if self.curves is None else self.curves.to_dict(),
        }

    def to_json(self, indent: int = 1) -> str:
        """The report as JSON (non-finite floats as null / "inf")."""
        def clean(v):
            if isinstance(v, float):
                return _num(v)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v
        return json.dumps(clean(self.to_dict()), indent=indent)

    def __str__(self) -> str:
        u = self.unit
        units = {"nat": "nats", "bit": "bits"}.get(u, u)

        def fmt(e, unit=True):
            if e is None:
                return "n/a"
            out = f"{e.value:.6g}"
            if e.stderr:
                out += f" ± {e.stderr:.2g}"
            if e.error_bound:
                out += f" (± {e.error_bound:.2g} bound)"
            if unit and e.unit != u:
                out += f" {e.unit}"
            return out + f"  [{e.method}]"

        def row(label, value):
            return f"    {label:<35s} {value}"

        w = self.denoising_weighting
        info = self.model_info or {}
        lines = [
            f"nent_ref validation report ({units})",
            f"  model     {self.model}",
        ]
        if info.get("adapter"):
            lines.append(f"  adapter   {info['adapter']}")
        lines += [
            f"  data      {self.data}",
            f"  process   {self.process},  s in [{self.s0:g}, {self.s1:g}]",
            f"  samples   {self.settings.get('n_samples')} over {self.settings.get('n_times')} time strata, "
            f"seed {self.settings.get('seed')}",
        ]
        if info.get("calls_text"):
            lines.append(f"  calls     {info['calls_text']}")
        lines += ["", f"  verdict   {self.summary()}", ""]

        # ------------------------------------------------------------------ quality
        lines += [f"  quality: how far is the model from the exact optimum e*?  (likelihood weighting, {units})",
                  row("L_EM    entropy-matching loss", fmt(self.l_em)),
                  "    " + " " * 36 + "(path KL between the model's reverse SDE and the exact one)",
                  row("L_EM / S_tot", fmt(self.l_em_fraction, unit=False)),
                  row("S_tot   ground truth", fmt(self.s_tot)),
                  row("S_NN    neural entropy", fmt(self.s_nn)),
                  row("S_NN / S_tot", f"{self.stored_fraction:.4g}   (not a quality measure: S_NN can equal "
                                      "S_tot while L_EM is large; judge by L_EM)"),
                  row("KL(p_s1 || p_eq)", fmt(self.kl_s1_eq)),
                  row("likelihood bound", fmt(self.likelihood_bound)),
                  "    " + " " * 36 + ("(KL(p_data || p_model) <= KL(p_s1 || p_eq) + L_EM, for the reverse SDE)"
                                      if self.likelihood_bound is not None else
                                      "(the process has no equilibrium: no likelihood bound)")]
        if self.kl_data_model is not None:
            lines.append(row("KL(p_data || p_model)", fmt(self.kl_data_model)))
        z = self.gates[0].z if self.gates else DEFAULT_GATE_Z
        lines += ["", f"    gates (pass: value + {z:g} sigma <= limit; fail: value - {z:g} sigma > limit; "
                      "else inconclusive)"]
        for g in self.gates:
            mark = {"pass": "PASS", "fail": "FAIL", "inconclusive": "????", "off": "off ", "n/a": "n/a "}[g.status]
            lines.append(f"    [{mark}] {g.describe()}")
        if self.curves is not None:
            c = self.curves
            lines += ["", f"    per-time rates ({units} per unit time): where the model misses information",
                      "        s         Sdot_NN                Sdot_tot               L_EM rate"]

            def col(est, i):
                if est is None:
                    return f"{'n/a':22s}"
                v = np.asarray(est.value)[i]
                err = np.asarray(est.stderr)[i] + np.asarray(est.error_bound)[i]
                return f"{v:<10.5g}" + (f" ± {err:<9.2g}" if err > 0 else " " * 12)
            for i, t in enumerate(c.s):
                lines.append(f"    {t:9.4g}   {col(c.sdot_nn, i)} {col(c.sdot_tot, i)} {col(c.lem_rate, i)}")

        # ------------------------------------------------------------------ consistency
        lines += ["", "  consistency: is the pipeline computing what it claims?  (identities that hold for ANY model:",
                  "  a pass says nothing about quality; a failure means the numbers above cannot be trusted)",
                  row("S_tot   Monte Carlo from e*", fmt(self.s_tot_mc)),
                  row("C       cross term int D E[e*.e]", fmt(self.cross)),
                  f"    denoising identity, {w} weighting"
                  + (" (lambda = v: these three are in units of time)" if w == "unit" else " (lambda = D)"),
                  row("L_den   denoising loss", fmt(self.denoising_loss)),
                  row("K       L_den - L_EM, e-independent", fmt(self.denoising_constant)),
                  row(f"L_EM    {w} weighting", fmt(self.l_em_denoising))]
        lines += ["", "    checks (z = margin / standard error; identity: |z| <= t, bound: z >= -t)"]
        for c in self.checks:
            mark = "PASS" if c.passed else "FAIL"
            lines.append(f"    [{mark}] {c.name:17s} {c.statement:48s} margin {fmt(c.margin).split('  [')[0]:>22s}"
                         f"  z = {c.z:+.2f}  (t = {c.threshold:g})")
        lines += ["", f"  overall: {_VERDICTS[self.verdict]}"]
        return "\n".join(lines)


def validate(model, data, process, s0=None, s1=None, *, score=None, n_samples=None, n_times=None,
             rtol=None, atol=None, max_model_calls=None,
             scheme="stratified", seed=0, executor=None, chunk_size=None, threshold=5.0,
             max_l_em=DEFAULT_MAX_L_EM, max_l_em_fraction=DEFAULT_MAX_L_EM_FRACTION,
             max_kl_bound=DEFAULT_MAX_KL_BOUND, gate_z=DEFAULT_GATE_Z, base=None, curves=True,
             n_curve_points=9, curve_samples=2048, kl_data_model=None, s_tot=None,
             s_tot_options=None, prediction=None, time_input=None) -> ValidationReport:
    r"""Validate a score model against exact ground truth: quality gates and consistency checks.

    Parameters
    ----------
    model : callable, torch.nn.Module or jit-compiled JAX function
        ``e(x, s)`` (deviation from equilibrium), or the full score ``score(x, s)`` with
        ``score=True``; ``x`` has shape (M, D), ``s`` shape (M,).  A torch module or a JAX
        function is wrapped by :func:`nent_ref.quantities.adapters.adapt`; an adapter built with
        ``from_torch``/``from_jax`` is used as is.
    data : Gaussian, Dirac, GaussianMixture or Empirical
        Data with an exact marginal score (needed for S_tot, L_EM and C).
    process : VP, SL or VE
    s0, s1 : float, optional
        Interval; ``s0`` defaults to 0, or 1e-5 for Dirac/empirical data; ``s1`` to ``T``
        (``T - 1e-5`` for SL and the cosine VP).
    score : bool, optional
        The model returns the full score.  Default: the adapter's ``kind``, else False.
    n_samples, n_times, scheme, seed, executor
        Monte Carlo design, as in :func:`nent_ref.neural_entropy`: by default a fixed design of 2**15
        samples over 32 time strata; with ``rtol``/``atol`` they describe the pilot.
    rtol, atol, max_model_calls
        Precision target of S_NN, L_EM and C (``stderr <= max(rtol |value|, atol)``), reached by the
        optimal allocation of :func:`nent_ref.neural_entropy`; the report gives the achieved stderrs and the
        number of model calls.  A SeedSequence, Generator or
        ``None`` seed is turned into one SeedSequence whose entropy and spawn key are recorded in
        ``settings["seed"]``; the runs are seeded from its state, so the same SeedSequence (or a
        new one with the recorded entropy and spawn key) reproduces the report.
    chunk_size : int, optional
        Rows per model call: every call gets exactly this many rows (the last batch of a time
        level is padded by repeating its last row).  Default: the samples per time level of the
        design, at most 256 (256 for the default design); for a padding adapter (``from_jax``)
        its ``batch_size``, for another adapter at most its ``batch_size``.
    threshold : float
        Pass threshold of the consistency checks, in standard errors (default 5).
    max_l_em, max_l_em_fraction, max_kl_bound : float or None
        Quality gates on :math:`L_{EM}` (nats), :math:`L_{EM}/S_{tot}` and
        :math:`\mathrm{KL}(p_{s_1}\|p_{eq}) + L_{EM}` (nats); ``None`` turns a gate off.  Defaults
        0.1 nats, 0.05 and off (module docstring).  Always in nats, whatever ``base``.
    gate_z : float
        A gate passes when value + ``gate_z`` x uncertainty <= limit, fails when value -
        ``gate_z`` x uncertainty > limit, and is inconclusive (not passed) otherwise (default 2).
    base : float, optional
        Unit of the report: nats by default, ``base=2`` for bits (gate limits are converted too).
    curves : bool
        Also compute per-time rates on ``n_curve_points`` times (``curve_samples`` samples each).
    kl_data_model : Estimate or float, optional
        :math:`\mathrm{KL}(p_{s_0}\|p^{model}_{s_0})` of the model's generated distribution in nats,
        if known; otherwise taken from ``model.kl_data_model(s0, s1)`` when the model has that method.
    s_tot : Estimate, optional
        Ground truth to use instead of :func:`nent_ref.total_entropy` (nats).
    s_tot_options : dict, optional
        Options for :func:`nent_ref.total_entropy` (e.g. ``method=``, ``n_samples=`` for mixtures).
    prediction, time_input : str, optional
        What the model returns (``"e"``, ``"score"``, ``"eps"``, ``"v"``, ``"x0"``) and takes instead of
        ``s`` (``"s"``, ``"timestep"``, ``"sigma"``, ``"log_snr"``): the model is wrapped in a
        :class:`nent_ref.quantities.predictions.PredictionModel` and the report records the conversions.

    Returns
    -------
    ValidationReport
        ``.passed`` (overall), ``.consistent``, ``.quality_passed``, ``.verdict``, ``.exit_code``,
        ``.gates``, ``.checks``, the estimates, ``.to_json()`` and a readable ``str``.
    """
    t_start = time.perf_counter()
    if not callable(model):
        raise ValueError(f"model must be callable as f(x, s) (got {type(model).__name__})")
    check_process(process)
    model = adapt(model)
    if prediction is not None or time_input is not None:
        if score:
            raise ValueError("pass prediction='score' instead of score=True together with prediction/time_input")
        model = as_e_model(model, process, prediction, time_input)
    adapter = is_adapter(model)
    if score is None:
        score = adapter and getattr(model, "kind", "e") == "score"
    elif isinstance(score, (bool, np.bool_)):
        score = bool(score)
        if adapter and score != (getattr(model, "kind", "e") == "score"):
            raise ValueError(f"score={score} contradicts the adapter, built with kind={model.kind!r}; "
                             "leave score=None (the adapter knows what the model returns)")
    else:
        raise ValueError(f"score must be True, False or None (got {score!r})")
    if s0 is None:
        s0 = DEFAULT_EPS if needs_cutoff(data) else 0.0
    if s1 is None:
        s1 = process.T - DEFAULT_EPS if process.singular_at_T else process.T
    threshold = finite_float("threshold", threshold)
    if not threshold > 0:
        raise ValueError(f"threshold must be positive (got {threshold})")
    gate_z = finite_float("gate_z", gate_z)
    if gate_z < 0:
        raise ValueError(f"gate_z must be >= 0 (got {gate_z})")
    limits = {name: _gate_limit(name, value) for name, value in
              (("max_l_em", max_l_em), ("max_l_em_fraction", max_l_em_fraction), ("max_kl_bound", max_kl_bound))}
    if limits["max_kl_bound"] is not None and not getattr(process, "has_equilibrium", False):
        raise ValueError(f"max_kl_bound needs a process with an equilibrium (the bound is KL(p_s1 || p_eq) + L_EM); "
                         f"{process!r} has none: use max_l_em")
    scale = log_base(base)                    # validates base
    if not isinstance(curves, (bool, np.bool_)):
        raise ValueError(f"curves must be True or False (got {curves!r})")
    n_curve_points = count("n_curve_points", n_curve_points, 2)
    curve_samples = count("curve_samples", curve_samples, 2)
    if s_tot_options is not None and not isinstance(s_tot_options, dict):
        raise ValueError(f"s_tot_options must be a dict of options for nent_ref.total_entropy or None "
                         f"(got {type(s_tot_options).__name__})")
    kl_given = _as_kl(kl_data_model, threshold)      # checked before any work
    target = {k: v for k, v in (("rtol", rtol), ("atol", atol), ("max_model_calls", max_model_calls))
              if v is not None}
    # without a target: the fixed design (2**15 samples over 32 strata by default); with one, n_samples and
    # n_times describe the pilot of the precision-targeted design (nent_ref.quantities.neural)
    n_samples = count("n_samples", (PILOT_N_SAMPLES if target else 2 ** 15) if n_samples is None else n_samples, 2)
    n_times = count("n_times", (PILOT_N_TIMES if target else 32) if n_times is None else n_times, 2)
    if chunk_size is None:
        # the samples per time level of the design (no padding there), at most 256; an adapter that pads
        # (a compiled model: one input shape) sets the batch, one that does not sets an upper limit
        levels = n_times * LEVELS_PER_STRATUM if scheme == "stratified" else n_times
        batch = max(1, min(DEFAULT_BATCH_SIZE, n_samples // levels))
        own = getattr(model, "batch_size", None) if adapter else None
        if isinstance(own, (int, np.integer)) and own >= 1:
            batch = int(own) if getattr(model, "pad", True) else min(int(own), batch)
    else:
        batch = count("chunk_size", chunk_size, 1)
    root = seed_sequence(seed, "seed")        # validates the seed
    if isinstance(seed, (np.random.SeedSequence, np.random.Generator)) or seed is None:
        # one fixed, re-creatable seed for every run (a SeedSequence object changes as it spawns)
        run_seed = [int(w) for w in root.generate_state(4)]
    else:
        run_seed = seed.tolist() if isinstance(seed, np.ndarray) else seed
    if isinstance(data, np.ndarray):
        raise ValueError("validate needs data with an exact marginal score (Gaussian, Dirac, GaussianMixture, "
                         "Empirical), not an array of samples: S_tot, L_EM and C need the exact score")
    check_atom_cutoff(data, process, float(real_scalar("s0", s0)))
    calls = FixedBatchModel(model, batch, pad=True, memo_bytes=MEMO_BYTES)
    kw = {"e": None, "score": calls} if score else {"e": calls, "score": None}
    engine_chunk = max(_ENGINE_CHUNK, batch)
    mc = dict(n_samples=n_samples, n_times=n_times, scheme=scheme, seed=run_seed, executor=executor,
              chunk_size=engine_chunk, **target)
    if s_tot is None:
        s_tot = total_entropy(data, process, s0, s1, **(s_tot_options or {}))
    else:
        check_s_tot(s_tot)
    dec = decompose(data=data, process=process, s0=s0, s1=s1, s_tot=s_tot, **mc, **kw)
    weighting = dec.denoising_gap.extra["weighting"]
    lem_den = dec.l_em if weighting == "likelihood" else _unit_weighted_l_em(dec, data, process, s0, s1, mc, kw)
    checks = [
        _make_check("decomposition", "L_EM = S_tot + S_NN - 2C", "identity", dec.residual, threshold),
        _make_check("sqrt_bound", "(sqrt(S_tot) - sqrt(S_NN))^2 <= L_EM", "bound", dec.bound_margin, threshold),
        _make_check("denoising", f"L_den - K = L_EM ({weighting} weighting)", "identity", dec.denoising_gap,
                    threshold),
    ]
    kl_dm = kl_given
    if kl_dm is None and hasattr(model, "kl_data_model") and callable(model.kl_data_model):
        try:
            kl_dm = model.kl_data_model(s0, s1)
        except ModelError:
            raise
        except ValueError:
            kl_dm = None  # not available for this data/process
        kl_dm = _as_kl(kl_dm, threshold, "model.kl_data_model(s0, s1)")
    if kl_dm is not None and dec.likelihood_bound is not None:
        lb = dec.likelihood_bound
        margin = Estimate(lb.value - kl_dm.value, math.hypot(lb.stderr, kl_dm.stderr), lb.method,
                          lb.error_bound + kl_dm.error_bound, lb.n_samples,
                          scale=abs(lb.value) + abs(kl_dm.value))
        checks.append(_make_check("likelihood_bound", "KL(p_data||p_model) <= KL(p_s1||p_eq) + L_EM", "bound",
                                  margin, threshold))
    rc = None
    if curves:
        k = n_curve_points
        grid = np.geomspace(s0, s1, k) if s0 > 0 else np.linspace(s0, s1, k)
        rc = rate_curves(data=data, process=process, s=grid, n_samples=curve_samples, seed=run_seed,
                         executor=executor, chunk_size=engine_chunk, **kw)
    calls.clear_memo()

    # quality (in nats), then everything in the report's unit
    fraction = _ratio(dec.l_em, dec.s_tot)
    frac_note = "" if fraction is not None else f"S_tot = {dec.s_tot.value:.3g} <= 0: the fraction is undefined"
    if fraction is None and dec.l_em.value == 0 and dec.l_em.uncertainty() == 0:
        fraction = Estimate(0.0, 0.0, dec.l_em.method, 0.0, dec.l_em.n_samples, DIMENSIONLESS)
    unit = NAT if base is None else Estimate(0.0).in_base(base).unit
    gates = [
        _make_gate("max_l_em", "L_EM", _conv(dec.l_em, base), _div(limits["max_l_em"], scale), gate_z, unit),
        _make_gate("max_l_em_fraction", "L_EM / S_tot", fraction, limits["max_l_em_fraction"], gate_z,
                   DIMENSIONLESS, frac_note),
        _make_gate("max_kl_bound", "KL(p_s1||p_eq) + L_EM", _conv(dec.likelihood_bound, base),
                   _div(limits["max_kl_bound"], scale), gate_z, unit,
                   "" if dec.likelihood_bound is not None else "the process has no equilibrium"),
    ]
    stats = calls.stats
    info = _model_info(model, calls, batch, executor, time.perf_counter() - t_start)
    settings = {"n_samples": dec.s_nn.n_samples, "n_times": int(n_times), "scheme": scheme,
                "seed": _seed_setting(seed, root), "threshold": threshold, "score_model": bool(score),
                "chunk_size": batch, "gate_z": gate_z, "base": base,
                "gates": {k: v for k, v in limits.items()}, "model_calls": stats.to_dict(),
                "precision_target": dict(target) or None}
    if isinstance(run_seed, list) and not isinstance(seed, (list, tuple, np.ndarray)):
        settings["run_seed"] = run_seed
    c = _conv
    curves_out = None
    if rc is not None:
        curves_out = RateCurves(rc.s, c(rc.sdot_nn, base), c(rc.sdot_tot, base), c(rc.sdot_tot_mc, base),
                                c(rc.lem_rate, base), c(rc.cross_rate, base))
    return ValidationReport(
        model=_describe(model), data=repr(data), process=repr(process), s0=float(s0), s1=float(s1),
        settings=settings, s_tot=c(dec.s_tot, base), s_tot_mc=c(dec.s_tot_mc, base), s_nn=c(dec.s_nn, base),
        cross=c(dec.cross, base), l_em=c(dec.l_em, base), kl_s1_eq=c(dec.kl_s1_eq, base),
        likelihood_bound=c(dec.likelihood_bound, base), kl_data_model=c(kl_dm, base),
        denoising_loss=c(dec.denoising_loss, base), denoising_constant=c(dec.denoising_constant, base),
        denoising_weighting=weighting,
        checks=[Check(ch.name, ch.statement, ch.kind, c(ch.margin, base), ch.z, ch.threshold, ch.passed)
                for ch in checks],
        curves=curves_out, gates=gates, l_em_fraction=fraction, l_em_denoising=c(lem_den, base), unit=unit,
        model_info=info)


def _conv(est, base):
    """``est`` in the report's unit: nat and nat/time estimates converted by ``in_base``; others as they are."""
    if est is None or base is None or est.unit not in (NAT, NAT_PER_TIME):
        return est
    return est.in_base(base)


def _div(limit, scale):
    return None if limit is None else limit / scale


def _unit_weighted_l_em(dec, data, process, s0, s1, mc, kw) -> Estimate:
    """The L_EM the unit-weighted denoising check compares with (lambda = v; same design and seed as the
    check's run, so the model calls are answered from memory).  If it is not the number the check used
    (L_den - K - margin, to rounding), that number is returned instead, with the three parts' standard
    errors and bounds added (their correlation is unknown, so the plain sum is the conservative choice)."""
    est = entropy_matching_loss(data=data, process=process, s0=s0, s1=s1, weighting="unit", **mc, **kw)
    gap, den, const = dec.denoising_gap, dec.denoising_loss, dec.denoising_constant
    used = den.value - const.value - gap.value
    mag = abs(den.value) + abs(const.value) + abs(gap.value)
    if abs(est.value - used) <= 1e-9 * mag:
        return est
    stderr = float(den.stderr + const.stderr + gap.stderr)
    bound = float(den.error_bound + const.error_bound + gap.error_bound) + 1e-15 * mag
    return Estimate(used, stderr, "L_den - K - margin", bound, gap.n_samples, gap.unit)


def _model_info(model, calls, batch, executor, seconds) -> dict:
    """What the report says about the model's plumbing: adapter, batches, padding, time in the model."""
    stats = calls.stats
    info = {"framework": "numpy", "batch_size": batch, "wall_seconds": seconds}
    describe = getattr(model, "describe", None)
    if is_adapter(model) and callable(describe):
        d = describe()
        info.update(d)
        summary = getattr(model, "summary", None)
        info["adapter"] = summary() if callable(summary) else str(d)
    else:
        conv = [f"outputs {np.dtype(dt).name} -> float64" for dt in stats.output_dtypes
                if np.dtype(dt).kind == "f" and np.dtype(dt) != np.float64]
        conv += [f"outputs {np.dtype(dt).name} -> float64" for dt in stats.output_dtypes
                 if np.dtype(dt).kind in "iub"]
        info["conversions"] = conv
        if conv:
            info["adapter"] = "numpy callable; " + "; ".join(conv)
    if executor is not None and stats.calls == 0:
        info["calls_text"] = "evaluated by the executor's workers (calls not counted here)"
    elif stats.calls or stats.memo_calls:
        pad = stats.padded_rows / max(stats.calls * batch, 1)
        share = stats.seconds / seconds if seconds > 0 else 0.0
        text = (f"{stats.calls} model calls of {batch} rows ({100 * pad:.0f} % padding), "
                f"{stats.seconds:.3g} s in the model ({100 * share:.0f} % of {seconds:.3g} s)")
        if stats.memo_calls:
            text += f"; {stats.memo_calls} repeated calls answered from memory"
        info["calls_text"] = text
    return info


def _as_kl(kl, threshold=5.0, name="kl_data_model"):
    """KL(p_data || p_model) as a real, finite Estimate in nats (or None).

    A KL divergence is >= 0: a number must be, and an Estimate must be within ``threshold`` times its
    uncertainty (standard error plus error bound) of it, with a non-negative stderr and error bound.
    """
    if kl is None:
        return None
    if isinstance(kl, Estimate):
        if np.ndim(kl.value) != 0:
            raise ValueError(f"{name} must be a single number (got an array-valued Estimate)")
        if kl.unit != NAT:
            raise ValueError(f"{name} must be in nats (got unit {kl.unit!r})")
        for part in ("value", "stderr", "error_bound"):
            finite_float(f"{name}.{part}", getattr(kl, part))
        for part in ("stderr", "error_bound"):
            if getattr(kl, part) < 0:
                raise ValueError(f"{name}.{part} must be >= 0 (got {getattr(kl, part)})")
        if kl.value + threshold * (kl.stderr + kl.error_bound) < 0:
            raise ValueError(f"{name} = {kl.value} is negative beyond its uncertainty; a KL divergence is >= 0")
        return kl
    if isinstance(kl, (complex, np.complexfloating)) or np.iscomplexobj(kl):
        raise ValueError(f"{name} must be real (got {kl!r})")
    value = finite_float(name, kl)
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (a KL divergence; got {value})")
    return Estimate(value, 0.0, "given")


def _seed_setting(seed, ss):
    """The seed as recorded in the report: as given when it is an int or list, else the SeedSequence state."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    if isinstance(seed, (list, tuple, np.ndarray)):
        return [int(i) for i in seed]
    return {"entropy": ss.entropy, "spawn_key": list(ss.spawn_key)}


def _describe(model) -> str:
    if is_adapter(model):
        return repr(model)
    if hasattr(model, "__qualname__"):                  # a function
        return f"{getattr(model, '__module__', '?')}.{model.__qualname__}"
    if type(model).__repr__ is not object.__repr__:     # an object with its own description
        return repr(model)
    return f"{type(model).__module__}.{type(model).__qualname__} instance"


# --------------------------------------------------------------------------- processes for the CLI
#: Process families and the parameters each takes (the keywords of :func:`make_process`).
PROCESS_FAMILIES = {
    "vp": ("beta_min", "beta_max", "kappa", "T"),
    "cosine": ("offset", "kappa"),
    "sl": ("sigma0",),
    "ve": ("sigma_min", "sigma_max"),
}
#: Preset name -> (family, parameters).  ``vp`` is the paper's VP 0.1 -> 16.
_PRESETS = {
    "vp": ("vp", {"beta_min": 0.1, "beta_max": 16.0, "kappa": 1.0, "T": 1.0}),
    "vp16": ("vp", {"beta_min": 0.1, "beta_max": 16.0, "kappa": 1.0, "T": 1.0}),
    "vp20": ("vp", {"beta_min": 0.1, "beta_max": 20.0, "kappa": 1.0, "T": 1.0}),
    "vpx": ("vp", {"beta_min": 0.1, "beta_max": 16.0, "kappa": 0.1, "T": 1.0}),
    "cosine": ("cosine", {"offset": 0.008, "kappa": 1.0}),
    "sl": ("sl", {"sigma0": 0.1}),
    "ve": ("ve", {"sigma_min": 0.01, "sigma_max": 50.0}),
}


def process_family(name: str) -> str:
    """The family (a key of :data:`PROCESS_FAMILIES`) of a process preset name."""
    key = str(name).lower()
    if key not in _PRESETS:
        raise ValueError(f"unknown process {name!r}; choose from {sorted(_PRESETS)}")
    return _PRESETS[key][0]


def make_process(name: str, **params):
    """A process from a preset name and explicit parameters that override the preset's.

    Presets: ``vp`` (= ``vp16``, VP 0.1 -> 16), ``vp16``, ``vp20``, ``vpx`` (kappa = 0.1), ``cosine``
    (offset 0.008), ``sl`` (sigma0 = 0.1), ``ve`` (sigma 0.01 -> 50).  Parameters by family
    (:data:`PROCESS_FAMILIES`): VP ``beta_min, beta_max, kappa, T``; cosine ``offset, kappa``; SL
    ``sigma0``; VE ``sigma_min, sigma_max``.  A parameter of another family is a ValueError, as
    are invalid values (checked by the process constructors).  E.g. ``make_process("vp",
    beta_max=20)``, ``make_process("sl", sigma0=1)``.  (A stand-in for the case-spec format.)
    """
    family = process_family(name)
    values = dict(_PRESETS[str(name).lower()][1])
    for pname, value in params.items():
        if value is None:
            continue
        if pname not in PROCESS_FAMILIES[family]:
            allowed = ", ".join(PROCESS_FAMILIES[family])
            raise ValueError(f"the {family} process takes no parameter {pname!r} (its parameters: {allowed})")
        values[pname] = finite_float(pname, value)
    if family == "vp":
        return VP(beta_min=values["beta_min"], beta_max=values["beta_max"], kappa=values["kappa"], T=values["T"])
    if family == "cosine":
        return VP(schedule=CosineSchedule(values["offset"]), kappa=values["kappa"])
    if family == "sl":
        return SL(sigma0=values["sigma0"])
    return VE(sigma_min=values["sigma_min"], sigma_max=values["sigma_max"])


# --------------------------------------------------------------------------- data presets for the CLI
def process_presets() -> dict:
    """Process presets by name (fresh objects): the canonical cases (``vp16``, ``vp20``, ``vpx``, ``sl``),
    ``vp`` (= ``vp16``, the paper's VP), ``cosine`` and ``ve``; see :func:`make_process`."""
    return {name: make_process(name) for name in _PRESETS}


def data_presets() -> list[str]:
    """Names of the data presets: those of :func:`nent_ref.suites.cases.data_preset_names`
    (``gaussian-<D>d``, ``dirac-<D>d``, ``mixture-<D>d``, the official mixtures
    ``official-notebook-D2``, ``official-mlp-D2``, ``official-mlp-D9`` (the paper's) and their jax >= 0.5
    draws ``official-*-jax05``)."""
    return cases.data_preset_names()


def load_data(spec: str):
    """Data from a preset name (see :func:`data_presets`) or a ``.npz`` file.

    An ``.npz`` file holds either ``mean`` and ``cov`` (Gaussian), ``weights``, ``means`` and
    ``covs`` (GaussianMixture), or ``points`` (and optionally ``weights``; Empirical).
    """
    spec = str(spec)
    if spec.endswith(".npz"):
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"no such data file: {spec}")
        with np.load(path) as f:
            keys = set(f.files)
            if {"mean", "cov"} <= keys:
                return Gaussian(f["mean"], f["cov"])
            if {"weights", "means", "covs"} <= keys:
                return GaussianMixture(f["weights"], f["means"], f["covs"])
            if "points" in keys:
                return Empirical(f["points"], f["weights"] if "weights" in keys else None)
        raise ValueError(f"{spec}: expected arrays (mean, cov), (weights, means, covs) or (points); "
                         f"found {sorted(keys)}")
    if spec not in data_presets():
        raise ValueError(f"unknown data preset {spec!r}; choose from {data_presets()} or a .npz file")
    return cases.data_preset(spec)
