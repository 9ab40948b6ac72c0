"""ProgressQuotient: Prechelt's PQ = GL / P_k at the ends of strips, by hand."""

import pytest

from keras_epochkit.criteria import ProgressQuotient
from keras_epochkit.criteria import replay
from keras_epochkit.criteria.progress_quotient import training_progress

TRAIN = [1.0, 0.9, 0.85, 0.84, 0.835, 0.834]
VAL = [1.0, 0.8, 0.7, 0.72, 0.75, 0.77]
LOGS = [{"loss": t, "val_loss": v} for t, v in zip(TRAIN, VAL)]


def test_training_progress_matches_the_formula():
    # P_3 = 1000 (sum / (3 min) - 1)
    assert training_progress([1.0, 0.9, 0.85]) == pytest.approx(
        1000 * (2.75 / 2.55 - 1)
    )


def test_stops_at_end_of_strip_when_pq_exceeds_alpha():
    gl = 100 * (0.77 / 0.7 - 1)  # 10.0
    progress = 1000 * ((0.84 + 0.835 + 0.834) / (3 * 0.834) - 1)  # 2.798
    quotient = gl / progress  # 3.57
    epoch, decision = replay(ProgressQuotient(alpha=1.0, strip=3, mode="min"), LOGS)
    assert epoch == 5
    assert f"{quotient:.3g}" in decision.message
    assert decision.reason is ProgressQuotient.stop_reason
    epoch, _ = replay(
        ProgressQuotient(alpha=quotient + 0.01, strip=3, mode="min"), LOGS
    )
    assert epoch is None


def test_only_strip_ends_are_checked():
    # GL is already 2.9% at epoch 3 (not a strip end with k=3): no stop there.
    rule = ProgressQuotient(alpha=0.0, strip=3, mode="min")
    stops = [rule.update(e, row).stop for e, row in enumerate(LOGS)]
    assert stops == [False, False, False, False, False, True]


def test_custom_training_key():
    logs = [{"train_err": t, "val_err": v} for t, v in zip(TRAIN, VAL)]
    rule = ProgressQuotient(
        1.0, 3, monitor="val_err", mode="min", train_monitor="train_err"
    )
    assert replay(rule, logs)[0] == 5
