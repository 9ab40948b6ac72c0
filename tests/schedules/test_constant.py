"""Constant: warm-up, then the same rate; serialization."""

import keras
import pytest

from keras_epochkit.schedules import Constant
from tests.support.conformance import assert_config_round_trip


def value(schedule, step) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_holds_the_rate_after_the_warmup_and_past_the_horizon():
    schedule = Constant(
        0.05, total_steps=100, warmup_fraction=0.1, warmup_learning_rate=0.01
    )
    assert value(schedule, 0) == pytest.approx(0.01)
    assert value(schedule, 5) == pytest.approx(0.03)
    assert value(schedule, 10) == pytest.approx(0.05)
    assert value(schedule, 100) == pytest.approx(0.05)
    assert value(schedule, 10**6) == pytest.approx(0.05)


def test_rebinding_never_changes_the_rate():
    schedule = Constant(0.05)
    schedule.bind(10)
    schedule.bind(1000, 7)
    assert value(schedule, 7) == pytest.approx(0.05)
    assert value(schedule, 2000) == pytest.approx(0.05)


def test_config_round_trip():
    config = assert_config_round_trip(Constant(0.05, warmup_steps=3)).get_config()
    assert "final_learning_rate" not in config
