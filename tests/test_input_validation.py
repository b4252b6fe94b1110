"""Bad input gets a ValueError naming the problem, never a wrong number."""
import math

import numpy as np
import pytest

import nent_ref as nr

VP = nr.VP()


@pytest.mark.parametrize("mean, cov, match", [
    ([0.0, 0.0], [[1.0, 0.5], [0.4, 1.0]], "not symmetric"),
    ([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], "not positive definite"),
    ([0.0, 0.0], [[1.0, 0.0], [0.0, 0.0]], "not positive definite"),
    ([0.0, 0.0], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "shape"),
    ([0.0, np.nan], np.eye(2), "NaN or inf"),
    ([0.0, 0.0], [[1.0, np.inf], [np.inf, 1.0]], "NaN or inf"),
    ([[0.0, 0.0]], np.eye(2), "1-D"),
])
def test_gaussian_rejects(mean, cov, match):
    with pytest.raises(ValueError, match=match):
        nr.Gaussian(mean, cov)


def test_dirac_rejects_nan_and_needs_positive_cutoff():
    with pytest.raises(ValueError, match="NaN or inf"):
        nr.Dirac([0.0, np.inf])
    d = nr.Dirac([1.0, 2.0])
    for fn in (lambda: nr.total_entropy(d, VP, 0.0), lambda: nr.kl_to_equilibrium(d, VP, 0.0),
               lambda: nr.entropy_production_rate(d, VP, [0.0, 0.5])):
        with pytest.raises(ValueError, match=r"diverges like \(D/2\) log"):
            fn()


@pytest.mark.parametrize("s", [-0.1, 1.5, np.nan, np.inf])
def test_times_outside_domain(s):
    g = nr.Gaussian([0.0], [[1.0]])
    for fn in (nr.entropy_production_rate, nr.kl_to_equilibrium):
        with pytest.raises(ValueError, match="outside the time domain|finite"):
            fn(g, VP, s)
    with pytest.raises(ValueError, match="outside the time domain|finite"):
        VP.marginal_var(s)


def test_s0_after_s1_and_singular_endpoint():
    g = nr.Gaussian([0.0], [[1.0]])
    with pytest.raises(ValueError, match="s0 <= s1"):
        nr.total_entropy(g, VP, 0.6, 0.5)
    with pytest.raises(ValueError, match="s0 <= s1"):
        VP.clock(0.6, 0.5)
    # SL and cosine VP: drift singular at s = 1, so the rate is only defined on [0, 1)
    for proc in (nr.SL(0.1), nr.VP(schedule=nr.CosineSchedule())):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            nr.entropy_production_rate(g, proc, 1.0)
        assert float(nr.kl_to_equilibrium(g, proc, 1.0)) == 0.0  # closed form is fine at s = 1


def test_ve_has_no_equilibrium():
    g = nr.Gaussian([0.0], [[1.0]])
    with pytest.raises(ValueError, match="no normalisable equilibrium"):
        nr.kl_to_equilibrium(g, nr.VE(), 0.5)


@pytest.mark.parametrize("make, match", [
    (lambda: nr.VP(beta_min=-1.0), "beta_min >= 0"),
    (lambda: nr.VP(beta_min=5.0, beta_max=1.0), "beta_max >= beta_min"),
    (lambda: nr.VP(kappa=0.0), "kappa must be positive"),
    (lambda: nr.VP(kappa=np.nan), "finite"),
    (lambda: nr.VP(schedule=nr.CosineSchedule(), T=2.0), "cosine schedule"),
    (lambda: nr.CosineSchedule(offset=0.0), "positive"),
    (lambda: nr.SL(sigma0=-1.0), "sigma0 must be positive"),
    (lambda: nr.VE(sigma_min=1.0, sigma_max=0.5), "sigma_min < sigma_max"),
])
def test_process_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_query_shapes_and_base_and_method():
    g = nr.Gaussian([0.0, 1.0], np.eye(2))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        g.logpdf(np.zeros(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        g.score([np.nan, 0.0])
    with pytest.raises(ValueError, match="dimension mismatch"):
        g.kl(nr.Gaussian([0.0], [[1.0]]))
    with pytest.raises(ValueError, match="base must be"):
        nr.total_entropy(g, VP, base=1.0)
    with pytest.raises(ValueError, match="closed form"):
        nr.total_entropy(g, VP, method="monte-carlo")
    with pytest.raises(ValueError, match="non-negative integer"):
        g.sample(-3)
    with pytest.raises(ValueError, match="scalar time"):
        g.diffuse(VP, [0.1, 0.2])
    with pytest.raises(TypeError, match="no total entropy"):
        nr.total_entropy(object(), VP)


@pytest.mark.parametrize("value, n, match", [
    ([0.5, 0.6], None, "sum to one"),
    ([1.5, -0.5], None, "non-negative"),
    ([0.5, np.nan], None, "NaN or inf"),
    ([[0.5, 0.5]], None, "non-empty 1-D"),
    ([0.5, 0.5], 3, r"shape \(3,\): it has 2 entries but there are 3"),
    (["a", "b"], None, "real array"),
])
def test_shared_probability_vector_check(value, n, match):
    from nent_ref.core.checks import probability_vector
    with pytest.raises(ValueError, match=match):
        probability_vector(value, n)


def test_shared_checks_accept_and_renormalise():
    from nent_ref.core.checks import finite_float, probability_vector
    w, total = probability_vector([0.25, 0.75 + 1e-12], 2)
    assert total == 1.0 + 1e-12 and abs(w.sum() - 1.0) < 1e-15
    assert finite_float("x", 2.5) == 2.5 and finite_float("x", np.float32(0.5)) == 0.5
    # strings, booleans, complex numbers and arrays are not real numbers (numpy would convert or truncate them)
    for bad in (np.inf, "x", "2.5", None, True, 1 + 0j, np.complex128(2.0), [1.0]):
        with pytest.raises(ValueError, match="x must be"):
            finite_float("x", bad)


# --------------------------------------------------------------------------- issue 11
def test_ill_conditioned_covariance_is_named_as_such():
    """diag(1e-6, 1e8) is positive definite; it is refused for its condition number (item 6)."""
    with pytest.raises(ValueError, match=r"positive definite but too ill-conditioned: condition number "
                                         r"1e\+14 .*exceeds the limit 1e\+13"):
        nr.Gaussian([0, 0], np.diag([1e-6, 1e8]))
    nr.Gaussian([0, 0], np.diag([1e-5, 1e7]))          # condition 1e12: accepted
    with pytest.raises(ValueError, match="not positive definite"):
        nr.Gaussian([0, 0], np.diag([-1e-6, 1.0]))


@pytest.mark.parametrize("mean, cov", [
    ([0.0, 1.0], np.eye(2) * (1 + 0j)),
    ([0.0, 1.0], np.eye(2) + 1e-3j * np.array([[0, 1], [-1, 0]])),
    (np.array([0.0, 1.0 + 2j]), np.eye(2)),
    (np.array([0.0, 1.0 + 0j]), np.eye(2)),
])
def test_complex_gaussian_rejected_not_truncated(mean, cov):
    with pytest.raises(ValueError, match="must be real"):
        nr.Gaussian(mean, cov)


def test_complex_dirac_and_query_points_rejected():
    with pytest.raises(ValueError, match="must be real"):
        nr.Dirac([1.0 + 1j, 0.0])
    with pytest.raises(ValueError, match="must be real"):
        nr.Gaussian([0.0], [[1.0]]).logpdf([[0.5 + 0.5j]])


@pytest.mark.parametrize("schedule", ["cos", 3.0, object()])
def test_vp_schedule_type_checked(schedule):
    with pytest.raises(TypeError, match=r"schedule must be a noise schedule .*beta\(s\) and integral\(s\)"):
        nr.VP(schedule=schedule)


@pytest.mark.parametrize("seed", [-1, "a", 1.5, True, [1, -2]])
def test_gaussian_and_dirac_sample_reject_bad_seeds(seed):
    for data in (nr.Gaussian([0.0], [[1.0]]), nr.Dirac([0.0])):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            data.sample(3, seed=seed)


def test_gaussian_sample_accepts_generator_and_seed_sequence():
    g = nr.Gaussian([0.0, 1.0], np.eye(2))
    a = g.sample(4, seed=np.random.default_rng(7))
    assert np.array_equal(a, g.sample(4, seed=np.random.default_rng(7)))       # a Generator's stream is used
    ss = np.random.SeedSequence(11)
    assert np.array_equal(g.sample(4, seed=ss), g.sample(4, seed=np.random.SeedSequence(11)))
    assert np.array_equal(g.sample(4, seed=11), g.sample(4, seed=np.random.SeedSequence(11)))


def test_cosine_offset_is_called_offset():
    # issue 14: CosineSchedule's offset was named `s`, the letter of forward time
    c = nr.CosineSchedule(offset=0.01)
    assert c.offset == 0.01 and "offset=0.01" in repr(c)
    with pytest.warns(DeprecationWarning, match="offset"):
        old = nr.CosineSchedule(s=0.01)
    assert old.offset == 0.01 and old.s == 0.01
    assert float(nr.VP(schedule=c).B(0.5)) == float(nr.VP(schedule=old).B(0.5))


def test_a_seed_sequence_gives_the_same_numbers_twice():
    # Regression: seed_sequence returned the caller's SeedSequence, whose spawn() advances it, so
    # neural_entropy(..., seed=ss) called twice with one ss gave different estimates
    from nent_ref.core.checks import seed_sequence
    ss = np.random.SeedSequence(7)
    a = seed_sequence(ss).spawn(2)[1].generate_state(2)
    b = seed_sequence(ss).spawn(2)[1].generate_state(2)
    assert np.array_equal(a, b) and ss.n_children_spawned == 0
    g = nr.Gaussian([0.0], [[2.0]])
    proc = nr.VP(0.1, 16.0)
    e = nr.reference_models.exact_e(g, proc)
    kw = dict(n_samples=2 ** 10, n_times=8)
    assert nr.neural_entropy(e, g, proc, seed=ss, **kw).value == nr.neural_entropy(e, g, proc, seed=ss, **kw).value


@pytest.mark.parametrize("make, match", [
    (lambda: nr.VP(kappa=1e200), r"kappa must lie in \[1e-150, 1e\+150\]"),
    (lambda: nr.VP(kappa=1e-200), r"kappa must lie in \[1e-150, 1e\+150\]"),
    (lambda: nr.SL(1e200), r"sigma0 must lie in \[1e-150, 1e\+150\]"),
])
def test_extreme_process_parameters_name_the_parameter(make, match):
    """Issue 18: these raised a bare OverflowError (or gave NaN later); now a ValueError naming the parameter
    and its documented range."""
    with pytest.raises(ValueError, match=match):
        make()


def test_ve_huge_sigmas_construct_and_name_overflow():
    """Issue 18: VE(1e299, 1e300) raised a bare OverflowError.  It is a valid process (entropies in logs);
    quantities needing v(s) itself say where it overflows."""
    proc = nr.VE(1e299, 1e300)
    assert math.isfinite(nr.total_entropy(nr.Gaussian([0.0], [[1.0]]), proc).value)
    with pytest.raises(ValueError, match="v\\(s\\) overflows double precision at s = 1.0"):
        proc.marginal_var(1.0)
    with pytest.raises(ValueError, match="clock"):
        proc.clock(0.0, 1.0)


# --------------------------------------------------------------------------- issue 18: messages name the argument
_G18 = nr.Gaussian([0.5, -1.0], np.diag([0.4, 1.3]))
_VP18 = nr.VP(0.1, 16.0)


@pytest.mark.parametrize("bad, what", [(1j, "must be real"), (0.1 + 0j, "must be real"), ({}, "got a dict"),
                                       ({"s": 1}, "got a dict"), ("0.1", "dtype")])
def test_complex_or_dict_times_name_the_argument(bad, what):
    calls = [("s0", lambda: nr.total_entropy(_G18, _VP18, bad, 1.0)),
             ("s1", lambda: nr.total_entropy(_G18, _VP18, 0.0, bad)),
             ("s", lambda: nr.kl_to_equilibrium(_G18, _VP18, bad)),
             ("s", lambda: nr.entropy_production_rate(_G18, _VP18, bad)),
             ("s0", lambda: nr.total_entropy(nr.GaussianMixture([.5, .5], [[-1.], [1.]], [.1, 1.]), _VP18, bad))]
    for name, call in calls:
        with pytest.raises(ValueError, match=rf"^{name} must be a real .*{what}|^{name} must be real"):
            call()
        with pytest.raises(TypeError):            # still a TypeError for code that caught numpy's
            call()


@pytest.mark.parametrize("n", [0, -5, 3, 2.5, True])
def test_rate_curve_n_is_checked(n):
    # issue 18: n=0 and n=-5 silently returned 4 nodes
    with pytest.raises(ValueError, match=r"^n must be an integer >= 4"):
        nr.rate_curve(_G18, _VP18, n=n)
    assert len(nr.rate_curve(_G18, _VP18, n=4)[0]) == 4


def test_mixture_executor_without_submit_is_named():
    mix = nr.GaussianMixture([.5, .5], [[-1.], [1.]], [.1, 1.])
    with pytest.raises(ValueError, match=r"executor must be None or an executor with a submit\(\) method"):
        nr.total_entropy(mix, _VP18, 0.0, 1.0, method="monte-carlo", n_samples=2048, executor=object())


class _Sched:
    """A custom schedule beta(s) = 2 (B = 2 s), with hooks for broken outputs."""
    singular_at_T = False

    def beta(self, s):
        return np.full(np.shape(s), 2.0)

    def integral(self, s):
        return 2.0 * np.asarray(s, dtype=float)


class _NaNBeta(_Sched):
    def beta(self, s):
        return np.full(np.shape(s), np.nan)


class _WrongShape(_Sched):
    def beta(self, s):
        return np.ones(3)


class _ComplexIntegral(_Sched):
    def integral(self, s):
        return 2.0 * np.asarray(s, dtype=float) + 0j


class _Decreasing(_Sched):
    def integral(self, s):
        return -np.asarray(s, dtype=float)


class _NaNAtOneTime(_Sched):
    def beta(self, s):
        s = np.asarray(s, dtype=float)
        return np.where(s == 0.3, np.nan, 2.0)


@pytest.mark.parametrize("schedule, message", [
    (_NaNBeta(), r"_NaNBeta.*beta\(s\) returned NaN at s = 0"),
    (_WrongShape(), r"_WrongShape.*beta\(s\) returned shape \(3,\) for s of shape"),
    (_ComplexIntegral(), r"integral\(s\) returned complex values"),
    (_Decreasing(), r"integral\(s\) returned a negative value"),
])
def test_custom_schedule_outputs_checked_on_construction(schedule, message):
    # issue 18: a custom schedule returning NaN or an array of the wrong shape was accepted
    with pytest.raises(ValueError, match=rf"the noise schedule .*{message}"):
        nr.VP(schedule=schedule)


def test_custom_schedule_outputs_checked_at_evaluation():
    p = nr.VP(schedule=_NaNAtOneTime())             # passes the probe grid
    with pytest.raises(ValueError, match=r"_NaNAtOneTime.*beta\(s\) returned NaN at s = 0.3"):
        p.beta(np.array([0.1, 0.3]))
    with pytest.raises(ValueError, match=r"beta\(s\) returned NaN at s = 0.3"):
        nr.entropy_production_rate(_G18, p, 0.3)


def test_good_custom_schedule_matches_the_linear_one():
    # beta = 2 is LinearSchedule(2, 2): every quantity agrees to rounding (a second route to the same numbers)
    custom, linear = nr.VP(schedule=_Sched()), nr.VP(2.0, 2.0)
    a, b = nr.total_entropy(_G18, custom, 0.0, 1.0), nr.total_entropy(_G18, linear, 0.0, 1.0)
    assert a.value == pytest.approx(b.value, rel=1e-13)
    s = np.array([0.0, 0.25, 1.0])
    assert np.allclose(custom.marginal_var(s), linear.marginal_var(s), rtol=1e-14, atol=0)
    assert float(custom.beta(0.5)) == 2.0                # a scalar time gives a scalar


@pytest.mark.parametrize("values, expected", [
    ([1.0, 2.0], True),
    ([], True),                                   # vacuously
    ([1e308, 1e308, 1e308], True),                # the sum overflows; every entry is finite
    ([-1e308, -1e308], True),
    ([1.0, np.nan], False),
    ([np.inf, -np.inf], False),                   # the sum is NaN
    ([1e308, 1e308, np.inf], False),
])
def test_all_finite(values, expected):
    from nent_ref.core.checks import all_finite
    assert all_finite(np.array(values, dtype=float)) is expected


@pytest.mark.parametrize("data", [nr.Gaussian([0.0, 0.0], np.eye(2)),
                                  nr.GaussianMixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [1.0, 2.0])])
def test_query_points_are_read_not_copied_or_written(data):
    """Densities take a float64 array as it is (no copy of a large batch) and never write to it; points
    with NaN or inf are still a ValueError, also where their sum overflows."""
    from nent_ref.core.data import as_points
    x = np.array([[1e308, 1e308], [0.5, -0.5], [3.0, 4.0]])
    assert as_points(x, 2) is x
    before = x.copy()
    data.logpdf(x), data.score(x)
    np.testing.assert_array_equal(x, before)
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="x contains NaN or inf"):
            data.logpdf(np.array([[1e308, 1e308], [bad, 0.0]]))
