r"""Neural entropy :math:`S_{NN}`, the entropy-matching loss :math:`L_{EM}`, their decomposition and bounds.

A score model is parametrised by its deviation from equilibrium (docs/theory.md section 3),
:math:`\nabla\log p_s \approx \nabla\log p_{eq} + e(x, s)`; the optimum is
:math:`e^* = \nabla\log p_s - \nabla\log p_{eq}`.  With :math:`D(s) = \sigma(s)^2/2`,

.. math::
    S_{NN}(e) &= \int_{s_0}^{s_1} D(s)\, \mathbb E_{p_s} \|e(x, s)\|^2\, ds                  \qquad (3.2)\\
    L_{EM}(e) &= \int_{s_0}^{s_1} \lambda(s)\, \mathbb E_{p_s} \|e(x, s) - e^*(x, s)\|^2\, ds   \qquad (3.1)\\
    C(e)      &= \int_{s_0}^{s_1} D(s)\, \mathbb E_{p_s} [e^* \cdot e]\, ds,

with the likelihood weighting :math:`\lambda = D` (default) or the unit
(:math:`\epsilon`-prediction) weighting :math:`\lambda = v(s)`.  For the likelihood weighting

.. math::
    L_{EM} = S_{tot} + S_{NN} - 2C,\qquad (\sqrt{S_{tot}} - \sqrt{S_{NN}})^2 \le L_{EM},\qquad
    \mathrm{KL}(p_{s_0} \| p^{model}_{s_0}) \le \mathrm{KL}(p_{s_1} \| p_{eq}) + L_{EM}

(the last one is Song et al. 2021, Theorem 1, for the model reverse SDE started from
:math:`p_{eq}` at :math:`s_1`).  The denoising form that training code minimises is, with
:math:`y = \mu x_0 + \sqrt v z`,

.. math::
    L_{den}(e) = \int \frac{\lambda(s)}{v(s)}\, \mathbb E \|\sqrt v\,(\nabla\log p_{eq}(y) + e(y, s)) + z\|^2 ds
              = L_{EM}(e) + K,\qquad
    K = \int \lambda(s) \Big[\frac{D_{dim}}{v(s)} - \mathbb E_{p_s}\|\nabla\log p_s\|^2\Big] ds \ge 0,

where :math:`K` does not depend on :math:`e` (denoising score matching, Vincent 2011).  With the
likelihood weighting :math:`K` diverges like :math:`(D_{dim}/2)\log(1/s_0)`, so that form needs
``s0 > 0``.

Estimation
----------
Every integral is a Monte Carlo sum over a design of time levels and, at each time level, fresh
data samples ``x0 ~ p_d`` pushed through the exact forward kernel ``y = mu x0 + sqrt(v) z`` (so
``S_NN`` and ``L_den`` need only ``data.sample``; the quantities involving :math:`e^*` also
need the exact marginal score ``data.diffuse(process, s).score``).

* ``scheme="stratified"`` (default): the time variable ``u`` in [0, 1] is cut into ``n_times``
  equal strata with ``LEVELS_PER_STRATUM = 4`` uniformly drawn time levels each.  Unbiased (no
  quadrature error); the standard error comes from the spread of the levels in each stratum
  (3 degrees of freedom per stratum) and includes both the time and the sample noise.
* ``scheme="gauss-legendre"``: ``n_times`` Gauss-Legendre nodes in ``u``; the standard error
  is the sample noise, and ``error_bound`` is the difference to the ``n_times // 2``-node rule
  (a deterministic quadrature-error estimate, evaluated on fresh samples).

Accuracy on demand: with ``rtol=``/``atol=`` the stratified estimator runs until
``stderr <= max(rtol |value|, atol)`` on the quantity returned (S_NN; L_EM or L_den; S_NN and L_EM
for :func:`decompose`).  The planner that sizes the run lives in :mod:`nent_ref.quantities.precision`
(section "level designs"); this module draws the levels and evaluates the model.  A pilot (the fixed
design with ``n_times`` strata, default :data:`~nent_ref.quantities.precision.PILOT_N_TIMES` = 8, and
``n_samples``, default :data:`~nent_ref.quantities.precision.PILOT_N_SAMPLES` = 2048) measures per
stratum the time variance of the level means (the larger of the within-stratum spread and the
one-sided differences of neighbouring strata) and the per-sample variance; if it meets the target
with at least :data:`~nent_ref.quantities.precision.MIN_EFFECTIVE_DOF` = 60 effective degrees of
freedom it is the result.  Otherwise :func:`nent_ref.quantities.precision.two_level_allocation`
designs the cheapest refinement: each stratum cut into ``m_k`` sub-strata of two time levels with
``n_k`` samples each (at least :data:`~nent_ref.quantities.precision.REFINED_MIN_SAMPLES`), trading model calls (cost
``call_cost`` = 256 samples each by default) for samples; the design has at least 60 predicted
degrees of freedom.  It is run in rounds that add levels to every sub-stratum until the target and
the degrees of freedom are reached, or the caps (``max_model_calls`` = 2**14, ``max_samples`` =
2**22, pilot included) stop it: then ``extra["target_met"]`` is False and a PrecisionWarning is
issued.  The pilot is not part of the refined estimate.  ``extra`` reports ``model_calls``,
``model_evaluations``, ``design`` ("fixed", "pilot", "refined"), ``target``, ``tolerance``,
``relative_stderr``, ``target_met`` and the design details.  Without a target the design is fixed
(defaults ``n_samples = 2**15``, ``n_times = 32``, unchanged).

Time variable (``time_map``): the strata are equal slices of ``u = Q(s)``, the CDF of the time
density :math:`q(s) = \alpha/(s_1 - s_0) + \beta/(s\log(s_1/s_0)) + \gamma/((T - s)\log\frac{T - s_0}{T - s_1})`
(uniform, log-uniform near 0 and near T; the integrand is divided by q).  ``"auto"`` (default)
takes alpha = 1/2 and shares the other half between the log parts that apply: near 0 when
``s0 > 0`` (Dirac/empirical rates grow like ``D/(2s)``), near T when the process is singular at
``T`` and ``s1 < T`` (``D ~ 1/(T - s)``); alpha = 1 otherwise.  ``"linear"``, ``"log"``,
``"log-end"``, ``"logit"`` are (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1/2, 1/2); a tuple gives the
weights directly.

Cutoffs: ``s1`` defaults to ``T``, except for processes singular at ``T`` (SL, cosine VP), where
it defaults to ``T - 1e-5``: for those :math:`D(s) \sim 1/(T - s)` and the integrand of a model
whose ``e`` does not vanish at ``T`` diverges like ``1/(T - s)``.  (For the exact :math:`e^*`
with Gaussian data the integrand vanishes like ``T - s``, so ``s1 = T`` may be passed
explicitly.)  Dirac, empirical and sample-only data need ``s0 > 0`` (ValueError otherwise), and
more: a sample :math:`y = \mu a + \sqrt v z` of an atom ``a`` keeps its noise only while
:math:`\sqrt v` is well above the rounding of :math:`\mu a` (a user model sees ``y`` in absolute
coordinates).  The estimators require :math:`\epsilon\,\mu(s_0)\max_{ij}|a_{ij}| \le 10^{-6}\sqrt{v(s_0)}`
(per-sample relative rounding error below ``ATOM_NOISE_RTOL = 1e-6``, derivation in
:func:`smallest_safe_cutoff`) and raise ValueError with the smallest allowed ``s0`` otherwise.
For atoms of size ~1 under the VP processes that is ``s0 >~ 5e-19`` (VPx: ``5e-17``), far below
the paper's ``1e-5``.

Reproducibility: one ``numpy.random.SeedSequence(seed)`` is spawned into one child per time
level (and one for the time jitter; a refined design uses a further child, one per round), so
results do not depend on ``executor`` or ``chunk_size`` (model calls do: each chunk is a call).  ``executor`` is any object with a ``map`` method (e.g.
``concurrent.futures.ProcessPoolExecutor``; then the model must be picklable).

References
----------
Premkumar, "Neural entropy" (2024/2025); Song, Durkan, Murray, Ermon, "Maximum likelihood
training of score-based diffusion models", NeurIPS 2021; Vincent, Neural Computation 23 (2011).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.checks import (ModelError, call_model, count, model_label, real_array, real_scalar,
                           seed_sequence)
from ..core.checks import executor as check_executor
from ..core.data import Dirac, Gaussian, needs_cutoff
from ..core.estimate import NAT, NAT_PER_TIME, TIME, Estimate, log_base
from ..core.mixture import Empirical
from ..core.processes import check_process, check_times
from ..core.progress import progress_bar
from .entropy import entropy_production_rate, kl_to_equilibrium, total_entropy
from .predictions import as_e_model
from .precision import REFINED_LEVELS as _REFINED_LEVELS     # not re-exported: the old name warns (__getattr__)
from .precision import (MIN_EFFECTIVE_DOF, LevelPrecision, level_calls, level_precision_options, levels_to_add,
                        normalised_dof, plan_refinement, precision_extra, warn_unmet)

__all__ = ["neural_entropy", "entropy_matching_loss", "denoising_constant", "decompose",
           "rate_curves", "Decomposition", "RateCurves", "DEFAULT_END_EPS", "ATOM_NOISE_RTOL",
           "smallest_safe_cutoff", "check_s_tot", "check_atom_cutoff"]

#: Public names of the precision planner that moved to :mod:`nent_ref.quantities.precision`; the old
#: ``nent_ref.quantities.neural.<name>`` keeps working for one release with a DeprecationWarning.
MOVED_TO_PRECISION = ("PILOT_N_TIMES", "PILOT_N_SAMPLES", "MIN_PILOT_TIMES", "MIN_PILOT_SAMPLES_PER_LEVEL",
                      "DEFAULT_CALL_COST", "DEFAULT_MAX_MODEL_CALLS", "DEFAULT_MAX_EVALUATIONS", "REFINED_LEVELS",
                      "REFINED_MIN_SAMPLES")


def __getattr__(name):
    if name in MOVED_TO_PRECISION:
        import warnings

        from . import precision
        warnings.warn(f"nent_ref.quantities.neural.{name} moved to nent_ref.quantities.precision.{name}; the old "
                      "path will be removed in the next release", DeprecationWarning, stacklevel=2)
        return getattr(precision, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Distance below T at which integrals stop by default for processes singular at T.
DEFAULT_END_EPS = 1e-5
#: Time levels per stratum of the stratified scheme (gives 3 degrees of freedom per stratum).
LEVELS_PER_STRATUM = 4
#: Largest relative rounding error allowed in the noise ``sqrt(v) z`` of a sample of atom data
#: (Dirac, Empirical, sample arrays); sets the smallest cutoff s0 (see "Cutoffs" above and
#: :func:`smallest_safe_cutoff`).
ATOM_NOISE_RTOL = 1e-6

# quantities computed per sample (indices into the result vector)
_NN, _TOT, _CROSS, _LEM, _DEN, _CONST = range(6)
_K = 6
_NAMES = ("S_NN", "S_tot (Monte Carlo)", "C", "L_EM", "L_denoising", "K")


# --------------------------------------------------------------------------- inputs
class _SampleData:
    """Data known only through samples: the empirical distribution of an (N, D) array."""

    needs_cutoff = True

    def __init__(self, points):
        pts = real_array("sample data", points, finite=False)
        if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] == 0:
            raise ValueError(f"sample data must be a non-empty (N, D) array (got shape {pts.shape})")
        if not np.all(np.isfinite(pts)):
            raise ValueError("sample data contain NaN or inf")
        self.points = pts
        self.dim = pts.shape[1]

    def sample(self, n, seed=None):
        rng = np.random.default_rng(seed)
        return self.points[rng.integers(0, self.points.shape[0], size=int(n))]

    def __repr__(self):
        return f"samples(N={self.points.shape[0]}, D={self.dim})"


def _as_data(data):
    if data is None:
        raise ValueError("data is required")
    if isinstance(data, np.ndarray):
        return _SampleData(data)
    if not hasattr(data, "sample"):
        raise ValueError(f"data must be a distribution with .sample(n, seed) (Gaussian, Dirac, mixture, "
                         f"Empirical) or an (N, D) array of samples (got {type(data).__name__})")
    return data


def check_s_tot(s_tot):
    """ValueError unless ``s_tot`` is a finite scalar Estimate in nats (a given ground truth S_tot)."""
    if not isinstance(s_tot, Estimate):
        raise ValueError(f"s_tot must be an Estimate of S_tot(s0, s1) in nats (got {type(s_tot).__name__})")
    if np.ndim(s_tot.value) != 0:
        raise ValueError("s_tot must hold a single number (got an array-valued Estimate)")
    if s_tot.unit != NAT:
        raise ValueError(f"s_tot must be in nats (got unit {s_tot.unit!r})")
    if not (math.isfinite(s_tot.value) and math.isfinite(s_tot.stderr) and math.isfinite(s_tot.error_bound)):
        raise ValueError(f"s_tot must be finite (got {s_tot!r})")
    if s_tot.stderr < 0 or s_tot.error_bound < 0:
        raise ValueError(f"s_tot must have a non-negative stderr and error bound (got {s_tot!r})")
    if s_tot.value < -(5.0 * s_tot.stderr + s_tot.error_bound):
        raise ValueError(f"s_tot = {s_tot.value} is negative beyond its uncertainty; S_tot, the integral of a "
                         "non-negative rate, is >= 0")


def has_exact_score(data) -> bool:
    """True when ``data.diffuse(process, s)`` gives the exact marginal (with ``.score``)."""
    return hasattr(data, "diffuse") and not isinstance(data, _SampleData)


def _data_dim(data) -> int:
    dim = getattr(data, "dim", None)
    if dim is None:
        dim = np.asarray(data.sample(1, 0)).shape[-1]
    return int(dim)


class _Model:
    """Wrap e(x, s) (or score(x, s), converted to e = score - grad log p_eq); check its output."""

    def __init__(self, e, score, process):
        if (e is None) == (score is None):
            raise ValueError("pass exactly one of e (deviation from equilibrium) or score= (full score)")
        fn = e if e is not None else score
        if not callable(fn):
            raise ValueError(f"the model must be callable as f(x, s) (got {type(fn).__name__})")
        self.fn = fn
        self.is_score = score is not None
        self.process = process
        self.label = model_label(fn)

    def __call__(self, x, s):
        out = call_model(self.fn, x, s, "score" if self.is_score else "e", label=self.label)
        if self.is_score:
            out = out - self.process.grad_log_peq(x)
        return out

    def __repr__(self):
        kind = "score" if self.is_score else "e"
        return f"{kind}={self.label}"


def _zero_e(x, s):
    return np.zeros_like(x)


def _atom_radius(data):
    """Largest absolute coordinate of the atoms of atom data (Dirac, Empirical, sample arrays); None otherwise."""
    if isinstance(data, Dirac):
        return float(np.max(np.abs(data.point)))
    if isinstance(data, _SampleData):
        return float(np.max(np.abs(data.points)))
    if isinstance(data, Empirical):
        return float(np.max(np.abs(data.points)))
    return None


def _noise_resolved(process, s, radius) -> bool:
    """True when eps * mu(s) * radius <= ATOM_NOISE_RTOL * sqrt(v(s)) (and v(s) > 0)."""
    v = float(process.marginal_var(s))
    mu = float(process.mean_coeff(s))
    return v > 0.0 and np.finfo(float).eps * mu * radius <= ATOM_NOISE_RTOL * math.sqrt(v)


def smallest_safe_cutoff(data, process) -> float:
    r"""Smallest cutoff ``s0`` at which samples of atom data keep their noise (0.0 for other data).

    A sample at time s is :math:`y = \mu a + \sqrt v\, z` for an atom :math:`a`.  In double
    precision each coordinate of ``y`` carries an absolute rounding error of about
    :math:`\epsilon |\mu a_j|` (:math:`\epsilon = 2^{-52}`: half an ulp for the product, half for the
    sum), and a model evaluated at ``y`` (the optimum :math:`e^*` through :math:`y - \mu a`) sees the
    noise :math:`\sqrt v z_j` with the relative error :math:`\epsilon |\mu a_j| / (\sqrt v |z_j|)`;
    :math:`\|y - \mu a\|^2 / v` then has the absolute error :math:`\le 2\delta \sum_j |z_j|` with
    :math:`\delta = \epsilon \max_j |\mu a_j| / \sqrt v`, a relative error of order
    :math:`\delta` for typical :math:`|z_j| \sim 1`.  The rule is

    .. math:: \epsilon\, \mu(s_0)\, R \le \text{ATOM\_NOISE\_RTOL}\cdot\sqrt{v(s_0)},\qquad
              R = \max_{i,j} |a_{ij}|,\qquad \text{ATOM\_NOISE\_RTOL} = 10^{-6},

    i.e. :math:`\sqrt{v(s_0)} \ge 2.2\times 10^{-10}\,\mu(s_0) R`.  Since :math:`\sqrt v/\mu`
    increases with s, the rule at ``s0`` covers the whole interval.  Below the cutoff an estimate
    of ``S_NN`` for the exact model would be biased by rounding (a Dirac at 1e-100 loses its noise
    completely), so the estimators raise instead.  The paper's settings are far inside the safe
    range: VPx (kappa = 0.1) at s0 = 1e-5 has :math:`\sqrt v \approx 10^{-4}` against
    :math:`2.2\times 10^{-10} R` for atoms of size R ~ 3.

    Returns the smallest safe ``s0`` (to relative precision 1e-6, on the safe side) found by
    bisection in log s; raises ValueError when no cutoff in (0, T] is safe.
    """
    radius = _atom_radius(data)
    if radius is None:
        return 0.0
    T = float(process.T)
    if not _noise_resolved(process, T, radius):
        raise ValueError(f"{type(data).__name__} data with atom coordinates up to {radius:.3g} cannot be diffused "
                         f"under {process!r} in double precision: even at s = T the noise is below "
                         f"1/{ATOM_NOISE_RTOL:.0e} times the rounding of the atoms (rescale the data)")
    lo, hi = 1e-300 * T, T
    if _noise_resolved(process, lo, radius):
        return lo
    while hi > lo * (1.0 + 1e-6):
        mid = math.sqrt(lo * hi)
        if _noise_resolved(process, mid, radius):
            hi = mid
        else:
            lo = mid
    return hi


def _round_up(x: float) -> float:
    """x rounded up to two significant digits (for messages that quote a lower limit)."""
    e = math.floor(math.log10(x)) - 1
    return math.ceil(x / 10.0 ** e * (1 - 1e-12)) * 10.0 ** e


def check_atom_cutoff(data, process, s0, name="s0"):
    """ValueError when atom data at the cutoff ``s0`` would lose their noise to rounding."""
    radius = _atom_radius(data)
    if radius is None or s0 <= 0.0 or _noise_resolved(process, s0, radius):
        return
    floor = smallest_safe_cutoff(data, process)
    v = float(process.marginal_var(s0))
    raise ValueError(
        f"{name} = {s0:.3g} is below the safe range for {type(data).__name__} data (largest atom coordinate "
        f"|a| = {radius:.3g}) under {process!r}: samples y = mu a + sqrt(v) z have the noise sqrt(v) = "
        f"{math.sqrt(v):.3g} there, and the rounding of mu a (relative 2.2e-16) changes it by more than "
        f"{ATOM_NOISE_RTOL:g} relative, which biases every estimate; the smallest allowed s0 is "
        f"{_round_up(floor):.2g} (rule: nent_ref.quantities.neural.smallest_safe_cutoff)")


def _interval(data, process, s0, s1):
    if s1 is None:
        s1 = process.T - DEFAULT_END_EPS if process.singular_at_T else process.T
    s0 = float(check_times(real_scalar("s0", s0), process, "s0"))
    s1 = float(check_times(real_scalar("s1", s1), process, "s1"))
    if not s0 < s1:
        raise ValueError(f"need s0 < s1 (got s0={s0}, s1={s1})")
    if s0 == 0.0 and needs_cutoff(data):
        raise ValueError(f"s0 must be > 0 for {type(data).__name__} data: the entropy production diverges "
                         "like (D/2) log(1/s0) as s0 -> 0 (use a cutoff, e.g. s0=1e-5)")
    check_atom_cutoff(data, process, s0)
    return s0, s1


# --------------------------------------------------------------------------- time variable
class _TimeMap:
    r"""Stratification variable u in [0, 1] -> s in [s0, s1] through the inverse CDF of a time density.

    The density is the defensive mixture

    .. math:: q(s) = \frac{\alpha}{s_1 - s_0} + \frac{\beta}{s \log(s_1/s_0)}
              + \frac{\gamma}{(T - s) \log\frac{T - s_0}{T - s_1}},\qquad \alpha + \beta + \gamma = 1,

    uniform plus log-uniform near 0 plus log-uniform near T, so that integrands that are smooth,
    grow like 1/s (Dirac/empirical data) or like 1/(T - s) (singular processes) all have a bounded
    ratio f/q.  Returns (s, ds/du = 1/q(s)).
    """

    _NAMED = {"linear": (1.0, 0.0, 0.0), "log": (0.0, 1.0, 0.0), "log-end": (0.0, 0.0, 1.0),
              "logit": (0.0, 0.5, 0.5)}

    def __init__(self, kind, s0, s1, process):
        T = process.T
        if isinstance(kind, str):
            if kind == "auto":
                left = s0 > 0
                right = bool(process.singular_at_T) and s1 < T
                rest = 0.5 / (left + right) if (left or right) else 0.0
                weights = (1.0 - rest * (left + right), rest if left else 0.0, rest if right else 0.0)
            elif kind in self._NAMED:
                weights = self._NAMED[kind]
            else:
                raise ValueError("time_map must be 'auto', 'linear', 'log', 'log-end', 'logit' or three "
                                 f"weights (uniform, log-near-0, log-near-T) (got {kind!r})")
        else:
            weights = tuple(float(w) for w in np.ravel(real_array("time_map weights", kind)))
            if len(weights) != 3 or min(weights) < 0 or not math.isclose(sum(weights), 1.0, abs_tol=1e-12):
                raise ValueError(f"time_map weights must be three non-negative numbers summing to 1 (got {kind!r})")
        a, b, c = weights
        if b > 0 and s0 <= 0:
            raise ValueError(f"time_map={kind!r} puts log-uniform weight near s = 0 and needs s0 > 0")
        if c > 0 and s1 >= T:
            raise ValueError(f"time_map={kind!r} puts log-uniform weight near T and needs s1 < T = {T:g}")
        self.kind, self.weights, self.s0, self.s1, self.T = kind, (a, b, c), s0, s1, T
        self._Ll = math.log(s1 / s0) if b > 0 else 1.0
        self._Lr = math.log((T - s0) / (T - s1)) if c > 0 else 1.0

    def density(self, s):
        a, b, c = self.weights
        q = np.full_like(s, a / (self.s1 - self.s0))
        if b > 0:
            q = q + b / (s * self._Ll)
        if c > 0:
            q = q + c / ((self.T - s) * self._Lr)
        return q

    def cdf(self, s):
        a, b, c = self.weights
        out = a * (s - self.s0) / (self.s1 - self.s0)
        if b > 0:
            out = out + b * np.log(s / self.s0) / self._Ll
        if c > 0:
            out = out + c * np.log((self.T - self.s0) / (self.T - s)) / self._Lr
        return out

    def __call__(self, u):
        u = np.asarray(u, dtype=float)
        lo = np.full_like(u, self.s0)
        hi = np.full_like(u, self.s1)
        for _ in range(200):                              # bisection to full double precision
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < u
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
            if np.all(hi - lo <= 4 * np.finfo(float).eps * np.maximum(np.abs(hi), 1e-300)):
                break
        s = np.clip(0.5 * (lo + hi), self.s0, self.s1)
        return s, 1.0 / self.density(s)


# --------------------------------------------------------------------------- the engine
def _unit_task(args):
    """One time level: n fresh samples at time s; returns (weight * mean, weight^2 * cov of mean)."""
    model, data, process, s, weight, seed, n, flags, chunk = args
    exact, denoising, lam_kind = flags
    rng = np.random.default_rng(seed)
    dim = _data_dim(data)
    Dcoef = float(process.diffusion(s))
    mu = float(process.mean_coeff(s))
    v = float(process.marginal_var(s))
    lam = Dcoef if lam_kind == "likelihood" else v
    x0 = np.asarray(data.sample(n, rng), dtype=float).reshape(n, dim)
    z = rng.standard_normal((n, dim))
    sv = math.sqrt(v)
    marginal = data.diffuse(process, s) if exact else None
    G = np.zeros((n, _K))
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        y = mu * x0[a:b] + sv * z[a:b]
        e = model(y, np.full(b - a, s))
        with np.errstate(over="ignore", invalid="ignore"):     # overflow is reported just below
            G[a:b, _NN] = Dcoef * np.einsum("ij,ij->i", e, e)
            if exact:
                sc = np.asarray(marginal.score(y), dtype=float)
                es = sc - process.grad_log_peq(y)
                d = e - es
                G[a:b, _TOT] = Dcoef * np.einsum("ij,ij->i", es, es)
                G[a:b, _CROSS] = Dcoef * np.einsum("ij,ij->i", es, e)
                G[a:b, _LEM] = lam * np.einsum("ij,ij->i", d, d)
                if denoising:
                    r = sc + z[a:b] / sv          # grad log p_s(y) - grad log p(y | x0)
                    G[a:b, _CONST] = lam * np.einsum("ij,ij->i", r, r)
            if denoising:
                g = sv * (process.grad_log_peq(y) + e) + z[a:b]
                G[a:b, _DEN] = (lam / v) * np.einsum("ij,ij->i", g, g)
        _check_finite(G[a:b], model, s)
    with np.errstate(over="ignore", invalid="ignore"):
        mean = G.mean(axis=0)
        cov = np.cov(G, rowvar=False) / n if n > 1 else np.zeros((_K, _K))
        out = weight * mean, weight * weight * np.atleast_2d(cov)
    _check_finite(np.vstack([out[0], np.diag(out[1])]), model, s, "the mean or variance of ")
    return out


#: Columns of the per-sample quantities that involve the model's output (the others are exact-score terms).
_MODEL_COLUMNS = (_NN, _CROSS, _LEM, _DEN)


def _check_finite(G, model, s, what=""):
    """ModelError (or, for the exact-score columns alone, ValueError) when a per-sample quantity is not finite.

    ``model_output`` already rejects NaN/inf outputs and outputs whose squared norm overflows; what is left
    is overflow after the weighting (``D(s) |e|^2``, ``|e - e*|^2``, ...) and in the sums.
    """
    bad = ~np.all(np.isfinite(G), axis=0)
    if not np.any(bad):
        return
    names = ", ".join(_NAMES[k] for k in np.flatnonzero(bad))
    who = "the model" if model is None else f"the model {getattr(model, 'label', model)!s}"
    when = "" if s is None else f" at s = {float(s):.6g}"
    if np.any(bad[list(_MODEL_COLUMNS)]):
        raise ModelError(f"{who} gives {what}{names} that overflow double precision{when} (its output is too "
                         "large to form an estimate)")
    raise ValueError(f"{what}{names} of the exact score overflow double precision{when} (the data or process "
                     "parameters are too extreme)")


@dataclass
class _Run:
    value: np.ndarray         # (K,)
    cov: np.ndarray           # (K, K)
    error_bound: np.ndarray   # (K,)
    n_samples: int
    method: str
    exact: bool
    denoising: bool
    info: dict = None         # precision and work: model calls, evaluations, target, design


def _design(scheme, n_times, tmap, root_time_seed):
    """Time levels: list of (s, weight, group)."""
    if scheme == "stratified":
        reps = LEVELS_PER_STRATUM
        rng = np.random.default_rng(root_time_seed)
        j = np.repeat(np.arange(n_times), reps)
        u = (j + rng.random(j.size)) / n_times
        s, jac = tmap(u)
        return list(zip(s.tolist(), (jac / n_times).tolist(), j.tolist()))
    if scheme == "gauss-legendre":
        xg, wg = np.polynomial.legendre.leggauss(n_times)
        u = 0.5 * (xg + 1.0)
        s, jac = tmap(u)
        return list(zip(s.tolist(), (0.5 * wg * jac).tolist(), range(n_times)))
    raise ValueError(f"scheme must be 'stratified' or 'gauss-legendre' (got {scheme!r})")


#: Largest number of sample coordinates (samples times dimension) drawn for one time level: a level draws
#: its data samples and noise at once (several float64 arrays of that size), so 2**26 (512 MB per array)
#: keeps a run within a few GB.  A larger design raises a ValueError naming ``n_samples`` before any draw
#: (``n_samples = 10**12`` failed inside numpy with a 58 GB allocation); use fewer samples per call and
#: combine seeds, or more time strata.
MAX_LEVEL_NUMBERS = 2 ** 26


def _execute(model, data, process, levels, seeds, n_per, flags, chunk, executor):
    """Evaluate the time levels; ``n_per`` is one sample count for all levels or one per level."""
    ns = [n_per] * len(levels) if np.ndim(n_per) == 0 else list(n_per)
    dim = _data_dim(data)
    if ns and max(ns) * dim > MAX_LEVEL_NUMBERS:
        raise ValueError(f"n_samples: this design draws {int(max(ns))} samples of dimension {dim} for one time "
                         f"level ({int(max(ns)) * dim:.3g} numbers), above the limit of {MAX_LEVEL_NUMBERS} "
                         "(nent_ref.quantities.neural.MAX_LEVEL_NUMBERS; the level's float64 arrays would not fit "
                         "in memory): lower n_samples (or max_samples), or combine runs with different seeds")
    tasks = [(model, data, process, s, w, sd, int(n), flags, chunk)
             for (s, w, _), sd, n in zip(levels, seeds, ns)]
    mapper = map if check_executor(executor) is None else executor.map
    bar = progress_bar(total=int(np.sum(ns)), desc="neural estimate", unit="sample", delay=2.0)
    out = []
    try:
        for task, res in zip(tasks, mapper(_unit_task, tasks)):
            out.append(res)
            bar.update(task[6])
    finally:
        bar.close()
    return out


def _check_run_options(n_times, n_samples, chunk_size, weighting, exact, data):
    n_times = count("n_times", n_times, 2)
    n_samples = count("n_samples", n_samples, 2)
    chunk = count("chunk_size", chunk_size, 1)
    if weighting not in ("likelihood", "unit"):
        raise ValueError(f"weighting must be 'likelihood' or 'unit' (got {weighting!r})")
    if exact and not has_exact_score(data):
        raise ValueError("this quantity needs the exact marginal score (Gaussian, Dirac, mixture or Empirical "
                         "data with .diffuse); sample-only data support S_NN and the denoising loss only")
    return n_times, n_samples, chunk


def _run(model, data, process, s0, s1, *, exact, denoising, weighting, n_samples, n_times,
         scheme, time_map, seed, executor, chunk_size, precision=None) -> _Run:
    """The Monte Carlo engine: a fixed design, or (``precision`` given) a pilot and a refined design."""
    if precision is not None:
        return _run_to_target(model, data, process, s0, s1, exact=exact, denoising=denoising,
                              weighting=weighting, n_samples=n_samples, n_times=n_times, scheme=scheme,
                              time_map=time_map, seed=seed, executor=executor, chunk_size=chunk_size,
                              precision=precision)
    n_times, n_samples, chunk = _check_run_options(n_times, n_samples, chunk_size, weighting, exact, data)
    tmap = _TimeMap(time_map, s0, s1, process)
    root = seed_sequence(seed, "seed")
    flags = (exact, denoising, weighting)
    if scheme == "gauss-legendre":
        if n_times < 4:
            raise ValueError("scheme='gauss-legendre' needs n_times >= 4 (the error estimate uses n_times // 2)")
        seq_main, seq_half = root.spawn(2)
        outs = []
        calls = 0
        for k, seq in ((n_times, seq_main), (n_times // 2, seq_half)):
            levels = _design(scheme, k, tmap, None)
            n_per = max(2, n_samples // k)
            res = _execute(model, data, process, levels, seq.spawn(len(levels)), n_per, flags, chunk, executor)
            calls += level_calls([n_per] * len(levels), chunk)
            val = np.sum([r[0] for r in res], axis=0)
            cov = np.sum([r[1] for r in res], axis=0)
            outs.append((val, cov, n_per * len(levels)))
        (val, cov, n_used), (val_half, _, n_half) = outs
        info = {"model_calls": calls, "model_evaluations": n_used + n_half, "design": "fixed", "n_times": n_times}
        return _Run(val, cov, np.abs(val - val_half), n_used + n_half, "gauss-legendre+monte-carlo",
                    exact, denoising, info)
    if scheme != "stratified":
        raise ValueError(f"scheme must be 'stratified' or 'gauss-legendre' (got {scheme!r})")
    run, _ = _stratified_fixed(model, data, process, tmap, root, n_samples, n_times, flags, chunk, executor)
    return run


def _stratified_fixed(model, data, process, tmap, root, n_samples, n_times, flags, chunk, executor):
    """The fixed stratified design (also the pilot of a targeted run): (_Run, per-level results, levels)."""
    exact, denoising, _ = flags
    time_seq, sample_seq = root.spawn(2)
    levels = _design("stratified", n_times, tmap, time_seq)
    n_per = max(2, n_samples // len(levels))
    res = _execute(model, data, process, levels, sample_seq.spawn(len(levels)), n_per, flags, chunk, executor)
    vals = np.array([r[0] for r in res])            # (L, K)
    groups = np.array([g for (_, _, g) in levels])
    value = np.zeros(_K)
    cov = np.zeros((_K, _K))
    for j in range(n_times):
        f = vals[groups == j]
        value += f.mean(axis=0)
        cov += np.cov(f, rowvar=False) / f.shape[0]
    n_used = n_per * len(levels)
    info = {"model_calls": level_calls([n_per] * len(levels), chunk), "model_evaluations": n_used,
            "design": "fixed", "n_times": n_times}
    run = _Run(value, cov, np.zeros(_K), n_used, "stratified-monte-carlo", exact, denoising, info)
    return run, (res, levels, n_per)


def _refined_levels(plan, n_times, tmap, seq, per_sub):
    """``per_sub`` new time levels in every sub-stratum of the refined design: (s, weight, group) and
    samples per level."""
    rng = np.random.default_rng(seq)
    k = np.repeat(np.arange(n_times), plan.m)                      # base stratum of each sub-stratum
    i = np.concatenate([np.arange(m) for m in plan.m])             # index within the base stratum
    width = 1.0 / (n_times * plan.m[k])
    lo = k / n_times + i * width
    sub = np.repeat(np.arange(k.size), per_sub)
    u = lo[sub] + width[sub] * rng.random(sub.size)
    s, jac = tmap(np.minimum(u, 1.0))
    n = plan.n[k[sub]]
    return list(zip(s.tolist(), (jac * width[sub]).tolist(), sub.tolist())), n


def _grouped_estimate(vals, groups):
    """Stratified estimate from level values and their sub-stratum ids: the sum of the group means, the
    sum of the group covariances of the mean (each group has at least two levels), and per group the
    variances of the mean (n_groups, K) with their degrees of freedom (levels - 1)."""
    n_groups = int(groups.max()) + 1
    counts = np.bincount(groups, minlength=n_groups).astype(float)
    sums = np.zeros((n_groups, vals.shape[1]))
    np.add.at(sums, groups, vals)
    means = sums / counts[:, None]
    d = vals - means[groups]
    wts = 1.0 / ((counts - 1.0) * counts)
    cov = (d * wts[groups][:, None]).T @ d
    gvar = np.zeros((n_groups, vals.shape[1]))
    np.add.at(gvar, groups, d * d * wts[groups][:, None])
    return means.sum(axis=0), cov, gvar, counts - 1.0


def _pilot_group_vars(res, levels, n_times):
    """Per pilot stratum: variances of the stratum mean (n_times, K) and their degrees of freedom."""
    vals = np.array([r[0] for r in res])
    groups = np.array([g for (_, _, g) in levels])
    _, _, gvar, dof = _grouped_estimate(vals, groups)
    return gvar, dof


def _run_to_target(model, data, process, s0, s1, *, exact, denoising, weighting, n_samples, n_times, scheme,
                   time_map, seed, executor, chunk_size, precision: LevelPrecision) -> _Run:
    """Pilot (the fixed design with the pilot's n_samples, n_times), then the refined design, in
    rounds (more levels in every sub-stratum) until the target is met on every quantity of
    ``precision.quantities`` or a cap stops it."""
    n_times, n_samples, chunk = _check_run_options(n_times, n_samples, chunk_size, weighting, exact, data)
    tmap = _TimeMap(time_map, s0, s1, process)
    root = seed_sequence(seed, "seed")
    flags = (exact, denoising, weighting)
    prec = precision
    pilot, (res, levels, n_per) = _stratified_fixed(model, data, process, tmap, root, n_samples, n_times, flags,
                                                    chunk, executor)
    calls = pilot.info["model_calls"]
    evals = pilot.info["model_evaluations"]
    qs = list(prec.quantities)

    def status(run):
        se = np.sqrt(np.maximum(np.diag(run.cov)[qs], 0.0))
        tol = np.array([prec.target.tolerance(run.value[q]) for q in qs])
        return se, tol, bool(np.all(se <= tol))

    def finish(run, met, design, stages, per_group=0, plan=None, dof=None):
        run.info = {"model_calls": calls, "model_evaluations": evals, "design": design, "stages": stages,
                    "pilot_model_calls": pilot.info["model_calls"], "pilot_samples": pilot.n_samples,
                    "n_times": n_times, "levels_per_substratum": per_group, "target": prec.target,
                    "target_met": met,
                    "quantities": qs, "max_model_calls": prec.max_model_calls,
                    "max_samples": prec.max_evaluations, "call_cost": prec.call_cost,
                    "n_substrata": None if plan is None else int(plan.m.sum()), "effective_dof": dof}
        return run

    se, tol, met = status(pilot)
    gvar, dof = _pilot_group_vars(res, levels, n_times)
    nu = normalised_dof(gvar, dof, tol, qs)
    if met and nu >= MIN_EFFECTIVE_DOF:
        return finish(pilot, True, "pilot", 1, dof=nu)
    plan = plan_refinement([r[0] for r in res], [np.diag(r[1]) for r in res], [g for (_, _, g) in levels], n_per,
                           n_times, pilot.value, prec, chunk, prec.max_model_calls - calls,
                           prec.max_evaluations - evals)
    if plan is None:
        return finish(pilot, False, "pilot", 1, dof=nu)
    refine_root = root.spawn(1)[0]
    all_vals, all_groups, all_n = [], [], []
    per_group = 0                     # time levels per sub-stratum so far
    add = _REFINED_LEVELS             # levels to add to every sub-stratum in the next round
    rounds = 0
    while True:
        t_seq, s_seq = _child_seq(refine_root, rounds).spawn(2)
        lv, n_lv = _refined_levels(plan, n_times, tmap, t_seq, add)
        out = _execute(model, data, process, lv, s_seq.spawn(len(lv)), n_lv, flags, chunk, executor)
        all_vals.append(np.array([r[0] for r in out]))
        all_groups.append(np.array([g for (_, _, g) in lv]))
        all_n.append(n_lv)
        calls += level_calls(n_lv, chunk)
        evals += int(np.sum(n_lv))
        per_group += add
        rounds += 1
        value, cov, gvar, dof = _grouped_estimate(np.concatenate(all_vals), np.concatenate(all_groups))
        run = _Run(value, cov, np.zeros(_K), int(sum(int(np.sum(n)) for n in all_n)), "stratified-monte-carlo",
                   exact, denoising)
        se, tol, met = status(run)
        nu = normalised_dof(gvar, dof, tol, qs)
        if met and nu >= MIN_EFFECTIVE_DOF:
            return finish(run, True, "refined", rounds + 1, per_group, plan, dof=nu)
        add = levels_to_add(plan, se, tol, met, nu, per_group, chunk, calls, evals, prec)
        if add < 1:
            return finish(run, met and nu >= MIN_EFFECTIVE_DOF, "refined", rounds + 1, per_group, plan, dof=nu)


def _child_seq(root, *keys):
    """A child of ``root`` at the given spawn keys (built, not spawned: ``root`` is not mutated)."""
    return np.random.SeedSequence(entropy=root.entropy, spawn_key=tuple(root.spawn_key) + tuple(keys),
                                  pool_size=root.pool_size)


def _estimate(run: _Run, grad, value=None, extra_var=0.0, extra_bound=0.0, scale=None) -> Estimate:
    """Linear (delta-method) combination grad . Q of the run's quantities, plus independent parts.

    ``scale`` (the magnitude of the terms combined, for the rounding floor of
    :meth:`Estimate.z_score`) defaults to ``|grad| . |Q|``; pass it when ``value`` is given.
    """
    grad = np.asarray(grad, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        val = float(grad @ run.value) if value is None else float(value)
        var = float(grad @ run.cov @ grad) + float(extra_var)
    if not (math.isfinite(val) and math.isfinite(var)):
        parts = np.where(grad != 0, 1.0, 0.0) * np.vstack([run.value, np.diag(run.cov)])
        _check_finite(parts, None, None, "the sum over time levels of ")
        raise ValueError(f"the estimate is not finite (value {val}, variance {var}): the integrand overflows "
                         "double precision when combined")
    bound = float(np.abs(grad) @ run.error_bound) + float(extra_bound)
    if scale is None:
        scale = float(np.abs(grad) @ np.abs(run.value))
    se = math.sqrt(max(var, 0.0))
    return Estimate(val, se, run.method, bound, run.n_samples, scale=scale, extra=_work_extra(run, grad, val, se))


#: Keys of the work/design entries copied from a run into every Estimate's ``extra``.
_WORK_KEYS = ("model_calls", "model_evaluations", "design", "stages", "n_times", "pilot_model_calls",
              "pilot_samples", "levels_per_substratum", "n_substrata", "effective_dof", "max_model_calls", "max_samples", "call_cost")


def _work_extra(run: _Run, grad, value, stderr) -> dict:
    """``extra`` of an estimate from ``run``: the work done (model calls, evaluations, design) and the
    precision: target, tolerance, achieved relative stderr and whether the target was met, where the
    estimate is one of the quantities the target applies to (None otherwise)."""
    info = run.info or {}
    out = {k: info[k] for k in _WORK_KEYS if k in info}
    target = info.get("target")
    targeted = False
    if target is not None:
        nz = np.flatnonzero(grad)
        targeted = nz.size == 1 and grad[nz[0]] == 1.0 and int(nz[0]) in info.get("quantities", ())
    if targeted:
        met = bool(info.get("target_met")) and bool(stderr <= target.tolerance(value))
        out.update(precision_extra(target, value, stderr, met))
        out["target_met"] = met
    else:
        out.update(precision_extra(None, value, stderr, None))
        if target is not None:
            out["target_applies_to"] = [_NAMES[q] for q in info.get("quantities", ())]
    return out


def _unit(k):
    g = np.zeros(_K)
    g[k] = 1.0
    return g


_COMMON_DOC = """
    e : callable, optional
        The model's deviation from equilibrium, ``e(x, s) -> array`` with ``x`` of shape (M, D)
        and ``s`` of shape (M,) (forward times; all equal within one call), returning (M, D).
    data : Gaussian, Dirac, GaussianMixture, Empirical or ndarray (N, D)
        The data distribution at ``s = 0``; an array means its empirical distribution (samples only).
    process : VP, SL or VE
    s0, s1 : float
        Integration interval (forward time).  ``s1`` defaults to ``T`` (``T - 1e-5`` for SL and
        the cosine VP).  Dirac, empirical and sample data need ``s0 > 0``.
    score : callable, optional
        Instead of ``e``: the full score model ``score(x, s)``; then ``e = score - grad log p_eq``.
    n_samples : int
        Total number of data samples (spread evenly over the time levels); default 2**15.  With a
        precision target (``rtol``/``atol``): the samples of the pilot (default 2**12).
    n_times : int
        Number of time strata (``"stratified"``, four levels each) or Gauss-Legendre nodes; default
        32.  With a precision target: the strata of the pilot (default 16, at least 8).
    scheme : {"stratified", "gauss-legendre"}
    time_map : {"auto", "linear", "log", "log-end", "logit"} or (alpha, beta, gamma)
        Time density used for the strata (see the module docstring).
    seed : int, sequence of ints, SeedSequence, Generator or None
        Root of the random streams, validated by :func:`nent_ref.core.checks.seed_sequence` (a
        Generator seeds a spawned child of its SeedSequence; None draws fresh OS entropy).
    executor : object with ``.map``, optional
        Evaluates the time levels (e.g. a ``ProcessPoolExecutor``; the model must then be picklable).
    chunk_size : int
        Maximum number of points per model call.
    base : float, optional
        Unit of the result (nats by default, ``base=2`` for bits).
    prediction : {"e", "score", "eps", "v", "x0"}, optional
        What the model ``e`` returns (default ``"e"``): converted to ``e`` by
        :mod:`nent_ref.quantities.predictions` (diffusers' epsilon / v_prediction / sample are "eps", "v", "x0").
    time_input : {"s", "timestep", "sigma", "log_snr"}, optional
        What the model takes instead of ``s`` (default ``"s"``); ``"timestep"`` gives ``t = s N/T - 1``
        as a float for a process built from a table of N values.
"""

_TARGET_DOC = """    rtol, atol : float, optional
        Precision target (accuracy on demand): run until ``stderr <= max(rtol |value|, atol)``
        (:class:`nent_ref.quantities.precision.Target`).  Without them the design is fixed
        (``n_samples``, ``n_times``: the same numbers as always).  With them, a pilot (the fixed
        design with the pilot's ``n_samples``, ``n_times``) measures per stratum the time variance
        and the per-sample variance; if it meets the target it is the result, otherwise a refined
        design (:func:`nent_ref.quantities.precision.two_level_allocation`: strata cut into
        sub-strata of two time levels, samples per level where the per-sample spread is) is run in
        rounds (more levels per sub-stratum) until the target is met, and the pilot is discarded
        (the final standard error is that of a fixed design, independent of the pilot's numbers).
    max_model_calls, max_samples : int, optional
        Caps of a targeted run (pilot included; defaults 2**14 calls and 2**22 samples).  A target
        not met within them gives the estimate with its honest standard error,
        ``extra["target_met"] = False`` and a PrecisionWarning.
    call_cost : float, optional
        Cost of one model call relative to the cost of one sample inside a call (default 256),
        which sets how the refined design trades time levels (calls) for samples per level.
"""


def _prepare(e, data, process, s0, s1, score, prediction=None, time_input=None):
    check_process(process)
    data = _as_data(data)
    if prediction is not None or time_input is not None:
        if score is not None:
            raise ValueError("with prediction= or time_input=, pass the model as the first argument (not score=); "
                             "prediction='score' says it returns the full score")
        e = as_e_model(e, process, prediction, time_input)
    model = _Model(e, score, process)
    s0, s1 = _interval(data, process, s0, s1)
    return model, data, s0, s1


# --------------------------------------------------------------------------- public estimators
def neural_entropy(e=None, data=None, process=None, s0=0.0, s1=None, *, score=None, n_samples=None,
                   n_times=None, scheme="stratified", time_map="auto", seed=0, executor=None,
                   chunk_size=8192, base=None, rtol=None, atol=None, max_model_calls=None, max_samples=None,
                   call_cost=None, prediction=None, time_input=None) -> Estimate:
    r"""Neural entropy :math:`S_{NN}(e) = \int_{s_0}^{s_1} D(s)\,\mathbb E_{p_s}\|e(x,s)\|^2\,ds` (eq. 3.2).

    The information (nats) that the model's control :math:`u = \sigma^2 e` injects into the
    reverse process (its Girsanov path cost).  Needs only samples of the data.

    Parameters
    ----------""" + _COMMON_DOC + _TARGET_DOC + """
    Returns
    -------
    Estimate
        Monte Carlo estimate with its standard error (and, for Gauss-Legendre, ``error_bound``);
        ``extra`` reports the work (``model_calls``, ``model_evaluations``) and the precision
        (``target``, ``tolerance``, ``relative_stderr``, ``target_met``).

    Examples
    --------
    >>> import nent_ref as nr
    >>> from nent_ref import reference_models as rm
    >>> g, vp = nr.Gaussian([0.5], [[0.3]]), nr.VP(0.1, 16)
    >>> est = nr.neural_entropy(rm.exact_e(g, vp), g, vp, rtol=0.01)
    >>> est.extra["target_met"], est.stderr <= 0.01 * est.value
    (True, True)
    """
    model, data, s0, s1 = _prepare(e, data, process, s0, s1, score, prediction, time_input)
    prec, n_samples, n_times = level_precision_options(rtol, atol, max_model_calls, max_samples, call_cost, (_NN,),
                                                       scheme, n_samples, n_times,
                                                       levels_per_stratum=LEVELS_PER_STRATUM)
    run = _run(model, data, process, s0, s1, exact=False, denoising=False, weighting="likelihood",
               n_samples=n_samples, n_times=n_times, scheme=scheme, time_map=time_map, seed=seed,
               executor=executor, chunk_size=chunk_size, precision=prec)
    _warn_if_unmet(run, "neural_entropy")
    return _in_base(_estimate(run, _unit(_NN)), base)


def _warn_if_unmet(run, what):
    info = run.info or {}
    if info.get("target") is not None and not info.get("target_met"):
        qs = info["quantities"]
        se = np.sqrt(np.maximum(np.diag(run.cov)[qs], 0.0))
        warn_unmet(f"{what} ({', '.join(_NAMES[q] for q in qs)})", info["target"], run.value[qs], se,
                   f"max_model_calls = {info['max_model_calls']}, max_samples = {info['max_samples']}; used "
                   f"{info['model_calls']} calls and {info['model_evaluations']} samples", stacklevel=4)


def _loss_unit(weighting):
    """nat for the likelihood weighting (lambda = D), "time" for the unit weighting (lambda = v)."""
    return NAT if weighting == "likelihood" else TIME


def _in_base(est, base):
    if base is None:
        return est
    out = est.in_base(base)
    if out.extra.get("tolerance") is not None:          # the tolerance is in the unit of the value
        out.extra["tolerance"] = out.extra["tolerance"] / log_base(base)
    return out


def entropy_matching_loss(e=None, data=None, process=None, s0=0.0, s1=None, *, score=None, form="exact",
                          weighting="likelihood", n_samples=None, n_times=None, scheme="stratified",
                          time_map="auto", seed=0, executor=None, chunk_size=8192, base=None, rtol=None,
                          atol=None, max_model_calls=None, max_samples=None, call_cost=None, prediction=None,
                          time_input=None) -> Estimate:
    r"""Entropy-matching loss, exact or in the denoising form that training code minimises.

    ``form="exact"``: :math:`L_{EM} = \int \lambda(s)\,\mathbb E_{p_s}\|e - e^*\|^2 ds` (eq. 3.1); needs
    the exact marginal score (Gaussian, Dirac, mixture, Empirical data).  ``L_EM(e*) = 0`` exactly.

    ``form="denoising"``: :math:`L_{den} = \int \tfrac{\lambda}{v}\mathbb E\|\sqrt v(\nabla\log p_{eq}(y)
    + e(y,s)) + z\|^2 ds` with :math:`y = \mu x_0 + \sqrt v z`; needs only samples.
    :math:`L_{den} = L_{EM} + K` with the e-independent constant :math:`K` of
    :func:`denoising_constant`, returned in ``extra["constant"]`` (``None`` for sample-only data)
    together with ``extra["exact_equivalent"]`` :math:`= L_{den} - K`.

    ``weighting="likelihood"``: :math:`\lambda = D(s) = \sigma^2/2` (then :math:`L_{EM}` is the path KL
    of the model reverse SDE, in nats); ``"unit"``: :math:`\lambda = v(s)` (the plain epsilon-prediction
    loss; :math:`v\,\|e - e^*\|^2` is dimensionless, so its integral over s has the unit of forward
    time, ``unit="time"``, and ``base`` does not apply).  The denoising form with the likelihood weighting needs ``s0 > 0`` (K diverges like
    :math:`(D/2)\log(1/s_0)`).

    Parameters
    ----------""" + _COMMON_DOC + _TARGET_DOC + """
    form : {"exact", "denoising"}
    weighting : {"likelihood", "unit"}
        A target (``rtol``/``atol``) applies to the returned value: :math:`L_{EM}` (exact form) or
        :math:`L_{den}` (denoising form).

    Returns
    -------
    Estimate
    """
    model, data, s0, s1 = _prepare(e, data, process, s0, s1, score, prediction, time_input)
    if form not in ("exact", "denoising"):
        raise ValueError(f"form must be 'exact' or 'denoising' (got {form!r})")
    if weighting not in ("likelihood", "unit"):
        raise ValueError(f"weighting must be 'likelihood' or 'unit' (got {weighting!r})")
    unit = _loss_unit(weighting)
    if base is not None and unit != NAT:
        raise ValueError("base converts nats only; the unit-weighted loss int v E|e - e*|^2 ds is in units of "
                         "forward time (not information): use weighting='likelihood' for nats or bits")
    prec, n_samples, n_times = level_precision_options(rtol, atol, max_model_calls, max_samples, call_cost,
                                                       (_LEM,) if form == "exact" else (_DEN,), scheme, n_samples,
                                                       n_times, levels_per_stratum=LEVELS_PER_STRATUM)
    kw = dict(weighting=weighting, n_samples=n_samples, n_times=n_times, scheme=scheme, time_map=time_map,
              seed=seed, executor=executor, chunk_size=chunk_size, precision=prec)
    if form == "exact":
        run = _run(model, data, process, s0, s1, exact=True, denoising=False, **kw)
        _warn_if_unmet(run, "entropy_matching_loss")
        return _in_base(_estimate(run, _unit(_LEM)).with_unit(unit), base)
    if weighting == "likelihood" and s0 == 0.0:
        raise ValueError("form='denoising' with weighting='likelihood' needs s0 > 0: the e-independent "
                         "constant K diverges like (D/2) log(1/s0); pass e.g. s0=1e-5 or weighting='unit'")
    exact = has_exact_score(data)
    run = _run(model, data, process, s0, s1, exact=exact, denoising=True, **kw)
    _warn_if_unmet(run, "entropy_matching_loss")
    den = _estimate(run, _unit(_DEN)).with_unit(unit)
    extra = {"form": "denoising", "weighting": weighting, "constant": None, "exact_equivalent": None}
    if exact:
        const = denoising_constant(data, process, s0, s1, weighting=weighting, _from_run=run)
        extra["constant"] = _in_base(const, base)
        if const.method == "monte-carlo-same-samples":
            equiv = _estimate(run, _unit(_DEN) - _unit(_CONST)).with_unit(unit)
        else:
            equiv = Estimate(den.value - const.value, math.hypot(den.stderr, const.stderr), den.method,
                             den.error_bound + const.error_bound, den.n_samples, unit,
                             scale=abs(den.value) + abs(const.value))
        extra["exact_equivalent"] = _in_base(equiv, base)
    den = _in_base(den, base)
    return Estimate(den.value, den.stderr, den.method, den.error_bound, den.n_samples, den.unit,
                    {**den.extra, **extra}, den.scale)


def denoising_constant(data, process, s0, s1=None, *, weighting="likelihood", _from_run=None, **mc) -> Estimate:
    r"""The e-independent constant :math:`K = L_{den} - L_{EM}`.

    .. math:: K = \int_{s_0}^{s_1} \lambda(s)\Big[\frac{D_{dim}}{v(s)} - \mathbb E_{p_s}\|\nabla\log p_s\|^2\Big]ds
              = \int \lambda(s)\,\mathbb E\|\nabla\log p_s(y) - \nabla_y\log p(y\mid x_0)\|^2 ds .

    Gaussian and Dirac data: :math:`\mathbb E\|\nabla\log p_s\|^2 = \operatorname{tr}\Sigma_s^{-1}`
    (closed form; derivations/neural_gaussian.py), integrated by adaptive quadrature
    (``method="quadrature"``, ``error_bound`` from the integrator).  Other data with an exact
    score: Monte Carlo (options ``**mc`` as for :func:`entropy_matching_loss`).  In nats for the
    likelihood weighting, in units of forward time (``unit="time"``) for the unit weighting.
    """
    check_process(process)
    s0, s1 = _interval(data, process, s0, s1)
    if weighting not in ("likelihood", "unit"):
        raise ValueError(f"weighting must be 'likelihood' or 'unit' (got {weighting!r})")
    if weighting == "likelihood" and s0 == 0.0:
        raise ValueError("the likelihood-weighted constant diverges like (D/2) log(1/s0); need s0 > 0")
    unit = _loss_unit(weighting)
    if isinstance(data, (Gaussian, Dirac)):
        return _gaussian_denoising_constant(data, process, s0, s1, weighting).with_unit(unit)
    if not has_exact_score(data):
        raise ValueError("the denoising constant needs the exact marginal score (data with .diffuse)")
    if _from_run is not None and _from_run.denoising and _from_run.exact:
        est = _estimate(_from_run, _unit(_CONST))
        return Estimate(est.value, est.stderr, "monte-carlo-same-samples", est.error_bound, est.n_samples, unit)
    opts = dict(n_samples=2 ** 15, n_times=32, scheme="stratified", time_map="auto", seed=0, executor=None,
                chunk_size=8192)
    opts.update(mc)
    zero = _Model(_zero_e, None, process)
    run = _run(zero, data, process, s0, s1, exact=True, denoising=True, weighting=weighting, **opts)
    est = _estimate(run, _unit(_CONST))
    return Estimate(est.value, est.stderr, "monte-carlo", est.error_bound, est.n_samples, unit)



def _gaussian_denoising_constant(data, process, s0, s1, weighting):
    from scipy import integrate
    _, lam = data.spectrum()
    tmap = _TimeMap("auto", s0, s1, process)

    def integrand(u):
        s, jac = tmap(np.array([u]))
        s = float(s[0])
        mu2 = float(process.mean_coeff_sq(s))
        v = float(process.marginal_var(s))
        weight = float(process.diffusion(s)) if weighting == "likelihood" else v
        # D/v - sum 1/(mu^2 lam + v) = sum mu^2 lam / (v (mu^2 lam + v)), no cancellation
        inner = float(np.sum(mu2 * lam / (v * (mu2 * lam + v))))
        return weight * inner * float(jac[0])

    val, err = integrate.quad(integrand, 0.0, 1.0, limit=200, epsabs=1e-13, epsrel=1e-11)
    return Estimate(val, 0.0, "quadrature", abs(err))


# --------------------------------------------------------------------------- decomposition
@dataclass
class Decomposition:
    r"""S_tot, S_NN, C, L_EM (likelihood weighting) on one set of samples, with identities and bounds.

    Attributes
    ----------
    s_tot : Estimate
        Ground truth :math:`S_{tot}(s_0, s_1)` from :func:`nent_ref.total_entropy`.
    s_tot_mc : Estimate
        :math:`\int D\,\mathbb E\|e^*\|^2` on the same samples (independent check of ``s_tot``).
    s_nn, cross, l_em : Estimate
        :math:`S_{NN}`, :math:`C`, :math:`L_{EM}`.
    residual : Estimate
        :math:`L_{EM} - (S_{tot} + S_{NN} - 2C)` (zero in expectation).
    bound_margin : Estimate
        :math:`L_{EM} - (\sqrt{S_{tot}} - \sqrt{S_{NN}})^2` (non-negative in expectation).
    projection_residual : Estimate
        :math:`S_{tot} - S_{NN} - L_{EM} = 2(C - S_{NN})`; zero when e is the L2 projection of
        e* onto a linear class (e.g. the best linear model), not in general.
    kl_s1_eq : Estimate or None
        :math:`\mathrm{KL}(p_{s_1}\|p_{eq})` (None without an equilibrium).
    likelihood_bound : Estimate or None
        :math:`\mathrm{KL}(p_{s_1}\|p_{eq}) + L_{EM}`, an upper bound on
        :math:`\mathrm{KL}(p_{s_0}\|p^{model}_{s_0})`.
    denoising_loss, denoising_constant, denoising_gap : Estimate
        :math:`L_{den}`, :math:`K` and :math:`L_{den} - K - L_{EM}` (zero in expectation), with the
        weighting named in ``extra["weighting"]`` (likelihood if ``s0 > 0``, in nats; else unit,
        ``unit="time"``).
    """

    s0: float
    s1: float
    s_tot: Estimate
    s_tot_mc: Estimate
    s_nn: Estimate
    cross: Estimate
    l_em: Estimate
    residual: Estimate
    bound_margin: Estimate
    projection_residual: Estimate
    kl_s1_eq: Estimate | None
    likelihood_bound: Estimate | None
    denoising_gap: Estimate | None = None
    denoising_loss: Estimate | None = None
    denoising_constant: Estimate | None = None


def decompose(e=None, data=None, process=None, s0=0.0, s1=None, *, score=None, n_samples=None,
              n_times=None, scheme="stratified", time_map="auto", seed=0, executor=None, chunk_size=8192,
              s_tot=None, rtol=None, atol=None, max_model_calls=None, max_samples=None,
              call_cost=None, prediction=None, time_input=None) -> Decomposition:
    r"""Estimate S_NN, C and L_EM on one set of samples and check them against the exact S_tot.

    Checks :math:`L_{EM} = S_{tot} + S_{NN} - 2C` and :math:`(\sqrt{S_{tot}}-\sqrt{S_{NN}})^2 \le L_{EM}`
    (docs/theory.md section 3) with error bars from the joint covariance of the estimates (delta method),
    and returns the likelihood bound :math:`\mathrm{KL}(p_{s_1}\|p_{eq}) + L_{EM}`.  Likelihood
    weighting throughout.  ``s_tot`` may be passed (an Estimate) to skip recomputing the ground truth.

    Also returns the denoising loss :math:`L_{den}`, its constant :math:`K` (Monte Carlo on the same
    samples) and ``denoising_gap`` :math:`= L_{den} - K - L_{EM}` (zero in expectation), with the
    likelihood weighting when ``s0 > 0`` and the unit weighting otherwise (``extra["weighting"]``;
    the gap then compares with the unit-weighted L_EM of a separate run on the same seed).

    A target (``rtol``/``atol``) applies to both :math:`S_{NN}` and :math:`L_{EM}` (the design
    meets the sum of their normalised variances, so each is met); the unit-weighted run of
    ``s0 = 0`` targets its own :math:`L_{EM}`.

    Parameters
    ----------""" + _COMMON_DOC + _TARGET_DOC
    model, data, s0, s1 = _prepare(e, data, process, s0, s1, score, prediction, time_input)
    if s_tot is not None:
        check_s_tot(s_tot)
    weighting = "likelihood" if s0 > 0 else "unit"
    prec, n_samples, n_times = level_precision_options(rtol, atol, max_model_calls, max_samples, call_cost,
                                                       (_NN, _LEM), scheme, n_samples, n_times,
                                                       levels_per_stratum=LEVELS_PER_STRATUM)
    run = _run(model, data, process, s0, s1, exact=True, denoising=True, weighting="likelihood",
               n_samples=n_samples, n_times=n_times, scheme=scheme, time_map=time_map, seed=seed,
               executor=executor, chunk_size=chunk_size, precision=prec)
    _warn_if_unmet(run, "decompose")
    if s_tot is None:
        s_tot = total_entropy(data, process, s0, s1)
    st, st_var = float(s_tot.value), float(s_tot.stderr) ** 2
    st_bound = float(s_tot.error_bound)
    s_nn = _estimate(run, _unit(_NN))
    cross = _estimate(run, _unit(_CROSS))
    l_em = _estimate(run, _unit(_LEM))
    s_tot_mc = _estimate(run, _unit(_TOT))
    mag_st, mag_nn, mag_lem = abs(st), abs(s_nn.value), abs(l_em.value)
    residual = _estimate(run, _unit(_LEM) - _unit(_NN) + 2 * _unit(_CROSS),
                         value=l_em.value - (st + s_nn.value - 2 * cross.value), extra_var=st_var,
                         extra_bound=st_bound, scale=mag_lem + mag_st + mag_nn + 2 * abs(cross.value))
    rt, rn = math.sqrt(max(st, 0.0)), math.sqrt(max(s_nn.value, 0.0))
    g = _unit(_LEM) + ((rt - rn) / rn if rn > 0 else 0.0) * _unit(_NN)
    dst = -(rt - rn) / rt if rt > 0 else 0.0
    margin = _estimate(run, g, value=l_em.value - (rt - rn) ** 2, extra_var=dst * dst * st_var,
                       extra_bound=abs(dst) * st_bound, scale=mag_lem + mag_st + mag_nn)
    proj = _estimate(run, -_unit(_NN) - _unit(_LEM), value=st - s_nn.value - l_em.value,
                     extra_var=st_var, extra_bound=st_bound, scale=mag_st + mag_nn + mag_lem)
    kl = lik = None
    if getattr(process, "has_equilibrium", False):
        kl = kl_to_equilibrium(data, process, s1)
        lik = Estimate(kl.value + l_em.value, math.hypot(kl.stderr, l_em.stderr), l_em.method,
                       kl.error_bound + l_em.error_bound, l_em.n_samples,
                       scale=abs(kl.value) + abs(l_em.value))
    if weighting == "likelihood":
        run_d = run
    else:
        # unit weighting needs its own run (the likelihood-weighted K diverges at s0 = 0)
        prec_d = None if prec is None else prec.for_quantities((_LEM,))
        run_d = _run(model, data, process, s0, s1, exact=True, denoising=True, weighting="unit",
                     n_samples=n_samples, n_times=n_times, scheme=scheme, time_map=time_map, seed=seed,
                     executor=executor, chunk_size=chunk_size, precision=prec_d)
        _warn_if_unmet(run_d, "decompose (unit-weighted denoising run)")
    tag = {"weighting": weighting}

    def tagged(est):
        return Estimate(est.value, est.stderr, est.method, est.error_bound, est.n_samples, _loss_unit(weighting),
                        extra=dict(tag), scale=est.scale)

    gap = tagged(_estimate(run_d, _unit(_DEN) - _unit(_CONST) - _unit(_LEM)))
    den = tagged(_estimate(run_d, _unit(_DEN)))
    const = tagged(_estimate(run_d, _unit(_CONST)))
    return Decomposition(s0, s1, s_tot, s_tot_mc, s_nn, cross, l_em, residual, margin, proj, kl, lik, gap,
                         den, const)


# --------------------------------------------------------------------------- per-time curves
@dataclass
class RateCurves:
    r"""Per-time rates on a grid of forward times ``s`` (nats per unit time).

    ``sdot_nn`` :math:`= D\,\mathbb E\|e\|^2`, ``sdot_tot`` :math:`= D\,\mathbb E\|e^*\|^2` (closed form
    or the data type's own method via :func:`nent_ref.entropy_production_rate`; Monte Carlo on the
    same samples in ``sdot_tot_mc``), ``lem_rate`` :math:`= D\,\mathbb E\|e - e^*\|^2`, ``cross_rate``
    :math:`= D\,\mathbb E[e\cdot e^*]`.  Each is an array-valued Estimate (None where unavailable).
    """

    s: np.ndarray
    sdot_nn: Estimate
    sdot_tot: Estimate | None
    sdot_tot_mc: Estimate | None
    lem_rate: Estimate | None
    cross_rate: Estimate | None

    def to_dict(self) -> dict:
        out = {"s": self.s.tolist()}
        for name in ("sdot_nn", "sdot_tot", "sdot_tot_mc", "lem_rate", "cross_rate"):
            est = getattr(self, name)
            out[name] = None if est is None else {"value": np.asarray(est.value).tolist(),
                                                  "stderr": np.asarray(est.stderr).tolist(),
                                                  "method": est.method, "unit": est.unit}
        return out


def rate_curves(e=None, data=None, process=None, s=None, *, score=None, n_samples=4096, seed=0,
                executor=None, chunk_size=8192) -> RateCurves:
    r"""Per-time curves :math:`\dot S_{NN}(s)` and :math:`\dot S_{tot}(s)` (with :math:`L_{EM}` and C rates).

    Parameters
    ----------
    s : array_like
        Grid of forward times in ``[0, T]`` (``[0, T)`` for SL/cosine VP; ``> 0`` for Dirac and
        empirical data).
    n_samples : int
        Samples per grid point (independent SeedSequence child per point).

    Returns
    -------
    RateCurves
    """
    check_process(process)
    data = _as_data(data)
    model = _Model(e, score, process)
    if s is None:
        raise ValueError("a grid of times s is required")
    grid = np.atleast_1d(check_times(real_array("s", s, finite=False), process, "s",
                                     allow_T=not process.singular_at_T)).astype(float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"s must be a non-empty 1-D grid (got shape {grid.shape})")
    if needs_cutoff(data) and np.any(grid <= 0):
        raise ValueError(f"s must be > 0 for {type(data).__name__} data (the rate diverges like D/(2s))")
    check_atom_cutoff(data, process, float(grid.min()), "min(s)")
    n = count("n_samples", n_samples, 2)
    chunk = count("chunk_size", chunk_size, 1)
    exact = has_exact_score(data)
    root = seed_sequence(seed, "seed")
    levels = [(float(t), 1.0, i) for i, t in enumerate(grid)]
    res = _execute(model, data, process, levels, root.spawn(len(levels)), n, (exact, False, "likelihood"),
                   chunk, executor)
    vals = np.array([r[0] for r in res])
    ses = np.sqrt(np.maximum(np.array([np.diag(r[1]) for r in res]), 0.0))
    method = "monte-carlo"

    def est(k):
        return Estimate(vals[:, k], ses[:, k], method, 0.0, n, NAT_PER_TIME)

    sdot_tot = None
    if exact:
        try:
            sdot_tot = entropy_production_rate(data, process, grid).with_unit(NAT_PER_TIME)
        except TypeError:  # data type without a registered rate
            sdot_tot = est(_TOT)
    return RateCurves(grid, est(_NN), sdot_tot, est(_TOT) if exact else None, est(_LEM) if exact else None,
                      est(_CROSS) if exact else None)
