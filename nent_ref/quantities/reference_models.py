r"""Reference score models with known answers, for tests, examples and the validation report.

Every model is a callable ``e(x, s) -> array`` (``x`` of shape (M, D), ``s`` of shape (M,)),
the deviation of the model score from equilibrium, :math:`e = \nabla\log p^{model}_s - \nabla\log p_{eq}`
(docs/theory.md section 3).  All are plain picklable objects, so they run under a process pool.

* :func:`exact_e` -- the optimum :math:`e^* = \nabla\log p_s - \nabla\log p_{eq}`:
  :math:`L_{EM} = 0`, :math:`S_{NN} = S_{tot}`.
* :func:`perturbed_e` -- :math:`e^* + \delta` with a linear perturbation :math:`\delta(x) = A x + c`.
  For Gaussian data :math:`S_{NN}`, :math:`C` and :math:`L_{EM}` are closed form
  (:meth:`PerturbedE.closed_form`, derived in derivations/neural_gaussian.py), and the model's own
  generated distribution is Gaussian, so :math:`\mathrm{KL}(p_d\|p_{model})` is computed exactly by
  integrating the reverse-SDE moment equations (:meth:`PerturbedE.kl_data_model`).
* :func:`best_linear_e` -- the L2(:math:`D\,p_s`) projection of :math:`e^*` on affine functions of x
  at each time.  By Stein's identity :math:`\mathbb E[\nabla\log p_s\, x^T] = -I` it is the
  :math:`e^*` of the Gaussian with the data's mean and covariance (the Gaussian-optimal model), so
  :math:`S_{tot} = S_{NN} + L_{EM}` and :math:`S_{NN} \le S_{tot}` (equality for Gaussian data).
* :func:`memoriser` -- the exact score of the empirical distribution of N training points (what
  a network that stores every sample computes), evaluated on population data; needs ``s > 0``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..core.checks import count, real_array, rng as _rng, seed_sequence
from ..core.data import Dirac, Gaussian, needs_cutoff
from ..core.estimate import Estimate
from ..core.kernels import empirical_logpdf_score
from .entropy import total_entropy
from .neural import decompose

__all__ = ["ExactE", "NeuralClosedForm", "PerturbedE", "Memoriser", "exact_e", "perturbed_e", "best_linear_e", "memoriser",
           "memoriser_from", "data_moments", "compare"]


def _check_batch(x, s, dim):
    x = real_array("x", x, finite=False)
    s = real_array("s", s, finite=False)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"x must have shape (M, {dim}) (got {x.shape})")
    if s.ndim == 0:
        s = np.full(x.shape[0], float(s))
    if s.shape != (x.shape[0],):
        raise ValueError(f"s must have shape ({x.shape[0]},) to match x (got {s.shape})")
    return x, s


@dataclass(frozen=True)
class NeuralClosedForm:
    """Exact S_tot, S_NN, C and L_EM (nats, likelihood weighting) of a model with a closed form.

    A result object like every other quantity's (attribute access).  Indexing by name
    (``cf["l_em"]``) is a deprecated alias of the attribute, kept from the dict this used to be.
    """

    s_tot: Estimate
    s_nn: Estimate
    cross: Estimate
    l_em: Estimate

    def __getitem__(self, name):
        warnings.warn("indexing the closed form by name is deprecated; use attributes (cf.l_em)",
                      DeprecationWarning, stacklevel=2)
        return getattr(self, name)


class ExactE:
    r"""The optimal deviation :math:`e^*(x, s) = \nabla\log p_s(x) - \nabla\log p_{eq}(x)`.

    Uses ``data.diffuse(process, s).score`` (exact for Gaussian, Dirac, mixture and Empirical data),
    once per distinct time in the batch.
    """

    def __init__(self, data, process):
        if not hasattr(data, "diffuse"):
            raise ValueError("exact_e needs data with an exact marginal (.diffuse), not samples")
        self.data, self.process = data, process
        self.dim = int(data.dim)

    def __call__(self, x, s):
        x, s = _check_batch(x, s, self.dim)
        out = np.empty_like(x)
        for t in np.unique(s):
            idx = s == t
            out[idx] = self.data.diffuse(self.process, float(t)).score(x[idx])
        return out - self.process.grad_log_peq(x)

    def __repr__(self):
        return f"exact_e({self.data!r}, {self.process!r})"


def exact_e(data, process) -> ExactE:
    """The exact optimum e* for ``data`` under ``process`` (L_EM = 0, S_NN = S_tot)."""
    return ExactE(data, process)


class PerturbedE(ExactE):
    r"""e* + delta with the linear perturbation :math:`\delta(x, s) = A x + c` (time independent)."""

    def __init__(self, data, process, A=0.0, c=0.0):
        super().__init__(data, process)
        D = self.dim
        A = real_array("A", A, finite=False)
        if A.ndim == 0:
            A = float(A) * np.eye(D)
        if A.shape != (D, D) or not np.all(np.isfinite(A)):
            raise ValueError(f"A must be a finite scalar or a ({D}, {D}) matrix (got shape {A.shape})")
        c = real_array("c", c, finite=False)
        c = np.full(D, float(c)) if c.ndim == 0 else c
        if c.shape != (D,) or not np.all(np.isfinite(c)):
            raise ValueError(f"c must be a finite scalar or a length-{D} vector (got shape {c.shape})")
        self.A, self.c = A, c

    def __call__(self, x, s):
        x = real_array("x", x, finite=False)
        return super().__call__(x, s) + x @ self.A.T + self.c

    def __repr__(self):
        return f"perturbed_e({self.data!r}, {self.process!r}, |A|_F={np.linalg.norm(self.A):.3g}, |c|={np.linalg.norm(self.c):.3g})"

    # -- closed forms for Gaussian data
    def _gaussian_parts(self, s0, s1):
        if not isinstance(self.data, Gaussian):
            raise ValueError("closed forms exist for Gaussian data only")
        p = self.process
        if not p.has_equilibrium:
            raise ValueError("closed forms need a process with an equilibrium (VP, VPx, SL)")
        k2 = p.peq_var
        I0 = float(p.clock(s0, s1))                                           # int D
        I2 = 0.5 * k2 * float(p.mean_coeff_sq(s0) - p.mean_coeff_sq(s1))     # int D mu^2
        I1 = k2 * float(p.mean_coeff(s0) - p.mean_coeff(s1))                  # int D mu
        return k2, I0, I1, I2

    def closed_form(self, s0=0.0, s1=None) -> "NeuralClosedForm":
        r"""Exact S_tot, S_NN, C and L_EM (likelihood weighting) for Gaussian data N(m, S).

        With :math:`I_0 = \int D`, :math:`I_1 = \int D\mu = k^2(\mu_0 - \mu_1)`,
        :math:`I_2 = \int D\mu^2 = \tfrac{k^2}{2}(\mu_0^2 - \mu_1^2)`:

        .. math::
            L_{EM} &= I_2\,[\operatorname{tr}(A S A^T) + |A m|^2] + k^2 (I_0 - I_2)\|A\|_F^2
                     + 2 I_1\, c\cdot A m + I_0 |c|^2,\\
            X &= \int D\,\mathbb E[e^*\cdot\delta] = I_2\,[(\operatorname{tr}(A S) + m^T A m)/k^2 - \operatorname{tr}A]
                 + I_1\, c\cdot m / k^2,\\
            C &= S_{tot} + X,\qquad S_{NN} = S_{tot} + 2X + L_{EM}.
        """
        s1 = self.process.T if s1 is None else s1
        k2, I0, I1, I2 = self._gaussian_parts(s0, s1)
        A, c = self.A, self.c
        m, S = self.data.mean, self.data.cov
        Am = A @ m
        l_em = (I2 * (np.trace(A @ S @ A.T) + Am @ Am) + k2 * (I0 - I2) * np.sum(A * A)
                + 2.0 * I1 * (c @ Am) + I0 * (c @ c))
        X = I2 * ((np.trace(A @ S) + m @ Am) / k2 - np.trace(A)) + I1 * (c @ m) / k2
        st = float(total_entropy(self.data, self.process, s0, s1).value)
        return NeuralClosedForm(s_tot=Estimate(st), s_nn=Estimate(st + 2.0 * float(X) + float(l_em)),
                                cross=Estimate(st + float(X)), l_em=Estimate(float(l_em)))

    def kl_data_model(self, s0=0.0, s1=None, rtol=1e-10) -> Estimate:
        r""":math:`\mathrm{KL}(p_{s_0}\,\|\,p^{model}_{s_0})` for Gaussian data, the model reverse SDE
        :math:`dX = (b + \sigma^2 e)\,dt + \sigma\,dB` started from :math:`p_{eq}` at :math:`s_1`.

        The model drift is affine in x, so its law stays Gaussian: mean M and covariance P obey
        :math:`-dM/ds = F M + g`, :math:`-dP/ds = F P + P F^T + \sigma^2 I` with
        :math:`F = -a I + \sigma^2(-\Sigma_s^{-1} + I/k^2 + A)`, :math:`g = \sigma^2(\Sigma_s^{-1} m_s + c)`,
        integrated from :math:`s_1` down to :math:`s_0` (scipy DOP853, ``rtol``); the KL between
        Gaussians is then closed form.  ``error_bound`` is the change when ``rtol`` is 100 times looser.
        """
        from scipy.integrate import solve_ivp
        if not isinstance(self.data, Gaussian):
            raise ValueError("kl_data_model is available for Gaussian data only")
        p = self.process
        if not p.has_equilibrium:
            raise ValueError("kl_data_model needs a process with an equilibrium")
        s1 = (p.T - 1e-5 if p.singular_at_T else p.T) if s1 is None else float(s1)
        s0 = float(s0)
        if p.singular_at_T and s1 >= p.T:
            raise ValueError("the reverse SDE of a process singular at T must start at s1 < T")
        D, k2 = self.dim, p.peq_var
        m, S = self.data.mean, self.data.cov
        I = np.eye(D)

        def rhs(s, y):
            M, P = y[:D], y[D:].reshape(D, D)
            mu2 = float(p.mean_coeff_sq(s))
            mu = math.sqrt(mu2)
            Sig = mu2 * S + float(p.marginal_var(s)) * I
            Sinv = np.linalg.inv(Sig)
            sig2 = float(p.sigma2(s))
            a = sig2 / (2.0 * k2)
            F = -a * I + sig2 * (-Sinv + I / k2 + self.A)
            g = sig2 * (Sinv @ (mu * m) + self.c)
            dM = -(F @ M + g)
            dP = -(F @ P + P @ F.T + sig2 * I)
            return np.concatenate([dM, dP.ravel()])

        y1 = np.concatenate([np.zeros(D), (k2 * I).ravel()])

        def solve(tol):
            sol = solve_ivp(rhs, (s1, s0), y1, method="DOP853", rtol=tol, atol=tol * 1e-3)
            if not sol.success:
                raise RuntimeError(f"moment equations failed: {sol.message}")
            M, P = sol.y[:D, -1], sol.y[D:, -1].reshape(D, D)
            model = Gaussian(M, 0.5 * (P + P.T))
            return self.data.diffuse(p, s0).kl(model) if s0 > 0 else self.data.kl(model)

        fine, coarse = solve(rtol), solve(rtol * 100)
        return Estimate(fine, 0.0, "ode", abs(fine - coarse))


def perturbed_e(data, process, A=0.0, c=0.0) -> PerturbedE:
    """The model e* + A x + c (A scalar or (D, D), c scalar or (D,)); closed forms for Gaussian data."""
    return PerturbedE(data, process, A, c)


# --------------------------------------------------------------------------- best linear
def data_moments(data) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a data distribution (Gaussian, Dirac, mixture, Empirical or samples)."""
    if isinstance(data, np.ndarray):
        pts = np.asarray(data, dtype=float)
        return pts.mean(axis=0), np.atleast_2d(np.cov(pts, rowvar=False, bias=True))
    if isinstance(data, Gaussian):
        return data.mean, data.cov
    if isinstance(data, Dirac):
        return data.point, np.zeros((data.dim, data.dim))
    # mixtures: sum_k w_k (S_k + m_k m_k^T) - m m^T ; empirical: atoms with zero covariance
    w = getattr(data, "weights", None)
    means = getattr(data, "means", None)
    if means is None:
        means = getattr(data, "atoms", None) if getattr(data, "atoms", None) is not None else getattr(data, "points", None)
    if w is None or means is None:
        raise ValueError(f"cannot get the mean and covariance of {type(data).__name__}; pass mean= and cov=")
    w = np.asarray(w, dtype=float)
    means = np.asarray(means, dtype=float)
    D = means.shape[1]
    covs = getattr(data, "covs", None)
    if covs is None:
        covs = np.zeros((len(w), D, D))
    covs = np.asarray(covs, dtype=float)
    if covs.ndim == 1:            # isotropic variances
        covs = covs[:, None, None] * np.eye(D)
    elif covs.ndim == 2:          # diagonal variances
        covs = np.einsum("ki,ij->kij", covs, np.eye(D))
    mean = w @ means
    second = np.einsum("k,kij->ij", w, covs) + np.einsum("k,ki,kj->ij", w, means, means)
    cov = second - np.outer(mean, mean)
    return mean, 0.5 * (cov + cov.T)


def best_linear_e(data, process, mean=None, cov=None) -> ExactE:
    r"""The best affine model at each time: e* of :math:`N(\text{mean}, \text{cov})` of the data.

    Minimises :math:`\mathbb E_{p_s}\|e^* - A(s) x - c(s)\|^2` at every s (normal equations plus
    Stein's identity give :math:`A = I/k^2 - \Sigma_s^{-1}`, :math:`c = \Sigma_s^{-1} m_s`), so
    :math:`S_{tot} = S_{NN} + L_{EM}` exactly.  ``mean``/``cov`` override the data's moments.
    """
    if mean is None or cov is None:
        m, C = data_moments(data)
        mean = m if mean is None else mean
        cov = C if cov is None else cov
    mean = real_array("mean", mean)
    cov = real_array("cov", cov)
    if np.allclose(cov, 0.0):
        return ExactE(Dirac(mean), process)
    return ExactE(Gaussian(mean, cov), process)


# --------------------------------------------------------------------------- memoriser
class Memoriser:
    r"""Exact score of the diffused empirical distribution of training points :math:`a_i`:

    .. math:: e(x, s) = \nabla_x \log \sum_i w_i N(x; \mu(s) a_i, v(s) I) - \nabla\log p_{eq}(x),

    computed by the stable kernel :func:`nent_ref._kernels.empirical_logpdf_score`.  Defined for
    ``s > 0`` only (at ``s = 0`` the empirical distribution has no density).
    """

    def __init__(self, points, process, weights=None):
        if type(points).__name__ == "Empirical":          # nent_ref.core.mixture.Empirical
            points, weights = points.points, points.weights if weights is None else weights
        pts = real_array("training points", points, finite=False)
        if pts.ndim != 2 or pts.shape[0] == 0:
            raise ValueError(f"training points must be a non-empty (N, D) array (got shape {pts.shape})")
        if not np.all(np.isfinite(pts)):
            raise ValueError("training points contain NaN or inf")
        n = pts.shape[0]
        w = np.full(n, 1.0 / n) if weights is None else real_array("weights", weights, finite=False)
        if w.shape != (n,) or np.any(w < 0) or not math.isclose(float(w.sum()), 1.0, rel_tol=0, abs_tol=1e-12):
            raise ValueError("weights must be non-negative, one per point, and sum to one")
        self.points, self.process, self.dim = pts, process, pts.shape[1]
        with np.errstate(divide="ignore"):
            self.log_weights = np.log(w)

    def __call__(self, x, s):
        x, s = _check_batch(x, s, self.dim)
        out = np.empty_like(x)
        for t in np.unique(s):
            if t <= 0:
                raise ValueError("the memoriser's score is defined for s > 0 only")
            idx = s == t
            mu = float(self.process.mean_coeff(t))
            v = float(self.process.marginal_var(t))
            _, sc = empirical_logpdf_score(np.ascontiguousarray(x[idx]), self.points, self.log_weights, mu, v)
            out[idx] = sc
        return out - self.process.grad_log_peq(x)

    def __repr__(self):
        return f"memoriser(N={self.points.shape[0]}, D={self.dim}, {self.process!r})"


def memoriser(points, process, weights=None) -> Memoriser:
    """The memorising model of the training points ``points`` ((N, D) array or an Empirical)."""
    return Memoriser(points, process, weights)


def memoriser_from(data, n, process, seed=0) -> Memoriser:
    """A memoriser of ``n`` training points drawn from ``data`` with ``seed`` (int, sequence of ints,
    SeedSequence or Generator; see :func:`nent_ref.core.checks.seed_sequence`)."""
    n = count("n", n, 1)
    return Memoriser(data.sample(n, _rng(seed, "seed")), process)


# --------------------------------------------------------------------------- comparison rows
def compare(data, process, *, s0=None, s1=None, perturbation=(0.2, 0.0), memoriser_sizes=(), seed=0,
            n_samples=2 ** 15, n_times=32, s_tot=None) -> list[dict]:
    r"""S_tot, S_NN, C and L_EM (likelihood weighting, with standard errors) of the reference models.

    One row per model: ``exact`` (e*), ``perturbed`` (e* + A x + c with ``perturbation = (A, c)``;
    ``None`` to skip), ``best-linear`` and ``memoriser`` for each N in ``memoriser_sizes`` (training
    points drawn from ``data`` with ``SeedSequence(seed)`` children).  All models share the
    interval: ``s0`` defaults to 1e-5 when memorisers are included or the data need a cutoff,
    else 0.  Rows are flat dicts (for tables and figure 6: S_NN versus S_tot).
    """
    if s0 is None:
        s0 = 1e-5 if (len(memoriser_sizes) or needs_cutoff(data)) else 0.0
    if s1 is None:
        s1 = process.T - 1e-5 if process.singular_at_T else process.T
    if s_tot is None:
        s_tot = total_entropy(data, process, s0, s1)
    models = [("exact", None, exact_e(data, process))]
    if perturbation is not None:
        models.append(("perturbed", None, perturbed_e(data, process, *perturbation)))
    models.append(("best-linear", None, best_linear_e(data, process)))
    seeds = seed_sequence(seed, "seed").spawn(len(memoriser_sizes) + 1)
    for n, sd in zip(memoriser_sizes, seeds[1:]):
        models.append(("memoriser", int(n), memoriser_from(data, int(n), process, seed=sd)))
    rows = []
    for name, n, model in models:
        dec = decompose(model, data, process, s0, s1, n_samples=n_samples, n_times=n_times, seed=seeds[0],
                        s_tot=s_tot)
        row = {"model": name, "N": n, "s0": float(s0), "s1": float(s1)}
        for key, est in (("S_tot", dec.s_tot), ("S_NN", dec.s_nn), ("L_EM", dec.l_em), ("C", dec.cross)):
            row[key] = float(est.value)
            row[f"{key}_stderr"] = float(est.stderr)
        rows.append(row)
    return rows
