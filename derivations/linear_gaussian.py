"""Sympy derivation of the closed forms for Gaussian and Dirac data under linear processes.

Run ``python derivations/linear_gaussian.py``: it derives and verifies, printing each step,
and exits with status 1 if any verification fails.  The tests import :func:`expressions`
and compare the library's numerics with these expressions at random parameters.

What is derived (THEORY.md sections 1, 2, 4), for a general linear process
``b = -a(s) x``, ``sigma(s)^2 = g(s)``, ``D = g/2``, isotropic in space, so that every
eigen-direction of the data covariance evolves independently:

1. Marginal moments: ``mu' = -a mu``, ``v' = -2 a v + g``, ``v(0) = 0``; with an
   s-independent equilibrium ``g = 2 a k^2`` the solution is ``v = k^2 (1 - mu^2)``.
2. Rate per direction for data N(m, lam): ``E_{p_s}(x/k^2 - (x - mu m)/lam_s)^2`` computed from
   the Gaussian moments, equal to
   ``mu^4 (k^2 - lam)^2 / (lam_s k^4) + mu^2 m^2 / k^4``  (lam_s = mu^2 lam + v).
3. Identity (2.2): d/ds KL(p_s || p_eq) = -Sdot, verified symbolically.
4. VE (no equilibrium): Sdot = D / lam_s = dH/ds.
5. Dirac data (lam = 0): the rate, and s * Sdot -> 1/2 per dimension as s -> 0 for linear VP,
   cosine VP and SL, hence S_tot(eps, T) ~ (D/2) log(1/eps).
6. Schedules: linear VP B(s), cosine VP beta = dB/ds, SL mu and v, VE v, and the clocks.
"""
from __future__ import annotations

import sys

import sympy as sp

s, u = sp.symbols("s u", nonnegative=True)
x = sp.symbols("x", real=True)
k2, lam, m = sp.symbols("k2 lam m", positive=True)
bmin, bmax, kappa, c, sig0, smin, smax = sp.symbols("beta_min beta_max kappa c Sigma0 sigma_min sigma_max",
                                                    positive=True)
MU, V = sp.symbols("mu v", positive=True)

_failures: list[str] = []


def check(name: str, expr) -> None:
    """Record a verification: ``expr`` must simplify to zero (or be True)."""
    ok = expr is sp.true or expr is True or sp.simplify(expr) == 0
    print(f"[{'ok' if ok else 'FAIL'}] {name}")
    if not ok:
        _failures.append(name)


# ---------------------------------------------------------------- generic per-direction forms
def gaussian_expectation(poly, mean, var):
    """E[poly(x)] for x ~ N(mean, var), poly a polynomial in x: substitute x = mean + sqrt(var) z
    and replace z^k by the standard normal moments (k-1)!! (0 for odd k)."""
    z = sp.Symbol("z", real=True)
    expanded = sp.Poly(sp.expand(poly.subs(x, mean + sp.sqrt(var) * z)), z)
    return sp.simplify(sum(coef * (sp.factorial2(k - 1) if k % 2 == 0 else 0)
                           for (k,), coef in expanded.terms()))


def rate_integrand_expectation(mu_, v_, k2_, lam_, m_):
    """E_{N(mu m, lam_s)} (x/k^2 - (x - mu m)/lam_s)^2 (1-D), from Gaussian moments."""
    lam_s = mu_ ** 2 * lam_ + v_
    return gaussian_expectation((x / k2_ - (x - mu_ * m_) / lam_s) ** 2, mu_ * m_, lam_s)


def rate_library_form(mu_, k2_, lam_, m_):
    """The library's stable form, valid when v = k^2 (1 - mu^2)."""
    lam_s = mu_ ** 2 * lam_ + k2_ * (1 - mu_ ** 2)
    return mu_ ** 4 * (k2_ - lam_) ** 2 / (lam_s * k2_ ** 2) + mu_ ** 2 * m_ ** 2 / k2_ ** 2


def kl_1d(mu_, v_, k2_, lam_, m_):
    """KL(N(mu m, lam_s) || N(0, k^2)) per direction."""
    lam_s = mu_ ** 2 * lam_ + v_
    return sp.Rational(1, 2) * (lam_s / k2_ + mu_ ** 2 * m_ ** 2 / k2_ - 1 - sp.log(lam_s / k2_))


# ---------------------------------------------------------------- schedules
def vp_linear():
    beta = bmin + (bmax - bmin) * s
    B = sp.integrate(beta.subs(s, u), (u, 0, s))
    mu2 = sp.exp(-B)
    return {"beta": beta, "B": B, "mu2": mu2, "v": kappa ** 2 * (1 - mu2),
            "D": kappa ** 2 * beta / 2, "clock0": sp.integrate((kappa ** 2 * beta / 2).subs(s, u), (u, 0, s))}


def vp_cosine():
    phase = lambda t: sp.pi / 2 * (t + c) / (1 + c)  # noqa: E731
    abar = sp.cos(phase(s)) ** 2 / sp.cos(phase(0)) ** 2
    B = -sp.log(abar)
    beta = sp.diff(B, s)
    return {"beta": beta, "B": B, "mu2": abar, "v": kappa ** 2 * (1 - abar), "D": kappa ** 2 * beta / 2,
            "clock0": kappa ** 2 * B / 2}


def sl():
    """SL: mu solves mu' = -mu/(1 - s), mu(0) = 1 (sympy's dsolve), v by variation of constants."""
    a = 1 / (1 - s)
    f = sp.Function("f")
    mu = sp.dsolve(sp.Eq(f(s).diff(s), -a * f(s)), f(s), ics={f(0): 1}).rhs
    g = 2 * sig0 ** 2 / (1 - s)
    v = sp.simplify(sp.integrate(mu ** 2 / mu.subs(s, u) ** 2 * g.subs(s, u), (u, 0, s)))
    # clock: the antiderivative of D = g/2 vanishing at 0; sympy's log branch for s < 1 is -log(1 - s)
    clock0 = -sig0 ** 2 * sp.log(1 - s)
    return {"a": a, "mu": mu, "mu2": sp.expand(mu ** 2), "v": v, "D": g / 2, "clock0": clock0}


def ve():
    sve2 = smin ** 2 * (smax / smin) ** (2 * s)
    g = sp.diff(sve2, s)
    return {"sigma2": g, "v": sve2 - sve2.subs(s, 0), "D": g / 2,
            "clock0": sp.integrate((g / 2).subs(s, u), (u, 0, s))}


def expressions() -> dict:
    """Sympy expressions the tests compare the library against (symbols as module globals)."""
    out = {}
    for name, proc in (("vp_linear", vp_linear()), ("vp_cosine", vp_cosine()), ("sl", sl())):
        mu2, v, Dc = proc["mu2"], proc["v"], proc["D"]
        k2_ = kappa ** 2 if name != "sl" else sig0 ** 2
        mu_ = proc.get("mu", sp.sqrt(mu2))
        out[name] = {
            "mu2": mu2, "v": v, "D": Dc, "clock0": proc["clock0"],
            # per-direction KL and rate for data N(m, lam)
            "kl": kl_1d(mu_, v, k2_, lam, m),
            "rate": Dc * rate_library_form(mu_, k2_, lam, m),
            "rate_dirac": Dc * rate_library_form(mu_, k2_, 0, m),
        }
    p = ve()
    lam_s = lam + p["v"]
    out["ve"] = {"v": p["v"], "D": p["D"], "clock0": p["clock0"], "rate": p["D"] / lam_s,
                 "entropy": sp.log(2 * sp.pi * sp.E * lam_s) / 2}
    return out


# ---------------------------------------------------------------- verifications
def main() -> int:
    a_f, g_f, mu_f, v_f = (sp.Function(n) for n in ("a", "g", "mu", "v"))
    # 1. v = k^2 (1 - mu^2) solves v' = -2 a v + g when g = 2 a k^2 and mu' = -a mu
    vv = k2 * (1 - mu_f(s) ** 2)
    lhs = sp.diff(vv, s).subs(sp.Derivative(mu_f(s), s), -a_f(s) * mu_f(s))
    check("v = k^2 (1 - mu^2) solves v' = -2 a v + 2 a k^2", lhs - (-2 * a_f(s) * vv + 2 * a_f(s) * k2))

    # 2. rate per direction: direct Gaussian integral equals the library form
    direct = rate_integrand_expectation(MU, k2 * (1 - MU ** 2), k2, lam, m)
    check("E(x/k^2 - (x - mu m)/lam_s)^2 = mu^4 (k^2 - lam)^2 / (lam_s k^4) + mu^2 m^2 / k^4",
          direct - rate_library_form(MU, k2, lam, m))
    # THEORY.md section 4 one-dimensional check: (1/k^2 - 1/w)^2 w + a^2/k^4 for p = N(a, w)
    w, aa = sp.symbols("w a", positive=True)
    e1 = gaussian_expectation((x / k2 - (x - aa) / w) ** 2, aa, w)
    check("THEORY.md 1-D check (1/k^2 - 1/w)^2 w + a^2/k^4", e1 - ((1 / k2 - 1 / w) ** 2 * w + aa ** 2 / k2 ** 2))

    # 3. identity (2.2) for a general linear process with s-independent equilibrium
    mu = mu_f(s)
    kl = kl_1d(mu, k2 * (1 - mu ** 2), k2, lam, m)
    dkl = sp.diff(kl, s).subs(sp.Derivative(mu_f(s), s), -a_f(s) * mu)
    Dc = a_f(s) * k2  # D = g/2 = a k^2
    check("d/ds KL(p_s || p_eq) = -Sdot (general a(s))", dkl + Dc * rate_library_form(mu, k2, lam, m))

    # 4. VE: Sdot = D / lam_s equals dH/ds
    p = ve()
    H = sp.log(2 * sp.pi * sp.E * (lam + p["v"])) / 2
    check("VE: dH/ds = D / lam_s", sp.diff(H, s) - p["D"] / (lam + p["v"]))

    # 5. Dirac: rate and its s -> 0 behaviour (per dimension s * Sdot -> 1/2)
    vl = vp_linear()
    dirac_vp = vl["D"] * rate_library_form(sp.sqrt(vl["mu2"]), kappa ** 2, 0, m)
    theory = vl["beta"] / 2 * (vl["mu2"] ** 2 / (1 - vl["mu2"]) + vl["mu2"] * m ** 2 / kappa ** 2)
    check("Dirac VP rate = (beta/2)[mu^4/(1 - mu^2) + mu^2 m^2/kappa^2] (THEORY.md section 4)", dirac_vp - theory)
    check("Dirac VP: s * Sdot -> 1/2 as s -> 0", sp.limit(s * dirac_vp, s, 0) - sp.Rational(1, 2))
    vc = vp_cosine()
    dirac_cos = vc["D"] * rate_library_form(sp.sqrt(vc["mu2"]), kappa ** 2, 0, m)
    check("Dirac cosine VP: s * Sdot -> 1/2 as s -> 0", sp.limit(s * dirac_cos, s, 0) - sp.Rational(1, 2))
    ps = sl()
    dirac_sl = ps["D"] * rate_library_form(sp.sqrt(ps["mu2"]), sig0 ** 2, 0, m)
    check("Dirac SL: s * Sdot -> 1/2 as s -> 0", sp.limit(s * dirac_sl, s, 0) - sp.Rational(1, 2))

    # 6. schedules
    check("linear VP: B = beta_min s + (beta_max - beta_min) s^2 / 2",
          vl["B"] - (bmin * s + (bmax - bmin) * s ** 2 / 2))
    check("linear VP: clock = kappa^2 B / 2", vl["clock0"] - kappa ** 2 * vl["B"] / 2)
    check("cosine VP: beta = pi/(1+c) tan(pi/2 (s+c)/(1+c))",
          sp.simplify(vc["beta"] - sp.pi / (1 + c) * sp.tan(sp.pi / 2 * (s + c) / (1 + c))))
    check("cosine VP: mu(1) = 0", sp.simplify(vc["mu2"].subs(s, 1)))
    check("SL: mu = 1 - s (dsolve)", ps["mu"] - (1 - s))
    check("SL: v = Sigma0^2 (1 - (1 - s)^2)", ps["v"] - sig0 ** 2 * (1 - (1 - s) ** 2))
    check("SL: v = k^2 (1 - mu^2) (s-independent equilibrium)", ps["v"] - sig0 ** 2 * (1 - ps["mu2"]))
    check("SL: clock = -Sigma0^2 log(1 - s): derivative is D", sp.diff(ps["clock0"], s) - ps["D"])
    check("SL: clock(0) = 0", ps["clock0"].subs(s, 0))
    check("VE: clock = v / 2", p["clock0"] - p["v"] / 2)
    # every process: the expressions() table is self-consistent (rate = -d/ds KL, uses own mu2, v)
    for name, e in expressions().items():
        if name == "ve":
            check("ve: rate = d/ds entropy", sp.diff(e["entropy"], s) - e["rate"])
            continue
        num = {bmin: sp.Rational(1, 10), bmax: 16, kappa: sp.Rational(7, 10), c: sp.Rational(8, 1000),
               sig0: sp.Rational(3, 10), lam: sp.Rational(13, 10), m: sp.Rational(-4, 5)}
        for s_val in (sp.Rational(1, 10), sp.Rational(1, 2), sp.Rational(9, 10)):
            d = (sp.diff(e["kl"], s) + e["rate"]).subs(num).subs(s, s_val)
            check(f"{name}: d/ds KL + Sdot = 0 at s = {s_val} (50 digits)", sp.N(d, 50) if abs(sp.N(d, 50)) > 1e-40 else 0)
    if _failures:
        print(f"{len(_failures)} verification(s) FAILED: {_failures}")
        return 1
    print("all verifications passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
