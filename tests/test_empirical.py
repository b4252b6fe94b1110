"""Empirical data: cutoff errors, Dirac-mixture identities, the memoriser baseline and its N -> infinity limit."""
import math

import numpy as np
import pytest
from scipy.special import ndtri

import nent_ref as nr
from nent_ref import cases
from nent_ref.mixture import Empirical, GaussianMixture, paper_mixture

PROCS = cases.processes()


def test_bad_input_rejected():
    with pytest.raises(ValueError, match="NaN"):
        Empirical([[0.0, 1.0], [np.nan, 2.0]])
    with pytest.raises(ValueError, match="sum to 1"):
        Empirical([[0.0], [1.0]], weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative"):
        Empirical([[0.0], [1.0]], weights=[1.5, -0.5])
    with pytest.raises(ValueError, match="shape"):
        Empirical(np.zeros((2, 2, 2)))
    emp = Empirical([[0.0], [1.0]])
    with pytest.raises(ValueError, match="no density"):
        emp.logpdf([0.0])


@pytest.mark.parametrize("fn", ["total", "rate", "kl"])
def test_zero_time_is_rejected_with_reason(fn):
    emp = Empirical(np.random.default_rng(0).normal(size=(5, 2)))
    proc = PROCS["vp16"]
    with pytest.raises(ValueError, match=r"\(D/2\) log\(1/s"):
        if fn == "total":
            nr.total_entropy(emp, proc, 0.0)
        elif fn == "rate":
            nr.entropy_production_rate(emp, proc, [0.0, 0.1])
        else:
            nr.kl_to_equilibrium(emp, proc, 0.0)


def test_diffuse_is_mixture_of_dirac_diffusions():
    atoms = np.random.default_rng(1).normal(size=(4, 3))
    emp = Empirical(atoms, weights=[0.1, 0.2, 0.3, 0.4])
    proc = PROCS["sl"]
    ps = emp.diffuse(proc, 0.3)
    assert emp.diffuse(proc, 0.0) is emp
    for k in range(4):
        g = nr.Dirac(atoms[k]).diffuse(proc, 0.3)
        np.testing.assert_allclose(ps.means[k], g.mean, rtol=1e-15)
        np.testing.assert_allclose(ps.full_covs()[k], g.cov, rtol=1e-15)
    x = np.random.default_rng(2).normal(size=(6, 3))
    w, m, v = emp.diffused_params(proc, 0.3)
    dens = sum(w[k] * math.exp(nr.Dirac(atoms[k]).diffuse(proc, 0.3).logpdf(x[0])) for k in range(4))
    assert abs(ps.logpdf(x[0]) - math.log(dens)) < 1e-13
    counts = np.bincount(np.argmin(np.abs(emp.sample(40000, seed=1)[:, :1] - atoms[:, 0]), axis=1), minlength=4)
    expected = 40000 * emp.weights
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected * (1 - emp.weights)))


def test_single_atom_is_dirac_closed_form():
    proc = PROCS["vpx"]
    a = [0.3]
    emp = Empirical([a])
    ref = nr.total_entropy(nr.Dirac(a), proc, cases.EPS).value
    est = nr.total_entropy(emp, proc, cases.EPS, method="quadrature")
    assert abs(est.value - ref) <= 1e-12 * ref


def _dirac_kl_mean(atoms, w, proc, s):
    return float(w @ np.array([nr.kl_to_equilibrium(nr.Dirac(a), proc, s).value for a in atoms]))


@pytest.mark.parametrize("pname", ["vp16", "sl"])
def test_kl_between_dirac_mean_minus_log_n_and_dirac_mean(pname):
    """mean Dirac KL - H(w) <= KL(p_s^emp || p_eq) <= mean Dirac KL (convexity / mixture entropy bound)."""
    proc = PROCS[pname]
    rng = np.random.default_rng(3)
    atoms = rng.normal(size=(25, 1))
    emp = Empirical(atoms)
    for s in (1e-4, 0.05, 0.3):
        est = nr.kl_to_equilibrium(emp, proc, s, method="quadrature")
        top = _dirac_kl_mean(atoms, emp.weights, proc, s)
        assert top - math.log(25) - est.error_bound <= est.value <= top + est.error_bound
    # D = 4 by Monte Carlo
    atoms = rng.normal(size=(50, 4))
    emp = Empirical(atoms)
    est = nr.kl_to_equilibrium(emp, proc, 0.02, seed=1, n_samples=2 ** 15)
    top = _dirac_kl_mean(atoms, emp.weights, proc, 0.02)
    assert top - math.log(50) - 5 * est.stderr <= est.value <= top + 5 * est.stderr


def test_well_separated_atoms_reach_the_lower_end():
    """N atoms 1 apart at v(s) ~ 1e-5: KL = mean Dirac KL - log N up to overlaps exp(-1/(8v)) (nil)."""
    proc = PROCS["vp16"]
    N = 7
    atoms = np.arange(N, dtype=float)[:, None] - 3.0
    emp = Empirical(atoms)
    s = cases.EPS
    assert float(proc.marginal_var(s)) < 2e-6
    est = nr.kl_to_equilibrium(emp, proc, s, method="quadrature")
    target = _dirac_kl_mean(atoms, emp.weights, proc, s) - math.log(N)
    assert abs(est.value - target) <= 1e-10 * target
    # and S_tot as well (at T the atoms overlap completely, so compare with the KL difference)
    tot = nr.total_entropy(emp, proc, s, method="quadrature")
    assert abs(tot.value - (est.value - nr.kl_to_equilibrium(emp, proc, 1.0, method="quadrature").value)) \
        <= 1e-10 * tot.value


def test_empirical_converges_to_population_as_n_grows():
    """Atoms at the N-quantiles of N(0.5, 0.8): S_tot^emp(s0, T) -> S_tot^pop(s0, T) (closed form).

    Quantile atoms remove the sampling noise; the remaining discretisation error is O(1/N)
    (dominated by the variance deficit of the midpoint quantiles, 1 - Var(atoms)/0.8 ~ 1/N), so
    each 4x increase of N must cut the relative error by at least 3x (4x expected), and at
    N = 400 it is below 1 %.
    """
    proc = PROCS["vp16"]
    pop = nr.Gaussian([0.5], [[0.8]])
    s0 = 0.05
    ref = nr.total_entropy(pop, proc, s0).value
    errs = []
    for N in (25, 100, 400):
        atoms = 0.5 + math.sqrt(0.8) * ndtri((np.arange(N) + 0.5) / N)
        est = nr.total_entropy(Empirical(atoms[:, None]), proc, s0, method="quadrature")
        errs.append(abs(est.value - ref) / ref)
    assert errs[1] < errs[0] / 3 and errs[2] < errs[1] / 3
    assert errs[2] < 1e-2


@pytest.mark.slow
def test_empirical_random_draws_converge_to_population():
    """Random atoms from the paper's 2-D mixture: |S_emp - S_pop| shrinks with N (s0 = 0.05, VP),
    checked against the spread over independent draws (5 sigma)."""
    proc = PROCS["vp16"]
    pop = paper_mixture(2)
    s0 = 0.05
    ref = nr.total_entropy(pop, proc, s0).value
    for N in (200, 2000):
        vals = []
        for r in range(6):
            emp = Empirical(pop.sample(N, seed=[N, r]))
            vals.append(nr.total_entropy(emp, proc, s0, seed=r, n_samples=2 ** 16).value)
        vals = np.array(vals)
        # the atom-draw spread dominates; its bias (memorisation excess) must shrink with N
        assert abs(vals.mean() - ref) < 5 * vals.std(ddof=1) / math.sqrt(len(vals)) + 2.0 / N


def test_memoriser_baseline_grows_with_log_n_at_most():
    """S_tot^emp(EPS, T) <= mean Dirac S_tot, and >= mean Dirac S_tot - log N - KL(p_T^emp||p_eq)."""
    proc = PROCS["vp16"]
    pop = paper_mixture(2)
    for N in (10, 40):
        atoms = pop.sample(N, seed=N)
        emp = Empirical(atoms)
        est = nr.total_entropy(emp, proc, cases.EPS, method="quadrature")
        dirac = np.mean([nr.total_entropy(nr.Dirac(a), proc, cases.EPS).value for a in atoms])
        klT = est.extra["kl_s1"].value
        assert dirac - math.log(N) - klT - est.error_bound <= est.value <= dirac + est.error_bound


def test_empirical_suite_runs_small(monkeypatch):
    from nent_ref import mixture

    monkeypatch.setattr(mixture, "EMPIRICAL_SIZES", (5,))
    monkeypatch.setattr(cases, "MIXTURE_DIMS", (2,))

    class Opt:
        seed, workers, quiet = 0, 1, True

        def progress(self, msg):
            pass
    rows = mixture.empirical_rows(Opt())
    assert len(rows) == 4
    for r in rows:
        assert r["n_atoms"] == 5 and r["s0"] == cases.EPS
        assert r["mean_dirac_kl_s0"] - r["log_N"] - 1e-8 <= r["kl_s0_eq"] <= r["mean_dirac_kl_s0"] + 1e-8
