import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy
from tests.layers.stats_support import ramps


def test_window_is_stretched_by_a_chosen_scale_and_endpoints_are_kept():
    x = ramps(64, 201)
    out = numpy(ek.layers.RandomWindowWarp(0.1, (0.5, 2.0), seed=0)(x))[..., 0]
    steps = np.diff(out, axis=1)
    assert (steps > 0).all()
    np.testing.assert_array_equal(out[:, 0], 0.0)
    np.testing.assert_allclose(out[:, -1], 200.0, rtol=1e-6)
    # Inside the window time runs 2x faster or slower than outside it.
    np.testing.assert_allclose(steps.max(axis=1) / steps.min(axis=1), 2.0, rtol=1e-3)
    # Both scales are drawn.
    outside = np.median(steps, axis=1)
    assert (outside > 1).any() and (outside < 1).any()


def test_rejects_non_positive_scales():
    with pytest.raises(ValueError, match="scales"):
        ek.layers.RandomWindowWarp(scales=(0.0, 2.0))
