"""Two-dimensional square-lattice Ising model: Onsager's solution, exact strips and small periodic lattices,
one exact decimation step, truncated RG recursions and relative entropies along them.
Public names are re-exported by :mod:`nent_ref.rg`.

Convention: zero field, ``p_K(s) = exp(K sum_<ij> s_i s_j) / Z`` with nearest-neighbour bonds of the square
lattice (2 bonds per site), dimensionless ``K = beta J >= 0``, entropies in nats.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy import integrate, optimize, special

from ..core.checks import count, finite_float
from .ising1d import check_steps, logcosh

LOG2 = math.log(2.0)
#: Onsager's critical coupling K_c = log(1 + sqrt 2) / 2 = 0.44068679350977...
ISING2D_KC = 0.5 * math.log1p(math.sqrt(2.0))

#: Truncated recursions available to :func:`ising2d_flow`.
ISING2D_SCHEMES = ("one_coupling", "migdal_kadanoff")

__all__ = [
    "ISING2D_KC", "ISING2D_SCHEMES", "Ising2DThermo",
    "ising2d_thermo", "ising2d_log_partition_per_site", "ising2d_nn_correlation", "ising2d_entropy_per_site",
    "ising2d_log_partition_double_integral", "ising2d_strip_thermo", "ising2d_transfer_matrix_thermo",
    "ising2d_enumerate_thermo", "ising2d_boltzmann_probabilities",
    "ising2d_decimation_couplings", "ising2d_one_coupling_step", "ising2d_migdal_kadanoff_step",
    "ising2d_step", "ising2d_fixed_point", "ising2d_flow", "ising2d_rg_eigenvalue",
    "ising2d_kl_original_vs_renormalised_per_site", "ising2d_kl_renormalised_vs_original_per_site",
    "ising2d_kl_asymptotes", "MAX_STRIP_WIDTH",
]

_K_MAX = 1.0e6


def _check_K(K, name: str = "K") -> float:
    K = finite_float(name, K)
    if K < 0.0:
        raise ValueError(f"{name} must be >= 0 (ferromagnetic square lattice; got {K})")
    if K > _K_MAX:
        raise ValueError(f"{name} must be <= {_K_MAX:g} (got {K})")
    return K


class Ising2DThermo(NamedTuple):
    """Per-site thermodynamics of the square-lattice Ising model (nats)."""

    log_partition_per_site: float  #: log Z / N
    nn_correlation: float  #: <s_i s_j> for nearest neighbours
    entropy_per_site: float  #: H(p_K) / N = log Z/N - 2 K <s_i s_j>


# ----------------------------------------------------------------------------- Onsager
def _onsager_logz(K: float) -> float:
    if K == 0.0:
        return LOG2
    if K > 30.0:
        return 2.0 * K          # corrections O(exp(-4K)) < 1e-52: below double precision of 2K
    S = math.sinh(2 * K) if K < 300 else math.inf
    # k = 2 sinh 2K / cosh^2 2K, written to stay finite for large K
    k = 2.0 * S / (1.0 + S * S) if math.isfinite(S) else 0.0
    if k == 0.0:
        integral = 0.0
    else:
        def f(theta):
            x = k * math.sin(theta)
            return math.log(0.5 * (1.0 + math.sqrt(max(1.0 - x * x, 0.0))))
        integral, _ = integrate.quad(f, 0.0, 0.5 * math.pi, epsabs=1e-15, epsrel=1e-13, limit=200)
    return LOG2 + logcosh(2 * K) + integral / math.pi


def _onsager_u(K: float) -> float:
    if K == 0.0:
        return 0.0
    if K < 0.05:
        # d/dK of the single-integral form (smooth for small K, no cancellation)
        S, C = math.sinh(2 * K), math.cosh(2 * K)
        k = 2 * S / (C * C)
        dk = (4 * C * C * C - 8 * S * S * C) / C ** 4  # d/dK [2 sinh 2K / cosh^2 2K]

        def f(theta):
            x2 = (k * math.sin(theta)) ** 2
            r = math.sqrt(1.0 - x2)
            return -k * dk * math.sin(theta) ** 2 / (r * (1.0 + r))
        integral, _ = integrate.quad(f, 0.0, 0.5 * math.pi, epsabs=1e-16, epsrel=1e-13)
        return 0.5 * (2.0 * math.tanh(2 * K) + integral / math.pi)
    if K > 30.0:
        return 1.0              # 1 - <s s'> = O(exp(-8K)) < 1e-100
    S = math.sinh(2 * K)
    S2 = S * S
    p = ((1.0 - S2) / (1.0 + S2)) ** 2          # 1 - k^2, cancellation-free
    coth = math.cosh(2 * K) / S
    a = (S2 - 1.0) / (S2 + 1.0)                  # 2 tanh^2 2K - 1
    prod = 0.0 if a == 0.0 else a * float(special.ellipkm1(p))
    return 0.5 * coth * (1.0 + (2.0 / math.pi) * prod)


def ising2d_thermo(K) -> Ising2DThermo:
    r"""Onsager's exact thermodynamics of the infinite square-lattice Ising model at zero field.

    .. math::

        \frac{\log Z}{N} = \log(2\cosh 2K) + \frac1\pi\int_0^{\pi/2}
        \log\frac{1+\sqrt{1-k^2\sin^2\theta}}{2}\,d\theta,\qquad k = \frac{2\sinh 2K}{\cosh^2 2K},

    .. math::

        \langle s_i s_j\rangle_{nn} = \frac12\coth 2K\left[1 + \frac2\pi(2\tanh^2 2K-1)\,\mathbf K(k)\right],

    (:math:`\mathbf K` the complete elliptic integral of the first kind, modulus ``k``), and the entropy
    per site :math:`s = \log Z/N - 2K\langle s_i s_j\rangle`.  The critical coupling is
    :math:`K_c = \tfrac12\log(1+\sqrt2)` (:data:`ISING2D_KC`), where the correlation is
    :math:`1/\sqrt2`.  The integral is done by adaptive quadrature (``epsrel = 1e-14``); the
    double-integral form :func:`ising2d_log_partition_double_integral` is an independent check.

    References
    ----------
    L. Onsager, Phys. Rev. 65, 117 (1944); Huang, *Statistical Mechanics* (1987), sec. 15.
    """
    K = _check_K(K)
    logz = _onsager_logz(K)
    u = _onsager_u(K)
    return Ising2DThermo(logz, u, logz - 2.0 * K * u)


def ising2d_log_partition_per_site(K) -> float:
    """Onsager's ``log Z / N`` (nats), see :func:`ising2d_thermo`."""
    return ising2d_thermo(K).log_partition_per_site


def ising2d_nn_correlation(K) -> float:
    """Onsager's nearest-neighbour correlation ``<s_i s_j>``, see :func:`ising2d_thermo`."""
    return ising2d_thermo(K).nn_correlation


def ising2d_entropy_per_site(K) -> float:
    """Entropy per site of the infinite lattice (nats), see :func:`ising2d_thermo`."""
    return ising2d_thermo(K).entropy_per_site


def ising2d_log_partition_double_integral(K) -> float:
    r"""Onsager's double-integral form, an independent check of :func:`ising2d_log_partition_per_site`:

    .. math::

        \frac{\log Z}{N} = \log 2 + \frac{1}{2\pi^2}\int_0^\pi\!\!\int_0^\pi
        \log\left[\cosh^2 2K - \sinh 2K(\cos\theta_1+\cos\theta_2)\right] d\theta_1 d\theta_2 .

    Adaptive 2-D quadrature (``scipy.integrate.dblquad``), intended for ``K <= 5`` away from ``K_c``.
    """
    K = _check_K(K)
    if K > 5.0:
        raise ValueError(f"the double-integral form is meant for K <= 5 (got {K})")
    C2, S = math.cosh(2 * K) ** 2, math.sinh(2 * K)
    val, _ = integrate.dblquad(lambda a, b: math.log(C2 - S * (math.cos(a) + math.cos(b))),
                               0.0, math.pi, 0.0, math.pi, epsabs=1e-13, epsrel=1e-13)
    return LOG2 + val / (2 * math.pi ** 2)


# ----------------------------------------------------------------------------- strips and small lattices
def ising2d_strip_thermo(K, L: int) -> Ising2DThermo:
    r"""Exact thermodynamics of an infinitely long strip of periodic width ``L`` (Kaufman's eigenvalue).

    The largest eigenvalue of the column transfer matrix is

    .. math::

        \log\lambda_{\max} = \frac L2\log(2\sinh 2K) + \frac12\sum_{j=0}^{L-1}\gamma_{2j+1},\qquad
        \cosh\gamma_q = \frac{\cosh^2 2K}{\sinh 2K} - \cos\frac{\pi q}{L},

    so :math:`\log Z/N = \log\lambda_{\max}/L`; the correlation is :math:`\tfrac{1}{2}\,d(\log Z/N)/dK`
    (analytic derivative).  Converges to :func:`ising2d_thermo` as ``L -> inf`` (exponentially away from
    :math:`K_c`); checked against a numerical transfer matrix in the tests.

    References
    ----------
    B. Kaufman, Phys. Rev. 76, 1232 (1949).
    """
    K = _check_K(K)
    L = count("L", L, 1, MAX_STRIP_WIDTH, why="the sum over L modes; at that width the strip equals the "
                                              "infinite lattice (ising2d_thermo) to double precision away from K_c")
    if K == 0.0:
        return Ising2DThermo(LOG2, 0.0, LOG2)
    if K > 50.0:
        # corrections are O(exp(-2K)) < 1e-43 relative to 2K: the two ground states dominate
        return Ising2DThermo(2.0 * K, 1.0, 0.0)
    S, C = math.sinh(2 * K), math.cosh(2 * K)
    theta = np.pi * (2 * np.arange(L) + 1) / L
    cos = np.cos(theta)
    # cosh gamma_q = c_q = a_q / S with a_q = C^2 - S cos theta_q; written so that log S cancels
    # analytically: log Z/N = log 2 + (1/2L) sum_q [log a_q + log((1 + r_q)/2)], r_q = sqrt(1 - S^2/a_q^2)
    a = C * C - S * cos
    a_minus_s = (1.0 - S) ** 2 + 2.0 * S * np.sin(0.5 * theta) ** 2     # a_q - S, cancellation-free
    r = np.sqrt(a_minus_s * (a + S)) / a
    w = (S / a) ** 2
    ell = np.log1p(-w / (2.0 * (1.0 + r)))
    logz = LOG2 + 0.5 * float(np.sum(np.log(a) + ell)) / L
    # d log a_q / dK = 2C(2S - cos)/a.  Its O(1) part -2 cos/C sums to -2/C * sum_q cos theta_q, which is
    # exactly 0 for L >= 2 and 2/C for L = 1; the remainder 2S(2C^2 - cos^2)/(C a) is O(S): no cancellation
    # at small K (the naive sum loses all digits of <s s'> ~ K there).
    dlog_a = 2.0 * S * (2.0 * C * C - cos * cos) / (C * a)
    sum_cos = -1.0 if L == 1 else 0.0
    sa = S / a
    dell = sa * (sa * (2.0 * C * (2.0 * S - cos) / a) - 2.0 * C / a) / (r * (1.0 + r))
    dlogz = 0.5 * (float(np.sum(dlog_a + dell)) - 2.0 * sum_cos / C) / L
    u = 0.5 * dlogz
    return Ising2DThermo(logz, u, logz - 2 * K * u)


@lru_cache(maxsize=16)
def _row_matrix(Lx: int) -> np.ndarray:
    """A[s, s'] = sum_i s_i s'_i + (E_row(s) + E_row(s'))/2 for rows of Lx periodic spins."""
    n = 2 ** Lx
    s = (2 * ((np.arange(n)[:, None] >> np.arange(Lx)) & 1) - 1).astype(float)
    e_row = (s * np.roll(s, -1, axis=1)).sum(axis=1)   # Lx = 1, 2 wrap like enumeration
    return s @ s.T + 0.5 * (e_row[:, None] + e_row[None, :])


def ising2d_transfer_matrix_thermo(K, Lx: int, Ly: int | None = None) -> Ising2DThermo:
    r"""Numerical row-to-row transfer matrix of an ``Lx x Ly`` periodic lattice (``Lx <= 10``).

    :math:`T_{ss'} = \exp\{K[\sum_i s_i s'_i + (E(s)+E(s'))/2]\}` with :math:`E(s)` the bond sum inside a
    row; :math:`Z = \mathrm{tr}\,T^{L_y}` from the eigen-decomposition, and
    :math:`\langle s_is_j\rangle = (2N)^{-1}\partial_K\log Z` (Hellmann-Feynman).  ``Ly = None`` gives the
    infinitely long strip (largest eigenvalue only).  Periodic widths ``Lx = 1, 2`` count wrapped bonds
    twice, as enumeration does.
    """
    K = _check_K(K)
    for name, L in (("Lx", Lx), ("Ly", Ly)):
        if L is None and name == "Ly":
            continue
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"{name} must be a positive integer (got {L!r})")
    if Lx > 10:
        raise ValueError(f"Lx must be <= 10 for the numerical transfer matrix (got {Lx})")
    A = _row_matrix(int(Lx))
    M = A.max()
    T = np.exp(K * (A - M))            # scaled by exp(-K M); restored below
    lam, V = np.linalg.eigh(T)
    lmax = lam[-1]
    dT = A * T
    if Ly is None:
        v = V[:, -1]
        logz = (math.log(lmax) + K * M) / Lx
        dlog = (v @ dT @ v) / lmax / Lx            # d log lambda / dK, per site (with the M shift)
        u = 0.5 * dlog
        return Ising2DThermo(logz, u, logz - 2 * K * u)
    Ly = int(Ly)
    N = Lx * Ly
    r = lam / lmax
    rp = r ** Ly
    logz = (Ly * math.log(lmax) + math.log(rp.sum()) + K * M * Ly) / N
    diag = np.einsum("ik,ij,jk->k", V, dT, V)      # v_k^T (A o T) v_k
    rp1 = r ** (Ly - 1)
    dlogz = Ly * float((rp1 * diag / lmax).sum()) / rp.sum()   # d log Z / dK
    u = dlogz / (2 * N)
    return Ising2DThermo(logz, u, logz - 2 * K * u)


_MAX_ENUM_SITES = 20
#: Widest strip :func:`ising2d_strip_thermo` takes (a sum over L modes: 1e7 floats, 80 MB).
MAX_STRIP_WIDTH = 10 ** 7


def _bond_sum(s: np.ndarray, Lx: int, Ly: int) -> np.ndarray:
    g = s.reshape(-1, Ly, Lx)
    return (g * np.roll(g, -1, axis=2)).sum(axis=(1, 2)) + (g * np.roll(g, -1, axis=1)).sum(axis=(1, 2))


def ising2d_boltzmann_probabilities(K, Lx: int, Ly: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force Boltzmann distribution of an ``Lx x Ly`` periodic lattice (``Lx * Ly <= 20``).

    Returns ``(configs, probabilities)``; ``configs`` has shape ``(2**N, N)`` with site ``(x, y)`` at
    column ``y * Lx + x``.
    """
    K = _check_K(K)
    for name, L in (("Lx", Lx), ("Ly", Ly)):
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"{name} must be a positive integer (got {L!r})")
    N = Lx * Ly
    if N > _MAX_ENUM_SITES:
        raise ValueError(f"enumeration needs Lx * Ly <= {_MAX_ENUM_SITES} (got {N})")
    s = (2 * ((np.arange(2 ** N)[:, None] >> np.arange(N)) & 1) - 1).astype(np.int8)
    e = K * _bond_sum(s.astype(float), Lx, Ly)
    w = np.exp(e - e.max())
    return s, w / w.sum()


def ising2d_enumerate_thermo(K, Lx: int, Ly: int) -> Ising2DThermo:
    """:class:`Ising2DThermo` of a small periodic lattice by summing over all ``2**(Lx*Ly)`` states."""
    K = _check_K(K)
    s, p = ising2d_boltzmann_probabilities(K, Lx, Ly)
    N = Lx * Ly
    bonds = _bond_sum(s.astype(float), Lx, Ly)
    e = K * bonds
    logz = (e.max() + math.log(np.exp(e - e.max()).sum())) / N
    pos = p > 0
    return Ising2DThermo(float(logz), float(p @ bonds) / (2 * N),
                         -float(np.sum(p[pos] * np.log(p[pos]))) / N)


# ----------------------------------------------------------------------------- decimation and recursions
def ising2d_decimation_couplings(K) -> tuple[float, float, float, float]:
    r"""One exact decimation step of the square lattice (sum over one checkerboard sublattice).

    A decimated spin :math:`s_0` with neighbours :math:`s_1..s_4` (in cyclic order) gives

    .. math::

        2\cosh\big(K(s_1+s_2+s_3+s_4)\big) = e^{g}\exp\Big[\tfrac{K_1}{2}(s_1s_2+s_2s_3+s_3s_4+s_4s_1)
        + K_2(s_1s_3+s_2s_4) + K_4 s_1s_2s_3s_4\Big]

    with :math:`K_1 = \tfrac14\log\cosh 4K` (nearest neighbours of the rotated lattice, each bond shared
    by two plaquettes), :math:`K_2 = \tfrac18\log\cosh 4K` (next-nearest),
    :math:`K_4 = \tfrac18\log\cosh 4K - \tfrac12\log\cosh 2K` (four-spin) and
    :math:`g = \log 2 + \tfrac18\log\cosh 4K + \tfrac12\log\cosh 2K` per decimated spin.
    Verified by enumeration of the 16 plaquette states (tests) and with sympy
    (``derivations/rg_decimation.py``).

    Returns
    -------
    (K1, K2, K4, g) : tuple of float

    References
    ----------
    Maris & Kadanoff, Am. J. Phys. 46, 652 (1978); Wilson, Rev. Mod. Phys. 47, 773 (1975).
    """
    K = _check_K(K)
    l4, l2 = logcosh(4 * K), logcosh(2 * K)
    return 0.25 * l4, 0.125 * l4, 0.125 * l4 - 0.5 * l2, LOG2 + 0.125 * l4 + 0.5 * l2


def ising2d_one_coupling_step(K) -> float:
    r"""One-coupling truncation of the exact step: :math:`K' = K_1 + K_2 = \tfrac38\log\cosh 4K`.

    The next-nearest coupling is folded into the nearest one (both favour alignment) and the four-spin
    coupling is dropped (lattice spacing grows by :math:`b=\sqrt2`).  Non-trivial fixed point
    :math:`K^* \approx 0.50698` (vs. exact :math:`K_c \approx 0.44069`).

    References
    ----------
    Maris & Kadanoff, Am. J. Phys. 46, 652 (1978); Erdmenger, Grosvenor, Jefferson (2022), sec. 4.
    """
    K = _check_K(K)
    return 0.375 * logcosh(4 * K)


def ising2d_migdal_kadanoff_step(K) -> float:
    r"""Migdal-Kadanoff bond-moving recursion with ``b = 2`` in ``d = 2``:
    :math:`\tanh K' = \tanh^2(2K)`.

    Bonds are moved to double the coupling on the surviving lines (``2K``), then the doubled chain is
    decimated exactly (1-D rule).  Non-trivial fixed point :math:`K^*\approx 0.30469`.

    References
    ----------
    A. A. Migdal, Sov. Phys. JETP 42, 743 (1976); L. P. Kadanoff, Ann. Phys. 100, 359 (1976).
    """
    K = _check_K(K)
    # atanh(t^2) = (1/2) log[(1 + t^2)/(1 - t^2)] with 1 - t^2 = sech^2 2K: accurate for all K
    return 0.5 * math.log1p(math.tanh(2 * K) ** 2) + logcosh(2 * K)


def _scheme(scheme: str):
    if scheme == "one_coupling":
        return ising2d_one_coupling_step
    if scheme == "migdal_kadanoff":
        return ising2d_migdal_kadanoff_step
    raise ValueError(f"unknown RG scheme {scheme!r}; choose from {ISING2D_SCHEMES}")


def ising2d_step(K, scheme: str = "one_coupling") -> float:
    """One step of the named truncated recursion (``"one_coupling"`` or ``"migdal_kadanoff"``)."""
    return _scheme(scheme)(K)


@lru_cache(maxsize=8)
def ising2d_fixed_point(scheme: str = "one_coupling") -> float:
    """Non-trivial fixed point ``K*`` of a truncated recursion (brentq, ``xtol = 1e-15``)."""
    step = _scheme(scheme)
    return optimize.brentq(lambda K: step(K) - K, 0.1, 1.5, xtol=1e-15, rtol=4 * np.finfo(float).eps)


def ising2d_rg_eigenvalue(scheme: str = "one_coupling") -> dict:
    r"""Slope :math:`\lambda = dK'/dK` at ``K*`` and the implied exponent :math:`\nu = \log b/\log\lambda`.

    ``b = sqrt 2`` (one-coupling) or ``2`` (Migdal-Kadanoff); exact 2-D Ising: :math:`\nu = 1`.
    """
    Ks = ising2d_fixed_point(scheme)
    if scheme == "one_coupling":
        slope, b = 1.5 * math.tanh(4 * Ks), math.sqrt(2.0)
    else:
        t = math.tanh(2 * Ks)
        slope, b = 4 * t * (1 - t * t) / (1 - t ** 4), 2.0
    return {"K_star": Ks, "slope": slope, "b": b, "nu": math.log(b) / math.log(slope)}


_FLOW_CAP = 1.0e5


def ising2d_flow(K0, n_steps: int = 10, scheme: str = "one_coupling") -> np.ndarray:
    """Couplings ``K_0 .. K_n`` along a truncated recursion (array of length ``n_steps + 1``).

    Flows from ``K0 < K*`` run to 0, from ``K0 > K*`` to infinity; once a coupling exceeds 1e5 the
    remaining entries are ``inf`` (the ordered fixed point).
    """
    K = _check_K(K0, "K0")
    n_steps = check_steps(n_steps)
    step = _scheme(scheme)
    out = [K]
    for _ in range(n_steps):
        K_new = math.inf if (not math.isfinite(K) or K > _FLOW_CAP) else step(K)
        out.append(K_new)
        if K_new == K:                 # a fixed point (0, inf or K*) in double precision: it stays there
            break
        K = K_new
    return np.array(out + [K] * (n_steps + 1 - len(out)))


# ----------------------------------------------------------------------------- relative entropies
def _thermo_on(K: float, lattice) -> Ising2DThermo:
    if lattice is None:
        return ising2d_thermo(K)
    if isinstance(lattice, (int, np.integer)) and not isinstance(lattice, bool):
        return ising2d_strip_thermo(K, int(lattice))
    if isinstance(lattice, tuple) and len(lattice) == 2:
        return ising2d_transfer_matrix_thermo(K, int(lattice[0]), int(lattice[1]))
    raise ValueError(f"lattice must be None (infinite), an int (strip width) or (Lx, Ly); got {lattice!r}")


def _kl2d(Ka: float, Kb: float, lattice) -> float:
    """D(p_Ka || p_Kb) / N for nearest-neighbour models on the same lattice."""
    if Ka == Kb:
        return 0.0
    if math.isinf(Kb):
        return math.inf          # p_inf is supported on the two ground states
    if math.isinf(Ka):
        tb = _thermo_on(Kb, lattice)
        # p_Ka -> (all up + all down)/2: D/N = 2 Kb*... = log Z_b/N - 2 Kb (entropy of p_inf is log 2 / N)
        n_sites = None if lattice is None or isinstance(lattice, (int, np.integer)) else lattice[0] * lattice[1]
        ent = 0.0 if n_sites is None else LOG2 / n_sites
        return tb.log_partition_per_site - 2.0 * Kb - ent
    ta = _thermo_on(Ka, lattice)
    tb = _thermo_on(Kb, lattice)
    # = 2(Ka - Kb) u_a - phi_a + phi_b written with s_a = phi_a - 2 Ka u_a (no cancellation at large Ka)
    value = -ta.entropy_per_site - 2.0 * Kb * ta.nn_correlation + tb.log_partition_per_site
    return max(value, 0.0) if value > -1e-12 else value


def ising2d_kl_original_vs_renormalised_per_site(K0, n: int = 1, scheme: str = "one_coupling",
                                                 lattice=None) -> float:
    r"""Per-site :math:`D(p_{K_0}\,\|\,p_{K_n})` between nearest-neighbour Ising models on the same lattice.

    :math:`K_n` is the coupling after ``n`` steps of the truncated recursion ``scheme``; both
    distributions are nearest-neighbour Boltzmann distributions on one lattice:

    .. math::

        \frac1N D(p_{K_a}\|p_{K_b}) = 2(K_a-K_b)\langle s_is_j\rangle_{K_a} - \frac{\log Z(K_a)}N
        + \frac{\log Z(K_b)}N .

    Parameters
    ----------
    K0 : float
    n : int
    scheme : {"one_coupling", "migdal_kadanoff"}
    lattice : None, int or (Lx, Ly)
        ``None``: infinite lattice (Onsager); ``L``: infinite strip of periodic width ``L`` (Kaufman);
        ``(Lx, Ly)``: finite periodic lattice (numerical transfer matrix; enumeration in the tests).

    Returns
    -------
    float
        nats per site; ``inf`` on the infinite lattice when the flow reaches the ordered fixed point.

    References
    ----------
    Erdmenger, Grosvenor, Jefferson, SciPost Phys. 12, 041 (2022), arXiv:2107.06898, sec. 4.
    """
    Kn = ising2d_flow(K0, n, scheme)
    return _kl2d(Kn[0], Kn[-1], lattice)


def ising2d_kl_renormalised_vs_original_per_site(K0, n: int = 1, scheme: str = "one_coupling",
                                                 lattice=None) -> float:
    r"""Per-site :math:`D(p_{K_n}\,\|\,p_{K_0})`, the reverse of
    :func:`ising2d_kl_original_vs_renormalised_per_site` (finite on both sides of ``K*``)."""
    Kn = ising2d_flow(K0, n, scheme)
    return _kl2d(Kn[-1], Kn[0], lattice)


def ising2d_kl_asymptotes(K0, scheme: str = "one_coupling") -> dict:
    r"""The ``n -> inf`` limits of the per-site relative entropies on the infinite lattice.

    For :math:`K_0 < K^*` the flow ends at ``K = 0`` (uniform distribution):
    :math:`D(p_{K_0}\|p_0)/N = \log 2 - s(K_0)` and :math:`D(p_0\|p_{K_0})/N = \log Z(K_0)/N - \log 2`.
    For :math:`K_0 > K^*` it ends at ``K = inf`` (the two ground states):
    :math:`D(p_{K_0}\|p_\infty) = \infty` and :math:`D(p_\infty\|p_{K_0})/N = \log Z(K_0)/N - 2K_0`.
    At :math:`K_0 = K^*` both are 0.

    Returns
    -------
    dict
        ``original_vs_renormalised``, ``renormalised_vs_original`` (nats per site), ``K_star``, ``phase``.
    """
    K0 = _check_K(K0, "K0")
    Ks = ising2d_fixed_point(scheme)
    t = ising2d_thermo(K0)
    if K0 < Ks:
        return {"original_vs_renormalised": LOG2 - t.entropy_per_site,
                "renormalised_vs_original": t.log_partition_per_site - LOG2,
                "K_star": Ks, "phase": "disordered"}
    if K0 > Ks:
        return {"original_vs_renormalised": math.inf,
                "renormalised_vs_original": t.log_partition_per_site - 2.0 * K0,
                "K_star": Ks, "phase": "ordered"}
    return {"original_vs_renormalised": 0.0, "renormalised_vs_original": 0.0, "K_star": Ks,
            "phase": "critical"}
