"""UpStrips: Prechelt's UP_s on hand-worked strips."""

from keras_epochkit.criteria import UpStrips
from keras_epochkit.criteria import replay

# Strip ends (k=2) at epochs 1, 3, 5, 7, 9: 0.9, 0.85, 0.75, 0.82, 0.97.
CURVE = [1.0, 0.9, 0.8, 0.85, 0.7, 0.75, 0.8, 0.82, 0.95, 0.97]


def test_stops_after_s_successive_rising_strips():
    epoch, decision = replay(
        UpStrips(s=2, strip=2, mode="min"), [{"val_loss": v} for v in CURVE]
    )
    assert epoch == 9
    assert decision.reason is UpStrips.stop_reason


def test_single_rise_is_enough_for_up1_and_rises_inside_a_strip_do_not_count():
    # Epoch 3 (0.85 > 0.8) is inside a strip comparison 0.85 < 0.9: no rise.
    epoch, _ = replay(
        UpStrips(s=1, strip=2, mode="min"), [{"val_loss": v} for v in CURVE]
    )
    assert epoch == 7


def test_a_fall_resets_the_count():
    curve = [1.0, 1.1, 1.05, 1.2, 1.3]  # strip 1: rises 1.1, 1.05(fall), 1.2, 1.3
    rule = UpStrips(s=2, strip=1, mode="min")
    assert [rule.update(e, {"val_loss": v}).stop for e, v in enumerate(curve)] == [
        False,
        False,
        False,
        False,
        True,
    ]


def test_max_mode_counts_falls():
    logs = [{"val_accuracy": v} for v in [0.5, 0.6, 0.55, 0.5]]
    assert (
        replay(UpStrips(s=2, strip=1, monitor="val_accuracy", mode="max"), logs)[0] == 3
    )
