"""Tests of nent_ref.validation and the ``nent-ref validate`` command.

Ground truth: closed-form S_tot (Gaussian, Dirac), 2-D mixture quadrature, the PerturbedE closed
forms and moment-ODE KL (see tests/test_neural.py).  Checks use 5 standard errors.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import nent_ref as nr
from nent_ref import cases, cli, total_entropy
from nent_ref import reference_models as rm
from nent_ref.core.estimate import Estimate
from nent_ref.suites.validation import ValidationReport, data_presets, load_data, process_presets

SMALL = dict(n_samples=2 ** 13, n_times=16, curve_samples=512, n_curve_points=5)


def test_validate_exact_model_passes_and_reports():
    proc, g = cases.processes()["vp16"], cases.gaussian_case(3)
    rep = nr.validate(rm.exact_e(g, proc), g, proc, **SMALL)
    assert isinstance(rep, ValidationReport) and rep.passed
    assert rep.l_em.value == 0.0
    assert rep.s_tot.value == total_entropy(g, proc).value and rep.s_tot.method == "closed-form"
    assert abs(rep.s_nn.z_score(rep.s_tot.value)) <= 5
    assert {c.name for c in rep.checks} == {"decomposition", "sqrt_bound", "denoising"}
    assert rep.curves is not None and len(rep.curves.s) == 5
    text = str(rep)
    assert "overall: PASSED" in text and "S_NN" in text and "[PASS] decomposition" in text
    doc = json.loads(rep.to_json())
    assert doc["passed"] is True and doc["units"] == "nats"
    assert doc["S_tot"]["value"] == pytest.approx(rep.s_tot.value, rel=1e-15)
    assert len(doc["curves"]["sdot_nn"]["value"]) == 5


def test_validate_perturbed_model_checks_likelihood_bound():
    proc, g = cases.processes()["vp16"], cases.gaussian_case(3)
    rng = np.random.default_rng(1)
    model = rm.perturbed_e(g, proc, 0.3 * rng.standard_normal((3, 3)), 0.5 * rng.standard_normal(3))
    rep = nr.validate(model, g, proc, curves=False, **{k: SMALL[k] for k in ("n_samples", "n_times")})
    assert rep.passed
    names = [c.name for c in rep.checks]
    assert "likelihood_bound" in names
    cf = model.closed_form()
    assert abs(rep.l_em.z_score(cf.l_em.value)) <= 5
    assert rep.kl_data_model.method == "ode" and rep.kl_data_model.value < rep.likelihood_bound.value


def test_validate_fails_when_a_claim_is_false():
    """A claimed KL(p_d || p_model) above the bound, and a wrong ground truth, must fail."""
    proc, g = cases.processes()["vp16"], cases.gaussian_case(2)
    e = rm.exact_e(g, proc)
    opts = dict(curves=False, n_samples=2 ** 12, n_times=16)
    rep = nr.validate(e, g, proc, kl_data_model=1.0, **opts)
    assert not rep.passed
    assert [c.name for c in rep.checks if not c.passed] == ["likelihood_bound"]
    assert "overall: FAILED" in str(rep) and json.loads(rep.to_json())["passed"] is False
    wrong = Estimate(total_entropy(g, proc).value * 1.5)
    rep = nr.validate(e, g, proc, s_tot=wrong, **opts)
    assert not rep.passed and not next(c for c in rep.checks if c.name == "decomposition").passed


def test_validate_mixture_best_linear_and_dirac_memoriser():
    proc = cases.processes()["vp16"]
    mix = load_data("mixture-2d")
    rep = nr.validate(rm.best_linear_e(mix, proc), mix, proc, **SMALL)
    assert rep.passed and rep.s_tot.method == "quadrature"
    assert rep.stored_fraction < 1.0 and rep.l_em.value > 0
    d = load_data("dirac-2d")
    rep = nr.validate(rm.memoriser(d.sample(1, 0) + 0.1, proc), d, proc, curves=False,
                      n_samples=2 ** 12, n_times=16)
    assert rep.s0 == 1e-5 and rep.passed                 # default cutoff for Dirac data


def test_validate_score_model():
    proc, g = cases.processes()["sl"], cases.gaussian_case(2)
    e = rm.exact_e(g, proc)

    def score(x, s):
        return e(x, s) + proc.grad_log_peq(x)

    rep = nr.validate(score, g, proc, score=True, curves=False, n_samples=2 ** 12, n_times=16)
    assert rep.passed and rep.l_em.value == pytest.approx(0.0, abs=1e-9) and rep.s1 == 1 - 1e-5


def test_load_data_presets_and_files(tmp_path):
    assert "gaussian-3d" in data_presets() and "mixture-9d" in data_presets()
    g = load_data("gaussian-3d")
    np.testing.assert_array_equal(g.mean, cases.gaussian_case(3).mean)
    mix = load_data("mixture-3d")
    w, m, sd = cases.paper_mixture_params(3)
    np.testing.assert_array_equal(mix.means, m)
    np.testing.assert_allclose(mix.covs, sd ** 2)
    f1 = tmp_path / "g.npz"
    np.savez(f1, mean=[0.0, 1.0], cov=np.eye(2))
    assert isinstance(load_data(str(f1)), nr.Gaussian)
    f2 = tmp_path / "p.npz"
    np.savez(f2, points=np.arange(6.0).reshape(3, 2))
    assert isinstance(load_data(str(f2)), nr.Empirical)
    f3 = tmp_path / "m.npz"
    np.savez(f3, weights=w, means=m, covs=sd ** 2)
    assert isinstance(load_data(str(f3)), nr.GaussianMixture)
    f4 = tmp_path / "bad.npz"
    np.savez(f4, foo=np.zeros(2))
    with pytest.raises(ValueError, match="expected arrays"):
        load_data(str(f4))
    with pytest.raises(ValueError, match="unknown data preset"):
        load_data("gaussian-4d")
    with pytest.raises(ValueError, match="no such data file"):
        load_data(str(tmp_path / "missing.npz"))
    assert process_presets()["vp"].schedule.beta_max == 16.0


def test_validate_bad_input():
    proc, g = cases.processes()["vp16"], cases.gaussian_case(2)
    with pytest.raises(ValueError, match="callable"):
        nr.validate(3.0, g, proc)
    with pytest.raises(ValueError, match="threshold"):
        nr.validate(rm.exact_e(g, proc), g, proc, threshold=0)
    with pytest.raises(ValueError, match="exact marginal score"):
        nr.validate(rm.exact_e(g, proc), g.sample(100, 0), proc, s0=0.1, s_tot=Estimate(1.0))


# --------------------------------------------------------------------------- issue 11 regressions
def test_validate_exact_model_with_rounding_level_gap_passes(monkeypatch):
    """Issue 11.1: the denoising gap of e* is 4.4e-16 with stderr 0 on some BLAS builds.  validate used to
    excuse it with a private 1e-9 floor (so this passed before); it now relies on the one mechanism,
    the rounding floor of Estimate.z_score through the gap's scale.  Constructed deterministically: the
    run is replaced by a fixed one whose gap is 2 ulps; every check must pass with a finite, tiny z."""
    from nent_ref.quantities import neural
    proc, g = cases.processes()["vpx"], cases.gaussian_case(3)
    st = total_entropy(g, proc)
    const = 2.0996333102624694                        # K of this case as seen in the bug report
    den = float(np.nextafter(np.nextafter(const, np.inf), np.inf))
    value = np.zeros(neural._K)
    value[[neural._NN, neural._TOT, neural._CROSS]] = st.value
    value[neural._DEN], value[neural._CONST] = den, const
    run = neural._Run(value, np.zeros((neural._K, neural._K)), np.zeros(neural._K), 2 ** 13,
                      "stratified-monte-carlo", True, True)
    monkeypatch.setattr(neural, "_run", lambda *a, **k: run)
    rep = nr.validate(rm.exact_e(g, proc), g, proc, curves=False, s_tot=st)
    assert rep.passed, str(rep)
    gap = next(c for c in rep.checks if c.name == "denoising")
    assert gap.margin.value > 0 and gap.margin.stderr == 0.0
    assert math.isfinite(gap.z) and abs(gap.z) < 1e-5


def test_make_check_uses_the_one_rounding_floor():
    """_make_check's z is margin.z_score(0): stderr + error bound + 1e-10 x scale, no private floor."""
    from nent_ref.suites.validation import _make_check
    exact = Estimate(4.4e-16, 0.0, scale=4.2)
    c = _make_check("x", "x", "identity", exact, 5.0)
    assert c.passed and c.z == exact.z_score(0.0) == pytest.approx(4.4e-16 / 4.2e-10)
    noisy = Estimate(-0.3, 0.1, error_bound=0.05, scale=10.0)
    c = _make_check("x", "x", "bound", noisy, 5.0)
    assert c.z == noisy.z_score(0.0) == pytest.approx(-0.3 / (0.15 + 1e-9))
    # a margin without a scale (pure rounding of nothing) is not excused
    c = _make_check("x", "x", "identity", Estimate(1e-3, 0.0), 5.0)
    assert not c.passed


def test_validate_bad_seeds_and_generator_seed():
    proc, g = cases.processes()["vp16"], cases.gaussian_case(2)
    e = rm.exact_e(g, proc)
    for seed in (-1, "a", 1.5, True):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            nr.validate(e, g, proc, seed=seed, s_tot=Estimate(1.0), **SMALL)
    opts = dict(n_samples=2 ** 10, n_times=4, curve_samples=64, n_curve_points=2)
    a = nr.validate(e, g, proc, seed=np.random.default_rng(4), **opts)
    b = nr.validate(e, g, proc, seed=np.random.default_rng(4), **opts)
    assert a.s_nn.value == b.s_nn.value and a.curves.sdot_nn.value.tolist() == b.curves.sdot_nn.value.tolist()
    doc = json.loads(a.to_json())                     # the seed is recorded in a reproducible, JSON-able form
    ss = np.random.SeedSequence(doc["settings"]["seed"]["entropy"], spawn_key=doc["settings"]["seed"]["spawn_key"])
    c = nr.validate(e, g, proc, seed=ss, **opts)
    assert c.s_nn.value == a.s_nn.value
    assert nr.validate(e, g, proc, seed=[1, 2], **opts).settings["seed"] == [1, 2]


def test_validate_rejects_complex_models_and_claims():
    proc, g = cases.processes()["vp16"], cases.gaussian_case(2)
    e = rm.exact_e(g, proc)
    with pytest.raises(ValueError, match="complex"):
        nr.validate(lambda x, s: e(x, s) + 0j, g, proc, **SMALL)
    with pytest.raises(ValueError, match="complex"):
        nr.validate(lambda x, s: e(x, s) + proc.grad_log_peq(x) + 0j, g, proc, score=True, **SMALL)
    with pytest.raises(ValueError, match="kl_data_model"):
        nr.validate(e, g, proc, kl_data_model=0.1 + 0j, curves=False, n_samples=2 ** 10, n_times=4)
    with pytest.raises(ValueError, match="kl_data_model"):
        nr.validate(e, g, proc, kl_data_model=math.nan, curves=False, n_samples=2 ** 10, n_times=4)
    with pytest.raises(ValueError, match="process"):
        nr.validate(e, g, "vp16")


def test_validate_units():
    proc, g = cases.processes()["vp16"], cases.gaussian_case(2)
    rep = nr.validate(rm.exact_e(g, proc), g, proc, n_samples=2 ** 10, n_times=4, curve_samples=64,
                      n_curve_points=2)
    for est in (rep.s_tot, rep.s_nn, rep.l_em, rep.cross, rep.likelihood_bound,
                *(c.margin for c in rep.checks if c.name != "denoising")):
        assert est.unit == "nat", est
    # s0 = 0: the denoising identity uses the unit weighting (lambda = v), whose losses have the unit of time
    assert rep.denoising_weighting == "unit"
    for est in (rep.denoising_loss, rep.denoising_constant, rep.checks[2].margin):
        assert est.unit == "time", est
    lik = nr.validate(rm.exact_e(g, proc), g, proc, s0=1e-3, curves=False, n_samples=2 ** 10, n_times=4)
    assert lik.denoising_weighting == "likelihood"
    assert lik.denoising_loss.unit == lik.denoising_constant.unit == lik.checks[2].margin.unit == "nat"
    for name in ("sdot_nn", "sdot_tot", "sdot_tot_mc", "lem_rate", "cross_rate"):
        assert getattr(rep.curves, name).unit == "nat/time"
        assert json.loads(rep.to_json())["curves"][name]["unit"] == "nat/time"


# --------------------------------------------------------------------------- CLI
def _cli(argv, capsys):
    code = cli.main(argv)
    return code, capsys.readouterr()


def test_cli_validate_passes(capsys):
    code, out = _cli(["validate", "nent_ref.reference_models:exact_e", "--factory", "--data", "gaussian-2d",
                      "--process", "vp", "--n-samples", "4096", "--no-curves"], capsys)
    assert code == 0, out.err
    assert "overall: PASSED" in out.out
    code, out = _cli(["validate", "nent_ref.reference_models:exact_e", "--factory", "--data", "gaussian-2d",
                      "--process", "sl", "--n-samples", "4096", "--no-curves", "--json", "--seed", "3"], capsys)
    assert code == 0 and json.loads(out.out)["settings"]["seed"] == 3


class _Overclaiming:
    """e* with a false claim KL(p_d || p_model) = 10 nats (far above the likelihood bound)."""

    def __init__(self, data, process):
        self.e = rm.exact_e(data, process)

    def __call__(self, x, s):
        return self.e(x, s)

    def kl_data_model(self, s0, s1):
        return Estimate(10.0)


def test_cli_validate_fails_and_usage_errors(capsys, monkeypatch):
    monkeypatch.setattr(rm, "_Overclaiming", _Overclaiming, raising=False)
    code, out = _cli(["validate", "nent_ref.reference_models:_Overclaiming", "--factory", "--data", "gaussian-1d",
                      "--process", "vp16", "--n-samples", "4096", "--no-curves"], capsys)
    assert code == 1 and "[FAIL] likelihood_bound" in out.out and "overall: FAILED" in out.out
    code, out = _cli(["validate", "no_such_module:f", "--data", "gaussian-1d", "--process", "vp"], capsys)
    assert code == 2 and "cannot load" in out.err
    code, out = _cli(["validate", "nent_ref.reference_models:exact_e", "--factory", "--data", "nonsense",
                      "--process", "vp"], capsys)
    assert code == 2 and "unknown data preset" in out.err
    with pytest.raises(SystemExit):
        cli.main(["validate", "nent_ref.reference_models:exact_e", "--data", "gaussian-1d", "--process", "ve"])


# --------------------------------------------------------------------------- docs walkthrough
def _doc_blocks():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "neural.md").read_text()
    code = next(b.split("```")[0] for b in text.split("```python\n")[1:] if "class BinnedAffine" in b)
    output = text.split("The one-line validation prints (abridged):\n\n```\n")[1].split("```")[0]
    return code, output


def test_docs_walkthrough_reproduces_documented_numbers(capsys):
    """docs/neural.md: run the 'validate your own model' code and compare with the printed output there."""
    code, documented = _doc_blocks()
    assert "class BinnedAffine" in code
    exec(compile(code, "docs/neural.md", "exec"), {"__name__": "docs_example"})
    printed = capsys.readouterr().out
    assert "overall: PASSED" in printed

    def number(text, label):
        """The first number after ``label`` on the line that starts with it."""
        line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith(label))
        return float(line[len(label):].split()[0])

    for label in ("S_NN    neural entropy", "L_EM    entropy-matching loss", "C       cross term int D E[e*.e]",
                  "S_tot   ground truth"):
        assert number(printed, label) == pytest.approx(number(documented, label), rel=1e-5), label
