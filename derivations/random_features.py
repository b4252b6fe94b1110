"""Sympy verification of the Gaussian expectations of random Fourier features used by
nent_ref.quantities.random_features.

Run:  python derivations/random_features.py      (exits non-zero when a verification fails)

A feature is phi(x) = c cos(w.x + b) with c = sqrt(2/P).  For x ~ N(m, C) the module uses

  (a) E[cos(w.x + b)] = exp(-w^T C w / 2) cos(w.m + b),
      E[sin(w.x + b)] = exp(-w^T C w / 2) sin(w.m + b);
  (b) E[phi_j phi_k] = c^2/2 [ exp(-d^T C d/2) cos(d.m + b_j - b_k) + exp(-p^T C p/2) cos(p.m + b_j + b_k) ],
      d = w_j - w_k, p = w_j + w_k  (product-to-sum, then (a));
  (c) Stein: E[phi(x) (x - m)] = C E[grad phi],  grad phi = -c sin(w.x + b) w,
      so E[phi x] = m E[phi] + C E[grad phi] and, for e*(x) = -C^{-1}(x - m) + x/k^2 (the exact
      deviation of a Gaussian marginal from N(0, k^2 I)), E[phi e*] = -E[grad phi] + E[phi x]/k^2;
  (d) the denoising target t = -z/sqrt(v) + y/k^2 with y = a + sqrt(v) z (a one training point,
      z ~ N(0, I)) has E_z[phi(y) t] = the same expression as (c) with m = a, C = v I: the
      noise-averaged least-squares fit uses the expectations of (c) per training point.

Checks: (a), (c), (d) by exact 1-D expectations against the normal density with symbolic w, b, m,
C > 0, each from the normal moment generating function E exp(c t) = exp(c^2/2) (integrated by sympy
for real c, extended to complex c as both sides are entire, differentiated in c for powers of t); the
D-dimensional forms reduce to 1-D ones through x = m + L u (L L^T = C): w.x = w.m + (L^T w).u
with |L^T w|^2 = w^T C w (checked symbolically for a general 2x2 C), and the u_i are independent;
(b) by the product-to-sum identity and (a); plus a numerical 2-D check of (b) and (c) with Gauss-Hermite
product quadrature (80 nodes per axis, to 1e-13) for a correlated covariance.
"""
from __future__ import annotations

import sys

import sympy as sp

from _checks import FAILURES, check  # noqa: E402  (derivations/_checks.py, beside this script)


def check_close(name: str, a, b, tol=1e-13) -> None:
    ok = abs(a - b) <= tol * max(1, abs(b))
    print(f"[{'ok' if ok else 'FAIL'}] {name}  ({a:.15g} vs {b:.15g})")
    if not ok:
        FAILURES.append(name)


x, u = sp.symbols("x u", real=True)
w, b, m, wj, wk, bj, bk = sp.symbols("w b m w_j w_k b_j b_k", real=True)
C, v, k = sp.symbols("C v k", positive=True)

density = sp.exp(-(x - m) ** 2 / (2 * C)) / sp.sqrt(2 * sp.pi * C)


# ---------------------------------------------------------------- the normal moment generating function
# Every expectation below is a sum of terms  const * var^n * exp(a var)  (cos and sin written with complex
# exponentials, so a is complex).  For var ~ N(0, 1),  E[exp(c var)] = exp(c^2/2):  sympy integrates it for
# real c (checked here); both sides are entire functions of c, so they agree for every complex c (identity
# theorem), and differentiating under the integral (dominated convergence) gives
# E[var^n exp(c var)] = d^n/dc^n exp(c^2/2).  (Until issue 22 each term was integrated by sympy on its own,
# through Meijer G functions: ~7 s of this script; the same expectations, from one integral.)
c_real = sp.symbols("c_r", real=True)
t_std = sp.symbols("t", real=True)
check("E exp(c t) = exp(c^2/2) for t ~ N(0, 1), real c",
      sp.integrate(sp.exp(c_real * t_std - t_std ** 2 / 2) / sp.sqrt(2 * sp.pi), (t_std, -sp.oo, sp.oo),
                   conds="none") - sp.exp(c_real ** 2 / 2))
c_mgf = sp.symbols("c")                     # complex
MGF = sp.exp(c_mgf ** 2 / 2)


def _power_and_rate(factor, var):
    """(n, a) with factor = var^n exp(a var), a free of var; ValueError for any other factor."""
    if factor == 1:
        return 0, 0
    base, e = factor.as_base_exp()
    if base == var and e.is_Integer and e >= 0:
        return int(e), 0
    if base is sp.E or isinstance(factor, sp.exp):
        arg = sp.expand(factor.exp if isinstance(factor, sp.exp) else e)
        a = arg.coeff(var, 1)
        if not a.has(var) and sp.expand(arg - a * var) == 0:
            return 0, a
    raise ValueError(f"normal_expectation: the factor {factor} is not var^n or exp(a var)")


def normal_expectation(g, var):
    """int g(var) phi(var) d var over the real line, phi the standard normal density: ``g`` is written with
    complex exponentials, each term const * var^n * exp(a var) becomes const * (d/dc)^n exp(c^2/2) at c = a
    (the moment generating function above), and the sum is written back in real form."""
    g = sp.expand(g.rewrite(sp.exp), power_exp=True)
    total = 0
    for term in sp.Add.make_args(g):
        const, dependent = term.as_independent(var, as_Add=False)
        n, a = 0, 0
        for factor in sp.Mul.make_args(sp.powsimp(dependent, combine="exp")):
            n_f, a_f = _power_and_rate(factor, var)
            n, a = n + n_f, a + a_f
        total += const * sp.diff(MGF, c_mgf, n).subs(c_mgf, a)
    return sp.simplify(sp.expand_complex(sp.expand(total)))


def expect(f):
    """E[f(x)] for x ~ N(m, C), by integration over u = (x - m)/sqrt(C)."""
    return normal_expectation(f.subs(x, m + sp.sqrt(C) * u), u)


# ---------------------------------------------------------------- (a)
E_cos = expect(sp.cos(w * x + b))
E_sin = expect(sp.sin(w * x + b))
check("(a) E cos(w x + b) = exp(-w^2 C/2) cos(w m + b)", E_cos - sp.exp(-w ** 2 * C / 2) * sp.cos(w * m + b))
check("(a) E sin(w x + b) = exp(-w^2 C/2) sin(w m + b)", E_sin - sp.exp(-w ** 2 * C / 2) * sp.sin(w * m + b))

# ---------------------------------------------------------------- (b) product to sum, then (a)
prod = sp.cos(wj * x + bj) * sp.cos(wk * x + bk)
p2s = (sp.cos((wj - wk) * x + bj - bk) + sp.cos((wj + wk) * x + bj + bk)) / 2
check("(b) cos A cos B = [cos(A - B) + cos(A + B)] / 2", sp.expand_trig(sp.expand(prod - p2s)))
closed_b = (sp.exp(-(wj - wk) ** 2 * C / 2) * sp.cos((wj - wk) * m + bj - bk)
            + sp.exp(-(wj + wk) ** 2 * C / 2) * sp.cos((wj + wk) * m + bj + bk)) / 2
E_b = (E_cos.subs({w: wj - wk, b: bj - bk}) + E_cos.subs({w: wj + wk, b: bj + bk})) / 2
check("(b) E[cos cos] from (a)", E_b - closed_b)

# ---------------------------------------------------------------- (c) Stein
grad_phi = -sp.sin(w * x + b) * w
E_grad = expect(grad_phi)
E_x_phi = expect((x - m) * sp.cos(w * x + b))
check("(c) E[(x - m) cos(w x + b)] = C E[d/dx cos(w x + b)]", E_x_phi - C * E_grad)
e_star = -(x - m) / C + x / k ** 2
E_e = expect(sp.cos(w * x + b) * e_star)
check("(c) E[phi e*] = -E[phi'] + (m E[phi] + C E[phi'])/k^2", E_e - (-E_grad + (m * E_cos + C * E_grad) / k ** 2))

# ---------------------------------------------------------------- (d) denoising target, noise averaged
z = sp.symbols("z", real=True)
a = sp.symbols("a", real=True)
y = a + sp.sqrt(v) * z
target = -z / sp.sqrt(v) + y / k ** 2
E_d = normal_expectation(sp.cos(w * y + b) * target, z)
E_cos_a = sp.exp(-w ** 2 * v / 2) * sp.cos(w * a + b)
E_grad_a = -w * sp.exp(-w ** 2 * v / 2) * sp.sin(w * a + b)
check("(d) E_z[phi(y) t] = -E[phi'] + (a E[phi] + v E[phi'])/k^2 over N(a, v)",
      E_d - (-E_grad_a + (a * E_cos_a + v * E_grad_a) / k ** 2))

# ---------------------------------------------------------------- D-dimensional reduction
c11, c12, c22, w1, w2 = sp.symbols("c11 c12 c22 w1 w2", real=True)
Cm = sp.Matrix([[c11, c12], [c12, c22]])
L = sp.Matrix([[sp.sqrt(c11), 0], [c12 / sp.sqrt(c11), sp.sqrt(c22 - c12 ** 2 / c11)]])
check("L L^T = C for the 2x2 Cholesky factor", sp.simplify(L * L.T - Cm).norm())
wv = sp.Matrix([w1, w2])
check("|L^T w|^2 = w^T C w", sp.simplify((L.T * wv).dot(L.T * wv) - (wv.T * Cm * wv)[0]))

# ---------------------------------------------------------------- numerical 2-D check (Gauss-Hermite)
# An independent numerical check of (b) and (c) for a correlated 2-D covariance: a 2 x 80-node
# probabilists' Gauss-Hermite product rule in whitened coordinates (exact for polynomials of degree
# 159 per axis; the integrands are entire with Gaussian-damped coefficients, so the rule is
# accurate to rounding, ~1e-15).
import numpy as np  # noqa: E402

nodes, weights = np.polynomial.hermite_e.hermegauss(80)
weights = weights / np.sqrt(2 * np.pi)
M = np.array([0.3, -0.7])
CC = np.array([[0.5, 0.2], [0.2, 0.4]])
Lc = np.linalg.cholesky(CC)
Wj, Wk, Bj, Bk = np.array([1.1, -0.4]), np.array([0.3, 0.9]), 0.7, 2.1
U1, U2 = np.meshgrid(nodes, nodes, indexing="ij")
WW = np.outer(weights, weights)
X1 = M[0] + Lc[0, 0] * U1
X2 = M[1] + Lc[1, 0] * U1 + Lc[1, 1] * U2


def gauss2(f):
    return float(np.sum(WW * f(X1, X2)))


def qf(a):
    return float(a @ CC @ a)


num_b = gauss2(lambda x1, x2: np.cos(Wj[0] * x1 + Wj[1] * x2 + Bj) * np.cos(Wk[0] * x1 + Wk[1] * x2 + Bk))
d, p = Wj - Wk, Wj + Wk
ref_b = 0.5 * (np.exp(-qf(d) / 2) * np.cos(d @ M + Bj - Bk) + np.exp(-qf(p) / 2) * np.cos(p @ M + Bj + Bk))
check_close("(b) 2-D correlated: E[cos cos] by Gauss-Hermite", num_b, ref_b)
eg = -Wj * np.exp(-qf(Wj) / 2) * np.sin(Wj @ M + Bj)
for i in range(2):
    num_c = gauss2(lambda x1, x2: ((x1, x2)[i] - M[i]) * np.cos(Wj[0] * x1 + Wj[1] * x2 + Bj))
    check_close(f"(c) 2-D correlated: E[(x_{i + 1} - m_{i + 1}) cos] = (C E[grad cos])_{i + 1}", num_c,
                float(CC[i] @ eg))

if FAILURES:
    print(f"{len(FAILURES)} check(s) FAILED: {FAILURES}")
    sys.exit(1)
print("all random-feature checks passed")
