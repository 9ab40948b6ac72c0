import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy


def test_zeroes_exactly_the_spans_drawn():
    layer = ek.layers.RandomTimeMask(count=1, max_width=12, seed=0)
    x = np.ones((400, 80, 2), "float32")
    transformation = layer.get_random_transformation(x)
    out = numpy(layer.transform(x, transformation))
    starts = numpy(transformation["starts"])[:, 0]
    widths = numpy(transformation["widths"])[:, 0]
    zeroed = out[..., 0] == 0
    np.testing.assert_array_equal(zeroed.sum(axis=1), widths)
    for row, start, width in zip(zeroed, starts, widths):
        assert row[start : start + width].all()
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    # Widths are uniform on 0..max_width.
    assert widths.min() == 0 and widths.max() == 12
    assert abs(widths.mean() - 6) < 0.6


def test_fractional_width_is_relative_to_the_length():
    layer = ek.layers.RandomTimeMask(count=3, max_width=0.1, seed=1)
    out = numpy(layer(np.ones((200, 50, 1), "float32")))
    assert ((out == 0).sum(axis=1) <= 15).all()
    assert (out == 0).any()


def test_rejects_fraction_of_one_or_more():
    with pytest.raises(ValueError, match="max_width"):
        ek.layers.RandomTimeMask(max_width=1.5)
