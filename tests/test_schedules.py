"""Processes from any schedule (issue 19): alpha-bar tables and functions, log-SNR and sigma forms, VE from
any sigma(s), diffusers scheduler configs read without diffusers (and checked against it when installed)."""
import json
import math

import numpy as np
import pytest

import nent_ref as nr
from nent_ref.core import schedules as sch

LINEAR_1000 = {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_start": 0.0001,
               "beta_end": 0.02, "beta_schedule": "linear", "prediction_type": "epsilon"}


def _gaussian_kl_eq(ab, mean, lam):
    """KL(N(sqrt(ab) m, ab lam + 1 - ab) || N(0, 1)) summed over eigendirections (textbook formula,
    written out here independently of the library: 1/2 (c + ab m^2 - 1 - log c), c = 1 - ab + ab lam)."""
    c = 1.0 - ab + ab * lam
    return float(np.sum(0.5 * ((c - 1.0) + ab * mean ** 2 - np.log(c))))


def test_table_nodes_follow_the_diffusers_convention():
    betas = sch.diffusers_betas(**{k: LINEAR_1000[k] for k in ("num_train_timesteps", "beta_start", "beta_end",
                                                              "beta_schedule")})
    ab = np.cumprod(1.0 - betas)                       # diffusers: alphas_cumprod = cumprod(1 - betas)
    proc = nr.VP.from_diffusers(LINEAR_1000)
    assert proc.n_timesteps == 1000 and proc.T == 1.0
    t = np.array([0, 1, 99, 500, 999])
    s = (t + 1) / 1000.0
    np.testing.assert_allclose(proc.mean_coeff_sq(s), ab[t], rtol=1e-13)
    # 1 - ab without the cancellation of 1 - cumprod (v = 1e-4 = beta_0 exactly at t = 0)
    np.testing.assert_allclose(proc.marginal_var(s), -np.expm1(np.cumsum(np.log1p(-betas)))[t], rtol=1e-13)
    assert proc.marginal_var(0.001) == pytest.approx(1e-4, rel=1e-15)
    assert float(proc.mean_coeff_sq(0.0)) == 1.0
    # beta(s) is constant on each interval: -log(1 - beta_{t+1}) N on [s_t, s_{t+1})
    mid = (t[:-1] + 1.5) / 1000.0
    np.testing.assert_allclose(proc.beta(mid), -np.log1p(-betas[t[:-1] + 1]) * 1000.0, rtol=1e-12)
    # the same process from the alpha_bar table and from the betas
    proc2 = nr.VP.from_alpha_bar(ab)
    np.testing.assert_allclose(proc2.mean_coeff_sq(s), proc.mean_coeff_sq(s), rtol=1e-13)


def test_gaussian_s_tot_between_two_nodes_is_the_closed_form_of_alpha_bar_there():
    """S_tot(s_a, s_b) = KL(p_a || p_eq) - KL(p_b || p_eq) from alpha_bar at the two nodes, to 1e-12."""
    proc = nr.VP.from_diffusers(LINEAR_1000)
    betas = proc.schedule.betas
    ab = np.cumprod(1.0 - betas)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    cov = A @ A.T + 0.2 * np.eye(3)
    mean = rng.standard_normal(3)
    lam, U = np.linalg.eigh(cov)
    m = U.T @ mean
    g = nr.Gaussian(mean, cov)
    for ta, tb in ((0, 1), (99, 100), (99, 499), (499, 999)):
        sa, sb = (ta + 1) / 1000, (tb + 1) / 1000
        ref = _gaussian_kl_eq(ab[ta], m, lam) - _gaussian_kl_eq(ab[tb], m, lam)
        got = nr.total_entropy(g, proc, sa, sb)
        assert abs(got.value - ref) <= 1e-12 * max(abs(ref), 1.0), (ta, tb, got.value, ref)


def test_continuous_vp_and_the_1000_step_linear_schedule_differ_by_the_documented_amount():
    """docs/theory.md section 1b: at node s_t, B_disc - B_cont = sum_i (-log(1 - beta_i) - beta_i)
    + (beta_max - beta_min)(t + 1)(t + 1 - N)/(2 N^2 (N - 1)); S_tot(0, s_t) differs by the KL change."""
    N = 1000
    disc = nr.VP.from_diffusers(LINEAR_1000)
    cont = nr.VP(0.1, 20.0)
    betas = disc.schedule.betas
    t = np.array([9, 99, 499, 999])
    s = (t + 1) / N
    second = np.cumsum(-np.log1p(-betas) - betas)[t]
    linear_part = (20.0 - 0.1) * (t + 1) * (t + 1 - N) / (2.0 * N * N * (N - 1))
    dB = disc.B(s) - cont.B(s)
    np.testing.assert_allclose(dB, second + linear_part, rtol=1e-9, atol=1e-13)
    assert np.all(np.abs(dB) < 0.07)                 # the largest difference, at s = 1 (second-order term)
    g = nr.Gaussian([0.4, -0.2], [[0.5, 0.1], [0.1, 0.3]])
    lam, U = np.linalg.eigh(g.cov)
    m = U.T @ g.mean
    for tj, sj, dbj in zip(t, s, dB):
        diff = nr.total_entropy(g, disc, 0.0, sj).value - nr.total_entropy(g, cont, 0.0, sj).value
        ab = math.exp(-float(cont.B(sj)))
        # S_tot(0, s) = KL(p_0 || p_eq) - KL(p_s || p_eq): the difference is the KL at the shifted alpha_bar
        ref = _gaussian_kl_eq(ab, m, lam) - _gaussian_kl_eq(ab * math.exp(-dbj), m, lam)
        assert abs(diff - ref) <= 1e-11, (tj, diff, ref)


@pytest.mark.parametrize("form", ["alpha_bar", "log_snr", "sigma"])
def test_function_forms_give_the_continuous_vp(form):
    cont = nr.VP(0.1, 20.0)

    def B(s):
        return 0.1 * s + 9.95 * s * s

    fns = {"alpha_bar": lambda s: np.exp(-B(s)),
           "log_snr": lambda s: -np.log(np.expm1(B(s))),       # lambda = log(ab / (1 - ab))
           "sigma": lambda s: np.sqrt(np.expm1(B(s)))}
    proc = nr.VP.from_alpha_bar(fns[form], form=form)
    s = np.array([1e-3, 0.1, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(proc.mean_coeff_sq(s), cont.mean_coeff_sq(s), rtol=1e-12)
    np.testing.assert_allclose(proc.beta(s), cont.beta(s), rtol=1e-7)   # numerical derivative (DERIVATIVE_RTOL)
    g = nr.Gaussian([0.3], [[0.4]])
    a, b = nr.total_entropy(g, proc, 0.0, 1.0), nr.total_entropy(g, cont, 0.0, 1.0)
    assert abs(a.value - b.value) <= 1e-11 * abs(b.value)
    exact = nr.VP.from_alpha_bar(fns["alpha_bar"], beta=lambda s: 0.1 + 19.9 * s)
    np.testing.assert_allclose(exact.diffusion(s), cont.diffusion(s), rtol=1e-14)


def test_ve_from_any_sigma():
    edm = nr.VE.from_sigma(sch.EDMSigma(80.0))
    fn = nr.VE.from_sigma(lambda s: 80.0 * s)
    s = np.array([1e-4, 0.01, 0.5, 1.0])
    np.testing.assert_allclose(edm.marginal_var(s), (80.0 * s) ** 2, rtol=1e-15)
    np.testing.assert_allclose(fn.marginal_var(s), (80.0 * s) ** 2, rtol=1e-14)
    np.testing.assert_allclose(edm.diffusion(s), 6400.0 * s, rtol=1e-15)
    np.testing.assert_allclose(fn.diffusion(s), 6400.0 * s, rtol=1e-7)
    # a table of sigmas (Karras et al.'s sampling grid, sorted increasing): exact at the nodes
    rho, n = 7.0, 18
    grid = (0.002 ** (1 / rho) + np.arange(n) / (n - 1) * (80 ** (1 / rho) - 0.002 ** (1 / rho))) ** rho
    tab = nr.VE.from_sigma(grid)
    np.testing.assert_allclose(tab.marginal_var(np.arange(1, n + 1) / n), grid ** 2, rtol=1e-14)
    # S_tot depends on the noise levels only, not on how s parametrises them: H(p at 80) - H(p at 0.002)
    g = nr.Gaussian([0.1], [[0.25]])
    s_edm = nr.total_entropy(g, edm, 0.002 / 80, 1.0).value
    s_tab = nr.total_entropy(g, tab, 1.0 / n, 1.0).value
    ref = 0.5 * math.log((0.25 + 6400) / (0.25 + 0.002 ** 2))
    assert abs(s_edm - ref) <= 1e-13 * ref and abs(s_tab - ref) <= 1e-13 * ref
    # the existing geometric VE is one case: sigma(s) = smin (smax/smin)^s
    geo, gen = nr.VE(0.01, 50.0), nr.VE.from_sigma(lambda s: 0.01 * (5000.0 ** s))
    np.testing.assert_allclose(gen.marginal_var(s), geo.marginal_var(s), rtol=1e-12)


def test_every_quantity_runs_on_table_processes():
    vp = nr.VP.from_diffusers(dict(LINEAR_1000, beta_schedule="squaredcos_cap_v2"))
    ve = nr.VE.from_sigma(sch.EDMSigma(80.0))
    g = nr.Gaussian([0.2, -0.1], [[0.3, 0.05], [0.05, 0.2]])
    for proc, s0 in ((vp, 0.0), (ve, 0.002 / 80)):
        st = nr.total_entropy(g, proc, s0, proc.T)
        assert st.value > 0
        r = nr.entropy_production_rate(g, proc, np.array([0.3, 0.7]))
        assert np.all(np.asarray(r.value) > 0)
        sl = nr.speed_limit(g, proc, s0, proc.T)
        assert sl is not None
    assert nr.kl_to_equilibrium(g, vp, 1.0).value < 1e-3
    mix = nr.GaussianMixture([0.5, 0.5], [[-1.0], [1.0]], [[[0.1]], [[0.1]]])
    assert nr.total_entropy(mix, vp, 0.0, 1.0).value > 0


def test_bad_schedules_are_named():
    with pytest.raises(ValueError, match="strictly decreasing"):
        nr.VP.from_alpha_bar([0.9, 0.95, 0.5])
    with pytest.raises(ValueError, match="alpha_bar must lie in"):
        nr.VP.from_alpha_bar([0.9, 0.5, 0.0])
    with pytest.raises(ValueError, match="alpha_bar\\(0\\)"):
        nr.VP.from_alpha_bar(lambda s: 0.9 * np.exp(-s))
    with pytest.raises(ValueError, match="beta_schedule"):
        nr.VP.from_diffusers(dict(LINEAR_1000, beta_schedule="quadratic"))
    with pytest.raises(ValueError, match="prediction_type"):
        nr.VP.from_diffusers(dict(LINEAR_1000, prediction_type="flow"))
    with pytest.raises(ValueError, match="zero terminal SNR"):
        nr.VP.from_diffusers(dict(LINEAR_1000, rescale_betas_zero_snr=True))
    with pytest.raises(ValueError, match="increasing"):
        nr.VE.from_sigma([1.0, 0.5])


def test_scheduler_config_files_and_pipeline_directories(tmp_path):
    (tmp_path / "scheduler").mkdir()
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps(LINEAR_1000))
    a = nr.VP.from_diffusers(tmp_path)
    b = nr.VP.from_diffusers(tmp_path / "scheduler" / "scheduler_config.json")
    assert a.scheduler_config["source"].endswith("scheduler_config.json")
    assert float(a.mean_coeff_sq(0.5)) == float(b.mean_coeff_sq(0.5))
    with pytest.raises(ValueError, match="no such scheduler config file"):
        nr.VP.from_diffusers(tmp_path / "scheduler" / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no scheduler_config.json"):
        nr.VP.from_diffusers(tmp_path / "empty")


@pytest.mark.adapters
@pytest.mark.parametrize("beta_schedule", ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"])
def test_betas_match_diffusers_own_scheduler(beta_schedule):
    """diffusers builds the betas and alphas_cumprod in float32; ours are float64 from the definitions.
    Tolerances: float32 rounding of each beta (rtol 1e-6) and of a 1000-term float32 cumprod (rtol 1e-4)."""
    diffusers = pytest.importorskip("diffusers")
    cfg = dict(LINEAR_1000, beta_schedule=beta_schedule)
    if beta_schedule == "scaled_linear":
        cfg.update(beta_start=0.00085, beta_end=0.012)
    classes = (diffusers.DDPMScheduler,) if beta_schedule == "sigmoid" else (diffusers.DDPMScheduler,
                                                                             diffusers.DDIMScheduler)
    for cls in classes:                         # DDIMScheduler has no sigmoid schedule
        kw = {k: cfg[k] for k in ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule",
                                  "prediction_type")}
        sched = cls(**kw)
        proc = nr.VP.from_diffusers(sched)          # the scheduler object itself
        proc_cfg = nr.VP.from_diffusers(dict(sched.config))
        betas = sched.betas.double().numpy()
        np.testing.assert_allclose(proc.schedule.betas, betas, rtol=1e-6, atol=1e-9)
        ab = sched.alphas_cumprod.double().numpy()
        s = np.arange(1, 1001) / 1000.0
        np.testing.assert_allclose(proc.mean_coeff_sq(s), ab, rtol=1e-4, atol=1e-9)
        np.testing.assert_allclose(proc_cfg.mean_coeff_sq(s), proc.mean_coeff_sq(s), rtol=1e-15)


@pytest.mark.parametrize("process", [
    nr.VP.from_diffusers(LINEAR_1000),
    nr.VP.from_alpha_bar([0.9, 0.5, 0.1], kappa=0.5),
    nr.VP.from_alpha_bar(None, betas=[0.1, 0.2, 0.3], s=[0.2, 0.5, 1.0]),
    nr.VE.from_sigma(sch.EDMSigma(80.0)),
    nr.VE.from_sigma([0.1, 1.0, 10.0]),
])
def test_table_processes_in_specs_round_trip_and_compute(process):
    from nent_ref.suites import specs
    g = {"kind": "gaussian", "mean": [0.1, 0.2], "cov": [[0.3, 0.0], [0.0, 0.2]]}
    spec = {"data": g, "process": specs.process_spec_of(process), "window": {"s0": 0.01, "s1": process.T},
            "quantities": ["S_tot"]}
    canon = specs.normalize_spec(spec)
    assert specs.normalize_spec(json.loads(json.dumps(canon))) == canon
    row = specs.compute_row(specs.Case(canon))
    ref = nr.total_entropy(nr.Gaussian(g["mean"], g["cov"]), process, 0.01, process.T).value
    assert row["S_tot"] == pytest.approx(ref, rel=1e-13)
    assert row["process"].startswith(process_label_prefix(process))


def process_label_prefix(process):
    return "ve-" if isinstance(process, nr.VE) else "vp-"


def test_spec_schedule_errors_name_the_field():
    from nent_ref.suites import specs
    base = {"data": {"kind": "gaussian", "mean": [0.0], "cov": [[1.0]]}, "window": {"s0": 0.0, "s1": 1.0},
            "quantities": ["S_tot"]}
    with pytest.raises(specs.SpecError, match="process.schedule.kind"):
        specs.normalize_spec({**base, "process": {"kind": "vp", "schedule": {"kind": "edm"}}})
    with pytest.raises(specs.SpecError, match="process"):
        specs.normalize_spec({**base, "process": {"kind": "vp", "schedule": {"kind": "alpha_bar",
                                                                           "values": [0.5, 0.9]}}})


def test_images_as_the_training_set_with_their_scaling(tmp_path):
    """Empirical.from_images: files, .npy/.npz and datasets give the same scaled atoms; a spec with the file
    and scale {from: [0, 255], to: [-1, 1]} computes the memoriser's S_tot on them."""
    from nent_ref.suites import specs
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 1, 4, 4)).astype(np.uint8)
    np.save(tmp_path / "imgs.npy", imgs)
    np.savez(tmp_path / "imgs.npz", train=imgs, labels=np.arange(5))
    expect = imgs.reshape(5, 16) / 255.0 * 2.0 - 1.0
    a = nr.Empirical.from_images(tmp_path / "imgs.npy", value_range=(0, 255))
    b = nr.Empirical.from_images(tmp_path / "imgs.npz", value_range=(0, 255), array="train")
    c = nr.Empirical.from_images([(im, k) for k, im in enumerate(imgs)], value_range=(0, 255))
    for d in (a, b, c):
        np.testing.assert_allclose(d.points, expect, rtol=0, atol=1e-15)
    assert a.image_info["scale"] == {"from": [0.0, 255.0], "to": [-1.0, 1.0]} and a.image_info["shape"] == [1, 4, 4]
    PIL = pytest.importorskip("PIL.Image")
    (tmp_path / "png").mkdir()
    for k, im in enumerate(imgs):
        PIL.fromarray(im[0]).save(tmp_path / "png" / f"{k:02d}.png")
    d = nr.Empirical.from_images(tmp_path / "png", value_range=(0, 255))
    np.testing.assert_allclose(d.points, expect, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="outside value_range"):
        nr.Empirical.from_images(tmp_path / "imgs.npy", value_range=(0, 1))
    spec = {"data": {"kind": "empirical", "file": "imgs.npy", "sha256": specs.file_sha256(tmp_path / "imgs.npy"),
                     "scale": {"from": [0, 255], "to": [-1, 1]}},
            "process": specs.process_spec_of(nr.VP.from_diffusers(LINEAR_1000)),
            "window": {"s0": 0.001, "s1": 1.0}, "quantities": ["S_tot"], "accuracy": {"method": "monte-carlo"}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    case, = specs.load_cases(tmp_path / "spec.json")
    assert case.spec["data"]["scale"] == {"from": [0.0, 255.0], "to": [-1.0, 1.0]}
    np.testing.assert_array_equal(case.data.points, a.points)
