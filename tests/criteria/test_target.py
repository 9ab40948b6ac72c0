"""Target: stop once good enough."""

from keras_epochkit.criteria import Target
from keras_epochkit.criteria import replay


def test_min_mode_stops_when_at_or_below_target():
    logs = [{"val_loss": v} for v in [1.0, 0.6, 0.5, 0.4]]
    epoch, decision = replay(Target(0.5, mode="min"), logs)
    assert epoch == 2 and decision.reason is Target.stop_reason
    assert "0.5" in decision.message


def test_auto_mode_from_name_maximizes_accuracy():
    logs = [{"val_accuracy": v} for v in [0.7, 0.95]]
    assert replay(Target(0.9, monitor="val_accuracy"), logs)[0] == 1
