"""OverfittingMonitor: figures in logs, onset, actions, state and errors."""

import json
import math

import keras
import numpy as np
import pytest

from keras_epochkit.callbacks import OverfittingMonitor
from keras_epochkit.callbacks import StopReason

VAL = [1.0, 0.8, 0.7, 0.72, 0.75, 0.78, 0.80, 0.65]


def _hand_logs():
    return [{"loss": 1.0 / (e + 1), "val_loss": v} for e, v in enumerate(VAL)]


def _feed(monitor, rows, start=0):
    logged = []
    for epoch, row in enumerate(rows, start=start):
        logs = dict(row)
        monitor.on_epoch_end(epoch, logs)
        logged.append(logs)
    return logged


def _noisy_regression():
    """32 noisy training points and a 64-64 MLP: validation loss turns up."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 8)).astype("float32")
    w = rng.normal(size=(8, 1)).astype("float32")
    y = (x @ w * 0.3 + rng.normal(size=(80, 1))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    return model, (x[:32], y[:32]), (x[32:], y[32:])


def test_hand_worked_sequence_figures_and_onset():
    monitor = OverfittingMonitor(log_figures=True, verbose=0)
    monitor.on_train_begin()
    logged = _feed(monitor, _hand_logs())
    # Epoch 4: best is epoch 2 (0.7); trend over [0.7, 0.72, 0.75] (1 dof).
    # slope 0.025, SSR = 3 * (1/600)^2 * 2 ... computed below.
    y = np.array([0.7, 0.72, 0.75])
    resid = y - y.mean() - 0.025 * np.array([-1.0, 0.0, 1.0])
    t = 0.025 / math.sqrt(float(resid @ resid) / 1 / 2.0)
    assert logged[4]["overfit_val_slope"] == pytest.approx(0.025)
    assert logged[4]["overfit_val_slope_p"] == pytest.approx(
        0.5 - math.atan(t) / math.pi
    )
    assert logged[4]["overfit_gl"] == pytest.approx(100 * (0.75 / 0.7 - 1))
    assert logged[4]["overfit_gap"] == pytest.approx(0.75 - 0.2)
    assert logged[4]["overfit_gap_ratio"] == pytest.approx((0.75 - 0.2) / 0.2)
    # Two points since the best give no test, so epoch 3 does not degrade;
    # epochs 4, 5, 6 do: with patience 3 the onset (epoch 2) is found at 6.
    onsets = [row["overfit_onset_epoch"] for row in logged]
    assert onsets == [-1, -1, -1, -1, -1, -1, 2, -1]
    # Epoch 7 is a new best: the degradation did not last, the onset clears.
    assert monitor.onset_epoch == -1
    assert monitor.get_state()["alarms"] == [[2, 6]]


def test_patience_counts_consecutive_degrading_epochs():
    monitor = OverfittingMonitor(log_figures=True, patience=2, verbose=0)
    monitor.on_train_begin()
    logged = _feed(monitor, _hand_logs()[:6])
    assert [row["overfit_onset_epoch"] for row in logged] == [-1] * 5 + [2]
    assert monitor.detected_epoch == 5


def test_min_gl_gates_small_rises():
    monitor = OverfittingMonitor(min_gl=20.0, verbose=0)
    monitor.on_train_begin()
    _feed(monitor, _hand_logs()[:7])
    assert monitor.onset_epoch == -1


def test_training_must_improve_for_overfitting():
    rows = [{"loss": 1.0, "val_loss": v} for v in VAL[:7]]
    monitor = OverfittingMonitor(log_figures=True, verbose=0)
    monitor.on_train_begin()
    _feed(monitor, rows)
    assert monitor.onset_epoch == -1


def test_non_finite_epochs_are_ignored():
    rows = _hand_logs()[:7]
    rows.insert(4, {"loss": 0.21, "val_loss": float("nan")})
    monitor = OverfittingMonitor(log_figures=True, verbose=0)
    monitor.on_train_begin()
    logged = _feed(monitor, rows)
    assert math.isnan(logged[4]["overfit_gl"])
    assert monitor.onset_epoch == 2
    assert monitor.detected_epoch == 7


def test_max_mode_orients_gap_and_trend():
    rows = [
        {"accuracy": 0.5 + 0.05 * e, "val_accuracy": 1.0 - v}
        for e, v in enumerate(VAL[:7])
    ]
    monitor = OverfittingMonitor(log_figures=True, monitor="val_accuracy", verbose=0)
    monitor.on_train_begin()
    logged = _feed(monitor, rows)
    assert logged[4]["overfit_gap"] == pytest.approx(0.7 - 0.25)
    assert logged[4]["overfit_gl"] == pytest.approx(100 * (1 - 0.25 / 0.3))
    assert logged[4]["overfit_val_slope"] < 0
    assert monitor.onset_epoch == 2


def test_real_fit_logs_figures_and_finds_onset_at_best_epoch(capsys):
    model, train, val = _noisy_regression()
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    monitor = OverfittingMonitor(log_figures=True)
    history = model.fit(
        *train,
        validation_data=val,
        epochs=16,
        batch_size=32,
        verbose=0,
        callbacks=[monitor],
    )
    h = history.history
    for key in (
        "overfit_gap",
        "overfit_gap_ratio",
        "overfit_gl",
        "overfit_val_slope",
        "overfit_val_slope_p",
        "overfit_onset_epoch",
    ):
        assert len(h[key]) == 16
    np.testing.assert_allclose(
        h["overfit_gap"], np.array(h["val_loss"]) - np.array(h["loss"]), rtol=1e-6
    )
    detected = monitor.detected_epoch
    assert detected > 0
    val_loss = np.array(h["val_loss"][: detected + 1])
    assert monitor.onset_epoch == int(np.argmin(val_loss))
    assert h["overfit_onset_epoch"][detected] == monitor.onset_epoch
    assert h["overfit_onset_epoch"][detected - 1] == -1
    out = capsys.readouterr().out
    assert f"overfitting began at epoch {monitor.onset_epoch + 1}:" in out
    assert monitor.summary in out


def test_stop_action_ends_training_at_detection():
    model, train, val = _noisy_regression()
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    monitor = OverfittingMonitor(action="stop", verbose=0)
    history = model.fit(
        *train,
        validation_data=val,
        epochs=40,
        batch_size=32,
        verbose=0,
        callbacks=[monitor],
    )
    assert monitor.stopped_epoch == monitor.detected_epoch > 0
    assert len(history.history["loss"]) == monitor.stopped_epoch + 1


def test_warn_action_warns_once():
    monitor = OverfittingMonitor(action="warn", verbose=0)
    monitor.on_train_begin()
    with pytest.warns(UserWarning, match="overfitting detected at epoch 7") as rec:
        _feed(monitor, _hand_logs()[:7])
    assert len(rec) == 1


def test_reduce_lr_action_lowers_a_float_learning_rate():
    model, train, val = _noisy_regression()
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    monitor = OverfittingMonitor(action="reduce_lr", factor=0.5, verbose=0)
    model.fit(
        *train,
        validation_data=val,
        epochs=16,
        batch_size=32,
        verbose=0,
        callbacks=[monitor],
    )
    assert monitor.lr_reductions >= 1
    lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert lr == pytest.approx(1e-2 * 0.5**monitor.lr_reductions, rel=1e-5)


class ScaledConstant(keras.optimizers.schedules.LearningRateSchedule):
    """A stand-in for an epochkit schedule: a constant times `scale`."""

    def __init__(self, value):
        self.value = value
        self._scale = 1.0

    @property
    def scale(self):
        return self._scale

    def set_scale(self, value):
        self._scale = float(value)

    def __call__(self, step):
        return keras.ops.convert_to_tensor(self.value * self._scale)

    def get_config(self):
        return {"value": self.value}


def test_reduce_lr_action_scales_a_schedule_that_exposes_scale():
    model, train, val = _noisy_regression()
    schedule = ScaledConstant(1e-2)
    model.compile(keras.optimizers.Adam(schedule), "mse")
    monitor = OverfittingMonitor(action="reduce_lr", factor=0.25, verbose=0)
    model.fit(
        *train,
        validation_data=val,
        epochs=16,
        batch_size=32,
        verbose=0,
        callbacks=[monitor],
    )
    assert monitor.lr_reductions >= 1
    assert schedule.scale == pytest.approx(0.25**monitor.lr_reductions)


def test_reduce_lr_action_scales_an_epochkit_schedule_in_the_train_step():
    from keras_epochkit.schedules import Constant

    model, train, val = _noisy_regression()
    schedule = Constant(1e-2)
    optimizer = keras.optimizers.Adam(schedule)
    model.compile(optimizer, "mse")
    monitor = OverfittingMonitor(action="reduce_lr", factor=0.25, verbose=0)

    class RecordRate(keras.callbacks.Callback):
        rates = []

        def on_epoch_end(self, epoch, logs=None):
            lr = optimizer.learning_rate
            self.rates.append(float(keras.ops.convert_to_numpy(lr)))

    model.fit(
        *train,
        validation_data=val,
        epochs=16,
        batch_size=32,
        verbose=0,
        callbacks=[monitor, RecordRate()],
    )
    assert monitor.lr_reductions >= 1
    assert schedule.scale == pytest.approx(0.25**monitor.lr_reductions)
    detected = monitor.detected_epoch
    assert RecordRate.rates[detected - 1] == pytest.approx(1e-2)
    assert RecordRate.rates[detected] == pytest.approx(0.25e-2)


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="only JAX's train step needs the schedule's state in the optimizer",
)
def test_reduce_lr_attaches_an_epochkit_schedule_before_any_train_begin():
    # fit builds the optimizer and hands the model to its callbacks before it
    # prepares the train step; Keras 3.10 and 3.11 on JAX fix the optimizer's
    # variables there, so an attach in on_train_begin comes too late.
    from keras_epochkit.schedules import Constant

    model, train, _ = _noisy_regression()
    schedule = Constant(1e-2)
    model.compile(keras.optimizers.Adam(schedule), "mse")
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(schedule.attached)

    monitor = OverfittingMonitor(action="reduce_lr", verbose=0)
    model.fit(*train, epochs=1, verbose=0, callbacks=[Probe(), monitor])
    assert seen == [True]


def test_reduce_lr_rejects_a_schedule_without_scale_at_train_begin():
    model, train, val = _noisy_regression()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.9)
    model.compile(keras.optimizers.Adam(schedule), "mse")
    monitor = OverfittingMonitor(action="reduce_lr", verbose=0)
    with pytest.raises(TypeError, match=r"ExponentialDecay.*set_scale"):
        model.fit(*train, validation_data=val, epochs=1, verbose=0, callbacks=[monitor])


def test_state_round_trip_continues_exactly():
    rows = _hand_logs()
    whole = OverfittingMonitor(verbose=0)
    whole.on_train_begin()
    expected = _feed(whole, rows)

    first = OverfittingMonitor(verbose=0)
    first.on_train_begin()
    logged = _feed(first, rows[:5])
    state = json.loads(json.dumps(first.get_state()))
    resumed = OverfittingMonitor(verbose=0)
    resumed.set_state(state)
    resumed.on_train_begin()  # keeps the restored state
    logged += _feed(resumed, rows[5:], start=5)
    assert logged == expected
    assert resumed.get_state() == whole.get_state()


def test_restored_state_is_kept_for_one_run_only():
    first = OverfittingMonitor(verbose=0)
    first.on_train_begin()
    _feed(first, _hand_logs()[:7])
    monitor = OverfittingMonitor(verbose=0)
    monitor.set_state(first.get_state())
    monitor.on_train_begin()
    assert monitor.onset_epoch == 2
    monitor.on_train_end()
    monitor.on_train_begin()
    assert monitor.onset_epoch == -1


def test_train_begin_resets_state():
    monitor = OverfittingMonitor(verbose=0)
    monitor.on_train_begin()
    _feed(monitor, _hand_logs()[:7])
    assert monitor.onset_epoch == 2
    monitor.on_train_begin()
    assert monitor.onset_epoch == -1
    assert monitor.get_state()["epochs"] == []


def test_missing_monitor_raises_with_the_keys_present():
    monitor = OverfittingMonitor(monitor="val_mae", verbose=0)
    monitor.on_train_begin()
    with pytest.raises(ValueError, match=r"val_mae.*\['loss', 'val_loss'\]"):
        monitor.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.0})


def test_epochs_without_validation_are_skipped():
    model, train, val = _noisy_regression()
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    monitor = OverfittingMonitor(log_figures=True, verbose=0)
    history = model.fit(
        *train,
        validation_data=val,
        validation_freq=2,
        epochs=6,
        batch_size=32,
        verbose=0,
        callbacks=[monitor],
    )
    assert len(history.history["overfit_gl"]) == 3
    assert monitor.get_state()["epochs"] == [1, 3, 5]


def test_config_round_trip():
    monitor = OverfittingMonitor(
        monitor="val_accuracy",
        mode="max",
        window=5,
        significance=0.01,
        patience=2,
        min_gl=1.0,
        action="stop",
        factor=0.3,
        min_lr=1e-5,
        verbose=0,
    )
    config = json.loads(json.dumps(monitor.get_config()))
    assert config == {
        "monitor": "val_accuracy",
        "train_monitor": None,
        "mode": "max",
        "window": 5,
        "significance": 0.01,
        "patience": 2,
        "min_gl": 1.0,
        "action": "stop",
        "factor": 0.3,
        "min_lr": 1e-5,
        "verbose": 0,
        "log_figures": False,
    }
    assert OverfittingMonitor.from_config(config).get_config() == config


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mode": "up"}, "mode"),
        ({"window": 2}, "window"),
        ({"window": 4.5}, "window"),
        ({"significance": 0.0}, "significance"),
        ({"significance": 1.5}, "significance"),
        ({"patience": 0}, "patience"),
        ({"min_gl": -1.0}, "min_gl"),
        ({"action": "halt"}, "action"),
        ({"factor": 1.0}, "factor"),
        ({"min_lr": -0.1}, "min_lr"),
        ({"verbose": 3}, "verbose"),
        ({"monitor": ""}, "monitor"),
        ({"monitor": "loss"}, "train_monitor"),
        ({"log_figures": 1}, "log_figures"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        OverfittingMonitor(**kwargs)


def test_a_direction_no_name_or_metric_tells_raises_at_train_begin():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    monitor = OverfittingMonitor(monitor="val_thing", verbose=0)
    monitor.set_model(model)
    with pytest.raises(ValueError, match="mode="):
        monitor.on_train_begin()


def test_logs_only_the_gap_by_default_and_keeps_every_figure_as_attribute():
    monitor = OverfittingMonitor(verbose=0)
    monitor.on_train_begin()
    logged = _feed(monitor, _hand_logs())
    assert all(set(row) == {"loss", "val_loss", "overfit_gap"} for row in logged)
    assert monitor.figures["overfit_gap"] == logged[-1]["overfit_gap"]
    assert set(monitor.figures) == {
        "overfit_gap",
        "overfit_gap_ratio",
        "overfit_gl",
        "overfit_val_slope",
        "overfit_val_slope_p",
        "overfit_onset_epoch",
    }


def test_stop_action_sets_the_overfitting_stop_reason():
    monitor = OverfittingMonitor(action="stop", patience=2, verbose=0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    monitor.set_model(model)
    monitor.on_train_begin()
    assert monitor.stop_reason is None
    _feed(monitor, _hand_logs())
    assert monitor.stop_reason is StopReason.OVERFITTING
    assert model.stop_training and monitor.stopped_epoch == 5
    assert "degraded since epoch 3" in monitor.stop_message
