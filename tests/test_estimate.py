"""The Estimate container: conversion, units, z-scores and serialisation."""
import json
import math

import numpy as np
import pytest

from nent_ref import Estimate


def test_scalar_and_array_forms():
    e = Estimate(1.5, 0.1, "monte-carlo", n_samples=100)
    assert float(e) == 1.5 and e.shape == () and isinstance(e.value, float)
    a = Estimate([1.0, 2.0], 0.0)
    assert a.shape == (2,) and np.all(a.stderr == 0) and np.array_equal(np.asarray(a), [1.0, 2.0])
    with pytest.raises(TypeError, match="holds an array"):
        float(a)
    assert "±" in repr(e) and "array" in repr(a)


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
    assert Estimate(1.0).z_score(0.0) == math.inf                                 # exact and different
    z = Estimate([1.0, 2.0], [0.5, 0.0]).z_score([0.0, 2.0])
    assert np.array_equal(z, [2.0, 0.0])


def test_to_dict_is_json():
    e = Estimate(np.array([1.0, 2.0]), np.array([0.1, 0.2]), "quadrature")
    doc = json.loads(json.dumps(e.to_dict()))
    assert doc["value"] == [1.0, 2.0] and doc["method"] == "quadrature" and doc["unit"] == "nat"
