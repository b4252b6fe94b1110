"""Tests of nent_ref.statmech (issue 8): exponential families, maximum entropy, types,
Sanov/Cramer, Gibbs conditioning, free energy, mean-field Ising, maximum likelihood."""
from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.optimize import minimize

from nent_ref import statmech as sm
from nent_ref.suites.tables import statmech_rows

FACES = np.arange(1, 7)
FAIR = np.full(6, 1 / 6)
HYP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Jaynes' die with mean 4.5, counting base measure; mpmath at 50 digits in
# derivations/statmech_die.py (root of 3x^5 + x^4 - x^3 - 3x^2 - 5x - 7, x = e^theta).
DIE_THETA = 0.371048938081033338165610265384
DIE_LOG_Z = 3.2833013195184790628868261946
DIE_A_UNIFORM = 1.49154185029042406207434883622  # log Z - log 6
DIE_H = 1.61358109815382904114158000037
DIE_KL_UNIFORM = 0.17817837107422595967089735801  # log 6 - H
DIE_P = [0.0543531678264915180690808579248, 0.0787715456330535193372436901892,
         0.1141599772294405602791986207, 0.165446803110053335241914175644,
         0.239774440426899980984196736233, 0.34749406577406108608836591931]


# ------------------------------------------------------------------ strategies
def _rng(seed):
    return np.random.default_rng(seed)


def random_family(seed, m=None, d=None):
    """Random minimal family: m outcomes, d-dim statistics, random positive base measure."""
    rng = _rng(seed)
    d = d or int(rng.integers(1, 4))
    m = m or int(rng.integers(d + 2, d + 7))
    t = rng.normal(size=(m, d))
    h = rng.uniform(0.2, 2.0, size=m)
    return sm.ExponentialFamily(t, h), rng


def random_prob(rng, m, floor=0.0):
    p = rng.dirichlet(np.ones(m)) + floor
    return p / p.sum()


seeds = st.integers(0, 2**32 - 1)


# ------------------------------------------------------------------ derivation script and Jaynes' die
# derivations/statmech_die.py runs (and must say "all checks passed") in tests/test_derivations.py


def test_jaynes_die_max_entropy_matches_mpmath_reference():
    res = sm.max_entropy(FACES, 4.5)
    assert not res.on_boundary
    assert res.theta == pytest.approx(DIE_THETA, abs=1e-12)
    assert res.log_partition == pytest.approx(DIE_LOG_Z, abs=1e-12)
    assert res.entropy == pytest.approx(DIE_H, abs=1e-12)
    assert res.kl == pytest.approx(DIE_KL_UNIFORM, abs=1e-12)
    np.testing.assert_allclose(res.q, DIE_P, rtol=0, atol=1e-13)
    # uniform-base convention: A = log E_unif e^{theta k} = log Z - log 6
    ip = sm.i_projection(FAIR, FACES, 4.5)
    assert ip.log_partition == pytest.approx(DIE_A_UNIFORM, abs=1e-12)
    np.testing.assert_allclose(ip.q, DIE_P, rtol=0, atol=1e-13)


# ------------------------------------------------------------------ exponential families
def test_log_partition_is_stable_for_huge_theta():
    fam = sm.ExponentialFamily(FACES)
    # A(theta) = 6 theta + log(1 + sum_{k<6} e^{-(6-k) theta}) exactly
    theta = 800.0
    assert fam.log_partition(theta) == pytest.approx(6 * theta + math.log1p(math.exp(-theta)), rel=1e-15)
    assert fam.log_partition(-theta) == pytest.approx(-theta + math.log1p(math.exp(-theta)), rel=1e-15)
    p = fam.probabilities(theta)
    assert np.all(np.isfinite(p)) and p[-1] == pytest.approx(1.0)


@HYP
@given(seeds)
def test_gradient_and_hessian_match_high_precision_derivatives(seed):
    fam, rng = random_family(seed)
    theta = rng.normal(size=fam.dim)
    mp.mp.dps = 30
    t = [[mp.mpf(float(v)) for v in row] for row in fam.stats]
    lh = [mp.mpf(float(v)) for v in fam.log_base_measure]

    def a_mp(*th):
        return mp.log(mp.fsum(mp.e**(lh[i] + mp.fsum(th[j] * t[i][j] for j in range(fam.dim)))
                              for i in range(fam.n_outcomes)))

    th0 = [mp.mpf(float(v)) for v in theta]
    assert fam.log_partition(theta) == pytest.approx(float(a_mp(*th0)), abs=1e-13)
    grad = fam.mean(theta)
    hess = fam.covariance(theta)
    for i in range(fam.dim):
        order = tuple(1 if k == i else 0 for k in range(fam.dim))
        assert grad[i] == pytest.approx(float(mp.diff(a_mp, th0, order)), abs=1e-11)
        for j in range(fam.dim):
            order = tuple((k == i) + (k == j) for k in range(fam.dim))
            assert hess[i, j] == pytest.approx(float(mp.diff(a_mp, th0, order)), abs=1e-10)


@HYP
@given(seeds)
def test_cumulants_are_derivatives_of_log_partition(seed):
    fam, rng = random_family(seed, d=1)
    theta = float(rng.normal())
    mp.mp.dps = 40
    t = [mp.mpf(float(v)) for v in fam.stats[:, 0]]
    lh = [mp.mpf(float(v)) for v in fam.log_base_measure]

    def a_mp(th):
        return mp.log(mp.fsum(mp.e**(lh[i] + th * t[i]) for i in range(len(t))))

    kappa = fam.cumulants(theta, order=5)
    for k in range(1, 6):
        ref = float(mp.diff(a_mp, mp.mpf(theta), k))
        assert kappa[k - 1] == pytest.approx(ref, abs=1e-10 * (1 + abs(ref)))


@HYP
@given(seeds)
def test_bregman_kl_equals_direct_kl(seed):
    fam, rng = random_family(seed)
    t1, t2 = rng.normal(size=fam.dim), rng.normal(size=fam.dim)
    p1, p2 = fam.probabilities(t1), fam.probabilities(t2)
    direct = float(np.sum(p1 * (np.log(p1) - np.log(p2))))
    assert fam.kl(t1, t2) == pytest.approx(direct, abs=1e-12)
    assert fam.kl(t1, t1) == pytest.approx(0.0, abs=1e-15)
    assert fam.kl(t1, t2, base=2) == pytest.approx(direct / math.log(2), abs=1e-12)


@HYP
@given(seeds)
def test_legendre_round_trip(seed):
    fam, rng = random_family(seed)
    theta = rng.normal(size=fam.dim)
    mu = fam.mean(theta)
    # mu -> theta -> mu, and A*(mu) = theta.mu - A(theta)
    back = fam.natural_parameter(mu)
    np.testing.assert_allclose(back, theta, rtol=0, atol=1e-9)
    assert fam.conjugate(mu) == pytest.approx(float(theta @ mu) - fam.log_partition(theta), abs=1e-11)
    # theta -> mu -> theta starting from a random interior moment vector
    w = random_prob(rng, fam.n_outcomes, floor=0.05)
    mu2 = w @ fam.stats
    np.testing.assert_allclose(fam.mean(fam.natural_parameter(mu2)), mu2, rtol=0, atol=1e-11)
    # Fenchel-Young: A(theta) + A*(mu) >= theta.mu with equality iff mu = grad A(theta)
    assert fam.log_partition(theta) + fam.conjugate(mu2) >= float(theta @ mu2) - 1e-12


@HYP
@given(seeds)
def test_log_partition_is_convex(seed):
    fam, rng = random_family(seed)
    a, b = rng.normal(size=(2, fam.dim)) * 2
    for lam in (0.1, 0.5, 0.9):
        mix = fam.log_partition(lam * a + (1 - lam) * b)
        assert mix <= lam * fam.log_partition(a) + (1 - lam) * fam.log_partition(b) + 1e-12
    assert np.min(np.linalg.eigvalsh(fam.covariance(a))) > 0  # minimal family: strictly convex


@HYP
@given(seeds)
def test_gibbs_variational_principle_for_log_partition(seed):
    fam, rng = random_family(seed)
    theta = rng.normal(size=fam.dim)
    a = fam.log_partition(theta)
    p = fam.probabilities(theta)
    assert fam.gibbs_objective(p, theta) == pytest.approx(a, abs=1e-12)  # attained at p_theta
    for _ in range(5):
        q = random_prob(rng, fam.n_outcomes)
        gap = float(np.sum(q[q > 0] * (np.log(q[q > 0]) - np.log(p[q > 0]))))
        assert fam.gibbs_objective(q, theta) <= a + 1e-12
        assert a - fam.gibbs_objective(q, theta) == pytest.approx(gap, abs=1e-11)


def test_non_minimal_family_returns_min_norm_theta():
    t = np.column_stack([FACES, FACES])  # affinely dependent statistics
    fam = sm.ExponentialFamily(t)
    theta = fam.natural_parameter([4.5, 4.5])
    np.testing.assert_allclose(theta, [DIE_THETA / 2] * 2, atol=1e-12)
    with pytest.raises(ValueError, match="outside the convex hull"):
        fam.natural_parameter([4.5, 4.0])


# ------------------------------------------------------------------ maximum entropy / I-projection
@HYP
@given(seeds)
def test_pythagorean_identity_for_every_q_in_constraint_set(seed):
    rng = _rng(seed)
    d = int(rng.integers(1, 4))
    m = d + int(rng.integers(2, 6))
    t = rng.normal(size=(m, d))
    p0 = random_prob(rng, m, floor=0.02)
    mu = random_prob(rng, m, floor=0.05) @ t
    res = sm.i_projection(p0, t, mu)
    np.testing.assert_allclose(res.q @ t, mu, atol=1e-11)
    # p* = p0 exp(theta.T - A)
    np.testing.assert_allclose(np.log(res.q), np.log(p0) + t @ res.theta - res.log_partition, atol=1e-10)
    # directions preserving normalisation and moments
    constraints = np.vstack([t.T, np.ones(m)])
    null = np.linalg.svd(constraints)[2][constraints.shape[0]:]
    for _ in range(5):
        v = rng.normal(size=null.shape[0]) @ null
        step = 0.9 * np.min(res.q) / np.max(np.abs(v)) * rng.uniform(0.1, 1.0)
        for q in (res.q + step * v, res.q - step * v):
            lhs = sm.kl_divergence(q, p0)
            rhs = sm.kl_divergence(q, res.q) + sm.kl_divergence(res.q, p0)
            assert lhs == pytest.approx(rhs, abs=1e-11)
            assert lhs >= res.kl - 1e-12


@settings(max_examples=10, deadline=None)
@given(seeds)
def test_i_projection_matches_primal_minimisation(seed):
    """Independent check: minimise KL(q||p0) directly over the simplex (SLSQP)."""
    rng = _rng(seed)
    m, d = 5, 2
    t = rng.normal(size=(m, d))
    p0 = random_prob(rng, m, floor=0.05)
    mu = random_prob(rng, m, floor=0.1) @ t
    res = sm.i_projection(p0, t, mu)
    cons = [{"type": "eq", "fun": lambda q: np.append(q @ t - mu, q.sum() - 1.0)}]
    primal = minimize(lambda q: float(np.sum(q * np.log(np.maximum(q, 1e-300) / p0))), np.full(m, 1 / m),
                      constraints=cons, bounds=[(1e-12, 1)] * m, method="SLSQP",
                      options={"ftol": 1e-14, "maxiter": 500})
    assert primal.success
    assert res.kl <= primal.fun + 1e-12
    assert res.kl == pytest.approx(primal.fun, abs=1e-7)


def test_die_with_two_moment_constraints_against_mpmath():
    # E k = 3.5, E k^2 = 14: solve the 2-d dual with mpmath.findroot at 30 digits
    t = np.column_stack([FACES, FACES**2])
    res = sm.max_entropy(t, [3.5, 14.0])
    mp.mp.dps = 30

    def eqs(a, b):
        w = [mp.e**(a * k + b * k * k) for k in range(1, 7)]
        z = mp.fsum(w)
        return [mp.fsum(k * wk for k, wk in zip(range(1, 7), w)) / z - mp.mpf("3.5"),
                mp.fsum(k * k * wk for k, wk in zip(range(1, 7), w)) / z - 14]

    a, b = mp.findroot(eqs, (mp.mpf(0), mp.mpf(0)))
    w = [mp.e**(a * k + b * k * k) for k in range(1, 7)]
    assert res.theta[0] == pytest.approx(float(a), abs=1e-10)
    assert res.theta[1] == pytest.approx(float(b), abs=1e-10)
    assert res.log_partition == pytest.approx(float(mp.log(mp.fsum(w))), abs=1e-12)


def test_boundary_moments_give_face_supported_projection():
    res = sm.max_entropy(FACES, 6.0)
    assert res.on_boundary and res.theta is None
    np.testing.assert_array_equal(res.q, [0, 0, 0, 0, 0, 1])
    assert res.kl == pytest.approx(math.log(6), abs=1e-15)
    # square corners, mu on the edge x = 1: projection uniform on that edge (by symmetry)
    t = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    res2 = sm.max_entropy(t, [1.0, 0.5])
    assert res2.on_boundary
    np.testing.assert_allclose(res2.q, [0, 0.5, 0, 0.5], atol=1e-12)
    assert res2.entropy == pytest.approx(math.log(2), abs=1e-12)
    # ... and with a skewed base measure the edge projection is the conditional law re-tilted
    p0 = np.array([0.1, 0.2, 0.3, 0.4])
    res3 = sm.i_projection(p0, t, [1.0, 0.5])
    np.testing.assert_allclose(res3.q, [0, 0.5, 0, 0.5], atol=1e-12)
    assert res3.kl == pytest.approx(0.5 * math.log(0.5 / 0.2) + 0.5 * math.log(0.5 / 0.4), abs=1e-12)
    fam = sm.ExponentialFamily(FACES)
    assert fam.conjugate(6.0) == pytest.approx(0.0, abs=1e-15)  # -H(point mass)
    with pytest.raises(ValueError, match="boundary"):
        fam.natural_parameter(6.0)
    with pytest.raises(ValueError, match="boundary"):
        sm.ExponentialFamily(t).natural_parameter([1.0, 0.5])


def test_near_boundary_interior_still_solved():
    mu = 6 - 1e-6
    res = sm.max_entropy(FACES, mu)
    assert not res.on_boundary
    assert float(res.q @ FACES) == pytest.approx(mu, abs=1e-12)
    mp.mp.dps = 40
    th = mp.findroot(lambda x: mp.fsum((k - mp.mpf(mu)) * mp.e**(x * (k - 6)) for k in range(1, 7)), mp.mpf(13))
    assert res.theta == pytest.approx(float(th), rel=1e-9)


@HYP
@given(seeds)
def test_simplex_projection_is_the_barycentric_law(seed):
    """m = d + 1 affinely independent points: the only feasible q is the barycentric
    weight vector, whatever p0 -- also when mu sits close to a vertex, where the
    undamped Newton step overshoots onto a degenerate (nearly singular) region."""
    rng = _rng(seed)
    d = int(rng.integers(2, 5))
    t = rng.normal(size=(d + 1, d)) * 10 ** rng.uniform(-2, 2)
    w = rng.dirichlet(np.full(d + 1, 10 ** rng.uniform(-1.5, 0.5)))
    w = np.maximum(w, 1e-6)
    w /= w.sum()
    p0 = random_prob(rng, d + 1, floor=1e-3)
    res = sm.i_projection(p0, t, w @ t)
    assert not res.on_boundary
    np.testing.assert_allclose(res.q, w, rtol=1e-8, atol=1e-13)
    assert res.kl == pytest.approx(sm.kl_divergence(w, p0), abs=1e-9)


@pytest.mark.parametrize("gap", [1e-3, 1e-6, 1e-9])
def test_square_projection_is_a_product_of_bernoullis_near_the_edge(gap):
    """Uniform law on the corners of the unit square, constraint E(x, y) = (1 - gap, 0.3):
    the I-projection is Bernoulli(1 - gap) x Bernoulli(0.3) (independent statistics)."""
    t = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    mx, my = 1 - gap, 0.3
    res = sm.i_projection(np.full(4, 0.25), t, [mx, my])
    assert not res.on_boundary
    expected = np.array([(1 - mx) * (1 - my), mx * (1 - my), (1 - mx) * my, mx * my])
    np.testing.assert_allclose(res.q, expected, rtol=1e-6, atol=1e-15)

    def kl_bern(a):
        return sum(x * math.log(2 * x) for x in (a, 1 - a) if x > 0)

    assert res.kl == pytest.approx(kl_bern(mx) + kl_bern(my), abs=1e-12)


@pytest.mark.parametrize("mu", [0.5, 6.5])
def test_moments_outside_hull_raise(mu):
    with pytest.raises(ValueError, match="outside the convex hull"):
        sm.max_entropy(FACES, mu)
    with pytest.raises(ValueError, match="outside the convex hull"):
        sm.ExponentialFamily(FACES).natural_parameter(mu)
    assert sm.ExponentialFamily(FACES).conjugate(mu) == math.inf


def test_moments_outside_hull_raise_2d():
    t = np.array([[0, 0], [1, 0], [0, 1]], dtype=float)
    with pytest.raises(ValueError, match="outside the convex hull"):
        sm.max_entropy(t, [0.6, 0.6])
    # zero-probability outcomes of p0 do not count towards the hull
    with pytest.raises(ValueError, match="outside the convex hull"):
        sm.i_projection([0.5, 0.5, 0.0], t, [0.2, 0.2])


# ------------------------------------------------------------------ Gaussian maximum entropy
def test_gaussian_max_entropy_closed_form_against_scipy():
    rng = _rng(3)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + 0.5 * np.eye(3)
    mean = rng.normal(size=3)
    g = sm.gaussian_max_entropy(mean, cov)
    assert g.entropy == pytest.approx(sps.multivariate_normal(mean, cov).entropy(), abs=1e-12)
    x = rng.normal(size=(7, 3))
    np.testing.assert_allclose(g.log_density(x), sps.multivariate_normal(mean, cov).logpdf(x), atol=1e-12)


def test_gaussian_is_limit_of_discrete_max_entropy():
    """Max-ent on a fine grid with mean/second-moment constraints -> Gaussian (independent solver)."""
    m, var, h = 0.3, 1.7, 0.05
    grid = np.arange(-12.0, 12.0 + h / 2, h)
    res = sm.max_entropy(np.column_stack([grid, grid**2]), [m, var + m * m])
    g = sm.gaussian_max_entropy(m, var)
    # discrete entropy + log h -> differential entropy (error exponentially small in 1/h by Poisson summation)
    assert res.entropy + math.log(h) == pytest.approx(g.entropy, abs=1e-10)
    np.testing.assert_allclose(res.theta, [g.theta1[0], g.theta2[0, 0]], atol=1e-8)
    # maximum entropy: other laws with variance 1.7 have less entropy
    b = math.sqrt(var / 2)
    assert sps.laplace(scale=b).entropy() < g.entropy
    assert sps.uniform(scale=math.sqrt(12 * var)).entropy() < g.entropy


@pytest.mark.parametrize("mean,cov,match", [
    (0.0, -1.0, "positive definite"),
    ([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], "positive definite"),
    ([0.0, 0.0], [[1.0, 0.1], [0.0, 1.0]], "symmetric"),
    ([0.0, 0.0], [[1.0]], "shape"),
    (np.nan, 1.0, "finite"),
])
def test_gaussian_bad_input(mean, cov, match):
    with pytest.raises(ValueError, match=match):
        sm.gaussian_max_entropy(mean, cov)


# ------------------------------------------------------------------ method of types
@HYP
@given(seeds)
def test_type_probability_exact_and_bounds(seed):
    rng = _rng(seed)
    k = int(rng.integers(2, 6))
    n = int(rng.integers(1, 200))
    p = random_prob(rng, k, floor=0.01)
    counts = rng.multinomial(n, random_prob(rng, k))
    lp = sm.log_type_probability(counts, p)
    assert lp == pytest.approx(sps.multinomial(n, p).logpmf(counts), abs=1e-9)
    lo, hi = sm.type_probability_bounds(counts, p)
    assert lo <= lp + 1e-12 and lp <= hi + 1e-12
    assert lo == pytest.approx(-k * math.log(n + 1) + hi, abs=1e-12)


def test_type_probabilities_sum_to_one_and_class_sizes():
    p = np.array([0.2, 0.5, 0.3])
    n = 12
    total = 0.0
    for a in range(n + 1):
        for b in range(n + 1 - a):
            counts = [a, b, n - a - b]
            total += math.exp(sm.log_type_probability(counts, p))
            assert math.exp(sm.log_type_class_size(counts)) == pytest.approx(
                math.factorial(n) / (math.factorial(a) * math.factorial(b) * math.factorial(n - a - b)), rel=1e-12)
    assert total == pytest.approx(1.0, abs=1e-13)
    assert sm.log_type_probability([1, 0, 1], [0.5, 0.5, 0.0]) == -math.inf


# ------------------------------------------------------------------ Sanov and Cramer
@HYP
@given(seeds)
def test_cramer_rate_equals_i_projection_rate(seed):
    rng = _rng(seed)
    m = int(rng.integers(2, 7))
    x = np.sort(rng.normal(size=m) * 2)
    p = random_prob(rng, m, floor=0.02)
    a = float(rng.uniform(x[0], x[-1]))
    cr = sm.cramer_rate(p, values=x, a=a)
    assert cr == pytest.approx(sm.i_projection(p, x, a).kl, abs=1e-11)
    assert cr == pytest.approx(sm.sanov_rate(p, x, a), abs=1e-11)
    mean = float(p @ x)
    # half-line {E_Q X >= a}: rate is Lambda*(a) above the mean and 0 below
    assert sm.sanov_rate(p, x, a, ">=") == pytest.approx(cr if a > mean else 0.0, abs=1e-11)
    assert sm.sanov_rate(p, x, a, "<=") == pytest.approx(cr if a < mean else 0.0, abs=1e-11)
    # the rate function is the Legendre transform: it dominates every lambda a - Lambda(lambda)
    for lam in rng.normal(size=5):
        assert cr >= lam * a - sm.log_mgf(p, values=x, lam=lam) - 1e-12


def test_cramer_rate_edges_outside_and_mean():
    assert sm.cramer_rate(FAIR, values=FACES, a=6) == pytest.approx(math.log(6), abs=1e-15)
    assert sm.cramer_rate(FAIR, values=FACES, a=1) == pytest.approx(math.log(6), abs=1e-15)
    assert sm.cramer_rate(FAIR, values=FACES, a=6.01) == math.inf
    assert sm.cramer_rate(FAIR, values=FACES, a=3.5) == pytest.approx(0.0, abs=1e-15)
    assert sm.cramer_rate(FAIR, values=FACES, a=4.5) == pytest.approx(DIE_KL_UNIFORM, abs=1e-13)
    assert sm.sanov_rate(FAIR, FACES, 7.0) == math.inf


def test_sanov_two_sided_inequalities_against_primal():
    rng = _rng(11)
    m = 6
    t = rng.normal(size=(m, 2))
    p = random_prob(rng, m, floor=0.05)
    mu = p @ t + np.array([0.4, -0.3])
    rate = sm.sanov_rate(p, t, mu, ">=")
    cons = [{"type": "eq", "fun": lambda q: q.sum() - 1.0}, {"type": "ineq", "fun": lambda q: q @ t - mu}]
    primal = minimize(lambda q: float(np.sum(q * np.log(np.maximum(q, 1e-300) / p))), p,
                      constraints=cons, bounds=[(1e-12, 1)] * m, method="SLSQP",
                      options={"ftol": 1e-14, "maxiter": 500})
    assert primal.success
    assert rate == pytest.approx(primal.fun, abs=1e-7)
    assert rate <= primal.fun + 1e-12


def test_exact_tail_probability_chernoff_and_bahadur_rao():
    """P(S_n >= 4.5 n) for a fair die: Chernoff bound at every n, and the lattice
    Bahadur-Rao expansion -log P = n I + log n / 2 + c + O(1/n),
    c = log((1 - e^{-theta}) sigma_theta sqrt(2 pi)) (Dembo & Zeitouni, thm 3.7.4)."""
    res = sm.max_entropy(FACES, 4.5)
    rate = res.kl
    sigma2 = float(res.q @ (FACES - 4.5) ** 2)
    c = math.log((1 - math.exp(-DIE_THETA)) * math.sqrt(2 * math.pi * sigma2))
    errs = []
    for n in (2, 10, 40, 160, 320, 640, 1280):
        lp = sm.log_sum_tail_probability(FAIR, values=FACES, n=n, total=int(4.5 * n))
        assert lp <= -n * rate + 1e-9  # Chernoff
        errs.append(-lp - n * rate - 0.5 * math.log(n) - c)
    # O(1/n) correction: the error halves when n doubles
    for e1, e2 in zip(errs[-3:-1], errs[-2:]):
        assert 0 < e2 < e1 and e2 / e1 == pytest.approx(0.5, abs=0.05)


def test_sum_probabilities_against_exact_rational_convolution():
    p = [Fraction(1, 10), Fraction(2, 10), Fraction(3, 10), Fraction(4, 10)]
    vals = [-1, 0, 2, 3]
    n = 7
    dist = {0: Fraction(1)}
    for _ in range(n):
        new: dict[int, Fraction] = {}
        for s, w in dist.items():
            for v, pv in zip(vals, p):
                new[s + v] = new.get(s + v, Fraction(0)) + w * pv
        dist = new
    pf = np.array([float(x) for x in p])
    for s in (-7, -3, 0, 5, 12, 21):
        ref = math.log(dist[s])
        assert sm.log_sum_probability(pf, values=vals, n=n, total=s) == pytest.approx(ref, abs=1e-12)
        tail = math.log(sum(w for t, w in dist.items() if t >= s))
        assert sm.log_sum_tail_probability(pf, values=vals, n=n, total=s) == pytest.approx(tail, abs=1e-12)
    assert sm.log_sum_probability(pf, values=vals, n=n, total=22) == -math.inf
    # edges of the range for large n: log p(edge)^n, no underflow
    assert sm.log_sum_probability(FAIR, values=FACES, n=1000, total=6000) == pytest.approx(-1000 * math.log(6), rel=1e-14)
    assert sm.log_sum_tail_probability(FAIR, values=FACES, n=1000, total=6000) == pytest.approx(-1000 * math.log(6), rel=1e-14)
    assert sm.log_sum_probability(FAIR, values=FACES, n=1000, total=1000) == pytest.approx(-1000 * math.log(6), rel=1e-14)
    # one step inside the edge: n ways of placing a single 5 -> log(n) - n log 6
    assert sm.log_sum_tail_probability(FAIR, values=FACES, n=1000, total=5999) == pytest.approx(
        math.log(1001) - 1000 * math.log(6), rel=1e-12)


# ------------------------------------------------------------------ Gibbs conditioning
def test_gibbs_conditional_against_exact_rational_enumeration():
    n, total = 6, 26
    counts = {}
    for seq in itertools.product(range(1, 7), repeat=n):
        if sum(seq) == total:
            counts[seq[0]] = counts.get(seq[0], 0) + 1
    z = sum(counts.values())
    ref = np.array([counts.get(k, 0) / z for k in range(1, 7)])
    np.testing.assert_allclose(sm.gibbs_conditional(FAIR, values=FACES, n=n, total=total), ref, rtol=0, atol=1e-14)


def test_gibbs_conditioning_converges_to_i_projection():
    """TV(law of X_1 | S_n = 4.5 n, I-projection) = c/n + O(1/n^2) (conditional limit theorem)."""
    pstar = sm.max_entropy(FACES, 4.5).q
    ns = [10, 20, 40, 80, 160, 320, 640]
    tv = [sm.total_variation(sm.gibbs_conditional(FAIR, values=FACES, n=n, total=int(4.5 * n)), pstar) for n in ns]
    assert all(b < a for a, b in zip(tv, tv[1:]))
    scaled = [n * v for n, v in zip(ns, tv)]
    diffs = np.diff(scaled)
    # successive differences of n TV shrink by ~1/2 (next order O(1/n^2))
    for d1, d2 in zip(diffs[-3:-1], diffs[-2:]):
        assert abs(d2) < abs(d1) and d2 / d1 == pytest.approx(0.5, abs=0.05)
    assert tv[-1] < 1e-3


@settings(max_examples=15, deadline=None)
@given(seeds)
def test_gibbs_conditioning_random_laws(seed):
    rng = _rng(seed)
    vals = np.array([0, 1, 3, 4])
    p = random_prob(rng, 4, floor=0.05)
    a = float(rng.uniform(0.5, 3.5))
    pstar = sm.i_projection(p, vals, a)
    tvs = []
    for n in (50, 400):
        total = int(round(a * n))
        tvs.append(sm.total_variation(sm.gibbs_conditional(p, values=vals, n=n, total=total),
                                      sm.i_projection(p, vals, total / n).q))
    assert tvs[1] < tvs[0]
    assert sm.total_variation(pstar.q, sm.i_projection(p, vals, round(a * 400) / 400).q) < 0.02


def test_gibbs_conditional_edges_and_errors():
    np.testing.assert_array_equal(sm.gibbs_conditional(FAIR, values=FACES, n=5, total=30), [0, 0, 0, 0, 0, 1])
    np.testing.assert_allclose(sm.gibbs_conditional(FAIR, values=FACES, n=1, total=4), [0, 0, 0, 1, 0, 0])
    with pytest.raises(ValueError, match="impossible"):
        sm.gibbs_conditional(FAIR, values=FACES, n=5, total=31)
    with pytest.raises(ValueError, match="integers"):
        sm.gibbs_conditional(FAIR, values=FACES + 0.5, n=5, total=20)
    with pytest.raises(ValueError, match="probability zero"):
        sm.gibbs_conditional([0.5, 0.5], values=[0, 2], n=3, total=3)  # odd sums impossible on the even lattice
    with pytest.raises(ValueError, match="n must be"):
        sm.gibbs_conditional(FAIR, values=FACES, n=0, total=3)


# ------------------------------------------------------------------ free energy
@HYP
@given(seeds, st.floats(0.05, 5.0))
def test_thermodynamics_from_log_z(seed, beta):
    rng = _rng(seed)
    m = int(rng.integers(2, 8))
    e = rng.normal(size=m) * 2
    g = rng.integers(1, 4, size=m).astype(float)
    th = sm.thermodynamics(e, beta, degeneracy=g)
    mp.mp.dps = 30
    em = [mp.mpf(float(v)) for v in e]

    def log_z(b):
        return mp.log(mp.fsum(int(gi) * mp.e**(-b * ei) for gi, ei in zip(g, em)))

    bm = mp.mpf(beta)
    assert th.log_partition == pytest.approx(float(log_z(bm)), abs=1e-12)
    assert th.internal_energy == pytest.approx(float(-mp.diff(log_z, bm)), abs=1e-10)
    assert th.heat_capacity == pytest.approx(float(bm**2 * mp.diff(log_z, bm, 2)), abs=1e-9)
    # S = -dF/dT with T = 1/beta
    f_of_t = lambda temp: -temp * log_z(1 / temp)  # noqa: E731
    assert th.entropy == pytest.approx(float(-mp.diff(f_of_t, 1 / bm)), abs=1e-9)
    # thermodynamic entropy = Shannon entropy of the Boltzmann law + E log g
    p = th.probabilities
    assert th.entropy == pytest.approx(sm.shannon_entropy(p) + float(p @ np.log(g)), abs=1e-12)
    # Gibbs variational principle F(q) - F = KL(q || p_beta)/beta
    for _ in range(3):
        q = random_prob(rng, m)
        fq = sm.variational_free_energy(q, e, beta, degeneracy=g)
        assert fq - th.free_energy == pytest.approx(sm.kl_divergence(q, p) / beta, abs=1e-10)
        assert fq >= th.free_energy - 1e-12


def test_two_level_schottky_closed_form():
    eps, beta = 1.3, 0.7
    th = sm.thermodynamics([0.0, eps], beta)
    x = beta * eps
    assert th.internal_energy == pytest.approx(eps / (math.exp(x) + 1), rel=1e-14)
    assert th.heat_capacity == pytest.approx(x * x * math.exp(x) / (1 + math.exp(x)) ** 2, rel=1e-13)
    assert th.free_energy == pytest.approx(-math.log1p(math.exp(-x)) / beta, rel=1e-14)


# ------------------------------------------------------------------ Ising: exact and mean field
def test_ising_exact_against_transfer_matrix_ring():
    n, jc, beta = 9, 0.8, 0.6
    j = np.zeros((n, n))
    for i in range(n):
        j[i, (i + 1) % n] = j[(i + 1) % n, i] = jc
    ex = sm.ising_exact(j, beta)
    # zero field ring: Z = (2 cosh bJ)^n + (2 sinh bJ)^n
    z = (2 * math.cosh(beta * jc)) ** n + (2 * math.sinh(beta * jc)) ** n
    assert ex.log_partition == pytest.approx(math.log(z), abs=1e-12)
    np.testing.assert_allclose(ex.magnetization, 0, atol=1e-14)


def test_ising_energies_against_explicit_loop():
    rng = _rng(5)
    n = 4
    a = np.triu(rng.normal(size=(n, n)), 1)
    j = a + a.T
    h = rng.normal(size=n)
    spins, energies = sm.ising_energies(j, h)
    for s, e in zip(spins, energies):
        ref = -sum(j[i, k] * s[i] * s[k] for i in range(n) for k in range(i + 1, n)) - sum(h * s)
        assert e == pytest.approx(ref, abs=1e-12)
    assert sorted(map(tuple, spins)) == sorted(itertools.product([-1.0, 1.0], repeat=n))


@settings(max_examples=25, deadline=None)
@given(seeds, st.floats(0.1, 2.0))
def test_mean_field_free_energy_bounds_exact_on_random_graphs(seed, beta):
    rng = _rng(seed)
    n = int(rng.integers(2, 9))
    mask = np.triu(rng.random((n, n)) < 0.5, 1)
    a = np.where(mask, rng.normal(size=(n, n)), 0.0)
    j = a + a.T
    h = rng.normal(size=n) * 0.5
    ex = sm.ising_exact(j, beta, field=h)
    mf = sm.ising_mean_field(j, beta, field=h)
    # self-consistency
    assert mf.residual <= 1e-12
    np.testing.assert_allclose(mf.m, np.tanh(beta * (j @ mf.m + h)), atol=1e-12)
    assert mf.free_energy >= ex.free_energy - 1e-12
    # F_MF(m) = E_q[E] - H(q)/beta for the product measure q (by enumeration), gap = KL(q||p)/beta
    spins, energies = sm.ising_energies(j, h)
    q = np.prod(0.5 * (1 + spins * mf.m), axis=1)
    p = np.exp(-beta * energies - ex.log_partition)
    f_q = sm.variational_free_energy(q, energies, beta)
    assert mf.free_energy == pytest.approx(f_q, abs=1e-10)
    assert mf.free_energy - ex.free_energy == pytest.approx(sm.kl_divergence(q, p) / beta, abs=1e-10)


@pytest.mark.parametrize("beta", [0.1, 0.2, 0.5])
def test_mean_field_curie_weiss_closed_form(beta):
    """Complete graph, J_ij = 1, h = 0: symmetric solution m = tanh(beta (n-1) m);
    nonzero iff beta (n-1) > 1 (brentq on the scalar equation as reference)."""
    from scipy.optimize import brentq

    n = 8
    j = np.ones((n, n)) - np.eye(n)
    mf = sm.ising_mean_field(j, beta)
    k = beta * (n - 1)
    ref = 0.0 if k <= 1 else brentq(lambda x: x - math.tanh(k * x), 1e-3, 1.0, xtol=1e-15)
    np.testing.assert_allclose(np.abs(mf.m), ref, atol=1e-12)
    assert mf.m_error < 1e-10
    f_ref = -0.5 * n * (n - 1) * ref**2 - n * sm.shannon_entropy([(1 + ref) / 2, (1 - ref) / 2]) / beta
    assert mf.free_energy == pytest.approx(f_ref, abs=1e-12)
    assert mf.free_energy >= sm.ising_exact(j, beta).free_energy


def test_mean_field_is_exact_without_couplings():
    h = np.array([0.3, -1.2, 0.0, 2.0])
    beta = 0.9
    mf = sm.ising_mean_field(np.zeros((4, 4)), beta, field=h)
    ex = sm.ising_exact(np.zeros((4, 4)), beta, field=h)
    assert mf.free_energy == pytest.approx(ex.free_energy, abs=1e-13)
    np.testing.assert_allclose(mf.m, np.tanh(beta * h), atol=1e-14)


# ------------------------------------------------------------------ maximum likelihood
@HYP
@given(seeds)
def test_maximum_likelihood_is_moment_matching_and_max_entropy(seed):
    fam, rng = random_family(seed)
    fam = sm.ExponentialFamily(fam.stats)  # counting measure
    counts = rng.multinomial(300, random_prob(rng, fam.n_outcomes, floor=0.05)).astype(float)
    counts += 1  # every outcome observed: the MLE exists
    pe = counts / counts.sum()
    theta_hat = fam.fit(counts)
    np.testing.assert_allclose(fam.mean(theta_hat), pe @ fam.stats, atol=1e-11)  # moment matching
    # independent maximisation of the likelihood (BFGS)
    opt = minimize(lambda th: fam.log_loss(counts, th), np.zeros(fam.dim), method="BFGS",
                   jac=lambda th: fam.mean(th) - pe @ fam.stats, options={"gtol": 1e-12})
    assert fam.log_loss(counts, theta_hat) <= opt.fun + 1e-12
    assert fam.log_loss(counts, theta_hat) == pytest.approx(opt.fun, abs=1e-9)
    # log-loss = H(empirical) + KL(empirical || p_theta), for any theta
    theta = rng.normal(size=fam.dim)
    assert fam.log_loss(counts, theta) == pytest.approx(
        sm.shannon_entropy(pe) + sm.kl_divergence(pe, fam.probabilities(theta)), abs=1e-11)
    # duality: min log-loss = max entropy subject to the empirical moments
    me = sm.max_entropy(fam.stats, pe @ fam.stats)
    assert fam.log_loss(counts, theta_hat) == pytest.approx(me.entropy, abs=1e-11)
    np.testing.assert_allclose(me.theta, theta_hat, atol=1e-9)
    # Pythagoras for the likelihood: loss(theta) - loss(theta_hat) = KL(p_hat_theta || p_theta)
    assert fam.log_loss(counts, theta) - fam.log_loss(counts, theta_hat) == pytest.approx(
        fam.kl(theta_hat, theta), abs=1e-11)


def test_mle_does_not_exist_when_an_extreme_outcome_is_unobserved():
    with pytest.raises(ValueError, match="maximum-likelihood estimate does not exist"):
        sm.ExponentialFamily(FACES).fit([0, 0, 0, 0, 0, 5])


# ------------------------------------------------------------------ input validation
@pytest.mark.parametrize("call,match", [
    (lambda: sm.ExponentialFamily([[1, np.nan]]), "NaN"),
    (lambda: sm.ExponentialFamily(np.zeros((2, 2, 2))), "shape"),
    (lambda: sm.ExponentialFamily(FACES, base_measure=[1, 1, 1, 1, 1, 0]), "strictly positive"),
    (lambda: sm.ExponentialFamily(FACES, base_measure=[1, 1]), "length"),
    (lambda: sm.ExponentialFamily(FACES).log_partition([1.0, 2.0]), "length 1"),
    (lambda: sm.ExponentialFamily(FACES).log_partition(np.inf), "NaN or inf"),
    (lambda: sm.ExponentialFamily(np.ones((6, 2))).cumulants([0, 0]), "one-dimensional"),
    (lambda: sm.ExponentialFamily(FACES).fit([1, 2, -1, 0, 0, 0]), "non-negative"),
    (lambda: sm.i_projection([0.5, 0.6], [0, 1], 0.5), "sum to one"),
    (lambda: sm.i_projection([1.5, -0.5], [0, 1], 0.5), "negative"),
    (lambda: sm.i_projection(FAIR, FACES, [1.0, 2.0]), "length 1"),
    (lambda: sm.i_projection(FAIR[:5] / FAIR[:5].sum(), FACES, 3.0), "outcomes"),
    (lambda: sm.kl_divergence([0.5, 0.5], [1.0]), "entries"),
    (lambda: sm.log_type_probability([1, 2.5], [0.5, 0.5]), "integers"),
    (lambda: sm.log_type_probability([0, 0], [0.5, 0.5]), "all be zero"),
    (lambda: sm.sanov_rate(FAIR, FACES, 4.0, sense="<"), "sense"),
    (lambda: sm.cramer_rate(FAIR, values=FACES, a=np.nan), "finite"),
    (lambda: sm.cramer_rate(FAIR, values=np.ones((6, 2)), a=1.0), "one-dimensional"),
    (lambda: sm.thermodynamics([0.0, 1.0], 0.0), "beta"),
    (lambda: sm.thermodynamics([[0.0, 1.0]], 1.0), "1-d"),
    (lambda: sm.ising_exact([[0, 1], [0.5, 0]], 1.0), "symmetric"),
    (lambda: sm.ising_exact([[1, 0], [0, 0]], 1.0), "zero diagonal"),
    (lambda: sm.ising_exact(np.zeros((23, 23)), 1.0), "n <= 22"),
    (lambda: sm.ising_mean_field(np.zeros((2, 2)), 1.0, field=[1.0]), "length 2"),
    (lambda: sm.mean_field_free_energy([2.0, 0.0], np.zeros((2, 2)), 1.0), r"\[-1, 1\]"),
    (lambda: sm.shannon_entropy([0.2, 0.2]), "sum to one"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ CLI table
class _Options:
    seed, workers, quiet = 0, 1, True

    def progress(self, msg):
        pass


def test_table_rows_are_flat_jsonable_and_consistent():
    rows = statmech_rows(_Options())
    json.dumps(rows)
    for row in rows:
        assert all(isinstance(v, (str, int, float)) for v in row.values())
    lookup = {(r["example"], r["quantity"]): r["value"] for r in rows}
    assert lookup[("jaynes_die_mean_4.5", "theta")] == pytest.approx(DIE_THETA, abs=1e-12)
    assert lookup[("jaynes_die_mean_4.5", "log_Z_counting")] == pytest.approx(DIE_LOG_Z, abs=1e-12)
    assert lookup[("jaynes_die_mean_4.5", "cramer_rate_4.5")] == pytest.approx(DIE_KL_UNIFORM, abs=1e-12)
    for beta in (0.3, 0.6):
        ex = f"ising_ring8_J1_h0.1_beta{beta}"
        assert lookup[(ex, "free_energy_mean_field")] >= lookup[(ex, "free_energy_exact")]


# ------------------------------------------------------------------ issue 11: extreme beta, overflow, real input, seeds
def _canonical_mp(energies, beta, degeneracy):
    """All fields of sm.thermodynamics by direct sums over the levels in mpmath (dps set by the caller).

    Z = e^{-beta E_0} sum_x g e^{-beta (E - E_0)} (exact identity; without the factor 50 digits cannot
    resolve log Z = -2e-300 at beta = 1e-300), S = sum_x p log(g / p) (Gibbs form: log Z + beta U would
    need 300 digits at beta = 1e300, E ~ 1e5)."""
    e = [mp.mpf(float(v)) for v in energies]
    g = [mp.mpf(1)] * len(e) if degeneracy is None else [mp.mpf(float(v)) for v in degeneracy]
    b = mp.mpf(beta)
    e0 = min(e)
    w = [gi * mp.exp(-b * (ei - e0)) for gi, ei in zip(g, e)]
    z_eps = mp.fsum(w)
    p = [wi / z_eps for wi in w]
    u = mp.fsum(pi * ei for pi, ei in zip(p, e))
    log_z = -b * e0 + mp.log(z_eps)
    return {"log_partition": log_z, "free_energy": e0 - mp.log(z_eps) / b, "internal_energy": u,
            "entropy": mp.fsum(pi * mp.log(gi / pi) for pi, gi in zip(p, g) if pi > 0),
            "heat_capacity": b**2 * mp.fsum(pi * (ei - u) ** 2 for pi, ei in zip(p, e)),
            "probabilities": p}


_LEVELS = [([0.0, 1.0], None), ([-1.5, 0.3, 2.0], [1.0, 2.0, 3.0]), ([0.0, 1e-298], None),
           ([0.0, 0.0, 1.0], None), ([2.0], None), ([1e5, 1e5 + 1.0, 1e5 + 3.0], [2.0, 1.0, 1.0])]


@pytest.mark.parametrize("levels", _LEVELS)
@pytest.mark.parametrize("beta", [1e-300, 1e-10, 1.0, 1e10, 1e300])
def test_thermodynamics_extreme_beta_against_mpmath(levels, beta):
    # regression (issue 11): thermodynamics([0, 1], 1e300) had heat_capacity = NaN (beta^2 overflow times a
    # zero variance).  Every field against direct sums in mpmath at 50 digits; the limits at huge beta
    # (U -> E_0, S -> log g_0, C -> 0) and tiny beta come out as numbers.
    energies, g = levels
    th = sm.thermodynamics(energies, beta, degeneracy=g)
    with mp.workdps(50):
        ref = _canonical_mp(energies, beta, g)
    assert th.beta == beta
    for name in ("log_partition", "free_energy", "internal_energy", "entropy", "heat_capacity"):
        value = getattr(th, name)
        assert math.isfinite(value), name
        # 1e-13 relative; absolute floor: one rounding of the largest term a field is built from
        scale = {"log_partition": beta * max(map(abs, energies)), "free_energy": max(map(abs, energies)),
                 "internal_energy": max(map(abs, energies)), "entropy": 1.0, "heat_capacity": 0.0}[name]
        assert value == pytest.approx(float(ref[name]), rel=1e-13, abs=1e-15 * scale), name
    np.testing.assert_allclose(th.probabilities, [float(v) for v in ref["probabilities"]], rtol=1e-13, atol=0)


def test_thermodynamics_huge_beta_limits():
    th = sm.thermodynamics([0, 1], 1e300)            # the reported case
    assert (th.heat_capacity, th.entropy, th.internal_energy, th.free_energy) == (0.0, 0.0, 0.0, 0.0)
    th = sm.thermodynamics([0, 0, 1], 1e300)         # two-fold ground state: S -> log 2, C -> 0
    assert th.entropy == pytest.approx(math.log(2), rel=1e-15) and th.heat_capacity == 0.0
    th = sm.thermodynamics([3.0, 1.0], 1e300, degeneracy=[1.0, 5.0])
    assert th.internal_energy == 1.0 and th.entropy == pytest.approx(math.log(5), rel=1e-15)
    ex = sm.ising_exact(np.array([[0.0, 1.0], [1.0, 0.0]]), 1e300)   # through thermodynamics
    assert ex.entropy == pytest.approx(math.log(2), rel=1e-15) and ex.internal_energy == -1.0


@pytest.mark.parametrize("beta", [0.0, -1.0, -1e300, float("nan"), float("inf"), 1 + 0j, np.complex128(1.0),
                                  "a", [1.0]])
def test_thermodynamics_rejects_non_positive_or_non_real_beta(beta):
    # negative temperatures are not part of the API: beta must be a positive real number
    with pytest.raises(ValueError, match="beta"):
        sm.thermodynamics([0.0, 1.0], beta)


@pytest.mark.parametrize("energies,beta,match", [
    ([0.0, 1.0], 1e-320, "free energy"),             # F = -log 2 / beta is beyond the double range
    ([-1e10, 0.0], 1e300, "log Z"),                  # log Z = 1e310
])
def test_thermodynamics_unrepresentable_results_raise(energies, beta, match):
    with pytest.raises(ValueError, match=match):
        sm.thermodynamics(energies, beta)


def test_other_functions_at_extreme_parameters_hold_no_nan():
    # the same overflow pattern (0 * inf, inf - inf) elsewhere; each returned NaN before issue 11.
    # log_mgf: the outcome of probability 0 no longer contributes -inf + inf
    assert sm.log_mgf([1.0, 0.0], values=[0.0, 1e10], lam=1e300) == 0.0        # X = 0 a.s.: log E e^{lam X} = 0
    with pytest.raises(ValueError, match="overflows"):
        sm.log_mgf([0.5, 0.5], values=[0.0, 1e10], lam=1e300)                  # log E e^{lam X} ~ 1e310
    fam = sm.ExponentialFamily([0.0, 1e10])
    assert fam.entropy(-1e300) == 0.0                                # point mass at x = 0
    np.testing.assert_array_equal(fam.probabilities(-1e300), [1.0, 0.0])
    assert fam.gibbs_objective([1.0, 0.0], -1e300) == 0.0
    with pytest.raises(ValueError, match="overflows"):
        fam.log_partition(1e300)
    # central moments: dev**4 = inf where p = 0 gave 0 * inf
    np.testing.assert_array_equal(sm.ExponentialFamily([0.0, 1e100]).cumulants(-1.0), [0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="overflows"):
        sm.ExponentialFamily([-1e200, 0.0, 1e200]).cumulants(0.0)   # kappa_2 ~ 7e399 (was [.., inf, nan, nan])
    with pytest.raises(ValueError, match="overflows"):
        sm.ExponentialFamily([-1e200, 0.0, 1e200]).covariance(0.0)
    with pytest.raises(ValueError, match="singular"):
        sm.gaussian_max_entropy(0.0, 1e-320)                         # Sigma^-1 = inf (log_partition was NaN)
    with pytest.raises(ValueError, match="overflows"):
        sm.variational_free_energy([0.5, 0.5], [0.0, 1.0], 1e-320)   # was -inf
    j = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="overflows"):
        sm.mean_field_free_energy([0.5, 0.5], j, 1e-320)
    mf = sm.ising_mean_field(j, 1e300, field=[1e300, -1e300])       # tanh(+-inf) = +-1, exact
    np.testing.assert_array_equal(mf.m, [1.0, -1.0])
    assert math.isfinite(mf.free_energy)


_J2 = np.array([[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("call", [
    lambda: sm.thermodynamics([0.0, 1 + 0j], 1.0),
    lambda: sm.thermodynamics(np.array([0.0, 1.0 + 0j]), 1.0),     # was silently cast to its real part
    lambda: sm.thermodynamics([0.0, 1.0], 1.0, degeneracy=np.array([1.0, 2.0 + 0j])),
    lambda: sm.variational_free_energy([0.5, 0.5], np.array([0.0, 1.0 + 0j]), 1.0),
    lambda: sm.ising_exact(_J2.astype(complex), 1.0),
    lambda: sm.ising_exact(_J2, 1.0, field=np.array([0.1, 0.2 + 0j])),
    lambda: sm.ising_mean_field(_J2, 1.0, init=np.array([0.1, 0.2 + 0j])),
    lambda: sm.mean_field_free_energy(np.array([0.1, 0.2 + 0j]), _J2, 1.0),
    lambda: sm.max_entropy(FACES + 0j, 4.5),
    lambda: sm.max_entropy(FACES, 4.5 + 0j),
    lambda: sm.max_entropy(FACES, np.complex128(4.5)),
    lambda: sm.i_projection(FAIR + 0j, FACES, 4.5),
    lambda: sm.sanov_rate(FAIR, FACES, np.complex128(4.0), ">="),
    lambda: sm.ExponentialFamily(FACES + 0j),
    lambda: sm.ExponentialFamily(FACES, base_measure=FAIR + 0j),
    lambda: sm.ExponentialFamily(FACES).log_partition(np.complex128(0.5)),
    lambda: sm.ExponentialFamily(FACES).fit(np.array([1, 2, 3, 4, 5, 6]) + 0j),
    lambda: sm.shannon_entropy(FAIR + 0j),
    lambda: sm.kl_divergence(FAIR, FAIR + 0j),
    lambda: sm.log_type_probability(np.array([10, 6 + 0j, 4]), [0.5, 0.3, 0.2]),
    lambda: sm.log_mgf(FAIR, values=FACES, lam=np.complex128(0.3)),
    lambda: sm.cramer_rate(FAIR, values=FACES, a=np.complex128(4.5)),
    lambda: sm.cramer_rate(FAIR, values=FACES + 0j, a=4.5),
    lambda: sm.log_sum_probability(FAIR, values=FACES + 0j, n=3, total=10),
    lambda: sm.log_sum_tail_probability(FAIR, values=FACES, n=3, total=10 + 0j),
    lambda: sm.gibbs_conditional(FAIR + 0j, values=FACES, n=3, total=10),
    lambda: sm.gaussian_max_entropy(np.array([0.0 + 0j]), 1.0),
    lambda: sm.gaussian_max_entropy(0.0, np.complex128(2.0)),
    lambda: sm.gaussian_max_entropy(0.0, 2.0).log_density(np.array([[0.5 + 0j]])),
])
def test_complex_input_rejected(call):
    # energies, couplings, probabilities, statistics and parameters: complex is a ValueError (real_array),
    # never a TypeError from float() nor a silent cast that drops the imaginary part
    with pytest.raises(ValueError, match="real|complex"):
        call()


@pytest.mark.parametrize("total", [10.5, "10", np.float64(9.25)])
def test_sum_totals_must_be_integers(total):
    # 10.5 was truncated to 10 silently
    for f in (sm.log_sum_probability, sm.log_sum_tail_probability, sm.gibbs_conditional):
        with pytest.raises(ValueError, match="total"):
            f(FAIR, values=FACES, n=3, total=total)


class _SeedOptions(_Options):
    def __init__(self, seed):
        self.seed = seed


@pytest.mark.parametrize("seed", [-1, "a", 1.5, True, [1, -2]])
def test_table_rows_reject_bad_seeds_first(seed, monkeypatch):
    monkeypatch.setattr(sm, "max_entropy", lambda *a: pytest.fail("computed before checking the seed"))
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        statmech_rows(_SeedOptions(seed))


def test_table_rows_accept_seed_sequences_and_generators():
    def mle(rows):
        return {r["quantity"]: r["value"] for r in rows if r["example"].startswith("mle_die")}
    base = statmech_rows(_SeedOptions(0))
    assert any(r["example"] == "mle_die_200_draws_seed0" for r in base)      # label of an int seed unchanged
    assert mle(statmech_rows(_SeedOptions(np.random.SeedSequence(0)))) == mle(base)   # same stream as seed 0
    a = mle(statmech_rows(_SeedOptions(np.random.default_rng(5))))
    assert a == mle(statmech_rows(_SeedOptions(np.random.default_rng(5))))
    assert all(math.isfinite(v) for v in a.values())


def test_one_argument_convention():
    # issue 14: sanov_rate(p, stats, mu) and cramer_rate(values, p, a) took their arguments in opposite orders.
    # One convention now: the law first; the scalar-statistic functions take the statistic and target by
    # keyword.  A call in the old positional order is mapped to the new one with a DeprecationWarning for one
    # release (issue 22; test_old_positional_order_still_works_with_a_deprecation_warning), never computed
    # with swapped arguments.
    p = np.full(6, 1 / 6)
    assert sm.cramer_rate(p, values=FACES, a=4.5) == pytest.approx(sm.sanov_rate(p, FACES, 4.5), abs=1e-12)
    for f, extra in ((sm.cramer_rate, (4.5,)), (sm.log_mgf, (0.3,)), (sm.log_sum_probability, (3, 10)),
                     (sm.log_sum_tail_probability, (3, 10)), (sm.gibbs_conditional, (3, 10))):
        with pytest.warns(DeprecationWarning):
            f(FACES, p, *extra)
    # the natural parameter has the shape of the statistic: a float for a scalar statistic
    assert isinstance(sm.max_entropy(FACES, 4.5).theta, float)
    assert isinstance(sm.ExponentialFamily(FACES).natural_parameter(4.5), float)
    two = np.stack([FACES, FACES ** 2], axis=1)
    assert sm.max_entropy(two, [3.5, 14.0]).theta.shape == (2,)


def test_thermodynamics_overflowing_spread_with_tiny_beta():
    """Issue 18: thermodynamics([-1e308, 1e308], 1e-320).log_partition gave 1e-12 (the truth is log 2: beta E
    is +-1e-12).  The spread E - E_0 overflows but beta (E - E_0) does not; F = -log Z / beta (about -7e319)
    is not a double, so that call raises, quoting log Z; at beta = 1e-307 every field is right (mpmath)."""
    import mpmath
    from nent_ref import statmech
    with pytest.raises(ValueError, match=r"log Z itself is 0\.69314718055994"):
        statmech.thermodynamics([-1e308, 1e308], 1e-320)
    mpmath.mp.dps = 50
    b, e = mpmath.mpf(1e-307), [mpmath.mpf(-1e308), mpmath.mpf(1e308)]
    w = [mpmath.exp(-b * x) for x in e]
    Z = sum(w)
    U = sum(wi * x for wi, x in zip(w, e)) / Z
    th = statmech.thermodynamics([-1e308, 1e308], 1e-307)
    assert math.isclose(th.log_partition, float(mpmath.log(Z)), rel_tol=1e-14)
    assert math.isclose(th.free_energy, float(-mpmath.log(Z) / b), rel_tol=1e-14)
    assert math.isclose(th.internal_energy, float(U), rel_tol=1e-12)
    assert math.isclose(th.entropy, float(b * U + mpmath.log(Z)), rel_tol=1e-6)


# --------------------------------------------------------------------------- deprecated positional order
@pytest.mark.parametrize("name, extra", [
    ("log_mgf", {"lam": 0.3}),
    ("cramer_rate", {"a": 3.2}),
    ("log_sum_probability", {"n": 4, "total": 13}),
    ("log_sum_tail_probability", {"n": 4, "total": 13}),
    ("gibbs_conditional", {"n": 4, "total": 13}),
])
def test_old_positional_order_still_works_with_a_deprecation_warning(name, extra):
    """The earlier signature f(values, p, ...) maps to f(p, values=..., ...) and warns (CHANGELOG.md)."""
    from nent_ref import statmech as sm
    f = getattr(sm, name)
    values, p = np.arange(1, 7), np.full(6, 1 / 6)
    new = f(p, values=values, **extra)
    with pytest.warns(DeprecationWarning, match=name):
        old = f(values, p, *extra.values())
    np.testing.assert_array_equal(old, new)
    with pytest.raises(TypeError, match="multiple values"):
        f(values, p, *extra.values(), **{next(iter(extra)): 1})


# --------------------------------------------------------------------------- issue 18
@pytest.mark.parametrize("degeneracy, message", [
    ([-1.0, 1.0], r"^degeneracy must be strictly positive"),
    ([1.0], r"^degeneracy must have length 2"),
    ("ab", r"^degeneracy must be a real"),
    ([1j, 1.0], r"^degeneracy must be real"),
])
def test_degeneracy_errors_name_degeneracy(degeneracy, message):
    # issue 18: thermodynamics(degeneracy=...) errors said base_measure
    with pytest.raises(ValueError, match=message):
        sm.thermodynamics([0.0, 1.0], 1.0, degeneracy=degeneracy)
    with pytest.raises(ValueError, match=message):
        sm.variational_free_energy([0.5, 0.5], [0.0, 1.0], 1.0, degeneracy=degeneracy)
