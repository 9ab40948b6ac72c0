"""LinearDecay: exact values at the boundaries, serialization."""

import keras
import pytest

from keras_epochkit.schedules import LinearDecay
from tests.support.conformance import assert_config_round_trip


def value(schedule, step) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_exact_values_at_the_boundaries():
    schedule = LinearDecay(
        0.2,
        total_steps=110,
        warmup_steps=10,
        warmup_learning_rate=0.02,
        final_learning_rate=0.01,
    )
    assert value(schedule, 0) == pytest.approx(0.02)  # step 0
    assert value(schedule, 9) == pytest.approx(0.02 + 0.18 * 0.9)
    assert value(schedule, 10) == pytest.approx(0.2)  # end of warm-up = start of decay
    assert value(schedule, 60) == pytest.approx(0.105)
    assert value(schedule, 109) == pytest.approx(0.01 + 0.19 / 100)
    assert value(schedule, 110) == pytest.approx(0.01)  # last step
    assert value(schedule, 500) == pytest.approx(0.01)  # past the end


def test_fractional_warmup_is_resolved_from_the_horizon():
    schedule = LinearDecay(0.1, total_steps=200, warmup_fraction=0.05)
    assert value(schedule, 5) == pytest.approx(0.05)
    assert value(schedule, 10) == pytest.approx(0.1)


def test_config_round_trip():
    schedule = LinearDecay(
        0.3,
        total_steps=50,
        warmup_fraction=0.1,
        warmup_learning_rate=0.01,
        final_learning_rate=0.001,
        name="lin",
    )
    restored = assert_config_round_trip(schedule)
    assert value(restored, 25) == pytest.approx(value(schedule, 25))
