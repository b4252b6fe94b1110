"""Numba kernels of nent_ref.core.kernels against their plain-numpy twins (<= 1e-12 relative)."""
import math
import os

import numpy as np
import pytest

import nent_ref as nr
import nent_ref.suites.cases  # noqa: F401
from nent_ref.core import kernels as kr

RTOL = 1e-12


def _random_mixture(rng, K, D, kind):
    lw = np.log(rng.dirichlet(np.ones(K)))
    means = rng.normal(0.0, 2.0, (K, D))
    if kind == "iso":
        covs = rng.uniform(0.1, 2.0, K)
    elif kind == "diag":
        covs = rng.uniform(0.1, 2.0, (K, D))
    else:
        A = rng.normal(size=(K, D, D))
        covs = A @ A.transpose(0, 2, 1) / D + 0.2 * np.eye(D)
    return lw, means, covs


def _close(a, b, rtol=RTOL):
    """Relative agreement; the score scale is the largest score entry (norm-wise relative)."""
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.max(np.abs(b)))


@pytest.mark.parametrize("kind", ["iso", "diag", "full"])
@pytest.mark.parametrize("D", [1, 3, 9])
def test_mixture_kernel_matches_numpy(kind, D):
    rng = np.random.default_rng([1, D, len(kind)])
    lw, means, covs = _random_mixture(rng, 5, D, kind)
    x = rng.normal(0.0, 3.0, (300, D))
    lp, sc = kr.mixture_logpdf_score(x, lw, means, covs)
    lp0, sc0 = kr.mixture_logpdf_score_numpy(x, lw, means, covs)
    np.testing.assert_allclose(lp, lp0, rtol=RTOL)
    _close(sc, sc0)


@pytest.mark.parametrize("kind", ["iso", "diag", "full"])
def test_mixture_kernel_far_points_and_dominant_component(kind):
    """No underflow far from every component, no NaN when one component dominates."""
    rng = np.random.default_rng(7)
    D = 3
    lw, means, covs = _random_mixture(rng, 4, D, kind)
    x = np.vstack([means[0], means[0] + 1e-9, np.full(D, 1e4), np.full(D, -3e5)])
    lp, sc = kr.mixture_logpdf_score(x, lw, means, covs)
    assert np.all(np.isfinite(lp)) and np.all(np.isfinite(sc))
    lp0, sc0 = kr.mixture_logpdf_score_numpy(x, lw, means, covs)
    np.testing.assert_allclose(lp, lp0, rtol=RTOL)
    _close(sc, sc0)
    # far away the mixture score is that of the component with the widest spread in that direction:
    # compare with the exact single-component scores, one of which must match to rounding
    full = covs if kind == "full" else (covs[:, None, None] * np.eye(D) if kind == "iso"
                                        else covs[:, :, None] * np.eye(D))
    comp_scores = [-np.linalg.solve(full[k], x[2] - means[k]) for k in range(4)]
    assert min(np.max(np.abs(sc[2] - c)) / np.max(np.abs(c)) for c in comp_scores) < 1e-10


def test_mixture_kernel_single_component_is_gaussian():
    g = nr.cases.gaussian_case(3)
    x = np.random.default_rng(3).normal(size=(50, 3))
    lp, sc = kr.mixture_logpdf_score(x, np.zeros(1), g.mean[None], g.cov[None])
    np.testing.assert_allclose(lp, g.logpdf(x), rtol=RTOL)
    _close(sc, g.score(x))


def test_logsumexp_handles_minus_inf():
    assert kr.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert kr.logsumexp(np.array([-np.inf, 0.0])) == 0.0
    assert math.isclose(kr.logsumexp(np.array([1000.0, 1000.0])), 1000.0 + math.log(2.0), rel_tol=1e-15)


@pytest.mark.parametrize("v", [1e-3, 0.1, 2.0])
def test_empirical_kernel_matches_numpy(v):
    """Blocked matrix-product kernel (sparse and dense weighted sums) vs direct differences."""
    rng = np.random.default_rng([2, int(v * 1000)])
    N, D = 400, 5
    atoms = rng.normal(size=(N, D))
    lw = np.log(rng.dirichlet(np.ones(N)))
    x = 0.8 * atoms[rng.integers(0, N, 60)] + rng.normal(0, math.sqrt(v), (60, D))
    # a tiny block forces many query blocks
    lp, sc = kr.empirical_logpdf_score(x, atoms, lw, 0.8, v, block_bytes=8 * N * 7, min_block_rows=1)
    lp0, sc0 = kr.empirical_logpdf_score_numpy(x, atoms, lw, 0.8, v)
    np.testing.assert_allclose(lp, lp0, rtol=RTOL)
    _close(sc, sc0)


def test_empirical_kernel_equals_isotropic_mixture_kernel():
    rng = np.random.default_rng(5)
    atoms = rng.normal(size=(40, 2))
    lw = np.full(40, -math.log(40))
    x = rng.normal(size=(30, 2))
    mu, v = 0.6, 0.3
    lp, sc = kr.empirical_logpdf_score(x, atoms, lw, mu, v)
    lp0, sc0 = kr.mixture_logpdf_score(x, lw, mu * atoms, np.full(40, v))
    np.testing.assert_allclose(lp, lp0, rtol=RTOL)
    _close(sc, sc0)


def test_kernel_bad_input():
    with pytest.raises(ValueError, match="shape"):
        kr.mixture_logpdf_score(np.zeros((3, 2)), np.zeros(2), np.zeros((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="covs must have shape"):
        kr.mixture_logpdf_score(np.zeros((3, 2)), np.zeros(2), np.zeros((2, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="positive"):
        kr.mixture_logpdf_score(np.zeros((3, 2)), np.zeros(2), np.zeros((2, 2)), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="positive definite"):
        kr.mixture_logpdf_score(np.zeros((3, 2)), np.zeros(1), np.zeros((1, 2)), -np.eye(2)[None])
    with pytest.raises(ValueError, match="positive variance"):
        kr.empirical_logpdf_score(np.zeros((3, 2)), np.zeros((4, 2)), np.zeros(4), 1.0, 0.0)


@pytest.mark.slow
def test_empirical_kernel_mnist_sized_memory_is_linear():
    """N = 60000 atoms in D = 784: the kernel allocates O(block + (M + N) D), not O(M N D),
    and agrees with direct differences (checked on a few queries)."""
    import tracemalloc
    rng = np.random.default_rng(0)
    N, D, M = 60_000, 784, 64
    atoms = rng.uniform(0.0, 1.0, (N, D))
    lw = np.full(N, -math.log(N))
    for mu, v in ((0.99, 1e-4), (0.6, 0.6)):
        x = mu * atoms[rng.integers(0, N, M)] + math.sqrt(v) * rng.standard_normal((M, D))
        tracemalloc.start()
        lp, sc = kr.empirical_logpdf_score(x, atoms, lw, mu, v)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # 256-row distance block (123 MB) + per-atom norms + outputs; below one extra copy of the atoms
        assert peak < 0.5 * atoms.nbytes
        lp0, sc0 = kr.empirical_logpdf_score_numpy(x[:3], atoms, lw, mu, v)
        np.testing.assert_allclose(lp[:3], lp0, rtol=RTOL)
        _close(sc[:3], sc0)


# --------------------------------------------------------------------------- far points (issue 11, item 4)
def _far_points(rng, D):
    near = rng.normal(size=(4, D))
    far = np.zeros((6, D))
    far[0, 0] = 1e160
    far[1] = 1e200 * rng.normal(size=D)
    far[2, 0], far[2, -1] = -1e300, 1e300
    far[3, 0] = 1e154                            # |x|^2 overflows, the energy does not
    far[4] = 1e140                               # finite, huge energies (expansion cancellation)
    far[5, 0] = 3e153
    return np.concatenate([near, far])


@pytest.mark.parametrize("kind", ["iso", "diag", "full"])
@pytest.mark.parametrize("D", [1, 3])
def test_mixture_kernel_far_points_no_nan_and_twin_agrees(kind, D):
    rng = np.random.default_rng([5, D, len(kind)])
    lw, means, covs = _random_mixture(rng, 4, D, kind)
    x = _far_points(rng, D)
    lp, sc = kr.mixture_logpdf_score(x, lw, means, covs)
    lp2, sc2 = kr.mixture_logpdf_score_numpy(x, lw, means, covs)
    assert not np.any(np.isnan(lp)) and not np.any(np.isnan(sc))
    assert np.all(lp[4:7] == -np.inf) and np.all(np.isfinite(lp[:4]))
    np.testing.assert_array_equal(np.isfinite(lp), np.isfinite(lp2))
    fin = np.isfinite(lp)
    np.testing.assert_allclose(lp[fin], lp2[fin], rtol=1e-12)
    np.testing.assert_array_equal(np.isinf(sc), np.isinf(sc2))
    ok = np.isfinite(sc)
    np.testing.assert_allclose(sc[ok], sc2[ok], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["iso", "diag", "full"])
def test_mixture_far_points_agree_with_gaussian_of_the_dominant_component(kind):
    """Far away the widest component dominates: log p -> -inf as for Gaussian, score = its score."""
    means = np.array([[-2.0, 0.5], [1.0, 0.0]])
    covs = {"iso": np.array([0.5, 0.2]), "diag": np.array([[0.5, 0.5], [0.2, 0.3]]),
            "full": np.array([[[0.5, 0.1], [0.1, 0.5]], [[0.2, 0.0], [0.0, 0.2]]])}[kind]
    mix = nr.GaussianMixture([0.3, 0.7], means, covs)
    wide = nr.Gaussian(means[0], mix.full_covs()[0])
    for x in ([[1e160, 0.0]], [[1e200, -1e199]], [[0.0, -1e250]]):
        assert mix.logpdf(x)[0] == wide.logpdf(x)[0] == -np.inf
        np.testing.assert_allclose(mix.score(x), wide.score(x), rtol=1e-13)


def test_issue_reproducer_far_mixture():
    mix = nr.GaussianMixture([0.3, 0.7], [[-2.0], [1.0]], [0.5, 0.2])
    g = nr.Gaussian([-2.0], [[0.5]])
    assert mix.logpdf([[1e160]])[0] == g.logpdf([[1e160]])[0] == -np.inf
    assert mix.score([[1e200]])[0, 0] == g.score([[1e200]])[0, 0] == -2e200


@pytest.mark.parametrize("v", [0.3, 1e-20])
def test_empirical_kernel_far_points(v):
    """The empirical kernel (matrix-product path, N >= 32) and its twin agree with the isotropic
    mixture kernel on far points: -inf log p, finite or overflowing score, no NaN."""
    rng = np.random.default_rng(8)
    atoms = rng.normal(size=(40, 3))
    lw = np.log(rng.dirichlet(np.ones(40)))
    x = _far_points(rng, 3)
    ref = kr.mixture_logpdf_score(x, lw, 0.9 * atoms, np.full(40, v))
    for fn in (kr.empirical_logpdf_score, kr.empirical_logpdf_score_numpy):
        lp, sc = fn(x, atoms, lw, 0.9, v)
        assert not np.any(np.isnan(lp)) and not np.any(np.isnan(sc))
        np.testing.assert_array_equal(np.isfinite(lp), np.isfinite(ref[0]))
        fin = np.isfinite(lp)
        np.testing.assert_allclose(lp[fin], ref[0][fin], rtol=1e-12)
        ok = np.isfinite(ref[1])
        np.testing.assert_array_equal(np.isfinite(sc), ok)
        np.testing.assert_allclose(sc[ok], ref[1][ok], rtol=1e-9, atol=1e-9 * np.max(np.abs(ref[1][ok])))


# --------------------------------------------------------------------------- issue 15: SIMD chunks
def test_vexp_within_one_ulp_of_numpy_exp():
    """The SIMD exp of the mixture kernels (Cody-Waite reduction, degree-13 Taylor polynomial):
    relative error <= 2 ulp against np.exp over (-745, 0], subnormal results within 1 subnormal
    ulp, exact at 0 and +0 at -inf and below -745.2."""
    rng = np.random.default_rng(11)
    x = np.concatenate([-rng.uniform(0, 50, 100_000), -np.logspace(-300, math.log10(745.1), 50_000),
                        -rng.uniform(700, 745.1, 5000), [0.0, -0.0, -1e-320, -708.39, -708.4, -745.1]])
    y = kr.vexp(x)
    ref = np.exp(x)
    normal = ref >= np.finfo(float).tiny
    assert np.max(np.abs(y[normal] - ref[normal]) / ref[normal]) <= 2 * np.finfo(float).eps
    assert np.max(np.abs(y[~normal] - ref[~normal])) <= 5e-324
    assert kr.vexp([0.0])[0] == 1.0
    np.testing.assert_array_equal(kr.vexp([-np.inf, -745.3, -800.0, -1e300]), 0.0)
    with pytest.raises(ValueError, match="x <= 0"):
        kr.vexp([0.5])


@pytest.mark.parametrize("kind", ["iso", "diag", "full"])
@pytest.mark.parametrize("M", [1, 63, 64, 65, 2 * kr.GROUP + 7])
def test_chunked_kernel_any_length_and_threads(kind, M):
    """Every chunk length (partial chunks, several groups) matches the twin; the threaded driver
    gives the same numbers as the serial one (chunks are independent)."""
    rng = np.random.default_rng([3, M, len(kind)])
    lw, means, covs = _random_mixture(rng, 6, 4, kind)
    x = rng.normal(0.0, 3.0, (M, 4))
    x[M // 2] = 1e200                                    # a far point inside a chunk takes the scalar path
    lp, sc = kr.mixture_logpdf_score(x, lw, means, covs)
    lp0, sc0 = kr.mixture_logpdf_score_numpy(x, lw, means, covs)
    fin = np.isfinite(lp0)
    np.testing.assert_array_equal(np.isfinite(lp), fin)
    np.testing.assert_allclose(lp[fin], lp0[fin], rtol=RTOL)
    ok = np.all(np.isfinite(sc0), axis=1) & fin
    if ok.any():
        _close(sc[ok], sc0[ok])
    if kind == "diag":              # the threaded driver of the other forms: -m slow (next test)
        _threaded_equals_serial(x, lw, means, covs)


def _threaded_equals_serial(x, lw, means, covs):
    import numba
    logc, param = kr.component_terms(lw, covs, x.shape[1])
    routine = kr.range_routine(param.ndim).address
    ser = kr._mixture_serial(routine, x, logc, means, param)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        par = kr._mixture_parallel(routine, x, logc, means, param)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(ser[0], par[0])
    np.testing.assert_array_equal(ser[1], par[1])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["iso", "full"])
@pytest.mark.parametrize("M", [1, 63, 64, 65, 2 * kr.GROUP + 7])
def test_threaded_driver_other_forms(kind, M):
    """The threaded driver equals the serial one for the isotropic and full forms too.  In -m slow: each form of
    the parallel driver is a ~6 CPU-s compilation, and its loop over groups is the same for every form (the
    form only selects the chunk routine, mixture_core, which the serial driver runs in the default tests; the
    diagonal form is compared in the default run above)."""
    rng = np.random.default_rng([3, M, len(kind)])
    lw, means, covs = _random_mixture(rng, 6, 4, kind)
    x = rng.normal(0.0, 3.0, (M, 4))
    x[M // 2] = 1e200
    _threaded_equals_serial(x, lw, means, covs)


def test_chunked_kernel_zero_weight_components_and_nan_input():
    """Zero-weight components (log w = -inf) get zero responsibility; a NaN query stays NaN as in the
    scalar routine (no crash, no effect on its neighbours)."""
    rng = np.random.default_rng(4)
    lw, means, covs = _random_mixture(rng, 4, 3, "iso")
    lw = np.array([math.log(0.5), -np.inf, math.log(0.5), -np.inf])
    x = rng.normal(size=(70, 3))
    x[5, 1] = np.nan
    lp, sc = kr.mixture_logpdf_score(x, lw, means, covs)
    keep = np.isfinite(lw)
    lp1, sc1 = kr.mixture_logpdf_score(np.delete(x, 5, 0), lw[keep], means[keep], covs[keep])
    np.testing.assert_allclose(np.delete(lp, 5), lp1, rtol=RTOL)
    _close(np.delete(sc, 5, 0), sc1)
    assert np.isnan(lp[5]) or lp[5] == -np.inf


def test_vlog_within_two_ulp_of_an_accurate_log():
    """The SIMD log of the mixture kernels (log of the sums of exponentials, >= 1): relative error
    <= 2 eps on [1, 1e300] (measured 1.45 eps), exact at 1.  The reference is the x87 extended-precision
    log (np.log on long double, ~1e-19 relative) where the platform has it; np.log on float64 is not used:
    its AVX-512 SIMD routine differs from the C library's in the last bit, and measured against it vlog's
    error read 1.85 eps on one CPU, too close to the bound.  Without an extended type the reference is the
    C library's log (math.log, within an ulp), with the bound widened by that ulp."""
    rng = np.random.default_rng(12)
    x = np.concatenate([1.0 + rng.uniform(0, 1, 50_000), rng.uniform(1, 64, 50_000), np.logspace(0, 300, 20_000),
                        [1.0, np.nextafter(1.0, 2.0), math.sqrt(2.0), np.nextafter(math.sqrt(2.0), 2.0), 2.0, 1e308]])
    y = kr.vlog(x)
    eps = np.finfo(float).eps
    if np.finfo(np.longdouble).eps < 1e-18:
        ref, bound = np.log(x.astype(np.longdouble)), 2 * eps
    else:                                                   # long double is double (e.g. macOS arm64)
        ref, bound = np.array([math.log(v) for v in x]), 3 * eps
    assert kr.vlog([1.0])[0] == 0.0
    pos = ref > 0
    assert float(np.max(np.abs(y[pos] - ref[pos]) / ref[pos])) <= bound
    with pytest.raises(ValueError, match="x >= 1"):
        kr.vlog([0.5])


def _child_threads_safe(_):
    return kr.threads_safe()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_public_path_runs_single_threaded_in_a_forked_child():
    """GaussianMixture.logpdf_score threads large evaluations, except in a child forked after nent_ref was
    imported (starting GNU OpenMP threads again in a forked child crashes): the flag is set at fork."""
    import multiprocessing
    assert kr.threads_safe()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_child_threads_safe, [0]) == [False]
    assert kr.threads_safe()                             # the parent is unaffected


def test_public_path_threaded_gives_the_serial_numbers():
    """GaussianMixture.logpdf_score (threaded above PARALLEL_MIN_WORK) equals the one-thread kernel exactly."""
    import nent_ref as nr
    rng = np.random.default_rng(11)
    lw, means, covs = _random_mixture(rng, 5, 9, "diag")
    x = rng.normal(0.0, 2.0, (kr.PARALLEL_MIN_WORK // 45 + 3 * kr.GROUP + 5, 9))
    mix = nr.GaussianMixture(np.exp(lw), means, covs)
    lp, sc = mix.logpdf_score(x)
    mix_lw = nr.core.mixture.MixParams.of(mix).logw            # the log weights the public path passes
    lp1, sc1 = kr.mixture_logpdf_score(x, mix_lw, means, covs, threaded=False)
    np.testing.assert_array_equal(lp, lp1)
    np.testing.assert_array_equal(sc, sc1)


@pytest.mark.parametrize("bad", ["means_d", "param_k", "logc_k", "x_1d"])
def test_mixture_kernel_refuses_mismatched_shapes(bad):
    """The compiled chunk routines read the arrays by address with the sizes of x and means, so a mismatch
    is a ValueError before any compiled code runs (never a read past an array)."""
    rng = np.random.default_rng(0)
    x, logc, means, param = rng.normal(size=(10, 3)), np.zeros(2), rng.normal(size=(2, 3)), np.ones((2, 3))
    if bad == "means_d":
        means = rng.normal(size=(2, 4))
    elif bad == "param_k":
        param = np.ones((3, 3))
    elif bad == "logc_k":
        logc = np.zeros(3)
    else:
        x = rng.normal(size=10)
    with pytest.raises(ValueError, match="mixture_kernel: shapes must be"):
        kr.mixture_kernel(x, logc, means, param)
