"""`nent-ref figures`: every theory figure renders (PNG, PDF, CSV) and its plotted data agree with the
library's table values (same functions, independent routes where one exists)."""
import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nent_ref as nr
from nent_ref import cases
from nent_ref.cli import main
from nent_ref.suites import figure_layout, figures
from nent_ref.suites.figures import FIGURES, PAPER_MIXTURE
from nent_ref.suites.figures import CSV_SIGNIFICANT_DIGITS, FIGURE_DATA_RTOL, compare_figure_csv
from nent_ref.suites.cases import paper_mixture

# the CSVs carry CSV_SIGNIFICANT_DIGITS significant digits: a value is rounded by at most half a unit in
# the last place, i.e. a relative 5e-8 at 8 digits; comparisons below use this rounding tolerance
CSV_RTOL = 10.0 ** (1 - CSV_SIGNIFICANT_DIGITS)

OWN = ["gaussian_rate", "transport_rates", "stot_vs_kappa", "memoriser", "speed_limit_efficiency",
       "fluctuation_theorem", "neural_vs_total", "official_mixtures"]


#: Layout findings of every figure rendered by the fixture (stem -> dict of problems), from the
#: SAVE_HOOKS of nent_ref.suites.figures: the matplotlib figure itself is inspected before it is saved.
LAYOUT = {}


def _inspect(fig, stem):
    LAYOUT[stem] = {**figure_layout.findings(fig, figure_layout.MIN_TEXT_PT), "size": tuple(fig.get_size_inches())}


@pytest.fixture(scope="module")
def figdir(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    figures.SAVE_HOOKS.append(_inspect)
    figures.PNG_DPI[0] = 40                      # the PNG is not what the tests read: render it small
    try:
        assert main(["figures", "--out", str(out), "--quiet", "--only", *OWN]) == 0
    finally:
        figures.SAVE_HOOKS.remove(_inspect)
        figures.PNG_DPI[0] = 150
    return out


def _csv(figdir, stem):
    return np.genfromtxt(figdir / f"{stem}.csv", delimiter=",", names=True)


def test_all_registered_and_rendered(figdir):
    assert set(OWN) <= set(FIGURES)
    for stem in OWN:
        for ext in ("png", "pdf", "csv"):
            assert (figdir / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)


def test_gaussian_figure_data_matches_library(figdir):
    data = _csv(figdir, "gaussian_rate")
    proc = cases.processes()["sl"]
    ref = nr.total_entropy(cases.gaussian_case(3), proc, 0.0, data["s"]).value
    # both columns carry 8 significant digits (figures.CSV_SIGNIFICANT_DIGITS): the rounding of s moves
    # S_tot(0, s) by at most |d log S / d log s| x 5e-8 (<= 1 here), plus 5e-8 for the value itself
    np.testing.assert_allclose(data["S_tot_gaussian_sl"], ref, rtol=2e-7)


def test_transport_figure(figdir):
    d = _csv(figdir, "transport_rates")
    mix = cases.official_mixture(PAPER_MIXTURE)        # the paper's own mixture (issue 21)
    for name in ("vp16", "vpx", "sl"):
        proc = cases.processes()[name]
        for i in (5, len(d) - 1):
            est = nr.total_entropy(mix, proc, 0.0, d["s"][i], method="quadrature")
            assert d[f"S_tot_{name}"][i] == pytest.approx(est.value, rel=1e-7)
        assert np.all(d[f"rate_{name}"] > 0)
        assert np.all(np.diff(d[f"S_tot_{name}"]) >= -1e-9)   # S_tot(0, s) non-decreasing


def test_kappa_figure(figdir):
    d = _csv(figdir, "stot_vs_kappa")
    g = cases.gaussian_case(3)
    for kappa, val in zip(d["kappa"], d["S_tot_gaussian3"]):
        # invariance S_tot(p_d, VPx kappa) = S_tot(p_d / kappa, VP): an independent route to each point
        scaled = nr.Gaussian(g.mean / kappa, g.cov / kappa ** 2)
        assert val == pytest.approx(float(nr.total_entropy(scaled, nr.VP(0.1, 16.0))), rel=CSV_RTOL)
    mix = cases.official_mixture(PAPER_MIXTURE)
    for idx, pname in ((0, "vpx"), (6, "vp16")):
        assert d["kappa"][idx] == pytest.approx(cases.processes()[pname].kappa, rel=CSV_RTOL)
        table = nr.total_entropy(mix, cases.processes()[pname], method="quadrature")
        assert d["S_tot_mixture2"][idx] == pytest.approx(table.value, rel=1e-7)


def test_memoriser_figure(figdir):
    d = _csv(figdir, "memoriser")
    proc = cases.processes()["vp16"]
    pop = nr.total_entropy(cases.official_mixture(PAPER_MIXTURE), proc, cases.EPS, proc.T, method="quadrature")
    assert np.allclose(d["S_tot_population"], pop.value, rtol=CSV_RTOL)
    # the theorem bracket, within 5 standard errors of the Monte Carlo KL
    assert np.all(d["lower_bound"] <= d["kl_eps"] + 5 * d["kl_eps_stderr"])
    assert np.all(d["kl_eps"] <= d["mean_dirac_kl"] + 5 * d["kl_eps_stderr"])
    # one atom: the memoriser is the Dirac closed form
    assert d["kl_eps"][0] == pytest.approx(d["mean_dirac_kl"][0], abs=5 * d["kl_eps_stderr"][0] + 1e-9)


def test_efficiency_figure(figdir):
    d = _csv(figdir, "speed_limit_efficiency")
    assert np.all(d["efficiency"] > 0)
    assert np.all(d["efficiency"] <= 1 + 5 * d["efficiency_stderr"] + 1e-12)
    names = ("vp16", "vpx", "sl")
    for row in d[d["is_mixture"] == 0]:
        proc = cases.processes()[names[int(row["process_index"])]]
        s1 = proc.T - 1e-3 if proc.singular_at_T else proc.T
        g = cases.gaussian_case(int(row["dim"]))
        w2 = nr.ot.w2_squared_gaussian(g.mean, g.cov, *(lambda p: (p.mean, p.cov))(g.diffuse(proc, s1)))
        ref = w2 / (float(proc.clock(0.0, s1)) * float(nr.total_entropy(g, proc, 0.0, s1)))
        assert row["efficiency"] == pytest.approx(ref, rel=CSV_RTOL)


def test_fluctuation_figure(figdir):
    d = _csv(figdir, "fluctuation_theorem")
    proc = cases.processes()["vp16"]
    s_tot = float(nr.total_entropy(cases.gaussian_case(1), proc, 0.0, 1.0))
    assert np.allclose(d["S_tot_closed_form"], s_tot, rtol=CSV_RTOL)
    assert abs(d["mean_ds_tot"][0] - s_tot) < 5 * d["mean_ds_tot_stderr"][0]
    assert abs(d["ift"][0] - 1.0) < 5 * d["ift_stderr"][0]
    widths = d["bin_right"] - d["bin_left"]
    assert math.isclose(float(np.sum(d["density"] * widths)), 1.0, rel_tol=1e-6)


def test_neural_figure(figdir):
    d = _csv(figdir, "neural_vs_total")
    proc = cases.processes()["vp16"]
    ref = float(nr.total_entropy(cases.official_mixture(PAPER_MIXTURE), proc, cases.EPS, proc.T, method="quadrature"))
    assert np.allclose(d["S_tot"], ref, rtol=CSV_RTOL)
    exact = d[0]
    assert exact["L_EM"] == 0.0
    assert abs(exact["S_NN"] - ref) < 5 * exact["S_NN_stderr"]
    # every model: (sqrt S_tot - sqrt S_NN)^2 <= L_EM within 5 standard errors of L_EM and S_NN
    for row in d:
        lhs = (math.sqrt(row["S_tot"]) - math.sqrt(row["S_NN"])) ** 2
        assert lhs <= row["L_EM"] + 5 * (row["L_EM_stderr"] + row["S_NN_stderr"]) + 1e-12


def test_committed_csvs_reproduce_within_tolerance(figdir):
    # Regression (issues 11, 18): on another CPU `nent-ref figures` rewrote committed CSVs with last-digit
    # changes (and a Monte Carlo stderr of 0 became 2.9e-10), so a byte-for-byte check failed there.
    # A fresh render agrees with the committed data within compare_figure_csv's documented tolerance.
    committed = Path(__file__).resolve().parents[1] / "figures"
    for stem in OWN:
        names = [f"{stem}.csv"] + ([f"{stem}_rates.csv"] if stem == "official_mixtures" else [])
        for name in names:
            assert compare_figure_csv((committed / name).read_text(), (figdir / name).read_text(), name) == []


COMMITTED = sorted((Path(__file__).resolve().parents[1] / "figures").glob("*.csv"))


def _perturbed_csv(text, rng, ulps=4, scale=None):
    """The CSV with every finite number moved by up to ``ulps`` units in the last place (written with repr,
    not rounded to 8 digits), or, with ``scale``, multiplied by (1 + scale)."""
    rows = list(csv.reader(text.splitlines()))
    for row in rows[1:]:
        for j, field in enumerate(row):
            try:
                v = float(field)
            except ValueError:
                continue
            if not math.isfinite(v) or v == 0.0:
                continue
            if scale is not None:
                v = v * (1.0 + scale)
            else:
                direction = np.inf if rng.random() < 0.5 else -np.inf
                for _ in range(int(rng.integers(1, ulps + 1))):
                    v = np.nextafter(v, direction)
            row[j] = repr(float(v))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)     # quoted fields (a spec in JSON) stay quoted
    return out.getvalue()


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_figure_check_passes_ulp_perturbations_and_fails_real_changes(path):
    # simulating a second machine: every number a few ulps off passes; 1e-5 relative (10x the tolerance) fails
    rng = np.random.default_rng(18)
    text = path.read_text()
    assert compare_figure_csv(text, text) == []
    assert compare_figure_csv(text, _perturbed_csv(text, rng), path.name) == []
    changed = _perturbed_csv(text, rng, scale=10 * FIGURE_DATA_RTOL)
    assert compare_figure_csv(text, changed, path.name), path.name
    lines = text.splitlines()
    assert compare_figure_csv(text, "\n".join(lines[:-1]) + "\n")            # a row missing
    assert compare_figure_csv(text, "\n".join(["x" + lines[0]] + lines[1:]))  # a header changed


def test_figure_check_uncertainties_are_scaled_to_their_value():
    # issue 18: a Monte Carlo stderr of values equal up to rounding is 0 on one machine, 2.9e-10 on another
    committed = "N,S_tot,S_tot_stderr\n1,14.759407,0\n"
    assert compare_figure_csv(committed, "N,S_tot,S_tot_stderr\n1,14.759407,2.9e-10\n") == []
    assert compare_figure_csv(committed, "N,S_tot,S_tot_stderr\n1,14.759407,1e-6\n")       # a real stderr
    assert compare_figure_csv("a,a_error_bound\n2,4.3742244e-09\n", "a,a_error_bound\n2,4.3742251e-09\n") == []
    # labels: words equal, numbers inside within the relative tolerance
    old, new = "s,v\nsigma_w2=1.7609546396064208,1\n", "s,v\nsigma_w2=1.7609546,1\n"
    assert compare_figure_csv(old, new) == []
    assert compare_figure_csv(old, "s,v\nsigma_w2=1.77,1\n") and compare_figure_csv(old, "s,v\nsigma_b2=1.7609546,1\n")
    assert compare_figure_csv("a\ninf\n", "a\n1e308\n") and compare_figure_csv("a\ninf\n", "a\ninf\n") == []
    # a value that is the rounding residue of a cancellation: 1e-12 of the column's largest magnitude
    assert compare_figure_csv("a\n0\n300\n", "a\n2e-13\n300\n") == []
    assert compare_figure_csv("a\n0\n300\n", "a\n1e-9\n300\n")


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_uncertainty_column_has_its_value_column(path):
    header = path.read_text().splitlines()[0].split(",")
    for name in header:
        if "stderr" in name or "error_bound" in name:
            assert any(v in header for v in (name.rsplit("_stderr", 1)[0], name.rsplit("_error_bound", 1)[0],
                                             name.replace("stderr", "value"))), (path.name, name)


def test_check_figure_data_script_against_a_git_commit(tmp_path):
    # CI step 1c: the committed CSVs (git show HEAD:figures/x.csv) against the rewritten work tree
    script = Path(__file__).resolve().parents[1] / "tools" / "check_figure_data.py"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=ci", "-c", "user.email=ci@example.org"]
    (tmp_path / "figures").mkdir()
    text = (Path(__file__).resolve().parents[1] / "figures" / "memoriser.csv").read_text()
    (tmp_path / "figures" / "memoriser.csv").write_text(text)
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "figures"], check=True)
    subprocess.run(git + ["commit", "-qm", "figures"], check=True)

    def run():
        return subprocess.run([sys.executable, str(script), "--root", str(tmp_path)], capture_output=True, text=True)
    (tmp_path / "figures" / "memoriser.csv").write_text(_perturbed_csv(text, np.random.default_rng(1)))
    proc = run()
    assert proc.returncode == 0 and "all agree within tolerance" in proc.stdout, proc.stdout + proc.stderr
    (tmp_path / "figures" / "memoriser.csv").write_text(_perturbed_csv(text, None, scale=1e-4))
    proc = run()
    assert proc.returncode == 1 and "memoriser.csv line" in proc.stdout, proc.stdout + proc.stderr
    (tmp_path / "figures" / "memoriser.csv").unlink()
    assert run().returncode == 1


def test_format_number():
    from nent_ref.suites.figures import format_number
    assert format_number(1 / 3) == "0.33333333" and format_number(-0.0) == "0" and format_number(16) == "16"
    assert format_number(1.23456789012e-300) == "1.2345679e-300"
    assert format_number(float("inf")) == "inf" and format_number(-float("inf")) == "-inf"
    with pytest.raises(ValueError, match="NaN"):
        format_number(float("nan"))


def test_official_mixtures_figure(figdir):
    # issue 14: the figure the paper's readers expect first, on the official code's own mixtures
    d = _csv(figdir, "official_mixtures")
    assert len(d) == 9
    for row in d:
        preset = cases.OFFICIAL_PRESETS[int(row["preset_index"])]
        proc = cases.processes()[("vp16", "vpx", "sl")[int(row["process_index"])]]
        mix = cases.official_mixture(preset)
        if mix.dim <= 2:     # independent route: cubature of the KL difference (2.3)
            ref = nr.total_entropy(mix, proc, cases.EPS, proc.T, method="quadrature").value
            assert row["S_tot"] == pytest.approx(ref, rel=CSV_RTOL)
        # S_NN of the best affine model is S_tot of the moment-matched Gaussian: check it by Monte Carlo
        # of the model itself on one case (the neural-entropy estimator, 5 standard errors)
        if preset == "official-notebook-D2" and int(row["process_index"]) == 0:
            est = nr.neural_entropy(nr.reference_models.best_linear_e(mix, proc), mix, proc, s0=cases.EPS,
                                    s1=proc.T, seed=3)
            assert abs(est.value - row["S_NN_best_affine"]) < 5 * est.stderr + 1e-9
    # the non-Gaussian information S_tot - S_NN is nearly the same under every process (negentropy of
    # the data minus that of p_T): within 1 % between VP, VPx and SL for each mixture
    gap = d["S_tot"] - d["S_NN_best_affine"]
    for i in range(3):
        g = gap[d["preset_index"] == i]
        assert np.ptp(g) < 0.01 * np.mean(g) + 5 * np.max(d["S_tot_stderr"][d["preset_index"] == i])


# --------------------------------------------------------------------------- issue 21: figures fit for a talk
@pytest.mark.parametrize("stem", OWN)
def test_legends_and_labels_cover_no_data_and_text_is_large_enough(figdir, stem):
    """Each rendered figure: no legend box over a data point (lines sampled every 2 px, histogram bar tops,
    filled bands), no annotation over data, no legend over a note, no text below MIN_TEXT_PT points at the
    saved size, and at most 12 inches wide."""
    found = LAYOUT[stem]
    assert found["legend_over_data"] == [], found
    assert found["text_over_data"] == [], found
    assert found["legend_over_notes"] == [], found
    assert found["small_text"] == [], found
    assert found["size"][0] <= 12.0


def test_the_layout_checks_can_fail():
    """The checks find what they look for: a legend on a line, an 8-pt note, a label on a curve."""
    plt = figures._pyplot()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a diagonal line")
    ax.legend(loc="center")
    ax.annotate("on the line", (0.5, 0.5))
    fig.text(0.0, 0.0, "tiny", fontsize=8)
    assert figure_layout.legend_overlaps(fig) and figure_layout.text_overlaps(fig)
    assert ("tiny", 8.0) in figure_layout.small_texts(fig, 10.0)
    fig.text(0.45, 0.45, "a note under the legend")
    found = figure_layout.findings(fig, 10.0)              # one draw, the same answers as each check alone
    assert found == {"legend_over_data": figure_layout.legend_overlaps(fig),
                     "text_over_data": figure_layout.text_overlaps(fig),
                     "legend_over_notes": figure_layout.legend_text_collisions(fig),
                     "small_text": figure_layout.small_texts(fig, 10.0)}
    assert found["legend_over_notes"] == ["a note under the legend"] and ("tiny", 8.0) in found["small_text"]
    ax.get_legend().remove()
    leg = figure_layout.place_legend(ax)                     # finds a free corner
    assert leg._loc in (2, 4) and not figure_layout.legend_overlaps(fig)   # upper left or lower right
    plt.close(fig)


@pytest.mark.slow
def test_rg_figures_layout(tmp_path):
    figures.SAVE_HOOKS.append(_inspect)
    figures.PNG_DPI[0] = 40
    try:
        assert main(["figures", "--out", str(tmp_path), "--quiet", "--only", "rg_kl_flow"]) == 0
    finally:
        figures.SAVE_HOOKS.remove(_inspect)
        figures.PNG_DPI[0] = 150
    for stem in ("rg_kl_flow", "rg_kl_asymptote"):
        found = LAYOUT[stem]
        assert not (found["legend_over_data"] or found["text_over_data"] or found["legend_over_notes"]
                    or found["small_text"]), found
        assert found["size"][0] <= 12.0
