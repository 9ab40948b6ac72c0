import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy
from tests.layers.stats_support import ramps


def test_keeps_the_multiset_of_values_and_moves_whole_segments():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 90, 2)).astype("float32")
    out = numpy(ek.layers.RandomPermutation(5, seed=0)(x))
    np.testing.assert_array_equal(np.sort(out, axis=1), np.sort(x, axis=1))
    ramp_out = numpy(ek.layers.RandomPermutation(5, seed=1)(ramps(128, 90)))[..., 0]
    jumps = (np.diff(ramp_out, axis=1) != 1).sum(axis=1)
    assert jumps.max() <= 4
    assert (jumps > 0).mean() > 0.9


def test_zero_strength_is_identity():
    x = ramps(8, 30)
    out = numpy(ek.layers.RandomPermutation(5, seed=0)(x, strength=0.0))
    np.testing.assert_array_equal(out, x)


def test_rejects_zero_segments():
    with pytest.raises(ValueError, match="max_segments"):
        ek.layers.RandomPermutation(0)
