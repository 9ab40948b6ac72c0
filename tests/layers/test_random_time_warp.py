import numpy as np

import keras_epochkit as ek
from tests.layers.stats_support import numpy
from tests.layers.stats_support import ramps


def test_time_map_is_monotone_and_keeps_endpoints():
    x = ramps(256, 120)
    out = numpy(ek.layers.RandomTimeWarp(sigma=0.5, knots=4, seed=0)(x))
    assert (np.diff(out, axis=1) > 0).all()
    np.testing.assert_array_equal(out[:, 0], x[:, 0])
    np.testing.assert_allclose(out[:, -1], x[:, -1], rtol=1e-6)
    # It does warp: positions move by a few steps on average.
    assert np.abs(out - x).mean() > 1.0


def test_channels_share_one_time_map():
    x = ramps(16, 60, channels=3) * np.array([1.0, 2.0, -1.0], "float32")
    out = numpy(ek.layers.RandomTimeWarp(seed=1)(x))
    np.testing.assert_allclose(out[..., 1], 2 * out[..., 0], rtol=1e-5)
    np.testing.assert_allclose(out[..., 2], -out[..., 0], rtol=1e-5)
