r"""Path-level engine: forward and reverse Euler-Maruyama, probability-flow ODE, trajectory entropy.

Time convention: forward (noising) time ``s`` with the data at ``s = 0``; every routine takes an
increasing grid ``s_grid = [s_0 < s_1 < ... < s_N]`` of forward times.  Forward routines run
from ``s_0`` to ``s_N``; reverse routines (:func:`sample`, :func:`path_kl`) run from ``s_N`` down
to ``s_0``.  Entropies are in nats.

Forward process (docs/theory.md section 1), linear and isotropic: :math:`dY = -a(s) Y ds + \sigma(s) dW`.

* ``scheme="em"``: Euler-Maruyama, :math:`Y_{k+1} = (1 - a(s_k) h_k) Y_k + \sigma(s_k)\sqrt{h_k} Z_k`.
* ``scheme="exact"``: the exact Gaussian transition,
  :math:`Y_{k+1} = r_k Y_k + \sqrt{w_k} Z_k`, :math:`r_k = \mu(s_{k+1})/\mu(s_k)`,
  :math:`w_k = v(s_{k+1}) - r_k^2 v(s_k)` (:math:`= k^2 (1 - r_k^2)` with an equilibrium).

Reverse process (docs/theory.md section 3), integrated backwards in ``s``:

* reverse SDE (``method="sde"``, Euler-Maruyama):
  :math:`X \leftarrow X + h\,[a(s) X + \sigma^2(s)\,\mathrm{score}(X, s)] + \sigma(s)\sqrt h\, Z`;
* probability-flow ODE :math:`dx/ds = -a(s) x - D(s)\,\mathrm{score}(x, s)` (``"ode-heun"``,
  ``"ode-rk4"`` fixed step; ``"ode-scipy"`` uses :func:`scipy.integrate.solve_ivp`, DOP853, as a slow
  reference).

The score is the exact one of ``data`` (``data.diffuse(process, s).score``), a user callable
``score(x, s)``, or ``grad log p_eq + e(x, s)`` for an entropy-matching output ``e``; user callables
get the whole particle batch (n, D) and a scalar ``s`` once per step (per stage for the ODEs).

Random numbers: normals come from counter-seeded per-block streams (:mod:`nent_ref._sde_kernels`),
so a seed gives the same paths for any number of Numba threads.

Singular endpoints: SL and the cosine VP have a drift singular at ``s = T``; grids of the
Euler-Maruyama and ODE routines must end at ``T - eps`` (a ValueError says so).  The exact forward
transition has no such restriction.

References
----------
Kloeden & Platen, "Numerical solution of stochastic differential equations" (1992) (EM orders);
Song et al., ICLR 2021 (reverse SDE, probability-flow ODE); Seifert, Rep. Prog. Phys. 75, 126001
(2012) (stochastic entropy production); Premkumar, "Diffusion density estimators", arXiv 2410.06986
(path-entropy log-density bound).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core.checks import call_model, count, real_array, real_scalar, seed_sequence
from ..core.estimate import DIMENSIONLESS, Estimate
from ..core.kernels import mixture_logpdf_score
from ..core.mixture import GaussianMixture
from ..core.processes import SL, check_process, check_times
from . import _sde_kernels as _K

__all__ = ["simulate", "sample", "path_entropy", "path_kl", "log_density_lower_bound",
           "PathEntropy", "PathKL", "transition_coefficients"]

_METHODS = ("sde", "ode-heun", "ode-rk4", "ode-scipy")


# --------------------------------------------------------------------------- validation helpers
def _streams(seed):
    """(Generator for initial draws, (key0, key1) for the block streams) from one seed
    (validated by :func:`nent_ref.core.checks.seed_sequence`)."""
    ss = seed_sequence(seed, "seed")
    init, noise = ss.spawn(2)
    return np.random.default_rng(init), _K.block_keys(noise)


def _grid(process, s_grid, *, allow_T: bool) -> np.ndarray:
    """An increasing 1-D grid of forward times inside the process domain."""
    check_process(process)
    s = real_array("s_grid", s_grid, finite=False)
    if s.ndim != 1 or s.size < 2:
        raise ValueError(f"s_grid must be a 1-D array of at least two times (got shape {s.shape})")
    if not np.all(np.isfinite(s)):
        raise ValueError("s_grid contains NaN or inf")
    if not np.all(np.diff(s) > 0):
        raise ValueError("s_grid must be strictly increasing (forward times; reverse routines run it backwards)")
    singular = process.singular_at_T and not allow_T
    if singular and s[-1] >= process.T:
        raise ValueError(f"the drift of {process!r} is singular at s = T = {process.T:g}: end s_grid at "
                         f"T - eps (e.g. {process.T:g} - 1e-3), got s_grid[-1] = {s[-1]:g}")
    check_times(s, process, "s_grid")
    return s


def _points(x, name="x") -> np.ndarray:
    arr = np.ascontiguousarray(real_array(name, x, finite=False))
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n, D) (got {np.shape(x)})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _a(process, s):
    """Drift rate a(s) of b(x, s) = -a(s) x on an array of times."""
    s = np.atleast_1d(np.asarray(s, dtype=float))
    return -process.drift(np.ones(1), s)[:, 0]


def _one_minus_r2(process, s0, s1):
    """1 - (mu(s1)/mu(s0))^2 for arrays s0 < s1, without cancellation where a closed form exists."""
    if hasattr(process, "B"):   # VP: r^2 = exp(-(B(s1) - B(s0)))
        return -np.expm1(-(process.B(s1) - process.B(s0)))
    if isinstance(process, SL):  # r = (1 - s1)/(1 - s0)
        return (s1 - s0) * (2.0 - s0 - s1) / (1.0 - s0) ** 2
    r = process.mean_coeff(s1) / process.mean_coeff(s0)
    return 1.0 - r * r


def transition_coefficients(process, s_grid, scheme: str = "em"):
    r"""Per-step coefficients (c_k, d_k) of the forward update :math:`Y_{k+1} = c_k Y_k + d_k Z_k`.

    ``scheme="em"``: :math:`c_k = 1 - a(s_k) h_k`, :math:`d_k = \sigma(s_k)\sqrt{h_k}`.
    ``scheme="exact"``: :math:`c_k = \mu(s_{k+1})/\mu(s_k)`, :math:`d_k^2 = v(s_{k+1}) - c_k^2 v(s_k)`.
    """
    s = _grid(process, s_grid, allow_T=(scheme == "exact"))
    s0, s1 = s[:-1], s[1:]
    if scheme == "em":
        h = s1 - s0
        return 1.0 - _a(process, s0) * h, np.sqrt(process.sigma2(s0) * h)
    if scheme == "exact":
        c = process.mean_coeff(s1) / process.mean_coeff(s0)
        if process.has_equilibrium:
            w = process.peq_var * _one_minus_r2(process, s0, s1)
        else:
            w = process.marginal_var(s1) - process.marginal_var(s0)
        return np.asarray(c, dtype=float), np.sqrt(np.maximum(w, 0.0))
    raise ValueError(f"scheme must be 'em' or 'exact' (got {scheme!r})")


def _medium_coefficients(process, s):
    """g_k = b/(D x) = -a(s)/D(s) at the midpoints (Stratonovich midpoint rule); zero for VE."""
    mid = 0.5 * (s[:-1] + s[1:])
    return -_a(process, mid) / process.diffusion(mid)


# --------------------------------------------------------------------------- forward simulation
def simulate(process, x0, s_grid, seed=0, record=False, *, n=None, scheme="em"):
    r"""Simulate the forward process on ``s_grid`` from ``x0`` (Numba, parallel, reproducible).

    Parameters
    ----------
    process : VP, SL or VE
    x0 : array_like (n, D), or a data object with ``.sample(n, seed)``
        Initial states at ``s_grid[0]`` (a data object is sampled with ``n`` draws, and then moved
        from ``s = 0`` to ``s_grid[0]`` by the exact transition when ``s_grid[0] > 0``).
    s_grid : array_like, increasing
        Forward times; with ``scheme="em"`` the last one must be below T for SL / cosine VP.
    seed : int, sequence of ints, SeedSequence, Generator or None
        Validated by :func:`nent_ref.core.checks.seed_sequence` (a Generator seeds a spawned child of
        its SeedSequence; None draws fresh OS entropy).
        The same seed gives the same paths for any number of threads.
    record : bool
        False: return the final states (n, D) only (no path storage).  True: return the whole path,
        shape (len(s_grid), n, D).
    n : int, optional
        Number of draws when ``x0`` is a data object.
    scheme : {"em", "exact"}
        Euler-Maruyama (default) or the exact Gaussian transition between grid points.
    """
    s = _grid(process, s_grid, allow_T=(scheme == "exact"))
    rng, keys = _streams(seed)
    x = _initial_states(process, x0, s[0], n, rng)
    c, d = transition_coefficients(process, s, scheme)
    path, _ = _K.forward_linear(x, c, d, *keys, record=bool(record))
    return path if record else x


def _initial_states(process, x0, s0, n, rng):
    if hasattr(x0, "sample") and not isinstance(x0, np.ndarray):
        if n is None:
            raise ValueError("n (number of draws) is required when x0 is a data object")
        x = _points(x0.sample(count("n", n), seed=rng), "data samples")
        if s0 > 0:
            mu = float(process.mean_coeff(s0))
            sd = math.sqrt(float(process.marginal_var(s0)))
            x = mu * x + sd * rng.standard_normal(x.shape)
        return np.ascontiguousarray(x)
    if n is not None:
        raise ValueError("n is only used when x0 is a data object; pass an (n, D) array or a data object")
    return _points(x0, "x0")


# --------------------------------------------------------------------------- score functions
def _exact_score_fn(process, data):
    """score(x, s) of the diffused data (Numba mixture kernel when available)."""
    fast = _mixture_fast_path(process, data)
    if fast is not None:
        return fast

    def score(x, s):
        p = data.diffuse(process, s)
        if isinstance(p, type(data)) and float(process.marginal_var(s)) == 0.0:
            try:
                return p.score(x)
            except (AttributeError, ValueError):
                raise ValueError(f"{data!r} has no score at s = {s:g} (point masses): start s_grid at s0 > 0 "
                                 "(e.g. 1e-5)") from None
        return p.score(x)
    return score


def _mixture_fast_path(process, data):
    """score(x, s) of a GaussianMixture by one call of the Numba mixture kernel per step
    (``data.diffused_params``: no per-step object or validation); None for other data."""
    if not isinstance(data, GaussianMixture):
        return None
    log_w = np.log(data.weights)

    def score(x, s):
        _, means, covs = data.diffused_params(process, s)
        return mixture_logpdf_score(x, log_w, means, covs)[1]
    return score


def _is_mixture(data) -> bool:
    return isinstance(data, GaussianMixture)


def _score_fn(process, score, e, data):
    given = [name for name, v in (("score", score), ("e", e), ("data", data)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of score=, e=, data= (got {given or 'none'})")
    if data is not None:
        return _exact_score_fn(process, data), getattr(data, "dim", None)
    fn = score if score is not None else e
    if not callable(fn):
        raise ValueError(f"{given[0]} must be a callable f(x, s) -> (n, D) array")

    def checked(x, s):
        out = call_model(fn, x, s, given[0])
        return out if score is not None else process.grad_log_peq(x) + out
    return checked, None


def _e_fn(process, e, data):
    """e(x, s): the user's entropy-matching output or e* = score - grad log p_eq of the data."""
    given = [name for name, v in (("e", e), ("data", data)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of e=, data= (got {given or 'none'})")
    if data is not None:
        score = _exact_score_fn(process, data)
        return lambda x, s: score(x, s) - process.grad_log_peq(x), getattr(data, "dim", None)
    if not callable(e):
        raise ValueError("e must be a callable e(x, s) -> (n, D) array")

    def checked(x, s):
        return call_model(e, x, s, "e")
    return checked, None


def _dimension(dim, ddim):
    """The dimension from ``dim=`` (an integer >= 1) and the data's own (``ddim``), which must agree."""
    if dim is None:
        return ddim
    dim = count("dim", dim)
    if ddim is not None and dim != ddim:
        raise ValueError(f"dim = {dim} but the data have dimension {ddim}")
    return dim


def _prior_states(process, n, dim, s_top, x_init, rng):
    """Reverse-time initial states: x_init, or draws from p_eq (VE: N(0, v(s_top) I))."""
    if x_init is not None:
        x = _points(x_init, "x_init")
        if n is not None and x.shape[0] != n:
            raise ValueError(f"x_init has {x.shape[0]} rows but n = {n}")
        if dim is not None and x.shape[1] != dim:
            raise ValueError(f"x_init has dimension {x.shape[1]} but the data have {dim}")
        return x
    if dim is None:
        raise ValueError("the dimension is unknown: pass dim= (or x_init=) with a user score/e callable")
    var = process.peq_var if process.has_equilibrium else float(process.marginal_var(s_top))
    return math.sqrt(var) * rng.standard_normal((n, int(dim)))


# --------------------------------------------------------------------------- reverse samplers
def sample(process, n, s_grid, score=None, e=None, data=None, method="sde", seed=0, *,
           x_init=None, dim=None, rtol=1e-9, atol=1e-9):
    r"""Draw n samples by integrating the reverse SDE or the probability-flow ODE from ``s_grid[-1]`` to ``s_grid[0]``.

    Parameters
    ----------
    process : VP, SL or VE
    n : int
        Number of samples (ignored, but checked, when ``x_init`` is given).
    s_grid : array_like, increasing
        Forward times; the integration runs from ``s_grid[-1]`` down to ``s_grid[0]``.
        For SL / cosine VP ``s_grid[-1]`` must be below T.
    score, e, data : exactly one
        ``score(x, s)`` (the model score), ``e(x, s)`` (entropy-matching output, the score being
        ``grad log p_eq + e``) or ``data`` (exact score of the diffused data: Gaussian, Dirac,
        GaussianMixture, Empirical, ...).  Callables get the batch (n, D) and a float s.
    method : {"sde", "ode-heun", "ode-rk4", "ode-scipy"}
        Reverse SDE by Euler-Maruyama, or the probability-flow ODE by fixed-step Heun or RK4 on
        the grid, or by scipy's adaptive DOP853 (``rtol``, ``atol``; the grid only sets the ends).
    seed : int, sequence of ints, SeedSequence, Generator or None
        Validated by :func:`nent_ref.core.checks.seed_sequence` (a Generator seeds a spawned child of
        its SeedSequence; None draws fresh OS entropy).
        Seeds the start draws and the noise; same paths for any number of threads.
    x_init : array_like (n, D), optional
        Start states at ``s_grid[-1]``; default draws from p_eq = N(0, k^2 I) (VE: N(0, v(s_N) I)).
    dim : int, optional
        Dimension (an integer >= 1; must match the data's), needed with a user callable when
        ``x_init`` is not given.

    Returns
    -------
    ndarray (n, D)
        The states at ``s_grid[0]``.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS} (got {method!r})")
    s = _grid(process, s_grid, allow_T=False)
    fn, ddim = _score_fn(process, score, e, data)
    n = count("n", n) if x_init is None else (None if n is None else count("n", n))
    dim = _dimension(dim, ddim)
    rng, keys = _streams(seed)
    x = _prior_states(process, n, dim, s[-1], x_init, rng)
    if method == "sde":
        states = _K.init_states(*keys, x.shape[0])
        a = _a(process, s)
        sig2 = process.sigma2(s)
        if _is_mixture(data):
            # fused kernel: all steps in one parallel region, same numbers as the per-step loop below
            ks = np.arange(len(s) - 1, 0, -1)
            h = s[ks] - s[ks - 1]
            _, means, covs = data.diffused_params_many(process, s[ks])     # all steps at once
            _K.reverse_mixture(x, np.log(data.weights), means, covs, 1.0 + a[ks] * h, sig2[ks] * h,
                               np.sqrt(sig2[ks] * h), states)
            return x
        for k in range(len(s) - 1, 0, -1):
            h = s[k] - s[k - 1]
            sc = np.ascontiguousarray(fn(x, s[k]))
            _K.affine_noise_update(x, sc, 1.0 + a[k] * h, sig2[k] * h, math.sqrt(sig2[k] * h), states)
        return x
    a = _a(process, s)
    Dc = process.diffusion(s)
    if method == "ode-scipy":
        return _ode_scipy(process, fn, x, s, rtol, atol)

    def f(y, k_or_s, a_s, D_s):
        return -a_s * y - D_s * fn(y, k_or_s)

    for k in range(len(s) - 1, 0, -1):
        h = s[k] - s[k - 1]
        k1 = f(x, s[k], a[k], Dc[k])
        if method == "ode-heun":
            xp = x - h * k1
            k2 = f(xp, s[k - 1], a[k - 1], Dc[k - 1])
            x = x - 0.5 * h * (k1 + k2)
        else:
            sm = 0.5 * (s[k] + s[k - 1])
            am, Dm = _a(process, sm)[0], float(process.diffusion(sm))
            k2 = f(x - 0.5 * h * k1, sm, am, Dm)
            k3 = f(x - 0.5 * h * k2, sm, am, Dm)
            k4 = f(x - h * k3, s[k - 1], a[k - 1], Dc[k - 1])
            x = x - (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


def _ode_scipy(process, fn, x, s, rtol, atol):
    from scipy.integrate import solve_ivp
    shape = x.shape

    def rhs(t, y):
        yy = y.reshape(shape)
        a = _a(process, t)[0]
        return (-a * yy - float(process.diffusion(t)) * fn(yy, float(t))).ravel()

    sol = solve_ivp(rhs, (s[-1], s[0]), x.ravel(), method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.y[:, -1].reshape(shape)


# --------------------------------------------------------------------------- trajectory entropy
def _mc(values, method, n=None, unit="nat") -> Estimate:
    v = np.asarray(values, dtype=float)
    n = v.size if n is None else n
    return Estimate(float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(n)), method, n_samples=n, unit=unit)


@dataclass(frozen=True)
class PathEntropy:
    r"""Per-path entropy production along forward paths (docs/theory.md section 6).

    Attributes
    ----------
    ds_sys, ds_med, ds_tot : ndarray (n_paths,)
        :math:`\Delta s_{sys} = -\log p_{s_1}(Y_{s_1}) + \log p_{s_0}(Y_{s_0})`,
        :math:`\Delta s_{med} = \int (b/D)\circ dY` (Stratonovich, midpoint rule) and their sum.
    mean : Estimate
        :math:`\mathbb E[\Delta s_{tot}]`, which equals :math:`S_{tot}(s_0, s_1)`.
    ift : Estimate
        :math:`\mathbb E[e^{-\Delta s_{tot}}]`, which equals 1 (integral fluctuation theorem).
    mean_sys, mean_med : Estimate
        The means of the two parts.
    extra : dict
        ``y0`` and ``y1``, the path end points (n_paths, D).
    """

    ds_sys: np.ndarray
    ds_med: np.ndarray
    ds_tot: np.ndarray
    mean: Estimate
    ift: Estimate
    mean_sys: Estimate
    mean_med: Estimate
    s0: float
    s1: float
    scheme: str
    extra: dict = field(default_factory=dict, repr=False, compare=False)

    def negative_tail(self, a) -> Estimate:
        r""":math:`P(\Delta s_{tot} < -a)` with its binomial standard error, for ``a >= 0``.

        The integral fluctuation theorem and Markov's inequality bound it by :math:`e^{-a}`
        (docs/theory.md section 6): entropy-consuming paths are exponentially rare.
        """
        a = float(a)
        if not (math.isfinite(a) and a >= 0):
            raise ValueError(f"a must be finite and >= 0 (got {a})")
        return _mc(self.ds_tot < -a, "monte-carlo (frequency)", unit=DIMENSIONLESS)


def path_entropy(data, process, n_paths, s_grid, seed=0, *, scheme="exact") -> PathEntropy:
    r"""Stochastic entropy production of ``n_paths`` forward paths on ``s_grid``.

    Paths start from :math:`p_{s_0}` (data draws moved to ``s_0 = s_grid[0]`` by the exact transition)
    and are propagated on the grid; then per path

    .. math:: \Delta s_{sys} = -\log p_{s_1}(Y_{s_1}) + \log p_{s_0}(Y_{s_0}),\qquad
              \Delta s_{med} = \sum_k \frac{b}{D}(\bar Y_k, \bar s_k)\cdot(Y_{k+1} - Y_k),

    with midpoints :math:`\bar Y_k = (Y_k + Y_{k+1})/2`, :math:`\bar s_k = (s_k + s_{k+1})/2`
    (Stratonovich), and :math:`\Delta s_{tot} = \Delta s_{sys} + \Delta s_{med}`.  Theory:
    :math:`\mathbb E\Delta s_{tot} = S_{tot}(s_0, s_1)` and :math:`\mathbb E e^{-\Delta s_{tot}} = 1`
    (Seifert 2005/2012).  For VE, ``b = 0`` so :math:`\Delta s_{med} = 0` and the mean is
    :math:`H(p_{s_1}) - H(p_{s_0})`.

    Parameters
    ----------
    data : any data type with ``sample`` and ``diffuse(process, s).logpdf`` (Gaussian, Dirac with
        ``s_grid[0] > 0``, GaussianMixture, Empirical with ``s_grid[0] > 0``)
    process : VP, SL or VE
    n_paths : int
    s_grid : increasing forward times; ``scheme="exact"`` accepts ``s_grid[-1] = T`` (SL: p_T = p_eq).
    seed : int, sequence of ints, SeedSequence, Generator or None
        Validated by :func:`nent_ref.core.checks.seed_sequence` (a Generator seeds a spawned child of
        its SeedSequence; None draws fresh OS entropy).
    scheme : {"exact", "em"}
        Exact Gaussian transitions (no time-discretisation bias in the marginals; default) or
        Euler-Maruyama (bias O(h), what a discretised sampler does).

    Notes
    -----
    The estimator of :math:`\mathbb E e^{-\Delta s_{tot}}` has finite variance only when the data are
    not much narrower than p_eq (Gaussian data: every covariance eigenvalue above k^2/2); otherwise
    its standard error is not reliable.
    """
    n_paths = count("n_paths", n_paths)
    if scheme not in ("exact", "em"):
        raise ValueError(f"scheme must be 'exact' or 'em' (got {scheme!r})")
    s = _grid(process, s_grid, allow_T=(scheme == "exact"))
    p0 = data.diffuse(process, s[0])
    p1 = data.diffuse(process, s[-1])
    if not hasattr(p0, "logpdf"):
        raise ValueError(f"{data!r} has no density at s0 = {s[0]:g}: use s_grid[0] > 0 (e.g. 1e-5)")
    rng, keys = _streams(seed)
    x = _initial_states(process, data, s[0], n_paths, rng)
    y0 = x.copy()
    c, d = transition_coefficients(process, s, scheme)
    g = _medium_coefficients(process, s)
    _, med = _K.forward_linear(x, c, d, *keys, g=g)
    ds_sys = p0.logpdf(y0) - p1.logpdf(x)
    ds_tot = ds_sys + med
    method = f"monte-carlo (forward paths, {scheme})"
    return PathEntropy(ds_sys=ds_sys, ds_med=med, ds_tot=ds_tot,
                       mean=_mc(ds_tot, method), ift=_mc(np.exp(-ds_tot), method, unit=DIMENSIONLESS),
                       mean_sys=_mc(ds_sys, method), mean_med=_mc(med, method),
                       s0=float(s[0]), s1=float(s[-1]), scheme=scheme,
                       extra={"y0": y0, "y1": x})


# --------------------------------------------------------------------------- Girsanov path KL
@dataclass(frozen=True)
class PathKL:
    r"""Girsanov path-space KL along simulated reverse paths.

    Attributes
    ----------
    kl : Estimate
        :math:`\mathbb E \int D(s)\,\|e(X_s, s)\|^2 ds` (left-point Riemann sum along the paths).
    kl_log_rn : Estimate
        The mean of the full log Radon-Nikodym derivative
        :math:`\int \sigma e\cdot dB + \int D\|e\|^2 ds` (same expectation, more variance).
    ift : Estimate
        :math:`\mathbb E[\exp(-\log dP/dQ)]`, which equals 1.
    energy, log_rn : ndarray (n_paths,)
        The per-path quadratic term and log Radon-Nikodym derivative.
    """

    kl: Estimate
    kl_log_rn: Estimate
    ift: Estimate
    energy: np.ndarray
    log_rn: np.ndarray
    samples: np.ndarray = field(repr=False)


def path_kl(process, n_paths, s_grid, *, e=None, data=None, seed=0, x_init=None, dim=None) -> PathKL:
    r"""Path-space KL between the reverse SDE with control ``e`` and the uncontrolled reverse process.

    The model reverse SDE is :math:`dX = [b + \sigma^2 e](X, s)\,dt + \sigma\,dB` (backwards in s,
    docs/theory.md section 3), the uncontrolled one has drift b only, both start from the same law.  By
    Girsanov, :math:`\log dP/dQ = \int \sigma e\cdot dB + \int D\|e\|^2 ds`, so along the model's own
    paths

    .. math:: \mathrm{KL}(P\|Q) = \int D(s)\, \mathbb E_{P}\|e(X_s, s)\|^2\, ds .

    With the exact :math:`e^* = \nabla\log p_s - \nabla\log p_{eq}` (``data=``) and ``x_init`` drawn from
    :math:`p_{s_N}` this is :math:`S_{tot}(s_0, s_N)`; for a user ``e`` it is the information the model
    injects, equal to :math:`S_{NN}` when e = e*.  Time discretisation: Euler-Maruyama paths and a
    left-point sum (bias O(h)).

    Parameters
    ----------
    process, n_paths, s_grid, seed, x_init, dim : as in :func:`sample` (reverse SDE).
    e : callable e(x, s) -> (n, D), or data : data object (exact e*); exactly one.
    """
    s = _grid(process, s_grid, allow_T=False)
    fn, ddim = _e_fn(process, e, data)
    n = count("n_paths", n_paths)
    dim = _dimension(dim, ddim)
    rng, keys = _streams(seed)
    x = _prior_states(process, n, dim, s[-1], x_init, rng)
    states = _K.init_states(*keys, x.shape[0])
    a = _a(process, s)
    sig2 = process.sigma2(s)
    z = np.empty_like(x)
    energy = np.zeros(x.shape[0])
    mart = np.zeros(x.shape[0])
    for k in range(len(s) - 1, 0, -1):
        h = s[k] - s[k - 1]
        ek = fn(x, s[k])
        _K.fill_normals(states, z)
        energy += 0.5 * sig2[k] * h * np.einsum("ij,ij->i", ek, ek)
        mart += math.sqrt(sig2[k] * h) * np.einsum("ij,ij->i", ek, z)
        # reverse EM step: the score is grad log p_eq + e, so -b + sigma^2 score = b + sigma^2 e
        x = (1.0 + a[k] * h) * x + sig2[k] * h * (process.grad_log_peq(x) + ek) + math.sqrt(sig2[k] * h) * z
    log_rn = energy + mart
    method = "monte-carlo (Girsanov, reverse EM paths)"
    return PathKL(kl=_mc(energy, method), kl_log_rn=_mc(log_rn, method), ift=_mc(np.exp(-log_rn), method, unit=DIMENSIONLESS),
                  energy=energy, log_rn=log_rn, samples=x)


# --------------------------------------------------------------------------- log-density lower bound
def log_density_lower_bound(x, process, *, e=None, data=None, s0=0.0, s1=None, n_time=512, seed=0) -> Estimate:
    r"""Per-sample lower bound on :math:`\log p_{model}(x)` in the path-entropy form (docs/theory.md section 3).

    .. math::
        \log p_{model}(x) \ge \mathbb E[\log p_{eq}(y_{s_1})]
          - (s_1 - s_0)\, \mathbb E_{s\sim U(s_0,s_1)} \mathbb E_{y_s \mid x}
            \Big[ D\,\big\|\tfrac{2b}{\sigma^2} + e\big\|^2 - (b + \sigma^2 e)\cdot\nabla_y\log p(y_s\mid x) \Big]

    for the model reverse SDE :math:`dX = (b + \sigma^2 e)dt + \sigma dB` started from p_eq at
    :math:`s_1` and stopped at :math:`s_0` (Premkumar, arXiv 2410.06986; equivalently Song et al.
    2021's likelihood bound after integrating the divergence by parts).  Here
    :math:`2b/\sigma^2 = \nabla\log p_{eq}` and :math:`\nabla_y \log p(y\mid x) = -(y - \mu x)/v`.
    With the exact :math:`e^*` of data p_d and :math:`p_{s_1} = p_{eq}` (SL with s1 = 1) the bound is
    tight: it equals :math:`\log p_d(x)`.

    Monte Carlo: the prior term is closed form; the time integral uses ``n_time`` stratified times,
    at each of which one antithetic pair :math:`y = \mu x \pm \sqrt v z` is drawn for every point
    (``e`` is called once per time on the batch of 2 m points).  The standard error treats the
    strata as i.i.d. (conservative).

    Parameters
    ----------
    x : array_like (m, D)
        Points at which to bound the log density.
    process : VP or SL (a process with an equilibrium; VE raises)
    e : callable e(y, s) or data : data object (exact e*); exactly one.
    s0, s1 : float
        Time range, default [0, T]; s1 = T is allowed (the integrand is evaluated at s < s1 only).
    n_time : int
    seed : int, sequence of ints, SeedSequence, Generator or None
        Validated by :func:`nent_ref.core.checks.seed_sequence` (a Generator seeds a spawned child of
        its SeedSequence; None draws fresh OS entropy).

    Returns
    -------
    Estimate
        value and stderr arrays of shape (m,), in nats.
    """
    check_process(process)
    if not process.has_equilibrium:
        raise ValueError(f"{process!r} has no equilibrium prior p_eq; the bound needs VP or SL")
    s1 = process.T if s1 is None else s1
    s0 = float(check_times(real_scalar("s0", s0), process, "s0"))
    s1 = float(check_times(real_scalar("s1", s1), process, "s1"))
    if not s0 < s1:
        raise ValueError(f"need s0 < s1 (got {s0}, {s1})")
    n_time = count("n_time", n_time)
    if n_time < 2:
        raise ValueError("n_time must be at least 2 (the standard error needs two strata)")
    x = _points(x, "x")
    m, D = x.shape
    fn, ddim = _e_fn(process, e, data)
    if ddim is not None and ddim != D:
        raise ValueError(f"x has dimension {D} but the data have {ddim}")
    rng, _ = _streams(seed)
    k2 = process.peq_var
    mu1 = float(process.mean_coeff(s1))
    v1 = float(process.marginal_var(s1))
    xx = np.einsum("ij,ij->i", x, x)
    prior = -0.5 * D * math.log(2.0 * math.pi * k2) - (mu1 * mu1 * xx + D * v1) / (2.0 * k2)
    width = s1 - s0
    u = rng.random(n_time)
    u = np.where(u == 0.0, 0.5, u)          # s must stay strictly inside (s0, s1)
    times = s0 + (np.arange(n_time) + u) * (width / n_time)
    vals = np.empty((n_time, m))
    for j, s in enumerate(times):
        mu = float(process.mean_coeff(s))
        v = float(process.marginal_var(s))
        a = _a(process, s)[0]
        sig2 = float(process.sigma2(s))
        z = rng.standard_normal((m, D))
        sv = math.sqrt(v)
        y = np.concatenate([mu * x + sv * z, mu * x - sv * z])
        ey = fn(y, float(s))
        grad_eq = process.grad_log_peq(y)
        model_score = grad_eq + ey
        drift = -a * y + sig2 * ey                      # b + sigma^2 e
        cond_score = np.concatenate([-z, z]) / sv        # grad_y log p(y | x) = -(y - mu x)/v
        integrand = (0.5 * sig2 * np.einsum("ij,ij->i", model_score, model_score)
                     - np.einsum("ij,ij->i", drift, cond_score))
        vals[j] = 0.5 * (integrand[:m] + integrand[m:])
    per_time = prior[None, :] - width * vals
    value = per_time.mean(axis=0)
    # one draw per stratum: estimate the variance of the stratified mean from adjacent-stratum
    # differences, Var ~ sum_i (f_2i - f_2i+1)^2 / n^2 (slightly conservative: includes the drift
    # of the integrand across two strata)
    half = n_time // 2
    diffs = per_time[1:2 * half:2] - per_time[0:2 * half:2]
    stderr = np.sqrt(np.sum(diffs * diffs, axis=0) * (n_time / (2 * half))) / n_time
    return Estimate(value, stderr, "monte-carlo (path-entropy bound, stratified s, antithetic y)",
                    n_samples=n_time)
