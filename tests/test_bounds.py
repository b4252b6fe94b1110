"""Kolchinsky-Tracey bounds: pairwise distances, exactness for K = 1, bracketing of quadrature / Monte Carlo."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate

import nent_ref
import nent_ref as nr
from nent_ref import bounds, cases
from nent_ref.core.mixture import Empirical, GaussianMixture
from nent_ref.suites.cases import paper_mixture

PROCS = cases.processes()


def test_pairwise_distances_1d_against_numerical_integrals():
    """KL and Bhattacharyya between 1-D Gaussians vs scipy.integrate.quad of their definitions."""
    mix = GaussianMixture([0.3, 0.7], [[0.2], [1.5]], [0.4, 1.3])
    kl, bd = bounds.pairwise_kl(mix), bounds.pairwise_bhattacharyya(mix)
    m, v = mix.means[:, 0], mix.covs

    def pdf(k, x):
        return math.exp(-(x - m[k]) ** 2 / (2 * v[k])) / math.sqrt(2 * math.pi * v[k])

    for i in range(2):
        for j in range(2):
            kl_num = integrate.quad(lambda x: pdf(i, x) * (math.log(pdf(i, x)) - math.log(pdf(j, x))),
                                    -15, 15, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
            bc = integrate.quad(lambda x: math.sqrt(pdf(i, x) * pdf(j, x)), -15, 15, epsabs=1e-15,
                                epsrel=1e-13, limit=200)[0]
            assert abs(kl[i, j] - kl_num) < 1e-11
            assert abs(bd[i, j] + math.log(bc)) < 1e-11


def test_pairwise_paths_agree_and_match_gaussian_kl():
    """iso, diag and full forms of the same mixture give the same distances; full KL = Gaussian.kl."""
    rng = np.random.default_rng(1)
    K, D = 4, 3
    means = rng.normal(size=(K, D))
    var = rng.uniform(0.3, 1.5, K)
    forms = [GaussianMixture(np.full(K, 0.25), means, var),
             GaussianMixture(np.full(K, 0.25), means, np.repeat(var[:, None], D, 1)),
             GaussianMixture(np.full(K, 0.25), means, var[:, None, None] * np.eye(D))]
    for f in (bounds.pairwise_kl, bounds.pairwise_bhattacharyya):
        a, b, c = (f(m) for m in forms)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c, a, rtol=1e-12, atol=1e-14)
    A = rng.normal(size=(K, D, D))
    covs = A @ A.transpose(0, 2, 1) / D + 0.3 * np.eye(D)
    full = GaussianMixture(np.full(K, 0.25), means, covs)
    kl = bounds.pairwise_kl(full)
    for i in range(K):
        for j in range(K):
            ref = nr.Gaussian(means[i], covs[i]).kl(nr.Gaussian(means[j], covs[j]))
            assert abs(kl[i, j] - ref) < 1e-12 * max(1.0, ref)
    assert np.all(bounds.pairwise_bhattacharyya(full) <= kl + 1e-14)     # D_B <= KL / 4 ... <= KL


def test_single_component_bounds_are_exact():
    g = cases.gaussian_case(3)
    mix = GaussianMixture.from_gaussian(g)
    lo, hi = bounds.entropy_bounds(mix)
    assert abs(lo - g.entropy()) < 1e-13 and abs(hi - g.entropy()) < 1e-13
    proc = PROCS["vpx"]
    lo, hi = bounds.total_entropy_bounds(mix, proc)
    ref = nr.total_entropy(g, proc).value
    assert abs(lo - ref) < 1e-10 * ref and abs(hi - ref) < 1e-10 * ref


def test_entropy_bounds_bracket_quadrature_entropy():
    """H_lo <= H(p) <= H_hi with H from quadrature of -log p (VE: KL slot holds E log p)."""
    mix = paper_mixture(2)
    p = nent_ref.core.mixture.MixParams.of(mix)
    H, err = nent_ref.quantities.mixture_entropy.cubature_mixture(p, lambda y: -mix.logpdf(y), rtol=1e-12)
    lo, hi = bounds.entropy_bounds(mix)
    assert lo <= H + err and H - err <= hi
    assert hi - lo < 1.0


@st.composite
def mixtures(draw):
    D = draw(st.integers(1, 2))
    K = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    spread = draw(st.sampled_from([0.1, 1.0, 4.0]))
    w = rng.dirichlet(np.ones(K))
    means = rng.normal(0.0, spread, (K, D))
    kind = draw(st.sampled_from(["iso", "full"]))
    if kind == "iso":
        covs = rng.uniform(0.05, 1.5, K)
    else:
        A = rng.normal(size=(K, D, D))
        covs = A @ A.transpose(0, 2, 1) / D + 0.05 * np.eye(D)
    return GaussianMixture(w, means, covs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mix=mixtures(), pname=st.sampled_from(["vp16", "vpx", "sl"]), s=st.sampled_from([0.0, 0.05, 0.3]))
def test_bounds_bracket_quadrature(mix, pname, s):
    proc = PROCS[pname]
    est = nr.kl_to_equilibrium(mix, proc, s, method="quadrature")
    lo, hi = bounds.kl_to_equilibrium_bounds(mix, proc, s)
    tol = est.error_bound + 1e-12 * abs(est.value)
    assert lo - tol <= est.value <= hi + tol
    tot = nr.total_entropy(mix, proc, s, proc.T, method="quadrature")
    tlo, thi = bounds.total_entropy_bounds(mix, proc, s, proc.T)
    ttol = tot.error_bound + 1e-12 * abs(tot.value)
    assert tlo - ttol <= tot.value <= thi + ttol


@pytest.mark.parametrize("D", [3, 6, 9])
def test_bounds_bracket_monte_carlo_high_dim(D):
    mix = paper_mixture(D)
    for pname in ("vp16", "vpx"):
        proc = PROCS[pname]
        est = nr.total_entropy(mix, proc, seed=D, n_samples=2 ** 15)
        lo, hi = bounds.total_entropy_bounds(mix, proc)
        assert lo - 5 * est.stderr <= est.value <= hi + 5 * est.stderr


def test_empirical_bounds_bracket_and_ve():
    atoms = np.random.default_rng(3).normal(size=(30, 1))
    emp = Empirical(atoms)
    proc = PROCS["vp16"]
    for s in (1e-3, 0.05, 0.5):
        est = nr.kl_to_equilibrium(emp, proc, s, method="quadrature")
        lo, hi = bounds.kl_to_equilibrium_bounds(emp, proc, s)
        assert lo - est.error_bound <= est.value <= hi + est.error_bound
    ve = nr.VE()
    mix = paper_mixture(2)
    est = nr.total_entropy(mix, ve, 0.0, 0.6)
    lo, hi = bounds.total_entropy_bounds(mix, ve, 0.0, 0.6)
    assert lo - est.error_bound <= est.value <= hi + est.error_bound
    with pytest.raises(ValueError, match="s > 0"):
        bounds.total_entropy_bounds(emp, proc, 0.0)
    with pytest.raises(TypeError):
        bounds.entropy_bounds(emp)


# --------------------------------------------------------------------------- issue 11
def test_bounds_type_checks_and_single_component_data():
    """total_entropy_bounds on a Gaussian raised AttributeError '_logw' (item 7): a Gaussian (Dirac)
    is now a one-component mixture (one-atom Empirical), with exact bounds; other types are TypeErrors."""
    proc = nr.VP(0.1, 20.0)
    g = nr.Gaussian([0.3, -0.2], [[0.5, 0.1], [0.1, 0.4]])
    lo, hi = nr.bounds.total_entropy_bounds(g, proc)
    ref = nr.total_entropy(g, proc).value
    assert abs(lo - ref) < 1e-12 * ref and abs(hi - ref) < 1e-12 * ref
    d = nr.Dirac([1.0, -0.5])
    lo, hi = nr.bounds.kl_to_equilibrium_bounds(d, proc, 1e-3)
    ref = nr.kl_to_equilibrium(d, proc, 1e-3).value
    assert abs(lo - ref) < 1e-12 * ref and abs(hi - ref) < 1e-12 * ref
    h_lo, h_hi = nr.bounds.entropy_bounds(g)
    assert abs(h_lo - g.entropy()) < 1e-13 and abs(h_hi - g.entropy()) < 1e-13
    for bad in ([1.0, 2.0], np.zeros((2, 2)), None):
        with pytest.raises(TypeError, match="data must be a GaussianMixture or Empirical"):
            nr.bounds.total_entropy_bounds(bad, proc)
        with pytest.raises(TypeError, match="data must be a GaussianMixture or Empirical"):
            nr.bounds.kl_to_equilibrium_bounds(bad, proc, 0.5)
    with pytest.raises(TypeError, match="process must be a forward process"):
        nr.bounds.total_entropy_bounds(g, None)


def test_empirical_bounds_at_tiny_cutoffs_are_exact():
    """At s = 1e-40 the pairwise distances come from direct differences (the expansion's rounding,
    ~1e-16, dwarfs v ~ 1e-41): both bounds equal the separated closed form mean Dirac KL - H(w)."""
    proc = nr.VP(0.1, 20.0)
    atoms = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]] * 12) + np.repeat(np.arange(12), 3)[:, None] * 0.01
    emp = Empirical(atoms)                     # 36 atoms: the shared (matrix-product) path
    for s in (1e-40, 1e-20):
        lo, hi = nr.bounds.kl_to_equilibrium_bounds(emp, proc, s)
        ref = nr.kl_to_equilibrium(emp, proc, s)
        assert ref.method == "closed-form (separated atoms)"
        assert abs(lo - ref.value) < 1e-12 * ref.value and abs(hi - ref.value) < 1e-12 * ref.value
    with pytest.raises(ValueError, match="underflows"):
        nr.bounds.kl_to_equilibrium_bounds(emp, proc, 5e-324)


@pytest.mark.parametrize("s0, width", [(0.0, 1.0), (0.5, 1e-6), (0.5, 1e-10), (0.3, 1e-13)])
def test_total_entropy_bounds_carry_a_rounding_bound(s0, width):
    """Issue 18 (3.2): the Kolchinsky-Tracey S_tot bounds are differences of nearly equal terms on short
    windows; they were reported with bound 0.  For one component both equal the exact S_tot (the
    cancellation-free closed form of a Gaussian, itself within its bound of mpmath in test_entropy): the
    rounding bound is positive and covers their distance to it."""
    from nent_ref.quantities import bounds as b
    from nent_ref.core.mixture import GaussianMixture
    cov = np.diag([0.4, 1.3])
    mix = GaussianMixture([1.0], [[0.5, -1.0]], cov[None])
    proc = nr.VP(0.1, 16.0)
    lo, hi = b.total_entropy_bounds(mix, proc, s0, s0 + width)
    err = b.total_entropy_bounds_rounding(mix, proc, s0, s0 + width)
    exact = nr.total_entropy(nr.Gaussian([0.5, -1.0], cov), proc, s0, s0 + width)
    assert err > 0.0
    for v in (lo, hi):
        assert abs(v - exact.value) <= err + exact.error_bound
