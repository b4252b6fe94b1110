"""The sympy derivations run clean, and the library's closed forms equal the sympy expressions.

Reference values: the expressions of derivations/linear_gaussian.py, evaluated with mpmath at
30 digits; tolerance 1e-12 relative as the foundation issue asks.
"""
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import linear_gaussian as LG
import mpmath
import nent_ref as nr
from conftest import DERIVATIONS, ROOT


#: the line each derivation script prints when every check passed (the scripts exit 1 on a failed check);
#: _checks.py is their shared helper module, which checks nothing itself
DERIVATION_PASSED = {
    "_checks.py": "",
    "linear_gaussian.py": "all verifications passed",
    "mixture_checks.py": "all mixture checks passed",
    "neural_gaussian.py": "all verifications passed",
    "ot_gaussian.py": "all checks passed",
    "predictions.py": "all prediction and schedule checks passed",
    "random_features.py": "all random-feature checks passed",
    "rg_decimation.py": "all decimation identities verified",
    "statmech_die.py": "all checks passed",
}


def test_every_derivation_script_is_run():
    assert sorted(p.name for p in DERIVATIONS.glob("*.py")) == sorted(DERIVATION_PASSED)
    assert _runner().scripts() == sorted(set(DERIVATION_PASSED) - {"_checks.py"})


@pytest.fixture(scope="module")
def derivation_runs():
    """Every derivation script, run once by tools/run_derivations.py: one fresh interpreter for all of them
    (each as ``__main__`` with its own namespace, the shared failure list and mpmath's precision reset
    between scripts), which imports sympy once instead of once per script."""
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "run_derivations.py"), "--json"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("script", sorted(set(DERIVATION_PASSED) - {"_checks.py"}))
def test_derivation_script_exits_zero(derivation_runs, script):
    """Every derivation script verifies its claims, says so and exits 0 (the one run of each script in the
    default tests: test_ot, test_rg, test_neural and test_statmech rely on it)."""
    run = derivation_runs[script]
    assert run["status"] == 0, run["stdout"][-3000:]
    assert DERIVATION_PASSED[script] in run["stdout"]


def _runner():
    spec = importlib.util.spec_from_file_location("run_derivations", ROOT / "tools" / "run_derivations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner_reports_failures_and_isolates_scripts(tmp_path, monkeypatch, capsys):
    """tools/run_derivations.py fails a script whose check fails or that crashes, and what a failed script
    leaves behind (its entry in _checks.FAILURES, mpmath's precision) does not reach the next one."""
    runner = _runner()
    (tmp_path / "a_fails.py").write_text(
        "import sys, mpmath, sympy as sp\nfrom _checks import FAILURES, check\nmpmath.mp.dps = 50\n"
        "check('one is zero', sp.Integer(1))\nsys.exit(1 if FAILURES else 0)\n")
    (tmp_path / "b_passes.py").write_text(
        "import sys, mpmath, sympy as sp\nfrom _checks import FAILURES, check\nassert mpmath.mp.dps != 50\n"
        "check('x - x is zero', sp.Symbol('x') - sp.Symbol('x'))\nprint('b passed')\n"
        "sys.exit(1 if FAILURES else 0)\n")
    (tmp_path / "c_crashes.py").write_text("raise ValueError('a crash')\n")
    monkeypatch.setattr(runner, "DERIVATIONS", tmp_path)
    monkeypatch.setattr(mpmath.mp, "dps", 15)     # whatever an earlier test of this worker left
    assert runner.scripts() == ["a_fails.py", "b_passes.py", "c_crashes.py"]
    assert runner.main(["--json"]) == 1
    runs = json.loads(capsys.readouterr().out)
    assert runs["a_fails.py"]["status"] == 1 and "[FAIL] one is zero" in runs["a_fails.py"]["stdout"]
    assert runs["b_passes.py"]["status"] == 0 and "b passed" in runs["b_passes.py"]["stdout"], runs
    assert runs["c_crashes.py"]["status"] == 1 and "ValueError: a crash" in runs["c_crashes.py"]["stdout"]
    assert runner.main(["b_passes.py"]) == 0
    assert "ok   b_passes.py: exit 0" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        runner.main(["no_such.py"])
    assert exc.value.code == 2 and "SCRIPT: no derivation script named no_such.py" in capsys.readouterr().err


class _Expressions(dict):
    """LG.expressions(), computed on first use (sympy solves ODEs there: ~3 s that every xdist worker would
    otherwise pay while collecting, though only one runs this file)."""

    def __missing__(self, name):
        if not self:
            self.update(LG.expressions())
        return dict.__getitem__(self, name)


EXPR = _Expressions()
_LAMBDIFIED = {}


def _eval(expr, subs):
    """Evaluate a sympy expression with mpmath at 40 digits (inputs are the exact binary floats)."""
    names = tuple(sorted(subs, key=str))
    key = (id(expr), names)
    if key not in _LAMBDIFIED:
        _LAMBDIFIED[key] = sp.lambdify(names, expr, "mpmath")
    with mpmath.workdps(40):
        return float(_LAMBDIFIED[key](*(mpmath.mpf(float(subs[n])) for n in names)))


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


params = st.fixed_dictionaries({
    "beta_min": st.floats(0.01, 1.0), "beta_max": st.floats(2.0, 25.0), "kappa": st.floats(0.05, 3.0),
    "sigma0": st.floats(0.05, 3.0), "c": st.floats(0.001, 0.05), "lam": st.floats(0.01, 5.0),
    "m": st.floats(-3.0, 3.0), "s": st.floats(0.001, 0.99),
})


def _process_and_subs(name, p):
    if name == "vp_linear":
        proc = nr.VP(p["beta_min"], p["beta_max"], kappa=p["kappa"])
        subs = {LG.bmin: p["beta_min"], LG.bmax: p["beta_max"], LG.kappa: p["kappa"]}
    elif name == "vp_cosine":
        proc = nr.VP(schedule=nr.CosineSchedule(p["c"]), kappa=p["kappa"])
        subs = {LG.c: p["c"], LG.kappa: p["kappa"]}
    else:
        proc = nr.SL(p["sigma0"])
        subs = {LG.sig0: p["sigma0"]}
    subs.update({LG.s: p["s"], LG.lam: p["lam"], LG.m: p["m"]})
    return proc, subs


@pytest.mark.parametrize("name", ["vp_linear", "vp_cosine", "sl"])
@given(p=params)
def test_closed_forms_match_sympy(name, p):
    proc, subs = _process_and_subs(name, p)
    e = EXPR[name]
    s = p["s"]
    assert _rel(float(proc.mean_coeff_sq(s)), _eval(e["mu2"], subs)) <= 1e-12
    assert _rel(float(proc.marginal_var(s)), _eval(e["v"], subs)) <= 1e-12
    assert _rel(float(proc.diffusion(s)), _eval(e["D"], subs)) <= 1e-12
    assert _rel(float(proc.clock(0.0, s)), _eval(e["clock0"], subs)) <= 1e-12
    g = nr.Gaussian([p["m"]], [[p["lam"]]])
    assert _rel(float(nr.kl_to_equilibrium(g, proc, s)), _eval(e["kl"], subs)) <= 1e-12
    assert _rel(float(nr.entropy_production_rate(g, proc, s)), _eval(e["rate"], subs)) <= 1e-12
    d = nr.Dirac([p["m"]])
    assert _rel(float(nr.entropy_production_rate(d, proc, s)), _eval(e["rate_dirac"], subs)) <= 1e-12


@given(smin=st.floats(0.001, 0.5), ratio=st.floats(2.0, 1e4), lam=st.floats(0.01, 5.0), s=st.floats(1e-6, 1.0))
def test_ve_closed_forms_match_sympy(smin, ratio, lam, s):
    proc = nr.VE(smin, smin * ratio)
    subs = {LG.smin: smin, LG.smax: smin * ratio, LG.s: s, LG.lam: lam}
    e = EXPR["ve"]
    assert _rel(float(proc.marginal_var(s)), _eval(e["v"], subs)) <= 1e-12
    assert _rel(float(proc.diffusion(s)), _eval(e["D"], subs)) <= 1e-12
    g = nr.Gaussian([0.3], [[lam]])
    assert _rel(float(nr.entropy_production_rate(g, proc, s)), _eval(e["rate"], subs)) <= 1e-12
    assert _rel(g.diffuse(proc, s).entropy(), _eval(e["entropy"], subs)) <= 1e-12


def test_multivariate_is_sum_over_eigendirections():
    """The D-dimensional closed form equals the sum of the 1-D sympy forms over the eigenbasis."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))
    cov = A @ A.T + 0.5 * np.eye(4)
    mean = rng.standard_normal(4)
    lam, U = np.linalg.eigh(cov)
    mproj = U.T @ mean
    proc = nr.VP(0.1, 16.0, kappa=0.7)
    s = 0.37
    subs0 = {LG.bmin: 0.1, LG.bmax: 16.0, LG.kappa: 0.7, LG.s: s}
    kl_ref = sum(_eval(EXPR["vp_linear"]["kl"], {**subs0, LG.lam: li, LG.m: mi}) for li, mi in zip(lam, mproj))
    rate_ref = sum(_eval(EXPR["vp_linear"]["rate"], {**subs0, LG.lam: li, LG.m: mi}) for li, mi in zip(lam, mproj))
    g = nr.Gaussian(mean, cov)
    assert _rel(float(nr.kl_to_equilibrium(g, proc, s)), kl_ref) <= 1e-12
    assert _rel(float(nr.entropy_production_rate(g, proc, s)), rate_ref) <= 1e-12
