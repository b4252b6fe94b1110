"""nent_ref's own presets are data (issue 18): ``gaussian-<D>d``, ``dirac-<D>d`` and ``mixture-<D>d`` are read
from the package data file nent_ref/reference/presets.json (with its provenance), not rebuilt through linear
algebra at import, so they are the same on every machine; their recipe still reproduces them within the
documented tolerance ``cases.PRESET_RTOL`` (1e-12, max-norm relative), never bit for bit.

(The official code's mixtures have their own file and tests: tests/test_presets.py.)
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nent_ref.suites import cases, specs

ROOT = Path(__file__).resolve().parents[1]
OWN = cases.own_preset_names()


def test_file_holds_every_own_preset_with_its_provenance():
    rec = cases.presets_record()
    prov = rec["provenance"]
    assert prov["seed"] == 20261122 and "preset_recipe" in prov["generator"]
    assert "regenerate_presets.py" in prov["generator"] and "PCG64" in prov["bit_generator"]
    assert set(prov["recipes"]) == {"gaussian-<D>d", "dirac-<D>d", "mixture-<D>d"}
    assert list(rec["presets"]) == OWN and set(OWN) <= set(cases.data_preset_names())
    assert OWN == [f"gaussian-{d}d" for d in cases.DIMS] + [f"dirac-{d}d" for d in cases.DIMS] + \
        [f"mixture-{d}d" for d in cases.MIXTURE_DIMS]
    # the file sits in the package data the wheel ships (setup.cfg: reference/*.json)
    assert (ROOT / "nent_ref" / cases.PRESETS_FILE).is_file()


@pytest.mark.parametrize("dim", cases.DIMS)
def test_case_functions_return_the_stored_numbers(dim):
    g, a = cases.gaussian_case(dim), cases.dirac_case(dim)
    assert specs.data_spec_of(g) == cases.stored_preset(f"gaussian-{dim}d")
    assert specs.data_spec_of(a) == cases.stored_preset(f"dirac-{dim}d")
    assert specs.data_spec_of(cases.data_preset(f"gaussian-{dim}d")) == cases.stored_preset(f"gaussian-{dim}d")
    if dim in cases.MIXTURE_DIMS:
        w, m, sd = cases.paper_mixture_params(dim)
        stored = cases.stored_preset(f"mixture-{dim}d")
        assert (w.tolist(), m.tolist(), sd.tolist()) == (stored["weights"], stored["means"], stored["stds"])


def test_presets_do_no_linear_algebra(monkeypatch):
    # issue 18: gaussian-3d/6d/9d were built at import with QR and a matrix product, whose last bits depend
    # on the BLAS kernel the CPU selects.  With QR disabled the presets still come out (from the file).
    def refuse(*args, **kwargs):
        raise AssertionError("a preset must not be recomputed through linear algebra")
    monkeypatch.setattr(np.linalg, "qr", refuse)
    for dim in cases.DIMS:
        assert specs.data_spec_of(cases.gaussian_case(dim)) == cases.stored_preset(f"gaussian-{dim}d")
    with pytest.raises(AssertionError, match="linear algebra"):
        cases.preset_recipe("gaussian-3d")                  # the recipe does, and is only a check


@pytest.mark.parametrize("name", OWN)
def test_recipe_reproduces_the_stored_numbers_within_tolerance(name):
    fresh, stored = cases.preset_recipe(name), cases.stored_preset(name)
    assert cases.preset_differences(fresh, stored) == []
    for key, val in stored.items():
        if isinstance(val, list):       # the actual gap is ulps (QR + matmul), far inside the tolerance
            b = np.asarray(val)
            assert np.max(np.abs(np.asarray(fresh[key]) - b)) <= 1e-2 * cases.PRESET_RTOL * np.max(np.abs(b))


def test_recipe_perturbed_by_a_few_ulps_still_matches_and_an_edit_does_not():
    # a second machine, simulated: the recomputed covariance a few ulps off passes; 10x the tolerance fails
    stored = cases.stored_preset("gaussian-9d")
    cov = np.array(cases.preset_recipe("gaussian-9d")["cov"])
    eps = np.finfo(float).eps
    rng = np.random.default_rng(9)
    nudged = cov * (1 + eps * rng.integers(-4, 5, cov.shape))
    assert cases.preset_differences({**stored, "cov": nudged.tolist()}, stored) == []
    edited = cov * (1 + 10 * cases.PRESET_RTOL)
    assert cases.preset_differences({**stored, "cov": edited.tolist()}, stored)


def test_other_arguments_draw_from_the_recipe():
    # not presets: computed from the same streams (only uniform draws for the mixtures)
    w, m, sd = cases.paper_mixture_params(4, n_components=3, seed=2)
    rng = np.random.default_rng([20261122, 3, 4, 3, 2])
    np.testing.assert_array_equal(m, rng.uniform(-2.0, 2.0, (3, 4)))
    np.testing.assert_array_equal(sd, rng.uniform(0.5, 1.0, 3))
    assert w.tolist() == [1 / 3] * 3
    assert cases.gaussian_case(4).dim == 4 and cases.dirac_case(5).dim == 5
    with pytest.raises(ValueError, match="unknown preset 'gaussian-4d'"):
        cases.stored_preset("gaussian-4d")


def test_regenerate_script_checks_and_rebuilds_the_file(tmp_path):
    script = ROOT / "tools" / "regenerate_presets.py"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gaussian-9d: recipe vs stored, largest relative difference" in proc.stdout
    # --write on a copy keeps every preset the recipe reproduces within tolerance, byte for byte of the
    # stored numbers, and restores a preset that was edited beyond it
    copy = tmp_path / "presets.json"
    rec = cases.presets_record()
    rec["presets"]["dirac-2d"]["point"][0] += 1e-6
    copy.write_text(json.dumps(rec))
    proc = subprocess.run([sys.executable, str(script), "--file", str(copy)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "dirac-2d: point differs" in proc.stderr
    proc = subprocess.run([sys.executable, str(script), "--file", str(copy), "--write"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "(1 taken from the recipe)" in proc.stdout, proc.stdout + proc.stderr
    assert json.loads(copy.read_text())["presets"] == cases.presets_record()["presets"]
    assert copy.read_text() == (ROOT / "nent_ref" / cases.PRESETS_FILE).read_text()
