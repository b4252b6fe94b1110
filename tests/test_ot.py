"""Tests of nent_ref.ot (cost |x - y|^2, values are W2^2)."""
import subprocess
import sys
from pathlib import Path

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import linear_sum_assignment

import nent_ref as nr
from nent_ref.quantities import _ot_kernels as K
from nent_ref import ot

ROOT = Path(__file__).resolve().parents[1]


def _rng(*key):
    return np.random.default_rng([2026, *key])


def _spd(rng, d, lo=0.2, hi=2.0):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    return (q * rng.uniform(lo, hi, d)) @ q.T


# ------------------------------------------------------------------ exact discrete OT

def test_planted_assignment_kernel():
    # cost matrix with zeros on a known permutation and >= 1 elsewhere: that permutation is the
    # unique optimum (cost 0); the dual certifies it.
    rng = _rng(1)
    n = 40
    perm = rng.permutation(n)
    C = 1.0 + rng.random((n, n))
    C[np.arange(n), perm] = 0.0
    col4row, u, v = K.lap_solve(C)
    assert np.array_equal(col4row, perm)
    assert np.min(C - u[:, None] - v[None, :]) >= -1e-12
    assert abs(u.sum() + v.sum()) <= 1e-12


def test_planted_permutation_points():
    # y = x[perm] + tiny jitter, points 1 apart on a line with jitter 1e-3: the optimal plan is the
    # permutation (monotone rearrangement), for both solvers.
    rng = _rng(2)
    n = 30
    x = np.arange(n, dtype=float)[:, None] * np.array([[1.0, 0.5]])
    perm = rng.permutation(n)
    y = x[perm] + 1e-3 * rng.standard_normal((n, 2))
    expected = np.zeros((n, n))
    expected[perm, np.arange(n)] = 1.0 / n
    val, plan = ot.w2_squared(x, y, return_plan=True)
    np.testing.assert_allclose(plan, expected, atol=1e-15)
    assert val == pytest.approx(np.mean(np.sum((x[perm] - y) ** 2, axis=1)), rel=1e-12)
    # network simplex through non-uniform-looking but uniform weights given as a different n
    a = np.full(n, 1.0 / n)
    res = ot.exact_ot(x, np.concatenate([y, y[:1]]), a, np.concatenate([a, [0.0]]))
    assert res.method == "network-simplex"
    np.testing.assert_allclose(res.plan[:, :n], expected, atol=1e-14)
    assert res.w2_squared == pytest.approx(val, rel=1e-12)


@pytest.mark.parametrize("weights", ["uniform", "random"])
def test_identical_clouds_zero_and_identity(weights):
    rng = _rng(3)
    n = 25
    x = rng.standard_normal((n, 3))
    a = None if weights == "uniform" else rng.dirichlet(np.ones(n))
    res = ot.exact_ot(x, x, a, a)
    assert res.w2_squared == 0.0
    w = np.full(n, 1.0 / n) if a is None else a
    np.testing.assert_allclose(res.plan, np.diag(w), atol=1e-15)


def test_exact_vs_linear_sum_assignment_and_sorted_1d():
    rng = _rng(4)
    for n, d in ((7, 2), (120, 2), (300, 5)):
        x = rng.standard_normal((n, d))
        y = rng.standard_normal((n, d)) + 0.3
        C = ((x[:, None] - y[None]) ** 2).sum(-1)
        r, c = linear_sum_assignment(C)
        ref = C[r, c].sum() / n          # scipy's exact assignment
        assert abs(ot.w2_squared(x, y) - ref) <= 1e-10
        # network simplex on the same problem (forced via explicit non-uniform path)
        a = np.full(n, 1.0 / n)
        ns = K.network_simplex(C, a, a, 1e-13, 10 ** 7)
        assert abs(np.sum(ns[2] * C[ns[0], ns[1]]) - ref) <= 1e-10
    # 1-D: sorted matching is optimal
    x = rng.standard_normal(500)
    y = rng.exponential(size=500)
    ref = np.mean((np.sort(x) - np.sort(y)) ** 2)
    assert abs(ot.w2_squared(x, y) - ref) <= 1e-10
    assert abs(ot.w2_squared_1d(x, y) - ref) <= 1e-10


def test_general_weights_vs_lp_and_1d():
    rng = _rng(5)
    n, m = 30, 45
    x = rng.standard_normal((n, 2))
    y = rng.standard_normal((m, 2))
    a = rng.dirichlet(np.ones(n))
    b = rng.dirichlet(np.ones(m))
    res = ot.exact_ot(x, y, a, b)
    ref = K.network_simplex_np(ot.cost_matrix(x, y), a, b)   # scipy HiGHS LP
    assert abs(res.w2_squared - ref) <= 1e-9
    np.testing.assert_allclose(res.plan.sum(1), a, atol=1e-14)
    np.testing.assert_allclose(res.plan.sum(0), b, atol=1e-14)
    assert np.all(res.plan >= 0)
    # 1-D weighted: network simplex = quantile formula
    x1 = rng.standard_normal(60)
    y1 = rng.standard_normal(80) * 2 + 1
    a1 = rng.dirichlet(np.ones(60))
    b1 = rng.dirichlet(np.ones(80))
    assert abs(ot.w2_squared(x1, y1, a1, b1) - ot.w2_squared_1d(x1, y1, a1, b1)) <= 1e-10


@pytest.mark.parametrize("weights", ["uniform", "random"])
def test_duality(weights):
    rng = _rng(6)
    n, m = (80, 80) if weights == "uniform" else (70, 90)
    x = rng.standard_normal((n, 2))
    y = rng.standard_normal((m, 2)) * 1.5
    a = None if weights == "uniform" else rng.dirichlet(np.ones(n))
    b = None if weights == "uniform" else rng.dirichlet(np.ones(m))
    res = ot.exact_ot(x, y, a, b)
    C = ot.cost_matrix(x, y)
    assert res.method == ("jonker-volgenant" if weights == "uniform" else "network-simplex")
    assert np.all(res.u[:, None] + res.v[None, :] <= C + 1e-9)       # dual feasibility
    assert abs(res.dual_objective - res.w2_squared) <= 1e-9          # strong duality
    support = res.plan > 0
    assert np.all(np.abs((C - res.u[:, None] - res.v[None, :])[support]) <= 1e-9)   # slackness


def test_zero_weights_duplicates_float32_renormalisation():
    rng = _rng(7)
    n = 40
    x = rng.standard_normal((n, 2))
    y = np.concatenate([x[:20], x[:20]])                 # duplicate points
    val = ot.w2_squared(x, y)
    C = ot.cost_matrix(x, y)
    r, c = linear_sum_assignment(C)
    assert abs(val - C[r, c].mean()) <= 1e-10
    # float32 input: same as solving the float64 conversion of the same numbers
    x32 = x.astype(np.float32)
    y32 = y.astype(np.float32)
    assert ot.w2_squared(x32, y32) == ot.w2_squared(x32.astype(np.float64), y32.astype(np.float64))
    # weights off by rounding are renormalised; the original sums are recorded
    a = np.full(n, 1.0 / n) * (1 + 3e-7)
    b = rng.dirichlet(np.ones(n)).astype(np.float32)
    res = ot.exact_ot(x, y, a, b)
    assert res.weight_sums[0] == pytest.approx(1 + 3e-7, rel=1e-12)
    ref = ot.exact_ot(x, y, a / a.sum(), b.astype(np.float64) / b.astype(np.float64).sum())
    assert abs(res.w2_squared - ref.w2_squared) <= 1e-12
    # zero weights: dropped, with feasible potentials restored
    a0 = np.full(n, 1.0 / (n - 5))
    a0[:5] = 0.0
    res0 = ot.exact_ot(x, y, a0, None)
    C = ot.cost_matrix(x, y)
    assert np.all(res0.u[:, None] + res0.v[None, :] <= C + 1e-9)
    assert np.all(res0.plan[:5] == 0.0)
    assert abs(res0.dual_objective - res0.w2_squared) <= 1e-9


def test_bad_input_raises():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="sum to one"):
        ot.w2_squared(x, x, np.full(4, 0.3))
    with pytest.raises(ValueError, match="negative"):
        ot.w2_squared(x, x, np.array([0.5, 0.5, 0.5, -0.5]))
    with pytest.raises(ValueError, match="NaN"):
        ot.w2_squared(np.full((4, 2), np.nan), x)
    with pytest.raises(ValueError, match="same dimension"):
        ot.w2_squared(x, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        ot.w2_squared(x, x, np.full(3, 1 / 3))
    with pytest.raises(ValueError, match="shape"):
        ot.w2_squared(np.zeros((2, 2, 2)), x)
    with pytest.raises(ValueError, match="one-dimensional"):
        ot.w2_squared_1d(x, x)
    with pytest.raises(ValueError, match="eps"):
        ot.sinkhorn(x, x, 0.0)
    with pytest.raises(ValueError, match="positive weights"):
        ot.sinkhorn(x, x, 0.1, a=np.array([0.0, 0.5, 0.25, 0.25]))
    with pytest.raises(ValueError, match="positive semi-definite"):
        ot.w2_squared_gaussian(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="symmetric"):
        ot.w2_squared_gaussian(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        ot.gaussian_monge_map(np.zeros(2), np.diag([1.0, 0.0]), np.zeros(2), np.eye(2))


def test_w2_squared_1d_weighted_exact():
    # two-point vs one-point: W2^2 = sum_i a_i (x_i - y)^2 exactly
    assert ot.w2_squared_1d([0.0, 2.0], [0.5], [0.25, 0.75]) == pytest.approx(0.25 * 0.25 + 0.75 * 2.25, rel=1e-15)
    # two uniform clouds of different sizes: hand-computed quantile overlap
    # F^-1 = 0 on (0,1/2], 1 on (1/2,1];  G^-1 = 0,1,2 on thirds  ->  (1/2-1/3)*1 + (1-2/3)*1 = 1/2
    assert ot.w2_squared_1d([0.0, 1.0], [0.0, 1.0, 2.0]) == pytest.approx(0.5, rel=1e-14)


# ------------------------------------------------------------------ Gaussians

def test_bures_commuting_closed_form_and_batching():
    rng = _rng(8)
    a = rng.uniform(0.1, 3.0, (5, 3))
    b = rng.uniform(0.1, 3.0, (5, 3))
    m1 = rng.standard_normal((5, 3))
    m2 = rng.standard_normal((5, 3))
    S1 = np.einsum("bi,ij->bij", a, np.eye(3))
    S2 = np.einsum("bi,ij->bij", b, np.eye(3))
    # closed form for commuting covariances (derivations/ot_gaussian.py, check 2)
    ref = np.sum((m1 - m2) ** 2, axis=1) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2, axis=1)
    np.testing.assert_allclose(ot.w2_squared_gaussian(m1, S1, m2, S2), ref, rtol=1e-12)
    # scalars (1-D)
    assert ot.w2_squared_gaussian(1.0, 4.0, -1.0, 1.0) == pytest.approx(4.0 + 1.0, rel=1e-14)
    # rational 2-D example of derivations/ot_gaussian.py (exact value 10699/240)
    R = np.array([[3, -4], [4, 3]]) / 5
    r1 = R @ np.diag([2.0, 3.0]) @ R.T
    N = np.array([[2.0, 0.5], [0.5, 1.0]])
    S2r = np.linalg.solve(r1, np.linalg.solve(r1, N @ N).T).T
    val = ot.w2_squared_gaussian([1, -2], r1 @ r1, [1 / 3, 4], S2r)
    assert val == pytest.approx(10699 / 240, rel=1e-12)


def test_monge_map():
    rng = _rng(9)
    for d in (1, 2, 4):
        S1, S2 = _spd(rng, d), _spd(rng, d)
        m1, m2 = rng.standard_normal(d), rng.standard_normal(d)
        A, shift = ot.gaussian_monge_map(m1, S1, m2, S2)
        np.testing.assert_allclose(A, A.T, atol=1e-14)
        assert np.all(np.linalg.eigvalsh(A) > 0)
        np.testing.assert_allclose(A @ S1 @ A, S2, atol=1e-11)
        np.testing.assert_allclose(A @ m1 + shift, m2, atol=1e-13)
        # its transport cost equals the Bures value
        cost = np.sum((m1 - m2) ** 2) + np.trace((np.eye(d) - A) @ S1 @ (np.eye(d) - A).T)
        assert cost == pytest.approx(ot.w2_squared_gaussian(m1, S1, m2, S2), rel=1e-10, abs=1e-13)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(1, 4))
def test_bures_symmetric_and_triangle(seed, d):
    rng = np.random.default_rng(seed)
    g = [(rng.standard_normal(d) * 2, _spd(rng, d, 0.01, 4.0)) for _ in range(3)]
    w = lambda p, q: ot.w2_squared_gaussian(p[0], p[1], q[0], q[1])   # noqa: E731
    assert w(g[0], g[1]) == pytest.approx(w(g[1], g[0]), rel=1e-9, abs=1e-12)
    assert w(g[0], g[0]) <= 1e-12
    # W2 (the square root) is a metric
    assert np.sqrt(w(g[0], g[2])) <= np.sqrt(w(g[0], g[1])) + np.sqrt(w(g[1], g[2])) + 1e-7


def test_bures_vs_sample_exact_ot():
    # Plug-in W2^2 between independent samples: unbiased to first order, with a positive bias of
    # the order of the self-transport terms E W2^2(p_n, p'_n) / 2 (measured here, not assumed).
    rng = _rng(10)
    m1, m2 = np.array([0.0, 0.0]), np.array([1.5, -0.5])
    S1 = np.array([[1.0, 0.3], [0.3, 0.5]])
    S2 = np.array([[0.6, -0.2], [-0.2, 1.2]])
    exact = ot.w2_squared_gaussian(m1, S1, m2, S2)
    n, reps = 600, 6
    vals, selfs = [], []
    for _ in range(reps):
        x = rng.multivariate_normal(m1, S1, n)
        y = rng.multivariate_normal(m2, S2, n)
        vals.append(ot.w2_squared(x, y))
        x2 = rng.multivariate_normal(m1, S1, n)
        y2 = rng.multivariate_normal(m2, S2, n)
        selfs.append(0.5 * (ot.w2_squared(x, x2) + ot.w2_squared(y, y2)))
    mean = np.mean(vals)
    se = np.std(vals, ddof=1) / np.sqrt(reps)
    bias_scale = np.mean(selfs)
    assert abs(mean - exact) <= 5 * se + bias_scale, (mean, exact, se, bias_scale)
    assert bias_scale < 0.2 * exact      # the check is meaningful: the bias scale is small


# ------------------------------------------------------------------ Sinkhorn

def test_sinkhorn_kernel_vs_numpy_twins():
    # fixed number of (column, row) updates from zero potentials: Numba = numpy log-domain = numpy
    # kernel-domain (eps large enough that exp(-C/eps) does not underflow)
    rng = _rng(11)
    x = rng.standard_normal((50, 2))
    y = rng.standard_normal((40, 2)) + 0.5
    a = rng.dirichlet(np.ones(50))
    b = rng.dirichlet(np.ones(40))
    C = K.sq_cost(x, y)
    np.testing.assert_allclose(C, K.sq_cost_np(x, y), rtol=1e-14, atol=1e-14)
    eps = 0.5
    f = np.zeros(50)
    g = np.zeros(40)
    K.sinkhorn_stabilized(C, a, b, f, g, eps, 0.0, 25, 10, False)
    f_log, g_log = K.sinkhorn_log_np(C, a, b, eps, 25)
    f_ker, g_ker = K.sinkhorn_kernel_np(C, a, b, eps, 25)
    np.testing.assert_allclose(f, f_log, atol=1e-10)
    np.testing.assert_allclose(g, g_log, atol=1e-10)
    np.testing.assert_allclose(f_ker, f_log, atol=1e-10)
    np.testing.assert_allclose(g_ker, g_log, atol=1e-10)
    # LSE kernels vs scipy
    from scipy.special import logsumexp
    np.testing.assert_allclose(K.lse_update_rows(C, g, np.log(b), eps),
                               -eps * logsumexp((g[None] - C) / eps + np.log(b)[None], axis=1), atol=1e-12)
    np.testing.assert_allclose(K.lse_update_cols(C, f, np.log(a), eps),
                               -eps * logsumexp((f[:, None] - C) / eps + np.log(a)[:, None], axis=0), atol=1e-12)


def test_sinkhorn_converged_matches_kernel_domain():
    rng = _rng(12)
    x = rng.random((60, 2))
    y = rng.random((70, 2))
    res = ot.sinkhorn(x, y, 0.05, tol=1e-12, return_plan=True)
    assert res.converged
    C = K.sq_cost(x, y)
    a, b = np.full(60, 1 / 60), np.full(70, 1 / 70)
    f_ker, g_ker = K.sinkhorn_kernel_np(C, a, b, 0.05, 5000)
    P_ker = a[:, None] * b[None] * np.exp((f_ker[:, None] + g_ker[None] - C) / 0.05)
    np.testing.assert_allclose(res.plan, P_ker, atol=1e-12)
    assert res.linear_cost == pytest.approx(np.sum(P_ker * C), rel=1e-9)
    assert res.objective == pytest.approx(res.dual_objective, rel=1e-9)
    assert res.marginal_violation <= 1e-10


def test_sinkhorn_converges_to_exact():
    # 0 <= <P_eps, C> - W2^2 <= OT_eps - W2^2 <= eps KL(P_perm || a b^T) = eps log n
    rng = _rng(13)
    n = 60
    x = rng.random((n, 2))
    y = rng.random((n, 2))
    exact = ot.w2_squared(x, y)
    gaps = []
    for eps in (0.1, 0.03, 0.01, 0.003):
        res = ot.sinkhorn(x, y, eps, tol=1e-9, max_iter=200_000)
        assert res.converged
        gap = res.linear_cost - exact
        assert -1e-9 <= gap <= eps * np.log(n)
        assert exact - 1e-9 <= res.objective <= exact + eps * np.log(n) + 1e-9
        gaps.append(gap)
    assert all(g2 < g1 for g1, g2 in zip(gaps, gaps[1:]))


def test_sinkhorn_stable_at_small_eps():
    rng = _rng(14)
    n = 80
    x = rng.random((n, 2))
    y = rng.random((n, 2)) + np.array([2.0, 0.0])   # unit-scale clouds two units apart: C >= 1
    C = K.sq_cost(x, y)
    # kernel-domain Sinkhorn underflows at eps = 1e-3: exp(-C/eps) = 0 everywhere -> NaN
    with np.errstate(all="ignore"):
        assert np.all(np.exp(-C / 1e-3) == 0.0)
        f_ker, _ = K.sinkhorn_kernel_np(C, np.full(n, 1 / n), np.full(n, 1 / n), 1e-3, 5)
    assert not np.any(np.isfinite(f_ker))
    # (Sinkhorn converges slowly at eps = 1e-3; 1e-5 on the marginals is reached in ~5000 iterations)
    res = ot.sinkhorn(x, y, 1e-3, tol=1e-5, max_iter=50_000)
    assert np.all(np.isfinite(res.f)) and np.all(np.isfinite(res.g))
    assert res.converged and res.marginal_violation < 1e-4
    exact = ot.w2_squared(x, y)
    assert -1e-4 * np.ptp(C) <= res.linear_cost - exact <= 1e-3 * np.log(n)   # up to the marginal error


def test_sinkhorn_entropic_gaussian_closed_form():
    # Janati et al. (2020) closed form (derivations/ot_gaussian.py, check 4) vs Sinkhorn on samples.
    # The plug-in entropic cost has O(1/n) bias (del Barrio, Gonzalez-Sanz, Loubes & Niles-Weed 2023),
    # here far below the 5-sigma sampling tolerance.
    rng = _rng(15)
    m1, m2 = np.array([0.0, 0.5]), np.array([1.0, -0.5])
    S1 = np.array([[1.0, 0.4], [0.4, 0.8]])
    S2 = np.array([[0.5, 0.0], [0.0, 1.5]])
    eps = 1.0
    exact = ot.entropic_ot_gaussian(m1, S1, m2, S2, eps)
    vals = []
    for _ in range(4):
        x = rng.multivariate_normal(m1, S1, 800)
        y = rng.multivariate_normal(m2, S2, 800)
        res = ot.sinkhorn(x, y, eps, tol=1e-10)
        assert res.converged
        vals.append(res.objective)
    mean = np.mean(vals)
    se = np.std(vals, ddof=1) / 2
    assert abs(mean - exact) <= 5 * se, (mean, exact, se)
    # the closed form tends to Bures as eps -> 0
    assert ot.entropic_ot_gaussian(m1, S1, m2, S2, 1e-9) == pytest.approx(
        ot.w2_squared_gaussian(m1, S1, m2, S2), abs=1e-7)


# derivations/ot_gaussian.py runs (and must say "all checks passed") in tests/test_derivations.py


def test_reexported():
    assert nr.ot.w2_squared is ot.w2_squared


@pytest.mark.slow
def test_sinkhorn_entropic_gaussian_closed_form_tight():
    # as above with 16 pairs of 1600 points: standard error ~0.02 (0.5 % of the value)
    rng = _rng(16)
    m1, m2 = np.array([0.0, 0.5]), np.array([1.0, -0.5])
    S1 = np.array([[1.0, 0.4], [0.4, 0.8]])
    S2 = np.array([[0.5, 0.0], [0.0, 1.5]])
    exact = ot.entropic_ot_gaussian(m1, S1, m2, S2, 1.0)
    vals = [ot.sinkhorn(rng.multivariate_normal(m1, S1, 1600), rng.multivariate_normal(m2, S2, 1600),
                        1.0, tol=1e-10).objective for _ in range(16)]
    se = np.std(vals, ddof=1) / 4
    assert abs(np.mean(vals) - exact) <= 5 * se, (np.mean(vals), exact, se)


# ------------------------------------------------------------------ robustness (issue 11)

_OVERFLOW_SCRIPT = r"""
import numpy as np
import nent_ref as nr
cases = {
    "nonuniform": lambda: nr.ot.w2_squared([0., 1e155], [0., 1e155, 5.]),
    "segfault": lambda: nr.ot.w2_squared([0., 1e155, 2e155], [5e155, 6e155, 7e155]),
    "hang": lambda: nr.ot.w2_squared(np.random.default_rng(0).random(30) * 1e200,
                                     np.random.default_rng(1).random(30) * 1e200),
    "exact_ot": lambda: nr.ot.exact_ot([0., 1e155, 2e155], [5e155, 6e155, 7e155]),
    "sinkhorn": lambda: nr.ot.sinkhorn([[0., 0.], [1., 0.]], [[1.3e154, 1.3e154], [1.3e154, 1.2e154]], 1e300),
    "1d": lambda: nr.ot.w2_squared_1d([0., 1e155], [0., 1e155, 5.]),
}
for name, fn in cases.items():
    try:
        out = fn()
        print(name, "RETURNED", out)
    except ValueError as exc:
        print(name, "ValueError", exc)
"""


def test_overflowing_costs_raise_not_crash():
    # Issue 11 reproducers: squared costs beyond float64 used to return 0.0, segfault (exit 139) or
    # hang inside the compiled solvers.  Run in a subprocess so that a crash fails this test
    # instead of killing pytest; every case must end in a clear ValueError.
    proc = subprocess.run([sys.executable, "-c", _OVERFLOW_SCRIPT], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    lines = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    assert set(lines) == {"nonuniform", "segfault", "hang", "exact_ot", "sinkhorn", "1d"}, proc.stdout
    for name, text in lines.items():
        assert text.startswith("ValueError") and "overflow" in text, (name, text)


@pytest.mark.parametrize("k", [-500, -40, 7, 300, 500])
def test_power_of_two_scaling_is_exact(k):
    # W2^2(c x, c y) = c^2 W2^2(x, y) and OT_{c^2 eps}(c x, c y) = c^2 OT_eps(x, y): with c = 2^k the
    # solvers see the same internally rescaled problem, so the equalities hold bit for bit, far
    # outside the range where |x - y|^2 could be formed directly (k = 500: costs ~ 2^1000).
    rng = _rng(20)
    x = rng.standard_normal((40, 2))
    y = rng.standard_normal((40, 2)) + 1.0
    a = rng.dirichlet(np.ones(40))
    c = 2.0 ** k
    c2 = 2.0 ** (2 * k)
    assert ot.w2_squared(c * x, c * y) == c2 * ot.w2_squared(x, y)
    assert ot.w2_squared(c * x, c * y, a, None) == c2 * ot.w2_squared(x, y, a, None)
    assert ot.w2_squared_1d(c * x[:, 0], c * y[:, 0], a) == c2 * ot.w2_squared_1d(x[:, 0], y[:, 0], a)
    r1 = ot.exact_ot(c * x, c * y)
    r0 = ot.exact_ot(x, y)
    np.testing.assert_array_equal(r1.u, c2 * r0.u)
    assert r1.error_bound == c2 * r0.error_bound
    s1 = ot.sinkhorn(c * x, c * y, c2 * 0.5)
    s0 = ot.sinkhorn(x, y, 0.5)
    assert s1.linear_cost == c2 * s0.linear_cost and s1.objective == c2 * s0.objective
    np.testing.assert_array_equal(s1.f, c2 * s0.f)


def test_result_outside_float64_range_raises():
    x = np.array([[0.0], [1.0]])
    y = np.array([[0.5], [2.0]])
    # W2^2 = 2^-1100 (0.25 + 1) / 2: not a normal float64
    with pytest.raises(ValueError, match="underflows"):
        ot.w2_squared(2.0 ** -550 * x, 2.0 ** -550 * y)
    with pytest.raises(ValueError, match="underflows"):
        ot.w2_squared_1d(2.0 ** -550 * x, 2.0 ** -550 * y)
    # matched distance 1e-10 next to a distance 1e200: the squares span more than float64 can hold
    with pytest.raises(ValueError, match="underflows"):
        ot.w2_squared([0.0, 1e200], [1e-10, 1e200])
    # the same at 1e100 is representable: W2^2 = 1e-20 / 2 (two points, one moved by 1e-10)
    assert ot.w2_squared([0.0, 1e100], [1e-10, 1e100]) == pytest.approx(0.5e-20, rel=1e-15)
    # identical far-apart points: exactly 0 (nothing underflowed), potentials finite
    res = ot.exact_ot([0.0, 1e155], [0.0, 1e155])
    assert res.w2_squared == 0.0 and np.all(np.isfinite(res.u)) and np.all(np.isfinite(res.v))
    with pytest.raises(ValueError, match="overflow"):
        ot.cost_matrix([0.0, 1e155], [0.0])


@pytest.mark.parametrize("eps", [1e-20, 1e-300, 5e-324])
def test_sinkhorn_tiny_eps_rejected(eps):
    # issue 11: these returned 1.6e296, inf, or 0.0 with a NaN dual (flagged only by converged=False)
    rng = _rng(21)
    x, y = rng.random((15, 2)), rng.random((15, 2))
    with pytest.raises(ValueError, match="SINKHORN_MIN_EPS_RATIO"):
        ot.sinkhorn(x, y, eps)
    with pytest.raises(ValueError, match="SINKHORN_MIN_EPS_RATIO"):     # validation is not opt-out
        ot.sinkhorn(x, y, eps, raise_on_failure=False)
    # the limit is relative to the largest squared distance
    cmax = ot.cost_matrix(x, y).max()
    ot.sinkhorn(x, y, 1.01 * ot.SINKHORN_MIN_EPS_RATIO * cmax, max_iter=3, raise_on_failure=False)
    with pytest.raises(ValueError, match="SINKHORN_MIN_EPS_RATIO"):
        ot.sinkhorn(x, y, 0.99 * ot.SINKHORN_MIN_EPS_RATIO * cmax)


def test_sinkhorn_failure_raises_unless_opted_out():
    rng = _rng(22)
    x, y = rng.random((30, 2)), rng.random((30, 2))
    with pytest.raises(ValueError, match="no convergence"):
        ot.sinkhorn(x, y, 1e-3, max_iter=20)
    res = ot.sinkhorn(x, y, 1e-3, max_iter=20, raise_on_failure=False)
    assert not res.converged and res.n_iter == 20 and np.all(np.isfinite(res.f))
    # a result that overflows float64 when scaled back (costs ~3.4e308) raises, or is flagged
    xb = [[0.0, 0.0], [1.0, 0.0]]
    yb = [[1.3e154, 1.3e154], [1.3e154, 1.2e154]]
    with pytest.raises(ValueError, match="overflow"):
        ot.sinkhorn(xb, yb, 1e300)
    res = ot.sinkhorn(xb, yb, 1e300, raise_on_failure=False)
    assert not res.converged
    for bad in (np.nan, np.inf, -1.0, 0.0, "a"):
        with pytest.raises(ValueError, match="eps"):
            ot.sinkhorn(x, y, bad)
    for kw in ({"max_iter": 0}, {"max_iter": 1.5}, {"check_every": True}, {"tol": 0.0}, {"tol": np.nan}):
        with pytest.raises(ValueError):
            ot.sinkhorn(x, y, 0.1, **kw)


def test_complex_input_rejected():
    x = np.zeros((4, 2))
    w = np.full(4, 0.25)
    for call in (lambda: ot.w2_squared(x + 0j, x), lambda: ot.w2_squared(x, x + 1j),
                 lambda: ot.exact_ot(x, x, w + 0j), lambda: ot.w2_squared(x, x, None, w.astype(complex)),
                 lambda: ot.w2_squared_1d(x[:, 0] + 0j, x[:, 0]), lambda: ot.sinkhorn(x + 0j, x, 0.1),
                 lambda: ot.sinkhorn(x, x, 0.1 + 0j), lambda: ot.cost_matrix(x, x + 0j),
                 lambda: ot.w2_squared_gaussian(np.zeros(2) + 0j, np.eye(2), np.zeros(2), np.eye(2)),
                 lambda: ot.w2_squared_gaussian(np.zeros(2), np.eye(2) + 0j, np.zeros(2), np.eye(2)),
                 lambda: ot.entropic_ot_gaussian(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), 1j)):
        with pytest.raises(ValueError, match="real"):
            call()
    with pytest.raises(ValueError, match="max_pivots"):
        ot.exact_ot(x, x[:3], max_pivots=0)


def test_certificate_bounds_the_error():
    # error_bound certifies value - optimum >= 0; check it against scipy's independent solver
    # (scipy.optimize.linear_sum_assignment, exact assignment on the float64 cost matrix)
    rng = _rng(23)
    for n, d, shift in ((120, 2, 0.0), (250, 2, 0.0), (250, 2, 3.0), (150, 9, 1.0), (230, 9, 1.0)):
        x = rng.standard_normal((n, d))
        y = rng.standard_normal((n, d)) + shift
        res = ot.exact_ot(x, y, return_plan=False)
        C = ot.cost_matrix(x, y)
        r, c = linear_sum_assignment(C)
        ref = C[r, c].mean()
        assert 0.0 <= res.error_bound <= 1e-13 * res.w2_squared
        assert res.w2_squared - ref <= res.error_bound + 4e-16 * ref
        # weighted (network simplex): bound also tiny after the tree-potential recomputation
        a = rng.dirichlet(np.ones(n))
        resw = ot.exact_ot(x, y, a, None, return_plan=False)
        assert 0.0 <= resw.error_bound <= 1e-12 * resw.w2_squared
    # the numba certificate kernels agree with their numpy twin
    x = rng.standard_normal((30, 3))
    y = rng.standard_normal((25, 3))
    C = K.sq_cost(x, y)
    u = rng.standard_normal(30)
    v = np.min(C - u[:, None], axis=0) + rng.normal(0, 1e-3, 25)    # some slightly infeasible pairs
    ref = K.dual_gap_np(C, u, v, 3)
    assert ref > 0
    assert K.dual_gap_matrix(C, u, v, 3) == pytest.approx(ref, rel=1e-12)
    np.testing.assert_array_equal(K.sq_cost_serial(x, y), K.sq_cost(x, y))


# ------------------------------------------------------------------ exact OT speed path (issue 15)

@pytest.mark.parametrize("d", [2, 9])
@pytest.mark.parametrize("kind", ["same", "shifted", "scaled", "anisotropic", "two-blobs"])
def test_exact_vs_scipy_on_shifted_scaled_clouds(d, kind):
    # Reference: scipy.optimize.linear_sum_assignment (exact LAP, Crouse 2016) on the float64 cost
    # matrix cdist-equivalent |x_i - y_j|^2.  The Monge-normalised JV must agree to 1e-12 relative.
    rng = _rng(24, d, len(kind))
    n = 300
    x = rng.random((n, d))
    y = rng.random((n, d))
    if kind == "shifted":
        y += 0.5
    elif kind == "scaled":
        y = 3.0 * y - 7.0
    elif kind == "anisotropic":
        y = y * np.linspace(0.2, 4.0, d) + 1.0
    elif kind == "two-blobs":
        y = 0.1 * rng.standard_normal((n, d)) + 2.0 * (rng.random(n) < 0.3)[:, None]
    C = ot.cost_matrix(x, y)
    r, c = linear_sum_assignment(C)
    ref = C[r, c].mean()
    res = ot.exact_ot(x, y)
    assert abs(res.w2_squared - ref) <= 1e-12 * ref
    # potentials refer to the original costs: feasible, tight on the plan, strong duality
    R = C - res.u[:, None] - res.v[None, :]
    assert R.min() >= -1e-12 * C.max()
    assert np.abs(R[res.plan > 0]).max() <= 1e-12 * C.max()
    assert res.dual_objective == pytest.approx(res.w2_squared, rel=1e-12)


def test_normalising_map_is_an_equivalent_cost():
    # |xh_i - yh_j|^2 - |x_i - y_j|^2 - beta_j must depend on i only (alpha_i): same assignments
    rng = _rng(25)
    x = rng.standard_normal((50, 3))
    y = rng.standard_normal((50, 3)) @ np.array([[2.0, 0.3, 0], [0, 0.5, 0.1], [0, 0, 1.0]]) + 4.0
    xh, yh, beta, alpha = ot._normalising_map(x, y)
    D = K.sq_cost_np(xh, yh) - K.sq_cost_np(x, y) - beta[None, :] - alpha[:, None]
    assert np.abs(D).max() <= 1e-12 * K.sq_cost_np(x, y).max()
    # and it equalises the covariances (the point of the map)
    np.testing.assert_allclose(np.cov(xh.T), np.cov(yh.T), rtol=1e-10, atol=1e-12)


def test_small_problems_do_not_start_numba_or_the_thread_pool():
    # The first Numba call in a process costs ~0.25 s (runtime + cache load), the first parallel
    # kernel also starts OpenMP.  Small uniform problems use scipy + numpy (no Numba at all); larger
    # and weighted ones below PARALLEL_COST_MIN use the serial cost kernel (no thread pool).
    script = ("import numpy as np, numba, nent_ref as nr\n"
              "from numba.core.registry import CPUDispatcher\n"
              "from nent_ref.quantities import _ot_kernels as K\n"
              "x = np.random.default_rng(0).random((200, 2))\n"
              "nr.ot.w2_squared(x, x[::-1] + 0.5); nr.ot.exact_ot(x, x[::-1] * 2)\n"
              "used = [k for k, f in vars(K).items() if isinstance(f, CPUDispatcher) and f.signatures]\n"
              "print('numba used:', used)\n"
              "nr.ot.w2_squared(np.tile(x, (3, 1)), np.tile(x, (3, 1)) + 0.5); nr.ot.exact_ot(x, x[:150])\n"
              "try:\n    print('threads started', numba.threading_layer())\n"
              "except ValueError:\n    print('threads not started')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == ["numba used: []", "threads not started"], proc.stdout


def test_small_and_large_assignment_paths_agree(monkeypatch):
    # n <= SMALL_ASSIGNMENT: scipy assignment + Bellman-Ford potentials; else Numba JV.  Same
    # optimum (to rounding of the cost entries), both certified, both dual feasible and tight.
    rng = _rng(27)
    for d, shift in ((2, 0.0), (2, 0.7), (9, 1.0)):
        x = rng.random((150, d))
        y = rng.random((150, d)) * 1.5 + shift
        small = ot.exact_ot(x, y)
        monkeypatch.setattr(ot, "SMALL_ASSIGNMENT", 0)
        large = ot.exact_ot(x, y)
        monkeypatch.undo()
        assert small.w2_squared == pytest.approx(large.w2_squared, rel=1e-14)
        C = ot.cost_matrix(x, y)
        for res in (small, large):
            assert 0 <= res.error_bound <= 1e-13 * res.w2_squared
            R = C - res.u[:, None] - res.v[None, :]
            assert R.min() >= -1e-13 and np.abs(R[res.plan > 0]).max() <= 1e-13


@pytest.mark.parametrize("case", ["random", "integer-ties", "rank-one", "geometric-offsets"])
def test_lap_kernel_vs_scipy_twin(case):
    # lap_solve_shifted(C, alpha) is exact for every alpha (alpha only seeds the column reduction);
    # twin: scipy.optimize.linear_sum_assignment (K.lap_np).  Integer costs with many ties exercise
    # the tie handling of the shortest-path phase.
    rng = _rng(26, len(case))
    n = 120
    if case == "random":
        C = rng.random((n, n))
    elif case == "integer-ties":
        C = rng.integers(0, 5, (n, n)).astype(float)
    elif case == "rank-one":
        C = np.outer(rng.random(n), rng.random(n))
    else:
        C = K.sq_cost(rng.standard_normal((n, 2)), rng.standard_normal((n, 2)) * 2 + 3)
    _, ref = K.lap_np(C)
    for alpha in (np.zeros(n), rng.standard_normal(n), 1e3 * rng.standard_normal(n)):
        col4row, u, v = K.lap_solve_shifted(C, alpha)
        assert np.array_equal(np.sort(col4row), np.arange(n))
        assert abs(C[np.arange(n), col4row].sum() - ref) <= 1e-12 * max(abs(ref), 1.0)
        assert np.min(C - u[:, None] - v[None, :]) >= -1e-9


@pytest.mark.parametrize("d", [1, 2, 4])
@pytest.mark.parametrize("eps", [1e-2, 1e-5, 1e-8])
def test_bures_accurate_for_close_gaussians(d, eps):
    # Regression: the textbook Bures form tr S1 + tr S2 - 2 tr M cancels for close covariances (relative
    # error eps |S| / W2^2: 1.5e-7 for the VE speed-limit case below, all digits at 1e-8).  Reference:
    # mpmath at 50 digits (sqrtm of the same float64 matrices); agreement to 1e-13 relative.
    import mpmath as mp
    mp.mp.dps = 50
    rng = np.random.default_rng([d, int(-np.log10(eps))])
    Q = rng.standard_normal((d, d))
    S1 = Q @ Q.T + 0.5 * np.eye(d)
    E = rng.standard_normal((d, d))
    S2 = S1 + eps * (E @ E.T)
    m = rng.standard_normal(d)
    A, B = mp.matrix(S1.tolist()), mp.matrix(S2.tolist())
    r = mp.sqrtm(A)
    M = mp.sqrtm(r * B * r)
    ref = float(sum(A[i, i] + B[i, i] - 2 * M[i, i] for i in range(d)))
    assert ot.w2_squared_gaussian(m, S1, m, S2) == pytest.approx(ref, rel=1e-13)
    assert ot.w2_squared_gaussian(m, S2, m, S1) == pytest.approx(ref, rel=1e-13)   # symmetric


def test_bures_singular_and_point_masses():
    z = np.zeros((2, 2))
    assert ot.w2_squared_gaussian([0, 0], z, [1, 0], z) == 1.0                 # two points: |m1 - m2|^2
    assert ot.w2_squared_gaussian([0, 0], z, [0, 0], np.eye(2)) == 2.0          # point to N(0, I): tr S
    assert ot.w2_squared_gaussian([0, 0], np.eye(2), [0, 0], z) == 2.0


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e-320, 1.0])
def test_bures_extreme_scales(scale):
    """Issue 18: Bures W2^2 of 1e300-scale covariances gave NaN and of 1e-300 scale gave 0.  W2^2 scales
    exactly with the covariances: scale * ((sqrt 2 - 1)^2 + (sqrt 3 - 1)^2) (commuting covariances)."""
    from nent_ref.quantities import ot as _ot
    got = _ot.w2_squared_gaussian([0.0, 0.0], np.eye(2) * scale, [0.0, 0.0], np.diag([2.0, 3.0]) * scale)
    ref = scale * ((math.sqrt(2) - 1) ** 2 + (math.sqrt(3) - 1) ** 2)
    assert math.isclose(got, ref, rel_tol=1e-12 if scale > 1e-308 else 1e-3)


# ------------------------------------------------------------------ exact OT with unequal sizes (issue 22)

@pytest.mark.parametrize("d, kind", [(2, "same"), (2, "shifted"), (9, "scaled"), (2, "lattice-ties")])
def test_unequal_uniform_sizes_vs_replicated_assignment(d, kind):
    # Uniform n vs m = 1.5 n is the assignment problem of 3 copies of each x against 2 copies of each
    # y (a 3n x 3n LAP, solved independently by scipy.optimize.linear_sum_assignment, Crouse 2016):
    # W2^2 = LAP / (3 n).  The network simplex must reach that optimum with a certified bound,
    # dual-feasible and complementary potentials, and exact marginals.
    rng = _rng(31, d, len(kind))
    n, m = 60, 90
    if kind == "lattice-ties":       # integer points: many equal costs and degenerate pivots
        x = rng.integers(0, 4, (n, d)).astype(float)
        y = rng.integers(0, 4, (m, d)).astype(float)
    else:
        x = rng.random((n, d))
        y = rng.random((m, d))
        y = y + 0.5 if kind == "shifted" else (3.0 * y - 1.0 if kind == "scaled" else y)
    res = ot.exact_ot(x, y)
    assert res.method == "network-simplex"
    C = ot.cost_matrix(x, y)
    Crep = np.repeat(np.repeat(C, 3, axis=0), 2, axis=1)
    r, c = linear_sum_assignment(Crep)
    ref = Crep[r, c].sum() / (3 * n)
    assert 0.0 <= res.error_bound <= 1e-13 * max(ref, 1e-300)
    assert abs(res.w2_squared - ref) <= res.error_bound + 1e-14 * ref
    np.testing.assert_allclose(res.plan.sum(1), np.full(n, 1 / n), rtol=0, atol=1e-15)
    np.testing.assert_allclose(res.plan.sum(0), np.full(m, 1 / m), rtol=0, atol=1e-15)
    assert res.plan.min() >= 0.0
    R = C - res.u[:, None] - res.v[None, :]
    assert R.min() >= -1e-13 * C.max()
    assert np.abs(R[res.plan > 0]).max() <= 1e-13 * C.max()
    assert res.dual_objective == pytest.approx(res.w2_squared, rel=1e-12, abs=1e-15)


def test_network_simplex_kernel_vs_lp_twin_with_ties_and_pivot_limit():
    # The kernel alone against its twin (scipy HiGHS LP) on non-uniform weights with tied costs,
    # then with a pivot limit too small to finish: status 1, never a wrong "optimal".
    rng = _rng(32)
    n, m = 25, 40
    x = rng.integers(0, 3, (n, 2)).astype(float)
    y = rng.integers(0, 3, (m, 2)).astype(float)
    C = K.sq_cost_np(x, y)
    a = rng.dirichlet(np.ones(n))
    b = rng.dirichlet(np.ones(m))
    tails, heads, flows, phi, piv, status = K.network_simplex(C, a, b, 1e-13, 10 ** 6)
    assert status == 0 and piv > 0
    assert abs(np.sum(flows * C[tails, heads]) - K.network_simplex_np(C, a, b)) <= 1e-12
    assert np.all(flows >= 0)
    np.testing.assert_allclose(np.bincount(tails, flows, n), a, rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.bincount(heads, flows, m), b, rtol=0, atol=1e-15)
    assert np.min(C - phi[:n, None] + phi[None, n:n + m]) >= -1e-12      # reduced costs >= -tol
    assert K.network_simplex(C, a, b, 1e-13, 5)[5] == 1


def test_w2_squared_many_equals_one_by_one_at_any_thread_count():
    """w2_squared_many solves equal-size assignments several at a time (on Python threads, one assignment each):
    the values are those of w2_squared on each pair (same kernel, same arithmetic: equal bits within one
    process), for batches of 1, 2 and 3, mixed sizes, a small pair (scipy path) and an unequal pair (network
    simplex) in between."""
    rng = np.random.default_rng(11)
    pairs = [(rng.standard_normal((300, 3)), 0.5 + 1.3 * rng.standard_normal((300, 3))) for _ in range(4)]
    pairs.insert(2, (rng.standard_normal((40, 2)), rng.standard_normal((40, 2))))          # small: scipy
    pairs.insert(4, (rng.standard_normal((220, 2)), rng.standard_normal((330, 2))))        # unequal sizes
    pairs.append((rng.standard_normal(260), rng.standard_normal(260)))                     # 1-D, new size
    one_by_one = [ot.w2_squared(x, y) for x, y in pairs]
    for threads in (1, 2, 3):
        assert ot.w2_squared_many(pairs, threads=threads) == one_by_one
    # the threads run at once only if the compiled routines release the GIL
    assert K.sq_cost_serial.targetoptions.get("nogil") and K.lap_solve_shifted.targetoptions.get("nogil")
    # the batch kernel itself against the scipy twin (total cost of the optimal assignment)
    # the serial cost matrix the threads build has the bits of the parallel one; the shifted solver against
    # the scipy twin (total cost of the optimal assignment)
    for x, y in pairs[:2]:
        C = K.sq_cost_serial(x, y)
        assert np.array_equal(C, K.sq_cost(x, y))
        col4row, _, _ = K.lap_solve_shifted(C, 0.3 * np.arange(300.0))
        assert math.isclose(C[np.arange(300), col4row].sum(), K.lap_np(C)[1], rel_tol=1e-12)


def test_w2_squared_many_bad_input_names_the_pair():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"pairs\[1\]"):
        ot.w2_squared_many([(x, x), x])
    with pytest.raises(ValueError, match="threads"):
        ot.w2_squared_many([(x, x)], threads=0)
    with pytest.raises(ValueError, match="same dimension"):
        ot.w2_squared_many([(x, np.zeros((5, 3)))])


def _bench_ot_stall_case(case=(9, "shifted", 3000), unequal_only=False):
    """The clouds of benchmarks/bench_ot.py --big (with --unequal-only: no equal-size problems drawn first) at
    (D, kind, n) vs m = 1.5 n: the same draws from default_rng(0) in the same order (PCG64 uniform doubles
    are stable across numpy versions)."""
    rng = np.random.default_rng(0)
    rng.random((20, 2))
    rng.random((4200, 2))
    for d in () if unequal_only else (2, 9):
        for _ in range(3):
            for n in (500, 1000, 2000, 4000):
                rng.random((n, d))
                rng.random((n, d))
    for d in (2, 9):
        for kind in ("same", "shifted", "scaled"):
            for n in (1000, 2000, 3000, 4000):
                x, y = rng.random((n, d)), rng.random((int(1.5 * n), d))
                if (d, kind, n) == case:
                    return x, {"same": y, "shifted": y + 0.5, "scaled": 3.0 * y - 1.0}[kind]


def test_network_simplex_no_pivot_on_a_tree_arc():
    """Regression (issue 22): on this problem the potentials, shifted subtree by subtree, drifted by more
    than the pricing tolerance; a tree arc then priced as improving and pivoted on itself forever (each
    no-op pivot a walk over its subtree: bench_ot --big ran for hours).  Now: optimal in ~222,000 pivots
    (the count the solver needed before the faster tree update), certified, and a pivot limit of 400,000
    is not reached."""
    x, y = _bench_ot_stall_case()
    res = ot.exact_ot(x, y, return_plan=False, max_pivots=400_000)
    assert res.n_pivots < 300_000
    assert 0 <= res.error_bound <= 1e-12 * res.w2_squared
    # an independent lower bound on the value: the Gaussian (Gelbrich) bound of the two empirical clouds
    gel = ot.w2_squared_gaussian(x.mean(0), np.cov(x.T, bias=True), y.mean(0), np.cov(y.T, bias=True))
    assert res.w2_squared >= gel * (1 - 1e-12)


def test_network_simplex_certified_tightly_on_scaled_clouds():
    """The pricing tolerance that keeps tree arcs from re-entering (a few ulps of the artificial-arc cost)
    must stay far below the certification limit: a looser one (64 ulps) gave a certified bound of 1.4e-10
    relative on the D = 2 scaled 4000 x 6000 problem of bench_ot --unequal-only --big, above EXACT_RTOL, and
    exact_ot raised."""
    x, y = _bench_ot_stall_case((2, "scaled", 4000), unequal_only=True)
    res = ot.exact_ot(x, y, return_plan=False)
    assert res.method == "network-simplex"
    assert 0 < res.error_bound <= 1e-13 * res.w2_squared


def test_w2_squared_many_stays_on_one_thread_in_a_forked_child(monkeypatch):
    """In a child forked from a process that had imported nent_ref (kernels.threads_safe() False: a worker of
    the Monte Carlo process pools) the pairs are solved one by one, with the same values; the default thread
    count is read without starting Numba's thread pool."""
    import concurrent.futures

    import numba

    from nent_ref.core import kernels
    rng = np.random.default_rng(12)
    pairs = [(rng.standard_normal((250, 2)), rng.standard_normal((250, 2)) + 1.0) for _ in range(2)]
    expected = [ot.w2_squared(x, y) for x, y in pairs]
    monkeypatch.setattr(numba, "get_num_threads", lambda: pytest.fail("numba.get_num_threads starts the pool"))
    assert ot.w2_squared_many(pairs) == expected
    monkeypatch.setattr(kernels, "threads_safe", lambda: False)
    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor",
                        lambda *a, **k: pytest.fail("threads used in a forked child"))
    assert ot.w2_squared_many(pairs) == expected
