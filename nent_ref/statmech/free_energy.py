"""Free energy and mean field: canonical thermodynamics, the Gibbs variational principle, exact and mean-field Ising models.

Part of :mod:`nent_ref.statmech` (the primer); see its docstring for the conventions and references.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..core.checks import real_array
from . import _core as _c

__all__ = ["Thermodynamics", "thermodynamics", "variational_free_energy", "ising_energies", "IsingExact", "ising_exact", "mean_field_free_energy", "MeanField", "ising_mean_field"]


# ============================================================================ free energy
@dataclass(frozen=True)
class Thermodynamics:
    r"""Canonical-ensemble quantities at inverse temperature :math:`\beta` (k_B = 1, nats).

    Attributes
    ----------
    beta, log_partition : float
        :math:`\beta` and :math:`\log Z(\beta) = \log\sum_x g(x)e^{-\beta E(x)}`.
    free_energy : float
        :math:`F = -\log Z/\beta`.
    internal_energy : float
        :math:`U = -\partial_\beta\log Z = \langle E\rangle_\beta`.
    entropy : float
        :math:`S = \beta(U - F)` (nats).
    heat_capacity : float
        :math:`C = \beta^2\,\mathrm{Var}_\beta(E) = -\beta^2\,\partial_\beta U`.
    probabilities : ndarray
        Boltzmann distribution :math:`p_\beta(x) = g(x)e^{-\beta E(x)}/Z`.
    """

    beta: float
    log_partition: float
    free_energy: float
    internal_energy: float
    entropy: float
    heat_capacity: float
    probabilities: np.ndarray


def thermodynamics(energies, beta, degeneracy=None) -> Thermodynamics:
    r"""Free energy, energy, entropy and heat capacity of a finite system from :math:`\log Z`.

    .. math:: Z(\beta) = \sum_x g(x)e^{-\beta E(x)},\ F = -\frac{\log Z}{\beta},\
              U = -\frac{\partial\log Z}{\partial\beta},\ S = \beta(U - F),\
              C = \beta^2\frac{\partial^2\log Z}{\partial\beta^2}.

    The derivatives are the analytic cumulants of the energy (exponential family
    with statistic :math:`-E` and natural parameter :math:`\beta`).  Everything is computed
    from the excitation energies :math:`\epsilon(x) = E(x) - E_0 \ge 0` (:math:`E_0` the ground
    state) so that no product :math:`\beta E` can overflow into ``inf - inf`` or ``0 * inf``:

    .. math:: \log Z = -\beta E_0 + \log Z_\epsilon,\quad
              Z_\epsilon = \sum_x g(x) e^{-\beta\epsilon(x)},\quad
              U = E_0 + \langle\epsilon\rangle,\quad
              S = \log Z_\epsilon + \beta\langle\epsilon\rangle,\quad
              C = \big\langle(\beta\epsilon - \beta\langle\epsilon\rangle)^2\big\rangle,

    with :math:`\log Z_\epsilon` a log-sum-exp, averages over the states with :math:`p(x) > 0` only
    (there :math:`\beta\epsilon(x)` is finite) and the variance taken about the mean (centred
    energies).  So every field is finite for every ``beta`` in ``(0, inf)`` whose
    :math:`\log Z` and ``F`` are representable; e.g. at huge ``beta`` a non-degenerate ground
    state gives ``U -> E_0``, ``S -> log g(x_0)`` and ``C -> 0`` (the limits, not NaN).

    Parameters
    ----------
    energies : array_like, shape (m,)
        Energy levels (real, finite).
    beta : float
        Inverse temperature, > 0.
    degeneracy : array_like, shape (m,), optional
        Positive multiplicities :math:`g(x)` (default 1).

    Raises
    ------
    ValueError
        On bad input (complex, NaN, ``beta <= 0``), or when :math:`\log Z = -\beta E_0 + \dots`
        or :math:`F = E_0 - \log Z_\epsilon/\beta` overflows double precision (e.g.
        ``beta = 1e300`` with ``E_0 = -1e10``, or ``beta = 1e-310``).
    """
    if np.ndim(energies) != 1:
        raise ValueError(f"energies must be a 1-d array; got shape {np.shape(energies)}")
    e = _c.as_stats(energies, "energies")[:, 0]
    b = _c.check_beta(beta)
    log_g = _c.as_log_base_measure(degeneracy, e.shape[0], "degeneracy")
    return _canonical(e, b, log_g)


def _canonical(e: np.ndarray, b: float, log_g: np.ndarray) -> Thermodynamics:
    """The canonical ensemble of :func:`thermodynamics` from validated inputs (see its notes)."""
    e0 = float(e.min())
    with np.errstate(over="ignore", invalid="ignore"):
        eps = e - e0                        # >= 0; inf only if the spread of E overflows
        x = b * eps                         # beta * epsilon >= 0
        # where the spread overflows, beta * epsilon may still be small (beta = 1e-320 across
        # [-1e308, 1e308]): take it as beta E - beta E_0 (each product finite, or +inf when it truly is)
        x = np.where(np.isfinite(eps), x, b * e - b * e0)
    z = log_g - x
    log_z_eps = float(logsumexp(z))         # finite: the ground state contributes log g(x_0)
    p = np.exp(z - log_z_eps)
    # Only states with p > 0 enter the averages; for them beta * eps is finite (<~ 1500), so no term is
    # 0 * inf, and the products below are plain (full relative precision).
    live = p > 0
    pl, el, xl = p[live], eps[live], x[live]
    beta_mean_eps = float(pl @ xl)                      # beta <epsilon>
    if np.all(np.isfinite(el)):
        internal = e0 + float(pl @ el)                  # E_0 + <epsilon>
    else:
        internal = float(pl @ e[live])                  # <E>: a convex combination, no overflow
    d = xl - beta_mean_eps                              # beta (epsilon - <epsilon>), centred
    heat = float(pl @ (d * d))
    with np.errstate(over="ignore"):
        log_z = -b * e0 + log_z_eps
        f = e0 - log_z_eps / b
    if not math.isfinite(log_z):
        raise ValueError(f"log Z = -beta E_0 + log Z_eps overflows double precision (beta = {b:g}, "
                         f"ground-state energy E_0 = {e0:g})")
    if not math.isfinite(f):
        raise ValueError(f"the free energy F = -log Z / beta = -({log_z!r}) / {b:g} overflows double precision "
                         f"(beta = {b:g}, log Z_eps = {log_z_eps:g}); log Z itself is {log_z!r}")
    return Thermodynamics(beta=b, log_partition=log_z, free_energy=f, internal_energy=internal,
                          entropy=log_z_eps + beta_mean_eps, heat_capacity=heat, probabilities=p)


def variational_free_energy(q, energies, beta, degeneracy=None) -> float:
    r"""Variational free energy :math:`F(q) = E_q[E] - \tfrac1\beta(H(q) + E_q\log g)`.

    Gibbs variational principle: :math:`F(q) - F = \mathrm{KL}(q\|p_\beta)/\beta \ge 0`.
    """
    e = _c.as_stats(energies, "energies")
    if e.shape[1] != 1:
        raise ValueError("energies must be a 1-d array")
    e = e[:, 0]
    q = _c.as_probability(q, e.shape[0], name="q")
    b = _c.check_beta(beta)
    log_g = _c.as_log_base_measure(degeneracy, e.shape[0], "degeneracy")
    live = q > 0
    with np.errstate(over="ignore"):
        val = float(q[live] @ e[live]) + (_c.xlogy_sum(q, _c.safe_log(q)) - float(q[live] @ log_g[live])) / b
    if not math.isfinite(val):
        raise ValueError(f"F(q) = E_q[E] - (H(q) + E_q log g) / beta overflows double precision (beta = {b:g})")
    return val


# ============================================================================ Ising models
def _ising_inputs(coupling, field):
    j = real_array("coupling", coupling)
    if j.ndim != 2 or j.shape[0] != j.shape[1] or j.shape[0] < 1:
        raise ValueError(f"coupling must be a square matrix; got shape {np.shape(coupling)}")
    n = j.shape[0]
    if not np.array_equal(j, j.T):
        raise ValueError("coupling must be symmetric")
    if np.any(np.diag(j) != 0):
        raise ValueError("coupling must have a zero diagonal")
    h = np.zeros(n) if field is None else _c.as_vector(field, n, "field")
    return j, h


def ising_energies(coupling, field=None):
    r"""All :math:`2^n` spin configurations and their energies :math:`E(s) = -\tfrac12 s^\top J s - h^\top s`.

    Returns ``(spins, energies)`` with ``spins`` of shape ``(2**n, n)`` in {-1, +1}.
    Limited to n <= 22.
    """
    j, h = _ising_inputs(coupling, field)
    n = j.shape[0]
    if n > 22:
        raise ValueError(f"exact enumeration is limited to n <= 22 spins (got {n})")
    idx = np.arange(2**n)[:, None]
    spins = 1.0 - 2.0 * ((idx >> np.arange(n)) & 1)
    energies = -0.5 * np.einsum("ki,ij,kj->k", spins, j, spins) - spins @ h
    return spins, energies


@dataclass(frozen=True)
class IsingExact:
    """Exact Ising quantities by enumeration (``log_partition``, ``free_energy``,
    ``internal_energy``, ``entropy``, ``magnetization`` <s_i>, ``correlation`` <s_i s_j>)."""

    log_partition: float
    free_energy: float
    internal_energy: float
    entropy: float
    magnetization: np.ndarray
    correlation: np.ndarray


def ising_exact(coupling, beta, field=None) -> IsingExact:
    r"""Exact free energy :math:`F = -\tfrac1\beta\log\sum_s e^{-\beta E(s)}` by enumeration (n <= 22)."""
    b = _c.check_beta(beta)
    spins, energies = ising_energies(coupling, field)
    th = thermodynamics(energies, b)
    p = th.probabilities
    mag = p @ spins
    corr = (spins * p[:, None]).T @ spins
    return IsingExact(log_partition=th.log_partition, free_energy=th.free_energy,
                      internal_energy=th.internal_energy, entropy=th.entropy,
                      magnetization=mag, correlation=corr)


def _binary_entropy_pm(m: np.ndarray) -> np.ndarray:
    """Entropy (nats) of a +-1 spin with mean m."""
    out = np.zeros_like(m)
    for s in (1.0, -1.0):
        pr = 0.5 * (1.0 + s * m)
        pos = pr > 0
        out[pos] -= pr[pos] * np.log(pr[pos])
    return out


def mean_field_free_energy(m, coupling, beta, field=None) -> float:
    r"""Naive mean-field free energy of the product distribution with magnetisations ``m``.

    .. math:: F_{MF}(m) = -\tfrac12 m^\top J m - h^\top m - \frac1\beta\sum_i H_2\!\left(\tfrac{1+m_i}{2}\right),

    which equals :math:`E_q[E] - H(q)/\beta` for the product measure q, hence
    :math:`F_{MF}(m) \ge F` (Gibbs variational principle).
    """
    j, h = _ising_inputs(coupling, field)
    b = _c.check_beta(beta)
    m = _c.as_vector(m, j.shape[0], "m")
    if np.any(np.abs(m) > 1):
        raise ValueError("magnetisations must lie in [-1, 1]")
    with np.errstate(over="ignore"):
        val = float(-0.5 * m @ j @ m - h @ m - np.sum(_binary_entropy_pm(m)) / b)
    if not math.isfinite(val):
        raise ValueError(f"the mean-field free energy overflows double precision (beta = {b:g})")
    return val


@dataclass(frozen=True)
class MeanField:
    """Mean-field solution: magnetisations ``m``, ``free_energy`` F_MF(m), the
    self-consistency ``residual`` max_i |m_i - tanh(beta (J m + h)_i)|, ``sweeps``, and
    ``m_error``, the first-order error estimate ``|G^{-1}|_inf * residual`` with
    ``G = I - diag(beta (1 - m^2)) J`` the Jacobian of the equations (``inf`` where G is
    singular, i.e. exactly at a mean-field critical point, where the residual no
    longer controls the error of ``m``; the free energy is stationary there and
    remains accurate)."""

    m: np.ndarray
    free_energy: float
    residual: float
    sweeps: int
    m_error: float


def ising_mean_field(coupling, beta, field=None, init=None, tol: float = 1e-13,
                     max_sweeps: int = 20000) -> MeanField:
    r"""Solve the mean-field equations :math:`m_i = \tanh(\beta(\sum_j J_{ij}m_j + h_i))`.

    Sequential (Gauss-Seidel) updates, each the exact minimiser of :math:`F_{MF}` in one
    coordinate, so :math:`F_{MF}` decreases monotonically; then Newton polishing on the
    self-consistency equations.  Without ``init`` the iteration is started from
    ``+0.9``, ``-0.9`` and ``tanh(beta h)`` and the lowest free energy is returned.

    Raises
    ------
    ValueError
        On bad input or if the residual does not fall below ``tol`` (reported, not hidden).

    References
    ----------
    Wainwright & Jordan (2008), section 5.3; Parisi, *Statistical Field Theory* (1988), ch. 2.
    """
    j, h = _ising_inputs(coupling, field)
    b = _c.check_beta(beta)
    n = j.shape[0]
    best = None
    with np.errstate(over="ignore"):          # beta (J m + h) may overflow to +-inf: tanh(+-inf) = +-1, exact
        starts = ([np.full(n, 0.9), np.full(n, -0.9), np.tanh(b * h)] if init is None
                  else [_c.as_vector(init, n, "init")])
        for m0 in starts:
            sol = _mean_field_from(j, h, b, np.clip(m0.copy(), -1.0, 1.0), tol, max_sweeps)
            if best is None or sol.free_energy < best.free_energy:
                best = sol
    return best


def _mean_field_from(j, h, b, m, tol, max_sweeps):
    n = m.shape[0]
    sweeps = 0

    def residual(x):
        return float(np.max(np.abs(x - np.tanh(b * (j @ x + h)))))

    while sweeps < max_sweeps and residual(m) > max(tol, 1e-9):
        for i in range(n):
            m[i] = math.tanh(b * (float(j[i] @ m) + h[i]))
        sweeps += 1
    for _ in range(50):  # Newton polishing: g(m) = m - tanh(beta (J m + h))
        r = residual(m)
        if r <= tol:
            break
        t = np.tanh(b * (j @ m + h))
        jac = np.eye(n) - (b * (1.0 - t * t))[:, None] * j
        try:
            cand = m - np.linalg.solve(jac, m - t)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.abs(cand) <= 1.0) or residual(cand) >= r:
            break
        m = cand
    r = residual(m)
    if r > max(tol, 1e-10):
        raise ValueError(f"mean-field iteration did not converge (residual {r:.2e} after {sweeps} sweeps)")
    t = np.tanh(b * (j @ m + h))
    jac = np.eye(n) - (b * (1.0 - t * t))[:, None] * j
    try:
        inv_norm = float(np.max(np.sum(np.abs(np.linalg.inv(jac)), axis=1)))
    except np.linalg.LinAlgError:
        inv_norm = math.inf
    m_error = inv_norm * r if math.isfinite(inv_norm) else math.inf
    return MeanField(m=m, free_energy=mean_field_free_energy(m, j, b, h), residual=r, sweeps=sweeps,
                     m_error=m_error)
