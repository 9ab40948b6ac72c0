"""EarlyStopping: Keras equivalence, NaN safety, resumable state, clear errors."""

import itertools
import json
import math
import warnings

import keras
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.datasets import load_wine

from keras_epochkit import criteria
from keras_epochkit.callbacks import EarlyStopping
from keras_epochkit.callbacks import StopReason
from keras_epochkit.callbacks.early_stopping import BEST_EPOCH_LOG
from keras_epochkit.callbacks.early_stopping import STOP_CODE_LOG


def epoch_model():
    """A model whose single weight is set to the epoch index: restored weight = epoch."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    model.evaluate(np.zeros((2, 1)), np.zeros((2, 1)), verbose=0)  # builds the metrics
    return model


def drive(callback, logs_per_epoch, model, epochs=None, start=0, before=()):
    """Runs `callback` through keras.callbacks.CallbackList on recorded logs.

    Returns the last epoch run, the epoch encoded in the final weights and the
    logs the callbacks saw.
    """
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(dict(logs))
    )
    callbacks = keras.callbacks.CallbackList(
        [*before, callback, record],
        model=model,
        epochs=epochs or len(logs_per_epoch),
        verbose=0,
    )
    model.stop_training = False
    callbacks.on_train_begin()
    epoch = start
    for epoch in range(start, len(logs_per_epoch)):
        callbacks.on_epoch_begin(epoch)
        model.set_weights([np.full((1, 1), epoch, dtype="float32")])
        callbacks.on_epoch_end(epoch, dict(logs_per_epoch[epoch]))
        if model.stop_training:
            break
    callbacks.on_train_end()
    return epoch, float(model.get_weights()[0][0, 0]), seen


def _overfitting_loss(n=25):
    rng = np.random.default_rng(3)
    values = [
        0.4 + math.exp(-0.3 * t) + 0.01 * max(t - 10, 0) + rng.normal(0, 0.02)
        for t in range(n)
    ]
    return [{"loss": v * 0.9, "val_loss": round(v, 3)} for v in values]


def _plateau_accuracy(n=25):
    rng = np.random.default_rng(4)
    values = [min(0.5 + 0.05 * t, 0.86) + rng.integers(-2, 3) / 100 for t in range(n)]
    return [{"loss": 1 - v, "val_accuracy": round(v, 2)} for v in values]


def _slow_loss(n=25):
    values = [1.0, 0.8, 0.7, 0.65, 0.62, 0.6, 0.595, 0.59, 0.588, 0.587]
    values += [0.587 - 0.002 * t for t in range(n - len(values))]
    return [{"loss": v, "val_loss": v} for v in values]


CURVES = {
    "overfitting_val_loss": (_overfitting_loss(), "val_loss", "min", 0.6),
    "plateau_val_accuracy": (_plateau_accuracy(), "val_accuracy", "max", 0.8),
    "slow_val_loss": (_slow_loss(), "val_loss", "min", 0.5),
}


@pytest.mark.parametrize("curve", sorted(CURVES))
def test_matches_keras_early_stopping_over_a_grid_of_keras_arguments(curve):
    logs, monitor, mode, baseline = CURVES[curve]
    model = epoch_model()
    grid = itertools.product(
        [0, 1, 3], [0, 0.01], ["auto", mode], [None, baseline], [False, True], [0, 3]
    )
    for patience, min_delta, m, base, restore, start in grid:
        kwargs = dict(
            monitor=monitor,
            patience=patience,
            min_delta=min_delta,
            mode=m,
            baseline=base,
            restore_best_weights=restore,
            start_from_epoch=start,
        )
        theirs = keras.callbacks.EarlyStopping(**kwargs)
        ours = EarlyStopping(**kwargs)
        expected = drive(theirs, logs, model)[:2]
        got = drive(ours, logs, model)[:2]
        assert got == expected, kwargs
        assert ours.stopped_epoch == theirs.stopped_epoch, kwargs
        assert ours.best_epoch == theirs.best_epoch, kwargs


def test_logs_best_epoch_and_stop_code_every_epoch_and_skips_epochs_without_validation():
    data = load_wine()
    x = ((data.data - data.data.mean(0)) / data.data.std(0)).astype("float32")
    y = data.target
    model = keras.Sequential(
        [keras.Input((13,)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = EarlyStopping(monitor="val_accuracy", patience=2, log_figures=True)
    history = model.fit(
        x[:120],
        y[:120],
        validation_data=(x[120:], y[120:]),
        validation_freq=2,
        epochs=12,
        batch_size=32,
        callbacks=[stop],
        verbose=0,
    )
    epochs_run = len(history.history["loss"])
    assert len(history.history[BEST_EPOCH_LOG]) == epochs_run
    assert len(history.history[STOP_CODE_LOG]) == epochs_run
    # Epoch 0 had no validation: no best yet.
    assert history.history[BEST_EPOCH_LOG][0] == -1
    assert stop._resolved["val_accuracy"] == "max"
    if stop.stopped_epoch:
        assert history.history[STOP_CODE_LOG][-1] == int(StopReason.PATIENCE)
        assert stop.stop_reason is StopReason.PATIENCE and stop.stop_message


def test_real_fit_whose_loss_turns_nan_restores_best_weights():
    data = load_diabetes()
    x = ((data.data - data.data.mean(0)) / data.data.std(0)).astype("float32")
    y = ((data.target - data.target.mean()) / data.target.std()).astype("float32")
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    snapshots = {}
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.__setitem__(
            epoch, model.get_weights()
        )
    )
    # From epoch 4 on the learning rate is absurd: the loss overflows to inf/NaN.
    blow_up = keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: 1e30 if epoch >= 4 else 0.05
    )
    stop = EarlyStopping(
        monitor="val_loss", patience=50, restore_best_weights=True, log_figures=True
    )
    history = model.fit(
        x[:300],
        y[:300],
        validation_data=(x[300:], y[300:]),
        epochs=20,
        batch_size=50,
        callbacks=[blow_up, record, stop],
        verbose=0,
    )
    assert len(history.history["loss"]) == 5
    assert not math.isfinite(history.history["val_loss"][4])
    assert stop.stopped_epoch == 4 and stop.stop_reason is StopReason.NON_FINITE
    assert history.history[STOP_CODE_LOG][-1] == int(StopReason.NON_FINITE)
    best = int(np.argmin(history.history["val_loss"][:4]))
    assert stop.best_epoch == best
    for restored, expected in zip(model.get_weights(), snapshots[best]):
        np.testing.assert_array_equal(restored, expected)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_non_finite_first_epoch_is_never_best():
    logs = [{"val_loss": math.nan}, {"val_loss": 1.0}, {"val_loss": 0.9}]
    model = epoch_model()
    stop = EarlyStopping(patience=5, restore_best_weights=True, check_finite=False)
    last, restored, _ = drive(stop, logs, model)
    assert (last, restored, stop.best_epoch, stop.best_value) == (2, 2.0, 2, 0.9)
    # Keras counts the NaN as best and never improves on it.
    keras_stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    assert drive(keras_stop, logs, model)[1] == 0.0


def test_non_finite_stop_restores_at_once_and_at_train_end():
    logs = [{"val_loss": v} for v in [1.0, 0.5, 0.7, math.inf, 0.1]]
    model = epoch_model()
    stop = EarlyStopping(patience=10, restore_best_weights=True, log_figures=True)
    last, restored, seen = drive(stop, logs, model)
    assert (last, restored) == (3, 1.0)
    assert stop.stop_reason is StopReason.NON_FINITE and "inf" in stop.stop_message
    assert [row[BEST_EPOCH_LOG] for row in seen] == [0, 1, 1, 1]
    assert [row[STOP_CODE_LOG] for row in seen] == [0, 0, 0, StopReason.NON_FINITE]


def _resume_logs():
    rng = np.random.default_rng(7)
    out = []
    for t in range(40):
        val = 0.3 + math.exp(-0.2 * t) + 0.006 * max(t - 18, 0) + rng.normal(0, 0.01)
        out.append(
            {
                "loss": 0.2 + math.exp(-0.15 * t),
                "val_loss": val,
                "val_accuracy": 1 - val / 2,
            }
        )
    return out


@pytest.mark.parametrize(
    "make",
    [
        lambda: EarlyStopping(patience=6, restore_best_weights=True, smoothing="ema"),
        lambda: EarlyStopping(
            monitor=["val_loss", "val_accuracy"], patience=4, restore_best_weights=True
        ),
        lambda: EarlyStopping(
            restore_best_weights=True,
            criteria=[
                criteria.GeneralizationLoss(20.0),
                criteria.ProgressQuotient(5.0, strip=4),
                criteria.Extrapolation(min_epochs=8, tolerance=0.001),
            ],
        ),
        lambda: EarlyStopping.recommended(),
    ],
    ids=["ema", "two_monitors", "criteria", "recommended"],
)
def test_get_state_set_state_continues_like_an_uninterrupted_run(make):
    logs = _resume_logs()
    model = epoch_model()
    full = make()
    expected = drive(full, logs, model)
    assert full.stopped_epoch > 12, "the curve must run past the interruption"

    first = make()
    drive(first, logs[:12], model, epochs=len(logs))
    state = first.get_state()
    json.dumps({k: v for k, v in state.items() if k != "best_weights"})
    second = make()
    second.set_state(state)
    got = drive(second, logs, model, start=12)
    assert got[:2] == expected[:2]
    assert (second.stopped_epoch, second.best_epoch, second.stop_code) == (
        full.stopped_epoch,
        full.best_epoch,
        full.stop_code,
    )
    assert second.stop_reason == full.stop_reason


def test_two_monitors_all_versus_any():
    logs = [
        {"val_loss": 1.0, "val_accuracy": 0.5},
        {"val_loss": 1.1, "val_accuracy": 0.6},
        {"val_loss": 1.2, "val_accuracy": 0.7},
        {"val_loss": 1.3, "val_accuracy": 0.65},
        {"val_loss": 1.4, "val_accuracy": 0.6},
    ]
    model = epoch_model()
    both = EarlyStopping(
        monitor=["val_loss", "val_accuracy"], patience=1, restore_best_weights=True
    )
    last, restored, _ = drive(both, logs, model)
    # Accuracy keeps improving until epoch 2; the best epoch follows val_loss.
    assert (last, restored, both.best_epoch) == (3, 0.0, 0)
    either = EarlyStopping(
        monitor=["val_loss", "val_accuracy"], patience=1, stop_when="any"
    )
    assert drive(either, logs, model)[0] == 1


def test_criteria_replace_the_patience_rule_and_report_their_code():
    logs = [{"val_loss": v} for v in [1.0, 0.5, 0.52, 0.6, 0.7]]
    model = epoch_model()
    stop = EarlyStopping(
        criteria=[criteria.GeneralizationLoss(10.0)],
        restore_best_weights=True,
        log_figures=True,
    )
    last, restored, seen = drive(stop, logs, model)
    assert (last, restored) == (3, 1.0)
    assert stop.stop_reason is StopReason.GENERALIZATION_LOSS
    assert stop.stop_code == seen[-1][STOP_CODE_LOG] == 6
    assert "generalization loss" in stop.stop_message


def test_mode_auto_uses_the_metric_direction():
    goodness = keras.metrics.MeanMetricWrapper(
        lambda y_true, y_pred: -keras.ops.abs(y_true - y_pred), name="goodness"
    )
    goodness._direction = "up"  # as keras_epochkit's score metrics set it
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer="sgd", loss="mse", metrics=[goodness])
    model.evaluate(np.zeros((2, 1)), np.zeros((2, 1)), verbose=0)
    logs = [{"val_goodness": v} for v in [0.1, 0.5, 0.4]]
    stop = EarlyStopping(monitor="val_goodness", patience=1)
    assert drive(stop, logs, model)[0] == 2
    assert stop.best_value == 0.5
    with pytest.raises(ValueError, match=r"mode='min'.*mode='max'"):
        drive(EarlyStopping(monitor="val_mystery"), [{"val_mystery": 1.0}], model)


def test_missing_monitor_raises_listing_present_keys():
    model = epoch_model()
    with pytest.raises(ValueError, match=r"`val_los`.*\['loss', 'val_loss'\]"):
        drive(EarlyStopping(monitor="val_los"), [{"loss": 1.0, "val_loss": 1.0}], model)


def test_verbose_says_why(capsys):
    model = epoch_model()
    stop = EarlyStopping(patience=1, verbose=1, restore_best_weights=True)
    drive(stop, [{"val_loss": v} for v in [1.0, 2.0]], model)
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping: val_loss did not improve" in out
    assert "best epoch: 1" in out


def test_recommended_is_trend_patience_tuned_with_a_divergence_guard(monkeypatch):
    from keras_epochkit.callbacks import early_stopping

    stop = EarlyStopping.recommended()
    assert stop.restore_best_weights
    assert [type(c) for c in stop.criteria] == [
        criteria.TrendPatience,
        criteria.Divergence,
    ]
    assert stop.criteria[0].get_config() == (
        criteria.TrendPatience.tuned().get_config()
    )
    assert stop.criteria[1].relative
    assert stop.criteria[1].threshold == early_stopping._RECOMMENDED["divergence"]
    monkeypatch.setitem(early_stopping._RECOMMENDED, "divergence", None)
    assert [type(c) for c in EarlyStopping.recommended().criteria] == [
        criteria.TrendPatience
    ]


def test_recommended_passes_overrides_to_their_owner_and_moves_with_aggressiveness():
    custom = EarlyStopping.recommended(
        monitor="val_accuracy",
        patience=3,
        guard_monitor=None,
        divergence=None,
        restore_best_weights=False,
        verbose=1,
    )
    assert [type(c) for c in custom.criteria] == [criteria.TrendPatience]
    rule = custom.criteria[0]
    assert rule.patience == 3 and rule.guard_monitor is None
    assert rule.monitor == custom.monitor == "val_accuracy"
    assert not custom.restore_best_weights and custom.verbose == 1
    eager = EarlyStopping.recommended(aggressiveness=2.0).criteria[0]
    assert eager.get_config() == criteria.TrendPatience.tuned(2.0).get_config()
    extra = criteria.Target(0.99, monitor="val_accuracy")
    with_extra = EarlyStopping.recommended(criteria=[extra])
    assert with_extra.criteria[-1] is extra


@pytest.mark.parametrize(
    "retired", ["smoothing", "smoothing_window", "min_delta_mode", "extrapolation"]
)
def test_recommended_refuses_the_settings_of_the_old_patience_rule(retired):
    with pytest.raises(ValueError, match=f"no longer takes `{retired}`"):
        EarlyStopping.recommended(**{retired: 3})


def test_keras_and_ours_agree_on_a_real_fit():
    data = load_wine()
    x = ((data.data - data.data.mean(0)) / data.data.std(0)).astype("float32")
    histories = []
    for cls in (keras.callbacks.EarlyStopping, EarlyStopping):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((13,)), keras.layers.Dense(3, activation="softmax")]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(0.1), loss="sparse_categorical_crossentropy"
        )
        stop = cls(patience=2, min_delta=0.01, restore_best_weights=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            history = model.fit(
                x[:120],
                data.target[:120],
                validation_data=(x[120:], data.target[120:]),
                epochs=30,
                batch_size=40,
                shuffle=False,
                callbacks=[stop],
                verbose=0,
            )
        histories.append(
            (len(history.history["loss"]), stop.best_epoch, model.get_weights())
        )
    assert histories[0][:2] == histories[1][:2]
    for a, b in zip(histories[0][2], histories[1][2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


BAD_ARGUMENTS = [
    (dict(mode="minimize"), "mode"),
    (dict(monitor=""), "monitor"),
    (dict(monitor=[]), "monitor"),
    (dict(monitor=["val_loss", "val_loss"]), "monitor"),
    (dict(monitor=["val_loss", "val_auc"], mode=["min"]), "mode"),
    (dict(patience=-1), "patience"),
    (dict(patience=2.5), "patience"),
    (dict(min_delta="big"), "min_delta"),
    (dict(verbose=-1), "verbose"),
    (dict(baseline="x"), "baseline"),
    (dict(restore_best_weights="yes"), "restore_best_weights"),
    (dict(start_from_epoch=-3), "start_from_epoch"),
    (dict(min_delta_mode="percent"), "min_delta_mode"),
    (dict(smoothing="kalman"), "smoothing"),
    (dict(smoothing="ema", smoothing_window=0), "smoothing_window"),
    (dict(stop_when="most"), "stop_when"),
    (dict(check_finite=1), "check_finite"),
    (dict(criteria=["patience"]), "criteria"),
    (dict(criteria=[criteria.Target(0.1)], patience=3), "patience"),
]


def test_bad_arguments_raise_value_error_naming_the_argument():
    for kwargs, argument in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=f"`{argument}`"):
            EarlyStopping(**kwargs)


def test_state_restored_at_first_epoch_begin_takes_effect_and_does_not_leak():
    logs = _resume_logs()
    model = epoch_model()
    full = EarlyStopping(patience=6, restore_best_weights=True, smoothing="ema")
    expected = drive(full, logs, model)

    first = EarlyStopping(patience=6, restore_best_weights=True, smoothing="ema")
    drive(first, logs[:12], model, epochs=len(logs))
    state = first.get_state()

    class Restorer(keras.callbacks.Callback):
        """Restores the state where BackupAndRestore does: first on_epoch_begin."""

        def __init__(self, target):
            super().__init__()
            self.target, self.done = target, False

        def on_epoch_begin(self, epoch, logs=None):
            if not self.done:
                self.target.set_state(state)
                self.done = True

    resumed = EarlyStopping(patience=6, restore_best_weights=True, smoothing="ema")
    got = drive(resumed, logs, model, start=12, before=[Restorer(resumed)])
    assert got[:2] == expected[:2]
    assert resumed.best_epoch == full.best_epoch
    # A later fit starts from scratch, as a fresh callback would.
    again = drive(resumed, logs, model)
    fresh = drive(
        EarlyStopping(patience=6, restore_best_weights=True, smoothing="ema"),
        logs,
        model,
    )
    assert again[:2] == fresh[:2]


def test_accepts_numpy_numbers_and_boolean_verbose_like_keras():
    stop = EarlyStopping(patience=np.int64(3), baseline=np.float32(0.5), verbose=True)
    assert (stop.patience, stop.baseline, stop.verbose) == (3, np.float32(0.5), 1)


def test_a_one_element_array_in_the_logs_is_monitored_like_its_number():
    # Keras's own F1Score logs array([0.57]) at its default average=None.
    logs = [{"val_f1_score": np.array([v])} for v in [0.5, 0.6, 0.55, 0.58]]
    model = epoch_model()
    stop = EarlyStopping(monitor="val_f1_score", patience=2, restore_best_weights=True)
    last, restored, _ = drive(stop, logs, model)
    assert (last, restored, stop.best) == (3, 1.0, 0.6)


def test_an_array_of_several_values_raises_naming_the_key():
    model = epoch_model()
    stop = EarlyStopping(monitor="val_f1_score", patience=2)
    with pytest.raises(ValueError, match=r"val_f1_score.*3 values"):
        drive(stop, [{"val_f1_score": np.array([0.1, 0.2, 0.3])}], model)


def test_best_is_a_plain_attribute_reset_at_train_begin():
    stop = EarlyStopping(monitor="loss", patience=3)
    stop.set_model(epoch_model())
    stop.on_train_begin()
    stop.best = 0.1
    assert stop.best_value == 0.1
    stop.on_train_begin()
    assert stop.best is None


def test_no_validation_data_warns_once_naming_the_keys_and_the_cause():
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    stop = EarlyStopping(monitor="val_loss", patience=1)
    with pytest.warns(
        UserWarning, match=r"val_loss.*\['loss'\].*validation data"
    ) as seen:
        model.fit(x, y, epochs=3, callbacks=[stop], verbose=0)
    assert len([w for w in seen if "EarlyStopping" in str(w.message)]) == 1


def test_adds_no_log_keys_by_default():
    logs = [{"val_loss": v} for v in [1.0, 0.9, 0.95]]
    stop = EarlyStopping(patience=5)
    _, _, seen = drive(stop, logs, epoch_model())
    assert all(set(row) == {"val_loss"} for row in seen)
