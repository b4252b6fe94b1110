"""Tests for nent_ref.rg: Ising decimation RG and deep random tanh networks (issue 7).

Reference values: brute-force enumeration (exact sums over all states), sympy (derivations/rg_decimation.py),
mpmath at 30 digits, closed forms quoted in the docstrings (Onsager 1944, Kaufman 1949), and the
order-to-chaos value sigma_w^2 ~ 1.761 at sigma_b^2 = 0.05 (Poole et al. 2016, Schoenholz et al. 2017).
"""
from __future__ import annotations

import itertools
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nent_ref import rg
from nent_ref.suites import figures as suite_figures, tables as suite_tables
from nent_ref.suites.executor import row_seed, suite_seed

FAST = settings(max_examples=25, deadline=None)
TIGHT = 1e-12


# ============================================================================ helpers
def kl_sum(p, q):
    """Exact sum_x p log(p/q) over enumerated states."""
    pos = p > 0
    return float(np.sum(p[pos] * (np.log(p[pos]) - np.log(q[pos]))))


def lifted_coarse_distribution(K0, h0, n, N):
    """q_n on the fine ring of N spins, built explicitly: survivors (every 2^n-th spin) ~ p_{K_n,h_n} on the
    ring of N/2^n spins (enumerated), decimated spins uniform."""
    flow = rg.ising1d_flow(K0, h0, n)
    Nn = N // 2 ** n
    sc, pc = rg.ising1d_boltzmann_probabilities(flow.K[-1], flow.h[-1], Nn)
    s, _ = rg.ising1d_boltzmann_probabilities(K0, h0, N)
    surv = s[:, :: 2 ** n]                                   # (2^N, Nn)
    idx = ((surv > 0).astype(np.int64) << np.arange(Nn)).sum(axis=1)
    return pc[idx] * 2.0 ** (-(N - Nn))


# ============================================================================ 1-D Ising
@FAST
@given(K0=st.floats(-3.0, 3.0), n=st.integers(0, 6))
def test_1d_flow_at_zero_field_is_tanh_power(K0, n):
    # tanh K_n = (tanh K_0)^(2^n) (THEORY.md section 7; sympy-verified in derivations/rg_decimation.py)
    flow = rg.ising1d_flow(K0, 0.0, n)
    assert np.all(flow.h == 0.0)
    assert math.tanh(flow.K[-1]) == pytest.approx(math.tanh(K0) ** (2 ** n), rel=1e-12, abs=1e-300)


@FAST
@given(K=st.floats(-2.0, 2.0), h=st.floats(-1.5, 1.5), N=st.sampled_from([2, 4, 6, 8, 16]))
def test_1d_decimation_preserves_partition_function(K, h, N):
    # Z_N(K,h) = exp(N g / 2) Z_{N/2}(K',h'), both sides by brute-force enumeration
    Kp, hp, g = rg.ising1d_decimation_step(K, h)
    lhs = N * rg.ising1d_enumerate_thermo(K, h, N).log_partition_per_site
    rhs = N / 2 * g + N / 2 * rg.ising1d_enumerate_thermo(Kp, hp, N // 2).log_partition_per_site
    assert lhs == pytest.approx(rhs, rel=TIGHT, abs=TIGHT)


@FAST
@given(K=st.floats(-2.0, 2.0), h=st.floats(-1.5, 1.5))
def test_1d_decimation_marginal_is_renormalised_boltzmann(K, h):
    # the marginal of p_{K,h} (8 spins) on the even sites equals p_{K',h'} on 4 spins, state by state
    s, p = rg.ising1d_boltzmann_probabilities(K, h, 8)
    Kp, hp, _ = rg.ising1d_decimation_step(K, h)
    _, pc = rg.ising1d_boltzmann_probabilities(Kp, hp, 4)
    idx = ((s[:, ::2] > 0).astype(np.int64) << np.arange(4)).sum(axis=1)
    marginal = np.bincount(idx, weights=p, minlength=16)
    np.testing.assert_allclose(marginal, pc, rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(K=st.floats(-2.0, 2.0), h=st.floats(-1.5, 1.5), N=st.integers(1, 16))
def test_1d_transfer_matrix_matches_enumeration(K, h, N):
    tm = rg.ising1d_thermo(K, h, N)
    en = rg.ising1d_enumerate_thermo(K, h, N)
    for a, b in zip(tm, en):
        assert a == pytest.approx(b, abs=TIGHT)


@FAST
@given(K=st.floats(-3.0, 3.0), h=st.floats(-2.0, 2.0))
def test_1d_thermodynamic_limit_closed_forms(K, h):
    t = rg.ising1d_thermo(K, h)
    # m = sinh h / sqrt(sinh^2 h + e^{-4K}) (textbook closed form); at h = 0: u = tanh K, log Z/N = log 2cosh K
    m = math.sinh(h) / math.sqrt(math.sinh(h) ** 2 + math.exp(-4 * K))
    assert t.magnetization == pytest.approx(m, abs=1e-13)
    t0 = rg.ising1d_thermo(K, 0.0)
    assert t0.nn_correlation == pytest.approx(math.tanh(K), abs=1e-14)
    assert t0.log_partition_per_site == pytest.approx(math.log(2 * math.cosh(K)), abs=1e-14)
    # finite N converges to N -> inf (corrections ~ r^N with |r| < 1)
    tN = rg.ising1d_thermo(K, h, 4000)
    assert tN.log_partition_per_site == pytest.approx(t.log_partition_per_site, abs=1e-12)


def test_1d_free_energy_constant_matches_thermodynamic_limit():
    # log Z/N (K,h) = g/2 + (1/2) log Z/N (K',h') in the N -> inf limit
    for K, h in ((0.3, 0.0), (1.2, 0.4), (-0.7, 1.1)):
        Kp, hp, g = rg.ising1d_decimation_step(K, h)
        assert rg.ising1d_log_partition_per_site(K, h) == pytest.approx(
            0.5 * g + 0.5 * rg.ising1d_log_partition_per_site(Kp, hp), abs=1e-14)


@FAST
@given(K0=st.floats(-2.0, 2.0), h0=st.floats(-1.0, 1.0), n=st.integers(0, 3),
       N=st.sampled_from([3, 4, 8, 12, 16]))
def test_1d_same_lattice_kl_matches_enumeration(K0, h0, n, N):
    flow = rg.ising1d_flow(K0, h0, n)
    _, p0 = rg.ising1d_boltzmann_probabilities(K0, h0, N)
    _, pn = rg.ising1d_boltzmann_probabilities(flow.K[-1], flow.h[-1], N)
    assert rg.ising1d_kl_original_vs_renormalised_per_site(K0, h0, n, N) == pytest.approx(
        kl_sum(p0, pn) / N, abs=TIGHT)
    assert rg.ising1d_kl_renormalised_vs_original_per_site(K0, h0, n, N) == pytest.approx(
        kl_sum(pn, p0) / N, abs=TIGHT)


@FAST
@given(K0=st.floats(-2.0, 2.0), h0=st.floats(-1.0, 1.0), n=st.integers(0, 3))
def test_1d_lifted_kl_matches_enumeration(K0, h0, n):
    N = 16
    _, p0 = rg.ising1d_boltzmann_probabilities(K0, h0, N)
    q = lifted_coarse_distribution(K0, h0, n, N)
    assert q.sum() == pytest.approx(1.0, abs=1e-13)
    assert rg.ising1d_kl_original_vs_lifted_coarse_per_site(K0, h0, n, N) == pytest.approx(
        kl_sum(p0, q) / N, abs=TIGHT)
    assert rg.ising1d_kl_lifted_coarse_vs_original_per_site(K0, h0, n, N) == pytest.approx(
        kl_sum(q, p0) / N, abs=TIGHT)


@FAST
@given(K0=st.floats(0.05, 3.0))
def test_1d_kl_starts_at_zero_rises_and_converges_zero_field(K0):
    ns = range(16)
    fwd = np.array([rg.ising1d_kl_original_vs_renormalised_per_site(K0, 0.0, n) for n in ns])
    rev = np.array([rg.ising1d_kl_renormalised_vs_original_per_site(K0, 0.0, n) for n in ns])
    lif = np.array([rg.ising1d_kl_original_vs_lifted_coarse_per_site(K0, 0.0, n) for n in ns])
    lir = np.array([rg.ising1d_kl_lifted_coarse_vs_original_per_site(K0, 0.0, n) for n in ns])
    for seq in (fwd, rev, lif, lir):
        assert seq[0] == 0.0
    for seq in (fwd, rev, lif):
        assert np.all(np.diff(seq) >= -1e-15)
    # D(q_n || p_K0) is NOT monotone: it jumps at n = 1 and then decreases to its limit
    assert np.all(np.diff(lir[1:]) <= 1e-15)
    # closed-form limits (docstring of ising1d_kl_limits): K tanh K - log cosh K and log cosh K
    lim_f = K0 * math.tanh(K0) - math.log(math.cosh(K0))
    lim_r = math.log(math.cosh(K0))
    lim = rg.ising1d_kl_limits(K0, 0.0)
    assert lim["original_vs_renormalised"] == pytest.approx(lim_f, abs=1e-14)
    assert lim["renormalised_vs_original"] == pytest.approx(lim_r, abs=1e-14)
    assert lim["original_vs_lifted_coarse"] == pytest.approx(lim_f, abs=1e-14)
    assert lim["lifted_coarse_vs_original"] == pytest.approx(lim_r, abs=1e-14)
    # K_n -> 0 doubly exponentially, so by n = 15 the same-lattice values sit on the limit;
    # the lifted ones approach it like 2^-n (exact formula: 2^-n (log 2 - s(K_n)) gap)
    assert fwd[-1] == pytest.approx(lim_f, abs=1e-12)
    assert rev[-1] == pytest.approx(lim_r, abs=1e-12)
    assert abs(lif[-1] - lim_f) <= 2.0 ** -15 * math.log(2) + 1e-14
    assert abs(lir[-1] - lim_r) <= 2.0 ** -15 * math.log(2) + 1e-14


@FAST
@given(K0=st.floats(0.0, 2.5), h0=st.floats(-1.5, 1.5))
def test_1d_kl_with_field_monotone_and_converges(K0, h0):
    ns = range(30)
    fwd = [rg.ising1d_kl_original_vs_renormalised_per_site(K0, h0, n) for n in ns]
    rev = [rg.ising1d_kl_renormalised_vs_original_per_site(K0, h0, n) for n in ns]
    lif = [rg.ising1d_kl_original_vs_lifted_coarse_per_site(K0, h0, n) for n in ns]
    assert np.all(np.diff(fwd) >= -1e-14)
    assert np.all(np.diff(rev) >= -1e-14)
    assert np.all(np.diff(lif) >= -1e-14)   # H(q_n) - H(p) grows for every (K0, h0) (chain rule)
    lim = rg.ising1d_kl_limits(K0, h0)
    assert fwd[-1] == pytest.approx(lim["original_vs_renormalised"], abs=1e-12)
    assert rev[-1] == pytest.approx(lim["renormalised_vs_original"], abs=1e-12)
    assert abs(lif[-1] - lim["original_vs_lifted_coarse"]) <= 2.0 ** -29 * 2 * math.log(2)


def test_1d_antiferromagnetic_start_is_not_monotone():
    # documented exception: from K0 < 0 the first step jumps to K1 > 0, then K_n -> 0 approaches K0 again
    seq = [rg.ising1d_kl_original_vs_renormalised_per_site(-1.0, 0.0, n) for n in range(6)]
    assert seq[1] > seq[-1] > 0


@pytest.mark.parametrize("call", [
    lambda: rg.ising1d_thermo(float("nan")),
    lambda: rg.ising1d_thermo(0.5, float("inf")),
    lambda: rg.ising1d_thermo(500.0),
    lambda: rg.ising1d_thermo(0.5, 0.0, 0),
    lambda: rg.ising1d_thermo(0.5, 0.0, 2.5),
    lambda: rg.ising1d_flow(0.5, 0.0, -1),
    lambda: rg.ising1d_kl_original_vs_lifted_coarse_per_site(0.5, 0.0, 3, 12),
    lambda: rg.ising1d_kl_lifted_coarse_vs_original_per_site(0.5, 0.0, 2, 6),
    lambda: rg.ising1d_kl_original_vs_renormalised_per_site(0.5, 0.0, 1.5),
    lambda: rg.ising1d_boltzmann_probabilities(0.5, 0.0, 30),
    lambda: rg.ising1d_decimation_step("a"),
])
def test_1d_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


# ============================================================================ 2-D Ising
def _onsager_mp(K):
    K = mp.mpf(K)
    k = 2 * mp.sinh(2 * K) / mp.cosh(2 * K) ** 2
    return mp.log(2 * mp.cosh(2 * K)) + mp.quad(
        lambda t: mp.log((1 + mp.sqrt(1 - k ** 2 * mp.sin(t) ** 2)) / 2), [0, mp.pi / 2]) / mp.pi


@pytest.mark.parametrize("K", [0.01, 0.04, 0.06, 0.2, 0.4, 0.44, 0.45, 0.7, 1.5, 4.0])
def test_onsager_against_mpmath(K):
    # mpmath at 30 digits: the single-integral free energy and its numerical K-derivative
    with mp.workdps(30):
        logz = _onsager_mp(K)
        u = mp.diff(_onsager_mp, K) / 2
    t = rg.ising2d_thermo(K)
    assert t.log_partition_per_site == pytest.approx(float(logz), abs=1e-14)
    assert t.nn_correlation == pytest.approx(float(u), abs=1e-13)
    assert t.entropy_per_site == pytest.approx(float(logz - 2 * K * u), abs=1e-13)


@pytest.mark.parametrize("K", [0.1, 0.3, 0.6, 1.0])
def test_onsager_single_vs_double_integral(K):
    assert rg.ising2d_log_partition_per_site(K) == pytest.approx(
        rg.ising2d_log_partition_double_integral(K), abs=1e-12)


def test_onsager_critical_point_values():
    Kc = rg.ISING2D_KC
    assert Kc == pytest.approx(0.5 * math.log(1 + math.sqrt(2)), rel=1e-15)
    t = rg.ising2d_thermo(Kc)
    # exact: <s s'> = 1/sqrt 2 and log Z/N = (1/2) log 2 + 2 G / pi at K_c (G = Catalan's constant)
    assert t.nn_correlation == pytest.approx(1 / math.sqrt(2), abs=1e-15)
    assert t.log_partition_per_site == pytest.approx(0.5 * math.log(2) + 2 * float(mp.catalan) / math.pi,
                                                     abs=1e-14)
    # the correlation is continuous through K_c
    assert rg.ising2d_nn_correlation(Kc - 1e-9) == pytest.approx(t.nn_correlation, abs=1e-7)
    assert rg.ising2d_nn_correlation(Kc + 1e-9) == pytest.approx(t.nn_correlation, abs=1e-7)


@FAST
@given(K=st.floats(0.02, 1.5), L=st.integers(1, 7))
def test_kaufman_strip_matches_numerical_transfer_matrix(K, L):
    a = rg.ising2d_strip_thermo(K, L)
    b = rg.ising2d_transfer_matrix_thermo(K, L)
    assert a.log_partition_per_site == pytest.approx(b.log_partition_per_site, abs=TIGHT)
    assert a.nn_correlation == pytest.approx(b.nn_correlation, abs=1e-11)


@FAST
@given(K=st.floats(0.0, 1.5), shape=st.sampled_from([(4, 4), (3, 4), (2, 3), (1, 3), (4, 2), (5, 3)]))
def test_finite_lattice_transfer_matrix_matches_enumeration(K, shape):
    a = rg.ising2d_transfer_matrix_thermo(K, *shape)
    b = rg.ising2d_enumerate_thermo(K, *shape)
    for x, y in zip(a, b):
        assert x == pytest.approx(y, abs=TIGHT)


@pytest.mark.parametrize("K", [0.3, 0.6])
def test_strips_converge_exponentially_to_onsager(K):
    ref = rg.ising2d_thermo(K)
    errs = [abs(rg.ising2d_strip_thermo(K, L).log_partition_per_site - ref.log_partition_per_site)
            for L in (4, 8, 16, 32, 64)]
    assert all(b < a for a, b in zip(errs, errs[1:]) if a > 1e-14)
    assert errs[-1] < 1e-14     # exponential convergence reaches double precision by L = 64
    assert rg.ising2d_strip_thermo(K, 64).nn_correlation == pytest.approx(ref.nn_correlation, abs=1e-14)


def test_strips_at_criticality_follow_conformal_correction():
    # at K_c: log Z_L/N - log Z/N = pi c / (6 L^2) + O(L^-4) with c = 1/2 (Bloete-Cardy-Nightingale 1986)
    Kc = rg.ISING2D_KC
    ref = rg.ising2d_log_partition_per_site(Kc)
    est = [(rg.ising2d_strip_thermo(Kc, L).log_partition_per_site - ref) * L ** 2 for L in (16, 32, 64)]
    gaps = [abs(e - math.pi / 12) for e in est]
    assert gaps[1] < gaps[0] / 3 and gaps[2] < gaps[1] / 3        # O(L^-2) relative correction
    assert est[-1] == pytest.approx(math.pi / 12, rel=1e-3)


@FAST
@given(K=st.floats(0.0, 2.0))
def test_plaquette_decimation_by_enumeration(K):
    K1, K2, K4, g = rg.ising2d_decimation_couplings(K)
    for s1, s2, s3, s4 in itertools.product((1, -1), repeat=4):
        lhs = sum(math.exp(K * s0 * (s1 + s2 + s3 + s4)) for s0 in (1, -1))
        rhs = math.exp(g + 0.5 * K1 * (s1 * s2 + s2 * s3 + s3 * s4 + s4 * s1) + K2 * (s1 * s3 + s2 * s4)
                       + K4 * s1 * s2 * s3 * s4)
        assert lhs == pytest.approx(rhs, rel=1e-13)


def test_decimation_step_on_4x4_lattice_preserves_z_and_marginal():
    # sum over the 8 spins of one checkerboard sublattice of a periodic 4x4 lattice, and compare with the
    # renormalised weights (8 g per configuration + plaquette couplings around each decimated site)
    K = 0.37
    K1, K2, K4, g = rg.ising2d_decimation_couplings(K)
    s, p = rg.ising2d_boltzmann_probabilities(K, 4, 4)
    sites = [(x, y) for y in range(4) for x in range(4)]
    col = {xy: i for i, xy in enumerate(sites)}
    dec = [xy for xy in sites if (xy[0] + xy[1]) % 2 == 1]
    surv = [xy for xy in sites if (xy[0] + xy[1]) % 2 == 0]
    logw = np.full(len(s), 8 * g)
    for (x, y) in dec:   # neighbours in cyclic order: right, up, left, down
        nb = [s[:, col[((x + 1) % 4, y)]], s[:, col[(x, (y + 1) % 4)]],
              s[:, col[((x - 1) % 4, y)]], s[:, col[(x, (y - 1) % 4)]]]
        n1, n2, n3, n4 = (v.astype(float) for v in nb)
        logw += 0.5 * K1 * (n1 * n2 + n2 * n3 + n3 * n4 + n4 * n1) + K2 * (n1 * n3 + n2 * n4) \
            + K4 * n1 * n2 * n3 * n4
    # each surviving configuration appears 2^8 times in the enumeration: keep one representative
    sidx = ((s[:, [col[xy] for xy in surv]] > 0).astype(np.int64) << np.arange(8)).sum(axis=1)
    rep = np.all(s[:, [col[xy] for xy in dec]] > 0, axis=1)
    logz_ren = np.log(np.exp(logw[rep]).sum())
    logz = 16 * rg.ising2d_enumerate_thermo(K, 4, 4).log_partition_per_site
    assert logz_ren == pytest.approx(logz, abs=1e-12)
    marginal = np.bincount(sidx, weights=p, minlength=256)
    ren = np.zeros(256)
    ren[sidx[rep]] = np.exp(logw[rep] - logz_ren)
    np.testing.assert_allclose(marginal, ren, rtol=1e-11, atol=1e-16)


def test_fixed_points_against_mpmath():
    with mp.workdps(30):
        oc = mp.findroot(lambda K: mp.mpf(3) / 8 * mp.log(mp.cosh(4 * K)) - K, 0.5)
        mk = mp.findroot(lambda K: mp.atanh(mp.tanh(2 * K) ** 2) - K, 0.3)
    assert rg.ising2d_fixed_point("one_coupling") == pytest.approx(float(oc), abs=1e-14)
    assert rg.ising2d_fixed_point("migdal_kadanoff") == pytest.approx(float(mk), abs=1e-14)
    # slopes at the fixed points by mpmath differentiation -> nu = log b / log slope
    with mp.workdps(30):
        s_oc = mp.diff(lambda K: mp.mpf(3) / 8 * mp.log(mp.cosh(4 * K)), oc)
        s_mk = mp.diff(lambda K: mp.atanh(mp.tanh(2 * K) ** 2), mk)
    assert rg.ising2d_rg_eigenvalue("one_coupling")["slope"] == pytest.approx(float(s_oc), rel=1e-13)
    assert rg.ising2d_rg_eigenvalue("migdal_kadanoff")["slope"] == pytest.approx(float(s_mk), rel=1e-13)


@pytest.mark.parametrize("scheme", rg.ISING2D_SCHEMES)
def test_truncated_flows_run_away_from_fixed_point(scheme):
    Ks = rg.ising2d_fixed_point(scheme)
    low = rg.ising2d_flow(Ks - 0.01, 80, scheme)
    high = rg.ising2d_flow(Ks + 0.01, 80, scheme)
    assert np.all(np.diff(low) <= 0) and low[-1] < 1e-12
    assert np.all(np.diff(high[np.isfinite(high)]) >= 0) and math.isinf(high[-1])
    at = rg.ising2d_flow(Ks, 5, scheme)
    np.testing.assert_allclose(at, Ks, rtol=1e-12)


@pytest.mark.parametrize("scheme", rg.ISING2D_SCHEMES)
@pytest.mark.parametrize("K0", [0.2, 0.3, 0.45, 0.6])
def test_2d_kl_on_4x4_matches_enumeration(scheme, K0):
    for n in range(4):
        Kn = rg.ising2d_flow(K0, n, scheme)[-1]
        _, p0 = rg.ising2d_boltzmann_probabilities(K0, 4, 4)
        _, pn = rg.ising2d_boltzmann_probabilities(Kn, 4, 4)
        assert rg.ising2d_kl_original_vs_renormalised_per_site(K0, n, scheme, lattice=(4, 4)) == \
            pytest.approx(kl_sum(p0, pn) / 16, abs=TIGHT)
        assert rg.ising2d_kl_renormalised_vs_original_per_site(K0, n, scheme, lattice=(4, 4)) == \
            pytest.approx(kl_sum(pn, p0) / 16, abs=TIGHT)


@pytest.mark.parametrize("scheme", rg.ISING2D_SCHEMES)
def test_2d_kl_on_strips_converges_to_onsager(scheme):
    K0, n = 0.25, 3
    ref = rg.ising2d_kl_renormalised_vs_original_per_site(K0, n, scheme)
    errs = [abs(rg.ising2d_kl_renormalised_vs_original_per_site(K0, n, scheme, lattice=L) - ref)
            for L in (4, 8, 16, 64)]
    assert errs[1] < errs[0] and errs[2] < errs[1] and errs[3] < 1e-13


@pytest.mark.parametrize("scheme", rg.ISING2D_SCHEMES)
@pytest.mark.parametrize("offset", [-0.15, -0.05, 0.02, 0.1, 0.3])
def test_2d_kl_rises_monotonically_to_asymptote(scheme, offset):
    Ks = rg.ising2d_fixed_point(scheme)
    K0 = Ks + offset
    ns = range(60)
    rev = np.array([rg.ising2d_kl_renormalised_vs_original_per_site(K0, n, scheme) for n in ns])
    fwd = np.array([rg.ising2d_kl_original_vs_renormalised_per_site(K0, n, scheme) for n in ns])
    assert rev[0] == 0.0 and fwd[0] == 0.0
    assert np.all(np.diff(rev) >= -1e-14)
    assert np.all(np.diff(fwd[np.isfinite(fwd)]) >= -1e-14)
    a = rg.ising2d_kl_asymptotes(K0, scheme)
    assert rev[-1] == pytest.approx(a["renormalised_vs_original"], abs=1e-12)
    if offset < 0:
        assert fwd[-1] == pytest.approx(a["original_vs_renormalised"], abs=1e-12)
    else:
        assert math.isinf(a["original_vs_renormalised"]) and math.isinf(fwd[-1])


def test_2d_asymptote_across_Kc_is_smooth_and_jumps_only_at_the_scheme_fixed_point():
    Kc = rg.ISING2D_KC
    # one-coupling: K* = 0.50698 > K_c, so the whole neighbourhood of K_c flows to K = 0 and the
    # asymptote D(p_0 || p_K0) = log Z(K0)/N - log 2 has slope 2 <s s'>(K0), continuous at K_c (= sqrt 2)
    f = lambda K: rg.ising2d_kl_asymptotes(K, "one_coupling")["renormalised_vs_original"]  # noqa: E731
    for h in (1e-3, 1e-4):
        left = (f(Kc) - f(Kc - h)) / h
        right = (f(Kc + h) - f(Kc)) / h
        assert left == pytest.approx(math.sqrt(2), abs=20 * h * math.log(1 / h))
        assert right == pytest.approx(math.sqrt(2), abs=20 * h * math.log(1 / h))
    # ... while it jumps at the scheme's own fixed point (phase boundary of the truncated flow)
    for scheme in rg.ISING2D_SCHEMES:
        Ks = rg.ising2d_fixed_point(scheme)
        lo = rg.ising2d_kl_asymptotes(Ks - 1e-9, scheme)["renormalised_vs_original"]
        hi = rg.ising2d_kl_asymptotes(Ks + 1e-9, scheme)["renormalised_vs_original"]
        t = rg.ising2d_thermo(Ks)
        assert lo - hi == pytest.approx(2 * Ks - math.log(2), abs=1e-7)    # (phi - log 2) - (phi - 2K*)
        assert rg.ising2d_kl_asymptotes(Ks, scheme)["renormalised_vs_original"] == 0.0
        assert t.log_partition_per_site > 0


@pytest.mark.parametrize("call", [
    lambda: rg.ising2d_thermo(-0.1),
    lambda: rg.ising2d_thermo(float("nan")),
    lambda: rg.ising2d_strip_thermo(0.3, 0),
    lambda: rg.ising2d_transfer_matrix_thermo(0.3, 11, 2),
    lambda: rg.ising2d_boltzmann_probabilities(0.3, 5, 5),
    lambda: rg.ising2d_flow(0.3, 3, "exact"),
    lambda: rg.ising2d_step(0.3, "bond_moving"),
    lambda: rg.ising2d_kl_original_vs_renormalised_per_site(0.3, 1, lattice="4x4"),
    lambda: rg.ising2d_kl_asymptotes(-1.0),
    lambda: rg.ising2d_log_partition_double_integral(10.0),
])
def test_2d_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


# ============================================================================ networks
def _mp_gauss(f, q):
    return mp.quad(lambda z: f(mp.sqrt(q) * z) * mp.npdf(z), [-mp.inf, -2, 0, 2, mp.inf])


@pytest.mark.parametrize("q", [0.05, 0.5, 2.0, 8.0, 20.0])
def test_gauss_hermite_against_mpmath(q):
    with mp.workdps(30):
        t2 = _mp_gauss(lambda u: mp.tanh(u) ** 2, q)
        s4 = _mp_gauss(lambda u: mp.sech(u) ** 4, q)
    assert 1 - rg.gauss_hermite_expectation(lambda u: 1 / np.cosh(u) ** 2, q) == pytest.approx(float(t2),
                                                                                                 abs=1e-12)
    assert rg.gauss_hermite_expectation(lambda u: 1 / np.cosh(u) ** 4, q) == pytest.approx(float(s4), abs=1e-12)


def _mp_meanfield(sw, sb):
    """(q*, chi_1) of the tanh network by mpmath at the working precision: q* = sw E[tanh^2(sqrt(q*) z)] + sb
    by findroot, chi_1 = sw E[sech^4(sqrt(q*) z)], each E by mp.quad against the normal density."""
    sw, sb = mp.mpf(sw), mp.mpf(sb)
    qs = mp.findroot(lambda q: sw * _mp_gauss(lambda u: mp.tanh(u) ** 2, q) + sb - q, sw * 0.5 + sb)
    return qs, sw * _mp_gauss(lambda u: mp.sech(u) ** 4, qs)


#: Mean-field references of the deep tanh network, (sigma_w^2, sigma_b^2) -> (q*, chi_1).  Source: mpmath
#: 1.3, _mp_meanfield above at 25 and at 35 digits (the same to the 22 digits kept here); recomputed by
#: test_meanfield_references_against_mpmath (-m slow, ~10 s: each entry is a findroot over quadratures).
MEANFIELD_MP = {
    ("1.0", "0.05"): ("0.1935925202452966424786", "0.7590316471853936006947"),
    ("2.0", "0.05"): ("0.7217618726520714236182", "1.047665999575735314195"),
    ("3.0", "0.3"): ("1.805183117978239905319", "1.095751057474426632697"),
    ("1.5", "0.0"): ("0.2868942293799907795222", "1.040567565032521862144"),
}
#: The order-to-chaos sigma_w^2 at sigma_b^2 = 0.05 (chi_1 = 1).  Source: mpmath 1.3, findroot of
#: _mp_meanfield(sw, 0.05)[1] = 1 from 1.76 at 25 and at 35 digits (the same to 22 digits); recomputed by
#: test_meanfield_references_against_mpmath (-m slow, ~20 s).  Poole et al. (2016) read 1.76 off their Fig. 2.
ORDER_TO_CHAOS_MP = "1.760954639606739131632"


@pytest.mark.parametrize("sw,sb", sorted(MEANFIELD_MP))
def test_length_fixed_point_and_chi1_against_mpmath(sw, sb):
    qs, chi = (float(v) for v in MEANFIELD_MP[sw, sb])
    assert rg.tanh_length_fixed_point(float(sw), float(sb)) == pytest.approx(qs, abs=1e-12)
    assert rg.tanh_chi1(float(sw), float(sb)) == pytest.approx(chi, abs=1e-12)
    mf = rg.tanh_meanfield(float(sw), float(sb))
    assert mf.quadrature_error < 1e-12


@pytest.mark.slow
def test_meanfield_references_against_mpmath():
    """The tabulated mpmath references above, recomputed (25 digits; they must agree to 1e-20)."""
    with mp.workdps(25):
        for (sw, sb), (qs, chi) in MEANFIELD_MP.items():
            got = _mp_meanfield(sw, sb)
            assert abs(got[0] - mp.mpf(qs)) < 1e-20 and abs(got[1] - mp.mpf(chi)) < 1e-20, (sw, sb, got)
        swc = mp.findroot(lambda sw: _mp_meanfield(sw, "0.05")[1] - 1, 1.76)
        assert abs(swc - mp.mpf(ORDER_TO_CHAOS_MP)) < 1e-20, swc


def test_order_to_chaos_line():
    sw_c = rg.tanh_order_to_chaos_sigma_w2(0.05)
    assert sw_c == pytest.approx(1.761, abs=5e-4)        # Poole et al. 2016 / THEORY.md section 7
    # chi_1 = 1 there: the mpmath root (ORDER_TO_CHAOS_MP); dchi_1/dsigma_w^2 ~ 0.2 on the line, so this
    # asks chi_1(sw_c) = 1 to ~2e-12
    assert sw_c == pytest.approx(float(ORDER_TO_CHAOS_MP), abs=1e-11)
    assert rg.tanh_order_to_chaos_sigma_w2(0.0) == 1.0
    assert rg.tanh_order_to_chaos_sigma_w2(0.1) > sw_c > rg.tanh_order_to_chaos_sigma_w2(0.01)


def test_correlation_map_fixed_points_and_depth_scale():
    sw_c = rg.tanh_order_to_chaos_sigma_w2(0.05)
    # c = 1 is always a fixed point; slope there is chi_1 (finite difference)
    assert rg.tanh_correlation_map(1.0, 2.0, 0.05) == pytest.approx(1.0, abs=1e-13)
    h = 1e-5
    slope = (1.0 - rg.tanh_correlation_map(1.0 - h, 2.0, 0.05)) / h
    assert slope == pytest.approx(rg.tanh_chi1(2.0, 0.05), rel=1e-3)
    ordered = rg.tanh_meanfield(1.5, 0.05)
    chaotic = rg.tanh_meanfield(2.5, 0.05)
    assert ordered.phase == "ordered" and ordered.rho_star == 1.0
    assert chaotic.phase == "chaotic" and 0 < chaotic.rho_star < 1
    assert rg.tanh_correlation_map(chaotic.rho_star, 2.5, 0.05) == pytest.approx(chaotic.rho_star, abs=1e-12)
    # the correlation depth scale diverges at the critical line from both sides
    xs_left = [rg.tanh_meanfield(sw_c - d, 0.05).xi_c for d in (0.3, 0.1, 0.03)]
    xs_right = [rg.tanh_meanfield(sw_c + d, 0.05).xi_c for d in (0.3, 0.1, 0.03)]
    assert xs_left[0] < xs_left[1] < xs_left[2] and xs_right[0] < xs_right[1] < xs_right[2]


def test_correlation_map_against_adaptive_quadrature():
    # independent method: adaptive 2-D quadrature (scipy dblquad) over |z| <= 9 (Gaussian tail < 1e-18)
    from scipy import integrate
    sw, sb, c = 2.0, 0.05, 0.6
    q = rg.tanh_length_fixed_point(sw, sb)
    s, sq = math.sqrt(1 - c ** 2), math.sqrt(q)
    f = lambda z2, z1: (math.tanh(sq * z1) * math.tanh(sq * (c * z1 + s * z2))  # noqa: E731
                        * math.exp(-0.5 * (z1 * z1 + z2 * z2)) / (2 * math.pi))
    e, err = integrate.dblquad(f, -9, 9, -9, 9, epsabs=1e-13, epsrel=1e-12)
    assert err < 1e-11
    assert rg.tanh_correlation_map(c, sw, sb) == pytest.approx((sw * e + sb) / q, abs=1e-10)


@pytest.mark.parametrize("sw", [1.2, 1.761, 2.5])
def test_network_meanfield_kl_zero_monotone_and_asymptote(sw):
    depth = 60
    kl = rg.network_kl_layer0_vs_layer_l_pushforward_meanfield(depth, sw, 0.05, 0.1)
    q = rg.tanh_length_sequence(depth, sw, 0.05, 0.1)
    assert kl[0] == 0.0
    assert np.all(np.diff(kl) >= 0) and np.all(np.diff(kl[:6]) > 0)   # q^0 = 0.1 sw + 0.05 < q* here
    np.testing.assert_allclose(kl, 0.5 * np.log(q / q[0]), rtol=0, atol=1e-15)
    qs = rg.tanh_length_fixed_point(sw, 0.05)
    assert kl[-1] == pytest.approx(0.5 * math.log(qs / q[0]), abs=1e-12)
    fit = rg.network_kl_gaussian_fit_layer0_vs_layer_l_meanfield(depth, sw, 0.05, 0.1)
    assert fit[0] == 0.0 and np.all(np.diff(fit) >= 0) and np.all(np.diff(fit[:6]) > 0)
    # above q*: the pushforward quantity decreases monotonically to a negative asymptote
    down = rg.network_kl_layer0_vs_layer_l_pushforward_meanfield(30, sw, 0.05, 5.0)
    assert np.all(np.diff(down) < 0) and down[-1] < 0


def test_network_asymptote_has_no_kink_at_the_critical_line():
    sb, v = 0.05, 0.1
    sw_c = rg.tanh_order_to_chaos_sigma_w2(sb)
    A = lambda sw: 0.5 * math.log(rg.tanh_length_fixed_point(sw, sb) / (sw * v + sb))  # noqa: E731
    # analytic slope from the implicit function theorem: dq*/dsw = E tanh^2 / (1 - chi_q)
    mf = rg.tanh_meanfield(sw_c, sb)
    t2 = (mf.q_star - sb) / sw_c
    dq = t2 / (1.0 - mf.chi_q)
    slope = 0.5 * (dq / mf.q_star - v / (sw_c * v + sb))
    gaps = []
    for h in (1e-2, 5e-3, 2.5e-3):
        left = (A(sw_c) - A(sw_c - h)) / h
        right = (A(sw_c + h) - A(sw_c)) / h
        gaps.append(right - left)
        assert left == pytest.approx(slope, abs=2 * abs(right - left) + 1e-6)
    # a kink would leave right - left -> const != 0; smoothness makes it O(h): halves with h
    assert abs(gaps[1]) == pytest.approx(abs(gaps[0]) / 2, rel=0.05)
    assert abs(gaps[2]) == pytest.approx(abs(gaps[1]) / 2, rel=0.05)


def test_network_mc_matches_meanfield_and_improves_with_width():
    sw, sb, v, depth = 2.0, 0.05, 0.1, 6
    mf = rg.network_kl_layer0_vs_layer_l_pushforward_meanfield(depth, sw, sb, v)
    est = rg.network_kl_layer0_vs_layer_l_pushforward_mc(depth, sw, sb, v, width=512, n_samples=32,
                                                         n_networks=6, seed=1)
    assert est.method == "monte-carlo" and np.all(est.stderr[1:] > 0) and est.value[0] == 0.0
    assert np.all(np.abs(est.z_score(mf)[1:]) < 5)
    # mean squared deviation of single networks from the mean-field value shrinks with width
    msd = []
    for width in (16, 64, 256):
        e = rg.network_kl_layer0_vs_layer_l_pushforward_mc(depth, sw, sb, v, width=width, n_samples=32,
                                                           n_networks=12, seed=2)
        per_net_var = (e.stderr[-1] ** 2) * 12
        msd.append(per_net_var + (e.value[-1] - mf[-1]) ** 2)
    assert msd[0] > msd[1] > msd[2]


def test_network_mc_is_reproducible():
    a = rg.network_kl_layer0_vs_layer_l_pushforward_mc(3, 1.5, 0.05, 0.1, width=64, n_samples=16,
                                                       n_networks=3, seed=123)
    b = rg.network_kl_layer0_vs_layer_l_pushforward_mc(3, 1.5, 0.05, 0.1, width=64, n_samples=16,
                                                       n_networks=3, seed=123)
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.stderr, b.stderr)


@pytest.mark.slow
def test_network_mc_wide_networks_agree_and_narrow_ones_are_biased():
    sw, sb, v, depth = 2.5, 0.05, 0.1, 8
    mf = rg.network_kl_layer0_vs_layer_l_pushforward_meanfield(depth, sw, sb, v)
    wide = rg.network_kl_layer0_vs_layer_l_pushforward_mc(depth, sw, sb, v, width=1000, n_samples=100,
                                                          n_networks=16, seed=5)
    assert np.all(np.abs(wide.z_score(mf)[1:]) < 5)
    narrow = rg.network_kl_layer0_vs_layer_l_pushforward_mc(depth, sw, sb, v, width=8, n_samples=200,
                                                            n_networks=400, seed=6)
    assert np.max(np.abs(narrow.z_score(mf)[1:])) > 5     # finite-width bias resolved at width 8


@pytest.mark.parametrize("call", [
    lambda: rg.tanh_length_map(1.0, -1.0, 0.05),
    lambda: rg.tanh_length_map(1.0, 1.0, -0.1),
    lambda: rg.tanh_length_map(-1.0, 1.0, 0.05),
    lambda: rg.tanh_length_fixed_point(float("nan"), 0.05),
    lambda: rg.tanh_correlation_map(1.5, 2.0, 0.05),
    lambda: rg.tanh_order_to_chaos_sigma_w2(-0.1),
    lambda: rg.network_kl_layer0_vs_layer_l_pushforward_meanfield(-1, 1.5, 0.05),
    lambda: rg.network_kl_layer0_vs_layer_l_pushforward_meanfield(5, 1.5, 0.05, -1.0),
    lambda: rg.network_kl_layer0_vs_layer_l_pushforward_meanfield(5, 1.5, 0.0, 0.0),
    lambda: rg.network_kl_layer0_vs_layer_l_pushforward_mc(3, 1.5, 0.05, width=0),
    lambda: rg.network_kl_layer0_vs_layer_l_pushforward_mc(3, 1.5, 0.05, n_networks=1),
    lambda: rg.gauss_hermite_expectation(np.tanh, -1.0),
])
def test_network_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


# ============================================================================ derivations and CLI hooks
# derivations/rg_decimation.py runs (and must say so) in tests/test_derivations.py


def test_cli_registry_lines():
    assert suite_tables.SUITES.get("rg") is suite_tables.rg_rows
    assert suite_figures.FIGURES.get("rg_kl_flow") is suite_figures.rg_figure


@pytest.mark.slow
def test_table_rows_are_flat_and_consistent():
    from nent_ref.suites.executor import TableOptions
    rows = suite_tables.rg_rows(TableOptions(quiet=True))
    for r in rows:
        assert all(isinstance(v, (int, float, str)) for v in r.values())
    crit = [r for r in rows if r["section"] == "network_order_to_chaos" and r["sigma_b2"] == 0.05]
    assert crit[0]["sigma_w2_critical"] == pytest.approx(1.761, abs=5e-4)


@pytest.mark.slow
def test_kl_flow_figure_writes_files(tmp_path):
    from nent_ref.suites.executor import TableOptions
    paths = suite_figures.rg_figure(tmp_path, TableOptions(quiet=True))
    assert {p.suffix for p in paths} == {".png", ".pdf", ".csv"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_2d_forward_asymptote_has_log_divergent_slope_at_Kc():
    # log 2 - s(K0) has slope 2 K0 d<ss'>/dK0, which diverges like (8 K_c / pi) (-log|K0 - K_c|)
    # (from Onsager's closed form: 2 tanh^2 2K - 1 ~ 2 sqrt2 dK and K(k) ~ -log|dK|): per decade of the
    # one-sided step the finite-difference slope grows by (8 K_c / pi) log 10 = 2.58396...
    Kc = rg.ISING2D_KC
    f = lambda K: rg.ising2d_kl_asymptotes(K, "one_coupling")["original_vs_renormalised"]  # noqa: E731
    slopes = [(f(Kc + h) - f(Kc)) / h for h in (1e-3, 1e-4, 1e-5)]
    per_decade = 8 * Kc / math.pi * math.log(10)
    assert slopes[2] - slopes[1] == pytest.approx(per_decade, rel=5e-3)
    assert abs(slopes[2] - slopes[1] - per_decade) < abs(slopes[1] - slopes[0] - per_decade)


# ============================================================================ issue 11: no NaN, seeds, real input
_IN_RANGE_K = (0.0, 1e-300, 1e-8, 0.3, -0.7, 1.0, 5.0, 40.0, 100.0, -100.0)
_IN_RANGE_H = (0.0, 1e-300, 0.2, -1.0, 7.0, 100.0, -100.0)
_STEPS = (0, 1, 4, 60)


def _all_numbers(x) -> bool:
    """True when every number in x (float, array, NamedTuple, dict, Estimate) is not NaN."""
    if isinstance(x, str) or x is None:
        return True
    if isinstance(x, dict):
        return all(_all_numbers(v) for v in x.values())
    if isinstance(x, tuple):
        return all(_all_numbers(v) for v in x)
    if hasattr(x, "stderr") and hasattr(x, "value"):
        return _all_numbers(x.value) and _all_numbers(x.stderr)
    return not np.any(np.isnan(np.asarray(x, dtype=float)))


def test_1d_flow_g_has_no_nan_padding():
    # regression (issue 11): ising1d_flow(...).g ended with NaN.  g[n] = g(K_n, h_n) for every n, the last
    # entry being the constant of the step the flow does not take.
    for K0, h0, n in ((1.0, 0.0, 3), (0.5, 0.0, 10), (1.0, 0.2, 10), (2.0, 0.0, 0)):
        flow = rg.ising1d_flow(K0, h0, n)
        assert flow.g.shape == flow.K.shape == flow.h.shape == (n + 1,)
        assert np.all(np.isfinite(flow.g))
        for k in range(n + 1):
            assert flow.g[k] == rg.ising1d_decimation_step(flow.K[k], flow.h[k])[2]
    # g = log 2 + log cosh h + K' (docstring) at the fixed line K = 0: log(2 cosh h)
    assert rg.ising1d_flow(0.0, 0.3, 2).g[-1] == pytest.approx(math.log(2 * math.cosh(0.3)), rel=1e-15)


def test_1d_public_outputs_hold_no_nan_over_the_coupling_box():
    # every 1-D function on a grid of the whole public box |K|, |h| <= 100 (K -> 0, large K, h != 0, many
    # steps): a number (no NaN) and no exception.  Before issue 11 a flow from e.g. (1e-8, 100) stopped
    # with "|K| and |h| must be <= 100" once the field had grown past 100 inside the flow.
    kls = (rg.ising1d_kl_original_vs_renormalised_per_site, rg.ising1d_kl_renormalised_vs_original_per_site,
           rg.ising1d_kl_original_vs_lifted_coarse_per_site, rg.ising1d_kl_lifted_coarse_vs_original_per_site)
    for K, h in itertools.product(_IN_RANGE_K, _IN_RANGE_H):
        assert _all_numbers(rg.ising1d_decimation_step(K, h))
        assert _all_numbers(rg.ising1d_kl_limits(K, h))
        for N in (None, 1, 16):
            assert _all_numbers(rg.ising1d_thermo(K, h, N))
        for n in _STEPS:
            flow = rg.ising1d_flow(K, h, n)
            assert _all_numbers(flow), (K, h, n)
            for f in kls:
                for N in (None, 2 ** n if n <= 4 else None):
                    value = f(K, h, n, N)
                    assert math.isfinite(value) and value >= 0.0, (f.__name__, K, h, n, N)


@FAST
@given(K=st.floats(-100.0, 100.0), h=st.floats(-100.0, 100.0))
def test_1d_flow_does_not_increase_abs_h_plus_two_abs_K(K, h):
    # the bound behind the internal range |h_n| <= 300 (docstring of ising1d_flow)
    flow = rg.ising1d_flow(K, h, 40)
    bound = np.abs(flow.h) + 2 * np.abs(flow.K)
    assert np.all(np.diff(bound) <= 1e-12 * (1 + bound[:-1]))
    assert np.max(np.abs(flow.h)) <= 300.0 + 1e-9


def test_2d_and_network_public_outputs_hold_no_nan():
    # 2-D: the only non-finite value allowed is the documented +inf (flow to the ordered fixed point and
    # D(p_K0 || p_inf) beyond K*); networks: all finite.  Bad values raise ValueError, nothing else.
    for K in (0.0, 1e-300, 1e-8, 0.3, rg.ISING2D_KC, 0.6, 30.0, 1e6):
        assert _all_numbers(rg.ising2d_thermo(K)) and _all_numbers(rg.ising2d_decimation_couplings(K))
        for L in (1, 4):
            assert np.all(np.isfinite(rg.ising2d_strip_thermo(K, L)))
        for scheme in rg.ISING2D_SCHEMES:
            assert _all_numbers(rg.ising2d_kl_asymptotes(K, scheme))
            assert _all_numbers(rg.ising2d_flow(K, 100, scheme))
            for n, lattice in itertools.product((0, 1, 30), (None, 4, (2, 3))):
                assert not math.isnan(rg.ising2d_kl_original_vs_renormalised_per_site(K, n, scheme, lattice))
                assert not math.isnan(rg.ising2d_kl_renormalised_vs_original_per_site(K, n, scheme, lattice))
    for sw, sb, v in ((1e-300, 0.0, 0.1), (0.5, 0.0, 1e-300), (1.5, 0.05, 0.0), (50.0, 50.0, 1.0)):
        for f in (rg.network_kl_layer0_vs_layer_l_pushforward_meanfield,
                  rg.network_kl_gaussian_fit_layer0_vs_layer_l_meanfield):
            try:
                out = f(6, sw, sb, v)
            except ValueError as err:
                assert "q^" in str(err)
                continue
            assert np.all(np.isfinite(out))
        try:
            mc = rg.network_kl_layer0_vs_layer_l_pushforward_mc(2, sw, sb, v, width=8, n_samples=4, n_networks=2)
        except ValueError as err:
            assert "q^0" in str(err) or "underflows" in str(err)
        else:
            assert _all_numbers(mc)


def test_network_underflowing_lengths_raise_instead_of_nan():
    # sigma_b2 = 0 with a contracting length map: q^l decays geometrically and underflows; the fitted KL was
    # 0.5 (r - 1 - log r) = inf - inf = NaN there.  Now a ValueError naming the layer.
    with pytest.raises(ValueError, match="underflows double precision from layer"):
        rg.network_kl_gaussian_fit_layer0_vs_layer_l_meanfield(1200, 0.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="underflows"):
        rg.network_kl_layer0_vs_layer_l_pushforward_mc(2, 1e-300, 0.0, 1.0, width=8, n_samples=4, n_networks=2)


def _kaufman_mp(K, L):
    K = mp.mpf(K)
    S, C = mp.sinh(2 * K), mp.cosh(2 * K)
    return (mp.log(2 * S) / 2
            + mp.fsum(mp.acosh(C ** 2 / S - mp.cos(mp.pi * (2 * j + 1) / L)) for j in range(L)) / (2 * L))


@pytest.mark.parametrize("K", [1e-12, 1e-8, 1e-5, 1e-3, 0.02, 0.3])
@pytest.mark.parametrize("L", [1, 2, 3, 4, 7])
def test_kaufman_strip_small_K_against_mpmath(K, L):
    # regression: the naive derivative lost all digits of <s s'> ~ K at small K (12% wrong at K = 1e-8,
    # L = 4; ZeroDivisionError at K = 1e-300).  Reference: Kaufman's formula at 50 digits (mpmath),
    # the correlation by mpmath differentiation.
    with mp.workdps(50):
        logz = _kaufman_mp(K, L)
        u = mp.diff(lambda k: _kaufman_mp(k, L), mp.mpf(K)) / 2
    t = rg.ising2d_strip_thermo(K, L)
    assert t.log_partition_per_site == pytest.approx(float(logz), rel=1e-15, abs=0)
    assert t.nn_correlation == pytest.approx(float(u), rel=2e-15, abs=0)
    assert t.entropy_per_site == pytest.approx(float(logz - 2 * K * u), rel=1e-15, abs=0)


@pytest.mark.parametrize("L,slope", [(1, None), (2, 1.5), (3, 1.0), (4, 1.0), (7, 1.0)])
def test_kaufman_strip_at_K_1e_300(L, slope):
    # was a ZeroDivisionError.  High-temperature limit (first order in K): <s s'> = K per bond for L >= 3;
    # L = 2 counts each vertical bond twice ((K + 2K)/2); L = 1 has the self-bond s s = 1: (1 + K)/2.
    t = rg.ising2d_strip_thermo(1e-300, L)
    assert t.log_partition_per_site == math.log(2) and t.entropy_per_site == math.log(2)
    expected = 0.5 if slope is None else slope * 1e-300
    assert t.nn_correlation == pytest.approx(expected, rel=1e-14, abs=0)


@pytest.mark.parametrize("q", [1e-12, 1e-8, 1e-4, 0.3])
def test_length_map_small_q_relative_accuracy(q):
    # regression: q' = sigma_w2 (1 - E sech^2) + sigma_b2 lost the relative accuracy of E tanh^2 ~ q
    # (4e-6 relative error at q = 1.5e-10).  Reference: mpmath quadrature at 40 digits.
    with mp.workdps(40):
        ref = 1.5 * _mp_gauss(lambda u: mp.tanh(u) ** 2, mp.mpf(q))
    assert rg.tanh_length_map(q, 1.5, 0.0) == pytest.approx(float(ref), rel=1e-13, abs=0)


# --------------------------------------------------------------------------- seeds (one validator)
_BAD_SEEDS = [-1, "a", 1.5, True, [1, -2]]


@pytest.mark.parametrize("seed", _BAD_SEEDS)
def test_network_mc_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        rg.network_kl_layer0_vs_layer_l_pushforward_mc(2, 1.5, 0.05, 0.1, width=8, n_samples=4, n_networks=2,
                                                       seed=seed)


def test_network_mc_accepts_seed_sequences_and_generators():
    kw = dict(width=8, n_samples=4, n_networks=2)
    f = rg.network_kl_layer0_vs_layer_l_pushforward_mc
    a = f(2, 1.5, 0.05, 0.1, seed=5, **kw)
    b = f(2, 1.5, 0.05, 0.1, seed=np.random.SeedSequence(5), **kw)
    np.testing.assert_array_equal(a.value, b.value)          # int and SeedSequence(int): same streams
    g1 = f(2, 1.5, 0.05, 0.1, seed=np.random.default_rng(3), **kw)
    g2 = f(2, 1.5, 0.05, 0.1, seed=np.random.default_rng(3), **kw)
    np.testing.assert_array_equal(g1.value, g2.value)         # a Generator: deterministic given its seed
    assert not np.array_equal(g1.value, a.value)


class _SeedOptions:
    workers, quiet = 1, True

    def __init__(self, seed):
        self.seed = seed

    def progress(self, message):
        pass


@pytest.mark.parametrize("seed", _BAD_SEEDS)
def test_table_and_figure_reject_bad_seeds_before_computing(seed, tmp_path, monkeypatch):
    def boom(*a, **k):                       # nothing may be computed before the seed is checked
        raise AssertionError("computed before validating the seed")
    monkeypatch.setattr(suite_tables, "_ising1d_rows", boom)
    monkeypatch.setattr(suite_figures, "ising1d_kl_original_vs_renormalised_per_site", boom)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        suite_tables.rg_rows(_SeedOptions(seed))
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        suite_figures.rg_figure(tmp_path, _SeedOptions(seed))


def test_table_rows_accept_a_generator_seed(monkeypatch):
    # the Monte Carlo rows get keyed children of the seed sequence (stubbed to a tiny network for speed)
    # (the rg suite imports the rg functions when it runs, so the stub goes on nent_ref.rg)
    real = rg.network_kl_layer0_vs_layer_l_pushforward_mc
    seeds = []

    def small(depth, sw, sb, v, width, n_samples, n_networks, seed):
        seeds.append(seed)
        return real(depth, sw, sb, v, width=8, n_samples=4, n_networks=2, seed=seed)
    monkeypatch.setattr(rg, "network_kl_layer0_vs_layer_l_pushforward_mc", small)
    rows = suite_tables.rg_rows(_SeedOptions(np.random.default_rng(11)))
    assert all(isinstance(s, np.random.SeedSequence) for s in seeds) and len(seeds) == len(suite_tables._NETWORK_SW2)
    assert len({s.spawn_key for s in seeds}) == len(seeds)
    assert all(_all_numbers(r) for r in rows)
    assert row_seed(suite_seed(4), 7, 2) == [4, 7, 2]   # int seeds keep the shipped streams


# --------------------------------------------------------------------------- complex input
@pytest.mark.parametrize("call", [
    lambda: rg.ising1d_thermo(np.complex128(0.5)),
    lambda: rg.ising1d_thermo(0.5, 0.1 + 0j),
    lambda: rg.ising1d_flow(np.complex128(0.5), 0.0, 2),
    lambda: rg.ising1d_decimation_step(0.5 + 1j),
    lambda: rg.ising1d_kl_limits(0.5, np.complex64(0.1)),
    lambda: rg.ising2d_thermo(np.complex128(0.5)),
    lambda: rg.ising2d_one_coupling_step(0.3 + 0j),
    lambda: rg.tanh_length_map(np.complex128(0.5), 1.5, 0.05),
    lambda: rg.tanh_meanfield(np.complex128(1.5), 0.05),
    lambda: rg.network_kl_layer0_vs_layer_l_pushforward_meanfield(3, 1.5, 0.05, np.complex128(0.1)),
])
def test_complex_couplings_rejected(call):
    # np.complex128 scalars were silently cast to their real part (ComplexWarning)
    with pytest.raises(ValueError, match="real"):
        call()


def _ring_mp(K, h, N):
    """(log Z_N / N, <s_i s_i+1>, <s_i>, entropy per site) of the periodic ring by exact enumeration in mpmath."""
    K, h = mp.mpf(K), mp.mpf(h)
    Z = U = M = mp.mpf(0)
    for s in itertools.product((-1, 1), repeat=N):
        bonds = sum(s[i] * s[(i + 1) % N] for i in range(N))
        w = mp.exp(K * bonds + h * sum(s))
        Z, U, M = Z + w, U + w * bonds, M + w * sum(s)
    logz, u, m = mp.log(Z) / N, U / Z / N, M / Z / N
    return logz, u, m, logz - K * u - h * m


@pytest.mark.parametrize("K", [-100.0, -20.0, -10.0, -5.0, -0.7, 0.0, 0.7, 30.0])
@pytest.mark.parametrize("h", [0.0, 0.3, -2.0, 40.0])
@pytest.mark.parametrize("N", [1, 2, 3, 5])
def test_1d_finite_ring_against_mpmath_enumeration(K, h, N):
    # regression: for K << 0 and odd N (a frustrated ring) 1 + r^N with r -> -1 cancelled: 1e-8 relative
    # errors at K = -10, N = 3 and "math domain error" at K = -20, N = 5 or K = -100, N = 1.  Reference:
    # exact enumeration of the 2^N states at 50 digits (mpmath).
    with mp.workdps(50):
        ref = [float(v) for v in _ring_mp(K, h, N)]
    t = rg.ising1d_thermo(K, h, N)
    scale = 1.0 + abs(K) + abs(h)
    assert t.log_partition_per_site == pytest.approx(ref[0], rel=1e-14, abs=1e-15 * scale)
    assert t.nn_correlation == pytest.approx(ref[1], rel=1e-14, abs=1e-15 * scale)
    assert t.magnetization == pytest.approx(ref[2], rel=1e-14, abs=1e-15 * scale)
    assert t.entropy_per_site == pytest.approx(ref[3], abs=1e-15 * scale)


# --------------------------------------------------------------------------- issue 18: sizes are bounded
def test_ising1d_flow_refuses_a_billion_steps_at_once():
    # issue 18 reproducer: ising1d_flow(0.8, 0.0, 10**9) ran past 30 s towards gigabytes of output
    with pytest.raises(ValueError, match=r"^n_steps = 1000000000 is above the limit 1000000"):
        rg.ising1d_flow(0.8, 0.0, 10 ** 9)
    for call in (lambda: rg.ising1d_kl_original_vs_renormalised_per_site(0.8, 0.0, n=10 ** 9),
                 lambda: rg.ising1d_kl_original_vs_lifted_coarse_per_site(0.8, 0.0, n=10 ** 9),
                 lambda: rg.ising1d_kl_limits(0.8, 0.0, max_steps=10 ** 9)):
        with pytest.raises(ValueError, match=r"^(n|max_steps) = 1000000000 is above the limit"):
            call()
    with pytest.raises(ValueError, match=r"^n_steps = 1000000000 is above"):
        rg.ising2d_flow(0.3, 10 ** 9)


@pytest.mark.parametrize("K0, h0", [(0.8, 0.0), (0.8, 0.3), (20.0, -5.0), (-3.0, 0.5)])
def test_ising1d_flow_fill_after_the_fixed_point_equals_stepping(K0, h0):
    # a second route: the flow stepped one decimation at a time, every step taken
    n = 400
    flow = rg.ising1d_flow(K0, h0, n)
    K, h = K0, h0
    Ks, hs, gs = [K], [h], []
    for _ in range(n):
        K, h, g = rg.ising1d_decimation_step(K, h)
        Ks.append(K)
        hs.append(h)
        gs.append(g)
    gs.append(rg.ising1d_decimation_step(K, h)[2])
    np.testing.assert_array_equal(flow.K, Ks)
    np.testing.assert_array_equal(flow.h, hs)
    np.testing.assert_array_equal(flow.g, gs)
    big = rg.ising1d_flow(K0, h0, rg.MAX_STEPS)           # fast: filled in after the fixed point
    assert big.K.shape == (rg.MAX_STEPS + 1,) and big.K[-1] == Ks[-1] and big.h[-1] == hs[-1]
    np.testing.assert_array_equal(big.g[:n + 1], flow.g[:n + 1])


@pytest.mark.parametrize("K0", [0.3, 0.6, 2.0])
def test_ising2d_flow_fill_after_the_fixed_point_equals_stepping(K0):
    flow = rg.ising2d_flow(K0, 300)
    K, out = K0, [K0]
    for _ in range(300):
        K = math.inf if (not math.isfinite(K) or K > 1e5) else rg.ising2d_step(K)
        out.append(K)
    np.testing.assert_array_equal(flow, out)


def test_rg_sizes_are_bounded_and_named():
    cases_ = [
        (lambda: rg.ising2d_strip_thermo(0.3, 10 ** 12), r"^L = 1000000000000 is above the limit 10000000"),
        (lambda: rg.tanh_length_sequence(10 ** 9, 1.0, 0.1), r"^depth = 1000000000 is above the limit 10000"),
        (lambda: rg.tanh_length_sequence(3, 1.0, 0.1, input_variance=1e12), r"^input_variance: the variance q"),
        (lambda: rg.tanh_length_map(1e12, 1.0, 0.1), r"^q: the variance q = 1e\+12 needs"),
        (lambda: rg.gauss_hermite_expectation(np.tanh, 1.0, n_nodes=10 ** 9), r"^n_nodes = 1000000000 is above"),
        (lambda: rg.network_kl_layer0_vs_layer_l_pushforward_mc(2, 1.0, 0.1, width=10 ** 6),
         r"^width = 1000000 is above the limit 4096"),
        (lambda: rg.network_kl_layer0_vs_layer_l_pushforward_mc(2, 1.0, 0.1, width=100, n_samples=10 ** 8),
         r"^n_samples = 100000000 is above the limit 1000000"),
    ]
    for call, message in cases_:
        with pytest.raises(ValueError, match=message):
            call()
