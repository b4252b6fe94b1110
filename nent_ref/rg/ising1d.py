"""One-dimensional Ising chain: exact b = 2 decimation, transfer-matrix thermodynamics and
relative entropies along the decimation flow.  Public names are re-exported by :mod:`nent_ref.rg`.

Convention (used throughout): a periodic chain of ``N`` spins ``s_i = ±1`` with Boltzmann weight

    p_{K,h}(s) = exp(K sum_i s_i s_{i+1} + h sum_i s_i) / Z_N(K, h),     s_{N+1} = s_1,

dimensionless couplings (``K = beta J``, ``h = beta H``), entropies in nats, ``N = None`` meaning the
thermodynamic limit ``N -> inf``.  A ring of one spin carries the self-bond ``s_1 s_1 = 1`` so that
``Z_N = tr T^N`` holds for every ``N >= 1``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..core.checks import count, finite_float

LOG2 = math.log(2.0)
#: Largest |K| and |h| accepted from the caller (cosh, sinh and exp(-4K) stay far from overflow).
COUPLING_LIMIT = 100.0
#: Largest |K| and |h| met inside a flow: |h_n| + 2|K_n| never increases along the exact recursion,
#: so a flow started inside the public box stays within |h_n| <= 300 (sinh^2 h overflows beyond ~354).
_INTERNAL_LIMIT = 320.0
#: Most decimation steps any function of this module (and :mod:`nent_ref.rg.ising2d`) takes: a flow
#: returns arrays of ``n_steps + 1`` entries, and from any start in the box it reaches its fixed point
#: exactly in double precision within about 300 steps (measured over the box's corners and centre; after
#: that the entries repeat and are filled in without stepping), so more are refused.
MAX_STEPS = 10 ** 6

__all__ = [
    "Ising1DThermo", "DecimationFlow1D",
    "ising1d_decimation_step", "ising1d_flow", "ising1d_thermo", "ising1d_log_partition_per_site",
    "ising1d_nn_correlation", "ising1d_magnetization", "ising1d_entropy_per_site",
    "ising1d_enumerate_thermo", "ising1d_boltzmann_probabilities",
    "ising1d_kl_original_vs_renormalised_per_site", "ising1d_kl_renormalised_vs_original_per_site",
    "ising1d_kl_original_vs_lifted_coarse_per_site", "ising1d_kl_lifted_coarse_vs_original_per_site",
    "ising1d_kl_limits", "MAX_STEPS", "COUPLING_LIMIT",
]


# ----------------------------------------------------------------------------- validation helpers
def _check_coupling(K, h, limit: float = COUPLING_LIMIT) -> tuple[float, float]:
    K = finite_float("K", K)
    h = finite_float("h", h)
    if abs(K) > limit or abs(h) > limit:
        raise ValueError(f"|K| and |h| must be <= {limit:g} to avoid overflow (got K={K}, h={h})")
    return K, h


def _check_internal(K: float, h: float) -> None:
    """Guard for couplings produced inside a flow (unreachable from the public box; see _INTERNAL_LIMIT)."""
    if not (abs(K) <= _INTERNAL_LIMIT and abs(h) <= _INTERNAL_LIMIT):
        raise ValueError(f"the decimation flow left the range |K|, |h| <= {_INTERNAL_LIMIT:g} "
                         f"(K={K}, h={h}); start from |K0|, |h0| <= {COUPLING_LIMIT:g}")


def _check_size(N, name: str = "N") -> int | None:
    if N is None:
        return None
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer or None (got {N!r})")
    if N < 1:
        raise ValueError(f"{name} must be >= 1 (got {N})")
    return int(N)


def check_steps(n, name: str = "n_steps", maximum: int = None) -> int:
    """``n`` as an int in ``[0, maximum]`` (default :data:`MAX_STEPS`), or a ValueError naming ``name``."""
    maximum = MAX_STEPS if maximum is None else maximum
    return count(name, n, 0, maximum, why=f"a flow of more steps would return arrays of over {maximum} entries, "
                                          "and every flow from the box |K0|, |h0| <= 100 reaches its fixed point "
                                          "exactly (in double precision) within about 300 steps")


def logcosh(x: float) -> float:
    """log cosh x to full relative precision: log1p(2 sinh^2(x/2)) for |x| < 1, no overflow for large |x|."""
    a = abs(x)
    if a < 1.0:
        return math.log1p(2.0 * math.sinh(0.5 * a) ** 2)
    return a + math.log1p(math.exp(-2.0 * a)) - LOG2


# ----------------------------------------------------------------------------- decimation
def ising1d_decimation_step(K, h=0.0) -> tuple[float, float, float]:
    r"""One exact b = 2 decimation step of the periodic Ising chain (sum over every second spin).

    Summing the spin between ``s_1`` and ``s_3`` gives
    :math:`2\cosh(K(s_1+s_3)+h) = \exp(g + K' s_1 s_3 + \tfrac{h'-h}{2}(s_1+s_3))` with

    .. math::

        K' = \tfrac14 \log\frac{\cosh(2K+h)\cosh(2K-h)}{\cosh^2 h},\qquad
        h' = h + \tfrac12 \log\frac{\cosh(2K+h)}{\cosh(2K-h)},\qquad
        g = \tfrac14 \log\left[16 \cosh(2K+h)\cosh(2K-h)\cosh^2 h\right],

    so that :math:`Z_N(K,h) = e^{(N/2) g} Z_{N/2}(K',h')` exactly for every even ``N``, and the marginal
    of :math:`p_{K,h}` on the surviving spins is exactly :math:`p_{K',h'}` on the ring of ``N/2`` spins.
    At ``h = 0``: :math:`\tanh K' = \tanh^2 K`.  (Verified symbolically in
    ``derivations/rg_decimation.py``.)

    Parameters
    ----------
    K, h : float
        Dimensionless nearest-neighbour coupling and field (``|K|, |h| <= 100``).

    Returns
    -------
    (K_new, h_new, g) : tuple of float
        Renormalised coupling and field, and the free-energy constant ``g`` per decimated spin (nats).

    References
    ----------
    Kadanoff, *Statistical Physics: Statics, Dynamics and Renormalization* (2000), ch. 14;
    Erdmenger, Grosvenor, Jefferson, SciPost Phys. 12, 041 (2022), arXiv:2107.06898, sec. 3.
    """
    K, h = _check_coupling(K, h)
    return _step(K, h)


def _step(K: float, h: float) -> tuple[float, float, float]:
    """:func:`ising1d_decimation_step` without the public range check (flows go up to |h| = 300)."""
    _check_internal(K, h)
    # cosh(2K+h) cosh(2K-h) = cosh^2 h + sinh^2 2K  =>  K' = log1p(sinh^2 2K / cosh^2 h) / 4 (no cancellation)
    K_new = 0.25 * math.log1p((math.sinh(2 * K) / math.cosh(h)) ** 2)
    # cosh(2K+h) / cosh(2K-h) = (1 + tanh 2K tanh h) / (1 - tanh 2K tanh h)
    t = math.tanh(2 * K) * math.tanh(h)
    if abs(t) < 0.5:
        h_new = h + math.atanh(t)
    else:
        h_new = h + 0.5 * (logcosh(2 * K + h) - logcosh(2 * K - h))
    g = LOG2 + logcosh(h) + K_new
    return K_new, h_new, g


class DecimationFlow1D(NamedTuple):
    """Couplings along the 1-D decimation flow: arrays of length ``n_steps + 1`` (index = step n).

    ``g[n] = g(K_n, h_n)`` is the free-energy constant (nats per decimated spin) generated by decimating
    the chain at ``(K_n, h_n)``, i.e. by step ``n -> n+1``; the last entry is the constant of the next
    step, which the flow does not take (so every entry is a number: no NaN padding).
    """

    K: np.ndarray
    h: np.ndarray
    g: np.ndarray


def ising1d_flow(K0, h0=0.0, n_steps: int = 10) -> DecimationFlow1D:
    r"""Iterate :func:`ising1d_decimation_step` ``n_steps`` times from ``(K0, h0)``.

    At ``h0 = 0`` the flow is :math:`\tanh K_n = (\tanh K_0)^{2^n}`, which runs to the
    high-temperature fixed point ``K = 0`` for every finite ``K0`` (no phase transition in 1-D).
    The line ``K = 0`` (any ``h``) is a line of fixed points.

    Along the flow :math:`|h_n| + 2|K_n|` does not increase, so from :math:`|K_0|, |h_0| \le 100` the
    couplings stay in :math:`|h_n| \le 300` (the field grows towards :math:`h_\infty` while ``K`` decays).

    Returns
    -------
    DecimationFlow1D
        ``K``, ``h`` and ``g``, each of length ``n_steps + 1`` and starting at step 0: ``K[0] = K0``,
        ``h[0] = h0``, ``g[n] = g(K_n, h_n)`` (see :func:`ising1d_decimation_step`).  No entry is NaN.
    """
    n_steps = check_steps(n_steps)
    K, h = _check_coupling(K0, h0)
    Ks, hs, gs = [K], [h], []
    for _ in range(n_steps):
        K_new, h_new, g = _step(K, h)
        gs.append(g)
        if K_new == K and h_new == h:      # an exact fixed point: every later step repeats this one
            break
        K, h = K_new, h_new
        Ks.append(K)
        hs.append(h)
    rest = n_steps + 1 - len(Ks)
    if rest:
        Ks.extend([K] * rest)
        hs.extend([h] * rest)
        gs.extend([gs[-1]] * (rest - 1))
    gs.append(_step(K, h)[2])          # the constant of step n_steps -> n_steps + 1 (not taken)
    return DecimationFlow1D(np.array(Ks), np.array(hs), np.array(gs))


# ----------------------------------------------------------------------------- thermodynamics
class Ising1DThermo(NamedTuple):
    """Per-site thermodynamics of the periodic chain (nats; ``N = None`` is the N -> inf limit)."""

    log_partition_per_site: float  #: log Z_N / N
    nn_correlation: float  #: <s_i s_{i+1}>
    magnetization: float  #: <s_i>
    entropy_per_site: float  #: H(p_{K,h}) / N


def ising1d_thermo(K, h=0.0, N: int | None = None) -> Ising1DThermo:
    r"""Transfer-matrix thermodynamics of the periodic Ising chain, finite ``N`` or ``N -> inf``.

    With :math:`T_{ss'} = e^{K s s' + h (s+s')/2}`, eigenvalues

    .. math::

        \lambda_\pm = e^K \cosh h \pm \sqrt{e^{2K}\sinh^2 h + e^{-2K}},\qquad
        Z_N = \lambda_+^N + \lambda_-^N,

    :math:`\log Z_N / N = \log\lambda_+ + N^{-1}\log(1 + r^N)` with :math:`r = \lambda_-/\lambda_+`,
    :math:`\langle s_i s_{i+1}\rangle = N^{-1}\partial_K \log Z_N`, :math:`\langle s_i\rangle =
    N^{-1}\partial_h \log Z_N` (analytic derivatives of the eigenvalues) and the entropy per site
    :math:`s = \log Z_N/N - K\langle s_i s_{i+1}\rangle - h\langle s_i\rangle`.

    References
    ----------
    Kramers & Wannier, Phys. Rev. 60, 252 (1941); Baxter, *Exactly Solved Models* (1982), ch. 2.
    """
    K, h = _check_coupling(K, h)
    return _thermo(K, h, _check_size(N))


def _thermo(K: float, h: float, N: int | None) -> Ising1DThermo:
    """:func:`ising1d_thermo` for couplings met inside a flow (|h| up to 300; overflow is a ValueError)."""
    _check_internal(K, h)
    ch, sh = math.cosh(h), math.sinh(h)
    e4 = math.exp(-4.0 * K)
    b = math.sqrt(sh * sh + e4)                    # sqrt(...) / e^K
    lam_p = ch + b                                 # lambda_+ / e^K
    dK_p = ch + (sh * sh - e4) / b                 # (d lambda_+/dK) / e^K
    dh_p = sh + sh * ch / b
    if N is None:
        logz = K + math.log(lam_p)
        u = dK_p / lam_p
        m = dh_p / lam_p
    else:
        # Z_N = lambda_+^N (1 + r^N), r = lambda_-/lambda_+.  Near r = -1 (K << 0, odd N: a frustrated ring)
        # 1 + r^N cancels, so everything is written with the exact differences
        # 1 + r = 2 cosh h / lam_p and 1 - r = 2 b / lam_p (lambda_+ +- lambda_-), and expm1.
        negative = K < 0.0                          # sign of r = sign of lambda_- = sign of 1 - e^{-4K}
        gap = 2.0 * (ch if negative else b) / lam_p   # 1 - |r|, exact
        if gap < 0.5:
            log_abs_r = math.log1p(-gap)
        else:                                       # |r| = |1 - e^{-4K}| / lam_p^2 (lambda_- lambda_+ = 1 - e4)
            log_abs_r = math.log(abs(math.expm1(-4.0 * K))) - 2.0 * math.log(lam_p) if K != 0.0 else -math.inf

        def one_plus(n):                            # 1 + r^n (r^0 = 1, also at r = 0)
            if n == 0:
                return 2.0
            if negative and n % 2 == 1:
                return -math.expm1(n * log_abs_r)
            return 1.0 + math.exp(n * log_abs_r)

        def one_minus(n):                           # 1 - r^n
            if n == 0:
                return 0.0
            if negative and n % 2 == 1:
                return 1.0 + math.exp(n * log_abs_r)
            return -math.expm1(n * log_abs_r)

        zN = one_plus(N)
        if negative and N % 2 == 1:
            logz = K + math.log(lam_p) + math.log(zN) / N
        else:
            logz = K + math.log(lam_p) + math.log1p(math.exp(N * log_abs_r)) / N
        # N^-1 d log Z_N = [dlam_+ + r^(N-1) dlam_-] / (lam_+ (1 + r^N)), written with the half-sums
        # (dlam_+ + dlam_-)/2 = (cosh h, sinh h) and half-differences ((sh^2 - e4)/b, sh ch / b).
        ap, am = one_plus(N - 1), one_minus(N - 1)
        u = (ch * ap + (sh * sh - e4) / b * am) / (lam_p * zN)
        m = (sh * ap + sh * ch / b * am) / (lam_p * zN)
    s = logz - K * u - h * m
    out = Ising1DThermo(logz, u, m, s)
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"overflow in the transfer-matrix thermodynamics at K={K}, h={h}, N={N}")
    return out


def ising1d_log_partition_per_site(K, h=0.0, N: int | None = None) -> float:
    """``log Z_N(K, h) / N`` (nats), see :func:`ising1d_thermo`."""
    return ising1d_thermo(K, h, N).log_partition_per_site


def ising1d_nn_correlation(K, h=0.0, N: int | None = None) -> float:
    """Nearest-neighbour correlation ``<s_i s_{i+1}>``; ``tanh K`` at ``h = 0, N = inf``."""
    return ising1d_thermo(K, h, N).nn_correlation


def ising1d_magnetization(K, h=0.0, N: int | None = None) -> float:
    """Magnetisation per spin ``<s_i>``, see :func:`ising1d_thermo`."""
    return ising1d_thermo(K, h, N).magnetization


def ising1d_entropy_per_site(K, h=0.0, N: int | None = None) -> float:
    """Gibbs entropy per spin of ``p_{K,h}`` in nats, see :func:`ising1d_thermo`."""
    return ising1d_thermo(K, h, N).entropy_per_site


# ----------------------------------------------------------------------------- brute force
_MAX_ENUM = 20


def _configs(N: int) -> np.ndarray:
    idx = np.arange(2 ** N, dtype=np.int64)
    bits = (idx[:, None] >> np.arange(N)) & 1
    return (2 * bits - 1).astype(np.int8)


def ising1d_boltzmann_probabilities(K, h, N: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force Boltzmann distribution of the periodic chain (``N <= 20`` spins).

    Returns
    -------
    (configs, probabilities) : (ndarray of shape (2**N, N) with entries ±1, ndarray of shape (2**N,))
        Row ``j`` of ``configs`` has spin ``i`` equal to ``+1`` iff bit ``i`` of ``j`` is set.
    """
    K, h = _check_coupling(K, h)
    N = _check_size(N)
    if N is None or N > _MAX_ENUM:
        raise ValueError(f"enumeration needs 1 <= N <= {_MAX_ENUM} (got {N})")
    s = _configs(N).astype(float)
    energy = K * (s * np.roll(s, -1, axis=1)).sum(axis=1) + h * s.sum(axis=1)
    shift = energy.max()
    w = np.exp(energy - shift)
    return s.astype(np.int8), w / w.sum()


def ising1d_enumerate_thermo(K, h, N: int) -> Ising1DThermo:
    """The quantities of :func:`ising1d_thermo` by summing over all ``2**N`` configurations."""
    K, h = _check_coupling(K, h)
    s, p = ising1d_boltzmann_probabilities(K, h, N)
    s = s.astype(float)
    bonds = (s * np.roll(s, -1, axis=1)).sum(axis=1)
    mag = s.sum(axis=1)
    energy = K * bonds + h * mag
    shift = energy.max()
    logz = (shift + math.log(np.exp(energy - shift).sum())) / N
    pos = p > 0
    entropy = -float(np.sum(p[pos] * np.log(p[pos]))) / N
    return Ising1DThermo(logz, float(p @ bonds) / N, float(p @ mag) / N, entropy)


# ----------------------------------------------------------------------------- relative entropies
def _kl_same_lattice(Ka, ha, Kb, hb, N) -> float:
    """D(p_{Ka,ha} || p_{Kb,hb}) / N on the same periodic chain (exponential-family identity)."""
    ta = _thermo(Ka, ha, N)
    tb = _thermo(Kb, hb, N)
    value = ((Ka - Kb) * ta.nn_correlation + (ha - hb) * ta.magnetization
             - ta.log_partition_per_site + tb.log_partition_per_site)
    return max(value, 0.0) if value > -1e-13 else value


def ising1d_kl_original_vs_renormalised_per_site(K0, h0=0.0, n: int = 1, N: int | None = None) -> float:
    r"""Per-site :math:`D(p_{K_0,h_0} \,\|\, p_{K_n,h_n})` on one periodic chain of ``N`` spins (nats).

    Both distributions are Boltzmann distributions on the *same* lattice; :math:`(K_n, h_n)` are the
    couplings after ``n`` exact decimation steps (:func:`ising1d_flow`).  For an exponential family

    .. math::

        \frac{1}{N} D(p_a\|p_b) = (K_a-K_b)\langle s_i s_{i+1}\rangle_a + (h_a-h_b)\langle s_i\rangle_a
        - \frac{\log Z_N(a)}{N} + \frac{\log Z_N(b)}{N}.

    It is 0 at ``n = 0`` and, for ferromagnetic ``K0 >= 0`` (any field), non-decreasing in ``n``; at
    ``h0 = 0`` it tends to :math:`K_0\tanh K_0 - \log\cosh K_0` (:func:`ising1d_kl_limits`).  From
    ``K0 < 0`` the first step jumps to ``K1 > 0`` and the sequence is not monotone.

    Parameters
    ----------
    K0, h0 : float
        Starting coupling and field.
    n : int
        Number of decimation steps.
    N : int or None
        Chain length (``None``: thermodynamic limit).

    References
    ----------
    Erdmenger, Grosvenor, Jefferson, SciPost Phys. 12, 041 (2022), arXiv:2107.06898, sec. 3.
    """
    n = check_steps(n, "n")
    flow = ising1d_flow(K0, h0, n)
    return _kl_same_lattice(flow.K[0], flow.h[0], flow.K[-1], flow.h[-1], _check_size(N))


def ising1d_kl_renormalised_vs_original_per_site(K0, h0=0.0, n: int = 1, N: int | None = None) -> float:
    r"""Per-site :math:`D(p_{K_n,h_n} \,\|\, p_{K_0,h_0})` on one periodic chain of ``N`` spins (nats).

    The reverse of :func:`ising1d_kl_original_vs_renormalised_per_site`; non-decreasing in ``n`` for
    ``K0 >= 0``; at ``h0 = 0`` it tends to :math:`\log\cosh K_0`.
    """
    n = check_steps(n, "n")
    flow = ising1d_flow(K0, h0, n)
    return _kl_same_lattice(flow.K[-1], flow.h[-1], flow.K[0], flow.h[0], _check_size(N))


def _lift_check(N, n):
    N = _check_size(N)
    if N is not None and N % (2 ** n) != 0:
        raise ValueError(f"N = {N} must be divisible by 2**n = {2 ** n} for {n} exact decimation steps")
    return N


def _lifted_ends(K0, h0, n, N):
    """(thermo at (K0, h0) on N sites, thermo at (K_n, h_n) on N / 2^n sites, 2^-n); None for n = 0."""
    n = check_steps(n, "n")
    N = _lift_check(N, n)
    if n == 0:
        return None
    flow = ising1d_flow(K0, h0, n)
    Nn = None if N is None else N // 2 ** n
    return (_thermo(flow.K[0], flow.h[0], N), _thermo(flow.K[-1], flow.h[-1], Nn), 2.0 ** (-n))


def ising1d_kl_original_vs_lifted_coarse_per_site(K0, h0=0.0, n: int = 1, N: int | None = None) -> float:
    r"""Per-site :math:`D(p_{K_0,h_0} \,\|\, q_n)`, ``q_n`` the coarse distribution lifted to the fine chain.

    ``q_n`` lives on the fine chain of ``N`` spins: the ``N/2^n`` surviving spins (every ``2^n``-th) follow
    :math:`p_{K_n,h_n}` on the coarse ring of ``N/2^n`` spins and the decimated spins are independent and
    uniform.  Because decimation is exact, the marginal of :math:`p_{K_0,h_0}` on the survivors *is*
    :math:`p_{K_n,h_n}`, so

    .. math::

        \frac1N D(p_{K_0,h_0}\|q_n) = \frac{H(q_n) - H(p_{K_0,h_0})}{N}
        = (1-2^{-n})\log 2 - s_N(K_0,h_0) + 2^{-n} s_{N/2^n}(K_n,h_n),

    the information discarded by the decimation (``s`` = entropy per site).  It is non-decreasing in
    ``n`` for every ``(K0, h0)`` and tends to :math:`\log 2 - s(K_0,h_0)`.
    ``N`` must be divisible by ``2**n``.
    """
    ends = _lifted_ends(K0, h0, n, N)
    if ends is None:
        return 0.0
    t0, tn, frac = ends
    return max((1.0 - frac) * LOG2 - t0.entropy_per_site + frac * tn.entropy_per_site, 0.0)


def ising1d_kl_lifted_coarse_vs_original_per_site(K0, h0=0.0, n: int = 1, N: int | None = None) -> float:
    r"""Per-site :math:`D(q_n \,\|\, p_{K_0,h_0})`, ``q_n`` as in :func:`ising1d_kl_original_vs_lifted_coarse_per_site`.

    Every fine bond touches a decimated (uniform, independent) spin when ``n >= 1``, so
    :math:`E_{q_n}[s_i s_{i+1}] = 0` and

    .. math::

        \frac1N D(q_n\|p_{K_0,h_0}) = \frac{\log Z_N(K_0,h_0)}{N} - (1-2^{-n})\log 2
        - 2^{-n}\left[s_{N/2^n}(K_n,h_n) + h_0 \langle s\rangle_{K_n,h_n}\right],

    which tends to :math:`\log Z/N - \log 2` (:math:`\log\cosh K_0` at ``h0 = 0``, ``N = inf``).
    Unlike the other three it is *not* monotone: 0 at ``n = 0``, a jump at ``n = 1``, then (at
    ``h0 = 0``) a decrease to the limit.
    """
    ends = _lifted_ends(K0, h0, n, N)
    if ends is None:
        return 0.0
    t0, tn, frac = ends
    value = (t0.log_partition_per_site - (1.0 - frac) * LOG2
             - frac * (tn.entropy_per_site + float(h0) * tn.magnetization))
    return max(value, 0.0)


def ising1d_kl_limits(K0, h0=0.0, tol: float = 1e-15, max_steps: int = 1000) -> dict:
    r"""The ``n -> inf`` limits of the four per-site relative entropies (thermodynamic limit).

    The flow ends on the fixed line ``K = 0`` at field :math:`h_\infty` (found by iterating the exact
    recursion until ``|K_n| < tol``; :math:`h_\infty = h_0` when ``h0 = 0``).  While ``K`` is large
    and ``h`` small each step lowers ``K`` by only about :math:`\tfrac12\log 2`, so ``|K0| = 100``
    needs about 300 steps (within the default ``max_steps``).  With ``s``, ``u``, ``m``,
    :math:`\phi = \log Z/N` at :math:`(K_0,h_0)`:

    * ``original_vs_renormalised``: :math:`K_0 u + (h_0-h_\infty) m - \phi + \log(2\cosh h_\infty)`
      (:math:`= K_0\tanh K_0 - \log\cosh K_0` at ``h0 = 0``);
    * ``renormalised_vs_original``: :math:`-K_0 \tanh^2 h_\infty + (h_\infty-h_0)\tanh h_\infty
      - \log(2\cosh h_\infty) + \phi` (the limit measure is a product measure with
      :math:`\langle s\rangle = \tanh h_\infty`; :math:`=\log\cosh K_0` at ``h0 = 0``);
    * ``original_vs_lifted_coarse``: :math:`\log 2 - s`;
    * ``lifted_coarse_vs_original``: :math:`\phi - \log 2`.

    Returns
    -------
    dict
        Keys as above (nats per site), plus ``h_inf`` and ``steps_used``.
    """
    K, h = _check_coupling(K0, h0)
    tol = finite_float("tol", tol)
    if tol <= 0:
        raise ValueError(f"tol must be > 0 (got {tol})")
    max_steps = check_steps(max_steps, "max_steps")
    K_start, h_start = K, h
    steps = 0
    while abs(K) >= tol:
        if steps >= max_steps:
            raise ValueError(f"the decimation flow did not reach K = 0 within {max_steps} steps")
        K, h, _ = _step(K, h)
        steps += 1
    t0 = _thermo(K_start, h_start, None)
    tinf = _thermo(0.0, h, None)
    fwd = ((K_start - 0.0) * t0.nn_correlation + (h_start - h) * t0.magnetization
           - t0.log_partition_per_site + tinf.log_partition_per_site)
    rev = ((0.0 - K_start) * tinf.nn_correlation + (h - h_start) * tinf.magnetization
           - tinf.log_partition_per_site + t0.log_partition_per_site)
    return {
        "original_vs_renormalised": fwd,
        "renormalised_vs_original": rev,
        "original_vs_lifted_coarse": LOG2 - t0.entropy_per_site,
        "lifted_coarse_vs_original": t0.log_partition_per_site - LOG2,
        "h_inf": h,
        "steps_used": steps,
    }
