"""WarmupStableDecay: exact values at the boundaries of each shape; errors."""

import keras
import pytest

from keras_epochkit.schedules import WarmupStableDecay
from tests.support.conformance import assert_config_round_trip


def value(schedule, step) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


@pytest.mark.parametrize(
    ("shape", "midpoint"),
    [("linear", 0.5), ("cosine", 0.5), ("1-sqrt", 1 - 0.5**0.5)],
)
def test_exact_values_at_the_boundaries(shape, midpoint):
    # 10 warm-up steps, then 100 steps: stable until 90, decay 90 -> 110.
    schedule = WarmupStableDecay(
        0.1,
        total_steps=110,
        warmup_steps=10,
        decay_fraction=0.2,
        decay_shape=shape,
        final_learning_rate=0.01,
    )
    assert value(schedule, 0) == pytest.approx(0.0, abs=1e-9)
    assert value(schedule, 5) == pytest.approx(0.05)
    assert value(schedule, 10) == pytest.approx(0.1)  # end of warm-up
    assert value(schedule, 90) == pytest.approx(0.1)  # start of decay
    assert value(schedule, 100) == pytest.approx(0.01 + 0.09 * midpoint, rel=1e-5)
    assert value(schedule, 110) == pytest.approx(0.01)  # last step
    assert value(schedule, 111) == pytest.approx(0.01)  # past the end


def test_decay_fraction_one_is_a_pure_decay():
    schedule = WarmupStableDecay(
        0.1, total_steps=100, decay_fraction=1.0, decay_shape="linear"
    )
    assert value(schedule, 50) == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"decay_fraction": 0.0}, "decay_fraction"),
        ({"decay_shape": "step"}, "decay_shape"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WarmupStableDecay(0.1, **kwargs)


def test_config_round_trip():
    assert_config_round_trip(
        WarmupStableDecay(
            0.1,
            total_steps=40,
            decay_fraction=0.3,
            decay_shape="cosine",
            warmup_fraction=0.05,
        )
    )
