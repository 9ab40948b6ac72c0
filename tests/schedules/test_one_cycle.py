"""OneCycle: exact values at the boundaries, serialization, errors."""

import math

import keras
import pytest

from keras_epochkit.schedules import OneCycle
from tests.support.conformance import assert_config_round_trip


def value(schedule, step) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_exact_values_at_the_boundaries():
    schedule = OneCycle(
        1.0, total_steps=100, warmup_fraction=0.25, div_factor=10, final_div_factor=100
    )
    assert value(schedule, 0) == pytest.approx(0.1)  # max / div_factor
    assert value(schedule, 12.5) == pytest.approx(
        0.1 + 0.9 * 0.5
    )  # cosine rise midpoint
    assert value(schedule, 25) == pytest.approx(1.0)  # the peak
    assert value(schedule, 25 + 75 / 4) == pytest.approx(
        0.001 + 0.999 * 0.5 * (1 + math.cos(math.pi / 4)), rel=1e-5
    )
    assert value(schedule, 100) == pytest.approx(0.001)  # start / final_div_factor
    assert value(schedule, 200) == pytest.approx(0.001)


def test_warmup_in_steps_replaces_the_default_fraction():
    schedule = OneCycle(1.0, total_steps=100, warmup_steps=10)
    assert value(schedule, 10) == pytest.approx(1.0)
    assert schedule.get_config()["warmup_fraction"] is None


@pytest.mark.parametrize("arg", ["div_factor", "final_div_factor"])
def test_bad_factors_raise(arg):
    with pytest.raises(ValueError, match=arg):
        OneCycle(0.1, **{arg: 0.5})


def test_config_round_trip():
    assert_config_round_trip(
        OneCycle(0.3, total_steps=60, warmup_fraction=0.2, div_factor=20.0)
    )
