import keras
import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy


def test_each_sample_takes_one_layer_drawn_by_weight():
    layer = ek.layers.RandomChoice(
        [keras.layers.Identity(), ek.layers.RandomScaling(0.5, seed=0)],
        weights=[1.0, 3.0],
        seed=1,
    )
    x = np.ones((2000, 8, 1), "float32")
    scaled = (numpy(layer(x)) != 1).any(axis=(1, 2))
    assert abs(scaled.mean() - 0.75) < 0.04


def test_works_with_keras_core_image_layers():
    images = np.random.default_rng(0).random((300, 5, 5, 1)).astype("float32")
    layer = ek.layers.RandomChoice(
        [keras.layers.RandomFlip("horizontal", seed=0), keras.layers.Identity()],
        seed=2,
    )
    out = numpy(layer(images))
    same = np.isclose(out, images).all(axis=(1, 2, 3))
    flipped = np.isclose(out, images[:, :, ::-1]).all(axis=(1, 2, 3))
    assert (same | flipped).all()
    assert 0.1 < flipped.mean() < 0.4


def test_rejects_weights_of_wrong_length():
    with pytest.raises(ValueError, match="weights"):
        ek.layers.RandomChoice([ek.layers.RandomJitter()], weights=[1.0, 2.0])
