"""Framework adapters (issue 13): PyTorch modules and JAX functions validated with one call each.

The framework tests train a small network inside the test for a few seconds (fixed seeds, CPU) on a
Gaussian under the paper's VP 0.1 -> 16 and check its report: L_EM clearly > 0, every consistency check
with the right sign, the conversions recorded, one compile in JAX; and that the torch / JAX path and a
numpy twin of the same function (the same weights in float64) give the same numbers.  They skip when
the framework is not installed; CI installs CPU builds in a separate step and runs ``pytest -m adapters``.
Ground truth: closed-form S_tot of Gaussian data (tests/test_neural.py); tolerances 5 standard errors.
"""
from __future__ import annotations

import copy
import pickle
import sys
import time

import numpy as np
import pytest

import nent_ref as nr
from nent_ref import cases, cli
from nent_ref import reference_models as rm
from nent_ref.quantities import adapters
from nent_ref.quantities.adapters import FixedBatchModel, MissingFrameworkError, adapt, from_jax, from_torch

pytestmark = pytest.mark.adapters

SMALL = dict(n_samples=2 ** 13, n_times=16, curve_samples=512, n_curve_points=5)
PROC = cases.processes()["vp16"]


# --------------------------------------------------------------------------- numpy plumbing (no framework)
def test_fixed_batch_model_pads_to_one_shape_and_counts():
    seen = []

    def f(x, s):
        seen.append((x.shape, s.shape))
        return 2.0 * x + s[:, None]

    m = FixedBatchModel(f, 8)
    x = np.arange(22.0).reshape(11, 2)
    s = np.linspace(0, 1, 11)
    np.testing.assert_array_equal(m(x, s), 2.0 * x + s[:, None])
    assert seen == [((8, 2), (8,)), ((8, 2), (8,))]             # 11 rows: 8 + 3 padded to 8
    assert (m.stats.calls, m.stats.rows, m.stats.padded_rows) == (2, 11, 5)
    assert m.stats.output_dtypes == ["<f8"]
    m_nopad = FixedBatchModel(f, 8, pad=False)
    seen.clear()
    m_nopad(x, s)
    assert [a for a, _ in seen] == [(8, 2), (3, 2)]


def test_fixed_batch_model_memo_answers_identical_calls_only():
    calls = []

    def f(x, s):
        calls.append(1)
        return x * s[:, None]

    m = FixedBatchModel(f, 4, memo_bytes=10 ** 6)
    x, s = np.ones((6, 2)), np.full(6, 0.5)
    a = m(x, s)
    b = m(x.copy(), s.copy())
    c = m(x + 1e-16 + 1e-12, s)                                   # different bytes: computed
    assert len(calls) == 4 and m.stats.memo_calls == 1 and m.stats.memo_rows == 6
    np.testing.assert_array_equal(a, b)
    b[0, 0] = 99.0                                                # a copy: the memory is not changed
    np.testing.assert_array_equal(m(x, s), a)
    assert c[0, 0] != a[0, 0]
    e = FixedBatchModel(rm.exact_e(cases.gaussian_case(2), PROC), 4, memo_bytes=10 ** 6)
    e(x, s)
    assert len(e._memo) == 1 and pickle.loads(pickle.dumps(e))._memo == {}   # the memory is not pickled
    small = FixedBatchModel(f, 4, memo_bytes=8)                   # too small: nothing kept
    small(x, s)
    small(x, s)
    assert small.stats.memo_calls == 0


def test_fixed_batch_model_rejects_bad_outputs_and_arguments():
    with pytest.raises(ValueError, match=r"returned shape \(\) for a batch x of shape \(4, 2\)"):
        FixedBatchModel(lambda x, s: 1.0, 4)(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"returned shape \(2, 2\) for a batch x of shape \(4, 2\)"):
        FixedBatchModel(lambda x, s: x[:2], 4)(np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="batch_size"):
        FixedBatchModel(lambda x, s: x, 0)
    with pytest.raises(ValueError, match="callable"):
        FixedBatchModel(3, 4)
    with pytest.raises(ValueError, match=r"s must have shape \(3,\)"):
        FixedBatchModel(lambda x, s: x, 4)(np.ones((3, 2)), np.ones(4))


def test_missing_framework_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)              # import torch -> ImportError
    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(MissingFrameworkError, match=r"pip install 'nent_ref\[torch\]'"):
        from_torch(lambda x, s: x)
    with pytest.raises(MissingFrameworkError, match=r"pip install 'nent_ref\[jax\]'"):
        from_jax(lambda x, s: x)
    assert issubclass(MissingFrameworkError, ImportError)


def test_adapt_recognises_frameworks_without_importing_them():
    def f(x, s):
        return x
    assert adapt(f) is f
    e = rm.exact_e(cases.gaussian_case(1), PROC)
    assert adapt(e) is e and not adapters.is_torch_module(e) and not adapters.is_jax_function(e)

    class Module:                                                 # a look-alike is not torch's Module
        pass
    Module.__module__ = "mylib.nn"
    assert not adapters.is_torch_module(Module())


def test_validate_calls_any_model_with_one_batch_shape():
    """Issue 13: validate called the model with two batch sizes (256 and 2048: two JAX compiles)."""
    g = cases.gaussian_case(2)
    e = rm.exact_e(g, PROC)
    shapes = set()

    def model(x, s):
        shapes.add(x.shape)
        return e(x, s)

    rep = nr.validate(model, g, PROC, **SMALL)                    # levels of 128 rows, curves of 512
    assert shapes == {(128, 2)} and rep.settings["chunk_size"] == 128
    shapes.clear()
    rep = nr.validate(model, g, PROC, chunk_size=100, **SMALL)
    assert shapes == {(100, 2)} and rep.settings["model_calls"]["padded_rows"] > 0
    # the unit-weighted denoising runs repeat the main run's samples: answered from memory
    calls = rep.settings["model_calls"]
    assert calls["memo_calls"] == 2 * 64 and calls["rows"] == 2 ** 13 + 5 * 512


# --------------------------------------------------------------------------- PyTorch
def _train_torch(dim, steps=300, seed=0):
    """A 2-hidden-layer SiLU MLP e(x, s), trained by denoising entropy matching (unit weighting) on
    gaussian_case(dim) under VP16: a few seconds on one CPU thread."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(seed)

    class MLP(torch.nn.Module):
        def __init__(self, dim, width=32):
            super().__init__()
            self.l1 = torch.nn.Linear(dim + 1, width)
            self.l2 = torch.nn.Linear(width, width)
            self.l3 = torch.nn.Linear(width, dim)

        def forward(self, x, s):
            h = torch.nn.functional.silu(self.l1(torch.cat([x, s[:, None]], 1)))
            return self.l3(torch.nn.functional.silu(self.l2(h)))

    g = cases.gaussian_case(dim)
    net = MLP(dim)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    rng = np.random.default_rng(seed)
    try:
        for _ in range(steps):
            s = rng.uniform(0.0, 1.0, 256)
            x0 = g.sample(256, rng)
            z = rng.standard_normal(x0.shape)
            mu, v = PROC.mean_coeff(s)[:, None], PROC.marginal_var(s)[:, None]
            y = mu * x0 + np.sqrt(v) * z
            target = -z / np.sqrt(v) - PROC.grad_log_peq(y)        # E[target | y] = e*(y, s)
            w = torch.tensor(np.sqrt(v), dtype=torch.float32)
            loss = ((w * (net(torch.tensor(y, dtype=torch.float32), torch.tensor(s, dtype=torch.float32))
                          - torch.tensor(target, dtype=torch.float32))) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return net, g


@pytest.fixture(scope="module")
def torch_net():
    t0 = time.perf_counter()
    net, g = _train_torch(1)
    assert time.perf_counter() - t0 < 60
    return net, g


def _numpy_twin(layers):
    """The MLP of _train_torch in numpy float64 from its (W, b) pairs."""
    def silu(u):
        return u / (1.0 + np.exp(-u))

    def f(x, s):
        h = np.concatenate([x, s[:, None]], axis=1)
        for i, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if i < len(layers) - 1:
                h = silu(h)
        return h
    return f


def _torch_layers(net):
    return [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in (net.l1, net.l2, net.l3)]


def _assert_trained_report(rep):
    """L_EM clearly positive and every consistency check with the right sign."""
    assert rep.consistent, str(rep)
    assert rep.l_em.value > 5 * rep.l_em.stderr > 0
    assert rep.l_em.value < rep.s_tot.value                       # better than the zero model
    checks = {c.name: c for c in rep.checks}
    assert abs(checks["decomposition"].z) <= 5 and abs(checks["denoising"].z) <= 5
    assert checks["sqrt_bound"].margin.value > 0                  # a bound: L_EM above (sqrt S_tot - sqrt S_NN)^2
    assert rep.likelihood_bound.value > rep.l_em.value > 0
    assert np.all(np.asarray(rep.curves.lem_rate.value) > 0)


def test_torch_network_validates_in_one_call(torch_net):
    net, g = torch_net
    rep = nr.validate(net, g, PROC, **SMALL)                      # the module itself: adapted automatically
    _assert_trained_report(rep)
    info = rep.model_info
    assert info["framework"] == "torch" and info["dtype"] == "float32" and info["device"] == "cpu"
    assert info["conversions"] == ["inputs float64 -> float32", "outputs float32 -> float64"]
    text = str(rep)
    assert "adapter   torch" in text and "inputs float64 -> float32" in text and "outputs float32 -> float64" in text
    assert "evaluated in eval mode" in text and "torch.no_grad()" in text
    assert rep.verdict in ("passed", "quality-failed") and rep.exit_code in (0, 1)
    assert net.training                                           # its mode is restored


def test_torch_and_numpy_paths_give_the_same_numbers(torch_net):
    net, g = torch_net
    net64 = copy.deepcopy(net).double()
    twin = _numpy_twin(_torch_layers(net))
    rep_t = nr.validate(from_torch(net64), g, PROC, **SMALL)
    rep_n = nr.validate(twin, g, PROC, **SMALL)
    assert rep_t.model_info["conversions"] == [] and rep_t.model_info["dtype"] == "float64"
    for name in ("s_nn", "l_em", "cross", "s_tot_mc", "denoising_loss", "l_em_denoising"):
        a, b = getattr(rep_t, name), getattr(rep_n, name)
        assert a.value == pytest.approx(b.value, rel=1e-12, abs=1e-15), name
        assert a.stderr == pytest.approx(b.stderr, rel=1e-9, abs=1e-15), name
    np.testing.assert_allclose(rep_t.curves.lem_rate.value, rep_n.curves.lem_rate.value, rtol=1e-12)
    # the float32 module differs from the float64 one at the float32 rounding level only
    rep_32 = nr.validate(net, g, PROC, **SMALL)
    assert rep_32.l_em.value == pytest.approx(rep_n.l_em.value, rel=1e-4)


def test_torch_adapter_options_and_errors(torch_net):
    torch = pytest.importorskip("torch")
    net, g = torch_net
    with pytest.raises(ValueError, match="the module's parameters are torch.float32"):
        from_torch(net, dtype="float64")
    with pytest.raises(ValueError, match="parameters are on cpu"):
        from_torch(net, device="meta")
    with pytest.raises(ValueError, match="kind must be"):
        from_torch(net, kind="eps")
    with pytest.raises(ValueError, match="floating torch dtype"):
        from_torch(lambda x, s: x, dtype="int32")
    m = from_torch(net, batch_size=7)
    x = np.random.default_rng(0).standard_normal((10, 1))
    s = np.linspace(0.1, 0.9, 10)
    out = m(x, s)
    assert out.dtype == np.float64 and out.shape == (10, 1) and m.calls == 2
    with pytest.raises(ValueError, match="returned tuple"):
        from_torch(lambda x, s: (x,))(x, s)
    bf16 = from_torch(lambda x, s: x.to(torch.bfloat16))           # no numpy dtype: widened and recorded
    np.testing.assert_allclose(bf16(x, s), x, rtol=1e-2)
    assert bf16.conversions == ["inputs float64 -> float32", "outputs bfloat16 -> float64"]
    # a parameter-free function of tensors, and a dropout module in training mode (evaluated in eval mode)
    f = from_torch(lambda x, s: -x * s[:, None])
    assert f.dtype == str(torch.get_default_dtype()).replace("torch.", "")
    drop = torch.nn.Sequential(torch.nn.Dropout(0.5))
    wrapped = from_torch(lambda x, s, d=drop: d(x))
    assert "training mode" not in wrapped.summary()              # a plain function has no mode
    class Drop(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.d = torch.nn.Dropout(0.5)

        def forward(self, x, s):
            return self.d(x)
    d = Drop()
    a = from_torch(d)
    x32 = x.astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(a(x32, s), x32)                 # no dropout: eval mode
    assert d.training and "training mode" in a.summary()
    noisy = from_torch(d, eval_mode=False)
    assert not np.array_equal(noisy(np.ones((64, 1)), np.full(64, 0.5)), np.ones((64, 1)))


# --------------------------------------------------------------------------- issue 18: inputs are protected
def test_fixed_batch_model_wrapping_a_mutating_model_raises_model_error_naming_it():
    g = nr.Gaussian([0.5, -1.0], np.diag([0.4, 1.3]))
    proc = nr.VP(0.1, 16.0)
    exact = rm.exact_e(g, proc)

    def zeroes_input(x, s):
        out = exact(x, s)
        x[:] = 0.0
        return out
    wrapped = FixedBatchModel(zeroes_input, batch_size=16)
    with pytest.raises(nr.ModelError, match=r"the model zeroes_input .*wrote into its input"):
        nr.entropy_matching_loss(wrapped, data=g, process=proc, n_samples=256, n_times=2)


def test_fixed_batch_model_overflowing_output_is_a_model_error():
    g = nr.Gaussian([0.5, -1.0], np.diag([0.4, 1.3]))
    wrapped = FixedBatchModel(lambda x, s: np.full_like(x, 1e200), batch_size=16)
    with pytest.raises(nr.ModelError, match=r"1e\+200 at s = "):
        nr.neural_entropy(wrapped, data=g, process=nr.VP(0.1, 16.0), n_samples=256, n_times=2)


def test_torch_module_writing_into_its_input_leaves_nent_refs_arrays_alone():
    torch = pytest.importorskip("torch")

    class InPlace(torch.nn.Module):
        def forward(self, x, s):
            return x.mul_(0.0)                      # writes into the tensor it was given

    model = from_torch(InPlace(), dtype="float64")
    x = np.arange(8.0).reshape(4, 2)
    x.flags.writeable = False                       # what the estimators pass
    out = model(x, np.full(4, 0.5))
    assert np.array_equal(out, np.zeros((4, 2))) and np.array_equal(x, np.arange(8.0).reshape(4, 2))


class _ExactScoreTorch:
    """Source of a user module: the exact e* (and score) of gaussian_case(1) under VP16 as float64 torch
    modules, and a zero model (for the CLI)."""

    SOURCE = '''
import math
import torch
from nent_ref import cases

g = cases.gaussian_case(1)
M, C = float(g.mean[0]), float(g.cov[0, 0])


class Exact(torch.nn.Module):
    def __init__(self, score=False):
        super().__init__()
        self.score = score
        self.register_buffer("m", torch.tensor(M, dtype=torch.float64))

    def forward(self, x, s):
        B = 0.1 * s + 0.5 * (16.0 - 0.1) * s ** 2              # VP 0.1 -> 16, kappa = 1
        mu2 = torch.exp(-B)
        mu = torch.sqrt(mu2)
        sc = -(x - mu[:, None] * self.m) / (mu2 * C + 1.0 - mu2)[:, None]
        return sc if self.score else sc + x


class Zero(torch.nn.Module):
    def forward(self, x, s):
        return torch.zeros_like(x)


class Broken(torch.nn.Module):
    def forward(self, x, s):
        raise RuntimeError("CUDA error: device-side assert triggered")


exact = Exact()
exact_score = Exact(score=True)
zero = Zero()
broken = Broken()
'''


@pytest.fixture
def torch_usermod(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    name = f"nent_adapter_user_{abs(hash(str(tmp_path))) % 10 ** 8}"
    (tmp_path / f"{name}.py").write_text(_ExactScoreTorch.SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_torch_score_kind_and_exact_modules(torch_usermod):
    import importlib
    mod = importlib.import_module(torch_usermod)
    g = cases.gaussian_case(1)
    rep = nr.validate(mod.exact, g, PROC, curves=False, n_samples=2 ** 12, n_times=16)
    assert rep.passed and rep.l_em.value == pytest.approx(0.0, abs=1e-20)
    assert rep.model_info["dtype"] == "float64" and rep.model_info["conversions"] == []
    sc = from_torch(mod.exact_score, kind="score")
    rep = nr.validate(sc, g, PROC, curves=False, n_samples=2 ** 12, n_times=16)     # score=True from the kind
    assert rep.passed and rep.settings["score_model"] and rep.l_em.value < 1e-20
    with pytest.raises(ValueError, match="contradicts the adapter"):
        nr.validate(sc, g, PROC, score=False, curves=False, n_samples=2 ** 12, n_times=16)
    x, s = np.linspace(-1, 1, 10)[:, None], np.linspace(0.1, 0.9, 10)
    clone = pickle.loads(pickle.dumps(sc))                        # picklable (for --workers)
    np.testing.assert_array_equal(clone(x, s), sc(x, s))
    np.testing.assert_allclose(sc(x, s), rm.exact_e(g, PROC)(x, s) + PROC.grad_log_peq(x), rtol=1e-12)


def test_cli_validates_a_torch_module(torch_usermod, capsys):
    fast = ["--data", "gaussian-1d", "--process", "vp", "--n-samples", "4096", "--no-curves"]
    code = cli.main(["validate", f"{torch_usermod}:exact", *fast])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "adapter   torch" in out.out and "overall: PASSED" in out.out
    code = cli.main(["validate", f"{torch_usermod}:zero", *fast])
    out = capsys.readouterr()
    assert code == cli.EXIT_QUALITY_FAILED == 1 and "overall: FAILED (quality)" in out.out
    code = cli.main(["validate", f"{torch_usermod}:broken", *fast])
    out = capsys.readouterr()
    assert code == cli.EXIT_MODEL_RAISED and "RuntimeError: CUDA error" in out.err and "Traceback" not in out.err


# --------------------------------------------------------------------------- JAX
def _jax_apply(params, x, s):
    """The MLP of _train_torch in JAX: params = [(W, b), ...] (module level, so a JaxModel pickles)."""
    import jax
    h = jax.numpy.concatenate([x, s[:, None]], axis=1)
    for i, (W, b) in enumerate(params):
        h = h @ W.T + b
        if i < len(params) - 1:
            h = jax.nn.silu(h)
    return h


def _jax_init(key, dim, width=32):
    import jax
    sizes = [dim + 1, width, width, dim]
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        key, k1 = jax.random.split(key)
        params.append((jax.random.normal(k1, (n_out, n_in)) / np.sqrt(n_in), jax.numpy.zeros(n_out)))
    return params


@pytest.fixture(scope="module")
def jax_net():
    """A JAX MLP e(x, s) on gaussian_case(2), trained by denoising entropy matching with a hand-written Adam
    (float32, one jit-compiled step): a few seconds."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    dim = 2
    apply = _jax_apply
    g = cases.gaussian_case(dim)
    params = _jax_init(jax.random.PRNGKey(0), dim)

    def loss(p, y, s, target, w):
        return jnp.mean(jnp.sum((w * (apply(p, y, s) - target)) ** 2, axis=1))

    @jax.jit
    def step(p, m, v, t, y, s, target, w):
        grads = jax.grad(loss)(p, y, s, target, w)
        m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, grads)
        v = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, v, grads)
        p = jax.tree_util.tree_map(lambda q, a, b: q - 1e-2 * (a / (1 - 0.9 ** t)) / (jnp.sqrt(b / (1 - 0.999 ** t))
                                                                                        + 1e-8), p, m, v)
        return p, m, v

    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    for t in range(1, 301):
        s = rng.uniform(0.0, 1.0, 256)
        x0 = g.sample(256, rng)
        z = rng.standard_normal(x0.shape)
        mu, var = PROC.mean_coeff(s)[:, None], PROC.marginal_var(s)[:, None]
        y = mu * x0 + np.sqrt(var) * z
        target = -z / np.sqrt(var) - PROC.grad_log_peq(y)
        f32 = np.float32
        params, m, v = step(params, m, v, float(t), y.astype(f32), s.astype(f32), target.astype(f32),
                            np.sqrt(var).astype(f32))
    assert time.perf_counter() - t0 < 60
    return apply, params, g


def test_jax_network_validates_with_one_compile(jax_net):
    apply, params, g = jax_net
    model = from_jax(apply, params)
    rep = nr.validate(model, g, PROC, **SMALL)
    _assert_trained_report(rep)
    assert model.traces == 1 and rep.model_info["compiles"] == 1           # one batch shape, one compile
    assert rep.settings["chunk_size"] == model.batch_size == 256
    assert rep.model_info["framework"] == "jax" and rep.model_info["dtype"] == "float32"
    assert "inputs float64 -> float32 (jax_enable_x64 is off)" in str(rep)
    assert "outputs float32 -> float64" in str(rep)


def test_jax_float64_and_numpy_paths_give_the_same_numbers(jax_net):
    jax = pytest.importorskip("jax")
    apply, params, g = jax_net
    layers = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in params]
    rep_n = nr.validate(_numpy_twin(layers), g, PROC, **SMALL)
    with jax.enable_x64(True):
        p64 = [(jax.numpy.asarray(W), jax.numpy.asarray(b)) for W, b in layers]
        model = from_jax(apply, p64, batch_size=128)
        rep_j = nr.validate(model, g, PROC, **SMALL)
    assert model.traces == 1 and rep_j.model_info["dtype"] == "float64" and rep_j.model_info["conversions"] == []
    for name in ("s_nn", "l_em", "cross", "denoising_loss", "l_em_denoising"):
        a, b = getattr(rep_j, name), getattr(rep_n, name)
        assert a.value == pytest.approx(b.value, rel=1e-12), name
        assert a.stderr == pytest.approx(b.stderr, rel=1e-9), name


def test_jax_jitted_function_is_adapted_and_errors(jax_net):
    jax = pytest.importorskip("jax")
    apply, params, g = jax_net
    jitted = jax.jit(lambda x, s: apply(params, x, s))
    rep = nr.validate(jitted, g, PROC, **SMALL)                   # recognised without from_jax
    assert rep.model_info["framework"] == "jax" and rep.model_info["compiles"] == 1
    assert rep.l_em.value > 0
    with pytest.raises(ValueError, match="jax_enable_x64"):
        from_jax(apply, params, dtype="float64")
    with pytest.raises(ValueError, match="floating dtype"):
        from_jax(apply, params, dtype="int8")
    model = from_jax(apply, params, batch_size=16)
    x = np.random.default_rng(0).standard_normal((20, 2))
    out = model(x, np.full(20, 0.3))
    assert out.shape == (20, 2) and out.dtype == np.float64 and model.traces == 1 and model.calls == 2
    clone = pickle.loads(pickle.dumps(model))                     # recompiled on first use
    np.testing.assert_array_equal(clone(x, np.full(20, 0.3)), out)
    bf16 = from_jax(lambda x, s: x.astype(jax.numpy.bfloat16), batch_size=8)
    np.testing.assert_allclose(bf16(x, np.full(20, 0.3)), x, rtol=1e-2)
    assert bf16.conversions == ["inputs float64 -> float32 (jax_enable_x64 is off)", "outputs bfloat16 -> float64"]
