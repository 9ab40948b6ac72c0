"""CosineDecay: exact values at the boundaries, serialization."""

import math

import keras
import pytest

from keras_epochkit.schedules import CosineDecay
from tests.support.conformance import assert_config_round_trip


def value(schedule, step) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_exact_values_at_the_boundaries():
    schedule = CosineDecay(
        0.1, total_steps=104, warmup_steps=4, final_learning_rate=0.01
    )
    assert value(schedule, 0) == pytest.approx(0.0, abs=1e-9)
    assert value(schedule, 2) == pytest.approx(0.05)
    assert value(schedule, 4) == pytest.approx(0.1)
    assert value(schedule, 29) == pytest.approx(
        0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi / 4))
    )
    assert value(schedule, 54) == pytest.approx(0.055)
    assert value(schedule, 104) == pytest.approx(0.01)
    assert value(schedule, 1000) == pytest.approx(0.01)


def test_matches_keras_cosine_decay_without_warmup():
    ours = CosineDecay(0.1, total_steps=100, final_learning_rate=0.002)
    theirs = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=100, alpha=0.02)
    for step in (0, 13, 50, 77, 100, 150):
        assert value(ours, step) == pytest.approx(
            float(keras.ops.convert_to_numpy(theirs(step))), rel=1e-5
        )


def test_config_round_trip():
    assert_config_round_trip(
        CosineDecay(0.1, total_steps=30, warmup_steps=3, name="cos")
    )
