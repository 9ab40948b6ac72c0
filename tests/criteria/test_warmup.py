"""Warmup: the wrapped criterion does not see the first epochs."""

from keras_epochkit.criteria import Patience
from keras_epochkit.criteria import Warmup
from keras_epochkit.criteria import replay


def test_warmup_epochs_are_hidden_from_the_wrapped_rule():
    # Without warm-up, patience 1 stops at epoch 1 (2.0 > 1.0).
    logs = [{"val_loss": v} for v in [1.0, 2.0, 3.0, 0.5, 0.6]]
    assert replay(Patience(patience=1, mode="min"), logs)[0] == 1
    epoch, decision = replay(Warmup(3, Patience(patience=1, mode="min")), logs)
    assert epoch == 4 and decision.reason is Patience.stop_reason


def test_with_mode_reaches_the_wrapped_rule():
    rule = Warmup(1, Patience(patience=1, monitor="score")).with_mode("max")
    assert rule.criterion.mode == "max"
