import numpy as np

import keras_epochkit as ek
from tests.layers.stats_support import numpy


def test_noise_standard_deviation_is_sigma_within_five_percent():
    out = numpy(
        ek.layers.RandomJitter(sigma=0.05, seed=0)(np.zeros((64, 500, 3), "float32"))
    )
    assert abs(out.std() / 0.05 - 1) < 0.05
    assert abs(out.mean()) < 0.05 * 0.05


def test_noise_is_drawn_independently_per_sample():
    out = numpy(
        ek.layers.RandomJitter(sigma=1.0, seed=1)(np.zeros((8, 200, 2), "float32"))
    )
    correlation = np.corrcoef(out[0].ravel(), out[1].ravel())[0, 1]
    assert abs(correlation) < 0.2


def test_strength_scales_sigma():
    out = numpy(
        ek.layers.RandomJitter(sigma=0.2, seed=2)(
            np.zeros((32, 500, 2), "float32"), strength=0.25
        )
    )
    assert abs(out.std() / 0.05 - 1) < 0.05


def test_rejects_negative_sigma():
    import pytest

    with pytest.raises(ValueError, match="sigma"):
        ek.layers.RandomJitter(sigma=-1.0)
