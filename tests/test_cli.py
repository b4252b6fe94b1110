"""The nent-ref command: table formats and figures (through main(), and once as a console script)."""
import csv
import io
import json
import shutil
import subprocess

import numpy as np
import pytest

import nent_ref as nr
from nent_ref import cases
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
    assert sl_row["kl_T_eq"] == 0.0 and sl_row["S_tot"] == pytest.approx(sl_row["kl_s0_eq"], rel=1e-14)
    assert all(r["s0"] == cases.EPS for r in rows if r["data"] == "dirac")


def test_table_csv(tmp_path):
    out = tmp_path / "t.csv"
    assert main(["table", "--suite", "gaussian", "--format", "csv", "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {"S_tot", "S_tot_stderr", "kl_s0_eq", "kl_T_eq", "process", "dim"} <= set(rows[0])
    assert len(rows) == len(cases.processes()) * len(cases.DIMS) * 2


def test_unknown_suite_rejected():
    with pytest.raises(SystemExit):
        main(["table", "--suite", "nope"])


def test_gaussian_figure_data_matches_library(tmp_path):
    files = main(["figures", "--out", str(tmp_path), "--only", "gaussian_rate", "--quiet"])
    assert files == 0
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / f"gaussian_rate.{ext}").stat().st_size > 0
    data = np.genfromtxt(tmp_path / "gaussian_rate.csv", delimiter=",", names=True)
    proc = cases.processes()["sl"]
    ref = nr.total_entropy(cases.gaussian_case(3), proc, 0.0, data["s"]).value
    # both columns carry 8 significant digits (figures.CSV_SIGNIFICANT_DIGITS): the rounding of s moves
    # S_tot(0, s) by at most |d log S / d log s| x 5e-8 (<= 1 here), plus 5e-8 for the value itself
    np.testing.assert_allclose(data["S_tot_gaussian_sl"], ref, rtol=2e-7)


@pytest.mark.skipif(shutil.which("nent-ref") is None, reason="console script not installed")
def test_console_script_runs():
    proc = subprocess.run(["nent-ref", "table", "--suite", "gaussian", "--quiet", "--format", "csv"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith("suite,")


def test_executor_for_options():
    from concurrent.futures import ProcessPoolExecutor
    from nent_ref.cli import TableOptions, executor_for
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
