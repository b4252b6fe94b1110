"""SDE engine: EM orders, exact transitions, reverse samplers, trajectory entropy, Girsanov KL, log-density bound.

Reference values: closed forms of nent_ref.entropy / nent_ref.data (verified by sympy in the
foundation's derivations) and the exact Ornstein-Uhlenbeck solution.  Statistical tolerances are
5 standard errors; seeds are fixed.
"""
import math

import numba
import numpy as np
import pytest
from scipy import stats

import nent_ref as nr
from nent_ref.quantities import _sde_kernels as K
from nent_ref import cases, sde

Z = 5.0


def _zcheck(est, ref, z=Z):
    assert abs(est.z_score(ref)) < z, f"{est} vs {ref}: z = {est.z_score(ref):.2f}"


# --------------------------------------------------------------------------- Euler-Maruyama orders
def _em_errors(levels=(8, 16, 32, 64, 128), fine=2048, n=20000, seed=0):
    """Strong error E|X_EM - X| and weak error E[X_EM^2] - E[X^2] of EM at T = 1 on a constant-beta VP.

    The reference X is the exact OU solution driven by the same Brownian path: on the fine grid the
    pair (dW_j, xi_j = int sigma exp(-theta (t_{j+1} - s)) dW_s) is drawn from its exact joint Gaussian
    law, X_{j+1} = exp(-theta delta) X_j + xi_j; the EM levels use the summed dW_j.
    """
    beta = 2.0
    proc = nr.VP(beta_min=beta, beta_max=beta)
    theta, sigma = beta / 2, math.sqrt(beta)
    delta = 1.0 / fine
    var_xi = -math.expm1(-2 * theta * delta)                         # kappa^2 (1 - e^{-2 theta delta})
    cov = sigma * (-math.expm1(-theta * delta)) / theta
    resid = math.sqrt(var_xi - cov * cov / delta)
    rng = np.random.default_rng(seed)
    x0 = 0.3 * rng.standard_normal(n)
    x_exact = x0.copy()
    r = math.exp(-theta * delta)
    lev = {m: {"x": x0.copy(), "dw": np.zeros(n)} for m in levels}
    coef = {m: sde.transition_coefficients(proc, np.linspace(0, 1, m + 1), "em") for m in levels}
    for j in range(fine):
        dw = math.sqrt(delta) * rng.standard_normal(n)
        xi = (cov / delta) * dw + resid * rng.standard_normal(n)
        x_exact = r * x_exact + xi
        for m in levels:
            L = lev[m]
            L["dw"] += dw
            if (j + 1) % (fine // m) == 0:
                k = (j + 1) // (fine // m) - 1
                c, d = coef[m]
                h = 1.0 / m
                # the numpy twin of the kernel, driven by z = dW / sqrt(h)
                L["x"] = K.forward_linear_numpy(L["x"][:, None], c[k:k + 1], d[k:k + 1],
                                                (L["dw"] / math.sqrt(h))[None, :, None])[0][:, 0]
                L["dw"][:] = 0.0
    strong = np.array([np.mean(np.abs(lev[m]["x"] - x_exact)) for m in levels])
    weak = np.array([np.mean(lev[m]["x"] ** 2 - x_exact ** 2) for m in levels])
    weak_se = np.array([np.std(lev[m]["x"] ** 2 - x_exact ** 2) / math.sqrt(n) for m in levels])
    h = 1.0 / np.array(levels)
    return h, strong, weak, weak_se


def test_em_strong_and_weak_order():
    h, strong, weak, weak_se = _em_errors()
    slope_strong = np.polyfit(np.log(h), np.log(strong), 1)[0]
    # Kloeden-Platen: EM has strong order 1/2 in general and order 1 for additive noise (sigma = sigma(s)),
    # which is the case of every process here; asserting 1/2 would assert the wrong number.
    assert abs(slope_strong - 1.0) < 0.2, slope_strong
    assert np.all(np.abs(weak) > Z * weak_se), "weak errors must be resolved above MC noise"
    slope_weak = np.polyfit(np.log(h), np.log(np.abs(weak)), 1)[0]
    assert abs(slope_weak - 1.0) < 0.2, slope_weak


def test_em_twin_matches_simulate():
    """simulate() runs the kernel whose normals are reproduced by the Python twin (same stream)."""
    proc = nr.VP(0.1, 20.0)
    grid = np.linspace(0, 1, 11)
    x0 = np.random.default_rng(1).standard_normal((100, 2))
    out = sde.simulate(proc, x0, grid, seed=42, record=True)
    _, keys = sde._streams(42)
    z = K.forward_normals_python(*keys, 100, 2, 10)
    c, d = sde.transition_coefficients(proc, grid, "em")
    ref = K.forward_linear_numpy(x0, c, d, z)[1]
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(out[0], x0)
    np.testing.assert_array_equal(sde.simulate(proc, x0, grid, seed=42), out[-1])


@pytest.mark.parametrize("pname", ["vp20", "sl", "ve"])
def test_exact_transition_marginals(pname):
    """scheme='exact' reproduces p_s = N(mu m, mu^2 S + v I) at every grid time (1-D, mean and variance)."""
    proc = {"vp20": nr.VP(0.1, 20), "sl": nr.SL(0.5), "ve": nr.VE(0.01, 5.0)}[pname]
    data = nr.Gaussian([0.7], [[0.2]])
    grid = np.array([0.0, 0.05, 0.3, 0.8, 1.0])
    n = 40000
    paths = sde.simulate(proc, data, grid, seed=3, record=True, n=n, scheme="exact")
    for k, s in enumerate(grid):
        ps = data.diffuse(proc, s)
        x = paths[k, :, 0]
        m, v = ps.mean[0], ps.cov[0, 0]
        assert abs(x.mean() - m) < Z * math.sqrt(v / n)
        assert abs(x.var(ddof=1) - v) < Z * v * math.sqrt(2 / n)
    # successive times are correlated as the exact transition says: Cov(Y_s, Y_t) = r Var(Y_s), r = mu_t/mu_s
    r = float(proc.mean_coeff(grid[3]) / proc.mean_coeff(grid[2]))
    cxy = np.mean((paths[2, :, 0] - paths[2, :, 0].mean()) * (paths[3, :, 0] - paths[3, :, 0].mean()))
    ref = r * data.diffuse(proc, grid[2]).cov[0, 0]
    se = np.std((paths[2, :, 0] - paths[2, :, 0].mean()) * (paths[3, :, 0] - paths[3, :, 0].mean())) / math.sqrt(n)
    assert abs(cxy - ref) < Z * se


def test_exact_coefficients_stable_closed_forms():
    # 1 - r^2 for VP is -expm1(-(B1 - B0)); for SL (s1 - s0)(2 - s0 - s1)/(1 - s0)^2 -- compare with mpmath-free
    # direct formulas at moderate steps, where no cancellation occurs
    vp = nr.VP(0.1, 20)
    s = np.array([0.1, 0.4, 0.9])
    c, d = sde.transition_coefficients(vp, s, "exact")
    mu = vp.mean_coeff(s)
    np.testing.assert_allclose(c, mu[1:] / mu[:-1], rtol=1e-14)
    np.testing.assert_allclose(d ** 2, 1 - (mu[1:] / mu[:-1]) ** 2, rtol=1e-12)
    sl = nr.SL(0.3)
    c, d = sde.transition_coefficients(sl, np.array([0.2, 0.5, 1.0]), "exact")
    np.testing.assert_allclose(c, [0.5 / 0.8, 0.0], rtol=1e-15)
    np.testing.assert_allclose(d ** 2, 0.09 * (1 - np.array([0.5 / 0.8, 0.0]) ** 2), rtol=1e-14)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
def test_same_seed_same_paths_any_thread_count():
    proc = nr.VP(0.1, 20)
    g = cases.gaussian_case(2)
    grid = np.linspace(0, 0.9, 4)
    old = numba.get_num_threads()
    res = []
    try:
        for t in (1, 2):
            numba.set_num_threads(t)
            fwd = sde.simulate(proc, g, grid, seed=11, n=3000)
            # large enough (>= PARALLEL_MIN numbers) to take the threaded per-step kernel
            rev = sde.sample(proc, K.PARALLEL_MIN // 2, grid[:3], score=lambda x, s: -x, seed=5, dim=2)
            res.append((fwd, rev))
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])


# --------------------------------------------------------------------------- reverse samplers
@pytest.mark.parametrize("method,steps", [("sde", 500), ("ode-heun", 200), ("ode-rk4", 100)])
def test_reverse_maps_pT_to_data(method, steps):
    """From exact p_T samples, the exact-score sampler returns p_d: mean and covariance within 5 stderr."""
    proc = nr.VP(0.1, 20)
    g = cases.gaussian_case(2)
    n = 20000
    x_init = g.diffuse(proc, 1.0).sample(n, seed=7)
    x = sde.sample(proc, n, np.linspace(0, 1, steps + 1), data=g, method=method, seed=8, x_init=x_init)
    m, S = g.mean, g.cov
    assert np.all(np.abs(x.mean(0) - m) < Z * x.std(0, ddof=1) / math.sqrt(n))
    c = x - x.mean(0)
    for i in range(2):
        for j in range(2):
            prod = c[:, i] * c[:, j]
            assert abs(prod.mean() - S[i, j]) < Z * prod.std() / math.sqrt(n), (i, j)


def _w2_gauss_1d(x, m, sd):
    """1-D W2 between samples and N(m, sd^2) through the quantile coupling."""
    xs = np.sort(x)
    q = stats.norm.ppf((np.arange(xs.size) + 0.5) / xs.size, loc=m, scale=sd)
    return math.sqrt(np.mean((xs - q) ** 2))


@pytest.mark.parametrize("method", ["sde", "ode-heun", "ode-rk4"])
def test_reverse_w2_shrinks_with_step(method):
    proc = nr.VP(0.1, 20)
    g = nr.Gaussian([1.5], [[0.09]])
    n = 20000
    x_init = g.diffuse(proc, 1.0).sample(n, seed=1)
    # grids chosen so that the discretisation error stays above the sampling floor of W2 (~0.005 at n = 2e4)
    steps = {"sde": (8, 16, 32, 64), "ode-heun": (4, 8, 16, 32), "ode-rk4": (2, 3, 4, 6)}[method]
    w2 = [_w2_gauss_1d(sde.sample(proc, n, np.linspace(0, 1, k + 1), data=g, method=method, seed=2,
                                  x_init=x_init)[:, 0], 1.5, 0.3) for k in steps]
    assert np.all(np.diff(w2) < 0), w2


def test_ode_fixed_step_agrees_with_solve_ivp():
    proc = nr.SL(1.0)
    g = cases.gaussian_case(2)
    grid = np.linspace(0, 0.999, 401)
    x_init = np.random.default_rng(0).standard_normal((50, 2))
    ref = sde.sample(proc, 50, grid, data=g, method="ode-scipy", x_init=x_init, rtol=1e-11, atol=1e-11)
    rk4 = sde.sample(proc, 50, grid, data=g, method="ode-rk4", x_init=x_init)
    heun = sde.sample(proc, 50, grid, data=g, method="ode-heun", x_init=x_init)
    err_rk4 = np.abs(rk4 - ref).max()
    err_heun = np.abs(heun - ref).max()
    assert err_rk4 < 1e-6 and err_rk4 < err_heun


def test_score_e_and_data_drive_the_same_sampler():
    """data=, score= and e= (score = grad log p_eq + e) give identical paths for the same seed."""
    proc = nr.VP(0.1, 20)
    g = cases.gaussian_case(3)
    grid = np.linspace(0, 1, 51)
    a = sde.sample(proc, 500, grid, data=g, seed=4)
    b = sde.sample(proc, 500, grid, score=lambda x, s: g.diffuse(proc, s).score(x), seed=4, dim=3)
    c = sde.sample(proc, 500, grid, e=lambda x, s: g.diffuse(proc, s).score(x) + x, seed=4, dim=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, c, rtol=0, atol=1e-12)


def test_ve_reverse_sampler():
    proc = nr.VE(0.01, 10.0)
    g = nr.Gaussian([0.5], [[0.25]])
    n = 20000
    x_init = g.diffuse(proc, 1.0).sample(n, seed=3)
    grid = np.concatenate([[0.0], np.geomspace(1e-3, 1.0, 400)])
    x = sde.sample(proc, n, grid, data=g, method="ode-rk4", x_init=x_init)[:, 0]
    assert abs(x.mean() - 0.5) < Z * x.std() / math.sqrt(n)
    assert abs(x.var() - 0.25) < Z * 0.25 * math.sqrt(2 / n)


# --------------------------------------------------------------------------- trajectory entropy
@pytest.mark.parametrize("pname,kind", [("vp16", "gaussian"), ("vpx", "gaussian"), ("sl", "gaussian"),
                                        ("vp16", "dirac"), ("ve", "gaussian")])
def test_mean_entropy_production_equals_S_tot(pname, kind):
    procs = dict(cases.processes(), ve=nr.VE(0.01, 5.0))
    proc = procs[pname]
    data = cases.gaussian_case(2) if kind == "gaussian" else cases.dirac_case(2)
    s0 = 0.0 if kind == "gaussian" else cases.EPS
    grid = np.linspace(s0, 1.0, 101)
    r = sde.path_entropy(data, proc, 20000, grid, seed=1)
    _zcheck(r.mean, nr.total_entropy(data, proc, s0, 1.0).value)
    np.testing.assert_allclose(r.ds_tot, r.ds_sys + r.ds_med, rtol=0, atol=1e-12)


@pytest.mark.parametrize("pname", ["vp16", "sl", "vpx"])
def test_medium_entropy_is_heat_of_the_equilibrium_potential(pname):
    """For b/D = -x/k^2 the midpoint (Stratonovich) sum telescopes exactly: -(|Y1|^2 - |Y0|^2)/(2 k^2)."""
    proc = cases.processes()[pname]
    r = sde.path_entropy(cases.gaussian_case(3), proc, 500, np.linspace(0, 1, 37), seed=2)
    y0, y1 = r.extra["y0"], r.extra["y1"]
    ref = -(np.sum(y1 ** 2, 1) - np.sum(y0 ** 2, 1)) / (2 * proc.peq_var)
    np.testing.assert_allclose(r.ds_med, ref, rtol=1e-10, atol=1e-10)


def test_ve_medium_entropy_vanishes():
    r = sde.path_entropy(cases.gaussian_case(2), nr.VE(0.01, 5.0), 200, np.linspace(0, 1, 11), seed=0)
    assert np.all(r.ds_med == 0.0)


@pytest.mark.parametrize("pname", ["vp16", "sl"])
def test_integral_fluctuation_theorem(pname):
    """E exp(-Delta s_tot) = 1; data wider than p_eq / 2 so that the estimator has finite variance."""
    proc = cases.processes()[pname]
    k2 = proc.peq_var
    data = nr.Gaussian([0.5 * math.sqrt(k2), -0.3 * math.sqrt(k2)], k2 * np.array([[0.9, 0.2], [0.2, 0.7]]))
    r = sde.path_entropy(data, proc, 40000, np.linspace(0, 1.0, 51), seed=3)
    _zcheck(r.ift, 1.0)
    _zcheck(r.mean, nr.total_entropy(data, proc, 0.0, 1.0).value)
    # consequence of the IFT (Markov): P(Delta s_tot < -a) <= exp(-a), within 5 binomial standard errors
    assert np.any(r.ds_tot < 0)                       # the check is not vacuous: some paths consume entropy
    for a in (0.0, 0.01, 0.05, 0.2, 1.0):
        tail = r.negative_tail(a)
        assert tail.value <= math.exp(-a) + 5 * tail.stderr
    with pytest.raises(ValueError, match="a must be"):
        r.negative_tail(-1.0)


def test_em_path_entropy_matches_S_tot():
    """With Euler-Maruyama paths (bias O(h), small here because Delta s_tot depends on the end points only
    and p_1 is close to p_eq) the mean still matches S_tot within 5 stderr."""
    proc = nr.VP(0.1, 16)
    g = cases.gaussian_case(2)
    r = sde.path_entropy(g, proc, 20000, np.linspace(0, 1, 201), seed=5, scheme="em")
    _zcheck(r.mean, nr.total_entropy(g, proc, 0.0, 1.0).value)


# --------------------------------------------------------------------------- Girsanov path KL
def test_girsanov_path_kl_equals_S_tot():
    proc = nr.VP(0.1, 20)
    g = cases.gaussian_case(2)
    n = 10000
    grid = np.linspace(0, 1, 1001)
    x_init = g.diffuse(proc, 1.0).sample(n, seed=9)
    r = sde.path_kl(proc, n, grid, data=g, seed=10, x_init=x_init)
    ref = nr.total_entropy(g, proc, 0.0, 1.0).value
    _zcheck(r.kl, ref)
    _zcheck(r.kl_log_rn, ref)
    # S_NN(e*) = S_tot: a user e equal to e* gives the same numbers (same paths, same seed)
    r2 = sde.path_kl(proc, n, grid, e=lambda x, s: g.diffuse(proc, s).score(x) + x, seed=10, x_init=x_init)
    np.testing.assert_allclose(r2.energy, r.energy, rtol=1e-12)
    # the model paths are the sampler's paths
    xs = sde.sample(proc, n, grid, data=g, seed=10, x_init=x_init)
    np.testing.assert_allclose(r.samples, xs, rtol=0, atol=1e-10)


def test_girsanov_zero_control_gives_zero():
    proc = nr.VP(0.1, 20)
    r = sde.path_kl(proc, 100, np.linspace(0, 1, 11), e=lambda x, s: np.zeros_like(x), dim=2, seed=0)
    assert r.kl.value == 0.0 and np.all(r.log_rn == 0.0)


# --------------------------------------------------------------------------- log-density lower bound
X_PTS = np.array([[0.0, 0.0], [1.0, -1.0], [2.5, 0.3], [-1.2, 0.8]])


def test_bound_tight_with_exact_e_under_SL():
    """SL to s1 = 1 has p_1 = p_eq exactly, so with e* the bound equals log p_d(x) (zero gap)."""
    g = cases.gaussian_case(2)
    lb = sde.log_density_lower_bound(X_PTS, nr.SL(1.0), data=g, n_time=8000, seed=0)
    assert np.all(np.abs(lb.value - g.logpdf(X_PTS)) < Z * lb.stderr), (lb.value - g.logpdf(X_PTS)) / lb.stderr


def test_bound_is_on_the_model_density():
    """A user e = e*_q of another Gaussian q makes the model q: the bound is log q(x), not log p_d(x)."""
    proc = nr.SL(1.0)
    q = nr.Gaussian([-0.5, 0.4], [[0.5, -0.1], [-0.1, 0.3]])

    def e(y, s):
        return q.diffuse(proc, s).score(y) - proc.grad_log_peq(y)

    lb = sde.log_density_lower_bound(X_PTS, proc, e=e, n_time=8000, seed=1)
    assert np.all(np.abs(lb.value - q.logpdf(X_PTS)) < Z * lb.stderr)


def test_bound_e_zero_is_equilibrium():
    """e = 0 under VP: the model is the stationary OU, p_model = p_eq, and (reversibility) the bound is tight."""
    proc = nr.VP(0.1, 16)
    lb = sde.log_density_lower_bound(X_PTS, proc, e=lambda y, s: np.zeros_like(y), n_time=4000, seed=2)
    peq = nr.Gaussian.isotropic([0.0, 0.0], 1.0)
    assert np.all(np.abs(lb.value - peq.logpdf(X_PTS)) < Z * lb.stderr)


def test_bound_below_log_density_under_VP():
    """With e* under VP16 the prior p_eq differs from p_T, and the bound stays below log p_d (within MC error)."""
    g = cases.gaussian_case(2)
    lb = sde.log_density_lower_bound(X_PTS, nr.VP(0.1, 16), data=g, n_time=4000, seed=3)
    assert np.all(lb.value <= g.logpdf(X_PTS) + Z * lb.stderr)


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises():
    vp, sl = nr.VP(), nr.SL()
    g = cases.gaussian_case(2)
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="strictly increasing"):
        sde.simulate(vp, x, [0.0, 0.5, 0.4])
    with pytest.raises(ValueError, match="NaN"):
        sde.simulate(vp, x, [0.0, np.nan])
    with pytest.raises(ValueError, match="at least two"):
        sde.simulate(vp, x, [0.5])
    with pytest.raises(ValueError, match="singular"):
        sde.simulate(sl, x, [0.0, 1.0])
    with pytest.raises(ValueError, match="outside the time domain"):
        sde.simulate(vp, x, [0.0, 1.5])
    with pytest.raises(ValueError, match="NaN or inf"):
        sde.simulate(vp, np.array([[0.0, np.inf]]), [0.0, 0.5])
    with pytest.raises(ValueError, match="n .number of draws. is required"):
        sde.simulate(vp, g, [0.0, 0.5])
    with pytest.raises(ValueError, match="scheme"):
        sde.simulate(vp, x, [0.0, 0.5], scheme="milstein")
    with pytest.raises(ValueError, match="seed"):
        sde.simulate(vp, x, [0.0, 0.5], seed=-1)
    with pytest.raises(ValueError, match="exactly one"):
        sde.sample(vp, 10, [0.0, 0.5], data=g, score=lambda x, s: x)
    with pytest.raises(ValueError, match="exactly one"):
        sde.sample(vp, 10, [0.0, 0.5])
    with pytest.raises(ValueError, match="dim="):
        sde.sample(vp, 10, [0.0, 0.5], score=lambda x, s: -x)
    with pytest.raises(ValueError, match="method"):
        sde.sample(vp, 10, [0.0, 0.5], data=g, method="ode-euler")
    with pytest.raises(ValueError, match=r"n must be an integer >= 1"):
        sde.sample(vp, 0, [0.0, 0.5], data=g)
    with pytest.raises(ValueError, match="returned shape"):
        sde.sample(vp, 10, [0.0, 0.5], score=lambda x, s: x[:, :1], dim=2)
    with pytest.raises(ValueError, match="NaN or inf"):
        sde.sample(vp, 10, [0.0, 0.5], e=lambda x, s: x * np.nan, dim=2)
    with pytest.raises(ValueError, match="dimension"):
        sde.sample(vp, 3, [0.0, 0.5], data=g, x_init=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="rows but n"):
        sde.path_kl(vp, 5, [0.0, 0.5], data=g, x_init=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="no score at s = 0"):
        sde.sample(vp, 10, [0.0, 0.5], data=cases.dirac_case(2), method="ode-heun")
    with pytest.raises(ValueError, match="no density at s0"):
        sde.path_entropy(cases.dirac_case(2), vp, 10, [0.0, 0.5])
    with pytest.raises(ValueError, match="no equilibrium"):
        sde.log_density_lower_bound(x, nr.VE(), data=g)
    with pytest.raises(ValueError, match="s0 < s1"):
        sde.log_density_lower_bound(x, vp, data=g, s0=0.5, s1=0.5)
    with pytest.raises(ValueError, match="dimension"):
        sde.log_density_lower_bound(np.zeros((2, 3)), vp, data=g)


# --------------------------------------------------------------------------- issue 11 regressions
BAD_SEEDS = [-1, "a", 1.5, True, [1, -2]]


def _sde_calls(seed):
    vp, g = nr.VP(), cases.gaussian_case(2)
    x = np.zeros((3, 2))
    grid = [1e-3, 0.5, 1.0]
    return [
        lambda: sde.simulate(vp, x, [0.0, 0.5], seed=seed),
        lambda: sde.simulate(vp, g, [0.0, 0.5], seed=seed, n=4),
        lambda: sde.sample(vp, 4, grid, data=g, seed=seed),
        lambda: sde.sample(vp, 4, grid, data=g, method="ode-heun", seed=seed),
        lambda: sde.path_entropy(g, vp, 4, [0.0, 0.5], seed=seed),
        lambda: sde.path_kl(vp, 4, grid, data=g, seed=seed),
        lambda: sde.log_density_lower_bound(x, vp, data=g, n_time=4, seed=seed),
    ]


@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_bad_seeds_raise_the_one_seed_error(seed):
    """Regression (issue 11.3): sde had its own _seed_sequence; now _checks.seed_sequence everywhere."""
    assert not hasattr(sde, "_seed_sequence")
    for call in _sde_calls(seed):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            call()


def test_seed_sequence_generator_and_none_seeds():
    vp, g = nr.VP(), cases.gaussian_case(2)
    grid = np.linspace(1e-3, 1.0, 5)
    a = sde.sample(vp, 6, grid, data=g, seed=5)
    np.testing.assert_array_equal(a, sde.sample(vp, 6, grid, data=g, seed=np.random.SeedSequence(5)))
    b1 = sde.sample(vp, 6, grid, data=g, seed=np.random.default_rng(9))
    b2 = sde.sample(vp, 6, grid, data=g, seed=np.random.SeedSequence(9).spawn(1)[0])
    np.testing.assert_array_equal(b1, b2)                 # a Generator seeds a child of its SeedSequence
    for call in _sde_calls(None):                         # None: fresh OS entropy, accepted everywhere
        call()


def test_complex_model_outputs_and_inputs_rejected():
    """Regression (issue 11.4): complex values were silently truncated to their real part."""
    vp, g = nr.VP(), cases.gaussian_case(2)
    grid = [1e-3, 0.5, 1.0]
    score = sde._exact_score_fn(vp, g)

    def cscore(x, s):
        return score(x, s) + 0j

    def ce(x, s):
        return score(x, s) - vp.grad_log_peq(x) + 0j

    for method in ("sde", "ode-heun", "ode-rk4", "ode-scipy"):
        with pytest.raises(ValueError, match="complex"):
            sde.sample(vp, 4, grid, score=cscore, dim=2, method=method)
        with pytest.raises(ValueError, match="complex"):
            sde.sample(vp, 4, grid, e=ce, dim=2, method=method)
    with pytest.raises(ValueError, match="complex"):
        sde.path_kl(vp, 4, grid, e=ce, dim=2)
    with pytest.raises(ValueError, match="complex"):
        sde.log_density_lower_bound(np.zeros((3, 2)), vp, e=ce, n_time=4)
    with pytest.raises(ValueError, match="complex"):
        sde.simulate(vp, np.zeros((3, 2)) + 1j, [0.0, 0.5])
    with pytest.raises(ValueError, match="complex"):
        sde.simulate(vp, np.zeros((3, 2)), np.array([0.0, 0.5]) + 0j)
    with pytest.raises(ValueError, match="complex"):
        sde.sample(vp, 3, grid, data=g, x_init=np.zeros((3, 2)) + 0j)
    with pytest.raises(ValueError, match="complex"):
        sde.log_density_lower_bound(np.zeros((3, 2)) + 1j, vp, data=g, n_time=4)
    with pytest.raises(ValueError, match="complex"):
        sde.log_density_lower_bound(np.zeros((3, 2)), vp, data=g, s0=0.1 + 0j, n_time=4)


def test_dimension_and_counts_checked():
    """Regression (issue 11.4): sample(..., dim=0) returned an (n, 0) array."""
    vp, g = nr.VP(), cases.gaussian_case(2)
    grid = [1e-3, 0.5, 1.0]
    for dim in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="dim must be an integer >= 1"):
            sde.sample(vp, 4, grid, score=lambda x, s: -x, dim=dim)
        with pytest.raises(ValueError, match="dim must be an integer >= 1"):
            sde.path_kl(vp, 4, grid, e=lambda x, s: 0 * x, dim=dim)
    for n in (0, -3, 2.0):
        with pytest.raises(ValueError, match="n must be an integer >= 1"):
            sde.sample(vp, n, grid, score=lambda x, s: -x, dim=1)
        with pytest.raises(ValueError, match="n_paths must be an integer >= 1"):
            sde.path_kl(vp, n, grid, data=g)
        with pytest.raises(ValueError, match="n_paths must be an integer >= 1"):
            sde.path_entropy(g, vp, n, [0.0, 0.5])
        with pytest.raises(ValueError, match="n must be an integer >= 1"):
            sde.simulate(vp, g, [0.0, 0.5], n=n)
    with pytest.raises(ValueError, match="dim = 3 but the data have dimension 2"):
        sde.sample(vp, 4, grid, data=g, dim=3)
    with pytest.raises(ValueError, match="process"):
        sde.sample("vp", 4, grid, data=g)
    with pytest.raises(ValueError, match="process"):
        sde.log_density_lower_bound(np.zeros((3, 2)), None, data=g)
    assert sde.sample(vp, 4, grid, score=lambda x, s: -x, dim=1).shape == (4, 1)


def test_units_of_path_estimates():
    """Regression (issue 11.5): the fluctuation-theorem averages and tail frequencies are dimensionless."""
    vp, g = nr.VP(), cases.gaussian_case(2)
    pe = sde.path_entropy(g, vp, 50, [0.0, 0.5, 1.0], seed=1)
    assert pe.mean.unit == pe.mean_sys.unit == pe.mean_med.unit == "nat"
    assert pe.ift.unit == "1" and pe.negative_tail(1.0).unit == "1"
    pk = sde.path_kl(vp, 20, [1e-3, 0.5, 1.0], data=g, seed=1)
    assert pk.kl.unit == pk.kl_log_rn.unit == "nat" and pk.ift.unit == "1"
    with pytest.raises(ValueError, match="nats only"):
        pk.ift.in_base(2)
    assert sde.log_density_lower_bound(np.zeros((2, 2)), vp, data=g, n_time=4).unit == "nat"
