"""Prediction types and time inputs (issue 19): the exact optimum written as an eps-, v- or x0-predictor of a
diffusers-style discrete schedule (or with sigma / log-SNR inputs) gives L_EM = 0 and S_NN = S_tot; an
off-by-one timestep or alpha used for alpha_bar is caught.

The predictors here are written from the Gaussian posterior directly (not through nent_ref's conversion
layer): for x = sqrt(ab) x0 + sqrt(1 - ab) eps with x0 ~ N(m, C),
E[eps | x] = sqrt(1 - ab) K (x - sqrt(ab) m) and E[x0 | x] = m + sqrt(ab) C K (x - sqrt(ab) m),
K = (ab C + (1 - ab) I)^{-1} (Gaussian conditioning)."""
import numpy as np
import pytest

import nent_ref as nr
from nent_ref.quantities import predictions as P
from nent_ref.quantities import reference_models as rm

CFG = {"num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "linear"}
PROC = nr.VP.from_diffusers(CFG)
BETAS = nr.schedules.diffusers_betas(**CFG)
AB = np.cumprod(1.0 - BETAS)               # diffusers' alphas_cumprod (here in float64)
G = nr.Gaussian([0.3, -0.5], [[0.4, 0.1], [0.1, 0.2]])


def _ab_of_timestep(t, table=AB):
    """alpha_bar at a (fractional) timestep: log alpha_bar linear between integer steps, alpha_bar(-1) = 1."""
    grid = np.arange(-1, table.size, dtype=float)
    return np.exp(np.interp(t, grid, np.concatenate([[0.0], np.log(table)])))


def _posterior(x, ab):
    ab = np.asarray(ab, dtype=float).reshape(-1, 1, 1)
    C, m = G.cov, G.mean
    K = np.linalg.inv(ab * C + (1 - ab) * np.eye(2))
    r = x - np.sqrt(ab[:, :, 0]) * m
    eps = np.sqrt(1 - ab[:, :, 0]) * np.einsum("nij,nj->ni", K, r)
    x0 = m + np.sqrt(ab[:, :, 0]) * np.einsum("ij,njk,nk->ni", C, K, r)
    return eps, x0


def diffusers_style(prediction, time_input, bug=None):
    """A 'trained' model in diffusers' conventions, predicting the exact posterior mean."""
    def model(x, t):
        t = np.asarray(t, dtype=float)
        if time_input == "timestep":
            if bug == "off_by_one":
                ab = _ab_of_timestep(t + 1.0)
            elif bug == "alpha":
                ab = _ab_of_timestep(t, table=1.0 - BETAS)    # alpha_t used where alpha_bar_t is meant
            else:
                ab = _ab_of_timestep(t)
        elif time_input == "sigma":
            ab = 1.0 / (1.0 + t * t)
        else:                                                 # log_snr
            ab = 1.0 / (1.0 + np.exp(-t))
        eps, x0 = _posterior(x, ab)
        if prediction == "eps":
            return eps
        if prediction == "x0":
            return x0
        a = np.sqrt(ab)[:, None]
        return a * eps - np.sqrt(1 - ab)[:, None] * x0      # v = sqrt(ab) eps - sqrt(1 - ab) x0
    return model


@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
@pytest.mark.parametrize("time_input", ["timestep", "sigma", "log_snr"])
def test_exact_predictor_in_every_convention_has_zero_loss(prediction, time_input):
    model = diffusers_style(prediction, time_input)
    l_em = nr.entropy_matching_loss(model, G, PROC, prediction=prediction, time_input=time_input,
                                    n_samples=4096, n_times=16)
    s_tot = nr.total_entropy(G, PROC)
    # rounding: x0 -> score divides mu x0 - x by v (cancellation ~ eps |x| / v at small s)
    assert abs(l_em.value) <= 1e-12 * s_tot.value, l_em
    s_nn = nr.neural_entropy(model, G, PROC, prediction=prediction, time_input=time_input,
                             n_samples=4096, n_times=16)
    assert abs(s_nn.value - s_tot.value) <= 5 * s_nn.stderr, (s_nn, s_tot)


ATOMS = np.array([[0.5, -0.2], [-0.7, 0.4], [0.1, 0.9], [0.8, 0.8], [-0.3, -0.6]])
EMP = nr.Empirical(ATOMS)


def memoriser_eps(bug=None):
    """The exact eps-predictor of the empirical distribution of ATOMS (softmax posterior over the atoms),
    in diffusers' timestep convention, optionally with a convention slip."""
    def model(x, t):
        t = np.asarray(t, dtype=float)
        if bug == "off_by_one":
            ab = _ab_of_timestep(t + 1.0)
        elif bug == "alpha":
            ab = _ab_of_timestep(t, table=1.0 - BETAS)
        else:
            ab = _ab_of_timestep(t)
        a, v = np.sqrt(ab)[:, None, None], (1.0 - ab)[:, None, None]
        d2 = np.sum((x[:, None, :] - a * ATOMS[None]) ** 2, axis=2) / (2.0 * v[:, :, 0])
        w = np.exp(-(d2 - d2.min(axis=1, keepdims=True)))
        w /= w.sum(axis=1, keepdims=True)
        x0 = w @ ATOMS
        return (x - a[:, :, 0] * x0) / np.sqrt(v[:, :, 0])
    return model


@pytest.mark.parametrize("bug", [None, "off_by_one", "alpha"])
def test_convention_slips_are_caught(bug):
    """On the model's own training set (atoms) from the first timestep (s0 = 1/N), an off-by-one timestep or
    alpha used for alpha_bar is far from the exact loss 0; the correct convention is 0 to rounding."""
    l_em = nr.entropy_matching_loss(memoriser_eps(bug), EMP, PROC, s0=1e-3, prediction="eps",
                                    time_input="timestep", n_samples=4096, n_times=16)
    s_tot = nr.total_entropy(EMP, PROC, 1e-3, 1.0)
    if bug is None:
        assert abs(l_em.value) <= 1e-10 * s_tot.value, l_em
    else:
        assert l_em.value > 6 * l_em.stderr, l_em
        assert l_em.value > 5e-3 * s_tot.value, (bug, l_em, s_tot)     # exact convention: < 1e-10 S_tot


def test_validate_records_the_conversions_and_passes_the_exact_predictor():
    model = diffusers_style("v", "timestep")
    rep = nr.validate(model, G, PROC, prediction="v", time_input="timestep", n_samples=4096, n_times=8,
                      curves=False)
    assert rep.passed and rep.exit_code == 0
    conv = rep.model_info["conversions"]
    assert any("timestep t = s N / T - 1 (N = 1000" in c for c in conv), conv
    assert any(c.startswith("prediction v -> e") for c in conv), conv
    bad = nr.validate(memoriser_eps("off_by_one"), EMP, PROC, 1e-3, prediction="eps", time_input="timestep",
                      n_samples=4096, n_times=8, curves=False)
    assert not bad.quality_passed and bad.exit_code == 1


@pytest.mark.parametrize("process", [PROC, nr.VP(0.1, 16.0, kappa=0.3), nr.SL(0.5), nr.VE(0.01, 50.0),
                                     nr.VE.from_sigma(nr.schedules.EDMSigma(80.0))])
@pytest.mark.parametrize("prediction", ["e", "score", "eps", "v", "x0"])
def test_to_e_inverts_from_e(process, prediction):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 3))
    s = np.full(50, 0.37)
    e = rng.standard_normal((50, 3))
    back = P.to_e(P.from_e(e, x, s, process, prediction), x, s, process, prediction)
    np.testing.assert_allclose(back, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("time_input", ["s", "timestep", "sigma", "log_snr"])
def test_time_inputs_invert(time_input):
    s = np.array([1e-3, 0.1, 0.37, 0.999])
    t = P.time_input_of(PROC, s, time_input)
    np.testing.assert_allclose(P.s_of_time_input(PROC, t, time_input), s, rtol=1e-12)
    if time_input == "timestep":
        np.testing.assert_array_equal(P.time_input_of(PROC, np.array([0.001, 1.0]), "timestep"), [0.0, 999.0])
    if time_input == "sigma":           # sigma^2 = (1 - ab)/ab at the nodes
        np.testing.assert_allclose(P.time_input_of(PROC, np.array([0.5]), "sigma") ** 2,
                                   (1 - AB[499]) / AB[499], rtol=1e-13)


def test_options_are_checked():
    exact = rm.exact_e(G, PROC)
    with pytest.raises(ValueError, match="prediction must be one of"):
        nr.neural_entropy(exact, G, PROC, prediction="epsilon")
    with pytest.raises(ValueError, match="time_input must be one of"):
        nr.neural_entropy(exact, G, PROC, time_input="t")
    with pytest.raises(ValueError, match="number of timesteps"):
        nr.neural_entropy(exact, G, nr.VP(), prediction="eps", time_input="timestep")
    # prediction="e", time_input="s" is the plain model
    a = nr.neural_entropy(exact, G, PROC, prediction="e", time_input="s", n_samples=1024, n_times=8)
    b = nr.neural_entropy(exact, G, PROC, n_samples=1024, n_times=8)
    assert a.value == b.value
