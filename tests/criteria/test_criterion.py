"""Every criterion: config round trip, JSON state that resumes exactly, clear errors."""

import json
import math

import numpy as np
import pytest

from keras_epochkit import criteria
from keras_epochkit.criteria import Criterion
from keras_epochkit.criteria import StopReason
from keras_epochkit.criteria import replay
from tests.support.conformance import assert_config_round_trip


def _all_criteria():
    patience = criteria.Patience(patience=4, min_delta=0.01, min_delta_mode="rel")
    return [
        criteria.Patience(
            patience=3,
            min_delta=0.001,
            baseline=0.9,
            smoothing="ema",
            smoothing_window=3,
        ),
        criteria.Patience(patience=3, smoothing="median"),
        criteria.Warmup(3, patience),
        criteria.Baseline(0.6, criteria.Patience(patience=2), patience=30),
        criteria.Target(0.2),
        criteria.Divergence(3.0, relative=True),
        criteria.Divergence(10.0),
        criteria.NonFinite(),
        criteria.GeneralizationLoss(alpha=2.0),
        criteria.ProgressQuotient(alpha=0.5, strip=3),
        criteria.UpStrips(s=2, strip=2),
        criteria.Extrapolation(min_epochs=6, window=12),
        criteria.any_of(
            criteria.Patience(patience=5), criteria.GeneralizationLoss(3.0)
        ),
        criteria.all_of(
            criteria.Patience(patience=2),
            criteria.Patience(patience=2, monitor="val_accuracy"),
        ),
    ]


def _curve(n=40, seed=0):
    """A noisy learning curve that overfits after epoch ~15."""
    rng = np.random.default_rng(seed)
    logs = []
    for t in range(n):
        train = 0.2 + 1.5 * math.exp(-0.15 * t) + rng.normal(0, 0.005)
        val = 0.45 + 1.2 * math.exp(-0.2 * t) + 0.004 * max(t - 15, 0) ** 1.3
        val += rng.normal(0, 0.01)
        logs.append({"loss": train, "val_loss": val, "val_accuracy": 1.0 - val / 2})
    return logs


@pytest.mark.parametrize("criterion", _all_criteria(), ids=lambda c: type(c).__name__)
def test_config_round_trip(criterion):
    restored = assert_config_round_trip(criterion)
    logs = _curve()
    assert replay(restored, logs, budget=60) == replay(criterion, logs, budget=60)


@pytest.mark.parametrize("criterion", _all_criteria(), ids=lambda c: type(c).__name__)
def test_json_state_resumes_exactly(criterion):
    logs = _curve()
    full = criterion.with_mode("min") if criterion.monitor == "val_loss" else criterion
    full = full.resolved(lambda m: "max" if "acc" in m else "min")
    uninterrupted = [full.update(e, row, 60) for e, row in enumerate(logs)]

    first = full.resolved(lambda m: "max" if "acc" in m else "min")
    first.reset()
    for epoch, row in enumerate(logs[:17]):
        first.update(epoch, row, 60)
    state = json.loads(json.dumps(first.get_state()))
    second = type(first).from_config(first.get_config())
    second.set_state(state)
    resumed = [second.update(e, row, 60) for e, row in enumerate(logs) if e >= 17]
    assert resumed == uninterrupted[17:]


def test_every_criterion_stops_somewhere_on_an_overfitting_curve():
    logs = _curve(80)
    for criterion in _all_criteria():
        if isinstance(criterion, criteria.Target):
            continue
        if isinstance(criterion, (criteria.NonFinite, criteria.Divergence)):
            continue
        epoch, decision = replay(criterion, logs, budget=80)
        assert epoch is not None, criterion
        assert isinstance(decision.reason, StopReason)
        assert decision.code == int(decision.reason) != 0
        assert decision.message


def test_each_stopping_class_reports_its_own_stop_reason():
    classes = [
        getattr(criteria, name)
        for name in criteria.__all__
        if isinstance(getattr(criteria, name), type)
        and issubclass(getattr(criteria, name), Criterion)
        and getattr(criteria, name) is not Criterion
    ]
    # The gates and compositions report their members' reasons.
    wrappers = (criteria.Warmup, criteria.AnyOf, criteria.AllOf)
    # TrendPatience is a patience rule: it stops for the same reason.
    shared = {criteria.TrendPatience: StopReason.PATIENCE}
    reasons = [
        cls.stop_reason for cls in classes if cls not in wrappers and cls not in shared
    ]
    assert all(isinstance(reason, StopReason) for reason in reasons)
    assert len(set(reasons)) == len(reasons)
    assert all(cls.stop_reason is reason for cls, reason in shared.items())
    assert all(cls.stop_reason is None for cls in wrappers)


def test_stop_reason_codes_and_messages_round_trip():
    for reason in StopReason:
        assert StopReason(int(reason)) is reason
        assert StopReason[reason.name] is reason
        assert reason.message and reason.message[0].islower()


def test_mode_auto_from_names_and_clear_error():
    assert criteria.Patience(patience=1, monitor="val_auc").update(0, {"val_auc": 0.5})
    rule = criteria.Patience(patience=1, monitor="val_auc")
    rule.update(0, {"val_auc": 0.5})
    assert rule.update(1, {"val_auc": 0.6}).improved
    with pytest.raises(ValueError, match="mode='min'"):
        criteria.Patience(monitor="val_weird").update(0, {"val_weird": 1.0})


def test_missing_monitor_raises_listing_keys():
    with pytest.raises(
        ValueError, match=r"val_loss.*Keys present: \['loss', 'val_acc'\]"
    ):
        criteria.Patience().update(0, {"loss": 1.0, "val_acc": 0.5})


def test_epochs_without_validation_are_skipped():
    rule = criteria.Patience(patience=1, mode="min")
    logs = [
        {"loss": 1.0, "val_loss": 1.0},
        {"loss": 0.9},
        {"loss": 0.8, "val_loss": 1.1},
    ]
    decisions = [rule.update(e, row) for e, row in enumerate(logs)]
    assert [d.stop for d in decisions] == [False, False, True]
    assert rule.wait == 1


def test_replay_leaves_the_criterion_untouched():
    rule = criteria.Patience(patience=1, mode="min")
    replay(rule, [{"val_loss": 1.0}, {"val_loss": 2.0}])
    assert rule.wait == 0 and rule.best is None


def test_base_class_cannot_be_used_directly():
    with pytest.raises(TypeError, match="base class"):
        Criterion(monitor="val_loss")


BAD_ARGUMENTS = [
    (lambda: criteria.Patience(patience=-1), "patience"),
    (lambda: criteria.Patience(patience=1.5), "patience"),
    (lambda: criteria.Patience(min_delta="a"), "min_delta"),
    (lambda: criteria.Patience(min_delta_mode="percent"), "min_delta_mode"),
    (lambda: criteria.Patience(mode="minimize"), "mode"),
    (lambda: criteria.Patience(monitor=""), "monitor"),
    (lambda: criteria.Patience(smoothing="gauss"), "smoothing"),
    (
        lambda: criteria.Patience(smoothing="ema", smoothing_window=0),
        "smoothing_window",
    ),
    (lambda: criteria.Patience(baseline=math.nan), "baseline"),
    (lambda: criteria.Warmup(-2, criteria.Patience()), "epochs"),
    (lambda: criteria.Warmup(2, "patience"), "criterion"),
    (lambda: criteria.Baseline(0.5, criteria.Patience(), patience=0), "patience"),
    (lambda: criteria.Target(math.inf), "value"),
    (lambda: criteria.Divergence(0.5, relative=True), "threshold"),
    (lambda: criteria.Divergence(2.0, relative="yes"), "relative"),
    (lambda: criteria.GeneralizationLoss(alpha=-1), "alpha"),
    (lambda: criteria.ProgressQuotient(strip=0), "strip"),
    (lambda: criteria.ProgressQuotient(train_monitor=""), "train_monitor"),
    (lambda: criteria.UpStrips(s=0), "s"),
    (lambda: criteria.Extrapolation(confidence=1.0), "confidence"),
    (lambda: criteria.Extrapolation(confidence=0.3), "confidence"),
    (lambda: criteria.Extrapolation(min_epochs=2), "min_epochs"),
    (lambda: criteria.Extrapolation(min_epochs=10, window=5), "window"),
    (lambda: criteria.Extrapolation(tolerance_mode="pct"), "tolerance_mode"),
    (lambda: criteria.Extrapolation(horizon=0), "horizon"),
    (lambda: criteria.any_of(), "criteria"),
    (lambda: criteria.any_of(criteria.Patience(), 3), r"criteria\[1\]"),
]


def test_bad_arguments_raise_value_error_naming_the_argument():
    for build, argument in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=f"`{argument}`"):
            build()
