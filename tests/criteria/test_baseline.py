"""Baseline: the wrapped rule may stop only once the baseline is beaten."""

from keras_epochkit.criteria import Baseline
from keras_epochkit.criteria import Patience
from keras_epochkit.criteria import replay


def test_holds_back_stops_until_baseline_beaten():
    logs = [{"val_loss": v} for v in [1.0, 1.1, 1.2, 0.8, 0.85]]
    assert replay(Patience(patience=1, mode="min"), logs)[0] == 1
    epoch, decision = replay(Baseline(0.9, Patience(patience=1, mode="min")), logs)
    assert epoch == 4 and decision.reason is Patience.stop_reason


def test_gives_up_after_patience_epochs_without_beating_baseline():
    logs = [{"val_loss": v} for v in [1.0, 0.99, 0.98, 0.97]]
    epoch, decision = replay(
        Baseline(0.5, Patience(patience=10, mode="min"), patience=3), logs
    )
    assert epoch == 2 and decision.reason is Baseline.stop_reason
    assert "baseline" in decision.message
