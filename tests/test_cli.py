"""The nent-ref command: table formats and figures (through main(), and once as a console script), and
(issue 11) errors and exit codes: 0 ok, 1 check failed, 2 usage/input, 3 the user's model raised,
4 internal error, 141 broken pipe."""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nent_ref as nr
from nent_ref import cases, cli
from nent_ref.cli import main


def test_table_json_matches_library(capsys):
    assert main(["table", "--suite", "gaussian", "--quiet"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["units"] == "nats" and doc["suite"] == "gaussian"
    rows = doc["rows"]
    assert len(rows) == len(cases.processes()) * len(cases.DIMS) * 2
    row = next(r for r in rows if r["data"] == "gaussian" and r["dim"] == 3 and r["process"] == "vpx")
    # independent route: Gaussian.kl against p_eq and the KL difference
    g, proc = cases.gaussian_case(3), cases.processes()["vpx"]
    peq = nr.Gaussian(np.zeros(3), proc.peq_var * np.eye(3))
    assert row["kl_s0_eq"] == pytest.approx(g.kl(peq), rel=1e-12)
    assert row["S_tot"] == pytest.approx(g.kl(peq) - g.diffuse(proc, 1.0).kl(peq), rel=1e-10)
    sl_row = next(r for r in rows if r["data"] == "gaussian" and r["process"] == "sl" and r["dim"] == 9)
    assert sl_row["kl_s1_eq"] == 0.0 and sl_row["S_tot"] == pytest.approx(sl_row["kl_s0_eq"], rel=1e-14)
    assert sl_row["clock"] is None and "diverges" in sl_row["clock_note"]           # null with a reason
    assert all(r["s0"] == cases.EPS for r in rows if r["data"] == "dirac")
    assert all(r["spec"]["window"] == {"s0": r["s0"], "s1": r["s1"]} for r in rows)   # each row carries its spec


def test_table_csv(tmp_path):
    out = tmp_path / "t.csv"
    assert main(["table", "--suite", "gaussian", "--format", "csv", "--out", str(out), "--quiet"]) == 0
    units, *rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {"S_tot", "S_tot_stderr", "kl_s0_eq", "kl_s1_eq", "process", "dim", "spec"} <= set(rows[0])
    # the line after the header names every column's unit (issue 21): no single "nats" for all columns
    assert units["suite"] == "# units" and units["S_tot"] == "nat" and units["clock"] == "length^2"
    assert units["dim"] == "count" and units["s1"] == "time" and units["spec"] == ""
    assert json.loads(rows[0]["spec"])["data"]["preset"] == rows[0]["preset"]
    assert len(rows) == len(cases.processes()) * len(cases.DIMS) * 2


def test_unknown_suite_rejected():
    with pytest.raises(SystemExit):
        main(["table", "--suite", "nope"])


# `nent-ref figures` itself (files and the gaussian_rate data against the library): tests/test_figures.py,
# whose module fixture runs main(["figures", ...]) once for every figure


@pytest.mark.skipif(shutil.which("nent-ref") is None, reason="console script not installed")
def test_console_script_runs():
    proc = subprocess.run(["nent-ref", "table", "--suite", "gaussian", "--quiet", "--format", "csv"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith("suite,")


def test_executor_for_options():
    from concurrent.futures import ProcessPoolExecutor
    from nent_ref.suites.executor import TableOptions, executor_for
    with executor_for(TableOptions()) as ex:
        assert ex is None
    with executor_for(None) as ex:
        assert ex is None
    with executor_for(TableOptions(workers=2)) as ex:
        assert isinstance(ex, ProcessPoolExecutor)
        # Monte Carlo through the pool equals the in-process result (independent streams per block)
        mix = nr.GaussianMixture([0.5, 0.5], [[-1.0, 0.0, 0.0], [1.0, 0.5, 0.0]], [0.3, 0.6])
        a = nr.total_entropy(mix, nr.VP(), method="monte-carlo", n_samples=2 ** 15, seed=3, executor=ex)
    b = nr.total_entropy(mix, nr.VP(), method="monte-carlo", n_samples=2 ** 15, seed=3)
    assert a.value == b.value and a.stderr == b.stderr > 0
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="dask"):
            with executor_for(TableOptions(scheduler="tcp://127.0.0.1:1")):
                pass


# --------------------------------------------------------------------------- issue 11: errors and exit codes
ROOT = Path(__file__).resolve().parents[1]
FAST_VALIDATE = ["--data", "gaussian-2d", "--process", "vp", "--n-samples", "256", "--no-curves"]

USER_MODULE = '''
import numpy as np
from nent_ref import reference_models as rm

CALLS = []

def zero(x, s):
    return np.zeros_like(x)

def divides_by_zero(x, s):
    return x / 0 if False else 1 / 0

def fails_later(x, s):
    CALLS.append(1)
    if len(CALLS) > 3:
        raise RuntimeError("the GPU fell off")
    return np.zeros_like(x)

def raises_value_error(x, s):
    raise ValueError("shapes (2,2) and (3,) not aligned")

def make(d, p):
    return rm.exact_e(d, p)

def returns_model(x, s):
    return zero

def local_factory(data, process):
    return lambda x, s: np.zeros_like(x)

NOT_CALLABLE = 3
'''


@pytest.fixture
def usermod(tmp_path, monkeypatch):
    """A user module in the working directory (as `nent-ref validate mod:f` finds it); its unique name."""
    name = f"nent_cli_user_{abs(hash(str(tmp_path))) % 10 ** 8}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    (tmp_path / f"{name}_broken.py").write_text("raise ImportError('cannot find libcuda.so')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for mod in (name, f"{name}_broken"):
        sys.modules.pop(mod, None)


def _run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def _subprocess(argv, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "nent_ref.cli", *argv], capture_output=True, text=True,
                          timeout=120, env=env, **kw)


def test_exit_codes_documented_in_docstring_and_help(capsys):
    for code in ("0", "1", "2", "3", "4", "141"):
        assert f"\n{code}\n" in cli.__doc__
    for argv in (["--help"], ["table", "--help"], ["figures", "--help"], ["validate", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        text = capsys.readouterr().out
        assert "exit status:" in text
        for line in ("0    success", "1    a check", "2    usage or input error", "3    the user's model",
                     "4    internal error", "141  standard output closed early"):
            assert line in text, (argv, line)


def test_validate_model_that_raises_exits_3_with_one_paragraph(usermod, capsys):
    # regression (issue 11): a traceback and exit 1, the code of a failed check
    code, out, err = _run(["validate", f"{usermod}:divides_by_zero", *FAST_VALIDATE], capsys)
    assert code == cli.EXIT_MODEL_RAISED == 3
    assert "Traceback" not in err and out == ""
    assert "ZeroDivisionError: division by zero" in err and f"{usermod}.py:" in err
    assert err.count("\n") == 1                       # one paragraph (one line)
    # raising later, during the Monte Carlo (not the first probe call): still 3
    code, out, err = _run(["validate", f"{usermod}:fails_later", *FAST_VALIDATE], capsys)
    assert code == 3 and "RuntimeError: the GPU fell off" in err and "Traceback" not in err
    # a ValueError from inside the model is the model's, not an input error of nent-ref (2)
    code, _, err = _run(["validate", f"{usermod}:raises_value_error", *FAST_VALIDATE], capsys)
    assert code == 3 and "ValueError: shapes (2,2) and (3,) not aligned" in err
    # ... and the factory and the import of the user's module are the user's code too
    code, _, err = _run(["validate", f"{usermod}_broken:f", *FAST_VALIDATE], capsys)
    assert code == 3 and "ImportError: cannot find libcuda.so" in err


def test_validate_model_that_raises_exit_status_of_the_module(usermod, monkeypatch, capsys):
    # `python -m nent_ref.cli` passes main()'s status to sys.exit (run in-process with runpy: a subprocess
    # would spend seconds importing nent_ref again)
    import runpy
    import warnings
    monkeypatch.setattr(sys, "argv", ["nent-ref", "validate", f"{usermod}:divides_by_zero", *FAST_VALIDATE])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)          # runpy: nent_ref.cli already imported
        with pytest.raises(SystemExit) as exc:
            runpy.run_module("nent_ref.cli", run_name="__main__")
    err = capsys.readouterr().err
    assert exc.value.code == 3 and "Traceback" not in err and "ZeroDivisionError" in err


def test_validate_target_spec_errors_exit_2(usermod, capsys):
    # regression: 'mymods' without ':function' said "module 'mymods' has no attribute ''"
    cases = [
        (usermod, "expected the form package.module:function"),
        (f"{usermod}:", "expected the form package.module:function"),
        (":f", "expected the form package.module:function"),
        ("no_such_module_xyz:f", "no module named 'no_such_module_xyz'"),
        (f"{usermod}:nope", "has no attribute 'nope'"),
        (f"{usermod}:NOT_CALLABLE", "it is a int, not a callable"),
    ]
    for spec, message in cases:
        code, out, err = _run(["validate", spec, *FAST_VALIDATE], capsys)
        assert code == 2, spec
        assert message in err and "cannot load" in err and "Traceback" not in err, (spec, err)
        assert err.count("\n") == 1


def test_validate_factory_without_flag_says_did_you_mean_factory(usermod, capsys):
    # regression: exact_e(data, process) called as exact_e(x, s) blamed the data ("needs data with an
    # exact marginal") and exited 2 without a hint.
    for target in ("nent_ref.quantities.reference_models:exact_e",         # parameters named (data, process)
                   f"{usermod}:make",                             # fails on (x, s), builds a model from (data, process)
                   f"{usermod}:returns_model"):                   # returns a callable when called as f(x, s)
        code, out, err = _run(["validate", target, *FAST_VALIDATE], capsys)
        assert code == 2 and "did you mean --factory?" in err and out == "", (target, err)
    code, out, _ = _run(["validate", f"{usermod}:make", "--factory", *FAST_VALIDATE], capsys)
    assert code == 0 and "overall: PASSED" in out


def test_validate_unpicklable_model_with_workers_exits_2(usermod, capsys):
    code, _, err = _run(["validate", f"{usermod}:local_factory", "--factory", "--workers", "2", *FAST_VALIDATE],
                        capsys)
    assert code == 2 and "cannot be pickled" in err


def test_table_out_unwritable_fails_before_computing(tmp_path, monkeypatch, capsys):
    # regression: `table --out /nonexistent/x.json` computed the whole table, then failed with a traceback
    def never(*a, **k):
        raise AssertionError("the table was computed before the output path was checked")
    monkeypatch.setattr(cli, "table_rows", never)
    for out, message in ((str(tmp_path / "missing" / "x.json"), "does not exist"),
                         (str(tmp_path), "is a directory")):
        code, stdout, err = _run(["table", "--suite", "statmech", "--quiet", "--out", out], capsys)
        assert code == 2 and message in err and stdout == "" and "Traceback" not in err


def test_figures_out_is_created_up_front_or_rejected(tmp_path, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(cli, "render_figures", lambda out, options, names: seen.append(out.is_dir()) or [])
    target = tmp_path / "a" / "b"
    assert main(["figures", "--out", str(target), "--quiet"]) == 0 and seen == [True]
    (tmp_path / "file").write_text("")
    code, _, err = _run(["figures", "--out", str(tmp_path / "file"), "--quiet"], capsys)
    assert code == 2 and "not a directory" in err
    code, _, err = _run(["figures", "--out", str(tmp_path / "file" / "sub"), "--quiet"], capsys)
    assert code == 2 and "cannot create the directory" in err and seen == [True]


@pytest.mark.parametrize("argv,message", [
    (["validate", "nent_ref.quantities.reference_models:exact_e", "--factory", "--data", "nonsense", "--process", "vp"],
     "unknown data preset 'nonsense'"),
    (["validate", "nent_ref.quantities.reference_models:exact_e", "--factory", "--data", "missing.npz", "--process", "vp"],
     "no such data file"),
])
def test_input_errors_exit_2_with_one_line(argv, message, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv,message", [
    (["validate", "m:f", "--data", "gaussian-2d", "--process", "vq"], "invalid choice: 'vq'"),
    (["validate", "m:f", "--data", "gaussian-2d"], "required: --process"),
    (["validate", "m:f", "--data", "gaussian-2d", "--process", "vp", "--n-samples", "0"], "--n-samples"),
    (["validate", "m:f", "--data", "gaussian-2d", "--process", "vp", "--threshold", "0"],
     "--threshold must be a finite number > 0"),                  # issue 18: checked by argparse, named
    (["table", "--seed", "-1"], "--seed must be an integer >= 0"),
    (["table", "--suite", "nope"], "invalid choice: 'nope'"),
    (["table", "--workers", "0"], "--workers must be an integer >= 1"),
    (["figures", "--only", "nope"], "invalid choice"),
    ([], "required: command"),
])
def test_argument_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and err.count("\n") == 1 and "usage:" not in err


def test_internal_errors_exit_4_with_traceback(monkeypatch, capsys):
    def bug(*a, **k):
        raise RuntimeError("an internal bug")
    monkeypatch.setattr(cli, "table_rows", bug)
    code, _, err = _run(["table", "--suite", "statmech", "--quiet"], capsys)
    assert code == 4 and "Traceback" in err and "internal error" in err


def _closed_reader_exit(argv, tmp_path):
    """Run the CLI with its stdout piped to a reader that closes at once (like `| head -0`)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "nent_ref.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    proc.stdout.close()                      # the reader goes away before anything is written
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


def test_broken_pipe_is_quiet(tmp_path):
    # regression: `nent-ref ... | head` printed a BrokenPipeError traceback (and exited 1).  A real pipe:
    # the exception comes from the write and again from the interpreter's final flush.
    code, err = _closed_reader_exit(["table", "--suite", "gaussian", "--quiet", "--format", "json"], tmp_path)
    assert code == cli.EXIT_BROKEN_PIPE == 141 and err == ""


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_while_printing_the_validate_json(monkeypatch, capsys):
    # the same handler for `validate --json | head` (in-process: the report is computed, then the write fails)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    code = main(["validate", "nent_ref.quantities.reference_models:exact_e", "--factory", "--json", *FAST_VALIDATE])
    assert code == 141 and capsys.readouterr().err == ""


def test_table_options_use_the_one_seed_validator():
    from nent_ref.suites.executor import TableOptions
    for bad in (-1, "a", 1.5, True, [1, -2]):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            TableOptions(seed=bad)
    assert TableOptions(seed=np.int64(3)).seed == 3
    ss, gen = np.random.SeedSequence(1), np.random.default_rng(2)
    assert TableOptions(seed=ss).seed is ss and TableOptions(seed=gen).seed is gen
    with pytest.raises(ValueError, match="workers"):
        TableOptions(workers=0)


# --------------------------------------------------------------------------- issue 12: compute, conformance, check
SPEC = {"id": "g", "data": {"kind": "gaussian", "mean": [0.5, -1.0], "cov": [[1.0, 0.3], [0.3, 0.5]]},
        "process": {"kind": "vp", "schedule": "linear", "beta_min": 0.1, "beta_max": 20.0, "kappa": 1.0},
        "window": {"s0": 0.0, "s1": 1.0}, "quantities": ["S_tot", "kl_s1_eq", "clock"]}


def test_compute_equals_the_python_api(tmp_path, capsys):
    (tmp_path / "case.json").write_text(json.dumps(SPEC))
    code, out, err = _run(["compute", str(tmp_path / "case.json")], capsys)
    assert code == 0 and err == ""              # progress bars only when stderr is a terminal (issue 21)
    doc = json.loads(out)
    assert doc["command"] == "compute" and doc["units"] == "nats"
    row, = doc["rows"]
    g, vp = nr.Gaussian([0.5, -1.0], [[1.0, 0.3], [0.3, 0.5]]), nr.VP(0.1, 20.0)
    assert row["S_tot"] == nr.total_entropy(g, vp).value and row["S_tot_method"] == "closed-form"
    assert row["kl_s1_eq"] == nr.kl_to_equilibrium(g, vp, 1.0).value and row["clock"] == float(vp.clock(0.0, 1.0))
    # a closed form is deterministic (stderr 0) and carries its rounding bound, never 0 (issue 18)
    assert row["S_tot_stderr"] == 0.0 and row["spec"]["id"] == "g"
    assert 0.0 < row["S_tot_error_bound"] == nr.total_entropy(g, vp).error_bound
    code, out, _ = _run(["compute", str(tmp_path / "case.json"), "--base", "2", "--quiet", "--format", "csv"], capsys)
    units, *rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows[0]["unit"] == "bit" and units["S_tot"] == "bit" and units["clock"] == "length^2"
    assert float(rows[0]["S_tot"]) == pytest.approx(nr.total_entropy(g, vp, base=2).value, rel=1e-15)
    assert float(rows[0]["clock"]) == float(vp.clock(0.0, 1.0))           # not an entropy: not converted


def test_compute_reads_a_list_stdin_and_writes_out(tmp_path, monkeypatch, capsys):
    many = [SPEC, dict(SPEC, id="h", process="sl", quantities=["S_tot", "clock"])]
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"cases": many})))
    code, _, _ = _run(["compute", "-", "--quiet", "--out", str(tmp_path / "o.json")], capsys)
    rows = json.loads((tmp_path / "o.json").read_text())["rows"]
    assert code == 0 and [r["id"] for r in rows] == ["g", "h"]
    assert rows[1]["clock"] is None and "diverges" in rows[1]["clock_note"]


@pytest.mark.parametrize("spec,message", [
    (dict(SPEC, window={"s0": 0.0}), "window.s1: missing"),
    (dict(SPEC, data={"kind": "gaussian", "mean": [0.0, 0.0], "cov": [[1.0]]}), "data.cov: must have shape (2, 2)"),
    (dict(SPEC, extra=1), "extra: unknown key"),
])
def test_compute_bad_specs_exit_2_with_one_line_naming_the_field(tmp_path, capsys, spec, message):
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    code, out, err = _run(["compute", str(tmp_path / "bad.json"), "--quiet"], capsys)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1 and "Traceback" not in err
    code, _, err = _run(["compute", str(tmp_path / "missing.json")], capsys)
    assert code == 2 and "no such spec file" in err


def test_conformance_emit_compute_and_check_exit_codes(tmp_path, capsys):
    cases_file = tmp_path / "cases.json"
    code, _, err = _run(["conformance", "--emit", str(cases_file)], capsys)
    assert code == 0 and "wrote" in err and (tmp_path / "cases.data").is_dir()
    code, out, _ = _run(["conformance", "--list"], capsys)
    assert code == 0 and out.splitlines()[0].startswith("gaussian-1d-vp16: S_tot")
    # the reference's answers, computed from the emitted file, graded against the file's cases
    code, out, _ = _run(["compute", str(cases_file), "--quiet"], capsys)
    claims = [{"case": r["id"], "quantity": q, "value": r[q], **({"stderr": r[f"{q}_stderr"]}
                                                                  if r[f"{q}_stderr"] else {})}
              for r in json.loads(out)["rows"] for q in r["spec"]["quantities"]]
    (tmp_path / "claims.json").write_text(json.dumps({"implementation": "self", "claims": claims}))
    code, out, _ = _run(["check", str(tmp_path / "claims.json"), "--cases", str(cases_file), "--quiet",
                         "--report", str(tmp_path / "report.json")], capsys)
    assert code == 0 and "overall: PASSED" in out and "implementation: self" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] is True and report["n_claims"] == len(claims)
    # one claim moved far away: exit 1, FAILED, and --json prints the JSON report
    claims[0]["value"] += 1.0
    (tmp_path / "claims.json").write_text(json.dumps({"claims": claims[:3]}))
    code, out, _ = _run(["check", str(tmp_path / "claims.json"), "--quiet", "--json"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["passed"] is False and doc["claims"][0]["verdict"] == "FAIL"
    # a bad claims file: exit 2, one line naming the field
    (tmp_path / "bad.json").write_text(json.dumps({"claims": [{"case": "gaussian-1d-vp16", "quantity": "S_tot"}]}))
    code, out, err = _run(["check", str(tmp_path / "bad.json"), "--quiet"], capsys)
    assert code == 2 and out == "" and "claims[0].value: missing" in err and err.count("\n") == 1
    (tmp_path / "bad.json").write_text("[")
    code, _, err = _run(["check", str(tmp_path / "bad.json"), "--quiet"], capsys)
    assert code == 2 and "not valid JSON" in err


def test_spec_commands_document_exit_codes(capsys):
    for argv in (["compute", "--help"], ["conformance", "--help"], ["check", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        text = capsys.readouterr().out
        assert exc.value.code == 0 and "exit status:" in text and "1    a check" in text
    assert "for ``check``, a claim failed" in cli.__doc__
    with pytest.raises(SystemExit) as exc:
        main(["conformance"])
    assert exc.value.code == 2 and "one of the arguments --emit --list is required" in capsys.readouterr().err


# --------------------------------------------------------------------------- issue 18: check on published numbers
def test_check_digits_nan_claims_labels_notes_and_did_you_mean(tmp_path, capsys):
    """Issue 18 reproducers on the command line.  317.874 is 317.874067 (S_tot(1e-5, 1) of the jax >= 0.5
    notebook mixture under VPx, cubature; independent grid integration in tests/test_presets.py)."""
    spec = {"data": {"kind": "preset", "name": "official-notebook-D2-jax05"}, "process": "vpx",
            "window": {"s0": 1e-5, "s1": 1.0}}
    f = tmp_path / "claims.json"
    f.write_text(json.dumps({"claims": [{"spec": spec, "quantity": "S_tot", "value": 317.874, "note": "Table 1"}]}))
    code, out, _ = _run(["check", str(f), "--quiet"], capsys)
    assert code == 1 and "FAIL" in out and '"digits": n' in out and "--digits n" in out and "note: Table 1" in out
    code, out, _ = _run(["check", str(f), "--quiet", "--digits", "6"], capsys)
    assert code == 0 and "(6 digits)" in out and "overall: PASSED" in out
    code, out, _ = _run(["check", str(f), "--quiet", "--digits", "6", "--json"], capsys)
    assert code == 0 and json.loads(out)["claims"][0]["claimed"]["rounding"] == 5e-4
    for bad in ("0", "x"):
        with pytest.raises(SystemExit) as exc:
            main(["check", str(f), "--quiet", "--digits", bad])
        assert exc.value.code == 2 and "--digits must be an integer >= 1" in capsys.readouterr().err
    code, _, err = _run(["check", str(f), "--quiet", "--digits", "18"], capsys)
    assert code == 2 and "digits: " in err and "[1, 17]" in err
    # a NaN claim is a graded failure (exit 1), not a bad file (exit 2); the others are graded; each claim
    # sharing a spec carries its own label
    f.write_text('{"claims": [{"spec": %s, "quantity": "S_tot", "value": NaN},'
                 ' {"spec": %s, "quantity": "S_tot", "value": 317.874, "digits": 6}]}' % (json.dumps(spec),
                                                                                        json.dumps(spec)))
    code, out, _ = _run(["check", str(f), "--quiet"], capsys)
    assert code == 1 and "the claim is not a number (NaN)" in out and "(1 of 2 claims pass)" in out
    assert "0  claims[0].spec" in out and "1  claims[1].spec" in out
    code, out, _ = _run(["check", str(f), "--quiet", "--json"], capsys)
    assert code == 1 and json.loads(out)["claims"][0]["claimed"]["value"] == "NaN"
    # a mistyped claim key: exit 2 with the closest key
    f.write_text(json.dumps({"claims": [{"case": "gaussian-1d-vp16", "quantity": "S_tot", "value": 0.1,
                                         "sdterr": 0.01}]}))
    code, out, err = _run(["check", str(f), "--quiet"], capsys)
    assert code == 2 and out == "" and "claims[0].sdterr: unknown key" in err and "did you mean 'stderr'?" in err


# --------------------------------------------------------------------------- issue 18: usage errors, never NaN
_SPEC18 = {"data": {"kind": "gaussian", "mean": [0.0], "cov": [[1.0]]},
           "process": {"kind": "vp", "schedule": "linear", "beta_min": 0.1, "beta_max": 20.0, "kappa": 1.0},
           "window": {"s0": 0.0, "s1": 1.0}, "quantities": ["S_tot"]}


def _compute18(tmp_path, capsys, spec=None, text=None, command="compute"):
    path = tmp_path / "s.json"
    path.write_text(text if text is not None else json.dumps(spec))
    return _run([command, str(path), "--quiet"], capsys)


@pytest.mark.parametrize("patch, field", [
    ({"quantities": [["S_tot"]]}, "quantities[0]: must be a quantity name"),
    ({"data": {"kind": "empirical", "generator": {"sample": {"kind": "gaussian", "mean": [0.0], "cov": [[1.0]]},
                                                 "n": 10 ** 12, "seed": 0}}, "window": {"s0": 1e-5, "s1": 1.0}},
     "data.generator.n: n = 1000000000000 atoms of dimension 1"),
])
def test_compute_bad_spec_is_a_usage_error_not_internal(tmp_path, capsys, patch, field):
    # issue 18 reproducers: these exited 4 (internal error)
    code, out, err = _compute18(tmp_path, capsys, {**_SPEC18, **patch})
    assert code == cli.EXIT_USAGE == 2 and field in err and "Traceback" not in err and out == ""


@pytest.mark.parametrize("command", ["compute", "check"])
def test_deeply_nested_spec_or_claims_file_is_a_usage_error(tmp_path, capsys, command):
    code, out, err = _compute18(tmp_path, capsys, text="[" * 100_000 + "]" * 100_000, command=command)
    assert code == 2 and "nested more than 64 levels deep" in err and "Traceback" not in err


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the overflow on the way (the library warns)
@pytest.mark.parametrize("patch, name", [
    ({"data": {"kind": "gaussian", "mean": [1e308], "cov": [[1.0]]}}, "mean"),
    ({"process": {**_SPEC18["process"], "kappa": 1e-200}}, "kappa"),
])
def test_compute_never_reports_nan_as_success(tmp_path, capsys, patch, name):
    # issue 18 reproducers: exit 0 with "S_tot": null, note "not a number"
    code, out, err = _compute18(tmp_path, capsys, {**_SPEC18, **patch})
    assert code == 2 and name in err and out == ""


def test_compute_nan_from_moderate_inputs_is_an_internal_error(tmp_path, capsys, monkeypatch):
    from nent_ref.suites import specs
    monkeypatch.setattr(specs, "total_entropy", lambda *a, **k: nr.Estimate(float("nan"), 0.0, "closed-form"))
    code, out, err = _compute18(tmp_path, capsys, _SPEC18)
    assert code == cli.EXIT_INTERNAL == 4 and "came out NaN although every number of the spec is moderate" in err


def test_validate_model_output_overflow_exits_3(usermod, tmp_path, capsys):
    (tmp_path / f"{usermod}_huge.py").write_text("import numpy as np\n"
                                                 "def huge(x, s):\n    return np.full_like(x, 1e200)\n")
    code, out, err = _run(["validate", f"{usermod}_huge:huge", *FAST_VALIDATE], capsys)
    sys.modules.pop(f"{usermod}_huge", None)
    assert code == cli.EXIT_MODEL_RAISED == 3 and "huge" in err and "1e+200" in err and out == ""


@pytest.mark.parametrize("option, value", [("--threshold", "nan"), ("--threshold", "0"), ("--gate-z", "inf"),
                                           ("--rtol", "-1"), ("--base", "1"), ("--s0", "-1"), ("--kappa", "nan")])
def test_validate_numeric_options_name_themselves(usermod, capsys, option, value):
    with pytest.raises(SystemExit) as exc:
        main(["validate", f"{usermod}:zero", *FAST_VALIDATE, option, value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"{option} must be a finite number" in err
