"""Verification of the closed forms used by nent_ref.mixture and nent_ref.bounds (sympy and mpmath).

Run ``python derivations/mixture_checks.py``; it prints each check and exits with status 1 if
any fails.  What is verified:

1. KL(N(a1, v1) || N(a2, v2)) = 1/2 [v1/v2 + (a1 - a2)^2/v2 - 1 + log(v2/v1)]   (sympy integral).
2. Bhattacharyya distance -log int sqrt(N1 N2) = (a1 - a2)^2 / (8 vb) + 1/2 log(vb / sqrt(v1 v2)),
   vb = (v1 + v2)/2   (sympy integral).  The D-dimensional forms used by nent_ref.bounds reduce
   to these in the eigenbasis; checked numerically below for a full 2-D pair (mpmath, 20 digits).
3. KL(p || N(0, k^2)) = -H(p) + 1/2 log(2 pi k^2) + E[x^2]/(2 k^2) for a Gaussian p (sympy), and
   the diffused second moment E|y_s|^2 = mu^2 E|x|^2 + D v (sympy, y = mu x + sqrt(v) z).
4. The library's 1-D mixture S_tot(0, 1) under VP (quadrature, default rtol 1e-10) against an
   mpmath quadrature of int p_0 log(p_0/p_eq) - int p_1 log(p_1/p_eq) at 30 digits:
   relative difference <= 1e-10.
"""
from __future__ import annotations

import math
import sys

import mpmath as mp
import numpy as np
import sympy as sp

_failures: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"[{'ok' if ok else 'FAIL'}] {name} {detail}")
    if not ok:
        _failures.append(name)


def gaussian_1d():
    x = sp.symbols("x", real=True)
    a1, a2 = sp.symbols("a1 a2", real=True)
    v1, v2, k2 = sp.symbols("v1 v2 k2", positive=True)
    n1 = sp.exp(-(x - a1) ** 2 / (2 * v1)) / sp.sqrt(2 * sp.pi * v1)
    n2 = sp.exp(-(x - a2) ** 2 / (2 * v2)) / sp.sqrt(2 * sp.pi * v2)
    # 1. KL: the log-ratio is a quadratic, so integrate it against n1 via moments
    logratio = sp.expand(sp.log(sp.sqrt(v2 / v1)) - (x - a1) ** 2 / (2 * v1) + (x - a2) ** 2 / (2 * v2))
    kl = sp.integrate(n1 * logratio, (x, -sp.oo, sp.oo))
    formula = sp.Rational(1, 2) * (v1 / v2 + (a1 - a2) ** 2 / v2 - 1 + sp.log(v2 / v1))
    check("KL between 1-D Gaussians", sp.simplify(sp.expand_log(kl - formula, force=True)) == 0)
    # 2. Bhattacharyya
    bc = sp.integrate(sp.sqrt(n1) * sp.sqrt(n2), (x, -sp.oo, sp.oo), conds="none")
    vb = (v1 + v2) / 2
    bd = (a1 - a2) ** 2 / (8 * vb) + sp.log(vb / sp.sqrt(v1 * v2)) / 2
    diff = sp.simplify(sp.expand_log(-sp.log(bc) - bd, force=True))
    num = [float(diff.subs({a1: 0.3, a2: -1.1, v1: 0.7, v2: 2.3})), float(diff.subs({a1: 2, a2: 0, v1: 1, v2: 0.1}))]
    check("Bhattacharyya between 1-D Gaussians", diff == 0 or max(abs(t) for t in num) < 1e-14, f"residual {num}")
    # 3. KL to the equilibrium decomposition
    a, v = sp.symbols("a v", positive=True)
    p = sp.exp(-(x - a) ** 2 / (2 * v)) / sp.sqrt(2 * sp.pi * v)
    logp = -(x - a) ** 2 / (2 * v) - sp.log(2 * sp.pi * v) / 2
    logq = -x ** 2 / (2 * k2) - sp.log(2 * sp.pi * k2) / 2
    kl_eq = sp.integrate(p * sp.expand(logp - logq), (x, -sp.oo, sp.oo))
    H = sp.log(2 * sp.pi * sp.E * v) / 2
    decomposition = -H + sp.log(2 * sp.pi * k2) / 2 + (a ** 2 + v) / (2 * k2)
    check("KL(p||p_eq) = -H + cross-entropy", sp.simplify(sp.expand_log(kl_eq - decomposition, force=True)) == 0)
    mu, vv, m2 = sp.symbols("mu v_s m2", positive=True)
    X, Z = sp.symbols("X Z", real=True)
    # E (mu X + sqrt(v) Z)^2 with E Z = 0, E Z^2 = 1, Z independent of X, E X^2 = m2
    expr = sp.expand((mu * X + sp.sqrt(vv) * Z) ** 2)
    moment = expr.subs({X * Z: 0}).subs({Z ** 2: 1, Z: 0}).subs({X ** 2: m2})
    check("diffused second moment", sp.simplify(moment - (mu ** 2 * m2 + vv)) == 0)


def gaussian_2d_numeric():
    """D-dimensional KL / Bhattacharyya of nent_ref.bounds vs 2-D mpmath integrals (20 digits)."""
    from nent_ref import bounds
    from nent_ref.core.mixture import GaussianMixture
    mp.mp.dps = 20
    m = np.array([[0.2, -0.4], [1.0, 0.5]])
    S = np.array([[[0.6, 0.2], [0.2, 0.5]], [[1.1, -0.3], [-0.3, 0.4]]])
    mix = GaussianMixture([0.5, 0.5], m, S)
    kl, bd = bounds.pairwise_kl(mix)[0, 1], bounds.pairwise_bhattacharyya(mix)[0, 1]

    def pdf(k):
        Si = np.linalg.inv(S[k])
        det = float(np.linalg.det(S[k]))
        Si = [[mp.mpf(Si[i, j]) for j in range(2)] for i in range(2)]

        def f(x, y):
            dx, dy = x - m[k, 0], y - m[k, 1]
            q = Si[0][0] * dx * dx + 2 * Si[0][1] * dx * dy + Si[1][1] * dy * dy
            return mp.exp(-q / 2) / (2 * mp.pi * mp.sqrt(det))
        return f

    p0, p1 = pdf(0), pdf(1)
    lim = [-9, 9]
    kl_num = mp.quad(lambda x, y: p0(x, y) * mp.log(p0(x, y) / p1(x, y)), lim, lim)
    bc_num = mp.quad(lambda x, y: mp.sqrt(p0(x, y) * p1(x, y)), lim, lim)
    check("2-D full-covariance KL (mpmath)", abs(kl - float(kl_num)) < 1e-12, f"{kl:.15g} vs {mp.nstr(kl_num, 15)}")
    check("2-D full-covariance Bhattacharyya (mpmath)", abs(bd + float(mp.log(bc_num))) < 1e-12,
          f"{bd:.15g} vs {mp.nstr(-mp.log(bc_num), 15)}")


def mixture_stot_1d():
    import nent_ref as nr
    from nent_ref.suites.cases import paper_mixture_params
    from nent_ref.core.mixture import GaussianMixture
    w, means, sd = paper_mixture_params(1)
    mix = GaussianMixture(w, means, sd ** 2)
    proc = nr.VP(0.1, 16.0)
    est = nr.total_entropy(mix, proc, method="quadrature")
    mp.mp.dps = 30
    k2 = mp.mpf(1)

    def kl(s):
        mu2 = mp.mpf(float(proc.mean_coeff_sq(s)))   # schedule factors in double: exact inputs
        v = mp.mpf(float(proc.marginal_var(s)))
        comps = [(mp.mpf(float(wk)), mp.sqrt(mu2) * mp.mpf(float(mk)), mu2 * mp.mpf(float(sk)) ** 2 + v)
                 for wk, mk, sk in zip(w, means[:, 0], sd)]

        def p(x):
            return mp.fsum(wk * mp.exp(-(x - mk) ** 2 / (2 * vk)) / mp.sqrt(2 * mp.pi * vk) for wk, mk, vk in comps)

        def f(x):
            px = p(x)
            return px * (mp.log(px) + x ** 2 / (2 * k2) + mp.log(2 * mp.pi * k2) / 2)
        pts = sorted([float(mk) for _, mk, _ in comps])
        lo, hi = pts[0] - 15, pts[-1] + 15
        return mp.quad(f, [lo] + pts + [hi])

    ref = kl(0.0) - kl(1.0)
    rel = abs(est.value - float(ref)) / float(ref)
    check("1-D mixture S_tot quadrature vs mpmath (30 digits)", rel <= 1e-10,
          f"library {est.value:.16g}, mpmath {mp.nstr(ref, 20)}, relative {rel:.2g}, "
          f"reported bound {est.error_bound:.2g}")


if __name__ == "__main__":
    gaussian_1d()
    gaussian_2d_numeric()
    mixture_stot_1d()
    if _failures:
        print(f"{len(_failures)} check(s) FAILED: {_failures}")
        sys.exit(1)
    print("all mixture checks passed")
