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
from nent_ref.suites.validation import (EXIT_CONSISTENCY_FAILED, EXIT_QUALITY_FAILED, Gate, ValidationReport,
                                       data_presets, load_data, make_process, process_presets)

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
    assert rep.consistent and rep.verdict == "quality-failed"      # L_EM = 1.2 nats: consistent, but poor
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
    assert not rep.passed and not rep.consistent and rep.quality_passed
    assert [c.name for c in rep.checks if not c.passed] == ["likelihood_bound"]
    assert rep.verdict == "consistency-failed" and rep.exit_code == EXIT_CONSISTENCY_FAILED == 5
    assert "overall: FAILED (consistency)" in str(rep) and json.loads(rep.to_json())["passed"] is False
    wrong = Estimate(total_entropy(g, proc).value * 1.5)
    rep = nr.validate(e, g, proc, s_tot=wrong, **opts)
    assert not rep.passed and not next(c for c in rep.checks if c.name == "decomposition").passed
    assert rep.exit_code == 5 and "verdict   FAILED (consistency): decomposition" in str(rep)


def test_validate_mixture_best_linear_and_dirac_memoriser():
    proc = cases.processes()["vp16"]
    mix = load_data("mixture-2d")
    rep = nr.validate(rm.best_linear_e(mix, proc), mix, proc, **SMALL)
    assert rep.consistent and rep.s_tot.method == "quadrature"
    assert rep.stored_fraction < 1.0 and rep.l_em.value > 0
    # the best affine model misses 36 % of S_tot: a clear quality failure (the README example's number)
    assert rep.verdict == "quality-failed" and rep.l_em_fraction.value == pytest.approx(0.36, abs=0.03)
    d = load_data("dirac-2d")
    rep = nr.validate(rm.memoriser(d.sample(1, 0) + 0.1, proc), d, proc, curves=False,
                      n_samples=2 ** 12, n_times=16)
    assert rep.s0 == 1e-5 and rep.consistent             # default cutoff for Dirac data
    # likelihood weighting (s0 > 0): the denoising check compares with the likelihood-weighted L_EM
    assert rep.denoising_weighting == "likelihood" and rep.l_em_denoising is rep.l_em


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
    code, out = _cli(["validate", "nent_ref.quantities.reference_models:exact_e", "--factory", "--data", "gaussian-2d",
                      "--process", "vp", "--n-samples", "4096", "--no-curves"], capsys)
    assert code == 0, out.err
    assert "overall: PASSED" in out.out
    code, out = _cli(["validate", "nent_ref.quantities.reference_models:exact_e", "--factory", "--data", "gaussian-2d",
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
    code, out = _cli(["validate", "nent_ref.quantities.reference_models:_Overclaiming", "--factory", "--data", "gaussian-1d",
                      "--process", "vp16", "--n-samples", "4096", "--no-curves"], capsys)
    assert code == cli.EXIT_CONSISTENCY_FAILED == 5
    assert "[FAIL] likelihood_bound" in out.out and "overall: FAILED (consistency)" in out.out
    code, out = _cli(["validate", "no_such_module:f", "--data", "gaussian-1d", "--process", "vp"], capsys)
    assert code == 2 and "cannot load" in out.err
    code, out = _cli(["validate", "nent_ref.quantities.reference_models:exact_e", "--factory", "--data", "nonsense",
                      "--process", "vp"], capsys)
    assert code == 2 and "unknown data preset" in out.err
    with pytest.raises(SystemExit):
        cli.main(["validate", "nent_ref.quantities.reference_models:exact_e", "--data", "gaussian-1d", "--process", "vq"])


# --------------------------------------------------------------------------- issue 13: verdicts
def _shifted(e, c):
    """e + c (a constant offset in every coordinate)."""
    return lambda x, s: e(x, s) + c


def _zero(x, s):
    return np.zeros_like(x)


def test_quality_verdict_exact_passes_perturbed_and_zero_fail():
    """Issue 13: e* + 0.5 and a zero model got 'overall: PASSED' and exit 0.  Now the exact model passes
    and both fail with the quality verdict (exit code 1), their consistency checks passing."""
    proc, g = cases.processes()["vp16"], cases.gaussian_case(2)
    e = rm.exact_e(g, proc)
    opts = dict(n_samples=2 ** 13, n_times=16, curve_samples=256, n_curve_points=3)
    exact = nr.validate(e, g, proc, **opts)
    assert exact.passed and exact.verdict == "passed" and exact.exit_code == 0
    assert [gt.status for gt in exact.gates] == ["pass", "pass", "off"]
    shifted = nr.validate(_shifted(e, 0.5), g, proc, **opts)
    zero = nr.validate(_zero, g, proc, **opts)
    # L_EM of e* + c is |c|^2 int D ds = 0.5 * (0.1 + 16) / 4 = 2.0125 nats exactly (D = beta / 2, D-dim 2)
    assert abs(shifted.l_em.z_score(0.5 * 16.1 / 4)) <= 5
    assert abs(zero.l_em.z_score(total_entropy(g, proc).value)) <= 5        # L_EM(0) = S_tot (decomposition)
    for rep in (shifted, zero):
        assert rep.consistent and not rep.quality_passed and not rep.passed
        assert rep.verdict == "quality-failed" and rep.exit_code == EXIT_QUALITY_FAILED == 1
        assert [gt.status for gt in rep.gates] == ["fail", "fail", "off"]
        text = str(rep)
        assert "overall: FAILED (quality)" in text and "verdict   FAILED (quality): L_EM = " in text
        assert "is above the gate 0.1 nat" in text and "consistency checks passed" in text
        doc = json.loads(rep.to_json())
        assert doc["verdict"] == "quality-failed" and doc["exit_code"] == 1 and doc["consistent"] is True
        assert [gt["status"] for gt in doc["quality"]["gates"]] == ["fail", "fail", "off"]
    # the report leads with quality, and the S_NN / S_tot ratio is not called a share
    text = str(shifted)
    assert text.index("quality:") < text.index("consistency:")
    assert shifted.stored_fraction > 1                          # 1.19: above 1, so not a share of anything
    ratio_line = next(ln for ln in text.splitlines() if ln.strip().startswith("S_NN / S_tot"))
    assert "not a quality measure" in ratio_line
    assert "share" not in text.lower() and "supplies" not in text.lower()


def test_gates_judge_with_confidence_bounds():
    """A gate passes when value + z sigma <= limit, fails when value - z sigma > limit, else inconclusive."""
    from nent_ref.suites.validation import _make_gate
    def status(value, se, limit, z=2.0):
        return _make_gate("max_l_em", "L_EM", Estimate(value, se), limit, z, "nat").status
    assert status(0.0, 0.0, 0.1) == "pass"                  # the exact model: L_EM = 0 exactly
    assert status(0.05, 0.01, 0.1) == "pass"                # 0.07 <= 0.1
    assert status(0.09, 0.01, 0.1) == "inconclusive"        # 0.11 > 0.1 >= 0.07
    assert status(0.11, 0.01, 0.1) == "inconclusive"
    assert status(0.13, 0.01, 0.1) == "fail"                # 0.11 > 0.1
    assert status(0.09, 0.01, 0.1, z=0.0) == "pass"
    assert status(0.5, 0.01, None) == "off"
    gate = _make_gate("max_l_em", "L_EM", Estimate(0.09, 0.01), 0.1, 2.0, "nat")
    assert isinstance(gate, Gate) and not gate.passed and "inconclusive" in gate.describe()
    assert gate.upper == pytest.approx(0.11) and gate.lower == pytest.approx(0.07)
    # through validate: a model near the gate is inconclusive with few samples, and the verdict says why
    proc, g = cases.processes()["vp16"], cases.gaussian_case(1)
    e = rm.exact_e(g, proc)
    c = math.sqrt(0.1 / (16.1 / 4))                         # L_EM = c^2 int D = 0.1 nats exactly (1-D)
    rep = nr.validate(_shifted(e, c), g, proc, curves=False, n_samples=2 ** 10, n_times=8, max_l_em_fraction=None)
    assert rep.gates[0].status == "inconclusive" and rep.exit_code == 1
    assert "inconclusive (more samples, n_samples, decide)" in rep.summary()


def test_gates_can_be_set_and_turned_off():
    proc, g = cases.processes()["vp16"], cases.gaussian_case(2)
    e = rm.exact_e(g, proc)
    opts = dict(curves=False, n_samples=2 ** 12, n_times=16)
    off = nr.validate(_shifted(e, 0.5), g, proc, max_l_em=None, max_l_em_fraction=None, **opts)
    assert off.passed and [gt.status for gt in off.gates] == ["off", "off", "off"]
    assert "no quality gate was set, so this says nothing about quality" in off.summary()
    loose = nr.validate(_shifted(e, 0.5), g, proc, max_l_em=3.0, max_l_em_fraction=2.0, max_kl_bound=3.0, **opts)
    assert loose.passed and [gt.status for gt in loose.gates] == ["pass", "pass", "pass"]
    strict = nr.validate(e, g, proc, max_kl_bound=1e-6, **opts)   # KL(p_1 || p_eq) = 2.6e-4 alone exceeds it
    assert strict.gates[2].status == "fail" and strict.exit_code == 1
    assert strict.settings["gates"] == {"max_l_em": 0.1, "max_l_em_fraction": 0.05, "max_kl_bound": 1e-6}
    for bad, match in ((dict(max_l_em=-0.1), "max_l_em must be >= 0"), (dict(max_l_em="a"), "max_l_em"),
                       (dict(max_l_em_fraction=math.nan), "max_l_em_fraction must be finite"),
                       (dict(gate_z=-1), "gate_z"), (dict(base=1), "base")):
        with pytest.raises(ValueError, match=match):
            nr.validate(e, g, proc, **bad, **opts)
    with pytest.raises(ValueError, match="max_kl_bound needs a process with an equilibrium"):
        nr.validate(e, g, make_process("ve"), max_kl_bound=0.1, **opts)


def test_denoising_check_prints_the_l_em_it_uses():
    """Issue 13: with s0 = 0 the denoising check compares with a unit-weighted L_EM the report did not print."""
    proc, g = cases.processes()["vpx"], cases.gaussian_case(2)
    model = _shifted(rm.exact_e(g, proc), 0.2)
    rep = nr.validate(model, g, proc, curves=False, n_samples=2 ** 12, n_times=16)
    assert rep.denoising_weighting == "unit" and rep.l_em_denoising.unit == "time"
    gap = next(c for c in rep.checks if c.name == "denoising").margin
    used = rep.denoising_loss.value - rep.denoising_constant.value - rep.l_em_denoising.value
    assert used == pytest.approx(gap.value, abs=1e-12 * rep.denoising_loss.value)
    assert rep.l_em_denoising.stderr > 0 and rep.l_em_denoising.method == "stratified-monte-carlo"
    # the same number from nr.entropy_matching_loss (unit weighting, same design and seed)
    direct = nr.entropy_matching_loss(model, g, proc, weighting="unit", n_samples=2 ** 12, n_times=16,
                                      chunk_size=rep.settings["chunk_size"])
    assert direct.value == pytest.approx(rep.l_em_denoising.value, rel=1e-12)
    line = next(ln for ln in str(rep).splitlines() if ln.strip().startswith("L_EM    unit weighting"))
    assert f"{rep.l_em_denoising.value:.6g}" in line
    # every number of every check is printed
    text = str(rep)
    for est in (rep.s_tot, rep.s_nn, rep.cross, rep.l_em, rep.s_tot_mc, rep.denoising_loss, rep.denoising_constant):
        assert f"{est.value:.6g}" in text


def test_report_in_bits():
    proc, g = cases.processes()["vp16"], cases.gaussian_case(2)
    e = rm.exact_e(g, proc)
    opts = dict(n_samples=2 ** 12, n_times=16, curve_samples=128, n_curve_points=3)
    nats = nr.validate(_shifted(e, 0.1), g, proc, **opts)
    bits = nr.validate(_shifted(e, 0.1), g, proc, base=2, **opts)
    ln2 = math.log(2)
    assert bits.unit == "bit" and bits.l_em.unit == "bit" and bits.curves.sdot_nn.unit == "bit/time"
    for name in ("s_tot", "s_nn", "l_em", "cross", "likelihood_bound"):
        assert getattr(bits, name).value == pytest.approx(getattr(nats, name).value / ln2, rel=1e-12), name
    assert bits.l_em_fraction.value == pytest.approx(nats.l_em_fraction.value, rel=1e-12)
    assert bits.gates[0].limit == pytest.approx(0.1 / ln2)        # the gate is in nats, shown in bits
    assert [gt.status for gt in bits.gates] == [gt.status for gt in nats.gates]
    assert [c.z for c in bits.checks] == pytest.approx([c.z for c in nats.checks], rel=1e-9)
    assert bits.denoising_loss.unit == "time"                     # unit-weighted losses are not information
    assert str(bits).startswith("nent_ref validation report (bits)") and json.loads(bits.to_json())["units"] == "bits"


def test_seed_sequence_is_not_consumed():
    """A SeedSequence seed is not spawned from (spawning changes it): the same object reproduces the report."""
    proc, g = cases.processes()["vp16"], cases.gaussian_case(1)
    ss = np.random.SeedSequence(7)
    opts = dict(curves=False, n_samples=2 ** 10, n_times=4)
    a = nr.validate(_shifted(rm.exact_e(g, proc), 0.1), g, proc, seed=ss, **opts)
    b = nr.validate(_shifted(rm.exact_e(g, proc), 0.1), g, proc, seed=ss, **opts)
    assert ss.n_children_spawned == 0 and a.l_em.value == b.l_em.value
    assert a.settings["run_seed"] == [int(w) for w in ss.generate_state(4)]


def test_make_process_presets_and_parameters():
    assert repr(make_process("vp")) == repr(nr.VP(0.1, 16.0))
    assert repr(make_process("vp", beta_min=0.2, beta_max=20, kappa=0.5)) == repr(nr.VP(0.2, 20.0, kappa=0.5))
    assert make_process("vpx").kappa == 0.1 and make_process("vpx", kappa=0.3).kappa == 0.3
    cos = make_process("cosine", offset=0.01)
    assert isinstance(cos.schedule, nr.CosineSchedule) and cos.singular_at_T
    assert repr(cos) == repr(nr.VP(schedule=nr.CosineSchedule(0.01)))
    assert make_process("sl", sigma0=1.0).sigma0 == 1.0 and make_process("SL").sigma0 == 0.1
    ve = make_process("ve", sigma_min=0.1, sigma_max=10)
    assert (ve.sigma_min, ve.sigma_max) == (0.1, 10.0)
    assert set(process_presets()) == {"vp", "vp16", "vp20", "vpx", "cosine", "sl", "ve"}
    with pytest.raises(ValueError, match="the vp process takes no parameter 'sigma0'"):
        make_process("vp16", sigma0=1.0)
    with pytest.raises(ValueError, match="unknown process 'vq'"):
        make_process("vq")
    with pytest.raises(ValueError, match="beta_max"):
        make_process("vp", beta_max=math.inf)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        make_process("ve", sigma_min=10, sigma_max=1)


def test_cli_exit_codes_quality_consistency_usage(usermod_validate, capsys):
    """Issue 13: from the command line, exact 0, e* + 0.5 and zeros 1 (quality), an overclaiming model 5
    (consistency, also when the quality is poor too), a misplaced process parameter 2."""
    fast = ["--data", "gaussian-2d", "--process", "vp", "--n-samples", "4096", "--no-curves"]
    expect = {"exact": 0, "shifted": 1, "zero": 1, "overclaiming": 5, "overclaiming_zero": 5}
    for name, code in expect.items():
        got, out = _cli(["validate", f"{usermod_validate}:{name}", "--factory", *fast], capsys)
        assert got == code, (name, out.out, out.err)
    got, out = _cli(["validate", f"{usermod_validate}:shifted", "--factory", *fast, "--max-l-em", "none",
                     "--max-l-em-fraction", "off"], capsys)
    assert got == 0 and "no quality gate was set" in out.out
    got, out = _cli(["validate", f"{usermod_validate}:shifted", "--factory", *fast, "--max-l-em", "3",
                     "--max-l-em-fraction", "2", "--json"], capsys)
    assert got == 0 and json.loads(out.out)["settings"]["gates"]["max_l_em"] == 3.0
    got, out = _cli(["validate", f"{usermod_validate}:exact", "--factory", *fast, "--sigma0", "2"], capsys)
    assert got == 2 and "--sigma0 does not apply to --process vp" in out.err and "--beta-min" in out.err
    with pytest.raises(SystemExit) as exc:
        cli.main(["validate", f"{usermod_validate}:exact", "--factory", *fast, "--max-l-em", "-1"])
    assert exc.value.code == 2 and "--max-l-em must be a finite number >= 0" in capsys.readouterr().err


def test_cli_process_parameters_and_bits(usermod_validate, capsys):
    base = ["validate", f"{usermod_validate}:exact", "--factory", "--data", "gaussian-1d", "--n-samples", "2048",
            "--no-curves", "--json"]
    for args, check in ((["--process", "vp", "--beta-min", "0.2", "--beta-max", "12", "--kappa", "0.5"],
                         "VP(LinearSchedule(beta_min=0.2, beta_max=12), kappa=0.5, T=1)"),
                        (["--process", "cosine", "--offset", "0.01"], "CosineSchedule"),
                        (["--process", "sl", "--sigma0", "1"], "SL(sigma0=1)"),
                        (["--process", "ve", "--sigma-min", "0.1", "--sigma-max", "10"],
                         "VE(sigma_min=0.1, sigma_max=10)")):
        code, out = _cli(base + args, capsys)
        assert code == 0, (args, out.err)
        doc = json.loads(out.out)
        assert check in doc["process"] and doc["verdict"] == "passed"
    code, out = _cli(base + ["--process", "vp", "--base", "2"], capsys)
    doc = json.loads(out.out)
    assert code == 0 and doc["units"] == "bits" and doc["S_tot"]["unit"] == "bit"
    exact = total_entropy(cases.gaussian_case(1), process_presets()["vp"]).value
    assert doc["S_tot"]["value"] == pytest.approx(exact / math.log(2), rel=1e-14)
    with pytest.raises(SystemExit) as exc:          # issue 18: checked by argparse, the option named
        cli.main(base + ["--process", "vp", "--base", "1"])
    assert exc.value.code == 2 and "--base must be a finite number > 0 other than 1" in capsys.readouterr().err


USER_MODELS = '''
import numpy as np
from nent_ref import reference_models as rm
from nent_ref.core.estimate import Estimate


def exact(data, process):
    return rm.exact_e(data, process)


def shifted(data, process):
    e = rm.exact_e(data, process)
    return lambda x, s: e(x, s) + 0.5


def zero(data, process):
    return lambda x, s: np.zeros_like(x)


class _Claim:
    def __init__(self, f):
        self.f = f

    def __call__(self, x, s):
        return self.f(x, s)

    def kl_data_model(self, s0, s1):
        return Estimate(10.0)         # far above the likelihood bound


def overclaiming(data, process):
    return _Claim(rm.exact_e(data, process))


def overclaiming_zero(data, process):
    return _Claim(lambda x, s: np.zeros_like(x))
'''


@pytest.fixture
def usermod_validate(tmp_path, monkeypatch):
    import sys
    name = f"nent_validate_user_{abs(hash(str(tmp_path))) % 10 ** 8}"
    (tmp_path / f"{name}.py").write_text(USER_MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


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
    exec(compile(code, "docs/neural.md", "exec"), {"__name__": "__main__"})     # as `python my_model.py`
    printed = capsys.readouterr().out
    assert "overall: FAILED (quality)" in printed and "overall: FAILED (quality)" in documented
    assert "The consistency checks passed" in printed

    def number(text, label):
        """The first number after ``label`` on the line that starts with it."""
        line = next(ln.strip() for ln in text.splitlines() if ln.strip().startswith(label))
        return float(line[len(label):].split()[0])

    for label in ("S_NN    neural entropy", "L_EM    entropy-matching loss", "C       cross term int D E[e*.e]",
                  "S_tot   ground truth", "L_EM / S_tot", "L_den   denoising loss", "L_EM    unit weighting",
                  "K       L_den - L_EM, e-independent", "likelihood bound"):
        assert number(printed, label) == pytest.approx(number(documented, label), rel=1e-5), label
    for line in documented.splitlines():              # the gate and check lines as printed
        if line.strip().startswith(("[FAIL]", "[PASS]", "[off ]", "verdict")):
            assert line.strip() in printed, line


def _readme_model_block():
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return next(b.split("```")[0] for b in text.split("```python\n")[1:] if "def my_score" in b)


@pytest.mark.parametrize("source, target, options", [
    ("docs/neural.md", "my_model:model", ["--factory", "--process", "vp"]),
    ("README.md", "my_model:my_score", ["--score", "--process", "vp16"]),
])
def test_validate_json_on_the_documented_example_module_parses(source, target, options, tmp_path):
    # issue 18: the example module printed a report at import time, so `nent-ref validate ... --json` wrote
    # text before the JSON and the output did not parse.  The module saved as my_model.py, as the docs say.
    import subprocess
    import sys
    code = _doc_blocks()[0] if source == "docs/neural.md" else _readme_model_block()
    (tmp_path / "my_model.py").write_text(code)
    proc = subprocess.run([sys.executable, "-m", "nent_ref", "validate", target, "--data", "mixture-2d", *options,
                           "--no-curves", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == EXIT_QUALITY_FAILED, proc.stderr           # both models fail the quality gates
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "quality-failed" and doc["exit_code"] == EXIT_QUALITY_FAILED


def test_validate_reaches_a_requested_precision():
    # issue 13 (accuracy on demand): validate passes rtol to the targeted design and reports what it reached
    g, proc = nr.Gaussian([0.4], [[0.7]]), nr.VP(0.1, 16.0)
    rep = nr.validate(rm.exact_e(g, proc), g, proc, rtol=0.02, curves=False, seed=1)
    assert rep.settings["precision_target"] == {"rtol": 0.02}
    assert rep.s_nn.stderr <= 0.02 * abs(rep.s_nn.value) * (1 + 1e-12)
    assert rep.s_nn.extra.get("target_met") is True and rep.s_nn.extra.get("model_calls", 0) > 0
    assert abs(rep.s_nn.z_score(rep.s_tot.value)) < 5 and rep.passed


# --------------------------------------------------------------------------- issue 18: models and arguments checked
_G18 = nr.Gaussian([0.5, -1.0], np.diag([0.4, 1.3]))
_FAST18 = dict(n_samples=256, n_times=2, curves=False)


def test_validate_refuses_a_model_whose_output_overflows():
    # issue 18 reproducer: a model returning 1e200 gave S_NN = inf +- nan and validate returned a report
    def huge(x, s):
        return np.full_like(x, 1e200)
    with pytest.raises(nr.ModelError, match=r"the model huge .*1e\+200 at s = "):
        nr.validate(huge, _G18, nr.VP(0.1, 16.0), **_FAST18)


def test_validate_refuses_a_model_that_overwrites_its_input():
    proc = nr.VP(0.1, 16.0)
    exact = rm.exact_e(_G18, proc)

    def overwrites(x, s):
        out = exact(x, s)
        x[:] = 0.0
        return out
    with pytest.raises(nr.ModelError, match=r"overwrites .*wrote into its input"):
        nr.validate(overwrites, _G18, proc, **_FAST18)


@pytest.mark.parametrize("name, value, message", [
    ("kl_data_model", -1, r"kl_data_model must be >= 0"),
    ("kl_data_model", Estimate(-1.0, 0.01), r"kl_data_model = -1.0 is negative beyond its uncertainty"),
    ("kl_data_model", Estimate(0.1, -0.01), r"kl_data_model.stderr must be >= 0"),
    ("n_curve_points", 1, r"n_curve_points must be an integer >= 2"),
    ("curve_samples", 1, r"curve_samples must be an integer >= 2"),
    ("curves", "yes", r"curves must be True or False"),
    ("s_tot_options", 3, r"s_tot_options must be a dict"),
    ("s_tot", Estimate(-1.0), r"s_tot = -1.0 is negative"),
    ("s_tot", Estimate(1.0, -1.0), r"s_tot must have a non-negative stderr"),
    ("threshold", -1, r"threshold must be positive"),
    ("gate_z", math.inf, r"gate_z must be finite"),
    ("max_l_em", -1, r"max_l_em must be >= 0"),
    ("rtol", -1, r"rtol must be >= 0"),
    ("chunk_size", 0, r"chunk_size must be an integer >= 1"),
    ("s0", 1j, r"s0 must be real"),
])
def test_validate_checks_every_numeric_argument(name, value, message):
    # issue 18: validate(kl_data_model=-1) was accepted
    proc = nr.VP(0.1, 16.0)
    with pytest.raises(ValueError, match=message):
        nr.validate(rm.exact_e(_G18, proc), _G18, proc, **{**_FAST18, name: value})


def test_validate_accepts_a_slightly_negative_kl_estimate_within_its_error():
    proc = nr.VP(0.1, 16.0)
    report = nr.validate(rm.exact_e(_G18, proc), _G18, proc, kl_data_model=Estimate(-0.001, 0.01), **_FAST18)
    assert report.kl_data_model.value == -0.001


def test_unit_weighted_l_em_fallback_carries_its_parts_uncertainty(monkeypatch):
    """Regression (issue 18 audit): when the recomputed unit-weighted L_EM is not the number the check used,
    the fallback L_den - K - margin is Monte Carlo and must not claim stderr 0 and bound 0."""
    from types import SimpleNamespace
    from nent_ref.suites import validation as V
    monkeypatch.setattr(V, "entropy_matching_loss", lambda **kw: nr.Estimate(99.0, 0.1, "monte-carlo"))
    dec = SimpleNamespace(denoising_gap=nr.Estimate(0.25, 0.01, "mc", 1e-12),
                          denoising_loss=nr.Estimate(3.0, 0.02, "mc", 2e-12),
                          denoising_constant=nr.Estimate(2.5, 0.03, "mc", 3e-12))
    est = V._unit_weighted_l_em(dec, None, None, 0.0, 1.0, {}, {})
    assert est.value == pytest.approx(3.0 - 2.5 - 0.25, abs=1e-15) and est.method == "L_den - K - margin"
    assert est.stderr == pytest.approx(0.06, rel=1e-12) and est.error_bound >= 6e-12
