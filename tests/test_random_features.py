"""Random-feature score models (nent_ref.quantities.random_features): exact S_NN and L_EM by quadrature
against the Monte Carlo estimators, the projection identity of the population fit, and bad inputs.

Reference values: none hard-coded.  The exact numbers are checked against an independent method (the
stratified Monte Carlo estimators nr.neural_entropy / nr.entropy_matching_loss on the same model, within
4 combined standard errors) and against the closed-form S_tot of nent_ref.quantities.entropy (through the
identity S_NN + L_EM = S_tot of an L2 projection).  The Fourier-feature expectations are derived in
derivations/random_features.py (run by tests/test_derivations.py).
"""
import math

import numpy as np
import pytest

import nent_ref as nr
from nent_ref.quantities import random_features as rf

G = nr.Gaussian([0.5, -0.3], [[0.6, 0.2], [0.2, 0.3]])
VP = nr.VP(0.1, 16.0)
S0 = 1e-3


def _z(exact, mc):
    return (exact.value - mc.value) / math.hypot(mc.stderr, exact.error_bound)


@pytest.mark.parametrize("n_train", [32, None])
def test_exact_s_nn_and_l_em_match_monte_carlo(n_train):
    pts = None if n_train is None else G.sample(n_train, seed=11)
    model = rf.random_feature_model(pts, VP, 16, data=G, seed=0)
    exact = model.exact(G, S0)
    mc_nn = nr.neural_entropy(model, G, VP, S0, n_samples=2 ** 14, seed=5)
    mc_lem = nr.entropy_matching_loss(model, G, VP, S0, n_samples=2 ** 14, seed=6)
    assert exact.s_nn.unit == "nat" and exact.s_nn.error_bound > 0
    assert abs(_z(exact.s_nn, mc_nn)) < 4, (exact.s_nn, mc_nn)
    assert abs(_z(exact.l_em, mc_lem)) < 4, (exact.l_em, mc_lem)


def test_population_fit_is_a_projection():
    """Without ridge the population fit is the L2(D p_s) projection of e* on the features, so C = S_NN and
    S_NN + L_EM = S_tot; the ridge breaks it by O(ridge).  S_tot here is the closed form."""
    model = rf.random_feature_model(None, VP, 16, data=G, seed=0, ridge=1e-9)
    r = model.exact(G, S0)
    bound = r.s_nn.error_bound + r.l_em.error_bound
    assert abs(r.s_nn.value + r.l_em.value - r.s_tot.value) < 1e-6 + bound
    assert abs(r.cross.value - r.s_nn.value) < 1e-6 + bound
    assert r.s_nn.value < r.s_tot.value


def test_curve_moves_from_memorising_to_generalising():
    """Fewer training points than features: S_NN far above S_tot (the fit follows the memoriser and
    overshoots on the population); many more: S_NN close to the population fit's."""
    rows = rf.random_feature_curve(G, VP, [4, 512], 16, s0=S0)
    small, large, pop = rows
    assert small["n_train"] == 4 and pop["n_train"] is None
    assert small["s_nn"] > 10 * small["s_tot"]
    assert abs(large["s_nn"] - pop["s_nn"]) < 0.2 * pop["s_nn"]
    assert large["l_em"] < small["l_em"]


def test_model_call_checks_shapes_and_times():
    model = rf.random_feature_model(G.sample(8, seed=1), VP, 8, seed=0)
    x = G.sample(5, seed=2)
    out = model(x, np.full(5, 0.3))
    assert out.shape == (5, 2) and np.all(np.isfinite(out))
    # rows with different times are evaluated at their own times
    mixed = model(x, np.array([0.3, 0.3, 0.6, 0.6, 0.3]))
    # (to rounding: the rows of one time are one matrix product, whose last bits may depend on how many
    # rows the BLAS kernel gets; a row evaluated at the wrong time differs in the first digit)
    np.testing.assert_allclose(mixed[[0, 1, 4]], out[[0, 1, 4]], rtol=1e-13, atol=1e-13 * np.abs(out).max())
    assert np.max(np.abs(mixed[[2, 3]] - out[[2, 3]])) > 1e-6 * np.abs(out).max()
    with pytest.raises(ValueError, match="x must have shape"):
        model(np.ones((3, 3)), 0.3)
    with pytest.raises(ValueError, match="s > 0"):
        model.weights(0.0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(points=np.array([[0.0, np.nan]])), "points contains NaN"),
    (dict(points=np.ones(3)), "points must be a non-empty"),
    (dict(points=None), "population fit"),
    (dict(n_features=0), "n_features"),
    (dict(bandwidth=-1.0), "bandwidth"),
    (dict(ridge=-1e-3), "ridge"),
    (dict(process=nr.VE()), "equilibrium"),
    (dict(process="VP"), "process must be"),
])
def test_bad_inputs_name_the_argument(kwargs, match):
    args = dict(points=np.zeros((4, 2)), process=VP, n_features=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        rf.random_feature_model(args.pop("points"), args.pop("process"), **args)


def test_exact_rejects_bad_windows_and_data():
    model = rf.random_feature_model(G.sample(8, seed=1), VP, 4, seed=0)
    with pytest.raises(ValueError, match="0 < s0 < s1"):
        model.exact(G, 0.0)
    with pytest.raises(ValueError, match="Gaussian data"):
        model.exact(nr.Dirac([0.0, 0.0]), S0)
    with pytest.raises(ValueError, match="dimension"):
        model.exact(nr.Gaussian([0.0], [[1.0]]), S0)
    with pytest.raises(ValueError, match="rtol"):
        model.exact(G, S0, rtol=0.0)
    with pytest.raises(ValueError, match="sizes"):
        rf.random_feature_curve(G, VP, [])


def test_unreachable_tolerance_raises_instead_of_returning_a_number():
    model = rf.random_feature_model(G.sample(4, seed=1), VP, 16, seed=0)
    with pytest.raises(rf.QuadratureError, match="did not converge"):
        model.exact(G, 1e-4, rtol=1e-13)
