"""The Estimate container: conversion, units, z-scores and serialisation."""
import json
import math

import numpy as np
import pytest

from nent_ref import Estimate
from nent_ref.core.estimate import ROUNDING_RTOL


def test_scalar_and_array_forms():
    e = Estimate(1.5, 0.1, "monte-carlo", n_samples=100)
    assert float(e) == 1.5 and e.shape == () and isinstance(e.value, float)
    a = Estimate([1.0, 2.0], 0.0)
    assert a.shape == (2,) and np.all(a.stderr == 0) and np.array_equal(np.asarray(a), [1.0, 2.0])
    with pytest.raises(TypeError, match="holds an array"):
        float(a)
    assert "±" in repr(e) and "[1., 2.]" in repr(a)


def test_units():
    e = Estimate(math.log(2), 0.01, "monte-carlo", error_bound=0.002)
    bits = e.in_base(2)
    assert bits.unit == "bit" and bits.value == pytest.approx(1.0, rel=1e-15)
    assert bits.stderr == pytest.approx(0.01 / math.log(2)) and bits.error_bound == pytest.approx(0.002 / math.log(2))
    with pytest.raises(ValueError, match="nats only"):
        bits.in_base(10)
    with pytest.raises(ValueError, match="base must be"):
        e.in_base(-2)


def test_z_score_edge_cases():
    assert Estimate(1.0, 0.1).z_score(0.5) == pytest.approx(5.0)
    assert Estimate(1.0, 0.1, error_bound=0.1).z_score(0.8) == pytest.approx(1.0)   # stderr + bound
    assert Estimate(1.0).z_score(1.0) == 0.0                                      # exact and equal
    # exact and different: beyond any threshold (the rounding floor is 1e-10 of the magnitudes)
    assert Estimate(1.0).z_score(0.0) == pytest.approx(1.0 / ROUNDING_RTOL)
    assert Estimate(1.0).z_score(0.9) > 1e8
    z = Estimate([1.0, 2.0], [0.5, 0.0]).z_score([0.0, 2.0])
    assert z[0] == pytest.approx(2.0, rel=1e-9) and z[1] == 0.0


def test_to_dict_is_json():
    e = Estimate(np.array([1.0, 2.0]), np.array([0.1, 0.2]), "quadrature")
    doc = json.loads(json.dumps(e.to_dict()))
    assert doc["value"] == [1.0, 2.0] and doc["method"] == "quadrature" and doc["unit"] == "nat"


def test_rounding_floor_for_exact_differences():
    # Regression (issue 11): test_decomposition_exact_and_perturbed failed on fresh machines because
    # denoising_gap = L_den - K - L_EM came out as 4.4e-16 with stderr 0, so z = inf.  The gap is a
    # difference of terms of size ~3, so its rounding floor is 1e-10 * 3 and z is about 1.5e-6.
    gap = Estimate(4.4e-16, 0.0, "monte-carlo", scale=3.0)
    assert abs(gap.z_score(0.0)) < 1e-5
    assert gap.rounding_floor() == pytest.approx(3.0 * ROUNDING_RTOL)
    # without a scale the floor is relative to the value and the reference only
    assert Estimate(1e-300).z_score(0.0) == pytest.approx(1.0 / ROUNDING_RTOL)
    # arrays: element-wise floor
    z = Estimate([1.0, 2.0], 0.0, scale=[1.0, 1e6]).z_score([1.0 + 1e-12, 2.0 + 1e-6])
    assert abs(z[0]) < 0.02 and abs(z[1]) < 0.02
    # a real discrepancy of an exact estimate is still huge
    assert abs(Estimate(1.0, scale=2.0).z_score(1.001)) > 1e6


@pytest.mark.parametrize("unit, bits", [("nat", "bit"), ("nat/time", "bit/time")])
def test_in_base_converts_information_units(unit, bits):
    e = Estimate(2.0, 0.1, unit=unit)
    b = e.in_base(2)
    assert b.unit == bits and b.value == pytest.approx(2.0 / math.log(2), rel=1e-15)


@pytest.mark.parametrize("unit", ["length^2", "1"])
def test_in_base_refuses_other_units(unit):
    with pytest.raises(ValueError, match="nats only"):
        Estimate(2.0, unit=unit).in_base(2)


def test_array_repr_shows_values():
    r = repr(Estimate(np.arange(5.0), 0.1, unit="nat/time"))
    assert "[0., 1., 2., 3., 4.]" in r and "nat/time" in r and "±" in r
    long = repr(Estimate(np.arange(100.0)))
    assert "..." in long and len(long) < 200
