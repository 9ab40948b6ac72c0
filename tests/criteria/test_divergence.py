"""Divergence: stop when hopeless, absolute or relative to the best."""

from keras_epochkit.criteria import Divergence
from keras_epochkit.criteria import replay


def test_absolute_threshold():
    logs = [{"val_loss": v} for v in [1.0, 5.0, 12.0]]
    epoch, decision = replay(Divergence(10.0, mode="min"), logs)
    assert epoch == 2 and decision.reason is Divergence.stop_reason


def test_relative_threshold_is_a_factor_of_the_best():
    # best 0.5 -> limit 1.5: 1.4 passes, 1.6 stops.
    logs = [{"val_loss": v} for v in [1.0, 0.5, 1.4, 1.6]]
    assert replay(Divergence(3.0, mode="min", relative=True), logs)[0] == 3


def test_max_mode_relative():
    logs = [{"val_accuracy": v} for v in [0.9, 0.5, 0.2]]
    assert replay(Divergence(2.0, "val_accuracy", "max", relative=True), logs)[0] == 2
