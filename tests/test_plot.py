"""`nent-ref plot` and nr.plot (issue 21): the standard views of one's own case, as PNG, PDF and the CSV of
the plotted numbers; the numbers are those of the spec's own rows; the talk style is 16:9 with large type."""
import csv
import json

import numpy as np
import pytest

import nent_ref as nr
from nent_ref.cli import main
from nent_ref.suites import figure_layout, figures, specs

SPEC = {"id": "my-case", "data": {"kind": "gaussian", "mean": [0.5, -1.0], "cov": [[1.0, 0.3], [0.3, 0.5]]},
        "process": "vp16", "window": {"s0": 0.0, "s1": 1.0}, "grid": {"n": 12, "spacing": "log"}}
MODEL = '''
import numpy as np


def zero(x, s):
    return np.zeros_like(x)
'''


@pytest.fixture
def seen():
    found = {}

    def hook(fig, stem):
        layout = figure_layout.findings(fig, 14.0)
        found[stem] = {"size": tuple(fig.get_size_inches()), "small": layout["small_text"],
                       "legend": layout["legend_over_data"],
                       "panels": [ax.get_title() for ax in fig.axes if ax.get_visible()],
                       "lw": max(line.get_linewidth() for ax in fig.axes for line in ax.get_lines())}
    figures.SAVE_HOOKS.append(hook)
    figures.PNG_DPI[0] = 40
    yield found
    figures.SAVE_HOOKS.remove(hook)
    figures.PNG_DPI[0] = 150


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_plot_writes_the_views_and_their_numbers(tmp_path, seen):
    files = nr.plot(SPEC, tmp_path)
    assert sorted(p.name for p in files) == ["my-case.csv", "my-case.pdf", "my-case.png", "my-case.spec.json"]
    assert seen["my-case"]["panels"] == ["entropy production rate", "cumulative entropy production",
                                         "KL to equilibrium", r"speed limit $S_{tot} \geq W_2^2/\tau$"]
    assert seen["my-case"]["legend"] == []
    rows = _rows(tmp_path / "my-case.csv")
    series = {r["series"] for r in rows}
    assert series == {"entropy_production_rate", "S_tot_cumulative", "kl_to_equilibrium", "speed_limit_S_tot",
                      "speed_limit_bound"}
    # the plotted rate is the library's (independent call), at the spec's grid times, with its unit
    rate = [r for r in rows if r["series"] == "entropy_production_rate"]
    s = np.array([float(r["s"]) for r in rate])
    case = specs.Case(SPEC)
    ref = nr.entropy_production_rate(case.data, case.process, s).value
    assert np.allclose([float(r["value"]) for r in rate], ref, rtol=1e-7) and rate[0]["unit"] == "nat/time"
    assert len(rate) == 12
    # speed limit: the bound lies below S_tot at every time (closed form, Gaussian)
    st = [float(r["value"]) for r in rows if r["series"] == "speed_limit_S_tot"]
    b = [float(r["value"]) for r in rows if r["series"] == "speed_limit_bound"]
    assert len(b) == len(st) == 12 and all(x <= y * (1 + 1e-7) for x, y in zip(b, st))
    doc = json.loads((tmp_path / "my-case.spec.json").read_text())
    assert doc["case"] == case.spec and len(doc["computed"]) == 2


def test_plot_cli_talk_style_and_model(tmp_path, monkeypatch, seen, capsys):
    (tmp_path / "zero_model_i21.py").write_text(MODEL)
    spec = dict(SPEC, id="with/model", quantities=["S_tot", "S_NN"], model={"target": "zero_model_i21:zero",
                                                                               "n_samples": 2048})
    (tmp_path / "case.json").write_text(json.dumps(spec))
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "case.json", "--out", "out", "--style", "talk", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    found = seen["with_model"]
    w, h = found["size"]
    assert w / h == pytest.approx(16 / 9, rel=0.01) and found["small"] == [] and found["lw"] >= 3.0
    assert found["panels"][-1] == "model zero_model_i21:zero"
    rows = {r["series"]: r for r in _rows(tmp_path / "out" / "with_model.csv") if r["series"] in ("S_NN", "L_EM",
                                                                                                   "S_tot")}
    assert float(rows["S_NN"]["value"]) == 0.0                     # the zero model supplies no information
    lem, st = float(rows["L_EM"]["value"]), float(rows["S_tot"]["value"])
    assert abs(lem - st) <= 5 * float(rows["L_EM"]["stderr"]) + 1e-9   # L_EM = S_tot for e = 0
    for ext in ("png", "pdf"):
        assert (tmp_path / "out" / f"with_model.{ext}").stat().st_size > 0


def test_plot_bad_input(tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps(dict(SPEC, grid={"n": 1})))
    assert main(["plot", str(tmp_path / "bad.json"), "--out", str(tmp_path), "--quiet"]) == 2
    assert "grid.n: must be an integer in [2, 4096]" in capsys.readouterr().err
    with pytest.raises(ValueError, match="style"):
        nr.plot(SPEC, tmp_path, style="poster")
