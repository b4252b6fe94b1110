"""Sympy verification of the closed forms used by nent_ref.neural and nent_ref.reference_models.

Run:  python derivations/neural_gaussian.py      (exits non-zero when a verification fails)

Checks
------
1. Time integrals for equilibrium processes (sigma^2 = 2 a k^2, mu' = -a mu):
   I2 = int D mu^2 ds = k^2/2 (mu0^2 - mu1^2),  I1 = int D mu ds = k^2 (mu0 - mu1),
   for the linear VP schedule and for SL, by differentiating the antiderivatives (and one direct
   definite integral for SL).
2. Gaussian expectations (D = 2, p = N(m, diag(w1, w2)), general A, c):
   E|A x + c|^2 = tr(A Sig A^T) + |A m + c|^2,
   E[(-Sig^-1 (x - m) + x/k^2) . (A x + c)] = -tr A + (tr(A Sig) + m^T A m + c.m)/k^2.
3. With Sig_s = mu^2 S + v I, v = k^2 (1 - mu^2), m_s = mu m (S a general symmetric 2x2):
   E[e*.delta] = mu^2 [(tr(A S) + m^T A m)/k^2 - tr A] + mu c.m / k^2  and
   E|delta|^2 = mu^2 [tr(A S A^T) + |A m|^2] + v |A|_F^2 + 2 mu c.(A m) + |c|^2,
   which integrated against D ds with check 1 gives PerturbedE.closed_form.
4. Denoising constant (1-D Gaussian data N(m, S)): with y = mu x0 + sqrt(v) z,
   E[(d/dy log p_s(y) + z/sqrt(v))^2] = 1/v - 1/(mu^2 S + v)  (= D/v - E|score|^2 per dimension);
   for a Dirac atom (S = 0) it vanishes.
5. Denoising identity (1-D, model e(y) = alpha y + beta): E[(sqrt(v)(-y/k^2 + e) + z)^2] / v
   = E[(e - e*)^2] + constant of check 4.
6. Stein's identity for a 1-D two-component Gaussian mixture: E[score] = 0, E[score * x] = -1,
   so the best affine fit of e* is the e* of the moment-matched Gaussian.
"""
from __future__ import annotations

import sys

import sympy as sp

from _checks import FAILURES, check  # noqa: E402  (derivations/_checks.py, beside this script)


s, s0, s1, k, bmin, bmax, S0 = sp.symbols("s s0 s1 k beta_min beta_max Sigma0", positive=True)

# ---------------------------------------------------------------- 1. time integrals
beta = bmin + (bmax - bmin) * s
B = sp.integrate(beta, (s, 0, s))
mu_vp = sp.exp(-B / 2)
D_vp = k ** 2 * beta / 2
for label, D_, mu_, kk in (("VP linear", D_vp, mu_vp, k), ("SL", S0 ** 2 / (1 - s), 1 - s, S0)):
    # fundamental theorem of calculus: the antiderivatives -k^2 mu^2 / 2 and -k^2 mu have derivatives
    # D mu^2 and D mu, so the integrals from s0 to s1 are the stated differences
    check(f"{label}: d/ds(-k^2 mu^2 / 2) = D mu^2", sp.diff(-kk ** 2 * mu_ ** 2 / 2, s) - D_ * mu_ ** 2)
    check(f"{label}: d/ds(-k^2 mu) = D mu", sp.diff(-kk ** 2 * mu_, s) - D_ * mu_)
    # the identity behind both: sigma^2 = 2 a k^2 with a = -mu'/mu
    a_ = -sp.diff(mu_, s) / mu_
    check(f"{label}: D = a k^2", sp.simplify(D_ - a_ * kk ** 2))
# a direct definite integral for SL (polynomial integrand) as an independent check
I2_sl = sp.integrate(S0 ** 2 * (1 - s), (s, s0, s1))
check("SL: int_{s0}^{s1} D mu^2 ds by direct integration", I2_sl - S0 ** 2 / 2 * ((1 - s0) ** 2 - (1 - s1) ** 2))

# ---------------------------------------------------------------- 2. Gaussian expectations (2-D)
x1, x2 = sp.symbols("x1 x2", real=True)
m1, m2, c1, c2 = sp.symbols("m1 m2 c1 c2", real=True)
w1, w2 = sp.symbols("w1 w2", positive=True)
a11, a12, a21, a22 = sp.symbols("a11 a12 a21 a22", real=True)
A = sp.Matrix([[a11, a12], [a21, a22]])
c = sp.Matrix([c1, c2])
m = sp.Matrix([m1, m2])
X = sp.Matrix([x1, x2])
Sig = sp.diag(w1, w2)


_U = sp.symbols("u", real=True)
_MOMENTS: dict[int, sp.Expr] = {}


def normal_moment(n: int):
    """E[u^n] for u ~ N(0, 1), by symbolic integration (cached)."""
    if n not in _MOMENTS:
        _MOMENTS[n] = sp.integrate(_U ** n * sp.exp(-_U ** 2 / 2) / sp.sqrt(2 * sp.pi), (_U, -sp.oo, sp.oo))
    return _MOMENTS[n]


def expect_std(f, normals):
    """E of a polynomial f in independent standard normals ``normals`` (expand, replace monomials by moments)."""
    poly = sp.Poly(sp.expand(f), *normals)
    total = 0
    for powers, coeff in poly.terms():
        term = coeff
        for n in powers:
            term *= normal_moment(n)
        total += term
    return sp.simplify(total)


u1, u2 = sp.symbols("u1 u2", real=True)


def expect(f):
    """E over x ~ N(m, diag(w1, w2)) of a polynomial f(x1, x2): x_i = m_i + sqrt(w_i) u_i."""
    return expect_std(f.subs({x1: m1 + sp.sqrt(w1) * u1, x2: m2 + sp.sqrt(w2) * u2}), (u1, u2))


delta = A * X + c
check("E|A x + c|^2 = tr(A Sig A^T) + |A m + c|^2",
      expect((delta.T * delta)[0]) - ((A * Sig * A.T).trace() + ((A * m + c).T * (A * m + c))[0]))
estar = -Sig.inv() * (X - m) + X / k ** 2
check("E[e* . (A x + c)] = -tr A + (tr(A Sig) + m^T A m + c.m)/k^2",
      expect((estar.T * delta)[0]) - (-A.trace() + ((A * Sig).trace() + (m.T * A * m)[0] + (c.T * m)[0]) / k ** 2))

# ---------------------------------------------------------------- 3. time-dependent form
mu = sp.symbols("mu", positive=True)
s11, s12, s22 = sp.symbols("S11 S12 S22", real=True)
S = sp.Matrix([[s11, s12], [s12, s22]])
v = k ** 2 * (1 - mu ** 2)
Sig_s = mu ** 2 * S + v * sp.eye(2)
ms = mu * m
pointwise_cross = -A.trace() + ((A * Sig_s).trace() + (ms.T * A * ms)[0] + (c.T * ms)[0]) / k ** 2
check("E[e*.delta] at time s = mu^2 [(tr(AS) + m^T A m)/k^2 - tr A] + mu c.m/k^2",
      pointwise_cross - (mu ** 2 * (((A * S).trace() + (m.T * A * m)[0]) / k ** 2 - A.trace())
                         + mu * (c.T * m)[0] / k ** 2))
pointwise_sq = (A * Sig_s * A.T).trace() + ((A * ms + c).T * (A * ms + c))[0]
check("E|delta|^2 at time s = mu^2 [tr(ASA^T) + |Am|^2] + v |A|_F^2 + 2 mu c.Am + |c|^2",
      pointwise_sq - (mu ** 2 * ((A * S * A.T).trace() + ((A * m).T * (A * m))[0])
                      + v * sum(a ** 2 for a in A) + 2 * mu * (c.T * A * m)[0] + (c.T * c)[0]))

# ---------------------------------------------------------------- 4. denoising constant (1-D)
x0, z, y = sp.symbols("x0 z y", real=True)
mS, Sd, vv = sp.symbols("m S v", positive=True)
mu_ = sp.symbols("mu", positive=True)
yv = mu_ * x0 + sp.sqrt(vv) * z
score_s = -(yv - mu_ * mS) / (mu_ ** 2 * Sd + vv)
r = score_s + z / sp.sqrt(vv)


def expect_x0z(f):
    """E over x0 ~ N(m, S), z ~ N(0, 1) of a rational expression that is polynomial in x0 and z."""
    return expect_std(f.subs(x0, mS + sp.sqrt(Sd) * u1), (u1, z))


Kpt = expect_x0z(r ** 2)
check("E[(score_s(y) + z/sqrt v)^2] = 1/v - 1/(mu^2 S + v)", Kpt - (1 / vv - 1 / (mu_ ** 2 * Sd + vv)))
check("Dirac data (S -> 0): constant vanishes", sp.limit(1 / vv - 1 / (mu_ ** 2 * Sd + vv), Sd, 0))
check("E[score_s^2] = 1/(mu^2 S + v)", expect_x0z(score_s ** 2) - 1 / (mu_ ** 2 * Sd + vv))

# ---------------------------------------------------------------- 5. denoising identity (1-D)
al, be = sp.symbols("alpha beta", real=True)
kk = sp.symbols("k", positive=True)
e_model = al * yv + be
estar_1d = score_s + yv / kk ** 2
den = (sp.sqrt(vv) * (-yv / kk ** 2 + e_model) + z) ** 2 / vv
check("E den / v = E (e - e*)^2 + (1/v - 1/Sig_s)",
      expect_x0z(den) - expect_x0z((e_model - estar_1d) ** 2) - (1 / vv - 1 / (mu_ ** 2 * Sd + vv)))

# ---------------------------------------------------------------- 6. Stein for a mixture (1-D)
xx = sp.symbols("x", real=True)
p_w, ma, mb = sp.symbols("p m_a m_b", real=True)
va, vb = sp.symbols("v_a v_b", positive=True)


def normal(x, mean, var):
    return sp.exp(-(x - mean) ** 2 / (2 * var)) / sp.sqrt(2 * sp.pi * var)


# E[score f(x)] = int p'(x) f(x) dx, linear in the components
for label, f, target in (("E[score] = 0", 1, 0), ("E[score x] = -1", xx, -1)):
    total = sum(wt * sp.integrate(sp.diff(normal(xx, mean, var), xx) * f, (xx, -sp.oo, sp.oo))
                for wt, mean, var in ((p_w, ma, va), (1 - p_w, mb, vb)))
    check(f"Stein, two-component mixture: {label}", total - target)

if FAILURES:
    print(f"{len(FAILURES)} verification(s) FAILED: {FAILURES}")
    sys.exit(1)
print("all verifications passed")
