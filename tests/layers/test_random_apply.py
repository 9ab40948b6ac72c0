import keras
import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy


def test_applies_the_layer_to_a_rate_share_of_samples():
    layer = ek.layers.RandomApply(ek.layers.RandomJitter(0.1, seed=0), rate=0.3, seed=1)
    x = np.zeros((2000, 10, 1), "float32")
    changed = (numpy(layer(x)) != 0).any(axis=(1, 2))
    assert abs(changed.mean() - 0.3) < 0.04


def test_works_per_sample_with_a_keras_core_image_layer():
    images = np.random.default_rng(0).random((400, 6, 6, 1)).astype("float32")
    flip = keras.layers.RandomFlip("horizontal", seed=2)
    out = numpy(ek.layers.RandomApply(flip, rate=0.5, seed=3)(images))
    same = np.isclose(out, images).all(axis=(1, 2, 3))
    flipped = np.isclose(out, images[:, :, ::-1]).all(axis=(1, 2, 3))
    assert (same | flipped).all()
    # RandomFlip flips half of what it sees, RandomApply passes it half.
    assert abs(flipped.mean() - 0.25) < 0.07


def test_rejects_rate_above_one():
    with pytest.raises(ValueError, match="rate"):
        ek.layers.RandomApply(ek.layers.RandomJitter(), rate=1.5)
