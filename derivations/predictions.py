"""Sympy verification of the prediction conversions and schedule forms of nent_ref.quantities.predictions
and nent_ref.core.schedules (docs/theory.md sections 1b and 3b).

Run:  python derivations/predictions.py      (exits non-zero when a verification fails)

Setting: 1-D data x0 ~ N(m, S) under a linear process x = mu x0 + sqrt(v) eps, eps ~ N(0, 1), with
p_eq = N(0, k^2).  (Every linear process of nent_ref is of this form, and the conversions act per
coordinate, so the 1-D Gaussian fixes the coefficients of the linear maps between the predictions.)

Checks
------
1. Posterior means by Gaussian conditioning: E[eps | x] and E[x0 | x].
2. score = d/dx log p_s(x) = -E[eps | x] / sqrt(v)                        ("eps" prediction)
3. score = (mu E[x0 | x] - x) / v                                          ("x0" prediction)
4. With r = sqrt(mu^2 + v), a = mu/r, b = sqrt(v)/r and V = a E[eps|x] - b E[x0|x] ("v" prediction):
   E[eps | x] = a V + b x / r, and for mu^2 + v = 1 (VP, k = 1) V = sqrt(ab) eps - sqrt(1 - ab) x0
   (diffusers' v_prediction, Salimans & Ho 2022).
5. Inverse maps: x0 = (x + v score)/mu, eps = -sqrt(v) score, V = a eps - b x0.
6. e = score + x/k^2 is the deviation from equilibrium (grad log p_eq = -x/k^2).
7. Schedule forms: with ab = mu^2, lambda = log(ab/(1 - ab)) and sigma = sqrt((1 - ab)/ab),
   B = -log ab = log(1 + exp(-lambda)) = log(1 + sigma^2), and the time inputs of a VP with k = 1 are
   sigma = sqrt(v)/mu and lambda = log(mu^2/v).
8. Diffusers tables: ab_t = prod_{i<=t} (1 - beta_i) gives B_t = -sum log(1 - beta_i), and for the
   linear betas beta_i = (b0 + (b1 - b0) i/(N - 1))/N: sum_{i<=t} beta_i - int_0^{(t+1)/N} (b0 + (b1 - b0) s) ds
   = (b1 - b0)(t + 1)(t + 1 - N)/(2 N^2 (N - 1)) (the first-order part of the discretisation difference).
"""
from __future__ import annotations

import sys

import sympy as sp

from _checks import FAILURES, check  # noqa: E402  (derivations/_checks.py, beside this script)


def main() -> int:
    x, m = sp.symbols("x m", real=True)
    S, mu, v, k = sp.symbols("S mu v k", positive=True)
    # joint Gaussian of (x, eps) and (x, x0): x = mu x0 + sqrt(v) eps
    var_x = mu ** 2 * S + v
    mean_x = mu * m
    e_eps = sp.sqrt(v) / var_x * (x - mean_x)                 # Cov(eps, x)/Var(x) (x - E x)
    e_x0 = m + mu * S / var_x * (x - mean_x)                  # E x0 + Cov(x0, x)/Var(x) (x - E x)
    # 1: consistency of the two posterior means: x = mu E[x0|x] + sqrt(v) E[eps|x]
    check("1. x = mu E[x0|x] + sqrt(v) E[eps|x]", mu * e_x0 + sp.sqrt(v) * e_eps - x)
    log_p = -(x - mean_x) ** 2 / (2 * var_x) - sp.log(2 * sp.pi * var_x) / 2
    score = sp.diff(log_p, x)
    check("2. score = -E[eps|x]/sqrt(v)", score + e_eps / sp.sqrt(v))
    check("3. score = (mu E[x0|x] - x)/v", score - (mu * e_x0 - x) / v)
    r = sp.sqrt(mu ** 2 + v)
    a, b = mu / r, sp.sqrt(v) / r
    V = a * e_eps - b * e_x0
    check("4. E[eps|x] = a V + b x/r", e_eps - (a * V + b * x / r))
    ab = sp.symbols("alpha_bar", positive=True)
    eps0, x00 = sp.symbols("eps0 x00", real=True)
    vp_v = (a * eps0 - b * x00).subs({mu: sp.sqrt(ab), v: 1 - ab})
    check("4. VP k=1: V = sqrt(ab) eps - sqrt(1-ab) x0", vp_v - (sp.sqrt(ab) * eps0 - sp.sqrt(1 - ab) * x00))
    check("5. x0 = (x + v score)/mu", e_x0 - (x + v * score) / mu)
    check("5. eps = -sqrt(v) score", e_eps + sp.sqrt(v) * score)
    check("5. V = a eps - b x0 (inverse of 4)", V - (a * (-sp.sqrt(v) * score) - b * (x + v * score) / mu))
    log_peq = -x ** 2 / (2 * k ** 2)
    check("6. e = score + x/k^2 = score - grad log p_eq", (score + x / k ** 2) - (score - sp.diff(log_peq, x)))
    # 7: schedule forms
    lam = sp.log(ab / (1 - ab))
    sig = sp.sqrt((1 - ab) / ab)
    check("7. -log ab = log(1 + exp(-lambda))", sp.expand_log(-sp.log(ab) - sp.log(1 + sp.exp(-lam)), force=True))
    check("7. -log ab = log(1 + sigma^2)", sp.expand_log(-sp.log(ab) - sp.log(1 + sig ** 2), force=True))
    check("7. sigma = sqrt(v)/mu (VP, k = 1)", (sp.sqrt(v) / mu).subs({mu: sp.sqrt(ab), v: 1 - ab}) - sig)
    check("7. lambda = log(mu^2/v) (VP, k = 1)",
          sp.expand_log((sp.log(mu ** 2 / v)).subs({mu: sp.sqrt(ab), v: 1 - ab}) - lam, force=True))
    # 8: diffusers tables
    i, t, N = sp.symbols("i t N", integer=True, positive=True)
    b0, b1, s = sp.symbols("b0 b1 s", positive=True)
    beta_i = (b0 + (b1 - b0) * i / (N - 1)) / N
    total = sp.summation(beta_i, (i, 0, t))
    integral = sp.integrate(b0 + (b1 - b0) * s, (s, 0, (t + 1) / N))
    check("8. sum beta_i - int beta = (b1 - b0)(t+1)(t+1-N)/(2 N^2 (N-1))",
          total - integral - (b1 - b0) * (t + 1) * (t + 1 - N) / (2 * N ** 2 * (N - 1)))
    betas = sp.symbols("beta1:4", positive=True)
    prod = sp.prod([1 - bb for bb in betas])
    check("8. -log prod(1 - beta_i) = -sum log(1 - beta_i)",
          sp.expand_log(-sp.log(prod), force=True) + sum(sp.log(1 - bb) for bb in betas))
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed: {FAILURES}")
        return 1
    print("all prediction and schedule checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
