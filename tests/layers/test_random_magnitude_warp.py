import numpy as np
import pytest

import keras_epochkit as ek
from keras_epochkit.layers._base import catmull_rom_weights
from tests.layers.stats_support import numpy


def test_curve_passes_through_control_values_with_standard_deviation_sigma():
    length, knots = 101, 4
    curves = numpy(
        ek.layers.RandomMagnitudeWarp(sigma=0.2, knots=knots, seed=0)(
            np.ones((1000, length, 2), "float32")
        )
    )
    # Control values sit at evenly spaced steps (0, 20, ..., 100 here).
    at_knots = curves[:, :: (length - 1) // (knots + 1), :]
    assert at_knots.shape[1] == knots + 2
    assert abs(at_knots.std() / 0.2 - 1) < 0.05
    assert abs(at_knots.mean() - 1) < 0.02
    # Between control points the curve is smooth: small steps everywhere.
    assert np.abs(np.diff(curves, axis=1)).max() < 0.25


def test_interpolation_weights_reproduce_each_control_value():
    weights = catmull_rom_weights(101, 4)
    np.testing.assert_allclose(weights[::20], np.eye(6), atol=1e-6)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)


def test_zero_strength_is_identity():
    x = np.random.default_rng(0).normal(size=(4, 50, 2)).astype("float32")
    layer = ek.layers.RandomMagnitudeWarp(seed=0)
    np.testing.assert_allclose(numpy(layer(x, strength=0.0)), x, rtol=1e-6)


def test_rejects_negative_knots():
    with pytest.raises(ValueError, match="knots"):
        ek.layers.RandomMagnitudeWarp(knots=-1)
