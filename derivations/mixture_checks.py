"""Verification of the closed forms used by nent_ref.mixture and nent_ref.bounds (sympy and mpmath).

Run ``python derivations/mixture_checks.py``; it prints each check and exits with status 1 if
any fails.  What is verified:

1. KL(N(a1, v1) || N(a2, v2)) = 1/2 [v1/v2 + (a1 - a2)^2/v2 - 1 + log(v2/v1)]   (sympy integral).
2. Bhattacharyya distance -log int sqrt(N1 N2) = (a1 - a2)^2 / (8 vb) + 1/2 log(vb / sqrt(v1 v2)),
   vb = (v1 + v2)/2   (sympy integral).  The D-dimensional forms used by nent_ref.bounds reduce
   to these in the eigenbasis; checked numerically below for a full 2-D pair (nested QUADPACK, 1e-13).
3. KL(p || N(0, k^2)) = -H(p) + 1/2 log(2 pi k^2) + E[x^2]/(2 k^2) for a Gaussian p (sympy), and
   the diffused second moment E|y_s|^2 = mu^2 E|x|^2 + D v (sympy, y = mu x + sqrt(v) z).
4. The library's 1-D mixture S_tot(0, 1) under VP (quadrature, default rtol 1e-10) against an
   mpmath quadrature of int p_0 log(p_0/p_eq) - int p_1 log(p_1/p_eq) at 30 digits:
   relative difference <= 1e-10.
5. Narrow and widely separated mixture components (issue 18, 3.1): S_tot, KL and the rate of
   mixtures with component variances 1e-12 .. 1 and separations up to ~1e3 component standard
   deviations, by the library's cubature against independent routes: in 1-D mpmath quadrature
   (20 digits) with breakpoints at every component's centre and +-(1.5 .. 40) of its standard
   deviations; in 2-D nested scipy QUADPACK ``quad`` (tolerance 1e-13) in the original
   coordinates, the inner integral broken at each component's conditional mean +-(1.5 .. 40) of its
   conditional standard deviation, the outer at its marginal ones.  Each check requires
   ``|library - reference| <= error_bound + 1e-11 max(1, |reference|)`` and ``error_bound > 0``.
   ``python derivations/mixture_checks.py --narrow-all`` checks every case of
   :data:`NARROW_CASES` and prints the reference values tabulated in tests/test_mixture.py; the
   default run checks the 1-D reproducer (the 2-D route takes ~15 s a case).
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
    # 1. KL: the log-ratio is a quadratic; integrate it against n1 in the standard variable t,
    #    x = a1 + sqrt(v1) t, n1 dx = phi(t) dt (polynomial times exp(-t^2/2): fast for sympy)
    t = sp.symbols("t", real=True)
    phi = sp.exp(-t ** 2 / 2) / sp.sqrt(2 * sp.pi)
    logratio = sp.log(sp.sqrt(v2 / v1)) - (x - a1) ** 2 / (2 * v1) + (x - a2) ** 2 / (2 * v2)
    kl = sp.integrate(sp.expand(phi * logratio.subs(x, a1 + sp.sqrt(v1) * t)), (t, -sp.oo, sp.oo))
    formula = sp.Rational(1, 2) * (v1 / v2 + (a1 - a2) ** 2 / v2 - 1 + sp.log(v2 / v1))
    check("KL between 1-D Gaussians", sp.simplify(sp.expand_log(kl - formula, force=True)) == 0)
    # 2. Bhattacharyya: sqrt(n1 n2) = exp(-BD) N(x; m, w) identically in x, with m = (a1 v2 + a2 v1)/(v1 + v2)
    #    and w = 2 v1 v2/(v1 + v2) (the log difference is a polynomial in x whose numerator vanishes), and
    #    N(x; m, w) integrates to 1 (x = m + sqrt(w) t), so BC = int sqrt(n1 n2) dx = exp(-BD).  Integrating
    #    sqrt(n1 n2) directly gives the same in 4.5 s instead of 0.3 s.
    vb = (v1 + v2) / 2
    bd = (a1 - a2) ** 2 / (8 * vb) + sp.log(vb / sp.sqrt(v1 * v2)) / 2
    m, w = (a1 * v2 + a2 * v1) / (v1 + v2), 2 * v1 * v2 / (v1 + v2)
    nm = sp.exp(-(x - m) ** 2 / (2 * w)) / sp.sqrt(2 * sp.pi * w)
    logdiff = sp.expand(sp.expand_log(sp.log(sp.sqrt(n1) * sp.sqrt(n2)) - sp.log(sp.exp(-bd) * nm), force=True))
    residual = [sp.simplify(c) for c in sp.Poly(sp.together(logdiff).as_numer_denom()[0], x).all_coeffs()]
    mass = sp.integrate(sp.sqrt(w) * nm.subs(x, m + sp.sqrt(w) * t), (t, -sp.oo, sp.oo))
    check("Bhattacharyya between 1-D Gaussians", all(c == 0 for c in residual) and sp.simplify(mass - 1) == 0,
          f"residual {residual}, mass {mass}")
    # 3. KL to the equilibrium decomposition
    a, v = sp.symbols("a v", positive=True)
    logp = -(x - a) ** 2 / (2 * v) - sp.log(2 * sp.pi * v) / 2
    logq = -x ** 2 / (2 * k2) - sp.log(2 * sp.pi * k2) / 2
    kl_eq = sp.integrate(sp.expand(phi * (logp - logq).subs(x, a + sp.sqrt(v) * t)), (t, -sp.oo, sp.oo))
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
    """D-dimensional KL / Bhattacharyya of nent_ref.bounds vs 2-D integrals by nested scipy QUADPACK ``quad``
    (absolute and relative tolerance 1e-13 on the box [-9, 9]^2, whose outside holds < 1e-16 of either
    density), the densities written out in the original coordinates.  (Until issue 22 this was a 2-D mpmath
    tanh-sinh quadrature at 20 digits, 16 CPU-s; the same values to 1e-13.)"""
    from scipy import integrate

    from nent_ref import bounds
    from nent_ref.core.mixture import GaussianMixture
    m = np.array([[0.2, -0.4], [1.0, 0.5]])
    S = np.array([[[0.6, 0.2], [0.2, 0.5]], [[1.1, -0.3], [-0.3, 0.4]]])
    mix = GaussianMixture([0.5, 0.5], m, S)
    kl, bd = bounds.pairwise_kl(mix)[0, 1], bounds.pairwise_bhattacharyya(mix)[0, 1]

    def logpdf(k):
        # the 2x2 inverse and determinant by hand, independent of the library's linear algebra
        (a, b), (_, d) = S[k]
        det = a * d - b * b
        ia, ib, id_ = d / det, -b / det, a / det

        def f(x, y):
            dx, dy = x - m[k, 0], y - m[k, 1]
            return -(ia * dx * dx + 2 * ib * dx * dy + id_ * dy * dy) / 2 - math.log(2 * math.pi * math.sqrt(det))
        return f

    l0, l1 = logpdf(0), logpdf(1)

    def box(fn):
        return integrate.dblquad(lambda y, x: fn(x, y), -9, 9, -9, 9, epsabs=1e-13, epsrel=1e-13)[0]

    kl_num = box(lambda x, y: math.exp(l0(x, y)) * (l0(x, y) - l1(x, y)))
    bc_num = box(lambda x, y: math.exp((l0(x, y) + l1(x, y)) / 2))
    check("2-D full-covariance KL (nested quad)", abs(kl - kl_num) < 1e-12, f"{kl:.15g} vs {kl_num:.15g}")
    check("2-D full-covariance Bhattacharyya (nested quad)", abs(bd + math.log(bc_num)) < 1e-12,
          f"{bd:.15g} vs {-math.log(bc_num):.15g}")


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


# --------------------------------------------------------------------------- 5. narrow components
_T_BREAKS = (0.0, 1.5, 3.0, 5.0, 8.0, 12.0, 20.0, 40.0)


def _process(spec):
    import nent_ref as nr
    name, args = spec
    return {"VP": nr.VP, "SL": nr.SL, "VE": nr.VE}[name](*args)


def _coefficients(proc, s):
    """(mu^2, v, k^2 or None) of the process at s, in double (the exact inputs both routes share)."""
    k2 = float(proc.peq_var) if proc.has_equilibrium else None
    return float(proc.mean_coeff_sq(s)), float(proc.marginal_var(s)), k2


def narrow_reference_1d(w, means, var, proc, s, kind="kl", dps=20):
    """E_{p_s}[log(p_s / p_eq)] (kind "kl"; E[log p_s] for VE) or the rate
    D(s) E_{p_s}|grad log p_eq - grad log p_s|^2 (kind "rate") of a 1-D mixture, by mpmath at ``dps``
    digits with breakpoints at every diffused component's centre +- t sd, t in _T_BREAKS."""
    mp.mp.dps = dps
    mu2, v, k2 = _coefficients(proc, s)
    mu = mp.sqrt(mp.mpf(mu2))
    comps = [(mp.mpf(float(wk)), mu * mp.mpf(float(mk)), mp.mpf(mu2) * mp.mpf(float(vk)) + mp.mpf(v))
             for wk, mk, vk in zip(w, means, var)]
    dcoef = mp.mpf(float(proc.diffusion(s))) if kind == "rate" else None

    def terms(x):
        return [wk * mp.exp(-(x - mk) ** 2 / (2 * vk)) / mp.sqrt(2 * mp.pi * vk) for wk, mk, vk in comps]

    def f(x):
        t = terms(x)
        px = mp.fsum(t)
        if px == 0:
            return mp.mpf(0)
        if kind == "rate":
            score = mp.fsum(tk * (-(x - mk) / vk) for tk, (_, mk, vk) in zip(t, comps)) / px
            g = (-x / k2 if k2 is not None else 0) - score
            return px * dcoef * g * g
        lpeq = -x * x / (2 * k2) - mp.log(2 * mp.pi * k2) / 2 if k2 is not None else 0
        return px * (mp.log(px) - lpeq)

    pts = sorted({mk + sgn * t * mp.sqrt(vk) for _, mk, vk in comps for t in _T_BREAKS for sgn in (-1, 1)})
    return mp.quad(f, pts)


def narrow_reference_2d(w, means, covs, proc, s, tol=1e-13):
    """E_{p_s}[log(p_s / p_eq)] of a 2-D mixture with full covariances (K, 2, 2), by nested scipy quad in
    the original coordinates (inner over y broken at each component's conditional mean given x +- t
    conditional sd, outer over x at its mean +- t marginal sd, t in _T_BREAKS)."""
    from scipy import integrate
    mu2, v, k2 = _coefficients(proc, s)
    mu = math.sqrt(mu2)
    comps = []
    for wk, mk, ck in zip(w, means, covs):
        c = mu2 * np.asarray(ck, dtype=float) + v * np.eye(2)
        det = c[0, 0] * c[1, 1] - c[0, 1] * c[1, 0]
        comps.append((math.log(float(wk)) - math.log(2 * math.pi) - 0.5 * math.log(det), mu * float(mk[0]),
                      mu * float(mk[1]), c[1, 1] / det, -c[0, 1] / det, c[0, 0] / det, c))

    def logp(x, y):
        ls = []
        for lc, a, b, p00, p01, p11, _ in comps:
            dx, dy = x - a, y - b
            ls.append(lc - 0.5 * (p00 * dx * dx + 2 * p01 * dx * dy + p11 * dy * dy))
        m = max(ls)
        return m + math.log(sum(math.exp(t - m) for t in ls))

    def f(y, x):
        lp = logp(x, y)
        lpeq = -(x * x + y * y) / (2 * k2) - math.log(2 * math.pi * k2) if k2 is not None else 0.0
        return math.exp(lp) * (lp - lpeq)

    def pieces(pts, fn, *args):
        pts = sorted(set(pts))
        return sum(integrate.quad(fn, a, b, args=args, epsabs=tol, epsrel=tol, limit=200)[0]
                   for a, b in zip(pts[:-1], pts[1:]))

    def inner(x):
        pts = []
        for _, a, b, _, _, _, c in comps:
            ym = b + c[0, 1] / c[0, 0] * (x - a)
            sd = math.sqrt(c[1, 1] - c[0, 1] ** 2 / c[0, 0])
            big = math.sqrt(c[1, 1])
            pts += [ym + sg * t * sd for t in _T_BREAKS for sg in (-1, 1)] + [b - 40 * big, b + 40 * big]
        return pieces(pts, f, x)

    xpts = [a + sg * t * math.sqrt(c[0, 0]) for _, a, _, _, _, _, c in comps for t in _T_BREAKS for sg in (-1, 1)]
    return pieces(xpts, inner)


def _covs2d(spec):
    """(K, 2, 2) covariances of a 2-D case: isotropic variances (K,), diagonal (K, 2) or full (K, 2, 2)."""
    c = np.asarray(spec, dtype=float)
    if c.ndim == 1:
        return c[:, None, None] * np.eye(2)
    if c.ndim == 2:
        return c[:, :, None] * np.eye(2)
    return c


#: The narrow/separated cases (issue 18, 3.1), shared with tests/test_mixture.py (which tabulates
#: the references printed by ``--narrow-all``): (name, weights, means, covs, (process, args),
#: quantity, times).  quantity "S_tot" (s0, s1), "kl" (s,), "rate" (s,).
_ROT = np.array([[math.cos(0.6), -math.sin(0.6)], [math.sin(0.6), math.cos(0.6)]])
NARROW_CASES = [
    ("1d-var5e-5", [.5, .5], [[-1.], [1.]], [5e-5, 1.], ("VP", (0.1, 20.0)), "S_tot", (0.0, 1.0)),
    ("1d-var7e-5", [.5, .5], [[-1.], [1.]], [7e-5, 1.], ("VP", (0.1, 20.0)), "S_tot", (0.0, 1.0)),
    ("1d-var1e-6", [.5, .5], [[-1.], [1.]], [1e-6, 1.], ("VP", (0.1, 20.0)), "S_tot", (0.0, 1.0)),
    ("1d-var1e-12", [.5, .5], [[-1.], [1.]], [1e-12, 1.], ("VP", (0.1, 20.0)), "S_tot", (0.0, 1.0)),
    ("1d-tail-8sd", [.9, .1], [[0.], [8.]], [1., 1e-8], ("VP", (0.1, 20.0)), "S_tot", (0.0, 1.0)),
    ("1d-sep1e3sd", [.3, .3, .4], [[-5.], [5.], [0.]], [1e-4, 1e-4, 4.], ("SL", (1.0,)), "S_tot", (0.0, 0.9)),
    ("1d-ve-var1e-10", [.5, .5], [[0.], [3.]], [1e-10, 1.], ("VE", (0.01, 50.0)), "S_tot", (0.0, 1.0)),
    ("1d-kl-s1e-4", [.5, .5], [[-1.], [1.]], [1e-12, 1.], ("VP", (0.1, 20.0)), "kl", (1e-4,)),
    ("1d-rate-s1e-4", [.5, .5], [[-1.], [1.]], [1e-8, 1.], ("VP", (0.1, 20.0)), "rate", (1e-4,)),
    ("2d-iso-var1e-6", [.5, .5], [[-1., 0.], [1., 0.]], [1e-6, 1.], ("VP", (0.1, 20.0)), "S_tot", (0.0, 1.0)),
    ("2d-iso-var1e-12", [.5, .5], [[-1., 0.], [1., 0.]], [1e-12, 1.], ("VP", (0.1, 20.0)), "S_tot", (0.0, 1.0)),
    ("2d-diag-thin", [.4, .6], [[0.5, -0.5], [0., 0.]], [[1e-8, 1e-2], [1., 2.]], ("VP", (0.1, 20.0)), "S_tot",
     (0.0, 1.0)),
    ("2d-full-oblique", [.3, .7], [[0.5, 0.2], [0., 0.]],
     [_ROT @ np.diag([1e-6, 0.2]) @ _ROT.T, np.eye(2)], ("VP", (0.1, 20.0)), "S_tot", (0.0, 1.0)),
]
#: Checked in the default run (the others with --narrow-all; the 2-D route also runs in the slow tests).
NARROW_DEFAULT = ("1d-var5e-5",)


def narrow_reference(case):
    """The reference value of a NARROW_CASES entry (independent of the library's cubature)."""
    name, w, means, covs, pspec, quantity, times = case
    proc = _process(pspec)
    D = len(means[0])
    if D == 1:
        m1, v1 = [m[0] for m in means], list(covs)
        if quantity == "S_tot":
            return float(narrow_reference_1d(w, m1, v1, proc, times[0]) - narrow_reference_1d(w, m1, v1, proc, times[1]))
        return float(narrow_reference_1d(w, m1, v1, proc, times[0], kind=quantity))
    c2 = _covs2d(covs)
    if quantity == "S_tot":
        return narrow_reference_2d(w, means, c2, proc, times[0]) - narrow_reference_2d(w, means, c2, proc, times[1])
    return narrow_reference_2d(w, means, c2, proc, times[0])


def narrow_library(case):
    """The library's Estimate for a NARROW_CASES entry (method="quadrature")."""
    import nent_ref as nr
    from nent_ref.core.mixture import GaussianMixture
    name, w, means, covs, pspec, quantity, times = case
    mix = GaussianMixture(w, means, np.asarray(covs, dtype=float))
    proc = _process(pspec)
    fn = {"S_tot": nr.total_entropy, "kl": nr.kl_to_equilibrium, "rate": nr.entropy_production_rate}[quantity]
    return fn(mix, proc, *times, method="quadrature")


def narrow_components(names=None):
    for case in NARROW_CASES:
        if names is not None and case[0] not in names:
            continue
        ref = narrow_reference(case)
        est = narrow_library(case)
        dev = abs(est.value - ref)
        ok = dev <= est.error_bound + 1e-11 * max(1.0, abs(ref)) and est.error_bound > 0
        check(f"narrow components {case[0]}: |library - reference| <= bound", ok,
              f"reference {ref!r}, library {float(est.value)!r}, |diff| {dev:.2g}, bound {est.error_bound:.2g}")


if __name__ == "__main__":
    gaussian_1d()
    gaussian_2d_numeric()
    mixture_stot_1d()
    narrow_components(None if "--narrow-all" in sys.argv else NARROW_DEFAULT)
    if _failures:
        print(f"{len(_failures)} check(s) FAILED: {_failures}")
        sys.exit(1)
    print("all mixture checks passed")
