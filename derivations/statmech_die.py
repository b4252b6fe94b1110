"""Reference values for nent_ref.statmech, derived with sympy/mpmath, and a check of the library.

Run:  python derivations/statmech_die.py        (exit status 0 iff every check passes)

1. Jaynes' die (Jaynes 1957; Cover & Thomas 2006, example 12.2.x): faces k = 1..6,
   maximise H(p) subject to sum_k k p_k = 4.5.  The maximiser is p_k = x^k / Z with
   x = e^theta, and the mean constraint sum_k (k - 9/2) x^k = 0 becomes (dividing by x/2)

       3 x^5 + x^4 - x^3 - 3 x^2 - 5 x - 7 = 0,

   which has exactly one positive root (Descartes: one sign change).  sympy derives the
   polynomial and isolates the root; mpmath refines it to 50 digits and an independent
   mpmath.findroot on the mean equation in theta must agree.

   Base-measure conventions (both reported):
     log Z   = log sum_k e^{theta k}           (counting measure)      = 3.28330...
     A_unif  = log (1/6) sum_k e^{theta k}     (uniform base measure)  = log Z - log 6
     H       = log Z - 4.5 theta = 1.61358...; KL(p*||uniform) = log 6 - H
             = Cramer rate of the fair-die mean at 4.5.
2. Two-level system (energies 0, 1): log Z, U, S and C from sympy derivatives of log Z.
3. Gaussian maximum entropy: the differential entropy of N(m, s^2) by sympy integration.
"""
from __future__ import annotations

import sys

import mpmath as mp
import numpy as np
import sympy as sp

mp.mp.dps = 50
FAILURES: list[str] = []


def check(name, got, ref, tol):
    err = abs(float(got) - float(ref))
    ok = err <= tol
    print(f"  {'ok  ' if ok else 'FAIL'} {name:32s} lib={float(got):.17g} ref={mp.nstr(ref, 20)} err={err:.2e}")
    if not ok:
        FAILURES.append(name)


def die_reference():
    x = sp.symbols("x", positive=True)
    mean_eq = sp.expand(sum((k - sp.Rational(9, 2)) * x**k for k in range(1, 7)))
    poly = sp.Poly(sp.expand(sp.cancel(2 * mean_eq / x)), x)
    expected = sp.Poly(3 * x**5 + x**4 - x**3 - 3 * x**2 - 5 * x - 7, x)
    if poly != expected:
        FAILURES.append("die polynomial")
    roots = [r for r in sp.Poly(poly, x).real_roots() if r.is_positive]
    if len(roots) != 1:
        FAILURES.append("unique positive root")
    xr = mp.mpf(str(sp.N(roots[0], 60)))
    xr = mp.findroot(lambda t: sum(mp.mpf(c) * t**(5 - i) for i, c in enumerate([3, 1, -1, -3, -5, -7])), xr)
    theta = mp.log(xr)
    # independent route: solve the mean equation directly in theta
    theta2 = mp.findroot(lambda t: sum((k - mp.mpf(9) / 2) * mp.e**(t * k) for k in range(1, 7)), mp.mpf("0.3"))
    if abs(theta - theta2) > mp.mpf(10) ** -40:
        FAILURES.append("theta routes disagree")
    z = mp.fsum(mp.e**(theta * k) for k in range(1, 7))
    p = [mp.e**(theta * k) / z for k in range(1, 7)]
    log_z = mp.log(z)
    h = -mp.fsum(pk * mp.log(pk) for pk in p)
    ref = {"theta": theta, "log_Z": log_z, "A_uniform": log_z - mp.log(6), "H": h,
           "H_identity": log_z - mp.mpf(9) / 2 * theta, "KL_uniform": mp.log(6) - h, "p": p}
    return ref


def main() -> int:
    print("1. Jaynes' die, mean 4.5 (mpmath, 50 digits)")
    ref = die_reference()
    for key in ("theta", "log_Z", "A_uniform", "H", "KL_uniform"):
        print(f"  {key:12s} = {mp.nstr(ref[key], 30)}")
    for k, pk in enumerate(ref["p"], start=1):
        print(f"  p_{k}          = {mp.nstr(pk, 30)}")
    if abs(ref["H"] - ref["H_identity"]) > mp.mpf(10) ** -40:
        FAILURES.append("H = log Z - mu theta")

    from nent_ref import statmech as sm

    faces = np.arange(1, 7)
    res = sm.max_entropy(faces, 4.5)
    check("max_entropy theta", res.theta, ref["theta"], 1e-13)
    check("max_entropy log Z (counting)", res.log_partition, ref["log_Z"], 1e-13)
    check("max_entropy entropy", res.entropy, ref["H"], 1e-13)
    check("max_entropy KL to uniform", res.kl, ref["KL_uniform"], 1e-13)
    for k in range(6):
        check(f"max_entropy p_{k + 1}", res.q[k], ref["p"][k], 1e-14)
    uni = sm.i_projection(np.full(6, 1 / 6), faces, 4.5)
    check("i_projection A (uniform base)", uni.log_partition, ref["A_uniform"], 1e-13)
    check("i_projection theta", uni.theta, ref["theta"], 1e-13)
    fam = sm.ExponentialFamily(faces)
    check("natural_parameter(4.5)", fam.natural_parameter(4.5), ref["theta"], 1e-13)
    check("conjugate A*(4.5) = -H", fam.conjugate(4.5), -ref["H"], 1e-13)
    check("log_partition(theta*)", fam.log_partition(float(ref["theta"])), ref["log_Z"], 1e-13)
    check("cramer_rate fair die at 4.5", sm.cramer_rate(np.full(6, 1 / 6), values=faces, a=4.5), ref["KL_uniform"], 1e-13)

    print("2. Two-level system, energies (0, 1), beta = 1 (sympy)")
    b = sp.symbols("beta", positive=True)
    log_z = sp.log(1 + sp.exp(-b))
    u = -sp.diff(log_z, b)
    f = -log_z / b
    s = b * (u - f)
    c = b**2 * sp.diff(log_z, b, 2)
    th = sm.thermodynamics([0.0, 1.0], 1.0)
    for name, expr, got in (("log_partition", log_z, th.log_partition), ("free_energy", f, th.free_energy),
                            ("internal_energy", u, th.internal_energy), ("entropy", s, th.entropy),
                            ("heat_capacity", c, th.heat_capacity)):
        check(f"two-level {name}", got, mp.mpf(str(sp.N(expr.subs(b, 1), 40))), 1e-14)

    print("3. Gaussian maximum entropy (sympy integration)")
    xs = sp.symbols("x", real=True)
    m, sig = sp.Rational(1, 3), sp.sqrt(2)
    dens = sp.exp(-(xs - m) ** 2 / (2 * sig**2)) / sp.sqrt(2 * sp.pi * sig**2)
    h_int = sp.simplify(sp.integrate(-dens * sp.expand_log(sp.log(dens), force=True), (xs, -sp.oo, sp.oo)))
    if sp.simplify(h_int - sp.log(2 * sp.pi * sp.E * sig**2) / 2) != 0:
        FAILURES.append("gaussian entropy closed form")
    check("gaussian_max_entropy entropy", sm.gaussian_max_entropy(1 / 3, 2.0).entropy,
          mp.mpf(str(sp.N(h_int, 40))), 1e-14)

    if FAILURES:
        print(f"FAILED: {FAILURES}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
