"""The allocation machinery of accuracy on demand (nent_ref.quantities.precision): targets, block
schedules, sequential runs to a target, Neyman and two-level allocation, effective degrees of freedom.

The estimators that use it are tested in test_mixture.py / test_empirical.py (Monte Carlo S_tot, KL,
rates) and test_neural.py (S_NN, L_EM); this module tests the machinery on synthetic problems whose
answers are known in closed form."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from nent_ref.quantities import precision as pr
from nent_ref.quantities.precision import (BlockSchedule, PrecisionWarning, Target, effective_dof,
                                           neyman_allocation, run_to_target, run_to_targets, target_from,
                                           two_level_allocation)


# --------------------------------------------------------------------------- targets
def test_target_tolerance_is_the_looser_of_rtol_and_atol():
    t = Target(1e-3, 1e-4)
    assert t.tolerance(10.0) == pytest.approx(1e-2)          # rtol |v| dominates
    assert t.tolerance(-10.0) == pytest.approx(1e-2)         # |value|
    assert t.tolerance(0.01) == 1e-4                          # atol floor
    np.testing.assert_allclose(t.tolerance([0.0, 1.0, 1e3]), [1e-4, 1e-3, 1.0])
    assert t.met(10.0, 0.01) and not t.met(10.0, 0.0101)
    assert Target(rtol=0.1).tolerance(0.0) == 0.0 and Target(rtol=0.1).met(0.0, 0.0)
    assert Target(atol=0.5).tolerance(1e6) == 0.5
    assert t.to_dict() == {"rtol": 1e-3, "atol": 1e-4}


@pytest.mark.parametrize("kw, match", [({"rtol": -1e-3}, "rtol must be >= 0"), ({"atol": -1.0}, "atol must be >= 0"),
                                       ({"rtol": 0.0, "atol": 0.0}, "rtol > 0 or atol > 0"),
                                       ({"rtol": float("nan")}, "rtol must be finite"),
                                       ({"rtol": "1e-3"}, "rtol must be a real number"),
                                       ({"atol": True}, "atol must be a real number"),
                                       ({"rtol": 1e-3 + 0j}, "rtol must be a real number")])
def test_bad_targets_raise_value_error(kw, match):
    with pytest.raises(ValueError, match=match):
        Target(**kw)


def test_target_from_options_and_defaults():
    assert target_from(None, None) is None
    assert target_from(None, None, 1e-3, 1e-4) == Target(1e-3, 1e-4)
    assert target_from(1e-2, None, 1e-3, 1e-4) == Target(1e-2, 0.0)     # only rtol: purely relative
    assert target_from(None, 0.5, 1e-3, 1e-4) == Target(0.0, 0.5)
    assert target_from(1e-2, 0.5) == Target(1e-2, 0.5)


def test_planned_size():
    assert pr.planned_size(1000, 0.1, 0.2) == 1000                       # already met
    assert pr.planned_size(1000, 0.2, 0.1) == pytest.approx(pr.SAFETY * 4000)
    assert pr.planned_size(1000, 0.2, 0.1, safety=1.0) == pytest.approx(4000)
    assert pr.planned_size(10, 1.0, 0.0) == math.inf


# --------------------------------------------------------------------------- block schedule
def test_block_schedule_doubles_up_to_the_block():
    sch = BlockSchedule(1024, 16384)
    assert sch.sizes(0, 8) == [1024, 1024, 2048, 4096, 8192, 16384, 16384, 16384]
    assert sch.cumulative(6) == 32768
    assert sch.blocks_for(1) == 1 and sch.blocks_for(1024) == 1 and sch.blocks_for(1025) == 2
    assert sch.blocks_for(5000) == 4                                    # 8192 >= 5000
    assert sch.blocks_for(10 ** 6, cap=40000) == 6                      # 32768 <= cap < 49152
    assert sch.blocks_for(10, cap=5) == 1                               # always at least one block
    with pytest.raises(ValueError):
        BlockSchedule(0, 10)


# --------------------------------------------------------------------------- sequential runs
class NormalStream:
    """Block b of run r: iid N(mean, sd^2) samples from SeedSequence([seed, r, b]); pooled means."""

    def __init__(self, mean, sd, schedule, seed=0, runs=1):
        self.mean, self.sd, self.schedule, self.seed = mean, sd, schedule, seed
        self.blocks = [[] for _ in range(runs)]
        self.calls = []

    def evaluate_run(self, r, n_blocks):
        while len(self.blocks[r]) < n_blocks:
            b = len(self.blocks[r])
            rng = np.random.default_rng([self.seed, r, b])
            self.blocks[r].append(rng.normal(self.mean, self.sd, self.schedule.size(b)))
        x = np.concatenate(self.blocks[r][:n_blocks])
        return np.array([x.mean()]), np.array([x.std(ddof=1) / math.sqrt(x.size)]), x.size

    def evaluate(self, requests):
        self.calls.append(dict(requests))
        return {r: self.evaluate_run(r, b) for r, b in requests.items()}


def test_run_to_target_meets_the_target_deterministically():
    sch = BlockSchedule(1024, 16384)
    target = Target(rtol=2e-3)
    out = []
    for _ in range(2):
        stream = NormalStream(5.0, 1.0, sch)
        res = run_to_target(lambda b: stream.evaluate_run(0, b), sch, target, pilot=1024, max_samples=10 ** 7)
        out.append(res)
    a, b = out
    assert a.met and a.stderr[0] <= target.tolerance(a.value[0]) == a.tolerance
    assert a.value[0] == b.value[0] and a.n == b.n and a.n_blocks == b.n_blocks       # deterministic
    # the planned size: sd / (rtol * mean) = 100 -> about 1e4 samples (x SAFETY, rounded to blocks)
    assert 10_000 <= a.n <= 2 * pr.SAFETY * 10_000 + 16384
    assert a.n == sch.cumulative(a.n_blocks)
    assert a.stages <= 3


def test_run_to_target_stops_at_the_cap_without_claiming_the_target():
    sch = BlockSchedule(1024, 16384)
    stream = NormalStream(1.0, 1.0, sch)
    res = run_to_target(lambda b: stream.evaluate_run(0, b), sch, Target(rtol=1e-4), pilot=1024, max_samples=40_000)
    assert not res.met
    assert res.n <= 40_000 and res.n == 32768                          # the whole blocks within the cap
    assert res.stderr[0] > res.tolerance


def test_run_to_targets_in_lockstep_with_offsets():
    sch = BlockSchedule(1024, 16384)
    stream = NormalStream(0.0, 1.0, sch, runs=3)
    # every value is ~ 0 (sd 1); the offsets set the tolerances 1e-3 |0 - offset| = 1e-2, 3e-3, 0.1
    res = run_to_targets(stream.evaluate, sch, Target(rtol=1e-3), n_runs=3, pilot=1024, max_samples=2 ** 20,
                         offsets=[-10.0, -3.0, -100.0])
    assert all(r.met for r in res)
    assert res[2].n == 1024                           # se ~ 0.03 <= 0.1: the pilot
    assert 10_000 <= res[0].n <= 50_000               # (1 / 1e-2)^2 x SAFETY, in whole blocks
    assert 110_000 <= res[1].n <= 250_000             # (1 / 3e-3)^2 x SAFETY
    # every stage evaluates all runs that are still going, together
    assert stream.calls[0] == {0: 1, 1: 1, 2: 1}
    assert all(2 not in c for c in stream.calls[1:])


def test_sequential_stderr_is_calibrated_over_seeds():
    """z = (mean - truth) / stderr of runs stopped by the rule, at the smallest pilot, on a skewed
    (exponential) stream, for a target near the pilot's precision (the case where stopping on an
    estimated variance could bias the stderr most): spread within the 5-sigma band of 400 seeds."""
    sch = BlockSchedule(1024, 16384)
    z = []
    for seed in range(400):
        rng_runs = []

        def evaluate(b, seed=seed):
            while len(rng_runs) < b:
                k = len(rng_runs)
                rng_runs.append(np.random.default_rng([seed, k]).exponential(1.0, sch.size(k)))
            x = np.concatenate(rng_runs[:b])
            return np.array([x.mean()]), np.array([x.std(ddof=1) / math.sqrt(x.size)]), x.size

        res = run_to_target(evaluate, sch, Target(rtol=1.0 / math.sqrt(1024)), pilot=1024, max_samples=10 ** 6)
        assert res.met
        z.append((res.value[0] - 1.0) / res.stderr[0])
    z = np.array(z)
    K = z.size
    assert abs(z.std() - 1.0) < 5.0 / math.sqrt(2 * K), z.std()
    assert abs(z.mean()) < 5.0 / math.sqrt(K), z.mean()
    assert np.mean(np.abs(z) > 3) <= 0.02


# --------------------------------------------------------------------------- allocation
def test_neyman_allocation_is_the_constrained_optimum():
    h = np.array([0.2, 0.3, 0.5])
    sd = np.array([1.0, 3.0, 0.5])
    c = np.array([1.0, 4.0, 2.0])
    n = neyman_allocation(h, sd, c, variance=1e-3)
    np.testing.assert_allclose(n / n.sum(), (h * sd / np.sqrt(c)) / np.sum(h * sd / np.sqrt(c)))
    assert np.sum(h ** 2 * sd ** 2 / n) == pytest.approx(1e-3)
    # no other allocation with the same variance is cheaper: random perturbations on the constraint
    rng = np.random.default_rng(0)
    cost = np.sum(c * n)
    for _ in range(200):
        m = n * np.exp(0.3 * rng.standard_normal(3))
        m *= np.sum(h ** 2 * sd ** 2 / m) / 1e-3                        # rescale onto the constraint
        assert np.sum(c * m) >= cost * (1 - 1e-12)
    nb = neyman_allocation(h, sd, c, budget=5000.0)
    assert np.sum(c * nb) == pytest.approx(5000.0)
    np.testing.assert_allclose(nb / nb.sum(), n / n.sum())
    assert neyman_allocation(h, [0.0, 1.0, 0.0], variance=1.0)[0] == 0.0


@pytest.mark.parametrize("kw", [dict(variance=None, budget=None), dict(variance=1.0, budget=1.0),
                                dict(variance=-1.0), dict(budget=0.0)])
def test_neyman_allocation_rejects_bad_arguments(kw):
    with pytest.raises(ValueError):
        neyman_allocation([0.5, 0.5], [1.0, 1.0], **kw)
    with pytest.raises(ValueError):
        neyman_allocation([0.5, -0.5], [1.0, 1.0], variance=1.0)


def _two_level_brute(h, tau, sigma, c, V, levels=2, n_min=1):
    """Cheapest (m, n) per stratum on a grid, by a Lagrange scan (for small problems)."""
    best = math.inf
    m = np.arange(1, 300)[:, None]
    n = np.unique(np.geomspace(n_min, 1e5, 200).round())[None, :]
    for lam in np.geomspace(1e2, 1e12, 400):
        tot_c = tot_v = 0.0
        for hk, tk, sk in zip(h, tau, sigma):
            var = hk * hk / (levels * m) * (tk * tk / m ** 2 + sk * sk / n)
            cost = levels * m * (c + n)
            i = np.unravel_index(np.argmin(cost + lam * var), var.shape)
            tot_c += cost[i]
            tot_v += var[i]
        if tot_v <= V:
            best = min(best, tot_c)
    return best


def test_two_level_allocation_reaches_the_variance_near_the_optimum():
    h = np.full(4, 0.25)
    tau = np.array([0.1, 2.0, 5.0, 0.5])
    sigma = np.array([1.0, 3.0, 2.0, 0.2])
    for V in (1e-2, 1e-4):
        plan = two_level_allocation(h, tau, sigma, call_cost=100.0, variance=V)
        assert plan.variance <= V
        assert plan.calls == int(np.sum(2 * plan.m)) and plan.samples == int(np.sum(2 * plan.m * plan.n))
        # the recomputed variance of the plan
        var = np.sum(h ** 2 / (2 * plan.m) * (tau ** 2 / plan.m ** 2 + sigma ** 2 / plan.n))
        assert var == pytest.approx(plan.variance)
        brute = _two_level_brute(h, tau, sigma, 100.0, V)
        assert math.isfinite(brute) and plan.cost <= 1.1 * brute, (plan.cost, brute)
    # more time variance -> more sub-strata; more sample variance -> more samples per level
    plan = two_level_allocation(h, tau, sigma, call_cost=100.0, variance=1e-4)
    assert plan.m[2] > plan.m[0] and plan.n[1] > plan.n[3]


def test_two_level_allocation_respects_a_budget():
    h = np.full(4, 0.25)
    tau, sigma = np.array([0.1, 2.0, 5.0, 0.5]), np.array([1.0, 3.0, 2.0, 0.2])
    free = two_level_allocation(h, tau, sigma, call_cost=100.0, variance=1e-6)
    capped = two_level_allocation(h, tau, sigma, call_cost=100.0, variance=1e-6, max_cost=free.cost / 10)
    assert capped.cost <= free.cost / 10 and capped.variance > 1e-6
    only_budget = two_level_allocation(h, tau, sigma, call_cost=100.0, max_cost=1e5)
    assert only_budget.cost <= 1e5
    with pytest.raises(ValueError):
        two_level_allocation(h, tau, sigma, call_cost=1.0)
    with pytest.raises(ValueError):
        two_level_allocation(h, [np.nan] * 4, sigma, call_cost=1.0, variance=1.0)


def test_effective_dof():
    rng = np.random.default_rng(1)
    # m balanced groups of one degree of freedom each: the estimate is about m
    sig2 = 2.0
    ests = [effective_dof(sig2 * rng.chisquare(1, 200), 1) for _ in range(200)]
    assert 170 < np.median(ests) < 230
    # one dominant group: about its own degrees of freedom (+2, the plug-in's small-sample offset)
    assert effective_dof([1.0, 1e-9, 1e-9], [3, 3, 3]) == pytest.approx(5.0, rel=1e-6)
    assert effective_dof([0.0, 0.0], 1) == math.inf


def test_precision_extra_and_warning():
    t = Target(1e-2, 0.0)
    ex = pr.precision_extra(t, 2.0, 0.01, True, model_calls=5)
    assert ex["target"] == {"rtol": 1e-2, "atol": 0.0} and ex["tolerance"] == pytest.approx(0.02)
    assert ex["relative_stderr"] == pytest.approx(0.005) and ex["target_met"] is True and ex["model_calls"] == 5
    none = pr.precision_extra(None, 0.0, 0.0, None)
    assert none["target"] is None and none["target_met"] is None and none["relative_stderr"] == 0.0
    with pytest.warns(PrecisionWarning, match="not reached before the cap"):
        pr.warn_unmet("thing", t, 2.0, 0.5, "max_samples = 10", stacklevel=2)
    assert issubclass(PrecisionWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pr.precision_extra(t, [0.0, 1.0], [0.1, 0.0], False)          # no divide-by-zero warning


# --------------------------------------------------------------------------- the neural planner (issue 22)
def test_level_precision_options_size_the_pilot_and_check_the_caps():
    prec, n, t = pr.level_precision_options(1e-2, None, None, None, None, (0,), "stratified", None, None,
                                            levels_per_stratum=4)
    assert (n, t) == (pr.PILOT_N_SAMPLES, pr.PILOT_N_TIMES) and prec.quantities == (0,)
    assert prec.max_model_calls == pr.DEFAULT_MAX_MODEL_CALLS and prec.call_cost == pr.DEFAULT_CALL_COST
    assert pr.level_precision_options(None, None, None, None, None, (0,), "stratified", None, None,
                                      levels_per_stratum=4) == (None, 2 ** 15, 32)
    with pytest.raises(ValueError, match="max_model_calls = 10"):
        pr.level_precision_options(1e-2, None, 10, None, None, (0,), "stratified", None, None, levels_per_stratum=4)
    with pytest.raises(ValueError, match="samples per pilot level"):
        pr.level_precision_options(1e-2, None, None, None, None, (0,), "stratified", 64, 8, levels_per_stratum=4)
    assert prec.for_quantities((3,)).quantities == (3,) and prec.for_quantities((3,)).target == prec.target


def test_plan_refinement_meets_the_normalised_variance_and_dof_or_gives_up():
    # synthetic pilot: 8 strata x 4 levels, integrand F(u) = 1 + u with per-sample variance 4 (numbers drawn
    # with a fixed seed); the plan's predicted variance of sum Q/tol is at most 1/SAFETY with >= 60 dof
    rng = np.random.default_rng(3)
    n_times, reps, n_per = 8, 4, 64
    groups = np.repeat(np.arange(n_times), reps)
    u = (groups + rng.random(groups.size)) / n_times
    h = 1.0 / n_times
    means = h * (1.0 + u + rng.standard_normal(u.size) * 2.0 / math.sqrt(n_per))
    mean_vars = np.full(u.size, h * h * 4.0 / n_per)
    prec, _, _ = pr.level_precision_options(1e-3, None, None, None, None, (0,), "stratified", None, None,
                                            levels_per_stratum=reps)
    value = np.array([means.sum() / reps])
    plan = pr.plan_refinement(means[:, None], mean_vars[:, None], groups, n_per, n_times, value, prec, 256,
                              10 ** 9, 10 ** 12)
    tol = 1e-3 * value[0]
    assert plan.variance <= (1.0 / pr.SAFETY) * (1 + 1e-9)           # in units of tol^2
    # Welch-Satterthwaite with one dof per sub-stratum is at most 3 per sub-stratum: enough were cut
    assert 3 * int(plan.m.sum()) >= pr.MIN_EFFECTIVE_DOF and np.all(plan.n >= pr.REFINED_MIN_SAMPLES)
    assert pr.plan_refinement(means[:, None], mean_vars[:, None], groups, n_per, n_times, value, prec, 256,
                              1, 1) is None
    big = pr.LevelPrecision(prec.target, (0,), 10 ** 9, 10 ** 12, prec.call_cost)
    # stderr twice the tolerance after 2 levels per sub-stratum: SAFETY * 2 * 4 levels in all are asked for
    assert pr.levels_to_add(plan, [2 * tol], [tol], False, 100.0, 2, 256, 0, 0, big) == math.ceil(pr.SAFETY * 8) - 2
    # the caps leave no room: stop
    assert pr.levels_to_add(plan, [2 * tol], [tol], False, 100.0, 2, 256, big.max_model_calls, 0, big) < 1
