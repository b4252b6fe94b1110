"""SDE engine with Gaussian-mixture and empirical data (exact scores from nent_ref.mixture / _kernels).

References: S_tot of mixtures by adaptive cubature (nent_ref.mixture, method="quadrature", D <= 2; its
error bound is added to the standard error through Estimate.z_score) or by its own Monte Carlo
(independent of the path route: expectation over marginals, no paths).
"""
import math

import numpy as np
import pytest

import nent_ref as nr
from nent_ref import cases, sde

mixture = pytest.importorskip("nent_ref.mixture", reason="nent_ref.mixture (issue 3) is not available")
GaussianMixture, Empirical = mixture.GaussianMixture, mixture.Empirical

Z = 5.0


def _paper_mixture(dim):
    w, m, sd = cases.paper_mixture_params(dim)
    return GaussianMixture(w, m, sd ** 2)


def _z(est, ref):
    """z-score with both uncertainties (Monte Carlo stderr and quadrature bound of the reference)."""
    sigma = est.stderr + ref.stderr + ref.error_bound
    return (est.value - ref.value) / sigma


@pytest.mark.parametrize("pname", ["vp16", "vpx", "sl"])
def test_mixture_mean_entropy_production_vs_quadrature(pname):
    proc = cases.processes()[pname]
    mix = _paper_mixture(2)
    ref = nr.total_entropy(mix, proc, 0.0, 1.0, method="quadrature")
    r = sde.path_entropy(mix, proc, 40000, np.linspace(0, 1, 51), seed=1)
    assert abs(_z(r.mean, ref)) < Z, (r.mean, ref)


def test_mixture_fluctuation_theorem():
    # components (sd 0.5..1) are wide against p_eq = N(0, 1) / 2 only in part; use VP with the paper mixture
    # scaled up so that every component variance exceeds k^2 / 2 (finite-variance estimator)
    w, m, sd = cases.paper_mixture_params(2)
    mix = GaussianMixture(w, 0.5 * m, np.maximum(sd ** 2, 0.6))
    r = sde.path_entropy(mix, nr.VP(0.1, 16), 40000, np.linspace(0, 1, 51), seed=2)
    assert abs(r.ift.z_score(1.0)) < Z, r.ift


def test_mixture_score_path_uses_kernel_and_matches_object_score():
    mix = _paper_mixture(3)
    proc = nr.VP(0.1, 20)
    fast = sde._exact_score_fn(proc, mix)
    x = np.random.default_rng(0).standard_normal((200, 3))
    for s in (0.0, 0.01, 0.5, 1.0):
        np.testing.assert_allclose(fast(x, s), mix.diffuse(proc, s).score(x), rtol=1e-13, atol=1e-13)


def test_mixture_reverse_sde_moments():
    """Reverse SDE from exact p_T samples back to the paper mixture (D = 3): mean and E|x|^2 within 5 stderr."""
    mix = _paper_mixture(3)
    proc = nr.VP(0.1, 20)
    n = 10000
    x_init = mix.diffuse(proc, 1.0).sample(n, seed=4)
    x = sde.sample(proc, n, np.linspace(0, 1, 501), data=mix, seed=5, x_init=x_init)
    assert np.all(np.abs(x.mean(0) - mix.mean()) < Z * x.std(0, ddof=1) / math.sqrt(n))
    r2 = np.sum(x * x, 1)
    assert abs(r2.mean() - mix.second_moment()) < Z * r2.std(ddof=1) / math.sqrt(n)


def test_mixture_girsanov_kl_equals_S_tot():
    mix = _paper_mixture(2)
    proc = nr.VP(0.1, 20)
    n = 10000
    x_init = mix.diffuse(proc, 1.0).sample(n, seed=6)
    r = sde.path_kl(proc, n, np.linspace(0, 1, 1001), data=mix, seed=7, x_init=x_init)
    ref = nr.total_entropy(mix, proc, 0.0, 1.0, method="quadrature")
    assert abs(_z(r.kl, ref)) < Z, (r.kl, ref)


def test_mixture_bound_tight_under_SL():
    mix = _paper_mixture(2)
    x = np.array([[0.0, 0.0], [1.0, -1.5], [-2.0, 1.0]])
    lb = sde.log_density_lower_bound(x, nr.SL(1.0), data=mix, n_time=8000, seed=8)
    assert np.all(np.abs(lb.value - mix.logpdf(x)) < Z * lb.stderr), (lb.value - mix.logpdf(x)) / lb.stderr


def test_empirical_mean_entropy_production():
    """Empirical data (a mixture of Diracs) need s0 > 0; reference: the mixtures module's quadrature."""
    atoms = np.random.default_rng(3).uniform(-1, 1, (20, 2))
    emp = Empirical(atoms)
    proc = nr.VP(0.1, 16)
    s0 = 1e-3
    ref = nr.total_entropy(emp, proc, s0, 1.0, method="monte-carlo", n_samples=200000, seed=0)
    grid = np.concatenate([[s0], np.linspace(0.01, 1, 50)])
    r = sde.path_entropy(emp, proc, 40000, grid, seed=9)
    assert abs(_z(r.mean, ref)) < Z, (r.mean, ref)


@pytest.mark.slow
@pytest.mark.parametrize("pname", ["vp16", "sl"])
def test_paper_mixture_D9_mean_entropy_production(pname):
    """The paper's 5-component mixture in D = 9 (reference: marginal Monte Carlo of nent_ref.mixture)."""
    proc = cases.processes()[pname]
    mix = _paper_mixture(9)
    ref = nr.total_entropy(mix, proc, 0.0, 1.0, method="monte-carlo", n_samples=2_000_000, seed=1)
    r = sde.path_entropy(mix, proc, 1_000_000, np.linspace(0, 1, 11), seed=2)
    assert abs(_z(r.mean, ref)) < Z, (r.mean, ref)


# The fused kernel's loop is the same for the three covariance forms; only the score routine it calls differs
# (kernels.mixture_core / mixture_point, chosen by param's dimension and checked form by form in test_kernels).
# Each form is a separate compilation of the fused kernel (~12 CPU-s): the default run checks the iso form,
# -m slow the diag and full forms (issue 22: default run time).
@pytest.mark.parametrize("form", ["iso", pytest.param("diag", marks=pytest.mark.slow),
                                  pytest.param("full", marks=pytest.mark.slow)])
def test_fused_mixture_reverse_kernel_equals_per_step_path(form):
    """sample(data=mixture) runs the fused kernel; a user score callable runs the per-step loop: same numbers."""
    w, m, sd = cases.paper_mixture_params(3)
    covs = {"iso": sd ** 2, "diag": np.outer(sd ** 2, [1.0, 0.5, 2.0]),
            "full": sd[:, None, None] ** 2 * (np.eye(3) + 0.3 * (np.ones((3, 3)) - np.eye(3)))}[form]
    mix = GaussianMixture(w, m, covs)
    proc = nr.VP(0.1, 20)
    grid = np.linspace(1e-3, 1, 31)
    x0 = np.random.default_rng(2).standard_normal((150, 3))
    fused = sde.sample(proc, 150, grid, data=mix, seed=3, x_init=x0)
    per_step = sde.sample(proc, 150, grid, score=lambda x, s: mix.diffuse(proc, s).score(x), seed=3, x_init=x0)
    np.testing.assert_array_equal(fused, per_step)


def test_fused_mixture_kernel_matches_numpy_twin():
    from nent_ref.quantities import _sde_kernels as K
    w, m, sd = cases.paper_mixture_params(2)
    rng = np.random.default_rng(0)
    N, n = 5, 100
    means = np.array([m * (1 - 0.1 * k) for k in range(N)])
    covs = np.array([sd ** 2 + 0.1 * k for k in range(N)])
    c1, c2, d = 1 + 0.01 * np.arange(N), 0.02 * np.ones(N), 0.1 * np.ones(N)
    x0 = rng.standard_normal((n, 2))
    x = x0.copy()
    K.reverse_mixture(x, np.log(w), means, covs, c1, c2, d, K.init_states(3, 4, n))
    z = K.forward_normals_python(3, 4, n, 2, N)         # same stream layout (block, step, particle, dim)
    ref = K.reverse_mixture_numpy(x0, np.log(w), means, covs, c1, c2, d, z)
    np.testing.assert_allclose(x, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_paper_mixture_D9_girsanov_kl_and_bound():
    """D = 9 paper mixture: Girsanov KL = S_tot (marginal Monte Carlo reference) and a tight bound under SL."""
    mix = _paper_mixture(9)
    proc = nr.VP(0.1, 20)
    n = 20000
    x_init = mix.diffuse(proc, 1.0).sample(n, seed=11)
    r = sde.path_kl(proc, n, np.linspace(0, 1, 2001), data=mix, seed=12, x_init=x_init)
    ref = nr.total_entropy(mix, proc, 0.0, 1.0, method="monte-carlo", n_samples=1_000_000, seed=13)
    assert abs(_z(r.kl, ref)) < Z, (r.kl, ref)
    x = mix.sample(4, seed=14)
    lb = sde.log_density_lower_bound(x, nr.SL(1.0), data=mix, n_time=20000, seed=15)
    assert np.all(np.abs(lb.value - mix.logpdf(x)) < Z * lb.stderr), (lb.value - mix.logpdf(x)) / lb.stderr


def test_fused_mixture_kernel_needs_one_parameter_set_per_step():
    from nent_ref.quantities import _sde_kernels as K
    w, m, sd = cases.paper_mixture_params(2)
    x = np.zeros((10, 2))
    means, covs = np.array([m, m, m]), np.array([sd ** 2, sd ** 2])           # 3 means, 2 covariances
    with pytest.raises(ValueError, match="one entry per step"):
        K.reverse_mixture(x, np.log(w), means, covs, np.ones(3), np.ones(3), np.ones(3), K.init_states(1, 2, 10))
