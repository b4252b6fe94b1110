"""Sympy verification of the Gaussian optimal-transport closed forms used by nent_ref.ot.

Cost |x - y|^2 throughout (no factor 1/2); W2^2 is the squared distance.

1. Bures formula, 1-D: W2^2(N(m1, s1^2), N(m2, s2^2)) from the formula equals the direct
   minimum over Gaussian couplings (correlation rho in [-1, 1]) = quantile coupling,
   (m1 - m2)^2 + (s1 - s2)^2.
2. Bures formula, commuting covariances (diagonal, d = 3): equals sum_k (sqrt a_k - sqrt b_k)^2 + |dm|^2.
3. Gaussian Monge map, 2-D, exact rational arithmetic: A = S1^-1/2 (S1^1/2 S2 S1^1/2)^1/2 S1^-1/2 is
   symmetric positive definite (gradient of a convex function, hence optimal by Brenier), pushes
   N(m1, S1) to N(m2, S2) (A S1 A = S2), and its transport cost equals the Bures value.
4. Entropic OT between 1-D Gaussians (Janati, Muzellec, Peyre & Cuturi, NeurIPS 2020, Thm 1, with
   eps = 2 sigma^2 and reference measure p (x) q): direct minimisation of
   E|x - y|^2 + eps KL(pi || p (x) q) over Gaussian couplings with covariance c,
   KL = -1/2 log(1 - c^2 / (A B)), equals the closed form.
5. Geodesic protocol, 1-D: along the W2 geodesic m_t = (1-t) m0 + t m1, s_t = (1-t) s0 + t s1 the
   velocity field v = t' [ (s1 - s0)(x - m_t)/s_t + (m1 - m0) ] satisfies the continuity equation
   and E v^2 = t'^2 W2^2 (constant speed), used by nent_ref.speed.geodesic_protocol.

Exits with status 1 if any check fails.
"""
import sys

import sympy as sp

failures = []


def check(name, ok):
    print(f"[{'ok' if ok else 'FAIL'}] {name}")
    if not ok:
        failures.append(name)


def is_zero(expr, subs_list=()):
    expr = sp.simplify(expr)
    if expr == 0:
        return True
    # fall back to high-precision evaluation at several points
    return all(abs(sp.N(expr.subs(s), 50)) < sp.Float(10) ** -40 for s in subs_list) and bool(subs_list)


# 1. 1-D Bures vs direct minimisation over Gaussian couplings
m1, m2 = sp.symbols("m1 m2", real=True)
s1, s2 = sp.symbols("s1 s2", positive=True)
rho = sp.symbols("rho", real=True)
cost_rho = (m1 - m2) ** 2 + s1 ** 2 + s2 ** 2 - 2 * rho * s1 * s2       # E|X - Y|^2, corr rho
direct = sp.Min(*[cost_rho.subs(rho, r) for r in (-1, 1)])            # linear in rho: minimum at rho = 1
direct = cost_rho.subs(rho, 1)
bures_1d = (m1 - m2) ** 2 + s1 ** 2 + s2 ** 2 - 2 * sp.sqrt(sp.sqrt(s1 ** 2) * s2 ** 2 * sp.sqrt(s1 ** 2))
check("1-D Bures = min over Gaussian couplings = (dm)^2 + (s1 - s2)^2",
      sp.simplify(bures_1d - direct) == 0 and sp.simplify(direct - ((m1 - m2) ** 2 + (s1 - s2) ** 2)) == 0)
check("1-D coupling cost decreasing in rho (minimum at rho = 1)", sp.diff(cost_rho, rho) == -2 * s1 * s2)

# 2. commuting (diagonal) covariances
a = sp.symbols("a1:4", positive=True)
b = sp.symbols("b1:4", positive=True)
dm = sp.symbols("d1:4", real=True)
S1 = sp.diag(*a)
S2 = sp.diag(*b)
r1 = sp.diag(*[sp.sqrt(x) for x in a])
M = r1 * S2 * r1
sqrtM = sp.diag(*[sp.sqrt(M[k, k]) for k in range(3)])
check("diagonal: (S1^1/2 S2 S1^1/2) is diagonal", M == sp.diag(*[a[k] * b[k] for k in range(3)]))
bures_diag = sum(x ** 2 for x in dm) + S1.trace() + S2.trace() - 2 * sqrtM.trace()
closed_diag = sum(x ** 2 for x in dm) + sum((sp.sqrt(a[k]) - sp.sqrt(b[k])) ** 2 for k in range(3))
check("commuting covariances: Bures = sum (sqrt a - sqrt b)^2 + |dm|^2", sp.simplify(bures_diag - closed_diag) == 0)

# 3. Monge map with exact rational square roots
R = sp.Matrix([[sp.Rational(3, 5), -sp.Rational(4, 5)], [sp.Rational(4, 5), sp.Rational(3, 5)]])
r1 = R * sp.diag(2, 3) * R.T                      # S1^{1/2}, so S1 = R diag(4, 9) R^T
S1 = r1 * r1
N = sp.Matrix([[2, sp.Rational(1, 2)], [sp.Rational(1, 2), 1]])   # (S1^1/2 S2 S1^1/2)^1/2, SPD
r1inv = r1.inv()
S2 = r1inv * N * N * r1inv
check("construction: S1^1/2 S2 S1^1/2 = N^2 with N SPD",
      sp.simplify(r1 * S2 * r1 - N * N) == sp.zeros(2) and N.is_positive_definite)
A = r1inv * N * r1inv
check("Monge matrix A symmetric positive definite", A == A.T and A.is_positive_definite)
check("A S1 A = S2 (push-forward of the covariance)", sp.simplify(A * S1 * A - S2) == sp.zeros(2))
mu1 = sp.Matrix([1, -2])
mu2 = sp.Matrix([sp.Rational(1, 3), 4])
# E|X - T X|^2 with T x = mu2 + A (x - mu1):  |mu1 - mu2|^2 + tr((I - A) S1 (I - A)^T)
I2 = sp.eye(2)
cost_T = ((mu1 - mu2).T * (mu1 - mu2))[0, 0] + ((I2 - A) * S1 * (I2 - A).T).trace()
bures_val = ((mu1 - mu2).T * (mu1 - mu2))[0, 0] + S1.trace() + S2.trace() - 2 * N.trace()
check("transport cost of the Monge map = Bures value (exact rational)", sp.simplify(cost_T - bures_val) == 0)
print("   Bures value of the rational example:", bures_val, "=", sp.N(bures_val, 20))

# 4. entropic OT, 1-D
A_, B_, sig = sp.symbols("A B sigma", positive=True)
c = sp.symbols("c", real=True)
eps = 2 * sig ** 2
J = (m1 - m2) ** 2 + A_ + B_ - 2 * c - eps * sp.Rational(1, 2) * sp.log(1 - c ** 2 / (A_ * B_))
stationary = sp.solve(sp.Eq(sp.diff(J, c), 0), c)
cstar = (-sig ** 2 + sp.sqrt(sig ** 4 + 4 * A_ * B_)) / 2
check("stationary covariance c* = (-sigma^2 + sqrt(sigma^4 + 4AB))/2 solves dJ/dc = 0",
      sp.simplify(sp.diff(J, c).subs(c, cstar)) == 0)
# admissible: AB - c*^2 = sigma^2 c* > 0 (from the quadratic), so |c*| < sqrt(AB)
check("c* is admissible: AB - c*^2 = sigma^2 c* with c* > 0",
      sp.simplify(A_ * B_ - cstar ** 2 - sig ** 2 * cstar) == 0 and sp.simplify(cstar).is_positive is not False)
check("J convex in c on |c| < sqrt(AB)", sp.simplify(sp.diff(J, c, 2) - eps * (A_ * B_ + c ** 2) / (A_ * B_ - c ** 2) ** 2) == 0)
D = sp.sqrt(4 * A_ * B_ + sig ** 4)
closed = (m1 - m2) ** 2 + A_ + B_ - D + sig ** 2 * (1 - sp.log(2 * sig ** 2)) + sig ** 2 * sp.log(D + sig ** 2)
points = [{m1: sp.Rational(p[0]), m2: sp.Rational(p[1]), A_: sp.Rational(p[2]), B_: sp.Rational(p[3]),
           sig: sp.Rational(p[4])} for p in (("1/3", "-2", "1/2", "3", "1/5"), ("0", "1", "2", "2", "1"),
                                             ("5", "7/2", "1/9", "4", "3"), ("-1", "1", "1", "1", "1/100"))]
check("Janati et al. closed form = direct minimum J(c*) (1-D)", is_zero(J.subs(c, cstar) - closed, points))
print("   stationary points found by sympy:", stationary)

# 5. geodesic velocity field, 1-D
x, t, tp = sp.symbols("x t tprime", real=True)
m0s, m1s = sp.symbols("mu0 mu1", real=True)
s0s, s1s = sp.symbols("sd0 sd1", positive=True)
mt = (1 - t) * m0s + t * m1s
st = (1 - t) * s0s + t * s1s
p = sp.exp(-(x - mt) ** 2 / (2 * st ** 2)) / (sp.sqrt(2 * sp.pi) * st)   # s_t > 0 on [0, 1]
v = tp * ((s1s - s0s) * (x - mt) / st + (m1s - m0s))      # velocity per unit s, t' = dt/ds
continuity = tp * sp.diff(p, t) + sp.diff(p * v, x)
check("geodesic: d p/ds + d(p v)/dx = 0", sp.simplify(sp.expand(continuity / p)) == 0)
# E v^2 under N(m_t, s_t^2):  E (x - m_t) = 0, E (x - m_t)^2 = s_t^2
z = sp.symbols("z", real=True)
Ev2 = sp.expand(v.subs(x, mt + st * z) ** 2)
Ev2 = Ev2.coeff(z, 0) + Ev2.coeff(z, 2) * 1   # E z = 0, E z^2 = 1
check("geodesic: E v^2 = t'^2 W2^2 (constant speed)",
      sp.simplify(Ev2 - tp ** 2 * ((m1s - m0s) ** 2 + (s1s - s0s) ** 2)) == 0)

if failures:
    print(f"{len(failures)} check(s) FAILED: {failures}")
    sys.exit(1)
print("all checks passed")
