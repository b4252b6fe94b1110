"""Kernels of the SDE engine against their plain-Python/numpy twins, and the quality of the normals."""
import math

import numba
import numpy as np
import pytest
from scipy import stats

from nent_ref.quantities import _sde_kernels as K


def test_ziggurat_layers_close_and_have_equal_area():
    # the recursion x_{i+1} = f^{-1}(v/x_i + f(x_i)) must reach f = 1 at the top layer for r = 3.6541528853610088
    x, v = K._ziggurat_layers()
    f = lambda t: math.exp(-0.5 * t * t)  # noqa: E731
    assert abs(v / x[255] + f(x[255]) - 1.0) < 1e-12
    areas = [x[i] * (f(x[i + 1]) - f(x[i])) for i in range(1, 256)]
    np.testing.assert_allclose(areas, v, rtol=1e-10)
    # base strip: rectangle r f(r) plus the tail, i.e. x_0 f(r) = v
    assert abs(x[0] * f(x[1]) - v) < 1e-15
    assert np.all(np.diff(x) < 0) and x[256] == 0.0


def test_fill_normals_matches_python_twin_bitwise():
    n, D = 150, 3                                        # 3 blocks, the last one partial
    st_nb = K.init_states(123, 456, n)
    st_py = K.init_states_python(123, 456, n)
    assert [list(map(int, row)) for row in st_nb] == st_py
    for _ in range(3):                                   # state carried over between calls
        out = np.empty((n, D))
        K.fill_normals(st_nb, out)
        ref = K.normals_python(st_py, n, D)
        np.testing.assert_array_equal(out, ref)


def test_forward_kernel_matches_numpy_twin():
    rng = np.random.default_rng(0)
    n, D, nsteps = 130, 2, 4
    x0 = rng.standard_normal((n, D))
    c = np.array([0.9, 0.8, 1.1, 0.95])
    d = np.array([0.3, 0.2, 0.25, 0.1])
    g = np.array([-1.0, -2.0, -0.5, 0.0])
    x = x0.copy()
    path, med = K.forward_linear(x, c, d, 7, 8, g=g, record=True)
    z = K.forward_normals_python(7, 8, n, D, nsteps)
    xr, pr, mr = K.forward_linear_numpy(x0, c, d, z, g)
    np.testing.assert_allclose(x, xr, rtol=0, atol=1e-14)
    np.testing.assert_allclose(path, pr, rtol=0, atol=1e-14)
    np.testing.assert_allclose(med, mr, rtol=1e-12, atol=1e-13)


def test_affine_update_matches_numpy_twin():
    rng = np.random.default_rng(1)
    n, D = 70, 3
    x0, sc = rng.standard_normal((n, D)), rng.standard_normal((n, D))
    st = K.init_states(5, 6, n)
    z = K.normals_python(K.init_states_python(5, 6, n), n, D)
    x = x0.copy()
    K.affine_noise_update(x, sc, 1.1, 0.2, 0.3, st)
    np.testing.assert_allclose(x, K.affine_noise_update_numpy(x0, sc, 1.1, 0.2, 0.3, z), rtol=0, atol=1e-14)


def test_one_thread_and_threaded_per_step_kernels_agree():
    n, D = (K.PARALLEL_MIN // 2) + 77, 2                  # threaded path (size >= PARALLEL_MIN)
    a = np.empty((n, D))
    K.fill_normals(K.init_states(1, 2, n), a)
    b = np.empty((n, D))
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        K.fill_normals(K.init_states(1, 2, n), b)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(a, b)
    small = np.empty((100, D))                            # one-thread path restores the thread count
    K.fill_normals(K.init_states(1, 2, 100), small)
    assert numba.get_num_threads() == old
    np.testing.assert_array_equal(small[:64], a[:64])     # block 0 is the same stream whatever n


@pytest.fixture(scope="module")
def big_sample():
    n, D = 1 << 20, 2
    out = np.empty((n, D))
    K.fill_normals(K.init_states(2026, 11, n), out)
    return out


def test_normal_moments(big_sample):
    z = big_sample.ravel()
    n = z.size
    # E z = 0 (sd 1), E z^2 = 1 (sd sqrt 2), E z^4 = 3 (sd sqrt(105 - 9)), E z^3 = 0 (sd sqrt 15)
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(np.mean(z ** 2) - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(z ** 3)) < 5 * math.sqrt(15 / n)
    assert abs(np.mean(z ** 4) - 3) < 5 * math.sqrt(96 / n)


def test_normal_distribution_and_tail(big_sample):
    z = big_sample.ravel()
    n = z.size
    ks = stats.kstest(z, "norm")
    assert ks.pvalue > 1e-6
    # the tail branch (|z| > r) must have its exact probability erfc(r / sqrt 2) (binomial, 5 sd)
    p = math.erfc(K._R / math.sqrt(2))
    count = np.count_nonzero(np.abs(z) > K._R)
    assert abs(count - n * p) < 5 * math.sqrt(n * p * (1 - p))
    # and a point deep in the tail as well
    p4 = math.erfc(4.5 / math.sqrt(2))
    c4 = np.count_nonzero(np.abs(z) > 4.5)
    assert abs(c4 - n * p4) < 5 * math.sqrt(n * p4) + 1


def test_normal_independence(big_sample):
    z = big_sample
    n = z.size
    flat = z.ravel()
    # lag-1 correlation within each block stream (consecutive draws of one block)
    blk = flat[: (flat.size // (2 * K.BLOCK)) * 2 * K.BLOCK].reshape(-1, 2 * K.BLOCK)
    r1 = np.mean(blk[:, 1:] * blk[:, :-1])
    assert abs(r1) < 5 / math.sqrt(blk[:, 1:].size)
    # components within a particle, and neighbouring blocks (different streams)
    assert abs(np.mean(z[:, 0] * z[:, 1])) < 5 / math.sqrt(z.shape[0])
    a = blk[0::2].ravel()
    b = blk[1::2].ravel()
    m = min(a.size, b.size)
    assert abs(np.mean(a[:m] * b[:m])) < 5 / math.sqrt(m)
    # squares are uncorrelated too (no dependence in magnitude): Var(z^2) = 2
    assert abs(np.mean((flat[1:] ** 2 - 1) * (flat[:-1] ** 2 - 1))) < 5 * 2 / math.sqrt(n)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
def test_forward_kernel_independent_of_thread_count():
    x0 = np.random.default_rng(3).standard_normal((5000, 3))
    c, d = np.full(20, 0.97), np.full(20, 0.2)
    out = []
    old = numba.get_num_threads()
    try:
        for t in (1, 2):
            numba.set_num_threads(t)
            x = x0.copy()
            K.forward_linear(x, c, d, 9, 10)
            out.append(x)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(out[0], out[1])
