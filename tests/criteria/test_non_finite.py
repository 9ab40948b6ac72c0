"""NonFinite: stop at the first NaN or infinite value."""

import math

import pytest

from keras_epochkit.criteria import NonFinite
from keras_epochkit.criteria import replay


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_stops_on_non_finite(bad):
    logs = [{"loss": 1.0}, {"loss": 0.5}, {"loss": bad}]
    epoch, decision = replay(NonFinite(monitor="loss"), logs)
    assert epoch == 2 and decision.reason is NonFinite.stop_reason
    assert "loss" in decision.message
