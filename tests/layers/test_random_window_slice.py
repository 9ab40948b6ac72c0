import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy
from tests.layers.stats_support import ramps


def test_output_is_a_window_of_ratio_of_the_length_resampled_evenly():
    length, ratio = 101, 0.9
    out = numpy(ek.layers.RandomWindowSlice(ratio, seed=0)(ramps(200, length)))[..., 0]
    span = ratio * (length - 1)
    np.testing.assert_allclose(out[:, -1] - out[:, 0], span, rtol=1e-5)
    np.testing.assert_allclose(np.diff(out, axis=1), span / (length - 1), rtol=1e-4)
    starts = out[:, 0]
    assert (starts >= 0).all() and (starts <= length - 1 - span + 1e-4).all()
    # Starts spread over the whole allowed range.
    assert starts.min() < 1.0 and starts.max() > span / 10 - 1.0


def test_rejects_ratio_outside_unit_interval():
    with pytest.raises(ValueError, match="ratio"):
        ek.layers.RandomWindowSlice(1.5)
