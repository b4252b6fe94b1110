r"""Validate a score model against exact ground truth: ``nr.validate(model, data, process)``.

The report holds the ground truth :math:`S_{tot}`, the model's neural entropy :math:`S_{NN}`, its
entropy-matching loss :math:`L_{EM}` (likelihood weighting), the cross term :math:`C`, the
likelihood bound :math:`\mathrm{KL}(p_{s_1}\|p_{eq}) + L_{EM}`, per-time curves, and every
identity or bound of THEORY.md section 3 checked with its margin in standard errors:

* ``decomposition``: :math:`L_{EM} = S_{tot} + S_{NN} - 2C` (identity; fails if the exact score,
  the ground truth or the sampling disagree);
* ``sqrt_bound``: :math:`(\sqrt{S_{tot}} - \sqrt{S_{NN}})^2 \le L_{EM}` (bound);
* ``denoising``: :math:`L_{den} - K = L_{EM}` (identity; the training loss equals the exact
  loss up to the e-independent constant K; fails e.g. for a model that is not a function of
  (x, s) alone);
* ``likelihood_bound``: :math:`\mathrm{KL}(p_{s_0}\|p^{model}_{s_0}) \le \mathrm{KL}(p_{s_1}\|p_{eq})
  + L_{EM}` (bound), only when :math:`\mathrm{KL}(p_{s_0}\|p^{model}_{s_0})` is known: passed as
  ``kl_data_model=`` or provided by the model's own ``kl_data_model(s0, s1)`` method (the
  reference model :func:`nent_ref.reference_models.perturbed_e` with Gaussian data has one).

An identity passes when ``|z| <= threshold`` and a bound when ``z >= -threshold``, where
``z = margin.z_score(0)``: the margin divided by its standard error plus any deterministic error
bound plus the rounding floor of :meth:`nent_ref.estimate.Estimate.z_score` (``ROUNDING_RTOL =
1e-10`` times ``margin.scale``, the magnitude of the terms the margin was computed from), which
keeps exact cases (``stderr = 0``, a margin of a few ulps) from dividing by zero.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.checks import count, finite_float, real_scalar, seed_sequence
from ..core.data import DEFAULT_CUTOFF, Gaussian, needs_cutoff
from ..core.estimate import NAT, Estimate
from ..core.mixture import Empirical, GaussianMixture
from ..core.processes import check_process
from ..quantities.entropy import total_entropy
from ..quantities.neural import RateCurves, check_atom_cutoff, check_s_tot, decompose, rate_curves
from . import cases

__all__ = ["validate", "ValidationReport", "Check", "load_data", "data_presets", "process_presets"]

#: Default cutoff s0 for data whose entropy production diverges at s = 0 (Dirac, empirical).
DEFAULT_EPS = DEFAULT_CUTOFF


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


def _num(x):
    x = float(x)
    if math.isfinite(x):
        return x
    return None if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _make_check(name, statement, kind, margin: Estimate, threshold):
    """A Check with ``z = margin.z_score(0.0)`` (stderr + error bound + rounding floor from ``margin.scale``)."""
    z = float(margin.z_score(0.0))
    passed = abs(z) <= threshold if kind == "identity" else z >= -threshold
    return Check(name, statement, kind, margin, z, float(threshold), bool(passed))


@dataclass
class ValidationReport:
    """Result of :func:`validate`.  ``passed`` is True when every check passed."""

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

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def stored_fraction(self) -> float:
        """S_NN / S_tot (the share of the required information the model supplies; 1 for e*)."""
        return float(self.s_nn.value) / float(self.s_tot.value) if self.s_tot.value else math.nan

    def to_dict(self) -> dict:
        def est(x):
            return None if x is None else x.to_dict()
        return {
            "model": self.model, "data": self.data, "process": self.process, "s0": self.s0, "s1": self.s1,
            "units": "nats", "settings": self.settings,
            "S_tot": est(self.s_tot), "S_tot_monte_carlo": est(self.s_tot_mc), "S_NN": est(self.s_nn),
            "C": est(self.cross), "L_EM": est(self.l_em), "KL_p_s1_p_eq": est(self.kl_s1_eq),
            "likelihood_bound": est(self.likelihood_bound), "KL_data_model": est(self.kl_data_model),
            "denoising_loss": est(self.denoising_loss), "denoising_constant": est(self.denoising_constant),
            "denoising_weighting": self.denoising_weighting, "S_NN_over_S_tot": _num(self.stored_fraction),
            "checks": [c.to_dict() for c in self.checks], "passed": self.passed,
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
        def fmt(e):
            if e is None:
                return "n/a"
            out = f"{e.value:.6g}"
            if e.stderr:
                out += f" ± {e.stderr:.2g}"
            if e.error_bound:
                out += f" (± {e.error_bound:.2g} bound)"
            if e.unit != NAT:
                out += f" {e.unit}"
            return out + f"  [{e.method}]"
        lines = [
            "nent_ref validation report (nats)",
            f"  model    {self.model}",
            f"  data     {self.data}",
            f"  process  {self.process},  s in [{self.s0:g}, {self.s1:g}]",
            f"  samples  {self.settings.get('n_samples')} over {self.settings.get('n_times')} time strata, "
            f"seed {self.settings.get('seed')}",
            "",
            f"  S_tot   ground truth               {fmt(self.s_tot)}",
            f"  S_tot   Monte Carlo (same samples) {fmt(self.s_tot_mc)}",
            f"  S_NN    neural entropy             {fmt(self.s_nn)}",
            f"  L_EM    entropy-matching loss      {fmt(self.l_em)}",
            f"  C       cross term int D E[e*.e]   {fmt(self.cross)}",
            f"  S_NN / S_tot                       {self.stored_fraction:.4g}",
            f"  KL(p_s1 || p_eq)                   {fmt(self.kl_s1_eq)}",
            f"  likelihood bound KL(p_s1||p_eq) + L_EM >= KL(p_data || p_model):  {fmt(self.likelihood_bound)}",
        ]
        if self.kl_data_model is not None:
            lines.append(f"  KL(p_data || p_model)              {fmt(self.kl_data_model)}")
        lines.append(f"  L_den   denoising loss ({self.denoising_weighting} weighting) {fmt(self.denoising_loss)}")
        lines.append(f"  K       L_den - L_EM ({self.denoising_weighting} weighting), e-independent "
                     f"{fmt(self.denoising_constant)}")
        lines += ["", f"  checks (z = margin / standard error; identity: |z| <= t, bound: z >= -t)"]
        for c in self.checks:
            mark = "PASS" if c.passed else "FAIL"
            lines.append(f"  [{mark}] {c.name:17s} {c.statement:48s} margin {fmt(c.margin).split('  [')[0]:>22s}"
                         f"  z = {c.z:+.2f}  (t = {c.threshold:g})")
        if self.curves is not None:
            lines += ["", "  per-time rates (nats per unit time)", "      s          Sdot_NN               Sdot_tot"]
            c = self.curves
            for i, t in enumerate(c.s):
                if c.sdot_tot is None:
                    tot = "n/a"
                else:
                    tot = f"{np.asarray(c.sdot_tot.value)[i]:.5g}"
                    err = np.asarray(c.sdot_tot.stderr)[i] + np.asarray(c.sdot_tot.error_bound)[i]
                    tot += f" ± {err:.2g}" if err > 0 else ""
                lines.append(f"  {t:9.4g}   {np.asarray(c.sdot_nn.value)[i]:10.5g} ± {np.asarray(c.sdot_nn.stderr)[i]:8.2g}"
                             f"   {tot}")
        lines += ["", f"  overall: {'PASSED' if self.passed else 'FAILED'}"]
        return "\n".join(lines)


def validate(model, data, process, s0=None, s1=None, *, score=False, n_samples=2 ** 15, n_times=32,
             scheme="stratified", seed=0, executor=None, chunk_size=8192, threshold=5.0, curves=True,
             n_curve_points=9, curve_samples=2048, kl_data_model=None, s_tot=None,
             s_tot_options=None) -> ValidationReport:
    r"""Validate a score model against exact ground truth.

    Parameters
    ----------
    model : callable
        ``e(x, s)`` (deviation from equilibrium), or the full score ``score(x, s)`` with
        ``score=True``; ``x`` has shape (M, D), ``s`` shape (M,).
    data : Gaussian, Dirac, GaussianMixture or Empirical
        Data with an exact marginal score (needed for S_tot, L_EM and C).
    process : VP, SL or VE
    s0, s1 : float, optional
        Interval; ``s0`` defaults to 0, or 1e-5 for Dirac/empirical data; ``s1`` to ``T``
        (``T - 1e-5`` for SL and the cosine VP).
    n_samples, n_times, scheme, seed, executor, chunk_size
        Monte Carlo design, as in :func:`nent_ref.neural_entropy`.  A Generator or ``None`` seed is
        turned into one SeedSequence (shared by the decomposition and the curves) whose entropy and
        spawn key are recorded in ``settings["seed"]``.
    threshold : float
        Pass threshold in standard errors (default 5).
    curves : bool
        Also compute per-time rates on ``n_curve_points`` times (``curve_samples`` samples each).
    kl_data_model : Estimate or float, optional
        :math:`\mathrm{KL}(p_{s_0}\|p^{model}_{s_0})` of the model's generated distribution, if known;
        otherwise taken from ``model.kl_data_model(s0, s1)`` when the model has that method.
    s_tot : Estimate, optional
        Ground truth to use instead of :func:`nent_ref.total_entropy`.
    s_tot_options : dict, optional
        Options for :func:`nent_ref.total_entropy` (e.g. ``method=``, ``n_samples=`` for mixtures).

    Returns
    -------
    ValidationReport
    """
    if not callable(model):
        raise ValueError(f"model must be callable as f(x, s) (got {type(model).__name__})")
    check_process(process)
    if s0 is None:
        s0 = DEFAULT_EPS if needs_cutoff(data) else 0.0
    if s1 is None:
        s1 = process.T - DEFAULT_EPS if process.singular_at_T else process.T
    threshold = finite_float("threshold", threshold)
    if not threshold > 0:
        raise ValueError(f"threshold must be positive (got {threshold})")
    root = seed_sequence(seed, "seed")        # validates the seed
    if seed is None or isinstance(seed, np.random.Generator):
        seed = root                           # fixed once (and recorded) for the decomposition and the curves
    if isinstance(data, np.ndarray):
        raise ValueError("validate needs data with an exact marginal score (Gaussian, Dirac, GaussianMixture, "
                         "Empirical), not an array of samples: S_tot, L_EM and C need the exact score")
    check_atom_cutoff(data, process, float(real_scalar("s0", s0)))
    kw = {"e": None, "score": model} if score else {"e": model, "score": None}
    if s_tot is None:
        s_tot = total_entropy(data, process, s0, s1, **(s_tot_options or {}))
    else:
        check_s_tot(s_tot)
    dec = decompose(data=data, process=process, s0=s0, s1=s1, n_samples=n_samples, n_times=n_times,
                    scheme=scheme, seed=seed, executor=executor, chunk_size=chunk_size, s_tot=s_tot, **kw)
    checks = [
        _make_check("decomposition", "L_EM = S_tot + S_NN - 2C", "identity", dec.residual, threshold),
        _make_check("sqrt_bound", "(sqrt(S_tot) - sqrt(S_NN))^2 <= L_EM", "bound", dec.bound_margin, threshold),
        _make_check("denoising", f"L_den - K = L_EM ({dec.denoising_gap.extra['weighting']} weighting)",
                    "identity", dec.denoising_gap, threshold),
    ]
    kl_dm = kl_data_model
    if kl_dm is None and hasattr(model, "kl_data_model") and callable(model.kl_data_model):
        try:
            kl_dm = model.kl_data_model(s0, s1)
        except ValueError:
            kl_dm = None  # not available for this data/process
    kl_dm = _as_kl(kl_dm)
    if kl_dm is not None and dec.likelihood_bound is not None:
        lb = dec.likelihood_bound
        margin = Estimate(lb.value - kl_dm.value, math.hypot(lb.stderr, kl_dm.stderr), lb.method,
                          lb.error_bound + kl_dm.error_bound, lb.n_samples,
                          scale=abs(lb.value) + abs(kl_dm.value))
        checks.append(_make_check("likelihood_bound", "KL(p_data||p_model) <= KL(p_s1||p_eq) + L_EM", "bound",
                                  margin, threshold))
    rc = None
    if curves:
        k = count("n_curve_points", n_curve_points, 2)
        grid = np.geomspace(s0, s1, k) if s0 > 0 else np.linspace(s0, s1, k)
        rc = rate_curves(data=data, process=process, s=grid, n_samples=curve_samples, seed=seed,
                         executor=executor, chunk_size=chunk_size, **kw)
    settings = {"n_samples": dec.s_nn.n_samples, "n_times": int(n_times), "scheme": scheme,
                "seed": _seed_setting(seed, root),
                "threshold": threshold, "score_model": bool(score)}
    return ValidationReport(
        model=_describe(model), data=repr(data), process=repr(process), s0=float(s0), s1=float(s1),
        settings=settings, s_tot=dec.s_tot, s_tot_mc=dec.s_tot_mc, s_nn=dec.s_nn, cross=dec.cross, l_em=dec.l_em,
        kl_s1_eq=dec.kl_s1_eq, likelihood_bound=dec.likelihood_bound, kl_data_model=kl_dm,
        denoising_loss=dec.denoising_loss, denoising_constant=dec.denoising_constant,
        denoising_weighting=dec.denoising_gap.extra["weighting"], checks=checks, curves=rc)


def _as_kl(kl):
    """KL(p_data || p_model) as a real, finite Estimate in nats (or None)."""
    if kl is None:
        return None
    if isinstance(kl, Estimate):
        if np.ndim(kl.value) != 0:
            raise ValueError("kl_data_model must be a single number (got an array-valued Estimate)")
        if kl.unit != NAT:
            raise ValueError(f"kl_data_model must be in nats (got unit {kl.unit!r})")
        for part in ("value", "stderr", "error_bound"):
            finite_float(f"kl_data_model.{part}", getattr(kl, part))
        return kl
    if isinstance(kl, (complex, np.complexfloating)) or np.iscomplexobj(kl):
        raise ValueError(f"kl_data_model must be real (got {kl!r})")
    return Estimate(finite_float("kl_data_model", kl), 0.0, "given")


def _seed_setting(seed, ss):
    """The seed as recorded in the report: as given when it is an int or list, else the SeedSequence state."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    if isinstance(seed, (list, tuple)):
        return [int(i) for i in seed]
    return {"entropy": ss.entropy, "spawn_key": list(ss.spawn_key)}


def _describe(model) -> str:
    if hasattr(model, "__qualname__"):                  # a function
        return f"{getattr(model, '__module__', '?')}.{model.__qualname__}"
    if type(model).__repr__ is not object.__repr__:     # an object with its own description
        return repr(model)
    return f"{type(model).__module__}.{type(model).__qualname__} instance"


# --------------------------------------------------------------------------- presets for the CLI
def process_presets() -> dict:
    """Process names for the CLI: the canonical cases plus ``vp`` (= ``vp16``, the paper's VP)."""
    procs = cases.processes()
    procs["vp"] = procs["vp16"]
    return procs


def data_presets() -> list[str]:
    """Names of the data presets: ``gaussian-<D>d``, ``dirac-<D>d`` (cases.DIMS) and ``mixture-<D>d``
    (cases.MIXTURE_DIMS, the paper's 5-component mixtures)."""
    return ([f"gaussian-{d}d" for d in cases.DIMS] + [f"dirac-{d}d" for d in cases.DIMS]
            + [f"mixture-{d}d" for d in cases.MIXTURE_DIMS])


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
    kind, dim = spec.rsplit("-", 1)
    dim = int(dim[:-1])
    if kind == "gaussian":
        return cases.gaussian_case(dim)
    if kind == "dirac":
        return cases.dirac_case(dim)
    w, means, stds = cases.paper_mixture_params(dim)
    return GaussianMixture(w, means, np.asarray(stds) ** 2)
