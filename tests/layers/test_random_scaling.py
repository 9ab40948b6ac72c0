import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy


def test_factors_are_constant_in_time_with_standard_deviation_sigma():
    out = numpy(
        ek.layers.RandomScaling(sigma=0.1, seed=0)(np.ones((2000, 5, 4), "float32"))
    )
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 5, axis=1), rtol=1e-6)
    factors = out[:, 0, :]
    assert abs(factors.std() / 0.1 - 1) < 0.05
    assert abs(factors.mean() - 1) < 0.01


def test_rejects_non_numeric_sigma():
    with pytest.raises(ValueError, match="sigma"):
        ek.layers.RandomScaling(sigma="big")
