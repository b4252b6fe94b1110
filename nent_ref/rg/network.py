"""Mean-field signal propagation in deep random tanh networks and the layer-to-layer relative entropy of
Erdmenger, Grosvenor & Jefferson.  Public names are re-exported by :mod:`nent_ref.rg`.

Network: width ``n`` in every layer, inputs ``x ~ N(0, v_in I_n)``, pre-activations

    z^0 = W^0 x + b^0,    z^l = W^l tanh(z^{l-1}) + b^l,    W^l_ij ~ N(0, sigma_w^2 / n),  b^l_i ~ N(0, sigma_b^2),

so that in the mean-field (infinite-width) limit the pre-activations of layer ``l`` are centred Gaussians with
variance ``q^l``: ``q^0 = sigma_w^2 v_in + sigma_b^2`` and ``q^{l+1} = sigma_w^2 E_z tanh^2(sqrt(q^l) z) + sigma_b^2``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, special

from ..core.checks import count, finite_float, seed_sequence
from ..core.estimate import Estimate

__all__ = [
    "TanhMeanField",
    "gauss_hermite_expectation", "tanh_length_map", "tanh_length_sequence", "tanh_length_fixed_point",
    "tanh_correlation_map", "tanh_correlation_fixed_point", "tanh_chi1", "tanh_meanfield",
    "tanh_order_to_chaos_sigma_w2",
    "network_kl_layer0_vs_layer_l_pushforward_meanfield",
    "network_kl_gaussian_fit_layer0_vs_layer_l_meanfield",
    "network_kl_layer0_vs_layer_l_pushforward_mc", "MAX_NODES", "MAX_DEPTH", "MAX_WIDTH", "MAX_ACTIVATIONS",
]


# ----------------------------------------------------------------------------- quadrature
@lru_cache(maxsize=32)
def _gh(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = special.roots_hermitenorm(n)
    return x, w / math.sqrt(2.0 * math.pi)


#: Most Gauss-Hermite nodes used (about 1 s to compute, then cached): the default rule ``max(1000, 200 q)``
#: reaches it at ``q = 500``; a larger variance, or ``n_nodes`` above it, is a ValueError.
MAX_NODES = 100_000
#: Deepest network the functions of this module take (``depth``; each layer is one quadrature or one
#: layer of matrix products): the length map reaches its fixed point to double precision long before.
MAX_DEPTH = 10_000
#: Widest network of the Monte Carlo estimate (a ``width x width`` weight matrix per layer, 128 MB at 4096).
MAX_WIDTH = 4096
#: Most numbers in one layer's activations of the Monte Carlo estimate (``n_samples * width``: 0.8 GB).
MAX_ACTIVATIONS = 10 ** 8


def _nodes_for(q: float, name: str = "q") -> int:
    """Node count giving ~1e-13 for E[tanh^2(sqrt(q) z)] and E[sech^4(sqrt(q) z)] (checked against mpmath).

    The integrands vary on the scale ``1/sqrt(q)`` in ``z``; Gauss-Hermite needs ~200 q nodes for that.
    Above :data:`MAX_NODES` (``q > 500``) a ValueError names ``name``.
    """
    n = int(max(1000, math.ceil(200.0 * q / 100.0) * 100))
    if n > MAX_NODES:
        raise ValueError(f"{name}: the variance q = {q:.6g} needs {n} Gauss-Hermite nodes, above the limit "
                         f"{MAX_NODES} (q <= {MAX_NODES // 200}); reduce it")
    return n


def gauss_hermite_expectation(f, q: float, n_nodes: int | None = None) -> float:
    r"""Gauss-Hermite (probabilists') estimate of :math:`E_{z\sim N(0,1)} f(\sqrt q\,z)`.

    The default node count ``max(1000, 200 q)`` gives ~1e-13 absolute accuracy for the tanh/sech
    integrands used here (checked against mpmath at 30 digits in the tests).
    """
    q = finite_float("q", q)
    if q < 0:
        raise ValueError(f"variance q must be >= 0 (got {q})")
    n = _nodes_for(q) if n_nodes is None else count("n_nodes", n_nodes, 2, MAX_NODES)
    x, w = _gh(n)
    with np.errstate(over="ignore"):
        return float(w @ f(math.sqrt(q) * x))


def _sech2(u):
    with np.errstate(over="ignore"):
        return 1.0 / np.cosh(u) ** 2


def _tanh2(u):
    return np.tanh(u) ** 2


def _check_sigmas(sigma_w2, sigma_b2):
    sw = finite_float("sigma_w2", sigma_w2)
    sb = finite_float("sigma_b2", sigma_b2)
    if sw <= 0:
        raise ValueError(f"sigma_w2 (weight variance times width) must be > 0 (got {sw})")
    if sb < 0:
        raise ValueError(f"sigma_b2 (bias variance) must be >= 0 (got {sb})")
    if sw > 50 or sb > 50:
        raise ValueError(f"sigma_w2 and sigma_b2 must be <= 50 (got {sw}, {sb})")
    return sw, sb


# ----------------------------------------------------------------------------- length map
def tanh_length_map(q, sigma_w2, sigma_b2, n_nodes: int | None = None) -> float:
    r"""Mean-field length map :math:`q^{l+1} = \sigma_w^2\,E_z\tanh^2(\sqrt{q^l} z) + \sigma_b^2`.

    Evaluated by Gauss-Hermite quadrature (:func:`gauss_hermite_expectation`) of :math:`\tanh^2` itself
    (not as :math:`1 - E\,\mathrm{sech}^2`, which loses the relative accuracy of :math:`q^{l+1}` for
    small ``q`` and ``sigma_b2``: :math:`E\tanh^2 \approx q`).

    References
    ----------
    Poole, Lahiri, Raghu, Sohl-Dickstein, Ganguli, NeurIPS 2016, arXiv:1606.05340, eq. (3).
    """
    sw, sb = _check_sigmas(sigma_w2, sigma_b2)
    q = finite_float("q", q)
    if q < 0:
        raise ValueError(f"q must be >= 0 (got {q})")
    return sw * gauss_hermite_expectation(_tanh2, q, n_nodes) + sb


def tanh_length_sequence(depth: int, sigma_w2, sigma_b2, input_variance=1.0) -> np.ndarray:
    """``q^0 .. q^depth`` with ``q^0 = sigma_w2 * input_variance + sigma_b2`` (array of length depth + 1)."""
    depth = count("depth", depth, 0, MAX_DEPTH, why="one quadrature or layer of matrix products per layer")
    sw, sb = _check_sigmas(sigma_w2, sigma_b2)
    v = finite_float("input_variance", input_variance)
    if v < 0:
        raise ValueError(f"input_variance must be >= 0 (got {v})")
    q = [sw * v + sb]
    n = _nodes_for(max(q[0], sw + sb), "input_variance")
    for _ in range(depth):
        q.append(tanh_length_map(q[-1], sw, sb, n))
    return np.array(q)


def _positive_lengths(q: np.ndarray) -> np.ndarray:
    """The length sequence for the relative entropies: q^0 > 0 and no q^l below the normal range."""
    if q[0] <= 0:
        raise ValueError("q^0 = sigma_w2 * input_variance + sigma_b2 must be > 0")
    small = np.flatnonzero(q < np.finfo(float).tiny)
    if small.size:
        raise ValueError(f"q^l underflows double precision from layer {int(small[0])} on (sigma_b2 = 0 and the "
                         "length map contracts: q^l decays geometrically); use fewer layers or sigma_b2 > 0")
    return q


def tanh_length_fixed_point(sigma_w2, sigma_b2, n_nodes: int | None = None) -> float:
    r"""Fixed point :math:`q^*` of :func:`tanh_length_map` (brentq, ``xtol = 1e-15``).

    Unique and stable for :math:`\sigma_b^2 > 0`; for :math:`\sigma_b^2 = 0` it is 0 when
    :math:`\sigma_w^2 \le 1` and the non-zero root otherwise.
    """
    sw, sb = _check_sigmas(sigma_w2, sigma_b2)
    n = n_nodes or _nodes_for(sw + sb)
    g = lambda q: tanh_length_map(q, sw, sb, n) - q  # noqa: E731
    if sb == 0.0:
        if sw <= 1.0:
            return 0.0
        lo = 0.01 * (sw - 1.0) / sw
        while g(lo) <= 0.0:
            lo *= 0.1
            if lo < 1e-300:  # pragma: no cover - sigma_w2 extremely close to 1
                return 0.0
    else:
        lo = sb
    hi = sw + sb
    if g(hi) >= 0.0:
        return hi
    return optimize.brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)


# ----------------------------------------------------------------------------- correlation map
def _pair_expectation(f1, f2, q: float, c: float, n: int) -> float:
    """E[f1(u1) f2(u2)] with (u1, u2) centred Gaussian, variances q, correlation c (tensor Gauss-Hermite)."""
    x, w = _gh(n)
    sq = math.sqrt(q)
    s = math.sqrt(max(1.0 - c * c, 0.0))
    u1 = sq * x
    f1u = f1(u1)
    u2 = sq * (c * x[:, None] + s * x[None, :])
    with np.errstate(over="ignore"):
        inner = f2(u2) @ w
    return float(w @ (f1u * inner))


def tanh_correlation_map(c, sigma_w2, sigma_b2, q=None, n_nodes: int | None = None) -> float:
    r"""Mean-field correlation map at length ``q`` (default :math:`q^*`):

    .. math::

        c^{l+1} = \frac{\sigma_w^2\,E[\tanh u_1 \tanh u_2] + \sigma_b^2}{q},\qquad
        (u_1,u_2)\sim N\Big(0, q\begin{pmatrix}1 & c\\ c & 1\end{pmatrix}\Big),

    by tensor-product Gauss-Hermite quadrature.

    References
    ----------
    Poole et al., NeurIPS 2016, eq. (5); Schoenholz, Gilmer, Ganguli, Sohl-Dickstein, ICLR 2017,
    arXiv:1611.01232, eq. (3).
    """
    sw, sb = _check_sigmas(sigma_w2, sigma_b2)
    c = finite_float("c", c)
    if not -1.0 <= c <= 1.0:
        raise ValueError(f"correlation c must lie in [-1, 1] (got {c})")
    q = tanh_length_fixed_point(sw, sb) if q is None else finite_float("q", q)
    if q <= 0:
        raise ValueError(f"q must be > 0 for the correlation map (got {q})")
    n = n_nodes or _nodes_for(q)
    return (sw * _pair_expectation(np.tanh, np.tanh, q, c, n) + sb) / q


def tanh_chi1(sigma_w2, sigma_b2, n_nodes: int | None = None) -> float:
    r""":math:`\chi_1 = \sigma_w^2 E_z[\mathrm{sech}^4(\sqrt{q^*} z)]`, the slope of the correlation map at
    ``c = 1``; :math:`\chi_1 < 1` ordered, :math:`> 1` chaotic (Poole et al. 2016, eq. 7)."""
    sw, sb = _check_sigmas(sigma_w2, sigma_b2)
    qs = tanh_length_fixed_point(sw, sb, n_nodes)
    if qs == 0.0:
        return sw
    return sw * gauss_hermite_expectation(lambda u: _sech2(u) ** 2, qs, n_nodes)


def tanh_correlation_fixed_point(sigma_w2, sigma_b2, n_nodes: int | None = None) -> float:
    r"""Stable fixed point :math:`\rho^* = c^*` of :func:`tanh_correlation_map`.

    1 in the ordered phase (:math:`\chi_1 \le 1`); the root in ``[0, 1)`` in the chaotic phase
    (brentq, ``xtol = 1e-14``; 0 when :math:`\sigma_b^2 = 0`).
    """
    sw, sb = _check_sigmas(sigma_w2, sigma_b2)
    chi = tanh_chi1(sw, sb, n_nodes)
    if chi <= 1.0:
        return 1.0
    if sb == 0.0:
        return 0.0
    qs = tanh_length_fixed_point(sw, sb, n_nodes)
    n = n_nodes or _nodes_for(qs)
    g = lambda c: tanh_correlation_map(c, sw, sb, qs, n) - c  # noqa: E731
    hi = 1.0 - 1e-6
    while g(hi) >= 0.0:
        hi = 1.0 - 0.1 * (1.0 - hi)
        if 1.0 - hi < 1e-12:
            return 1.0      # chi_1 - 1 below ~1e-6: numerically at the critical line
    return optimize.brentq(g, 0.0, hi, xtol=1e-14)


@dataclass(frozen=True)
class TanhMeanField:
    """Mean-field signal-propagation summary of a tanh network (see :func:`tanh_meanfield`)."""

    sigma_w2: float
    sigma_b2: float
    q_star: float            #: fixed point of the length map
    rho_star: float          #: stable fixed point of the correlation map
    chi_1: float             #: slope of the correlation map at c = 1
    chi_c: float             #: slope of the correlation map at rho*
    xi_c: float              #: correlation depth scale -1/log chi_c (inf at the critical line)
    chi_q: float             #: slope of the length map at q*
    xi_q: float              #: length depth scale -1/log chi_q
    phase: str               #: "ordered", "chaotic" or "critical" (|chi_1 - 1| < 1e-12)
    quadrature_error: float  #: |q*(n nodes) - q*(2n nodes)|


def tanh_meanfield(sigma_w2, sigma_b2, n_nodes: int | None = None) -> TanhMeanField:
    r"""q*, rho*, chi_1, chi_c, depth scales and phase for a tanh network.

    .. math::

        \chi_c = \sigma_w^2 E[\mathrm{sech}^2 u_1\,\mathrm{sech}^2 u_2]_{c=\rho^*},\quad
        \xi_c = -1/\log\chi_c,\qquad
        \chi_q = \sigma_w^2 E[\mathrm{sech}^4 u - 2\tanh^2 u\,\mathrm{sech}^2 u],\quad
        \xi_q = -1/\log\chi_q .

    References
    ----------
    Schoenholz, Gilmer, Ganguli, Sohl-Dickstein, ICLR 2017, arXiv:1611.01232, eqs. (5)-(9).
    """
    sw, sb = _check_sigmas(sigma_w2, sigma_b2)
    n = n_nodes or _nodes_for(sw + sb)
    qs = tanh_length_fixed_point(sw, sb, n)
    qs2 = tanh_length_fixed_point(sw, sb, 2 * n)
    chi1 = tanh_chi1(sw, sb, n)
    rho = tanh_correlation_fixed_point(sw, sb, n)
    if qs == 0.0:
        chi_q = sw
        chi_c = sw
    else:
        chi_q = sw * gauss_hermite_expectation(
            lambda u: _sech2(u) ** 2 - 2.0 * np.tanh(u) ** 2 * _sech2(u), qs, n)
        chi_c = chi1 if rho == 1.0 else sw * _pair_expectation(_sech2, _sech2, qs, rho, n)
    xi = lambda chi: math.inf if chi >= 1.0 else -1.0 / math.log(chi)  # noqa: E731
    phase = "critical" if abs(chi1 - 1.0) < 1e-12 else ("ordered" if chi1 < 1.0 else "chaotic")
    return TanhMeanField(sw, sb, qs, rho, chi1, chi_c, xi(chi_c), chi_q, xi(chi_q), phase, abs(qs - qs2))


def tanh_order_to_chaos_sigma_w2(sigma_b2, n_nodes: int | None = None) -> float:
    r"""Critical weight variance :math:`\sigma_w^2` with :math:`\chi_1(\sigma_w^2, \sigma_b^2) = 1`.

    Brentq on ``[1, 20]`` (``xtol = 1e-13``); 1 exactly at :math:`\sigma_b^2 = 0`.  For
    :math:`\sigma_b^2 = 0.05` it is about 1.7610 (cf. Poole et al. 2016, fig. 2; Schoenholz et al. 2017).
    """
    sb = finite_float("sigma_b2", sigma_b2)
    if sb < 0 or sb > 5:
        raise ValueError(f"sigma_b2 must lie in [0, 5] (got {sb})")
    if sb == 0.0:
        return 1.0
    n = n_nodes or _nodes_for(25.0)
    return optimize.brentq(lambda sw: tanh_chi1(sw, sb, n) - 1.0, 1.0, 20.0, xtol=1e-13)


# ----------------------------------------------------------------------------- relative entropy
def network_kl_layer0_vs_layer_l_pushforward_meanfield(depth: int, sigma_w2, sigma_b2,
                                                       input_variance=1.0) -> np.ndarray:
    r"""Erdmenger-Grosvenor-Jefferson layer-to-layer relative entropy per neuron, mean-field limit.

    Each layer's pre-activations are fitted by an isotropic centred Gaussian
    :math:`\hat p_l = N(0, \hat q^l I_n)` (:math:`\hat q^l` = mean square pre-activation over
    neurons and samples).  The quantity compares the layer-0 fit with the layer-``l`` fit, the expectation
    being over layer-0 samples ``x`` pushed through the network's own weights:

    .. math::

        \frac1n E_x\big[\log\hat p_0(z^0(x)) - \log\hat p_l(z^l(x))\big]
        = \frac12\log\frac{\hat q^l}{\hat q^0}\ \xrightarrow{n\to\infty}\ \frac12\log\frac{q^l}{q^0}

    (equal widths).  It is 0 at ``l = 0``, monotone in ``l`` (``q^l`` is monotone because the length map
    is increasing) and tends to :math:`\tfrac12\log(q^*/q^0)`, which is *negative* when
    :math:`q^0 > q^*`: it is not a divergence between two fixed distributions (see
    :func:`network_kl_gaussian_fit_layer0_vs_layer_l_meanfield` for the genuine KL of the two fits).

    Returns
    -------
    ndarray
        Values for ``l = 0 .. depth`` (nats per neuron).

    References
    ----------
    Erdmenger, Grosvenor, Jefferson, SciPost Phys. 12, 041 (2022), arXiv:2107.06898, sec. 5.
    """
    q = _positive_lengths(tanh_length_sequence(depth, sigma_w2, sigma_b2, input_variance))
    return 0.5 * np.log(q / q[0])


def network_kl_gaussian_fit_layer0_vs_layer_l_meanfield(depth: int, sigma_w2, sigma_b2,
                                                        input_variance=1.0) -> np.ndarray:
    r"""Per-neuron :math:`D(N(0, q^0 I)\,\|\,N(0, q^l I))/n = \tfrac12(q^0/q^l - 1 + \log(q^l/q^0))`.

    The genuine relative entropy between the mean-field Gaussian fits of layer 0 and layer ``l``
    (non-negative, 0 at ``l = 0``, monotone in ``l``), tending to its value at :math:`q^*`.
    """
    q = _positive_lengths(tanh_length_sequence(depth, sigma_w2, sigma_b2, input_variance))
    r = q[0] / q
    return 0.5 * (r - 1.0 - np.log(r))


def network_kl_layer0_vs_layer_l_pushforward_mc(depth: int, sigma_w2, sigma_b2, input_variance=1.0,
                                                width: int = 500, n_samples: int = 200,
                                                n_networks: int = 8, seed=0) -> Estimate:
    r"""Monte Carlo estimate of the quantity of :func:`network_kl_layer0_vs_layer_l_pushforward_meanfield`
    on actual random tanh networks of finite ``width``.

    For each of ``n_networks`` independent networks (weights and biases drawn once; one child of the seed
    sequence of ``seed`` per network, see :func:`nent_ref.core.checks.seed_sequence`: an int >= 0, a sequence
    of them, a SeedSequence, a Generator or None), ``n_samples`` inputs :math:`x\sim N(0, v_{in} I)` are pushed through all
    layers; :math:`\hat q^l` is the mean square pre-activation over neurons and samples and the
    per-network value is :math:`\tfrac12\log(\hat q^l/\hat q^0)` (the in-sample expectation of the fitted
    log-density difference, exactly).  The estimate is the mean over networks; the standard error is the
    between-network standard deviation over :math:`\sqrt{R}`.  Differences from the mean-field value are
    finite-width effects that vanish as ``width -> inf``.

    Returns
    -------
    Estimate
        ``value``/``stderr`` arrays for ``l = 0 .. depth``; ``extra["q_hat"]`` holds the mean
        :math:`\hat q^l`.
    """
    depth = count("depth", depth, 0, MAX_DEPTH, why="one quadrature or layer of matrix products per layer")
    sw, sb = _check_sigmas(sigma_w2, sigma_b2)
    v = finite_float("input_variance", input_variance)
    if v < 0:
        raise ValueError(f"input_variance must be >= 0 (got {v})")
    width = count("width", width, 1, MAX_WIDTH, why="a width x width weight matrix per layer")
    n_samples = count("n_samples", n_samples, 1, max(1, MAX_ACTIVATIONS // width),
                      why=f"n_samples * width numbers per layer, at most {MAX_ACTIVATIONS:.0e}")
    n_networks = count("n_networks", n_networks, 2, 10 ** 4)
    if sw * v + sb <= 0:
        raise ValueError("q^0 = sigma_w2 * input_variance + sigma_b2 must be > 0")
    children = seed_sequence(seed, "seed").spawn(n_networks)
    per_net = np.empty((n_networks, depth + 1))
    q_hat = np.empty((n_networks, depth + 1))
    sw_sd, sb_sd = math.sqrt(sw / width), math.sqrt(sb)
    for r, child in enumerate(children):
        rng = np.random.default_rng(child)
        a = rng.standard_normal((n_samples, width)) * math.sqrt(v)
        for layer in range(depth + 1):
            W = rng.standard_normal((width, width)) * sw_sd
            b = rng.standard_normal(width) * sb_sd
            z = a @ W.T + b
            q_hat[r, layer] = float(np.mean(z * z))
            a = np.tanh(z)
        if not np.all(q_hat[r] >= np.finfo(float).tiny):
            raise ValueError("the sampled pre-activation variance underflows double precision "
                             f"(sigma_w2 = {sw:g}, sigma_b2 = {sb:g}, input_variance = {v:g})")
        per_net[r] = 0.5 * np.log(q_hat[r] / q_hat[r, 0])
    value = per_net.mean(axis=0)
    stderr = per_net.std(axis=0, ddof=1) / math.sqrt(n_networks)
    return Estimate(value, stderr, method="monte-carlo", n_samples=int(n_networks * n_samples),
                    extra={"q_hat": q_hat.mean(axis=0), "width": int(width), "n_networks": int(n_networks)})
