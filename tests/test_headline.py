"""The headline experiment (nent_ref.suites.headline, issue 20; docs/headline.md).

* Default run (numpy only): the shipped reference files match their SHA-256s and stay small; the
  closed-form S_tot of a degenerate Gaussian fit equals an independent factorised closed form; the slope
  fit recovers a known line; bad inputs raise HeadlineError naming the problem; the progress bar is
  silent when stderr is not a terminal.
* Marked ``adapters`` and ``headline`` (need torch and scikit-learn; CI step 3): the digits subsets match
  the shipped SHA-256s, training is deterministic on one machine, and ``nent-ref reproduce headline
  --quick`` re-measures the shipped weights and agrees with the shipped table within the stated errors
  (4 combined standard errors for Monte Carlo columns; the closed-form column to its error bound).

Reference values: none hard-coded; the shipped table (nent_ref/reference/headline/results.json) is the
output of the full run recorded in its manifest.
"""
import hashlib
import json
import math

import numpy as np
import pytest

import nent_ref as nr
from nent_ref.suites import headline as H

REF = H.REFERENCE_DIR
HAVE_REFERENCE = (REF / "manifest.json").exists()


def _have(module):
    """Whether ``module`` is installed, without importing it while collecting (torch takes ~2.5 s)."""
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


needs_frameworks = [pytest.mark.adapters, pytest.mark.headline,
                    pytest.mark.skipif(not (_have("torch") and _have("sklearn")),
                                       reason="needs torch and scikit-learn (pip install 'nent_ref[headline]')")]


# --------------------------------------------------------------------------- default run
@pytest.mark.skipif(not HAVE_REFERENCE, reason="no shipped reference")
def test_shipped_files_match_their_hashes_and_stay_small():
    manifest = json.loads((REF / "manifest.json").read_text())
    total = 0
    for name, meta in manifest["weights"].items():
        data = (REF / "weights" / name).read_bytes()
        total += len(data)
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], name
    total += sum(p.stat().st_size for p in REF.glob("*.*"))
    assert total < 2.2e6, f"shipped headline reference is {total / 1e6:.2f} MB"
    for key in ("torch_version", "nent_ref_version", "data_sha256", "permutation_sha256", "subset_sha256",
                "train_config"):
        assert key in manifest
    results = json.loads((REF / "results.json").read_text())
    assert {r["n_train"] for r in results["rows"]} == set(H.SIZES)
    assert {r["seed"] for r in results["rows"]} == set(H.SEEDS)
    perm = H.permutation()
    assert sorted(perm.tolist()) == list(range(1797))


def test_gaussian_fit_total_entropy_degenerate_directions():
    """A fit with a constant coordinate is a Gaussian in the others times a Dirac in that one; p_eq and the
    VP process factorise, so S_tot is the sum of the two library closed forms (independent route)."""
    rng = np.random.default_rng(4)
    pts = np.column_stack([rng.normal(0.2, 0.5, 40), np.full(40, -0.75), rng.normal(-0.1, 0.3, 40)])
    pts[:, 2] += 0.4 * pts[:, 0]
    est = H.gaussian_fit_total_entropy(pts)
    free = pts[:, [0, 2]]
    g = nr.Gaussian(free.mean(axis=0), np.cov(free.T, bias=True))
    ref = (nr.total_entropy(g, H.PROCESS, H.S0, H.S1).value
           + nr.total_entropy(nr.Dirac([-0.75]), H.PROCESS, H.S0, H.S1).value)
    assert est.extra["rank"] == 2
    assert abs(est.value - ref) <= est.error_bound + 1e-9 * abs(ref)
    # full rank: the library's own Gaussian closed form
    full = H.gaussian_fit_total_entropy(free)
    assert abs(full.value - nr.total_entropy(g, H.PROCESS, H.S0, H.S1).value) <= full.error_bound + 1e-9 * abs(full.value)


def _synthetic_rows(slope, intercept, noise, seeds=(0, 1, 2), sizes=(16, 64, 256, 1024), seed=0):
    rng = np.random.default_rng(seed)
    return [{"n_train": n, "seed": sd, "s_nn": intercept + slope * math.log(n) + noise * rng.standard_normal(),
             "s_nn_stderr": noise} for n in sizes for sd in seeds]


def test_fit_log_slope_recovers_a_known_line():
    fits = [H.fit_log_slope(_synthetic_rows(2.0, 5.0, 0.3, seed=k)) for k in range(20)]
    z = np.array([(f["slope"] - 2.0) / f["slope_stderr"] for f in fits])
    assert np.all(np.abs(z) < 5)
    assert 0.2 < np.std(z) < 3.0            # the stated stderr is of the right size (not 10x too small/large)
    f = fits[0]
    assert f["unit"] == "nat per e-fold of N" and len(f["slope_per_seed"]) == 3
    assert abs(f["slope_seed_mean"] - 2.0) < 5 * f["slope_seed_stderr"]


def test_fit_log_slope_inflates_when_the_line_does_not_fit():
    rows = [{"n_train": n, "seed": sd, "s_nn": (0.0 if n < 100 else 10.0) + 0.01 * sd, "s_nn_stderr": 0.01}
            for n in (16, 32, 64, 128, 256, 512) for sd in (0, 1)]
    f = H.fit_log_slope(rows)
    assert f["chi2"] / f["dof"] > 10 and f["stderr_inflation"] > 3


@pytest.mark.parametrize("call, match", [
    (lambda: H.fit_log_slope(_synthetic_rows(1.0, 0.0, 0.1, sizes=(16, 32))), "at least 3 sizes"),
    (lambda: H.training_set(np.zeros((1797, 64)), np.arange(1797), 1), "n must be an integer >= 2"),
    (lambda: H.training_set(np.zeros((1797, 64)), np.arange(1797), 2000), "at most 1797"),
    (lambda: H.training_set(np.zeros((1797, 64)), np.arange(1797), 16.5), "n must be"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_held_out_set_is_disjoint_or_absent():
    x = np.arange(1797 * 64, dtype=float).reshape(1797, 64)
    perm = np.random.default_rng(0).permutation(1797)
    ho = H.held_out_set(x, perm, 1024)
    train = H.training_set(x, perm, 1024)
    assert ho.shape == (H.HELD_OUT, 64)
    assert not set(map(tuple, ho.tolist())) & set(map(tuple, train.tolist()))
    assert H.held_out_set(x, perm, 1797) is None


def test_progress_bar_is_silent_without_a_terminal(capsys):
    bar = H.progress_bar(10, "test")
    bar.update(5)
    bar.close()
    assert capsys.readouterr().err == ""


def test_cli_reproduce_rejects_unknown_experiment(capsys):
    from nent_ref.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "nonsense"])
    assert exc.value.code == 2


# --------------------------------------------------------------------------- torch + scikit-learn
@pytest.mark.skipif(not HAVE_REFERENCE, reason="no shipped reference")
@pytest.mark.adapters
@pytest.mark.headline
@pytest.mark.skipif(not _have("sklearn"), reason="needs scikit-learn")
def test_digits_subsets_match_the_shipped_hashes():
    manifest = json.loads((REF / "manifest.json").read_text())
    x = H.load_digits_scaled()
    assert x.shape == (1797, 64) and x.min() == -1.0 and x.max() == 1.0
    assert H.array_sha256(x) == manifest["data_sha256"]
    perm = H.permutation()
    for n in H.SIZES:
        assert H.array_sha256(H.training_set(x, perm, n)) == manifest["subset_sha256"][str(n)]


def _needs(fn):
    for mark in reversed(needs_frameworks):
        fn = mark(fn)
    return fn


@_needs
def test_training_is_deterministic_and_weights_round_trip(tmp_path):
    x = H.load_digits_scaled()
    pts = H.training_set(x, H.permutation(), 16)
    m1, info1 = H.train(pts, 3, {"steps": 15})
    m2, _ = H.train(pts, 3, {"steps": 15})
    sha = H.save_weights(m1, tmp_path / "a.npz")
    assert H.save_weights(m2, tmp_path / "b.npz") == sha
    loaded = H.load_weights(tmp_path / "a.npz", sha256=sha)
    import torch
    xs = torch.as_tensor(pts[:4], dtype=torch.float32)
    ss = torch.full((4,), 0.3)
    with torch.no_grad():
        assert torch.equal(loaded(xs, ss), m1(xs, ss))
    with pytest.raises(H.HeadlineError, match="SHA-256"):
        H.load_weights(tmp_path / "a.npz", sha256="0" * 64)


@pytest.mark.skipif(not HAVE_REFERENCE, reason="no shipped reference")
@_needs
def test_quick_rerun_from_shipped_weights_agrees_with_shipped_table(tmp_path):
    """`nent-ref reproduce headline --quick` (another Monte Carlo design: 2^12 samples, 16 strata) against the
    shipped full table: Monte Carlo columns within 4 combined standard errors, the closed-form Gaussian-fit
    S_tot to its error bound plus 1e-9 relative (another BLAS may move the last bits)."""
    from nent_ref.cli import main
    assert main(["reproduce", "headline", "--quick", "--out", str(tmp_path), "--quiet"]) == 0
    quick = json.loads((tmp_path / "headline.json").read_text())
    for name in ("headline.csv", "headline_fit.json", "headline.png", "headline.pdf"):
        assert (tmp_path / name).exists()
    assert not (tmp_path / "weights").exists()          # shipped weights reused, nothing trained
    full = {(r["n_train"], r["seed"]): r for r in H.shipped_results()["rows"]}
    assert len(quick["rows"]) == len(H.QUICK_SIZES) * len(H.QUICK_SEEDS)
    for r in quick["rows"]:
        ref = full[(r["n_train"], r["seed"])]
        assert r["spec"]["subset_sha256"] == ref["spec"]["subset_sha256"]
        for col in ("s_nn", "l_em", "s_tot_memoriser", "loss_train"):
            se = math.hypot(r[col + "_stderr"], ref[col + "_stderr"])
            assert abs(r[col] - ref[col]) <= 4 * se, (col, r["n_train"], r[col], ref[col], se)
        g, gref = r["s_tot_gaussian_fit"], ref["s_tot_gaussian_fit"]
        assert abs(g - gref) <= r["s_tot_gaussian_fit_error_bound"] + 1e-9 * abs(gref)
