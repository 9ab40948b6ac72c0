"""any_of / all_of: composition, check order and codes."""

import math

from keras_epochkit.criteria import AllOf
from keras_epochkit.criteria import AnyOf
from keras_epochkit.criteria import NonFinite
from keras_epochkit.criteria import Patience
from keras_epochkit.criteria import StopReason
from keras_epochkit.criteria import Target
from keras_epochkit.criteria import all_of
from keras_epochkit.criteria import any_of
from keras_epochkit.criteria import replay


def test_any_of_reports_first_stopping_rule_in_check_order():
    # Both Patience(0) and NonFinite stop at epoch 1; non-finite is checked first.
    rule = any_of(Patience(patience=0, mode="min"), NonFinite(mode="min"))
    assert isinstance(rule, AnyOf)
    epoch, decision = replay(rule, [{"val_loss": 1.0}, {"val_loss": math.nan}])
    assert epoch == 1 and decision.reason is NonFinite.stop_reason


def test_any_of_target_before_patience():
    rule = any_of(Patience(patience=0, mode="min"), Target(0.5, mode="min"))
    epoch, decision = replay(rule, [{"val_loss": 0.4}, {"val_loss": 0.45}])
    assert epoch == 0 and decision.reason is Target.stop_reason


def test_all_of_needs_every_member_to_stop_in_the_same_epoch():
    rule = all_of(
        Patience(1, monitor="val_loss", mode="min"),
        Patience(1, monitor="val_accuracy", mode="max"),
    )
    assert isinstance(rule, AllOf)
    logs = [
        {"val_loss": 1.0, "val_accuracy": 0.5},
        {"val_loss": 1.1, "val_accuracy": 0.6},  # loss stalls, accuracy improves
        {"val_loss": 1.2, "val_accuracy": 0.55},  # both stall
    ]
    epoch, decision = replay(rule, logs)
    assert epoch == 2 and decision.reason is StopReason.PATIENCE
    assert "val_loss" in decision.message and "val_accuracy" in decision.message


def test_members_keep_their_state_when_another_stops():
    rule = any_of(Patience(patience=2, mode="min"), Target(0.1, mode="min"))
    for epoch, value in enumerate([1.0, 0.9, 0.95]):
        rule.update(epoch, {"val_loss": value})
    assert rule.criteria[0].wait == 1
