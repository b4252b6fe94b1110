"""Ecosystem models (issue 19): a diffusers UNet through from_diffusers and validate, EDM denoisers through
from_edm (numpy and torch), with the verdict, exit code and recorded conversions checked."""
import copy

import numpy as np
import pytest

import nent_ref as nr

CFG = {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02,
       "beta_schedule": "linear", "prediction_type": "epsilon"}
RNG = np.random.default_rng(7)
IMAGES = np.clip(RNG.normal(0.0, 0.5, size=(6, 64)), -1.0, 1.0)      # six 8x8 "images" in [-1, 1]


def edm_memoriser(atoms):
    """The exact EDM denoiser of the empirical distribution of ``atoms``: D(x; sigma) = E[x0 | x0 + sigma n = x]."""
    def D(x, sigma):
        sigma = np.asarray(sigma, dtype=float)[:, None, None]
        d2 = np.sum((x[:, None, :] - atoms[None]) ** 2, axis=2) / (2.0 * sigma[:, :, 0] ** 2)
        w = np.exp(-(d2 - d2.min(axis=1, keepdims=True)))
        w /= w.sum(axis=1, keepdims=True)
        return w @ atoms
    return D


def test_edm_denoiser_round_trip_on_its_process_and_on_vp():
    atoms = IMAGES[:, :4]
    data = nr.Empirical(atoms)
    m = nr.from_edm(edm_memoriser(atoms), sigma_max=80.0)
    s0 = 0.002 / 80.0
    l_em = nr.entropy_matching_loss(m, data, m.process, s0, n_samples=2048, n_times=8)
    s_tot = nr.total_entropy(data, m.process, s0, 1.0)
    assert abs(l_em.value) <= 1e-9 * s_tot.value, l_em
    conv = m.describe()["conversions"]
    assert "time s -> sigma = sqrt(v(s)) / mu(s)" in conv and any(c.startswith("prediction x0 -> e") for c in conv)
    # the same denoiser measured under a VP process (inputs scaled by 1/mu): still exact
    vp = nr.VP.from_diffusers(CFG)
    mv = nr.from_edm(edm_memoriser(atoms), vp)
    l_vp = nr.entropy_matching_loss(mv, data, vp, 1e-3, n_samples=2048, n_times=8)
    assert abs(l_vp.value) <= 1e-9 * nr.total_entropy(data, vp, 1e-3, 1.0).value, l_vp
    assert "inputs x -> x / mu(s) (EDM scaling)" in mv.describe()["conversions"]


def test_numpy_diffusers_style_model_with_images():
    """A numpy model on (B, 1, 2, 2) images in the diffusers convention, given a sample_shape."""
    atoms = IMAGES[:, :4]
    vp = nr.VP.from_diffusers(CFG)
    ab_nodes = vp.schedule.alpha_bar

    def unet_like(x, t):            # exact eps-predictor on images
        assert x.shape[1:] == (1, 2, 2)
        ab = np.exp(np.interp(t, np.arange(-1, 1000.0), np.concatenate([[0.0], np.log(ab_nodes)])))
        flat = x.reshape(x.shape[0], -1)
        a, v = np.sqrt(ab)[:, None], (1 - ab)[:, None]
        d2 = np.sum((flat[:, None, :] - a[:, :, None] * atoms[None]) ** 2, axis=2) / (2 * v)
        w = np.exp(-(d2 - d2.min(axis=1, keepdims=True)))
        w /= w.sum(axis=1, keepdims=True)
        return ((flat - a * (w @ atoms)) / np.sqrt(v)).reshape(x.shape)

    m = nr.from_diffusers(unet_like, CFG, sample_shape=(1, 2, 2))
    assert m.prediction == "eps" and m.time_input == "timestep"
    l_em = nr.entropy_matching_loss(m, nr.Empirical(atoms), m.process, 1e-3, n_samples=2048, n_times=8)
    assert abs(l_em.value) <= 1e-9, l_em
    assert "inputs (M, 4) -> images (M, 1, 2, 2); outputs .sample (M, 1, 2, 2) -> (M, 4)" in m.conversions


@pytest.fixture
def one_torch_thread():
    """One torch thread while the test runs (on a loaded 2-core machine torch's spinning worker threads made a
    32-row UNet call 40x slower); restored afterwards."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


@pytest.mark.adapters
def test_random_unet_through_from_diffusers_and_validate(one_torch_thread):
    torch = one_torch_thread
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)
    sched = diffusers.DDPMScheduler(**{k: v for k, v in CFG.items() if not k.startswith("_")})
    m = nr.from_diffusers(unet, sched, batch_size=128)
    data = nr.Empirical(IMAGES)
    rep = nr.validate(m, data, m.process, 1e-3, n_samples=1024, n_times=8, curves=False)
    # a random network: consistent numbers, failed quality (L_EM far above the gates), exit code 1
    assert rep.consistent, str(rep)
    assert not rep.quality_passed and rep.exit_code == 1 and rep.verdict != "passed"
    assert rep.l_em.value > 10 * rep.l_em.stderr
    conv = rep.model_info["conversions"]
    for needed in ("inputs (M, 64) -> images (M, 1, 8, 8); outputs .sample (M, 1, 8, 8) -> (M, 64)",
                   "time s -> timestep t = s N / T - 1 (N = 1000, T = 1; float)", "inputs float64 -> float32"):
        assert needed in conv, conv
    assert any(c.startswith("prediction eps -> e: score = -eps / sqrt(v(s))") for c in conv), conv
    assert rep.model_info["framework"] == "torch" and rep.model_info["device"] == "cpu"
    # the UNet itself, called the diffusers way, gives what the adapter converts
    x = torch.as_tensor(IMAGES[:2].reshape(2, 1, 8, 8), dtype=torch.float32)
    with torch.no_grad():
        eps = unet(x, torch.tensor([499.0, 499.0])).sample.double().numpy().reshape(2, 64)
    e = m(IMAGES[:2], np.full(2, 0.5))
    v = float(m.process.marginal_var(0.5))
    np.testing.assert_allclose(e, -eps / np.sqrt(v) + IMAGES[:2], rtol=1e-5, atol=1e-5)


@pytest.mark.adapters
def test_torch_edm_denoiser():
    torch = pytest.importorskip("torch")
    atoms = IMAGES[:, :4]
    A = torch.as_tensor(atoms)

    class Denoiser(torch.nn.Module):          # the exact memoriser as a float64 torch module
        def __init__(self):
            super().__init__()
            self.register_buffer("atoms", A)

        def forward(self, x, sigma):
            d2 = ((x[:, None, :] - self.atoms[None]) ** 2).sum(-1) / (2 * sigma[:, None] ** 2)
            w = torch.softmax(-d2, dim=1)
            return w @ self.atoms

    m = nr.from_edm(Denoiser())
    l_em = nr.entropy_matching_loss(m, nr.Empirical(atoms), m.process, 0.002 / 80, n_samples=2048, n_times=8)
    assert abs(l_em.value) <= 1e-9 * nr.total_entropy(nr.Empirical(atoms), m.process, 0.002 / 80).value
    assert m.describe()["framework"] == "torch"


MODEL_SRC = '''
import numpy as np
import nent_ref as nr
ATOMS = np.load("imgs.npy").reshape(4, -1) / 255.0 * 2 - 1
PROC = nr.VP.from_diffusers("sched")


def unet(x, t):
    """The exact eps-predictor of the scaled images, on (B, 1, 2, 2) images with diffusers timesteps."""
    flat = x.reshape(x.shape[0], -1)
    s = nr.predictions.s_of_time_input(PROC, t, "timestep")
    e = nr.reference_models.exact_e(nr.Empirical(ATOMS), PROC)(flat, s)
    return nr.predictions.from_e(e, flat, s, PROC, "eps").reshape(x.shape)


def shifted(x, t):
    return unet(x, t + 1.0)          # off by one timestep
'''


def _cli_setup(tmp_path, monkeypatch):
    import json
    (tmp_path / "sched").mkdir()
    (tmp_path / "sched" / "scheduler_config.json").write_text(json.dumps(CFG))
    np.save(tmp_path / "imgs.npy", np.random.default_rng(0).integers(0, 256, size=(4, 1, 2, 2)).astype(np.uint8))
    (tmp_path / "cli_unet_model.py").write_text(MODEL_SRC)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_cli_validate_with_a_scheduler_config_and_images(tmp_path, monkeypatch, capsys):
    import json
    from nent_ref.cli import main
    _cli_setup(tmp_path, monkeypatch)
    common = ["--scheduler-config", "sched", "--sample-shape", "1,2,2", "--data", "imgs.npy", "--data-range",
              "0,255", "--s0", "0.001", "--n-samples", "2048", "--no-curves", "--json"]
    assert main(["validate", "cli_unet_model:unet"] + common) == 0
    rep = json.loads(capsys.readouterr().out)
    conv = rep["model_info"]["conversions"]
    assert "inputs (M, 4) -> images (M, 1, 2, 2); outputs .sample (M, 1, 2, 2) -> (M, 4)" in conv
    assert any(c.startswith("prediction eps -> e") for c in conv)
    assert main(["validate", "cli_unet_model:shifted"] + common) == 1          # the slip fails a quality gate
    capsys.readouterr()
    assert main(["validate", "cli_unet_model:unet", "--process", "vp"] + common) == 2   # process from two places


@pytest.mark.adapters
def test_cli_validate_a_pipeline_directory(tmp_path, monkeypatch, capsys, one_torch_thread):
    import json
    from nent_ref.cli import main
    torch = one_torch_thread
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)
    unet.save_pretrained(tmp_path / "pipe" / "unet")
    diffusers.DDPMScheduler(**{k: v for k, v in CFG.items() if not k.startswith("_")}).save_pretrained(
        tmp_path / "pipe" / "scheduler")
    np.save(tmp_path / "imgs.npy", ((IMAGES + 1) * 127.5).round().reshape(6, 1, 8, 8))
    monkeypatch.chdir(tmp_path)
    code = main(["validate", "pipe", "--data", "imgs.npy", "--data-range", "0,255", "--s0", "0.001",
                 "--n-samples", "1024", "--no-curves", "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert code == 1 and rep["consistent"] is True and rep["quality_passed"] is False
    assert "time s -> timestep t = s N / T - 1 (N = 1000, T = 1; float)" in rep["model_info"]["conversions"]


@pytest.mark.adapters
def test_docs_ecosystem_unet_block_runs(one_torch_thread, capsys, tmp_path, monkeypatch):
    """docs/ecosystem.md: the ```python-diffusers block (a real UNet2DModel) runs after the page's python
    blocks (tests/test_docs.py runs those without diffusers)."""
    import re
    from pathlib import Path
    pytest.importorskip("diffusers")
    text = (Path(__file__).resolve().parents[1] / "docs" / "ecosystem.md").read_text()
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "doc_ecosystem"}
    blocks = re.findall(r"```(python|python-diffusers)\n(.*?)```", text, flags=re.S)
    assert [k for k, _ in blocks].count("python-diffusers") == 1
    for kind, block in blocks:
        exec(compile(block, f"ecosystem.md ({kind})", "exec"), ns)
    s_nn = ns["s_nn"]
    assert s_nn.value > 0 and s_nn.extra["model_calls"] > 0
    assert "inputs float64 -> float32" in ns["model"].describe()["conversions"]


@pytest.mark.slow
@pytest.mark.adapters
def test_short_training_on_sklearn_digits_lowers_l_em(one_torch_thread):
    """A small eps-predictor trained the DDPM way (uniform timesteps, MSE on eps) on 8x8 digits scaled
    [0, 16] -> [-1, 1]: its L_EM against the exact score of its own training set falls as it trains.
    Measured with the unit weighting (lambda = v: the weighting of the eps loss it minimises) on common random
    numbers (one seed), so the differences are sharper than each stderr."""
    torch = one_torch_thread
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    train = nr.Empirical.from_images(digits.images[:64], value_range=(0, 16))
    proc = nr.VP.from_diffusers(CFG)
    ab = torch.as_tensor(proc.schedule.alpha_bar, dtype=torch.float32)
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.f = torch.nn.Sequential(torch.nn.Linear(64 + 16, 256), torch.nn.SiLU(), torch.nn.Linear(256, 256),
                                         torch.nn.SiLU(), torch.nn.Linear(256, 64))
            self.register_buffer("freq", torch.exp(torch.linspace(0.0, -6.0, 8)))

        def forward(self, x, t):                       # x: (B, 64) rows, t: float timesteps (B,)
            a = t[:, None] * self.freq[None]
            return self.f(torch.cat([x, torch.sin(a), torch.cos(a)], dim=1))

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    x0_all = torch.as_tensor(train.points, dtype=torch.float32)
    model = nr.from_diffusers(net, CFG, sample_shape=None)

    def l_em():
        return nr.entropy_matching_loss(model, train, proc, 1e-3, weighting="unit", n_samples=2048, n_times=8,
                                        seed=11)

    # train first, evaluate the snapshots afterwards (the estimator's compiled kernels leave worker threads
    # that would slow the training loop on a loaded machine)
    snapshots = [copy.deepcopy(net.state_dict())]
    gen = torch.Generator().manual_seed(1)
    for steps in (100, 600):
        net.train()
        for _ in range(steps):
            idx = torch.randint(0, 64, (128,), generator=gen)
            t = torch.randint(0, 1000, (128,), generator=gen)
            eps = torch.randn(128, 64, generator=gen)
            a = ab[t][:, None]
            xt = a.sqrt() * x0_all[idx] + (1 - a).sqrt() * eps
            loss = ((net(xt, t.float()) - eps) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        snapshots.append(copy.deepcopy(net.state_dict()))
    net.eval()
    losses = []
    for state in snapshots:
        net.load_state_dict(state)
        losses.append(l_em())
    vals = [e.value for e in losses]
    for before, after in zip(losses, losses[1:]):
        assert before.value - after.value > 3 * np.hypot(before.stderr, after.stderr), vals
