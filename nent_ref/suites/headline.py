r"""The paper's headline measurement, reproduced with ground truth beside it: neural entropy against
training-set size on scikit-learn's 8x8 digits (issue 20; docs/headline.md).

Experiment
----------
* **Data.** ``sklearn.datasets.load_digits`` (1,797 images of 8 x 8 pixels with values 0..16, shipped
  with scikit-learn, no download), scaled to [-1, 1] by ``x / 16 * 2 - 1``: D = 64.  A fixed permutation
  (drawn once by ``numpy.random.default_rng(SeedSequence(PERMUTATION_SEED)).permutation(1797)`` and
  stored as data in the manifest with its SHA-256, so that another numpy cannot change it) orders the images; the training set of size N is
  its first N images (nested subsets, N in :data:`SIZES`), each with its SHA-256 (float64, C order) in
  its spec.  The held-out set is the last :data:`HELD_OUT` = 256 images of the permutation, disjoint
  from every training set with N <= 1541 (all but N = 1797, whose held-out columns are null).
* **Models.** :class:`ScoreMLP` (built by :func:`score_mlp`): a noise predictor
  :math:`\hat\epsilon(x, s)`, an MLP on ``[x, emb(s)]`` (two hidden SiLU layers of 128 units; ``emb``:
  the normalised log-time :math:`u = \log(s/s_0)/\log(s_1/s_0)` and :math:`\sin(\pi k u), \cos(\pi k u)`,
  k = 1..16), returning the deviation from equilibrium :math:`e = x - \hat\epsilon/\sqrt{v(s)}` under
  VP(0.1, 16) (``kappa = 1``, :math:`\nabla\log p_{eq} = -x`).  Trained in float32 with Adam (cosine
  learning-rate decay) on the denoising loss :math:`\mathbb E\|\hat\epsilon(\mu x_0 + \sqrt v z, s) - z\|^2`
  with ``s`` drawn from the estimators' default time density on :math:`[s_0, s_1]` (half uniform, half
  log-uniform); on that density the likelihood weight :math:`(D/v)/q(s)` varies by less than a factor
  1.6, so the loss is close to the likelihood-weighted loss that :math:`L_{EM}` measures.  A fixed budget
  of :data:`TRAIN_CONFIG` steps and seeds per N; weights are rounded to float16 when saved, and every
  measurement is of the rounded model (what is shipped is what is measured).
* **Measurements** per N and seed, on the window :math:`[s_0, s_1] = [10^{-5}, 1]` (the paper's cutoff,
  :data:`nent_ref.core.data.DEFAULT_CUTOFF`), likelihood weighting, nats:
  ``s_nn`` (the model's :math:`S_{NN}` over the diffused training set, with stderr), ``l_em`` (its
  :math:`L_{EM}` against the memoriser's exact score, i.e. the exact target of its training loss) and
  ``cross`` from one run of :func:`nent_ref.quantities.neural.decompose` with
  ``Empirical`` data; ``s_tot_memoriser`` (exact :math:`S_{tot}` of the training set, Monte Carlo with
  common random numbers to a stated stderr); ``s_tot_gaussian_fit`` (closed form for the Gaussian with
  the training set's mean and covariance; directions with eigenvalue below ``1e-10 lambda_max`` are
  treated as exact zeros, and the error bound covers that); ``loss_train`` and ``loss_held_out`` (the
  likelihood-weighted denoising loss on the training set and on the held-out images, same design and
  seed) and their difference ``generalisation_gap``.
* **Result.** :func:`fit_log_slope`: ``S_NN = a + b log N`` by weighted least squares over the per-N
  means (weights from the seed scatter), with the slope's standard error inflated by
  :math:`\sqrt{\max(1, \chi^2/\nu)}`, and a second estimate from the seed replicates (one slope per seed,
  their mean and its standard error).  :func:`reproduce` writes ``headline.json``, ``headline.csv`` and
  the figure ``headline.png``/``.pdf`` (with ``headline_fit.json``).

Shipped reference
-----------------
``nent_ref/reference/headline/``: ``manifest.json`` (data and permutation SHA-256s, subset hashes,
training configuration, the versions of torch, numpy and nent_ref that trained the weights, and the
SHA-256 of every weight file), ``weights/N{N}_seed{k}.npz`` (float16 arrays, no pickle) and
``results.json`` (the table of the full run).  :func:`reproduce` reuses weights found in
``OUT/weights`` or the shipped ones (unless ``retrain``), and checks their hashes.

PyTorch and scikit-learn are optional (``pip install 'nent_ref[headline]'``).
"""
from __future__ import annotations

import hashlib
import json
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..core.checks import count
from ..core.data import DEFAULT_CUTOFF
from ..core.estimate import NAT, Estimate
from ..core.mixture import Empirical
from ..core.processes import VP
from ..quantities.entropy import gaussian_kl_eq, total_entropy
from ..quantities.neural import decompose, entropy_matching_loss

__all__ = ["SIZES", "SEEDS", "QUICK_SIZES", "QUICK_SEEDS", "HELD_OUT", "PERMUTATION_SEED", "TRAIN_CONFIG",
           "MEASURE_CONFIG", "QUICK_MEASURE_CONFIG", "PROCESS", "REFERENCE_DIR", "HeadlineError",
           "load_digits_scaled", "permutation", "training_set", "held_out_set", "array_sha256", "score_mlp",
           "train", "save_weights", "load_weights", "gaussian_fit_total_entropy", "measure", "fit_log_slope", "fits",
           "LARGE_N", "plot",
           "reproduce", "progress_bar", "ship_reference", "shipped_results", "companion", "COMPANION",
           "QUICK_COMPANION"]

#: Training-set sizes of the full run (nested subsets of one permutation).
SIZES = (16, 32, 64, 128, 256, 512, 1024, 1797)
#: Training seeds per size.
SEEDS = (0, 1, 2)
#: ``--quick``: fewer sizes, one seed, fewer samples (measurement of shipped weights only).
QUICK_SIZES = (16, 256, 1797)
QUICK_SEEDS = (0,)
#: Images at the end of the permutation used as the held-out set (disjoint from N <= 1541).
HELD_OUT = 256
#: Root of the permutation of the 1797 images.
PERMUTATION_SEED = 20240903
#: The paper's process: VP with beta 0.1 -> 16 (kappa = 1).
PROCESS = VP(beta_min=0.1, beta_max=16.0)
#: Window of every measurement (and of training): [s0, s1] = [1e-5, 1].
S0, S1 = DEFAULT_CUTOFF, 1.0

#: Network and optimiser of every model (recorded in the manifest with each weight file).
TRAIN_CONFIG = {"hidden": 128, "hidden_layers": 2, "n_frequencies": 16, "activation": "SiLU",
                "steps": 2500, "batch_size": 256, "learning_rate": 2e-3, "schedule": "cosine to 0",
                "optimizer": "Adam", "dtype": "float32", "stored_dtype": "float16", "torch_threads": 1,
                "time_density": "1/2 uniform + 1/2 log-uniform on [s0, s1]", "loss": "mean |eps_hat - z|^2",
                "s0": S0, "s1": S1, "process": "VP(beta_min=0.1, beta_max=16, kappa=1)"}
#: Monte Carlo design of the full measurement.
MEASURE_CONFIG = {"n_samples": 2 ** 13, "n_times": 32, "memoriser_atol": 0.01, "seed": 7}
#: ``--quick``: a smaller design (its stderrs are larger and say so).
QUICK_MEASURE_CONFIG = {"n_samples": 2 ** 12, "n_times": 16, "memoriser_atol": 0.05, "seed": 7}
#: Relative eigenvalue threshold below which a direction of the Gaussian fit counts as degenerate.
GAUSSIAN_FIT_EIG_RTOL = 1e-10

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference" / "headline"


class HeadlineError(ValueError):
    """A problem with the headline experiment's inputs: missing extras, data or weights that do not
    match their recorded hashes, bad options."""


# --------------------------------------------------------------------------- progress
def progress_bar(total: int, desc: str, quiet: bool = False):
    """A tqdm progress bar on stderr; silent under ``quiet`` or when stderr is not a terminal."""
    disable = bool(quiet) or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    try:
        from tqdm.auto import tqdm
    except ImportError:                                  # tqdm is part of the headline extra
        return _NoBar()
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=disable, leave=False, dynamic_ncols=True)


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, text):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------- data
def _require(module: str, what: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise HeadlineError(f"{what} needs {module!r} ({exc}); install the optional extra: "
                            "pip install 'nent_ref[headline]'") from None


def array_sha256(a) -> str:
    """SHA-256 of an array's float64 little-endian C-order bytes (with its shape)."""
    a = np.ascontiguousarray(np.asarray(a, dtype="<f8"))
    h = hashlib.sha256()
    h.update(repr(a.shape).encode())
    h.update(a.tobytes())
    return h.hexdigest()


def load_digits_scaled() -> np.ndarray:
    """The 1797 x 64 digits of scikit-learn scaled to [-1, 1] by ``x / 16 * 2 - 1`` (float64)."""
    datasets = _require("sklearn.datasets", "the headline experiment (the digits data)")
    raw = np.asarray(datasets.load_digits().data, dtype=np.float64)
    if raw.shape != (1797, 64) or raw.min() < 0 or raw.max() > 16:
        raise HeadlineError(f"sklearn's load_digits returned data of shape {raw.shape} and range "
                            f"[{raw.min()}, {raw.max()}]; expected 1797 x 64 in 0..16")
    return raw / 16.0 * 2.0 - 1.0


def permutation() -> np.ndarray:
    """The fixed order of the images: the permutation stored in the shipped manifest (checked against its
    SHA-256), else ``default_rng(SeedSequence(PERMUTATION_SEED)).permutation(1797)`` (which drew it)."""
    shipped = _manifest()
    if shipped is not None and "permutation" in shipped:
        perm = np.asarray(shipped["permutation"], dtype=np.int64)
        if array_sha256(perm) != shipped["permutation_sha256"] or sorted(perm.tolist()) != list(range(1797)):
            raise HeadlineError("the permutation in the shipped manifest does not match its SHA-256 (or is not a "
                                "permutation of 0..1796): the reference files are damaged")
        return perm
    return np.random.default_rng(np.random.SeedSequence(PERMUTATION_SEED)).permutation(1797)


def _check_n(n) -> int:
    n = count("n", n, 2)
    if n > 1797:
        raise HeadlineError(f"n must be at most 1797, the number of digits images (got {n})")
    return n


def training_set(x: np.ndarray, perm: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` images of the permutation."""
    return x[perm[:_check_n(n)]]


def held_out_set(x: np.ndarray, perm: np.ndarray, n: int) -> np.ndarray | None:
    """The last :data:`HELD_OUT` images of the permutation, or None when they overlap the training set."""
    n = _check_n(n)
    if n > len(perm) - HELD_OUT:
        return None
    return x[perm[len(perm) - HELD_OUT:]]


# --------------------------------------------------------------------------- the network
def score_mlp(config: dict | None = None):
    """A fresh :class:`ScoreMLP` (torch module) with the architecture of ``config`` (default TRAIN_CONFIG)."""
    torch = _require("torch", "the headline experiment (the score networks)")
    cfg = dict(TRAIN_CONFIG, **(config or {}))
    nn = torch.nn

    class ScoreMLP(nn.Module):
        """Noise predictor eps_hat(x, s); ``forward(x, s)`` returns e = x - eps_hat / sqrt(v(s)) (VP, kappa 1)."""

        def __init__(self):
            super().__init__()
            k = cfg["n_frequencies"]
            self.register_buffer("freqs", math.pi * torch.arange(1, k + 1, dtype=torch.float32))
            width = cfg["hidden"]
            layers, d_in = [], 64 + 2 * k + 1
            for _ in range(cfg["hidden_layers"]):
                layers += [nn.Linear(d_in, width), nn.SiLU()]
                d_in = width
            layers.append(nn.Linear(d_in, 64))
            self.net = nn.Sequential(*layers)
            self.log_s0, self.log_span = math.log(cfg["s0"]), math.log(cfg["s1"] / cfg["s0"])
            self.beta_min, self.beta_max = PROCESS.schedule.beta_min, PROCESS.schedule.beta_max

        def embed(self, s):
            u = ((torch.log(s) - self.log_s0) / self.log_span)[:, None]
            return torch.cat([u, torch.sin(u * self.freqs), torch.cos(u * self.freqs)], dim=1)

        def sqrt_v(self, s):
            B = self.beta_min * s + 0.5 * (self.beta_max - self.beta_min) * s * s
            return torch.sqrt(-torch.expm1(-B))

        def eps(self, x, s):
            return self.net(torch.cat([x, self.embed(s)], dim=1))

        def forward(self, x, s):
            return x - self.eps(x, s) / self.sqrt_v(s)[:, None]

    return ScoreMLP()


def _sample_times(torch, n, gen):
    """s from q = 1/2 uniform + 1/2 log-uniform on [S0, S1] (the estimators' default time density)."""
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    pick = torch.rand(n, generator=gen) < 0.5
    s_lin = S0 + (S1 - S0) * u
    s_log = S0 * torch.exp(u * math.log(S1 / S0))
    return torch.where(pick, s_lin, s_log)


def train(points: np.ndarray, seed: int, config: dict | None = None, *, progress=None):
    """Train a :class:`ScoreMLP` on ``points`` (N, 64) for ``config["steps"]`` steps; deterministic given
    ``seed`` and N on one machine (float32 training differs in the last bits across CPUs).

    Returns ``(module, info)``; ``info`` has the final loss (mean of the last 200 steps) and the CPU time.
    """
    torch = _require("torch", "training the headline models")
    cfg = dict(TRAIN_CONFIG, **(config or {}))
    pts = np.asarray(points, dtype=np.float64)
    n = pts.shape[0]
    ss = np.random.SeedSequence([PERMUTATION_SEED, n, int(seed)])
    torch_seed = int(ss.generate_state(1, dtype=np.uint64)[0] % (2 ** 63))
    threads = torch.get_num_threads()
    torch.set_num_threads(int(cfg["torch_threads"]))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        torch.manual_seed(torch_seed)
        gen = torch.Generator().manual_seed(torch_seed)
        model = score_mlp(cfg)
        model.train()
        data = torch.as_tensor(pts, dtype=torch.float32)
        opt = torch.optim.Adam(model.parameters(), lr=cfg["learning_rate"])
        steps, batch = int(cfg["steps"]), int(cfg["batch_size"])
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1.0 + math.cos(math.pi * k / steps)))
        tail = []
        for step in range(steps):
            idx = torch.randint(0, n, (batch,), generator=gen)
            s = _sample_times(torch, batch, gen)
            B = PROCESS.schedule.beta_min * s + 0.5 * (PROCESS.schedule.beta_max - PROCESS.schedule.beta_min) * s * s
            mu = torch.exp(-0.5 * B)
            sv = torch.sqrt(-torch.expm1(-B))
            z = torch.randn(batch, 64, generator=gen, dtype=torch.float64)
            y = (mu[:, None] * data[idx].double() + sv[:, None] * z).float()
            loss = ((model.eps(y, s.float()) - z.float()) ** 2).sum(dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step >= steps - 200:
                tail.append(float(loss.detach()))
            if progress is not None:
                progress.update(1)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    _round_to_stored(model)
    info = {"final_loss": float(np.mean(tail)) if tail else None, "cpu_seconds": time.process_time() - cpu0,
            "wall_seconds": time.perf_counter() - wall0, "torch_seed": torch_seed}
    return model, info


def _round_to_stored(model):
    """Round the parameters to float16 and back (the shipped model is the rounded one)."""
    import torch
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.float16).to(torch.float32))


def save_weights(model, path: Path) -> str:
    """Write the parameters as float16 arrays in an ``.npz`` (no pickle); returns its SHA-256."""
    arrays = {name: p.detach().cpu().numpy().astype(np.float16) for name, p in model.named_parameters()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return _file_sha256(path)


def load_weights(path: Path, config: dict | None = None, sha256: str | None = None):
    """A :class:`ScoreMLP` with the parameters of ``path`` (checked against ``sha256`` when given)."""
    torch = _require("torch", "the headline experiment (the score networks)")
    path = Path(path)
    if sha256 is not None and _file_sha256(path) != sha256:
        raise HeadlineError(f"the weight file {path} does not match its recorded SHA-256 {sha256[:12]}...; "
                            "rerun with --retrain or restore the file")
    model = score_mlp(config)
    with np.load(path, allow_pickle=False) as f:
        state = {name: torch.as_tensor(f[name].astype(np.float32)) for name in f.files}
    missing = set(dict(model.named_parameters())) - set(state)
    if missing:
        raise HeadlineError(f"the weight file {path} lacks the parameters {sorted(missing)}")
    model.load_state_dict({**model.state_dict(), **state})
    model.eval()
    return model


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- ground truth
def gaussian_fit_total_entropy(points: np.ndarray, process=PROCESS, s0: float = S0, s1: float = S1) -> Estimate:
    r"""Exact :math:`S_{tot}(s_0, s_1)` of the Gaussian with the mean and (maximum-likelihood) covariance of
    ``points`` (closed form, :func:`nent_ref.quantities.entropy.gaussian_kl_eq`).

    The covariance of images is singular (pixels that never vary, N < 65); directions with eigenvalue
    below ``GAUSSIAN_FIT_EIG_RTOL * lambda_max`` are exact zeros (a Gaussian on an affine subspace, finite
    for s0 > 0).  A change delta of one eigenvalue changes the KL at time s by at most
    :math:`\tfrac12\mu^2|\delta|(1/k^2 + 1/v(s))`, so the error bound is
    :math:`\sum_i |\delta_i| (1/k^2 + 1/v(s_0))` with :math:`\delta_i` the dropped eigenvalues plus
    :math:`64\epsilon\lambda_{max}` per direction (eigensolver), plus a relative rounding of 1e-13.
    """
    pts = np.asarray(points, dtype=np.float64)
    mean = pts.mean(axis=0)
    cov = np.cov(pts.T, bias=True)
    lam = np.linalg.eigvalsh(0.5 * (cov + cov.T))
    lmax = float(lam.max())
    small = lam < GAUSSIAN_FIT_EIG_RTOL * lmax
    dropped = np.where(small, np.abs(lam), 0.0)
    lam = np.where(small, 0.0, lam)
    m2 = float(mean @ mean)
    value = float(gaussian_kl_eq(m2, lam, process, s0) - gaussian_kl_eq(m2, lam, process, s1))
    k2, v0 = process.peq_var, float(process.marginal_var(s0))
    delta = float(np.sum(dropped)) + lam.size * 64 * np.finfo(float).eps * lmax
    bound = delta * (1.0 / k2 + 1.0 / v0) + 1e-13 * abs(value)
    return Estimate(value, 0.0, "closed-form", bound, unit=NAT,
                    extra={"rank": int(np.sum(~small)), "eig_rtol": GAUSSIAN_FIT_EIG_RTOL})


# --------------------------------------------------------------------------- measurement
def _est(e: Estimate | None, prefix: str) -> dict:
    if e is None:
        return {prefix: None, prefix + "_stderr": None, prefix + "_error_bound": None}
    return {prefix: float(e.value), prefix + "_stderr": float(e.stderr), prefix + "_error_bound": float(e.error_bound)}


def measure(model, train_pts: np.ndarray, held_out: np.ndarray | None, *, design: dict, memoriser=None,
            gaussian_fit=None) -> dict:
    """All per-model measurements (nats) of one trained model; ``memoriser`` / ``gaussian_fit`` may pass
    precomputed S_tot Estimates of the training set."""
    from ..quantities.adapters import from_torch
    e = from_torch(model, kind="e", batch_size=256)
    emp = Empirical(train_pts)
    if memoriser is None:
        memoriser = total_entropy(emp, PROCESS, S0, S1, atol=design["memoriser_atol"], rtol=0.0,
                                  seed=design["seed"])
    if gaussian_fit is None:
        gaussian_fit = gaussian_fit_total_entropy(train_pts)
    opts = dict(n_samples=design["n_samples"], n_times=design["n_times"], seed=design["seed"])
    dec = decompose(e, emp, PROCESS, S0, S1, s_tot=memoriser, **opts)
    row = {}
    row.update(_est(dec.s_nn, "s_nn"))
    row.update(_est(dec.l_em, "l_em"))
    row.update(_est(dec.cross, "cross"))
    row.update(_est(memoriser, "s_tot_memoriser"))
    row.update(_est(gaussian_fit, "s_tot_gaussian_fit"))
    row["gaussian_fit_rank"] = gaussian_fit.extra.get("rank")
    row.update(_est(dec.residual, "identity_residual"))
    row.update(_est(dec.denoising_loss, "loss_train"))
    if held_out is not None:
        ho = entropy_matching_loss(e, held_out, PROCESS, S0, S1, form="denoising", weighting="likelihood", **opts)
        row.update(_est(ho, "loss_held_out"))
        gap = ho.value - dec.denoising_loss.value
        row["generalisation_gap"] = float(gap)
        row["generalisation_gap_stderr"] = float(math.hypot(ho.stderr, dec.denoising_loss.stderr))
        row["held_out_note"] = None
    else:
        row.update(_est(None, "loss_held_out"))
        row["generalisation_gap"] = row["generalisation_gap_stderr"] = None
        row["held_out_note"] = "no held-out images: the training set is the whole data set"
    row["adapter"] = e.summary()
    return row


# --------------------------------------------------------------------------- slope in log N
def fit_log_slope(rows: list[dict], column: str = "s_nn", min_n: int = 0) -> dict:
    r"""Fit ``column = a + b ln N`` over the sizes ``N >= min_n`` (natural log; b in nats per e-fold of N).

    Primary: weighted least squares over the per-N means of the seeds.  The standard error of a mean is
    :math:`\sqrt{\sigma_{seed}^2/k + \overline{se_{MC}^2}}`: the seed scatter of the k seeds plus the Monte
    Carlo stderr in full, not divided by k, because every seed is measured with the same Monte Carlo seed
    (common random numbers: the Monte Carlo noise is shared by the seeds and the scatter does not see it).
    The slope's stderr from :math:`(X^T W X)^{-1}` is multiplied by :math:`\sqrt{\max(1, \chi^2/
u)}`
    when the straight line does not fit within the errors (then the curve is not a line in ln N and the
    slope is only a summary).  Check: one unweighted slope per seed (independent training replicates),
    their mean and the standard error of their scatter (which does not include the shared Monte Carlo
    noise or the misfit of the line).
    """
    by_n: dict[int, list[dict]] = {}
    for r in rows:
        if r.get(column) is not None and int(r["n_train"]) >= min_n:
            by_n.setdefault(int(r["n_train"]), []).append(r)
    ns = sorted(by_n)
    if len(ns) < 3:
        raise HeadlineError(f"a slope in log N needs at least 3 sizes with {column!r} (got {len(ns)})")
    means, ses, n_seeds = [], [], []
    for n in ns:
        vals = np.array([r[column] for r in by_n[n]], dtype=float)
        mc = np.array([r.get(column + "_stderr") or 0.0 for r in by_n[n]], dtype=float)
        k = len(vals)
        scatter2 = float(np.var(vals, ddof=1) / k) if k > 1 else 0.0
        means.append(float(vals.mean()))
        ses.append(max(math.sqrt(scatter2 + float(np.mean(mc ** 2))), 1e-12))
        n_seeds.append(k)
    x = np.log(np.array(ns, dtype=float))
    y, se = np.array(means), np.array(ses)
    X = np.column_stack([np.ones_like(x), x])
    W = 1.0 / se ** 2
    cov = np.linalg.inv(X.T @ (X * W[:, None]))
    coef = cov @ (X.T @ (W * y))
    resid = y - X @ coef
    dof = len(ns) - 2
    chi2 = float(np.sum(W * resid ** 2))
    inflate = math.sqrt(max(1.0, chi2 / dof)) if dof > 0 else 1.0
    out = {"column": column, "model": f"{column} = a + b ln N", "unit": "nat per e-fold of N", "min_n": min_n,
           "sizes": ns, "means": means, "stderrs": ses, "n_seeds": n_seeds,
           "slope": float(coef[1]), "slope_stderr": float(math.sqrt(cov[1, 1]) * inflate),
           "intercept": float(coef[0]), "intercept_stderr": float(math.sqrt(cov[0, 0]) * inflate),
           "chi2": chi2, "dof": dof, "stderr_inflation": inflate}
    seeds = sorted({r["seed"] for r in rows if r.get(column) is not None})
    per_seed = []
    for sd in seeds:
        pts = [(math.log(r["n_train"]), r[column]) for r in rows
               if r["seed"] == sd and r.get(column) is not None and int(r["n_train"]) >= min_n]
        if len(pts) >= 3:
            a = np.array(pts)
            per_seed.append(float(np.polyfit(a[:, 0], a[:, 1], 1)[0]))
    if len(per_seed) >= 2:
        out["slope_per_seed"] = per_seed
        out["slope_seed_mean"] = float(np.mean(per_seed))
        out["slope_seed_stderr"] = float(np.std(per_seed, ddof=1) / math.sqrt(len(per_seed)))
    return out


#: Smallest N of the large-N slope (the range where the held-out gap has closed in the full run).
LARGE_N = 256


def fits(rows: list[dict]) -> dict:
    """The slopes reported by :func:`reproduce`: S_NN over all sizes and over N >= LARGE_N (when at least
    3 sizes are there), and the memoriser's and the Gaussian fit's S_tot over all sizes."""
    out = {"s_nn": fit_log_slope(rows, "s_nn"), "s_tot_memoriser": fit_log_slope(rows, "s_tot_memoriser"),
           "s_tot_gaussian_fit": fit_log_slope(rows, "s_tot_gaussian_fit")}
    if len({r["n_train"] for r in rows if r["n_train"] >= LARGE_N}) >= 3:
        out["s_nn_large_n"] = fit_log_slope(rows, "s_nn", min_n=LARGE_N)
    return out


# --------------------------------------------------------------------------- the whole run
@dataclass
class _Plan:
    sizes: tuple
    seeds: tuple
    design: dict
    quick: bool
    retrain: bool
    out: Path
    quiet: bool
    timings: dict = field(default_factory=dict)


def _manifest() -> dict | None:
    path = REFERENCE_DIR / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def _spec(n, seed, subset_sha, held_out_sha, design, quick):
    return {"experiment": "headline", "data": "sklearn.datasets.load_digits, x / 16 * 2 - 1", "dim": 64,
            "n_train": n, "subset": f"first {n} of permutation(SeedSequence({PERMUTATION_SEED}))",
            "subset_sha256": subset_sha, "held_out": f"last {HELD_OUT} of the permutation" if held_out_sha else None,
            "held_out_sha256": held_out_sha, "process": "VP(beta_min=0.1, beta_max=16, kappa=1)",
            "s0": S0, "s1": S1, "weighting": "likelihood", "unit": NAT, "train_seed": seed,
            "n_samples": design["n_samples"], "n_times": design["n_times"], "mc_seed": design["seed"],
            "memoriser_atol": design["memoriser_atol"], "design": "quick" if quick else "full"}


def reproduce(out, *, quick: bool = False, retrain: bool = False, quiet: bool = False,
              sizes=None, seeds=None, design: dict | None = None, train_config: dict | None = None) -> dict:
    """Run the headline experiment and write its table and figure into ``out``.

    Weights: ``out/weights/N{N}_seed{k}.npz`` if present (and its hash matches the entry of
    ``out/weights/manifest.json``), else the shipped ones, else trained (always trained with ``retrain``).
    Returns ``{"rows", "fit", "paths", "timings"}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = _Plan(tuple(sizes or (QUICK_SIZES if quick else SIZES)), tuple(seeds or (QUICK_SEEDS if quick else SEEDS)),
                 dict(design or (QUICK_MEASURE_CONFIG if quick else MEASURE_CONFIG)), quick, retrain, out, quiet)
    for n in plan.sizes:
        _check_n(n)
    cfg = dict(TRAIN_CONFIG, **(train_config or {}))
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    x = load_digits_scaled()
    perm = permutation()
    shipped = _manifest()
    if shipped is not None:
        if shipped["data_sha256"] != array_sha256(x):
            raise HeadlineError("the scaled digits do not match the SHA-256 recorded in the shipped manifest "
                                "(a different scikit-learn copy of load_digits?)")
    local_manifest_path = out / "weights" / "manifest.json"
    local = json.loads(local_manifest_path.read_text()) if local_manifest_path.exists() else {"weights": {}}
    torch = _require("torch", "the headline experiment")

    # 1. weights: reuse or train
    jobs = []
    for n in plan.sizes:
        for sd in plan.seeds:
            name = f"N{n}_seed{sd}.npz"
            src = None
            if not retrain:
                if (out / "weights" / name).exists() and name in local["weights"]:
                    src = (out / "weights" / name, local["weights"][name]["sha256"])
                elif shipped is not None and name in shipped["weights"] and (REFERENCE_DIR / "weights" / name).exists():
                    src = (REFERENCE_DIR / "weights" / name, shipped["weights"][name]["sha256"])
            jobs.append((n, sd, name, src))
    to_train = [j for j in jobs if j[3] is None]
    models, train_info = {}, {}
    cpu_train = time.process_time()
    if to_train:
        bar = progress_bar(len(to_train) * int(cfg["steps"]), "training", plan.quiet)
        try:
            for n, sd, name, _ in to_train:
                bar.set_postfix_str(f"N={n} seed={sd}")
                model, info = train(training_set(x, perm, n), sd, cfg, progress=bar)
                sha = save_weights(model, out / "weights" / name)
                local["weights"][name] = {"sha256": sha, "n_train": n, "seed": sd, "train_config": cfg,
                                          "subset_sha256": array_sha256(training_set(x, perm, n)), **info}
                models[(n, sd)] = load_weights(out / "weights" / name, cfg, sha)
                train_info[(n, sd)] = local["weights"][name]
        finally:
            bar.close()
        local.update(_versions(torch))
        local["data_sha256"], local["permutation_sha256"] = array_sha256(x), array_sha256(perm)
        local_manifest_path.write_text(json.dumps(local, indent=1) + "\n")
    plan.timings["train_cpu_seconds"] = time.process_time() - cpu_train
    for n, sd, name, src in jobs:
        if (n, sd) not in models:
            models[(n, sd)] = load_weights(src[0], cfg, src[1])
            meta = (local["weights"].get(name) if src[0].parent == out / "weights" else
                    shipped["weights"].get(name)) or {}
            train_info[(n, sd)] = meta

    # 2. measurements
    cpu_measure, wall_measure = time.process_time(), time.perf_counter()
    rows = []
    bar = progress_bar(len(jobs), "measuring", plan.quiet)
    try:
        for n in plan.sizes:
            pts = training_set(x, perm, n)
            ho = held_out_set(x, perm, n)
            mem = total_entropy(Empirical(pts), PROCESS, S0, S1, atol=plan.design["memoriser_atol"], rtol=0.0,
                                seed=plan.design["seed"])
            gfit = gaussian_fit_total_entropy(pts)
            for sd in plan.seeds:
                bar.set_postfix_str(f"N={n} seed={sd}")
                row = {"n_train": n, "seed": sd, "unit": NAT}
                row.update(measure(models[(n, sd)], pts, ho, design=plan.design, memoriser=mem, gaussian_fit=gfit))
                info = train_info.get((n, sd), {})
                row["train_final_loss"] = info.get("final_loss")
                row["spec"] = _spec(n, sd, array_sha256(pts), None if ho is None else array_sha256(ho), plan.design,
                                    plan.quick)
                rows.append(row)
                bar.update(1)
    finally:
        bar.close()
    plan.timings["measure_cpu_seconds"] = time.process_time() - cpu_measure
    plan.timings["measure_wall_seconds"] = time.perf_counter() - wall_measure

    # 3. fits, files, figure
    fit = fits(rows)
    cpu_comp = time.process_time()
    comp = companion(QUICK_COMPANION if plan.quick else COMPANION)
    plan.timings["companion_cpu_seconds"] = time.process_time() - cpu_comp
    plan.timings["total_wall_seconds"] = time.perf_counter() - t_start
    plan.timings["total_cpu_seconds"] = time.process_time() - cpu_start
    paths = _write_outputs(rows, fit, plan, torch)
    (out / "random_features.json").write_text(json.dumps(comp, indent=1, allow_nan=False) + "\n")
    paths["companion_json"] = out / "random_features.json"
    from .tables import format_rows
    (out / "random_features.csv").write_text(format_rows(comp["rows"], "csv", "random_features"))
    paths["companion_csv"] = out / "random_features.csv"
    paths.update(plot_companion(comp, out / "random_features"))
    return {"rows": rows, "fit": fit, "companion": comp, "paths": paths, "timings": dict(plan.timings)}


def _versions(torch) -> dict:
    import numpy
    return {"nent_ref_version": __version__, "torch_version": str(torch.__version__),
            "numpy_version": numpy.__version__, "python": platform.python_version()}


def _write_outputs(rows, fit, plan: _Plan, torch) -> dict:
    from .tables import format_rows
    out = plan.out
    header = {"experiment": "headline (issue 20; docs/headline.md)", "design": "quick" if plan.quick else "full",
              "sizes": list(plan.sizes), "seeds": list(plan.seeds), "measure_config": plan.design,
              "train_config": TRAIN_CONFIG, "fit": fit, "timings": dict(plan.timings), **_versions(torch)}
    doc = json.loads(format_rows(rows, "json", "headline", command="reproduce headline"))
    doc.update(header)
    paths = {}
    (out / "headline.json").write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    paths["json"] = out / "headline.json"
    flat = [{k: v for k, v in r.items() if k != "adapter"} for r in rows]
    (out / "headline.csv").write_text(format_rows(flat, "csv", "headline"))
    paths["csv"] = out / "headline.csv"
    (out / "headline_fit.json").write_text(json.dumps(fit, indent=1, allow_nan=False) + "\n")
    paths["fit"] = out / "headline_fit.json"
    paths.update(plot(rows, fit, out / "headline"))
    return paths


def plot(rows: list[dict], fit: dict, stem: Path) -> dict:
    """S_NN against N (log axis) per seed and its per-N mean with error bars, the memoriser and Gaussian-fit
    S_tot lines, and the fitted ``a + b ln N``; saves ``stem.png`` and ``stem.pdf``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ns = sorted({r["n_train"] for r in rows})
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    f = fit["s_nn"]
    ax.errorbar(f["sizes"], f["means"], yerr=f["stderrs"], fmt="o", color="C0", capsize=3,
                label="network $S_{NN}$ (mean over seeds; error: seed scatter + Monte Carlo)")
    for r in rows:
        ax.plot(r["n_train"], r["s_nn"], ".", color="C0", alpha=0.35)
    mem = [next(r["s_tot_memoriser"] for r in rows if r["n_train"] == n) for n in ns]
    gfit = [next(r["s_tot_gaussian_fit"] for r in rows if r["n_train"] == n) for n in ns]
    ax.plot(ns, mem, "s-", color="C3", label="memoriser $S_{tot}$ (training set, exact)")
    ax.plot(ns, gfit, "^-", color="C2", label="Gaussian fit $S_{tot}$ (closed form)")
    grid = np.geomspace(min(ns), max(ns), 50)
    ax.plot(grid, f["intercept"] + f["slope"] * np.log(grid), "--", color="C0",
            label=f"fit, all N: slope {f['slope']:.2f} $\\pm$ {f['slope_stderr']:.2f} nat per e-fold")
    if "s_nn_large_n" in fit:
        g = fit["s_nn_large_n"]
        gg = np.geomspace(g["sizes"][0], g["sizes"][-1], 20)
        ax.plot(gg, g["intercept"] + g["slope"] * np.log(gg), ":", color="k",
                label=f"fit, N $\\geq$ {g['min_n']}: slope {g['slope']:.2f} $\\pm$ {g['slope_stderr']:.2f}")
    ax.set_xscale("log")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("training-set size N (digits 8x8)")
    ax.set_ylabel("nats, window [1e-5, 1], VP(0.1, 16)")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Neural entropy against training-set size", fontsize=10)
    fig.tight_layout()
    paths = {}
    for ext in ("png", "pdf"):
        p = Path(f"{stem}.{ext}")
        fig.savefig(p, dpi=120, metadata={"CreationDate": None} if ext == "pdf" else {"Software": None})
        paths[ext] = p
    plt.close(fig)
    return paths


# --------------------------------------------------------------------------- the shipped reference
def ship_reference(run_dir, dest: Path | None = None) -> Path:
    """Copy a full run (``reproduce(run_dir)``) into the shipped reference: its weights, a manifest with
    their SHA-256s, the data, permutation, subset and held-out SHA-256s, the training configuration and
    versions, and the table as ``results.json`` / ``results.csv`` (a maintainer's step; docs/headline.md)."""
    import shutil
    run_dir = Path(run_dir)
    dest = Path(dest) if dest is not None else REFERENCE_DIR
    local = json.loads((run_dir / "weights" / "manifest.json").read_text())
    table = json.loads((run_dir / "headline.json").read_text())
    if table.get("design") != "full":
        raise HeadlineError("only a full run (not --quick) can become the shipped reference")
    x, perm = load_digits_scaled(), permutation()
    (dest / "weights").mkdir(parents=True, exist_ok=True)
    weights = {}
    for row in table["rows"]:
        name = f"N{row['n_train']}_seed{row['seed']}.npz"
        meta = local["weights"][name]
        if _file_sha256(run_dir / "weights" / name) != meta["sha256"]:
            raise HeadlineError(f"{run_dir / 'weights' / name} does not match its recorded SHA-256")
        shutil.copyfile(run_dir / "weights" / name, dest / "weights" / name)
        weights[name] = meta
    manifest = {"experiment": "headline (issue 20)", "data": "sklearn.datasets.load_digits, x / 16 * 2 - 1",
                "data_sha256": array_sha256(x), "permutation_seed": PERMUTATION_SEED,
                "permutation_sha256": array_sha256(perm), "permutation": perm.tolist(),
                "subset_sha256": {str(n): array_sha256(training_set(x, perm, n)) for n in SIZES},
                "held_out": f"last {HELD_OUT} images of the permutation",
                "held_out_sha256": array_sha256(x[perm[len(perm) - HELD_OUT:]]),
                "train_config": TRAIN_CONFIG, "measure_config": MEASURE_CONFIG,
                **{k: local[k] for k in ("nent_ref_version", "torch_version", "numpy_version", "python")},
                "weights": weights}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.copyfile(run_dir / "headline.json", dest / "results.json")
    shutil.copyfile(run_dir / "headline.csv", dest / "results.csv")
    if (run_dir / "random_features.json").exists():
        shutil.copyfile(run_dir / "random_features.json", dest / "random_features.json")
    return dest


def shipped_results() -> dict:
    """The shipped table of the full run (``reference/headline/results.json``)."""
    path = REFERENCE_DIR / "results.json"
    if not path.exists():
        raise HeadlineError(f"no shipped results at {path}")
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- exactly solvable companion
#: The random-feature companion (nent_ref.quantities.random_features): 2-D Gaussian data, P = 32
#: features, VP(0.1, 16), window [1e-3, 1] (the fitted models of few points follow the memoriser, whose
#: S_NN diverges like (D/2) log(1/s0); 1e-3 keeps the quadrature cheap), nested training sets.
COMPANION = {"mean": [0.5, -0.3], "cov": [[0.6, 0.2], [0.2, 0.3]], "n_features": 32, "s0": 1e-3, "s1": 1.0,
             "sizes": [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096], "train_seed": 0, "feature_seed": 0,
             "bandwidth": 1.0, "data_var": 1.0, "rtol": 1e-7}
QUICK_COMPANION = dict(COMPANION, sizes=[4, 32, 256, 2048])


def companion(config: dict | None = None) -> dict:
    """Exact S_NN(N) and L_EM(N) of random-feature models (P fixed) fitted on N Gaussian samples, the
    population fit (N = infinity) and the crossover: the smallest N of the curve at which L_EM <= S_tot
    (the model's error falls below the information in the data) and at which S_NN is within a factor 2
    of its N = infinity value."""
    from ..core.data import Gaussian
    from ..quantities.random_features import random_feature_curve
    cfg = dict(COMPANION, **(config or {}))
    g = Gaussian(cfg["mean"], cfg["cov"])
    rows = random_feature_curve(g, PROCESS, cfg["sizes"], cfg["n_features"], s0=cfg["s0"], s1=cfg["s1"],
                                train_seed=cfg["train_seed"], feature_seed=cfg["feature_seed"], rtol=cfg["rtol"],
                                bandwidth=cfg["bandwidth"], data_var=cfg["data_var"])
    finite = [r for r in rows if r["n_train"] is not None]
    pop = next(r for r in rows if r["n_train"] is None)
    lem_cross = next((r["n_train"] for r in finite if r["l_em"] <= r["s_tot"]), None)
    nn_cross = next((r["n_train"] for r in finite if r["s_nn"] <= 2.0 * pop["s_nn"]), None)
    return {"config": cfg, "rows": rows, "n_features": cfg["n_features"],
            "crossover_l_em_below_s_tot": lem_cross, "crossover_s_nn_within_2x_population": nn_cross,
            "s_nn_population": pop["s_nn"], "s_tot": pop["s_tot"]}


def plot_companion(result: dict, stem: Path) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in result["rows"] if r["n_train"] is not None]
    ns = [r["n_train"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(ns, [r["s_nn"] for r in rows], "o-", color="C0", label="$S_{NN}$ of the fitted model (exact)")
    ax.plot(ns, [r["l_em"] for r in rows], "v-", color="C1", label="$L_{EM}$ against the true $e^*$ (exact)")
    ax.axhline(result["s_tot"], color="C2", ls="--", label="$S_{tot}$ of the data (closed form)")
    ax.axhline(result["s_nn_population"], color="C0", ls=":", label="$S_{NN}$ of the population fit ($N=\\infty$)")
    ax.axvline(result["n_features"], color="0.5", lw=0.8, label=f"N = P = {result['n_features']}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training-set size N")
    ax.set_ylabel(f"nats, window [{result['config']['s0']:g}, {result['config']['s1']:g}], VP(0.1, 16)")
    ax.set_title("Random-feature score models: exact $S_{NN}(N)$ at fixed P", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths = {}
    for ext in ("png", "pdf"):
        p = Path(f"{stem}.{ext}")
        fig.savefig(p, dpi=120, metadata={"CreationDate": None} if ext == "pdf" else {"Software": None})
        paths["companion_" + ext] = p
    plt.close(fig)
    return paths
