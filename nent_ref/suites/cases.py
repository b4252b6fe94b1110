"""Canonical cases: the single source of truth for tests, ``nent-ref table`` and the figures.

Processes (docs/theory.md section 1):

* ``vp16``  -- VP, linear beta 0.1 -> 16, kappa = 1 (the paper's VP)
* ``vp20``  -- VP, linear beta 0.1 -> 20 (the score-SDE default)
* ``vpx``   -- VP, beta 0.1 -> 16, kappa = 0.1 (the paper's VPx)
* ``sl``    -- SL with Sigma0 = 0.1 (the paper's straight-line process)

Data: Gaussians and Dirac atoms in D in {1, 2, 3, 6, 9}, drawn once from fixed seeds
(``numpy.random.default_rng``, PCG64, stable across numpy versions), and nent_ref's own
paper-like 5-component Gaussian mixtures (:func:`paper_mixture`: means uniform in a box of side
4, isotropic component standard deviations uniform in [0.5, 1], equal weights), D in {2, 3, 6, 9}.
These are *not* the mixtures of the official code: those are :func:`official_mixture`
(``official-notebook-D2``, ``official-mlp-D2``, ``official-mlp-D9``: the paper's own draws, made in
the official environment with jax 0.4.25), read from the package data file
``nent_ref/reference/official_mixtures.json`` (provenance in its ``provenance`` field: the official
generator ``gm.make_distribution_flexible(PRNGKey(32), D, n_r=5, box_size, scale)``, float32), with
the paper's processes (:data:`OFFICIAL_PROCESSES`) and the windows of the official estimator
(:func:`official_windows`).  The same code under jax >= 0.5 draws other mixtures (its PRNG default
changed): they are kept as the variants :data:`OFFICIAL_JAX05_PRESETS` (``<name>-jax05``), an audit
finding (docs/official_audit.md), not the paper's.

Named presets (the ``preset`` form of a case specification, :mod:`nent_ref.suites.specs`):
:func:`data_preset_names` / :func:`data_preset` and :func:`process_preset_names` /
:func:`process_preset`.

The cutoff for Dirac/empirical data is the paper's ``EPS = DEFAULT_CUTOFF``.
"""
from __future__ import annotations

import functools
import json
import math
from importlib import resources

import numpy as np

from ..core.data import DEFAULT_CUTOFF, Dirac, Gaussian
from ..core.mixture import GaussianMixture
from ..core.processes import SL, VE, VP, CosineSchedule

__all__ = ["EPS", "DIMS", "MIXTURE_DIMS", "processes", "gaussian_case", "dirac_case",
           "paper_mixture_params", "paper_mixture", "OFFICIAL_PRESETS", "OFFICIAL_JAX05_PRESETS", "OFFICIAL_PROCESSES",
           "official_record", "official_mixture_arrays", "official_mixture", "official_grid", "official_windows",
           "OFFICIAL_N_DATA", "data_preset_names", "data_preset", "process_preset_names", "process_preset"]
__all__ += ["PRESETS_FILE", "PRESET_RTOL", "own_preset_names", "preset_recipe", "presets_record", "stored_preset",
            "preset_differences"]

#: Cutoff s0 for data whose entropy production diverges at s = 0 (the paper's eps).
EPS = DEFAULT_CUTOFF
#: Dimensions of the Gaussian and Dirac suites.
DIMS = (1, 2, 3, 6, 9)
#: Dimensions of the paper's mixture experiments.
MIXTURE_DIMS = (2, 3, 6, 9)
_SEED = 20261122
#: Random tanh networks of the RG suite and figure: input variance (q^0 = sigma_w2 * 0.1 + sigma_b2 lies
#: below q* for every sigma_w2 shown, so the layer-to-layer quantity rises from 0, as in the paper's
#: figures) and bias variance (order to chaos at sigma_w2 ~ 1.761).
NETWORK_INPUT_VARIANCE = 0.1
NETWORK_SIGMA_B2 = 0.05


def processes() -> dict:
    """The canonical processes by short name (fresh objects each call)."""
    return {
        "vp16": VP(beta_min=0.1, beta_max=16.0),
        "vp20": VP(beta_min=0.1, beta_max=20.0),
        "vpx": VP(beta_min=0.1, beta_max=16.0, kappa=0.1),
        "sl": SL(sigma0=0.1),
    }


# --------------------------------------------------------------------------- nent_ref's own presets
#: Package data file holding the numbers of the ``gaussian-<D>d``, ``dirac-<D>d`` and ``mixture-<D>d``
#: presets (its ``provenance`` field names the recipe and seed; ``tools/regenerate_presets.py`` rebuilds it).
PRESETS_FILE = "reference/presets.json"

#: Relative tolerance within which recomputed preset numbers count as the stored ones: every array of the
#: data may differ from the stored array by at most ``PRESET_RTOL`` times the stored array's largest
#: magnitude (max-norm relative).  The recipe's QR and matrix products differ between CPUs and BLAS kernels
#: by a few units in the last place (~1e-16 relative); 1e-12 covers that with room and is far below any
#: difference that matters (docs/specs.md, "Presets").
PRESET_RTOL = 1e-12


def _recipe_gaussian(dim: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([_SEED, 1, dim])
    mean = rng.uniform(-1.0, 1.0, dim)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))
    lam = rng.uniform(0.25, 1.0, dim)
    cov = (q * lam) @ q.T
    return mean, 0.5 * (cov + cov.T)


def _recipe_dirac(dim: int) -> np.ndarray:
    return np.random.default_rng([_SEED, 2, dim]).uniform(-1.0, 1.0, dim)


def _recipe_mixture(dim: int, n_components: int = 5, seed: int = 0):
    rng = np.random.default_rng([_SEED, 3, dim, n_components, seed])
    weights = np.full(n_components, 1.0 / n_components)
    means = rng.uniform(-2.0, 2.0, (n_components, dim))
    stds = rng.uniform(0.5, 1.0, n_components)
    return weights, means, stds


def own_preset_names() -> list[str]:
    """Names of the presets stored in :data:`PRESETS_FILE`: ``gaussian-<D>d`` and ``dirac-<D>d`` (D in
    :data:`DIMS`) and ``mixture-<D>d`` (D in :data:`MIXTURE_DIMS`)."""
    return ([f"gaussian-{d}d" for d in DIMS] + [f"dirac-{d}d" for d in DIMS]
            + [f"mixture-{d}d" for d in MIXTURE_DIMS])


def preset_recipe(name: str) -> dict:
    """The data spec of one of nent_ref's own presets (:func:`own_preset_names`) *recomputed* from its
    recipe (seed ``20261122``, numpy's PCG64 ``default_rng``):

    * ``gaussian-<D>d``: mean uniform in [-1, 1]^D, covariance ``Q diag(lam) Q^T`` with Q the QR rotation
      of a standard normal D x D matrix (signs fixed by diag R) and eigenvalues lam uniform in [0.25, 1];
      stream ``default_rng([20261122, 1, D])``;
    * ``dirac-<D>d``: a point uniform in [-1, 1]^D, stream ``[20261122, 2, D]``;
    * ``mixture-<D>d``: 5 equal weights, means uniform in [-2, 2]^D, isotropic standard deviations uniform
      in [0.5, 1], stream ``[20261122, 3, D, 5, 0]``.

    The Gaussian covariances go through QR and a matrix product, so their last bits depend on the CPU and
    BLAS kernel: this is how the stored file was made and how a test checks it (within
    :data:`PRESET_RTOL`), never what the presets return (:func:`stored_preset`).
    """
    kind, dim = _split_own_name(name)
    if kind == "gaussian":
        mean, cov = _recipe_gaussian(dim)
        return {"kind": "gaussian", "mean": mean.tolist(), "cov": cov.tolist()}
    if kind == "dirac":
        return {"kind": "dirac", "point": _recipe_dirac(dim).tolist()}
    w, m, sd = _recipe_mixture(dim)
    return {"kind": "mixture", "weights": w.tolist(), "means": m.tolist(), "stds": sd.tolist()}


def _split_own_name(name: str) -> tuple[str, int]:
    if name not in own_preset_names():
        raise ValueError(f"unknown preset {name!r}; choose from {own_preset_names()}")
    kind, dim = name.split("-")
    return kind, int(dim[:-1])


@functools.lru_cache(maxsize=None)
def _presets_text() -> str:
    return resources.files("nent_ref").joinpath(PRESETS_FILE).read_text()


def presets_record() -> dict:
    """The parsed package data file :data:`PRESETS_FILE` (a fresh copy): ``provenance`` and ``presets``
    (preset name -> data spec)."""
    return json.loads(_presets_text())


def stored_preset(name: str) -> dict:
    """The data spec of one of nent_ref's own presets as stored in :data:`PRESETS_FILE` (a fresh copy)."""
    _split_own_name(name)
    return presets_record()["presets"][name]


def preset_differences(given: dict, stored: dict, rtol: float = PRESET_RTOL) -> list[str]:
    """How a data spec ``given`` differs from a stored preset spec ``stored`` beyond ``rtol``: one line per
    field (a different key set or shape, or an array whose largest difference exceeds ``rtol`` times the
    stored array's largest magnitude); empty when they agree.  The ``preset`` label itself is ignored."""
    keys_g = set(given) - {"preset"}
    keys_s = set(stored) - {"preset"}
    if keys_g != keys_s:
        return [f"fields {sorted(keys_g)} instead of {sorted(keys_s)}"]
    out = []
    for key in sorted(keys_s):
        a, b = given[key], stored[key]
        if isinstance(b, str) or isinstance(a, str):
            if a != b:
                out.append(f"{key} is {a!r} instead of {b!r}")
            continue
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a.shape != b.shape:
            out.append(f"{key} has shape {a.shape} instead of {b.shape}")
            continue
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        diff = float(np.max(np.abs(a - b))) if b.size else 0.0
        if not diff <= rtol * scale:               # also catches NaN
            rel = diff / scale if scale > 0 else math.inf
            out.append(f"{key} differs by {diff:.3g} ({rel:.3g} of its largest magnitude; tolerance {rtol:g})")
    return out


def gaussian_case(dim: int) -> Gaussian:
    """Gaussian data in ``dim`` dimensions: mean uniform in [-1, 1]^D, covariance
    ``Q diag(lam) Q^T`` with a random rotation Q and eigenvalues uniform in [0.25, 1].

    For D in :data:`DIMS` the numbers are the stored preset ``gaussian-<D>d`` (:func:`stored_preset`,
    the same on every machine); other D are computed from the recipe (:func:`preset_recipe`), whose last
    bits depend on the BLAS kernel."""
    if dim in DIMS:
        s = stored_preset(f"gaussian-{dim}d")
        return Gaussian(s["mean"], s["cov"])
    mean, cov = _recipe_gaussian(dim)
    return Gaussian(mean, cov)


def dirac_case(dim: int) -> Dirac:
    """A Dirac atom in ``dim`` dimensions, uniform in [-1, 1]^D (for D in :data:`DIMS` the stored preset
    ``dirac-<D>d``)."""
    if dim in DIMS:
        return Dirac(stored_preset(f"dirac-{dim}d")["point"])
    return Dirac(_recipe_dirac(dim))


def paper_mixture_params(dim: int, n_components: int = 5, seed: int = 0):
    """The paper's mixture setting: ``(weights, means, stds)``.

    Equal weights, means uniform in the box [-2, 2]^D (side 4), isotropic component
    standard deviations uniform in [0.5, 1].  Component k is N(means[k], stds[k]^2 I).
    With the defaults and D in :data:`MIXTURE_DIMS` these are the stored preset ``mixture-<D>d``;
    other arguments draw from the same recipe (:func:`preset_recipe`).
    """
    if dim in MIXTURE_DIMS and n_components == 5 and seed == 0:
        s = stored_preset(f"mixture-{dim}d")
        return np.array(s["weights"]), np.array(s["means"]), np.array(s["stds"])
    return _recipe_mixture(dim, n_components, seed)


def paper_mixture(dim, n_components=5, seed=0) -> GaussianMixture:
    """nent_ref's paper-like mixture (:func:`paper_mixture_params`) as a GaussianMixture (not the
    official code's mixture; see :func:`official_mixture`)."""
    w, m, sd = paper_mixture_params(dim, n_components, seed)
    return GaussianMixture(w, m, sd ** 2)


# --------------------------------------------------------------------------- the official mixtures
#: Names of the official code's mixtures, the paper's own (package data ``reference/official_mixtures.json``,
#: section ``mixtures``): the notebook's D = 2 mixture (box 4, scale 0.8) and the MLP script's D = 2 and
#: D = 9 mixtures (box 4, scale 1), all from ``gm.make_distribution_flexible(PRNGKey(32), D, n_r=5, ...)``
#: in float32 under the official environment's jax 0.4.25 (``jax_threefry_partitionable`` False).
OFFICIAL_PRESETS = ("official-notebook-D2", "official-mlp-D2", "official-mlp-D9")

#: What the same code and key draw under jax >= 0.5 (``jax_threefry_partitionable`` True by default):
#: other mixtures, not the paper's (section ``variants_jax_0_5_and_later`` of the data file; an audit
#: finding, docs/official_audit.md).  Same order as :data:`OFFICIAL_PRESETS`.
OFFICIAL_JAX05_PRESETS = tuple(f"{name}-jax05" for name in OFFICIAL_PRESETS)

#: The paper's processes (names of the official code -> canonical process names of :func:`processes`):
#: VP beta 0.1 -> 16 (kappa = 1), VPx (kappa = 0.1) and SL (Sigma_0 = 0.1).
OFFICIAL_PROCESSES = {"VP": "vp16", "VPx": "vpx", "SL": "sl"}

#: Data samples of the official estimator (drawn once, reused at every time).
OFFICIAL_N_DATA = 10_000


@functools.lru_cache(maxsize=None)
def _official_text() -> str:
    return resources.files("nent_ref").joinpath("reference/official_mixtures.json").read_text()


def official_record() -> dict:
    """The parsed package data file ``reference/official_mixtures.json`` (a fresh copy): ``provenance``,
    ``generator``, ``processes_used_by_the_paper``, ``official_estimator``, ``mixtures`` (the paper's,
    :data:`OFFICIAL_PRESETS`) and ``variants_jax_0_5_and_later`` (:data:`OFFICIAL_JAX05_PRESETS`)."""
    return json.loads(_official_text())


def _official_entry(name: str) -> dict:
    rec = official_record()
    mixtures = dict(rec["mixtures"], **rec["variants_jax_0_5_and_later"])
    if name not in mixtures:
        raise ValueError(f"unknown official mixture {name!r}; choose from "
                         f"{list(OFFICIAL_PRESETS + OFFICIAL_JAX05_PRESETS)}")
    return mixtures[name]


def official_mixture_arrays(name: str):
    """``(weights, means, stds)`` of an official mixture (:data:`OFFICIAL_PRESETS`, or a jax >= 0.5 variant
    of :data:`OFFICIAL_JAX05_PRESETS`), as stored (float32 values in float64; the weights sum to one only
    to ~2e-8).  Component k is N(means[k], stds[k]^2 I)."""
    m = _official_entry(name)
    return np.array(m["weights"]), np.array(m["means"]), np.array(m["stds"])


def official_mixture(name: str) -> GaussianMixture:
    """An official mixture as a :class:`GaussianMixture` (float32 weights renormalised by
    :meth:`GaussianMixture.from_arrays`)."""
    w, m, sd = official_mixture_arrays(name)
    return GaussianMixture.from_arrays(w, m, stds=sd)


def official_grid() -> np.ndarray:
    """The official estimator's time grid ``linspace(1e-5, 1, 100)`` (see ``official_estimator`` in
    :func:`official_record`)."""
    return np.linspace(EPS, 1.0, 100)


def official_windows() -> dict:
    """Windows of the official estimator on its grid t: the reported S_tot is the cumulative trapezoid's
    second-to-last value, S_tot(t[0], t[-2]) = S_tot(1e-5, 0.98990), and the neural-entropy integral
    starts at the second node, S_NN(t[1], t[-2]) = S_NN(0.010111, 0.98990)."""
    t = official_grid()
    return {"S_tot": (float(t[0]), float(t[-2])), "S_NN": (float(t[1]), float(t[-2]))}


# --------------------------------------------------------------------------- named presets
def _data_presets() -> dict:
    presets = {f"gaussian-{d}d": functools.partial(gaussian_case, d) for d in DIMS}
    presets.update({f"dirac-{d}d": functools.partial(dirac_case, d) for d in DIMS})
    for d in MIXTURE_DIMS:
        presets[f"mixture-{d}d"] = functools.partial(paper_mixture, d)
    for name in OFFICIAL_PRESETS + OFFICIAL_JAX05_PRESETS:
        presets[name] = functools.partial(official_mixture, name)
    return presets


def data_preset_names() -> list[str]:
    """Names of the data presets: ``gaussian-<D>d`` and ``dirac-<D>d`` (D in :data:`DIMS`),
    ``mixture-<D>d`` (nent_ref's paper-like mixtures, D in :data:`MIXTURE_DIMS`), the official
    mixtures :data:`OFFICIAL_PRESETS` (the paper's) and their jax >= 0.5 variants
    :data:`OFFICIAL_JAX05_PRESETS`."""
    return list(_data_presets())


def data_preset(name: str):
    """The data of a named preset (a fresh object); ValueError naming the choices otherwise."""
    presets = _data_presets()
    if name not in presets:
        raise ValueError(f"unknown data preset {name!r}; choose from {list(presets)}")
    return presets[name]()


def _process_presets() -> dict:
    procs = processes()
    procs["ve"] = VE(sigma_min=0.01, sigma_max=50.0)
    procs["vp-cosine"] = VP(schedule=CosineSchedule(0.008))
    return procs


def process_preset_names() -> list[str]:
    """Names of the process presets: the canonical :func:`processes` (``vp16``, ``vp20``, ``vpx``,
    ``sl``), ``ve`` (VE, sigma 0.01 -> 50, Song et al.) and ``vp-cosine`` (VP with the cosine schedule,
    offset 0.008, kappa = 1)."""
    return list(_process_presets())


def process_preset(name: str):
    """A named process (a fresh object); ValueError naming the choices otherwise."""
    procs = _process_presets()
    if name not in procs:
        raise ValueError(f"unknown process preset {name!r}; choose from {list(procs)}")
    return procs[name]
