"""Gaussian and Dirac data objects: densities, scores, sampling and diffusion against scipy."""
import math

import numpy as np
from scipy import stats

import nent_ref as nr


def _g(seed=0, dim=3):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((dim, dim))
    return nr.Gaussian(rng.standard_normal(dim), A @ A.T + 0.3 * np.eye(dim))


def test_logpdf_entropy_kl_against_scipy():
    g, h = _g(0), _g(1)
    x = np.random.default_rng(2).standard_normal((10, 3))
    ref = stats.multivariate_normal(g.mean, g.cov)
    np.testing.assert_allclose(g.logpdf(x), ref.logpdf(x), rtol=1e-12)
    assert math.isclose(g.entropy(), ref.entropy(), rel_tol=1e-12)
    assert math.isclose(g.entropy(base=2), ref.entropy() / math.log(2), rel_tol=1e-12)
    # KL by Monte Carlo against the closed form (5 standard errors)
    xs = g.sample(200_000, seed=3)
    ratio = g.logpdf(xs) - h.logpdf(xs)
    assert abs(ratio.mean() - g.kl(h)) < 5 * ratio.std() / math.sqrt(xs.shape[0])


def test_score_is_gradient_of_logpdf():
    g = _g(4)
    x = np.random.default_rng(5).standard_normal((4, 3))
    eps = 1e-6
    fd = np.stack([(g.logpdf(x + eps * e) - g.logpdf(x - eps * e)) / (2 * eps) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(g.score(x), fd, rtol=1e-6, atol=1e-8)


def test_sample_reproducible_and_moments():
    g = _g(6)
    a, b = g.sample(100_000, seed=9), g.sample(100_000, seed=9)
    np.testing.assert_array_equal(a, b)
    n = a.shape[0]
    # sample mean within 5 standard errors per coordinate
    assert np.all(np.abs(a.mean(0) - g.mean) < 5 * np.sqrt(np.diag(g.cov) / n))


def test_diffuse_matches_sampling_the_sde_solution():
    """Y_s = mu y0 + sqrt(v) z: the diffused object's moments equal the moments of that construction."""
    g = _g(7)
    proc = nr.VP(0.1, 16.0, kappa=0.5)
    s = 0.3
    p = g.diffuse(proc, s)
    mu, v = float(proc.mean_coeff(s)), float(proc.marginal_var(s))
    np.testing.assert_allclose(p.mean, mu * g.mean, rtol=1e-14)
    np.testing.assert_allclose(p.cov, mu ** 2 * g.cov + v * np.eye(3), rtol=1e-12, atol=1e-15)
    d = nr.Dirac([1.0, -2.0])
    pd = d.diffuse(proc, s)
    np.testing.assert_allclose(pd.cov, v * np.eye(2), rtol=1e-14)
    assert d.diffuse(proc, 0.0) is d


def test_far_points_overflow_cleanly():
    """log p = -inf only where the true value is below the most negative double; the score
    overflows to +-inf only where it is beyond the largest double; never NaN."""
    g = nr.Gaussian([1.0], [[0.5]])
    assert g.logpdf([[1e160]])[0] == -np.inf
    assert g.score([[1e200]])[0, 0] == -2e200
    wide = nr.Gaussian([0.0], [[1e100]])
    assert math.isclose(wide.logpdf([[1e160]])[0], -0.5 * 1e220 - 0.5 * math.log(2 * math.pi * 1e100), rel_tol=1e-15)
    narrow = nr.Gaussian([0.0], [[1e-100]])
    assert narrow.score([[1e250]])[0, 0] == -np.inf
    g2 = nr.Gaussian([0.0, 0.0], [[1.0, 0.3], [0.3, 0.5]])
    x = np.array([[1e200, -3e199], [1e300, 1e300], [1e-300, 0.0]])
    lp, sc = g2.logpdf(x), g2.score(x)
    assert not np.any(np.isnan(lp)) and not np.any(np.isnan(sc))
    np.testing.assert_allclose(sc[0], -np.linalg.solve(g2.cov, x[0]), rtol=1e-13)
    assert math.isclose(lp[2], stats.multivariate_normal(g2.mean, g2.cov).logpdf(x[2]), rel_tol=1e-14)


def test_logpdf_near_the_largest_double_is_not_nan():
    """Issue 18: Gaussian.logpdf near 1.8e308 gave NaN (the power-of-two scale overflowed to inf).  Its true
    value (about -4e616) is below the most negative double: -inf, as documented; 1e150 is exact (mpmath)."""
    import mpmath
    g = nr.Gaussian([0.5, -1.0], np.diag([0.4, 1.3]))
    for x in ([1.79e308, 0.0], [1.7976931348623157e308, -1.7976931348623157e308]):
        assert g.logpdf(x) == -math.inf
        assert not np.any(np.isnan(g.score(x)))
    mpmath.mp.dps = 50
    x = [mpmath.mpf(1e150), mpmath.mpf(2.0)]
    ref = -((x[0] - mpmath.mpf(0.5)) ** 2 / (2 * mpmath.mpf(0.4)) + (x[1] + 1) ** 2 / (2 * mpmath.mpf(1.3))) \
        - mpmath.log(2 * mpmath.pi) - mpmath.log(mpmath.mpf(0.4) * mpmath.mpf(1.3)) / 2
    assert math.isclose(g.logpdf([1e150, 2.0]), float(ref), rel_tol=1e-14)
