"""Patience: Keras's rule on hand-worked sequences, relative deltas, smoothing."""

import math

import pytest

from keras_epochkit.criteria import Patience
from keras_epochkit.criteria import replay


def stops(rule, values, key="val_loss"):
    return [rule.update(e, {key: v}).stop for e, v in enumerate(values)]


def test_stops_after_patience_epochs_without_improvement():
    # best 0.5 at epoch 1; epochs 2, 3, 4 do not improve; patience 3 -> stop at 4.
    rule = Patience(patience=3, mode="min")
    assert stops(rule, [1.0, 0.5, 0.6, 0.55, 0.7, 0.4]) == [False] * 4 + [True, False]


def test_patience_zero_stops_at_first_epoch_without_improvement_but_not_epoch_zero():
    rule = Patience(patience=0, mode="min")
    assert stops(rule, [1.0, 0.9, 0.9]) == [False, False, True]


def test_absolute_min_delta_needs_a_larger_step():
    rule = Patience(patience=1, min_delta=0.1, mode="min")
    # 0.95 is not 0.1 below 1.0: no improvement, patience 1 -> stop.
    assert stops(rule, [1.0, 0.95]) == [False, True]
    rule = Patience(patience=1, min_delta=0.1, mode="min")
    assert stops(rule, [1.0, 0.85, 0.8]) == [False, False, True]


def test_relative_min_delta_scales_with_the_best_value():
    # 1% of 100 = 1.0: 99.5 is not enough, 98.9 is.
    rule = Patience(patience=2, min_delta=0.01, min_delta_mode="rel", mode="min")
    decisions = [
        rule.update(e, {"val_loss": v}) for e, v in enumerate([100, 99.5, 98.9])
    ]
    assert [d.improved for d in decisions] == [True, False, True]
    # 1% of 0.01 = 1e-4: 0.00995 improves in relative terms.
    rule = Patience(patience=1, min_delta=0.01, min_delta_mode="rel", mode="min")
    decisions = [rule.update(e, {"val_loss": v}) for e, v in enumerate([0.01, 0.00985])]
    assert [d.improved for d in decisions] == [True, True]


def test_max_mode_counts_increases_as_improvements():
    rule = Patience(patience=1, monitor="val_accuracy", mode="max")
    assert stops(rule, [0.5, 0.6, 0.55], key="val_accuracy") == [False, False, True]


def test_baseline_not_reached_stops_after_patience_epochs_as_in_keras():
    rule = Patience(patience=3, baseline=0.5, mode="min")
    # Improves but never below 0.5: the count never resets, so the first
    # epoch without improvement after 3 epochs stops.
    assert stops(rule, [0.9, 0.8, 0.85]) == [False, False, True]
    rule = Patience(patience=3, baseline=0.5, mode="min")
    assert stops(rule, [0.9, 0.8, 0.4, 0.45, 0.46]) == [False] * 5


def test_non_finite_value_is_never_best():
    rule = Patience(patience=2, mode="min")
    decisions = [
        rule.update(e, {"val_loss": v}) for e, v in enumerate([math.nan, 1.0, 0.9])
    ]
    assert [d.improved for d in decisions] == [False, True, True]
    assert rule.best == 0.9


def test_ema_smoothing_hand_worked():
    # window 3 -> factor 0.5. Raw 1, 0.2, 1, 0.2: EMA 1, 0.6, 0.8, 0.5.
    rule = Patience(patience=1, mode="min", smoothing="ema", smoothing_window=3)
    decisions = [
        rule.update(e, {"val_loss": v}) for e, v in enumerate([1.0, 0.2, 1.0, 0.2])
    ]
    assert [d.improved for d in decisions] == [True, True, False, True]
    assert decisions[2].stop
    assert rule.best == pytest.approx(0.5)


def test_median_smoothing_ignores_a_single_lucky_epoch():
    # Raw: the dip at epoch 4 resets the count. Median of 3:
    # 1.0, 0.9, 0.81, 0.81, 0.81, 0.82 -> last improvement at epoch 2.
    values = [1.0, 0.8, 0.81, 0.82, 0.5, 0.83]
    logs = [{"val_loss": v} for v in values]
    assert replay(Patience(patience=3, mode="min"), logs)[0] is None
    smooth = Patience(patience=3, mode="min", smoothing="median", smoothing_window=3)
    assert replay(smooth, logs)[0] == 5


def test_reason_names_the_monitor_and_patience():
    epoch, decision = replay(
        Patience(patience=1, mode="min"), [{"val_loss": v} for v in [1.0, 2.0]]
    )
    assert epoch == 1 and decision.reason is Patience.stop_reason
    assert "val_loss" in decision.message and "patience 1" in decision.message
