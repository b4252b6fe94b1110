"""Tests of nent_ref.speed: S_tot >= W2^2 / int D ds, its ingredients and the optimal protocol."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nent_ref as nr
from nent_ref import cases, ot, speed
from nent_ref.mixture import GaussianMixture


def _spd(rng, d, lo=0.05, hi=3.0):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    return (q * rng.uniform(lo, hi, d)) @ q.T


def _processes():
    return {
        "vp": nr.VP(0.1, 16.0),
        "vpx": nr.VP(0.1, 16.0, kappa=0.1),
        "cosine": nr.VP(schedule=nr.CosineSchedule()),
        "sl": nr.SL(0.1),
        "ve": nr.VE(0.01, 5.0),
    }


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), d=st.integers(1, 4), pname=st.sampled_from(sorted(_processes())),
       u0=st.floats(0.0, 0.9), u1=st.floats(0.05, 1.0))
def test_inequality_random_gaussians_every_process(seed, d, pname, u0, u1):
    rng = np.random.default_rng(seed)
    proc = _processes()[pname]
    T = proc.T - (1e-3 if proc.singular_at_T else 0.0)
    s0 = u0 * T
    s1 = s0 + u1 * (T - s0)
    if s1 - s0 < 1e-6:
        return
    g = nr.Gaussian(rng.standard_normal(d) * rng.uniform(0, 3), _spd(rng, d))
    res = speed.speed_limit(g, proc, s0, s1)
    assert res.w2_method == "closed-form"
    assert res.s_tot.value > 0 and res.clock > 0
    # the speed limit (both sides closed form; relative rounding allowance 1e-10)
    assert res.s_tot.value >= res.bound.value * (1 - 1e-10)
    assert 0 < res.efficiency.value <= 1 + 1e-10
    # ingredients against independent routes
    p0, p1 = g.diffuse(proc, s0), g.diffuse(proc, s1)
    assert res.w2_squared.value == pytest.approx(ot.w2_squared_gaussian(p0.mean, p0.cov, p1.mean, p1.cov), rel=1e-12)
    assert res.clock == pytest.approx(float(proc.clock(s0, s1)), rel=1e-14)


def test_clock_and_bound_one_dimensional_by_hand():
    # 1-D Gaussian N(a, w) under VP (kappa = 1): p_s = N(mu a, mu^2 w + 1 - mu^2), so
    # W2^2 = (a - mu a)^2 + (sqrt(w) - sqrt(mu^2 w + 1 - mu^2))^2 (1-D Bures, derivations/ot_gaussian.py),
    # clock = int beta/2 = B(s1)/2 for the linear schedule 0.1 -> 16: B(1) = 0.1 + 15.9/2 = 8.05.
    a, w = 1.5, 0.2
    proc = nr.VP(0.1, 16.0)
    res = speed.speed_limit(nr.Gaussian([a], [[w]]), proc, 0.0, 1.0)
    mu = math.exp(-8.05 / 2)
    assert res.clock == pytest.approx(8.05 / 2, rel=1e-14)
    w2 = (a - mu * a) ** 2 + (math.sqrt(w) - math.sqrt(mu ** 2 * w + 1 - mu ** 2)) ** 2
    assert res.w2_squared.value == pytest.approx(w2, rel=1e-12)
    assert res.efficiency.value == pytest.approx(w2 / (res.clock * res.s_tot.value), rel=1e-12)


def test_sl_to_one_has_infinite_clock():
    res = speed.speed_limit(cases.gaussian_case(2), nr.SL(0.1), 0.0, 1.0)
    assert math.isinf(res.clock) and res.bound.value == 0.0 and res.efficiency.value == 0.0


def test_dirac_start_uses_bures_with_zero_covariance():
    # Dirac at m, s0 > 0: p_s0 is Gaussian, closed form applies
    proc = nr.VP(0.1, 16.0)
    res = speed.speed_limit(nr.Dirac([0.5, -1.0]), proc, 1e-3, 1.0)
    assert res.w2_method == "closed-form" and 0 < res.efficiency.value <= 1


def test_quantile_w2_matches_closed_form_1d():
    # 1-D Gaussians through the mixture/quantile route: quadrature of the quantile functions
    g = cases.gaussian_case(1)
    proc = nr.VP(0.1, 16.0)
    q = speed.speed_limit(g, proc, 0.0, 0.4, w2_method="quantile")
    c = speed.speed_limit(g, proc, 0.0, 0.4)
    assert q.w2_squared.value == pytest.approx(c.w2_squared.value, rel=1e-10)
    assert q.w2_squared.error_bound < 1e-10


def test_quantile_w2_mixture_vs_sorted_samples():
    # 1-D mixture: quantile quadrature vs the exact 1-D OT between 5e4-point samples, within the
    # sampling error (stderr from 8 independent pairs) plus the measured self-transport bias scale.
    w, m, sd = cases.paper_mixture_params(1)
    mix = GaussianMixture(w, m, sd ** 2)
    proc = nr.VP(0.1, 16.0)
    p0, p1 = mix.diffuse(proc, 0.0), mix.diffuse(proc, 0.3)
    exact, err = speed._w2_squared_1d_mixtures(*(speed._mixture_params_1d(p) for p in (p0, p1)))
    assert err < 1e-9
    ss = np.random.SeedSequence(99)
    vals, selfs = [], []
    for child in ss.spawn(8):
        k = child.spawn(4)
        x, y = p0.sample(50_000, seed=k[0]), p1.sample(50_000, seed=k[1])
        vals.append(ot.w2_squared_1d(x, y))
        selfs.append(0.5 * (ot.w2_squared_1d(x, p0.sample(50_000, seed=k[2]))
                            + ot.w2_squared_1d(y, p1.sample(50_000, seed=k[3]))))
    se = np.std(vals, ddof=1) / math.sqrt(8)
    assert abs(np.mean(vals) - exact) <= 5 * se + np.mean(selfs), (np.mean(vals), exact, se)


def test_samples_route_agrees_with_closed_form():
    # Gaussian data forced through exact OT between samples (2-D)
    g = cases.gaussian_case(2)
    proc = nr.VP(0.1, 16.0)
    exact = speed.speed_limit(g, proc, 0.0, 0.3)
    est = speed.speed_limit(g, proc, 0.0, 0.3, w2_method="samples", w2_samples=300, w2_pairs=6, w2_seed=1)
    w2 = est.w2_squared
    assert w2.stderr > 0 and w2.error_bound > 0
    assert abs(w2.value - exact.w2_squared.value) <= 5 * w2.stderr + w2.error_bound
    assert est.s_tot.value == exact.s_tot.value          # S_tot is still closed form


def test_gelbrich_lower_bound():
    # equality for Gaussians (a one-component mixture); a lower bound for a mixture in 1-D, where
    # the quantile quadrature is exact
    g = cases.gaussian_case(3)
    proc = nr.VP(0.1, 16.0)
    gm = GaussianMixture([1.0], g.mean[None], g.cov[None])
    lb = speed.gelbrich_lower_bound(gm.diffuse(proc, 0.0), gm.diffuse(proc, 0.4))
    assert lb == pytest.approx(speed.speed_limit(g, proc, 0.0, 0.4).w2_squared.value, rel=1e-10)
    w, m, sd = cases.paper_mixture_params(1)
    mix = GaussianMixture(w, m, sd ** 2)
    p0, p1 = mix.diffuse(proc, 0.0), mix.diffuse(proc, 0.3)
    exact, _ = speed._w2_squared_1d_mixtures(speed._mixture_params_1d(p0), speed._mixture_params_1d(p1))
    assert speed.gelbrich_lower_bound(p0, p1) <= exact * (1 + 1e-10)
    assert speed.gelbrich_lower_bound(nr.Gaussian([0.0], [[1.0]]), p1) is None


def test_mixture_speed_limit_holds():
    # 1-D paper mixture: S_tot by quadrature (mixture module), W2^2 by quantile quadrature
    w, m, sd = cases.paper_mixture_params(1)
    mix = GaussianMixture(w, m, sd ** 2)
    res = speed.speed_limit(mix, nr.SL(0.1), 0.0, 0.5)
    assert res.w2_method == "quantile"
    assert 0 < res.efficiency.value <= 1 + 1e-8


@pytest.mark.parametrize("pname", ["vp", "vpx", "sl", "ve"])
def test_geodesic_protocol_attains_equality(pname):
    # Gaussian endpoints; the protocol keeps the process's D(s) and moves along the W2 geodesic at
    # constant speed in the clock.  Its S_tot, integrated from the rate (2.1) by quadrature, equals
    # W2^2 / clock to 1e-9; the drift reproduces the geodesic marginals (moment ODE).
    rng = np.random.default_rng(7)
    proc = _processes()[pname]
    s0, s1 = 0.05, 0.9
    m0, m1 = rng.standard_normal(3), rng.standard_normal(3)
    S0, S1 = _spd(rng, 3, 0.2, 2.0), _spd(rng, 3, 0.2, 2.0)
    prot = speed.geodesic_protocol(m0, S0, m1, S1, proc, s0, s1)
    s_tot, qerr = prot.total_entropy()
    target = ot.w2_squared_gaussian(m0, S0, m1, S1) / float(proc.clock(s0, s1))
    assert abs(s_tot - target) <= 1e-9 * max(1.0, target), (s_tot, target, qerr)
    assert prot.check_moments() < 1e-8
    # the drift matrix is symmetric (b is a gradient, so p_eq^(s) exists) and time dependent
    B_a, _ = prot.drift(0.2)
    B_b, _ = prot.drift(0.7)
    np.testing.assert_allclose(B_a, B_a.T, atol=1e-12)
    assert np.max(np.abs(B_a - B_b)) > 1e-3
    # the process's own marginal path between the same endpoints is strictly less efficient
    g = nr.Gaussian(m0, S0)
    own = speed.speed_limit(g, proc, 0.0, s1)
    assert own.efficiency.value < 1 - 1e-6


def test_bad_input():
    g = cases.gaussian_case(2)
    with pytest.raises(ValueError, match="w2_method"):
        speed.speed_limit(g, nr.VP(), 0.0, 0.5, w2_method="nope")
    with pytest.raises(ValueError, match="closed-form"):
        w, m, sd = cases.paper_mixture_params(2)
        speed.speed_limit(GaussianMixture(w, m, sd ** 2), nr.VP(), 0.0, 0.5, w2_method="closed-form")
    with pytest.raises(ValueError):
        speed.speed_limit(g, nr.VP(), 0.5, 0.2)
    with pytest.raises(ValueError, match="s0 < s1"):
        speed.geodesic_protocol(np.zeros(2), np.eye(2), np.ones(2), np.eye(2), nr.VP(), 0.5, 0.5)


def test_table_gaussian_rows():
    # the closed-form part of ``nent-ref table --suite speed-limit`` (the mixture part is Monte Carlo
    # and runs from the CLI)
    rows = speed._gaussian_rows()
    assert {r["process"] for r in rows} == {"vp16", "vpx", "sl"}
    assert len(rows) == 3 * len(cases.DIMS)
    for r in rows:
        assert 0 < r["efficiency"] <= 1
        assert r["bound"] <= r["S_tot"]


def test_componentwise_upper_bound_brackets_exact_w2_in_1d():
    """Gelbrich <= W2^2 <= component-wise Bures coupling; the exact 1-D W2^2 (quantile quadrature)
    is the independent reference.  K = 1: both bounds equal the Bures value."""
    from nent_ref import cases
    from nent_ref.mixture import paper_mixture
    from nent_ref.speed import componentwise_upper_bound, gelbrich_lower_bound
    mix = paper_mixture(1)
    for name in ("vp16", "vpx", "sl"):
        proc = cases.processes()[name]
        p0, p1 = mix.diffuse(proc, 0.05), mix.diffuse(proc, 0.6)
        exact = nr.speed_limit(mix, proc, 0.05, 0.6, w2_method="quantile").w2_squared
        lo, hi = gelbrich_lower_bound(p0, p1), componentwise_upper_bound(p0, p1)
        assert lo - exact.error_bound <= exact.value <= hi + exact.error_bound
    one = nr.GaussianMixture([1.0], [[0.3, -0.2]], [[[1.0, 0.2], [0.2, 0.5]]])
    proc = cases.processes()["vp16"]
    q0, q1 = one.diffuse(proc, 0.1), one.diffuse(proc, 0.7)
    g0, g1 = nr.Gaussian([0.3, -0.2], [[1.0, 0.2], [0.2, 0.5]]).diffuse(proc, 0.1), \
        nr.Gaussian([0.3, -0.2], [[1.0, 0.2], [0.2, 0.5]]).diffuse(proc, 0.7)
    bures = nr.ot.w2_squared_gaussian(g0.mean, g0.cov, g1.mean, g1.cov)
    assert componentwise_upper_bound(q0, q1) == pytest.approx(bures, rel=1e-12)
    assert gelbrich_lower_bound(q0, q1) == pytest.approx(bures, rel=1e-12)
    assert componentwise_upper_bound(g0, g1) is None   # not mixtures


def test_sample_route_reports_efficiency_bracket():
    from nent_ref import cases
    from nent_ref.mixture import paper_mixture
    proc = cases.processes()["vpx"]
    res = nr.speed_limit(paper_mixture(3), proc, 0.0, 1.0, w2_samples=300, w2_pairs=4, w2_seed=1)
    lo, hi = res.efficiency.extra["efficiency_lower"], res.efficiency.extra["efficiency_upper"]
    assert 0 < lo <= hi
    # the plug-in estimate is biased upwards: it may exceed hi, but not fall below lo by more than 5 stderr
    assert res.efficiency.value >= lo - 5 * res.efficiency.stderr
