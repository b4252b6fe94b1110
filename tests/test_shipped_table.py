"""The shipped default table (nent_ref/reference/default_table.json) is what the code computes now.

Every row carries its case specification; these tests rebuild rows from the specs *stored in the file*
(so a spec that no longer describes its numbers, or numbers that moved, fail here).  Rebuilt numbers are
never compared bit for bit (other CPUs and BLAS kernels move the last bits).  Closed-form and
quadrature rows must agree to 1e-10 relative; seeded Monte Carlo rows are reproducible, so they must
agree to a small fraction (0.01) of their own standard error, and their standard errors within that or
UNCERTAINTY_ATOL (1e-9) of the value.  Regenerate the file with
``nent-ref table --quiet --out nent_ref/reference/default_table.json``.
"""
import json
import math

import pytest

import nent_ref
from nent_ref.suites import cases, specs, tables

SHIPPED = tables.shipped_table()
ROWS = SHIPPED["rows"]


def _same(a, b, stderr=0.0):
    if a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(a, b, rel_tol=1e-10, abs_tol=max(0.01 * stderr, 1e-300))


def _rebuilt(row):
    return json.loads(tables.format_rows([specs.compute_row(specs.Case(row["spec"]))], "json", "x"))["rows"][0]


# A Monte Carlo standard error of samples that agree up to rounding is rounding noise: 0 on one machine,
# 1e-10 of the value on another (issue 18).  Standard errors are compared with an absolute tolerance of
# UNCERTAINTY_ATOL times the value they belong to (as figure data are, figures.FIGURE_UNCERTAINTY_ATOL).
UNCERTAINTY_ATOL = 1e-9


def _compare(row, fresh):
    for q in row["spec"]["quantities"]:
        names = [q] if q != "speed_limit" else ["W2_squared", "bound", "efficiency_quote"]
        for name in names:
            se = row.get(f"{name}_stderr") or 0.0
            assert _same(row[name], fresh[name], se), (row["id"], name, row[name], fresh[name])
            if f"{name}_stderr" in row:
                a, b = row[f"{name}_stderr"], fresh[f"{name}_stderr"]
                value = abs(row[name]) if isinstance(row[name], float) else 0.0
                assert _same(a, b, se) or (isinstance(a, float) and isinstance(b, float)
                                           and abs(a - b) <= UNCERTAINTY_ATOL * value), (row["id"], name, a, b)


def test_header():
    assert SHIPPED["suite"] == "default" and SHIPPED["units"] == "nats" and SHIPPED["command"] == "table"
    assert SHIPPED["nent_ref_version"] == nent_ref.__version__
    assert {r["part"] for r in ROWS} == {"gaussian", "paper"}
    assert [r["id"] for r in ROWS] == [s["id"] for s in tables.SUITE_SPECS["default"]()]


def test_every_row_carries_its_canonical_spec_and_no_string_infinities():
    for r in ROWS:
        assert specs.normalize_spec(r["spec"]) == r["spec"], r["id"]
        assert (r["s0"], r["s1"]) == (r["spec"]["window"]["s0"], r["spec"]["window"]["s1"])
        for key, val in r.items():
            assert val not in ("inf", "-inf", "nan"), (r["id"], key)
            if val is None and key in r["spec"]["quantities"]:
                assert r.get(f"{key}_note"), (r["id"], key)


def test_gaussian_part_rebuilds_from_its_specs():
    for row in (r for r in ROWS if r["part"] == "gaussian"):
        _compare(row, _rebuilt(row))


@pytest.mark.parametrize("pname", tables.PAPER_PROCESSES)
def test_paper_2d_rows_rebuild_from_their_specs(pname):
    """The 2-D official mixtures: cubature (deterministic) S_tot and KLs, seeded OT for the efficiency."""
    chosen = [r for r in ROWS if r["part"] == "paper" and r["dim"] == 2 and r["process"] == pname
              and r["data"] == "mixture"]
    assert len(chosen) == 2 * (4 if pname == "sl" else 3)
    for row in chosen:
        _compare(row, _rebuilt(row))


def test_paper_monte_carlo_rows_rebuild_from_their_specs():
    ids = ("paper/official-mlp-D9/vp16", "paper/official-mlp-D2/sl/memoriser-N100",
           "paper/official-mlp-D9/vpx/memoriser-N10")
    chosen = [r for r in ROWS if r["id"] in ids]
    assert len(chosen) == 3 and all(r["S_tot_method"] == "monte-carlo" for r in chosen)
    assert next(r for r in chosen if r["id"] == ids[0])["S_tot_stderr"] > 0
    for row in chosen:
        _compare(row, _rebuilt(row))


def _nudged_row(row, rng, ulps=4, scale=None):
    """A copy of a row with every finite number moved by 1..ulps units in the last place (another machine's
    rebuild), or multiplied by (1 + scale)."""
    out = dict(row)
    for key, val in row.items():
        if isinstance(val, float) and math.isfinite(val) and val != 0.0:
            if scale is not None:
                out[key] = val * (1.0 + scale)
                continue
            direction = math.inf if rng.random() < 0.5 else -math.inf
            for _ in range(int(rng.integers(1, ulps + 1))):
                val = math.nextafter(val, direction)
            out[key] = val
    return out


def test_rebuild_comparison_passes_ulp_perturbations_and_fails_real_changes():
    # issue 18: a rebuild on another machine differs in the last bits; the comparison must pass it for every
    # row (deterministic and Monte Carlo) and still catch a change of 1e-8 relative in a deterministic value
    import numpy as np
    rng = np.random.default_rng(18)
    for row in ROWS:
        _compare(row, _nudged_row(row, rng))
    # a standard error that is 0 here and rounding noise elsewhere (memoriser rows under SL: 0 in the file)
    zero = [r for r in ROWS if r.get("S_tot_stderr") == 0.0 and r["S_tot_method"] == "monte-carlo"]
    assert zero
    for row in zero:
        _compare(row, {**row, "S_tot_stderr": 2e-11 * row["S_tot"]})       # 2.9e-10 on 14.76, as in the issue
        with pytest.raises(AssertionError):
            _compare(row, {**row, "S_tot_stderr": 1e-6 * row["S_tot"]})
    det = [r for r in ROWS if r.get("S_tot_method") in ("closed-form", "quadrature", "cubature")]
    assert det
    for row in det:
        with pytest.raises(AssertionError):
            _compare(row, _nudged_row(row, rng, scale=1e-8))


def test_paper_rows_hold_the_official_numbers():
    """The paper's notebook mixture under VP: S_tot(1e-5, 1) = 1.14555 nats (issue 18: reference_values_nats
    of official_paper_mixtures.json, an independent cubature), on the official presets."""
    row = next(r for r in ROWS if r["id"] == "paper/official-notebook-D2/vp16")
    assert row["preset"] == "official-notebook-D2" and row["S_tot"] == pytest.approx(1.14555, abs=1e-5)
    assert row["spec"]["data"]["stds"] == cases.official_mixture_arrays("official-notebook-D2")[2].tolist()
