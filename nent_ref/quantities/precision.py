r"""Monte Carlo to a requested precision: targets, sequential sample sizes, optimal allocation.

One mechanism serves every Monte Carlo estimator of the package that can stop when the
precision asked for is reached (:mod:`.mixture_entropy` for ``S_tot``, KL and rates of mixtures
and empirical data; :mod:`.neural` for ``S_NN``, ``L_EM`` and the denoising loss).

Targets
-------
A :class:`Target` holds ``rtol`` (relative to ``|value|``) and ``atol`` (absolute, in the unit of
the quantity).  It is met when

.. math:: \mathrm{stderr} \le \max(\mathrm{rtol}\,|\hat v|,\ \mathrm{atol}),

i.e. the *looser* of the two counts, as in QUADPACK's ``epsrel``/``epsabs`` (scipy's ``quad``):
``rtol`` sets the precision of values of ordinary size and ``atol`` a floor for values near zero,
whose relative precision would otherwise be unreachable (the KL to equilibrium at ``s = T`` has a
per-sample coefficient of variation of about 50).  Pass ``atol=0`` for a purely relative target and
``rtol=0`` for a purely absolute one (not both).

Sequential sampling (independent, identically distributed samples)
------------------------------------------------------------------
:func:`run_to_target` draws a pilot, estimates the standard deviation, and extends the run to

.. math:: n_{next} = \Big\lceil \mathrm{SAFETY}\; n\, (\mathrm{stderr}/\mathrm{tol})^2 \Big\rceil

samples (``SAFETY = 1.2``), re-estimating after each stage, until the target is met or the cap
``max_samples`` is reached.  Samples come in the blocks of a :class:`BlockSchedule` (a pilot
block, then doubling block sizes up to a fixed block), each with its own random stream, so the
result is a deterministic function of the seed and of the number of blocks used: it does not
depend on the executor, the number of tasks, or how the blocks were grouped into stages.

Stratified estimators
---------------------
:func:`neyman_allocation` gives the optimal (Neyman) allocation of samples over strata of widths
:math:`h_k`, per-sample standard deviations :math:`\sigma_k` and per-sample costs :math:`c_k`,

.. math:: n_k \propto h_k \sigma_k / \sqrt{c_k},

scaled to a variance target :math:`\sum_k h_k^2\sigma_k^2/n_k = V^*` or to a budget
:math:`\sum_k c_k n_k = B` (Cochran, *Sampling Techniques*, 3rd ed., section 5.5).
:func:`two_level_allocation` is the version for estimators whose samples sit on random *levels*
(e.g. time levels, each one model call): it chooses per stratum the number of sub-strata and the
number of samples per level that minimise the cost for a variance target.  The planner of
:mod:`.neural` (section "level designs" below: :func:`level_precision_options`, :func:`plan_refinement`,
:func:`levels_to_add`) sizes the pilot, designs the refinement with it from the pilot's per-level
statistics, and grows it in rounds until the target and :data:`MIN_EFFECTIVE_DOF` are reached.

Honesty of the reported standard error
--------------------------------------
Stopping when an *estimated* standard error falls below the tolerance biases the reported
standard error slightly low (a run stops more readily when its variance estimate happens to be
small).  The bias is second order in the relative error of the variance estimate, which is at
most a few per cent at the pilot sizes the estimators allow (at least 1024 samples for the
mixture estimators, at least :data:`MIN_PILOT_TIMES` strata for the
neural ones); the safety factor makes the first planned stage usually sufficient, so runs seldom
look more than twice.  ``tests/test_precision.py`` measures the spread of
``z = (estimate - truth) / stderr`` over many seeds at the smallest pilots.  Where the cap stops
a run first, the estimate keeps its honest standard error, ``target_met`` is ``False`` and a
:class:`PrecisionWarning` is issued: a precision that was not reached is never claimed.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..core.checks import count, finite_float
from ..core.progress import progress_bar

__all__ = ["Target", "PrecisionWarning", "BlockSchedule", "SequentialResult", "SAFETY", "target_from",
           "planned_size", "run_to_target", "run_to_targets", "neyman_allocation", "two_level_allocation", "TwoLevelPlan",
           "precision_extra", "warn_unmet", "effective_dof", "MIN_EFFECTIVE_DOF",
           # the planner of level-based (neural) estimators
           "LevelPrecision", "level_calls", "level_precision_options", "plan_refinement", "normalised_dof",
           "levels_to_add", "PILOT_N_TIMES", "PILOT_N_SAMPLES", "MIN_PILOT_TIMES", "MIN_PILOT_SAMPLES_PER_LEVEL",
           "DEFAULT_CALL_COST", "DEFAULT_MAX_MODEL_CALLS", "DEFAULT_MAX_EVALUATIONS", "REFINED_LEVELS",
           "REFINED_MIN_SAMPLES"]

#: Factor by which a planned sample size exceeds the size that the current variance estimate says
#: would just meet the target (fewer extra stages, hence fewer looks and less stopping bias).
SAFETY = 1.2


#: Fewest effective degrees of freedom (:func:`effective_dof`) of the variance estimate of a stratified
#: run that stops at a target: below it the z-scores have visibly heavy (t) tails, and a run that
#: stops because its standard error happened to come out small would claim too much.
MIN_EFFECTIVE_DOF = 60


class PrecisionWarning(UserWarning):
    """A Monte Carlo estimate stopped at its cap before reaching the requested precision
    (its standard error is honest; ``extra["target_met"]`` is False)."""


@dataclass(frozen=True)
class Target:
    """A requested precision: met when ``stderr <= max(rtol * |value|, atol)``.

    Parameters
    ----------
    rtol : float
        Relative standard error asked for (``>= 0``).
    atol : float
        Absolute standard error asked for (``>= 0``), in the unit of the quantity.
    """

    rtol: float = 0.0
    atol: float = 0.0

    def __post_init__(self):
        r = finite_float("rtol", self.rtol)
        a = finite_float("atol", self.atol)
        if r < 0:
            raise ValueError(f"rtol must be >= 0 (got {r})")
        if a < 0:
            raise ValueError(f"atol must be >= 0 (got {a})")
        if r == 0 and a == 0:
            raise ValueError("a precision target needs rtol > 0 or atol > 0 (both are 0)")
        object.__setattr__(self, "rtol", r)
        object.__setattr__(self, "atol", a)

    def tolerance(self, value):
        """The standard error asked for at ``value``: ``max(rtol |value|, atol)`` (elementwise)."""
        out = np.maximum(self.rtol * np.abs(np.asarray(value, dtype=float)), self.atol)
        return float(out) if np.ndim(out) == 0 else out

    def met(self, value, stderr) -> bool:
        """True when every ``stderr <= tolerance(value)``."""
        return bool(np.all(np.asarray(stderr, dtype=float) <= self.tolerance(value)))

    def to_dict(self) -> dict:
        return {"rtol": self.rtol, "atol": self.atol}


def target_from(rtol, atol, default_rtol=None, default_atol=0.0):
    """The :class:`Target` of the options ``rtol``/``atol`` (None = not given), or None.

    When neither is given, the defaults apply (``default_rtol=None``: no target).  When only one is
    given, the other is 0 (so ``rtol=1e-2`` alone is a purely relative target).
    """
    if rtol is None and atol is None:
        if default_rtol is None:
            return None
        return Target(default_rtol, default_atol)
    return Target(0.0 if rtol is None else rtol, 0.0 if atol is None else atol)


def planned_size(n, stderr, tol, safety=SAFETY) -> float:
    """Samples needed for ``stderr`` to reach ``tol`` when it falls like ``1/sqrt(n)``: ``safety n (se/tol)^2``.

    Returns ``n`` when the target is already met and ``inf`` when ``tol = 0 < stderr``.
    """
    if stderr <= tol:
        return float(n)
    if tol <= 0:
        return math.inf
    return safety * n * (stderr / tol) ** 2


class BlockSchedule:
    """Block sizes of a sequential run: a pilot block, then doubling sizes up to ``block``.

    Block ``b`` has size ``first`` for ``b = 0`` and ``min(block, first 2^(b-1))`` after, so the
    cumulative sizes are ``first, 2 first, 4 first, ...`` until blocks reach ``block``.  Each block
    has its own random stream; a run is the first ``B`` blocks of this fixed sequence.
    """

    def __init__(self, first: int, block: int):
        if first < 1 or block < 1:
            raise ValueError("block sizes must be positive")
        self.first, self.block = int(first), int(block)

    def size(self, b: int) -> int:
        if b == 0:
            return self.first
        return min(self.block, self.first * 2 ** min(b - 1, 62))

    def sizes(self, start: int, stop: int) -> list[int]:
        return [self.size(b) for b in range(start, stop)]

    def cumulative(self, n_blocks: int) -> int:
        return sum(self.sizes(0, n_blocks))

    def blocks_for(self, n, cap=None) -> int:
        """Smallest number of blocks holding at least ``n`` samples; with ``cap``, at most as many
        blocks as hold no more than ``cap`` samples (at least one block)."""
        b, total = 0, 0
        while total < n:
            nxt = total + self.size(b)
            if cap is not None and nxt > cap and b > 0:
                break
            total = nxt
            b += 1
        return max(b, 1)


@dataclass
class SequentialResult:
    """Outcome of :func:`run_to_target`."""

    value: np.ndarray        # all columns of the last evaluation
    stderr: np.ndarray
    n: int                   # samples used
    n_blocks: int
    stages: int
    tolerance: float
    met: bool


def run_to_targets(evaluate, schedule: BlockSchedule, target: Target, *, n_runs: int, pilot: int,
                   max_samples: int, column: int = 0, offsets=None, safety: float = SAFETY) -> list:
    """Sequential Monte Carlo to ``target`` for ``n_runs`` independent runs advanced in lockstep.

    Every run starts with the blocks holding ``pilot`` samples; after each stage a run that has not
    met its target asks for the blocks holding :func:`planned_size` samples (at most
    ``max_samples``), and all requests of a stage are evaluated together (one batch for an
    executor).  A run stops when ``stderr <= target.tolerance(value - offset)`` on ``column``, or
    when the cap allows no further block (then ``met`` is False).

    Parameters
    ----------
    evaluate : callable
        ``evaluate({run: n_blocks}) -> {run: (values, stderrs, n)}``: the estimate of each listed
        run from the first ``n_blocks`` blocks of ``schedule`` (the caller keeps the blocks already
        drawn and draws only the new ones).
    schedule : BlockSchedule
    target : Target
    n_runs : int
    pilot : int
        Samples in the first stage of every run.
    max_samples : int
        Hard cap on the samples of each run.
    column : int
        The column of ``values`` the target applies to.
    offsets : sequence of float, optional
        Per run, a known constant subtracted from ``values[column]`` before the relative tolerance is
        taken (for a quantity ``value - offset`` whose offset is exact).

    Returns
    -------
    list of SequentialResult, one per run.
    """
    offsets = [0.0] * n_runs if offsets is None else [float(o) for o in offsets]
    first = schedule.blocks_for(pilot, cap=max_samples)
    pending = {r: first for r in range(n_runs)}
    stages = [0] * n_runs
    out = [None] * n_runs
    done = [0] * n_runs                            # samples drawn per run (for the progress bar)
    # a bar (stderr, terminals only, after 2 s) counting samples; its total grows as stages are planned
    bar = progress_bar(total=n_runs * schedule.cumulative(first), desc="Monte Carlo", unit="sample", delay=2.0)
    try:
        while pending:
            _stage_total(bar, done, pending, schedule)
            results = evaluate(dict(pending))
            for r, n_blocks in pending.items():
                done[r] = schedule.cumulative(n_blocks)
            bar.update(sum(done) - bar.n)
            pending = _next_stage(results, pending, stages, out, offsets, column, target, schedule, max_samples,
                                  safety)
    finally:
        bar.close()
    return out


def _stage_total(bar, done, pending, schedule):
    """Grow the bar's total to the samples of every run once this stage's blocks are drawn."""
    total = sum(schedule.cumulative(pending[r]) if r in pending else d for r, d in enumerate(done))
    if bar.total != total:
        bar.total = total
        if hasattr(bar, "refresh"):
            bar.refresh()


def _next_stage(results, pending, stages, out, offsets, column, target, schedule, max_samples, safety):
    """One stage of :func:`run_to_targets`: finish the runs that met their target (or the cap) and return
    the block counts the others ask for next."""
    nxt = {}
    for r, n_blocks in pending.items():
        values, stderrs, n = results[r]
        stages[r] += 1
        v, se = float(values[column]) - offsets[r], float(stderrs[column])
        tol = target.tolerance(v)
        if se <= tol:
            out[r] = SequentialResult(values, stderrs, n, n_blocks, stages[r], tol, True)
            continue
        need = planned_size(n, se, tol, safety)
        b = schedule.blocks_for(min(need, max_samples), cap=max_samples)
        if b <= n_blocks:                      # the cap allows no further block
            out[r] = SequentialResult(values, stderrs, n, n_blocks, stages[r], tol, False)
        else:
            nxt[r] = b
    return nxt


def run_to_target(evaluate, schedule: BlockSchedule, target: Target, *, pilot: int, max_samples: int,
                  column: int = 0, safety: float = SAFETY) -> SequentialResult:
    """:func:`run_to_targets` for a single run; ``evaluate(n_blocks) -> (values, stderrs, n)``."""
    return run_to_targets(lambda req: {0: evaluate(req[0])}, schedule, target, n_runs=1, pilot=pilot,
                          max_samples=max_samples, column=column, safety=safety)[0]


# --------------------------------------------------------------------------- stratified allocation
def neyman_allocation(widths, sigmas, costs=None, *, variance=None, budget=None) -> np.ndarray:
    r"""Neyman (cost-optimal) allocation of samples over strata: :math:`n_k \propto h_k\sigma_k/\sqrt{c_k}`.

    Minimises :math:`\sum_k c_k n_k` at fixed variance :math:`\sum_k h_k^2\sigma_k^2/n_k` (or the
    variance at fixed cost).  Exactly one of ``variance`` (the target variance :math:`V^*`) and
    ``budget`` (the total cost :math:`B`) is given; the result is the continuous optimum

    .. math:: n_k = \frac{h_k\sigma_k}{\sqrt{c_k}}\,A,\qquad
              A = \frac{\sum_j h_j\sigma_j\sqrt{c_j}}{V^*}\ \text{or}\ \frac{B}{\sum_j h_j\sigma_j\sqrt{c_j}},

    which the caller rounds (up, for a variance target).  Strata with :math:`\sigma_k = 0` get 0.

    Parameters
    ----------
    widths : array_like
        Stratum weights :math:`h_k` (probabilities or interval lengths), ``>= 0``.
    sigmas : array_like
        Per-sample standard deviations :math:`\sigma_k` within the strata, ``>= 0``.
    costs : array_like, optional
        Cost of one sample in each stratum (default 1).
    """
    h = np.asarray(widths, dtype=float)
    sd = np.broadcast_to(np.asarray(sigmas, dtype=float), h.shape)
    c = np.ones_like(h) if costs is None else np.broadcast_to(np.asarray(costs, dtype=float), h.shape)
    if (variance is None) == (budget is None):
        raise ValueError("give exactly one of variance= and budget=")
    if np.any(h < 0) or np.any(sd < 0) or np.any(c <= 0) or not np.all(np.isfinite(h * sd * c)):
        raise ValueError("widths and sigmas must be finite and >= 0, costs finite and > 0")
    total = float(np.sum(h * sd * np.sqrt(c)))
    if variance is not None:
        if not variance > 0:
            raise ValueError(f"variance must be > 0 (got {variance})")
        scale = total / variance
    else:
        if not budget > 0:
            raise ValueError(f"budget must be > 0 (got {budget})")
        scale = budget / total if total > 0 else 0.0
    return h * sd / np.sqrt(c) * scale


@dataclass
class TwoLevelPlan:
    """Per stratum: ``m`` sub-strata with ``levels`` levels each, ``n`` samples per level; totals."""

    m: np.ndarray
    n: np.ndarray
    levels: int
    variance: float
    cost: float
    calls: int
    samples: int


def _two_level_at(lam, h, tau, sigma, call_cost, levels, n_min, n_max, m_max):
    """Per-stratum (m, n, variance, cost) minimising cost + lam * variance for the multiplier ``lam``."""
    # at fixed m the optimal samples per level are n = sqrt(lam) h sigma / (r m); with it the
    # objective is r m c + 2 sqrt(lam) h sigma + lam h^2 tau^2 / (r m^3), stationary at
    # m^4 = 3 lam h^2 tau^2 / (r^2 c); integer candidates around it (and m = 1) are compared exactly
    base = (3.0 * lam * h * h * tau * tau / (levels * levels * call_cost)) ** 0.25
    cands = np.stack([np.ones_like(base), np.floor(base), np.ceil(base), np.floor(base) - 1,
                      np.ceil(base) + 1], axis=1)
    cands = np.clip(cands, 1, m_max)
    n = np.clip(np.ceil(math.sqrt(lam) * h[:, None] * sigma[:, None] / (levels * cands)), n_min, n_max)
    L = levels * cands
    var = (h[:, None] ** 2 / L) * (tau[:, None] ** 2 / cands ** 2 + sigma[:, None] ** 2 / n)
    cost = L * (call_cost + n)
    best = np.argmin(cost + lam * var, axis=1)
    idx = np.arange(h.size)
    return cands[idx, best], n[idx, best], var[idx, best], cost[idx, best]


def two_level_allocation(widths, tau, sigma, *, call_cost, variance=None, max_cost=None, levels=2, n_min=1,
                         n_max=2 ** 20, m_max=2 ** 16) -> TwoLevelPlan:
    r"""Optimal design of a stratified two-level estimator (random levels, samples at each level).

    Stratum ``k`` (width :math:`h_k`) is cut into :math:`m_k` equal sub-strata with ``levels`` (r)
    random levels each (e.g. time levels drawn uniformly in the sub-stratum, one model call each)
    and :math:`n_k` samples per level.  With :math:`\tau_k^2` the variance of the level mean over
    the stratum (the "time" variance) and :math:`\sigma_k^2` the per-sample variance at a level,
    the stratum contributes

    .. math:: V_k = \frac{h_k^2}{L_k}\Big(\frac{\tau_k^2}{m_k^2} + \frac{\sigma_k^2}{n_k}\Big),\qquad
              L_k = r\, m_k,

    (a sub-stratum of width :math:`h_k/m_k` has the level variance :math:`\tau_k^2/m_k^2` when the
    level mean is linear across the stratum; smoother is smaller) at the cost :math:`L_k(c + n_k)`,
    ``c = call_cost`` being the cost of a level (a model call) in units of the cost of one sample.
    For a multiplier :math:`\lambda` each stratum minimises :math:`\mathrm{cost}_k + \lambda V_k`:
    at fixed :math:`m` the optimum is the Neyman-type :math:`n = \sqrt\lambda\, h\sigma/L`
    (samples where the per-sample spread is, less where levels are expensive), and
    :math:`m^4 = 3\lambda h^2\tau^2/(r^2 c)` (integer candidates around it are compared exactly).
    :math:`\lambda` is bisected to the smallest value with :math:`\sum_k V_k \le V^*`
    (``variance``); when that design costs more than ``max_cost``, to the largest value within
    ``max_cost`` instead (then the predicted variance exceeds :math:`V^*`).

    Returns a :class:`TwoLevelPlan` (``m``, ``n`` per stratum; the predicted variance, cost, number
    of levels (``calls``) and samples).
    """
    h = np.asarray(widths, dtype=float)
    tau = np.broadcast_to(np.asarray(tau, dtype=float), h.shape)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), h.shape)
    if variance is None and max_cost is None:
        raise ValueError("give variance= and/or max_cost=")
    if not (np.all(np.isfinite(tau)) and np.all(np.isfinite(sigma)) and np.all(np.isfinite(h))):
        raise ValueError("widths, tau and sigma must be finite")

    def at(lam):
        return _two_level_at(lam, h, tau, sigma, float(call_cost), levels, n_min, n_max, m_max)

    LAM_MIN, LAM_MAX = 1e-30, 1e30

    def bracket(good):
        """(lo, hi) in log lambda with good(at(hi)) and not good(at(lo)); good is monotone in lambda.
        lo is None when good already holds at LAM_MIN, hi is None when it fails at LAM_MAX."""
        lo, hi = LAM_MIN, LAM_MAX
        if good(at(lo)):
            return None, lo
        if not good(at(hi)):
            return hi, None
        while hi > lo * (1 + 1e-9):
            mid = math.sqrt(lo * hi)
            if good(at(mid)):
                hi = mid
            else:
                lo = mid
        return lo, hi

    lam = LAM_MAX
    if variance is not None:                 # the smallest lambda that reaches the variance
        _, hi = bracket(lambda r: float(r[2].sum()) <= variance)
        lam = LAM_MAX if hi is None else hi
    if max_cost is not None and float(at(lam)[3].sum()) > max_cost:
        lo, _ = bracket(lambda r: float(r[3].sum()) > max_cost)   # the largest lambda within the budget
        lam = LAM_MIN if lo is None else lo
    m, n, var, cost = at(lam)
    L = levels * m
    return TwoLevelPlan(m.astype(int), n.astype(int), levels, float(var.sum()), float(cost.sum()),
                        int(L.sum()), int(np.sum(L * n)))


def effective_dof(variances, dofs) -> float:
    r"""Effective degrees of freedom of a sum of independent variance estimates (Welch-Satterthwaite).

    For :math:`\hat V = \sum_g v_g` with :math:`v_g` estimated on :math:`\nu_g` degrees of freedom,
    :math:`\nu = (\sum_g \sigma_g^2)^2 / \sum_g \sigma_g^4/\nu_g`.  The plug-in uses the unbiased
    estimate :math:`v_g^2\,\nu_g/(\nu_g + 2)` of :math:`\sigma_g^4` (a chi-square variance estimate has
    :math:`E[v^2] = \sigma^4 (1 + 2/\nu)`), so that many one-degree-of-freedom terms count fully:

    .. math:: \hat\nu = \Big(\sum_g v_g\Big)^2 \Big/ \sum_g \frac{v_g^2}{\nu_g + 2}.

    A z-score whose standard error rests on :math:`\nu` degrees of freedom is t-distributed: its
    spread is :math:`\sqrt{\nu/(\nu - 2)}` (1.035 at 30) and its 3-sigma tail 0.54 % at 30
    (0.27 % for a normal).  Returns ``inf`` when every variance is 0.
    """
    v = np.asarray(variances, dtype=float)
    nu = np.broadcast_to(np.asarray(dofs, dtype=float), v.shape)
    den = float(np.sum(v * v / (nu + 2.0)))
    num = float(np.sum(v)) ** 2
    return math.inf if den == 0 else num / den


# --------------------------------------------------------------------------- reporting
def precision_extra(target, value, stderr, met, **more) -> dict:
    """The precision entries of an Estimate's ``extra``: the target, the tolerance it implies at the
    value, the achieved relative standard error, and whether the target was met."""
    value = np.asarray(value, dtype=float)
    stderr = np.asarray(stderr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(value != 0, stderr / np.abs(value), np.where(stderr == 0, 0.0, np.inf))
    out = {"target": None if target is None else target.to_dict(),
           "tolerance": None if target is None else target.tolerance(value),
           "relative_stderr": float(rel) if rel.ndim == 0 else rel,
           "target_met": None if target is None else met}
    out.update(more)
    return out


def warn_unmet(what, target, value, stderr, cap_text, stacklevel=3):
    """Issue a :class:`PrecisionWarning` for a target stopped by its cap, quoting the worst value."""
    value = np.ravel(np.asarray(value, dtype=float))
    stderr = np.ravel(np.broadcast_to(np.asarray(stderr, dtype=float), value.shape))
    tol = np.ravel(np.broadcast_to(target.tolerance(value), value.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(tol > 0, stderr / np.where(tol > 0, tol, 1.0), np.where(stderr > 0, np.inf, 0.0))
    i = int(np.argmax(ratio))
    n_bad = int(np.sum(stderr > tol))
    where = f" ({n_bad} of {value.size} values)" if value.size > 1 else ""
    warnings.warn(f"{what}: the requested precision (stderr <= max(rtol |value|, atol) with rtol = "
                  f"{target.rtol:g}, atol = {target.atol:g}) was not reached before the cap ({cap_text})"
                  f"{where}: value {value[i]:.6g} has stderr {stderr[i]:.3g} > {tol[i]:.3g} (reported as is, "
                  "never claimed); raise the cap or loosen the target", PrecisionWarning, stacklevel=stacklevel)


# --------------------------------------------------------------------------- level designs (the neural planner)
# The planner of the targeted neural estimators (:mod:`.neural`): how big the pilot is, the caps, and from
# the pilot's per-level statistics the refined two-level design and how many time levels each further round
# adds.  :mod:`.neural` draws the levels and evaluates the model; this section only decides the sizes.

#: Pilot of a targeted run when ``n_times`` / ``n_samples`` are not given: 8 strata with four
#: levels each and 64 samples per level (32 model calls, 2048 evaluations).
PILOT_N_TIMES = 8
#: Pilot sample count of a targeted run when ``n_samples`` is not given.
PILOT_N_SAMPLES = 2 ** 11
#: Smallest pilot of a targeted run: strata, and samples per level.
MIN_PILOT_TIMES = 8
#: Smallest pilot samples per time level of a targeted run (the pilot estimates the per-sample spread).
MIN_PILOT_SAMPLES_PER_LEVEL = 8
#: Default cost of one model call in units of the cost of evaluating one sample within a call (the
#: fixed per-call overhead of a small network or a numpy model, plus the library's work per level).
DEFAULT_CALL_COST = 256
#: Default caps of a targeted run: model calls and evaluated samples (pilot included).
DEFAULT_MAX_MODEL_CALLS = 2 ** 14
#: Default cap on the samples (model evaluations) of a targeted run, pilot included.
DEFAULT_MAX_EVALUATIONS = 2 ** 22
#: Floor of a tolerance used as a normaliser (its square stays a normal double; a zero tolerance with a
#: nonzero variance then plans to the caps, and with zero variance is met).
_TOL_FLOOR = 1e-150
#: Time levels per sub-stratum of a refined design (the fewest that give a variance estimate).
REFINED_LEVELS = 2
#: Fewest samples per time level of a refined design: level means of a few samples of a skewed
#: integrand (|e|^2 is chi-square-like) make the group variances correlate with the group means.
REFINED_MIN_SAMPLES = 16
#: Largest number of samples per level of a refined design.
_REFINED_MAX_SAMPLES = 2 ** 20


@dataclass
class LevelPrecision:
    """What a targeted level-based run asks for: the target, the quantities (column indices of the
    estimator's result vector) it applies to, the caps (pilot included) and the cost of a model call in
    units of one sample."""

    target: Target
    quantities: tuple
    max_model_calls: int
    max_evaluations: int
    call_cost: float

    def for_quantities(self, quantities) -> "LevelPrecision":
        """The same target, caps and cost, applied to other quantities."""
        return LevelPrecision(self.target, tuple(quantities), self.max_model_calls, self.max_evaluations,
                              self.call_cost)


def level_calls(n_per_level, chunk) -> int:
    """Model calls of levels with the given sample counts (each level is cut into calls of ``chunk`` samples)."""
    return int(np.sum(-(-np.asarray(n_per_level, dtype=np.int64) // chunk)))


def level_precision_options(rtol, atol, max_model_calls, max_samples, call_cost, quantities, scheme, n_samples,
                            n_times, *, levels_per_stratum):
    """``(LevelPrecision or None, pilot n_samples, pilot n_times)`` from the public options of a neural estimator.

    Without a target (``rtol``/``atol`` both None) the caps must not be given and the fixed design's
    defaults apply (``n_samples = 2**15``, ``n_times = 32``).  With one, ``n_times`` and ``n_samples``
    describe the pilot (defaults :data:`PILOT_N_TIMES`, :data:`PILOT_N_SAMPLES`; at least
    :data:`MIN_PILOT_TIMES` strata of ``levels_per_stratum`` levels with
    :data:`MIN_PILOT_SAMPLES_PER_LEVEL` samples each), and the caps must hold the pilot.
    """
    target = target_from(rtol, atol)
    if target is None:
        for name, val in (("max_model_calls", max_model_calls), ("max_samples", max_samples),
                          ("call_cost", call_cost)):
            if val is not None:
                raise ValueError(f"{name} applies to a run with a precision target (rtol= or atol=); "
                                 "pass a target or drop it")
        return None, (2 ** 15 if n_samples is None else n_samples), (32 if n_times is None else n_times)
    if scheme != "stratified":
        raise ValueError("a precision target (rtol/atol) needs scheme='stratified' (Gauss-Legendre has a "
                         "deterministic quadrature error that more samples do not reduce)")
    n_times = PILOT_N_TIMES if n_times is None else count("n_times", n_times, 2)
    n_samples = PILOT_N_SAMPLES if n_samples is None else count("n_samples", n_samples, 2)
    if n_times < MIN_PILOT_TIMES:
        raise ValueError(f"n_times = {n_times} is below the smallest pilot of a targeted run ({MIN_PILOT_TIMES} "
                         "strata); with rtol/atol, n_times and n_samples describe the pilot")
    per_level = n_samples // (levels_per_stratum * n_times)
    if per_level < MIN_PILOT_SAMPLES_PER_LEVEL:
        raise ValueError(f"n_samples = {n_samples} gives {per_level} samples per pilot level; a targeted run needs "
                         f"at least {MIN_PILOT_SAMPLES_PER_LEVEL} (n_samples >= "
                         f"{MIN_PILOT_SAMPLES_PER_LEVEL * levels_per_stratum * n_times})")
    calls = DEFAULT_MAX_MODEL_CALLS if max_model_calls is None else count("max_model_calls", max_model_calls, 1)
    evals = DEFAULT_MAX_EVALUATIONS if max_samples is None else count("max_samples", max_samples, 1)
    cost = DEFAULT_CALL_COST if call_cost is None else finite_float("call_cost", call_cost)
    if cost < 0:
        raise ValueError(f"call_cost must be >= 0 (got {cost})")
    pilot_calls = levels_per_stratum * n_times
    if calls < pilot_calls or evals < per_level * pilot_calls:
        raise ValueError(f"the caps (max_model_calls = {calls}, max_samples = {evals}) are below the pilot "
                         f"({pilot_calls} calls, {per_level * pilot_calls} samples)")
    return LevelPrecision(target, tuple(quantities), calls, evals, max(cost, 1e-9)), n_samples, n_times


def plan_refinement(level_means, level_mean_vars, groups, n_per, n_times, pilot_value, prec: LevelPrecision,
                    chunk, calls_left, evals_left):
    r"""The refined design of a targeted level-based run from its pilot: a :class:`TwoLevelPlan` over the
    pilot strata, or None when no design fits the calls and samples left.

    Parameters
    ----------
    level_means, level_mean_vars : array_like, shape (L, K)
        Per pilot level: the weighted mean of each quantity (stratum width times the integrand) and the
        variance of that mean.
    groups : array_like, shape (L,)
        The pilot stratum of each level (``0 .. n_times - 1``, equal widths ``1/n_times``).
    n_per : int
        Samples per pilot level.
    pilot_value : array_like, shape (K,)
        The pilot's estimate (sets the tolerance of a relative target).

    Per stratum the time variance :math:`\tau_k^2` of the level means is the larger of the
    within-stratum spread (less its sample noise) and :math:`(F' h)^2/12` from the one-sided
    differences of neighbouring stratum means (a central difference would vanish at a peak); the
    per-sample variance :math:`\sigma_k^2` is the mean over the stratum's levels.  Both are summed
    over the targeted quantities, each normalised by its tolerance squared, and passed to
    :func:`two_level_allocation` at variance ``1/SAFETY``; the sub-strata are then split until the
    predicted effective degrees of freedom reach :data:`MIN_EFFECTIVE_DOF`, and the budget is shrunk
    (by 0.8, at most 60 times) until the design fits ``calls_left`` and ``evals_left``.
    """
    groups = np.asarray(groups)
    h = 1.0 / n_times
    w = h
    Y = np.asarray(level_means, dtype=float) / w                         # values in integrand units
    S2 = float(n_per) * np.asarray(level_mean_vars, dtype=float) / (w * w)  # per-sample variances
    tols = np.array([prec.target.tolerance(pilot_value[q]) for q in prec.quantities])
    tols = np.maximum(tols, _TOL_FLOOR)
    tau2 = np.zeros(n_times)
    sig2 = np.zeros(n_times)
    means = np.array([Y[groups == k].mean(axis=0) for k in range(n_times)])          # (n_times, K)
    for qi, q in enumerate(prec.quantities):
        direct = np.array([max(np.var(Y[groups == k, q], ddof=1) - S2[groups == k, q].mean() / n_per, 0.0)
                           for k in range(n_times)])
        # (F' h)^2 / 12 from the one-sided differences of the stratum means (mean of the squares of the
        # left and right differences: a central difference would vanish at a peak of F)
        d2 = np.diff(means[:, q]) ** 2
        slope = np.empty(n_times)
        slope[1:-1] = 0.5 * (d2[:-1] + d2[1:])
        slope[0], slope[-1] = d2[0], d2[-1]
        slope = slope / 12.0
        tau2 += np.maximum(direct, slope) / tols[qi] ** 2
        sig2 += np.array([S2[groups == k, q].mean() for k in range(n_times)]) / tols[qi] ** 2
    kw = dict(call_cost=prec.call_cost, levels=REFINED_LEVELS, n_min=REFINED_MIN_SAMPLES,
              n_max=_REFINED_MAX_SAMPLES)
    plan = two_level_allocation(np.full(n_times, h), np.sqrt(tau2), np.sqrt(sig2), variance=1.0 / SAFETY, **kw)

    plan = _enough_substrata(plan, h, tau2, sig2, prec.call_cost)

    def fits(p):
        levels_n = np.repeat(p.n, REFINED_LEVELS * p.m)
        return level_calls(levels_n, chunk) <= calls_left and p.samples <= evals_left

    if not fits(plan):
        budget = plan.cost
        for _ in range(60):
            budget *= 0.8
            plan = _enough_substrata(two_level_allocation(np.full(n_times, h), np.sqrt(tau2), np.sqrt(sig2),
                                                          variance=1.0 / SAFETY, max_cost=budget, **kw),
                                     h, tau2, sig2, prec.call_cost)
            if fits(plan):
                break
        if not fits(plan):
            return None
    return plan


def _enough_substrata(plan, h, tau2, sig2, call_cost):
    """Split the sub-strata of the strata with the largest predicted variance per sub-stratum until the
    predicted effective degrees of freedom of the variance estimate (one per sub-stratum of two
    levels) reach MIN_EFFECTIVE_DOF: a loose target then still gets an honest standard error."""
    m = plan.m.astype(float).copy()
    n = plan.n.astype(float)

    def contributions(m):
        return (h * h / (REFINED_LEVELS * m)) * (tau2 / (m * m) + sig2 / n)            # V_k per stratum

    for _ in range(10_000):
        V = contributions(m)
        per_sub = V / m
        nu = effective_dof(np.repeat(per_sub, m.astype(int)), REFINED_LEVELS - 1)
        if nu >= MIN_EFFECTIVE_DOF or not np.any(V > 0):
            break
        k = int(np.argmax(per_sub))
        m[k] += max(1.0, math.floor(0.25 * m[k]))
    if np.array_equal(m, plan.m):
        return plan
    L = REFINED_LEVELS * m
    V = contributions(m)
    return TwoLevelPlan(m.astype(int), plan.n, plan.levels, float(V.sum()), float(np.sum(L * (call_cost + plan.n))),
                        int(L.sum()), int(np.sum(L * plan.n)))


def normalised_dof(group_vars, dofs, tols, quantities) -> float:
    """Effective degrees of freedom (:func:`effective_dof`) of the variance of ``sum_q Q_q / tol_q``, the
    planner's objective, from per-group variances of the mean ``(n_groups, K)`` and their degrees of freedom."""
    v = np.sum(np.asarray(group_vars)[:, quantities] / np.maximum(tols, _TOL_FLOOR) ** 2, axis=1)
    return effective_dof(v, dofs)


def levels_to_add(plan: TwoLevelPlan, stderr, tol, met, dof, per_group, chunk, calls, evals,
                  prec: LevelPrecision) -> int:
    """Time levels to add to every sub-stratum of ``plan`` in the next round (0 or less: stop).

    The variance falls like 1/levels and the degrees of freedom grow like ``levels - 1``: the round asks
    for ``SAFETY per_group (stderr/tol)^2`` levels per sub-stratum in all (while the target is unmet) and
    for enough to reach :data:`MIN_EFFECTIVE_DOF`, at least one, and at most what the caps leave
    (``calls``/``evals`` are the model calls and samples used so far, pilot included).
    """
    stderr, tol = np.asarray(stderr, dtype=float), np.asarray(tol, dtype=float)
    n_sub = int(plan.m.sum())
    ratio = float(np.max(np.where(tol > 0, (stderr / np.maximum(tol, 1e-300)) ** 2, np.inf)))
    want = math.ceil(SAFETY * per_group * min(ratio, 1e12)) - per_group if not met else 0
    if dof < MIN_EFFECTIVE_DOF:
        want = max(want, math.ceil(1 + (per_group - 1) * MIN_EFFECTIVE_DOF / max(dof, 1e-12)) - per_group)
    calls_per_level = level_calls(np.repeat(plan.n, plan.m), chunk) / n_sub      # per added level, averaged
    evals_per_level = float(np.sum(np.repeat(plan.n, plan.m))) / n_sub
    room = int(min((prec.max_model_calls - calls) / (calls_per_level * n_sub),
                   (prec.max_evaluations - evals) / (evals_per_level * n_sub)))
    return min(max(want, 1), room)
