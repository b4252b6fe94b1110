r"""Random-feature score models: an exactly solvable companion to trained networks.

A random-feature model of the deviation from equilibrium (docs/theory.md section 3) is

.. math:: e(x, s) = W(s)\,\phi(x, s),\qquad
          \phi_j(x, s) = \sqrt{2/P}\,\cos\big(\omega_j(s)\cdot x + b_j\big),\qquad
          \omega_j(s) = \frac{\Omega_j}{\sigma(s)},\quad \sigma(s)^2 = \mu(s)^2 \sigma_d^2 + v(s),

with ``P`` random Fourier features: frequencies :math:`\Omega_j \sim N(0, I/\ell^2)` (``bandwidth``
:math:`\ell`) and phases :math:`b_j \sim U[0, 2\pi)`, drawn once from ``seed`` and rescaled at each time
by the width :math:`\sigma(s)` of the diffused data (``data_var`` :math:`= \sigma_d^2`), so that the
features resolve the marginal at every time.  Only the read-out :math:`W(s)` (D x P) is fitted.

The fit
-------
:math:`W(s)` minimises the denoising loss at time ``s`` on N training points :math:`a_i`, with the
noise of the targets integrated out exactly (the limit of infinitely many noise draws per training
point; no Monte Carlo enters the model):

.. math:: W(s) = \arg\min_W \frac1N\sum_i \mathbb E_z \big\|W\phi(y_i, s) - t_i\big\|^2 + \lambda\|W\|_F^2,
          \qquad y_i = \mu a_i + \sqrt v z,\quad t_i = -z/\sqrt v + y_i/k^2,

so :math:`W^T = (A + \lambda I)^{-1} R` with :math:`A = \frac1N\sum_i \mathbb E_z[\phi\phi^T]` and
:math:`R = \frac1N\sum_i \mathbb E_z[\phi\, t^T]`, both closed forms for Fourier features (below).
The conditional mean of the target is the empirical (memoriser) optimum, so the fit is the
L2 projection of the memoriser's :math:`e^*` on the features, weighted by the diffused empirical
distribution.  :math:`\lambda` = ``ridge`` :math:`\cdot\operatorname{tr}A/P` keeps the solve defined
when N < P.  ``points=None`` with Gaussian ``data`` gives the population fit (N = infinity): the
expectations are taken over :math:`p_s` itself.

Gaussian expectations of Fourier features (derived and checked in derivations/random_features.py)
----------------------------------------------------------------------------------------------
For :math:`x \sim N(m, C)` and :math:`\theta_j = \omega_j\cdot m + b_j`, :math:`c = \sqrt{2/P}`:

.. math::
    \mathbb E[\phi_j] &= c\, e^{-\omega_j^T C \omega_j/2}\cos\theta_j,\qquad
    \mathbb E[\nabla\phi_j] = -c\, e^{-\omega_j^T C \omega_j/2}\sin\theta_j\,\omega_j,\\
    \mathbb E[\phi_j\phi_k] &= \tfrac{c^2}{2}\big[e^{-\delta^T C\delta/2}\cos(\theta_j - \theta_k)
        + e^{-\pi^T C\pi/2}\cos(\theta_j + \theta_k)\big],\quad \delta = \omega_j - \omega_k,\ \pi = \omega_j + \omega_k,\\
    \mathbb E[\phi_j\, e^{*}] &= -\mathbb E[\nabla\phi_j] + \big(m\,\mathbb E[\phi_j] + C\,\mathbb E[\nabla\phi_j]\big)/k^2
        \quad (\text{Stein's identity}),

where :math:`e^*(x) = -C^{-1}(x - m) + x/k^2` is the exact deviation of the Gaussian :math:`N(m, C)` from
:math:`p_{eq} = N(0, k^2 I)`.  The same formula with :math:`m = \mu a_i`, :math:`C = v I` is
:math:`\mathbb E_z[\phi(y_i)\, t_i]`.

Exact S_NN and L_EM
-------------------
For Gaussian data :math:`p_s = N(\mu m_d, \mu^2 S_d + vI)` is Gaussian, so with
:math:`G = \mathbb E_{p_s}[\phi\phi^T]` and :math:`H = \mathbb E_{p_s}[\phi\, e^{*T}]`

.. math:: S_{NN} = \int_{s_0}^{s_1} D\,\operatorname{tr}(W G W^T)\,ds,\qquad
          L_{EM} = \int_{s_0}^{s_1} D\,\big[\operatorname{tr}(W G W^T) - 2\operatorname{tr}(W H)
                   + \mathbb E_{p_s}\|e^*\|^2\big]\,ds,

one-dimensional integrals (:math:`D\,\mathbb E\|e^*\|^2` is the closed-form entropy production rate)
done by adaptive Gauss-Kronrod quadrature (``scipy.integrate.quad``) in :math:`\log s`, piece by piece
between decades, each piece to ``rtol``; a piece the integrator cannot converge raises
:class:`QuadratureError` (never a number without its bound).  The error bound is the integrator's
estimate plus a rounding term (:data:`ROUNDING_RTOL` times the integral of the absolute values of the
terms).  :meth:`RandomFeatureModel.__call__` is the same model as a numpy ``e(x, s)`` for the Monte
Carlo estimators (:func:`nent_ref.neural_entropy`), which the tests check against the exact numbers.

References
----------
Rahimi & Recht, "Random features for large-scale kernel machines", NeurIPS 2007 (random Fourier
features); Stein, Ann. Statist. 9 (1981) (Stein's identity); Premkumar, "Neural entropy" (eqs. 3.1-3.2).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..core.checks import count, finite_float, real_array, seed_sequence
from ..core.data import Gaussian
from ..core.estimate import NAT, Estimate
from ..core.processes import check_process, check_times
from .entropy import entropy_production_rate, total_entropy

__all__ = ["RandomFeatureModel", "RandomFeatureResult", "QuadratureError", "random_feature_model",
           "random_feature_curve", "ROUNDING_RTOL", "DEFAULT_RIDGE"]

#: Relative rounding allowance of the integrands (sums of P^2 products of O(1) numbers: P^2 eps
#: = 2.3e-13 for P = 32) that goes into the error bound.
ROUNDING_RTOL = 1e-12
#: Default ridge, relative to tr(A)/P: bounds the condition number of A + lambda I by about 1e6 P, so
#: the solve (and the integrands) are smooth in s to about 1e-9 relative, below the quadrature tolerance.
DEFAULT_RIDGE = 1e-6


class QuadratureError(ArithmeticError):
    """The time integral did not converge to the requested tolerance (no number is returned)."""


def _gaussian_moments(omega, b, m, C, c):
    """E[phi] (P,), E[grad phi] (P, D), E[phi phi^T] (P, P) for x ~ N(m, C) (module docstring)."""
    theta = omega @ m + b
    q = np.einsum("pd,de,pe->p", omega, C, omega)
    damp = np.exp(-0.5 * q)
    e_phi = c * damp * np.cos(theta)
    e_grad = -(c * damp * np.sin(theta))[:, None] * omega
    d = omega[:, None, :] - omega[None, :, :]
    p = omega[:, None, :] + omega[None, :, :]
    qd = np.einsum("jkd,de,jke->jk", d, C, d)
    qp = np.einsum("jkd,de,jke->jk", p, C, p)
    G = 0.5 * c * c * (np.exp(-0.5 * qd) * np.cos(theta[:, None] - theta[None, :])
                       + np.exp(-0.5 * qp) * np.cos(theta[:, None] + theta[None, :]))
    return e_phi, e_grad, G


@dataclass(frozen=True)
class RandomFeatureResult:
    """Exact S_NN, L_EM, C and S_tot (nats, likelihood weighting) of a random-feature model on Gaussian data.

    ``s_nn``, ``l_em`` and ``cross`` come from quadrature (``error_bound`` = integrator estimate +
    rounding); ``s_tot`` is the closed form.  The identity ``L_EM = S_tot + S_NN - 2 C`` holds to the
    sum of the bounds.
    """

    s_nn: Estimate
    l_em: Estimate
    cross: Estimate
    s_tot: Estimate
    n_train: int | None
    n_features: int
    s0: float
    s1: float

    def to_dict(self) -> dict:
        out = {"n_train": self.n_train, "n_features": self.n_features, "s0": self.s0, "s1": self.s1}
        for name in ("s_nn", "l_em", "cross", "s_tot"):
            est = getattr(self, name)
            out[name] = float(est.value)
            out[name + "_error_bound"] = float(est.error_bound)
        out["unit"] = NAT
        return out


class RandomFeatureModel:
    r"""``e(x, s) = W(s) phi(x, s)`` with random Fourier features, fitted as in the module docstring.

    Build it with :func:`random_feature_model`.  Callable as a numpy model ``e(x, s)`` (x (M, D),
    s (M,) or a scalar; every row of one call may have its own time).  :meth:`exact` gives S_NN,
    L_EM and C against Gaussian data exactly (quadrature with an error bound).
    """

    def __init__(self, points, process, n_features, *, data=None, bandwidth=1.0, data_var=1.0,
                 ridge=DEFAULT_RIDGE, seed=0):
        self.process = check_process(process)
        if not process.has_equilibrium:
            raise ValueError(f"random-feature models need a process with an equilibrium (VP or SL); got {process!r}")
        self.n_features = count("n_features", n_features, 1)
        self.bandwidth = finite_float("bandwidth", bandwidth)
        self.data_var = finite_float("data_var", data_var)
        self.ridge = finite_float("ridge", ridge)
        if self.bandwidth <= 0 or self.data_var <= 0:
            raise ValueError(f"bandwidth and data_var must be positive (got {bandwidth}, {data_var})")
        if self.ridge < 0:
            raise ValueError(f"ridge must be >= 0 (got {ridge})")
        if points is None:
            if not isinstance(data, Gaussian):
                raise ValueError("the population fit (points=None) needs Gaussian data (nr.Gaussian); "
                                 f"got {type(data).__name__}")
            self.points = None
            self.data = data
            dim = data.dim
        else:
            pts = real_array("points", points)
            if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] == 0:
                raise ValueError(f"points must be a non-empty (N, D) array of training points (got shape {pts.shape})")
            self.points = np.ascontiguousarray(pts)
            self.data = None
            dim = pts.shape[1]
        self.dim = dim
        rng = np.random.default_rng(seed_sequence(seed))
        self.omega0 = rng.standard_normal((self.n_features, dim)) / self.bandwidth
        self.phase = rng.uniform(0.0, 2.0 * math.pi, self.n_features)
        self._c = math.sqrt(2.0 / self.n_features)
        self._cache: dict = {}

    # -- the pieces at one time
    def _time(self, s):
        s = float(check_times(finite_float("s", s), self.process, "s"))
        if s <= 0.0:
            raise ValueError("random-feature models are defined for s > 0 (the fit needs v(s) > 0)")
        mu2 = float(self.process.mean_coeff_sq(s))
        v = float(self.process.marginal_var(s))
        return s, math.sqrt(mu2), v, self.omega0 / math.sqrt(mu2 * self.data_var + v)

    def weights(self, s) -> np.ndarray:
        """W(s), shape (D, P): the fitted read-out at time s (cached per time)."""
        key = float(s)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        s, mu, v, omega = self._time(s)
        k2 = self.process.peq_var
        c = self._c
        if self.points is None:
            p = self.data.diffuse(self.process, s)
            e_phi, e_grad, A = _gaussian_moments(omega, self.phase, p.mean, p.cov, c)
            R = -e_grad + (np.outer(e_phi, p.mean) + e_grad @ p.cov) / k2
        else:
            centres = mu * self.points                                  # (N, D)
            theta = centres @ omega.T + self.phase                      # (N, P)
            cos_t, sin_t = np.cos(theta), np.sin(theta)
            n = self.points.shape[0]
            damp = np.exp(-0.5 * v * np.sum(omega * omega, axis=1))     # (P,)
            d2 = np.sum((omega[:, None, :] - omega[None, :, :]) ** 2, axis=-1)
            p2 = np.sum((omega[:, None, :] + omega[None, :, :]) ** 2, axis=-1)
            cc, ss = cos_t.T @ cos_t / n, sin_t.T @ sin_t / n
            A = 0.5 * c * c * (np.exp(-0.5 * v * d2) * (cc + ss) + np.exp(-0.5 * v * p2) * (cc - ss))
            mean_sin = sin_t.mean(axis=0)                               # (P,)
            mean_cos_a = cos_t.T @ centres / n                          # (P, D)
            R = c * damp[:, None] * ((1.0 - v / k2) * mean_sin[:, None] * omega + mean_cos_a / k2)
        lam = self.ridge * float(np.trace(A)) / self.n_features
        from scipy import linalg
        Wt = linalg.solve(A + lam * np.eye(self.n_features), R, assume_a="pos")
        W = np.ascontiguousarray(Wt.T)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = W
        return W

    def features(self, x, s) -> np.ndarray:
        """phi(x, s), shape (M, P), for points x (M, D) at one time s."""
        _, _, _, omega = self._time(s)
        return self._c * np.cos(np.asarray(x, dtype=float) @ omega.T + self.phase)

    def __call__(self, x, s):
        x = real_array("x", x)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (M, {self.dim}) (got {x.shape})")
        s = np.broadcast_to(real_array("s", s), (x.shape[0],))
        out = np.empty_like(x)
        for t in np.unique(s):
            rows = s == t
            out[rows] = self.features(x[rows], t) @ self.weights(t).T
        return out

    def __repr__(self):
        fit = "population" if self.points is None else f"N={self.points.shape[0]}"
        return f"RandomFeatureModel(P={self.n_features}, D={self.dim}, {fit}, {self.process!r})"

    # -- exact quantities
    def integrands(self, data: Gaussian, s):
        """``(D tr(W G W^T), D tr(W H), D E|e*|^2)`` at one time s for Gaussian ``data``: the
        integrands of S_NN, C and S_tot."""
        s, _, _, omega = self._time(s)
        p = data.diffuse(self.process, s)
        k2 = self.process.peq_var
        e_phi, e_grad, G = _gaussian_moments(omega, self.phase, p.mean, p.cov, self._c)
        H = -e_grad + (np.outer(e_phi, p.mean) + e_grad @ p.cov) / k2
        W = self.weights(s)
        Dc = float(self.process.diffusion(s))
        nn = Dc * float(np.einsum("dp,pq,dq->", W, G, W))
        cross = Dc * float(np.einsum("dp,pd->", W, H))
        rate = float(entropy_production_rate(data, self.process, s).value)
        return nn, cross, rate

    def exact(self, data, s0, s1=None, *, rtol=1e-7) -> RandomFeatureResult:
        """Exact S_NN, L_EM, C (quadrature with error bounds) and S_tot (closed form) on Gaussian ``data``.

        ``s0 > 0`` is required (the fitted model of N points follows the memoriser, whose S_NN
        diverges like (D/2) log(1/s0)).  Raises :class:`QuadratureError` when a piece of the time
        integral does not converge to ``rtol``.
        """
        if not isinstance(data, Gaussian):
            raise ValueError(f"exact S_NN needs Gaussian data (nr.Gaussian); got {type(data).__name__}")
        if data.dim != self.dim:
            raise ValueError(f"data has dimension {data.dim} but the model {self.dim}")
        s1 = self.process.T if s1 is None else s1
        s0 = float(check_times(finite_float("s0", s0), self.process, "s0"))
        s1 = float(check_times(finite_float("s1", s1), self.process, "s1"))
        if not 0.0 < s0 < s1:
            raise ValueError(f"need 0 < s0 < s1 (got s0={s0}, s1={s1})")
        rtol = finite_float("rtol", rtol)
        if not 1e-13 <= rtol < 1:
            raise ValueError(f"rtol must be in [1e-13, 1) (got {rtol}; below 1e-13 the integrator cannot go)")
        vals, bounds = _integrate(self.integrands, data, s0, s1, rtol)
        nn, cr, tot_q = vals
        s_tot = total_entropy(data, self.process, s0, s1)
        # L_EM per time = nn - 2 cross + rate; its bound collects those of the three pieces
        l_em = nn - 2.0 * cr + tot_q
        b_nn, b_cr, b_tot = bounds
        n_train = None if self.points is None else int(self.points.shape[0])
        return RandomFeatureResult(
            s_nn=Estimate(nn, 0.0, "quadrature", b_nn, unit=NAT),
            l_em=Estimate(max(l_em, 0.0), 0.0, "quadrature", b_nn + 2.0 * b_cr + b_tot, unit=NAT),
            cross=Estimate(cr, 0.0, "quadrature", b_cr, unit=NAT),
            s_tot=s_tot, n_train=n_train, n_features=self.n_features, s0=s0, s1=s1)


def _integrate(integrands, data, s0, s1, rtol):
    """Integrals over [s0, s1] of the three integrands, in log s, piece by piece between decades."""
    from scipy import integrate
    lo, hi = math.log(s0), math.log(s1)
    cuts = [lo] + [math.log(10.0 ** k) for k in range(math.floor(math.log10(s0)) + 1, math.ceil(math.log10(s1)))
                   if lo < math.log(10.0 ** k) < hi] + [hi]
    totals = np.zeros(3)
    bounds = np.zeros(3)
    for a, b in zip(cuts[:-1], cuts[1:]):
        memo: dict = {}

        def parts(u):
            if u not in memo:
                s = math.exp(u)
                memo[u] = np.array(integrands(data, s)) * s
                if len(memo) > 64:
                    memo.pop(next(iter(memo)))
            return memo[u]

        for i in range(3):
            with warnings.catch_warnings():
                warnings.simplefilter("error", integrate.IntegrationWarning)
                try:
                    val, err = integrate.quad(lambda u: parts(u)[i], a, b, epsabs=0.0, epsrel=rtol, limit=200)
                    absval, _ = integrate.quad(lambda u: abs(parts(u)[i]), a, b, epsabs=0.0, epsrel=1e-3,
                                               limit=200)
                except integrate.IntegrationWarning as exc:
                    raise QuadratureError(f"the time integral over s in [{math.exp(a):.3g}, {math.exp(b):.3g}] did "
                                          f"not converge to rtol={rtol:g}: {exc}") from None
            totals[i] += val
            bounds[i] += abs(err) + ROUNDING_RTOL * absval * 1.01
    return totals, bounds


def random_feature_model(points, process, n_features: int = 32, *, data=None, bandwidth: float = 1.0,
                         data_var: float = 1.0, ridge: float = DEFAULT_RIDGE, seed=0) -> RandomFeatureModel:
    """A random-feature model ``e = W(s) phi(x, s)`` fitted to ``points`` (N, D) (or, with
    ``points=None`` and Gaussian ``data``, to the population: N = infinity).

    Parameters
    ----------
    points : (N, D) array or None
        Training points (the fit integrates the denoising noise out exactly).
    process : VP or SL
    n_features : int
        P, the number of random Fourier features.
    data : Gaussian, optional
        The population, for ``points=None``.
    bandwidth : float
        Length scale ell of the frequencies, Omega ~ N(0, I / ell^2) (in units of the marginal width).
    data_var : float
        sigma_d^2 in the per-time feature scaling sigma(s)^2 = mu^2 sigma_d^2 + v.
    ridge : float
        Ridge lambda relative to tr(A)/P (default 1e-6).
    seed : int or SeedSequence
        Draws the frequencies and phases (the same for every N with the same seed).
    """
    return RandomFeatureModel(points, process, n_features, data=data, bandwidth=bandwidth, data_var=data_var,
                              ridge=ridge, seed=seed)


def random_feature_curve(data, process, sizes, n_features: int = 32, *, s0: float = 1e-3, s1=None,
                         train_seed=0, feature_seed=0, rtol=1e-7, **model_options) -> list[dict]:
    """S_NN(N) and L_EM(N) of random-feature models fitted on the first N of one draw of Gaussian
    ``data`` (nested training sets), plus the population fit (N = infinity, ``n_train`` None).

    Rows (dicts, nats): ``n_train``, ``n_features``, ``s0``, ``s1``, ``s_nn``, ``l_em``, ``cross``,
    ``s_tot`` and their ``*_error_bound`` (all exact, quadrature).
    """
    if not isinstance(data, Gaussian):
        raise ValueError(f"random_feature_curve needs Gaussian data (nr.Gaussian); got {type(data).__name__}")
    sizes = [count("sizes", n, 1) for n in sizes]
    if not sizes:
        raise ValueError("sizes must list at least one training-set size")
    pool = data.sample(max(sizes), seed=train_seed)
    rows = []
    for n in list(sizes) + [None]:
        pts = None if n is None else pool[:n]
        model = random_feature_model(pts, process, n_features, data=data, seed=feature_seed, **model_options)
        rows.append(model.exact(data, s0, s1, rtol=rtol).to_dict())
    return rows
