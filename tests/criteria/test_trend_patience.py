"""TrendPatience: waits that follow the training trend, plateaus and learning-rate drops."""

import json

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from keras_epochkit.callbacks import EarlyStopping
from keras_epochkit.criteria import TrendPatience
from keras_epochkit.criteria import replay


def reason_text(decision) -> str:
    # The explanation of a stop (`message` once reasons are an enum).
    return getattr(decision, "message", None) or decision.reason


def first_stop(rule, rows):
    for epoch, row in enumerate(rows):
        if rule.update(epoch, dict(row)).stop:
            return epoch
    return None


def overfitting_rows(train_falls: bool):
    # val_loss bottoms out at epoch 10 (0.5) and then climbs steadily.
    val = [1.0 - 0.05 * t for t in range(11)] + [0.5 + 0.03 * t for t in range(1, 30)]
    train = [1.0 - (0.02 * t if train_falls else 0.0) for t in range(len(val))]
    return [{"loss": tr, "val_loss": v} for tr, v in zip(train, val)]


def test_training_loss_falling_while_validation_rises_stops_after_overfit_patience():
    rule = TrendPatience(patience=12, overfit_patience=3, window=3, mode="min")
    stop = first_stop(rule, overfitting_rows(train_falls=True))
    # Best at epoch 10; the overfitting wait (3) ends the run long before 12.
    assert stop is not None and 10 + 3 <= stop < 10 + 12
    assert rule.regime == "overfitting"
    decision = replay(
        TrendPatience(patience=12, overfit_patience=3, window=3, mode="min"),
        overfitting_rows(train_falls=True),
    )[1]
    assert "overfitting" in reason_text(decision)


def test_the_same_validation_curve_without_a_falling_training_loss_waits_patience():
    # Training loss flat at 1.0 and progress since epoch 0 is large: normal wait.
    rule = TrendPatience(patience=12, overfit_patience=3, window=3, mode="min")
    assert first_stop(rule, overfitting_rows(train_falls=False)) == 10 + 12
    assert rule.regime == "normal"


def plateau_rows(breakthrough_at: int):
    rows = []
    for t in range(60):
        flat = 0.693 + 0.002 * ((-1) ** t)
        value = flat if t < breakthrough_at else 0.3
        rows.append({"loss": value + 0.01, "val_loss": value})
    return rows


def test_a_flat_run_with_little_progress_waits_plateau_patience_and_catches_the_breakthrough():
    rows = plateau_rows(breakthrough_at=25)
    plain = TrendPatience(patience=8, plateau_patience=8, mode="min")
    assert first_stop(plain, rows) is not None and first_stop(plain, rows) < 25
    rule = TrendPatience(patience=8, plateau_patience=30, mode="min")
    stop = first_stop(rule, rows)
    # It waits through the plateau, sees the breakthrough at 25, and then
    # (large progress: normal regime) waits only `patience`.
    assert stop == 25 + 8
    assert rule.best == pytest.approx(0.3) and rule.regime == "normal"


def test_a_plateau_stop_names_the_regime_in_its_reason():
    rule = TrendPatience(patience=3, plateau_patience=6, mode="min")
    stop = first_stop(rule, plateau_rows(breakthrough_at=100))
    assert stop is not None
    assert rule.regime == "plateau"
    decision = replay(
        TrendPatience(patience=3, plateau_patience=6, mode="min"),
        plateau_rows(breakthrough_at=100),
    )[1]
    text = reason_text(decision)
    assert "plateau" in text and "waited 6 epochs" in text


def rising_rows():
    # No progress after epoch 1: the monitor climbs 8% an epoch (heavy label
    # noise) while the training loss falls.
    val = [1.0, 0.99] + [0.99 * 1.08**t for t in range(1, 40)]
    return [{"loss": 1.0 - 0.02 * t, "val_loss": v} for t, v in enumerate(val)]


def test_a_monitor_far_above_its_first_value_is_no_plateau_with_plateau_rise():
    # Little progress since epoch 0, so without `plateau_rise` the run counts
    # as a plateau and waits `plateau_patience`.
    waits = TrendPatience(patience=4, plateau_patience=30, mode="min")
    assert first_stop(waits, rising_rows()) == 1 + 30
    rule = TrendPatience(patience=4, plateau_patience=30, plateau_rise=0.3, mode="min")
    stop = first_stop(rule, rising_rows())
    # The median of the last 5 values (epoch e - 2's) is more than 30% above
    # the first value from epoch 7 on; the best was at epoch 1, so the normal
    # wait (4 epochs) has long run out there.
    assert stop == 7
    assert rule.regime != "plateau"


def test_plateau_fraction_sets_the_plateau_wait_from_the_budget():
    rows = plateau_rows(breakthrough_at=100)  # best at epoch 1, then flat
    stops = {}
    for budget in (50, 100, None, 8):
        rule = TrendPatience(
            patience=3, plateau_patience=6, plateau_fraction=0.4, mode="min"
        )
        stops[budget] = next(
            e for e, row in enumerate(rows) if rule.update(e, row, budget).stop
        )
    # 40% of a 50-epoch budget is a 20-epoch wait, of 100 a 40-epoch one;
    # without a budget the wait is `plateau_patience`; never below `patience`.
    assert stops == {50: 1 + 20, 100: 1 + 40, None: 1 + 6, 8: 1 + 3}


def guarded_rows():
    # After a large first gain the loss gains 0.1% an epoch (the forecast
    # sees almost nothing left of a 60-epoch budget) while the accuracy
    # still rises until epoch 29.
    rows = []
    for t in range(60):
        value = 1.0 if t == 0 else 0.5 * 0.999**t
        accuracy = 0.5 + 0.01 * min(t, 29)
        rows.append({"loss": 0.5, "val_loss": value, "val_accuracy": accuracy})
    return rows


def test_the_guard_holds_the_forecast_while_the_guard_monitor_still_improves():
    settings = {"patience": 50, "forecast_tolerance": 0.05, "forecast_window": 5}
    free = TrendPatience(**settings, mode="min")
    held = TrendPatience(
        **settings, guard_monitor="val_accuracy", guard_window=10, mode="min"
    )
    free_stop = next(
        e for e, r in enumerate(guarded_rows()) if free.update(e, r, 60).stop
    )
    held_stop = next(
        e for e, r in enumerate(guarded_rows()) if held.update(e, r, 60).stop
    )
    assert free_stop < 29
    # The accuracy's last new best is at epoch 29: the forecast may stop 10
    # epochs later, and does (the loss's gain has not grown meanwhile).
    assert held_stop == 29 + 10
    assert held.guard_best_epoch == 29
    # A log without the guard's key leaves the forecast free.
    bare = TrendPatience(
        **settings, guard_monitor="val_accuracy", guard_window=10, mode="min"
    )
    rows = [{k: v for k, v in r.items() if k != "val_accuracy"} for r in guarded_rows()]
    assert next(e for e, r in enumerate(rows) if bare.update(e, r, 60).stop) == (
        free_stop
    )


def lr_rows(drops):
    # Best at epoch 2, then flat; the learning rate halves at each epoch in `drops`.
    rows, rate = [], 0.1
    for t in range(40):
        if t in drops:
            rate *= 0.3
        value = [1.0, 0.6, 0.5][t] if t < 3 else 0.55
        rows.append({"loss": 0.4, "val_loss": value, "learning_rate": rate})
    return rows


def test_a_learning_rate_drop_restarts_the_count_once_per_best_epoch():
    base = first_stop(TrendPatience(patience=5, mode="min"), lr_rows(drops=()))
    assert base == 2 + 5
    one = first_stop(TrendPatience(patience=5, mode="min"), lr_rows(drops=(5,)))
    assert one == 5 + 5
    # A second drop without improvement in between does not extend the run.
    two = first_stop(TrendPatience(patience=5, mode="min"), lr_rows(drops=(5, 8)))
    assert two == 5 + 5
    ignored = first_stop(
        TrendPatience(patience=5, lr_drop=None, mode="min"), lr_rows(drops=(5,))
    )
    assert ignored == base


def test_epochs_without_validation_are_skipped_and_leave_the_state_alone():
    rule = TrendPatience(patience=2, mode="min")
    rule.update(0, {"loss": 1.0, "val_loss": 1.0})
    before = rule.get_state()
    assert not rule.update(1, {"loss": 0.9}).stop
    assert rule.get_state() == before


def test_state_round_trips_mid_run_and_the_config_serializes():
    rows = overfitting_rows(train_falls=True)
    rule = TrendPatience(patience=12, overfit_patience=3, window=3, mode="min")
    for epoch, row in enumerate(rows[:12]):
        rule.update(epoch, row)
    state = json.loads(json.dumps(rule.get_state()))
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(rule)
    )
    assert clone.get_config() == rule.get_config()
    clone.set_state(state)
    rest = [
        (rule.update(e, r).stop, clone.update(e, r).stop)
        for e, r in enumerate(rows[12:], start=12)
    ]
    assert all(a == b for a, b in rest) and any(a for a, _ in rest)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"patience": 0},
        {"window": 1},
        {"plateau_progress": 2.0},
        {"lr_drop": 1.0},
        {"plateau_fraction": 1.5},
        {"plateau_rise": -0.1},
        {"guard_window": 0},
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"`{name}` must be"):
        TrendPatience(**kwargs)


def test_a_guard_monitor_without_a_direction_is_refused_at_construction():
    with pytest.raises(ValueError, match="val_temperature"):
        TrendPatience(guard_monitor="val_temperature")


def test_tuned_holds_the_v2_settings_and_aggressiveness_divides_the_waits():
    from keras_epochkit.criteria.trend_patience import _TUNED

    rule = TrendPatience.tuned()
    assert isinstance(rule, TrendPatience)
    config = rule.get_config()
    assert {k: config[k] for k in _TUNED} == _TUNED
    fast = TrendPatience.tuned(aggressiveness=2.0)
    for name in ("patience", "overfit_patience", "plateau_patience", "guard_window"):
        assert getattr(fast, name) == max(1, round(_TUNED[name] / 2)), name
    assert fast.plateau_fraction == pytest.approx(_TUNED["plateau_fraction"] / 2)
    assert fast.forecast_tolerance == pytest.approx(2 * _TUNED["forecast_tolerance"])
    slow = TrendPatience.tuned(aggressiveness=0.5, patience=8, forecast_tolerance=None)
    assert slow.patience == 16 and slow.forecast_tolerance is None
    # A share of the budget never passes the whole budget.
    assert TrendPatience.tuned(aggressiveness=0.1).plateau_fraction == 1.0
    assert TrendPatience.tuned(plateau_fraction=None).plateau_fraction is None
    with pytest.raises(ValueError, match="`aggressiveness` must be"):
        TrendPatience.tuned(aggressiveness=0)


def test_recommended_builds_trend_patience_tuned():
    stop = EarlyStopping.recommended()
    rules = [c for c in stop.criteria if isinstance(c, TrendPatience)]
    assert len(rules) == 1
    assert rules[0].get_config() == TrendPatience.tuned().get_config()


def test_trend_patience_in_early_stopping_criteria_on_a_real_fit_replays_to_the_same_stop():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy"
    )
    stop = EarlyStopping(criteria=[TrendPatience.tuned()], restore_best_weights=True)
    lr = keras.callbacks.ReduceLROnPlateau(factor=0.3, patience=3)
    history = model.fit(
        x[:300],
        y[:300],
        validation_data=(x[1000:1100], y[1000:1100]),
        epochs=80,
        batch_size=64,
        verbose=0,
        callbacks=[lr, stop],
    )
    logs = [
        {k: float(v[e]) for k, v in history.history.items()}
        for e in range(len(history.history["loss"]))
    ]
    assert "learning_rate" in logs[0]
    assert len(logs) < 80, "a 300-sample digits model overfits well before 80 epochs"
    epoch, decision = replay(stop.criteria[0], logs, budget=80)
    assert epoch == len(logs) - 1 and decision.stop
    assert stop.stopped_epoch == epoch and stop.stop_reason
    assert np.isfinite(stop.best_value)
