"""PlateauBudget: the plateau of the monitored value decides the epoch budget."""

import warnings

import keras
import numpy as np
import pytest

from keras_epochkit import schedules
from keras_epochkit.callbacks import EarlyStopping
from keras_epochkit.callbacks import PlateauBudget
from keras_epochkit.criteria import StopReason
from tests.schedules.lr_probe import AppliedRateRecorder
from tests.schedules.lr_probe import probe_data
from tests.schedules.lr_probe import probe_model

STEPS = 4  # 32 samples in batches of 8
PEAK = 0.01


class ScriptedLogs(keras.callbacks.Callback):
    """Writes a scripted value of `key` into the epoch logs (listed first)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[min(epoch, len(self.values) - 1)]


def run(values, budget, epochs=50, key="val_loss", schedule=None):
    schedule = schedule or schedules.WarmupStableDecay(PEAK, decay_fraction=0.2)
    x, y = probe_data(8 * STEPS)
    model = probe_model(schedule)
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=STEPS)
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=epochs,
        verbose=0,
        callbacks=[ScriptedLogs(key, values), budget, recorder],
    )
    return history, schedule, recorder


# Falls fast, then flat from epoch 4 on (0-based).
PLATEAU = [1.0, 0.5, 0.3, 0.25, 0.24, 0.24, 0.24, 0.24, 0.24, 0.24]


def test_a_plateau_starts_the_decay_and_training_stops_when_it_ends():
    budget = PlateauBudget(window=2, smoothing_window=1)
    history, schedule, recorder = run(PLATEAU, budget)
    # Epoch 5: the best improved by 0.01 over the last 2 epochs, less than
    # 2% of the 0.76 gained since epoch 0. The cool-down is a quarter of the
    # 6 epochs run, rounded up: 2 epochs.
    assert budget.plateau_epoch == 5
    assert budget.cooldown_end == 7
    assert budget.stopped_epoch == 7
    assert len(history.history["loss"]) == 8
    assert budget.stop_reason is StopReason.COOLED_DOWN
    assert "plateaued at epoch 6" in budget.stop_message
    assert budget.total_steps == schedule.total_steps == 8 * STEPS
    # WarmupStableDecay(decay_fraction=0.2) over 32 steps decays from step
    # 25.6: the peak held through the plateau, then the decay to the floor.
    rates = history.history["learning_rate"]
    np.testing.assert_allclose(rates[:6], PEAK, rtol=1e-6)
    assert PEAK > rates[6] > rates[7]
    assert rates[7] == pytest.approx(0.0, abs=1e-9)
    # The compiled step applied what the schedule says, after the re-target.
    np.testing.assert_allclose(recorder.applied, recorder.expected, rtol=1e-4)


def test_without_a_plateau_it_binds_the_cap_like_epoch_budget():
    falling = [1.0 - 0.05 * e for e in range(12)]  # steady gains to the end
    budget = PlateauBudget(window=2, smoothing_window=1)
    history, schedule, _ = run(falling, budget, epochs=12)
    assert len(history.history["loss"]) == 12
    assert budget.plateau_epoch is None and budget.stop_reason is None
    assert schedule.total_steps == 12 * STEPS
    assert history.history["learning_rate"][-1] == pytest.approx(0.0, abs=1e-9)


def test_a_cap_closer_than_the_cooldown_is_kept():
    budget = PlateauBudget(window=2, smoothing_window=1, cooldown=1.0)
    history, schedule, _ = run(PLATEAU, budget, epochs=9)
    # The plateau at epoch 5 would cool down over 6 epochs; the cap of 9 comes first.
    assert budget.plateau_epoch is None
    assert len(history.history["loss"]) == 9
    assert schedule.total_steps == 9 * STEPS


def test_a_maximized_monitor_and_min_progress():
    rising = [0.5, 0.8, 0.9, 0.95, 0.96, 0.965, 0.968, 0.97, 0.971, 0.972]
    eager = PlateauBudget(
        "val_accuracy", window=2, min_progress=0.1, smoothing_window=1
    )
    run(rising, eager, key="val_accuracy")
    patient = PlateauBudget(
        "val_accuracy", window=2, min_progress=0.01, smoothing_window=1
    )
    run(rising, patient, key="val_accuracy")
    # Epoch 5: +0.015 over 2 epochs against 0.465 so far (3.2%), under 10%;
    # epoch 8: +0.003 against 0.471 (0.64%), the first under 1%.
    assert eager.plateau_epoch == 5
    assert patient.plateau_epoch == 8


def test_with_early_stopping_the_best_weights_come_back():
    budget = PlateauBudget(window=2, smoothing_window=1)
    stopper = EarlyStopping(patience=20, restore_best_weights=True)
    x, y = probe_data(8 * STEPS)
    model = probe_model(schedules.WarmupStableDecay(PEAK))
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=50,
        verbose=0,
        callbacks=[ScriptedLogs("val_loss", PLATEAU), budget, stopper],
    )
    assert budget.stopped_epoch == 7
    assert stopper.best_epoch == 4  # the first epoch at 0.24


def test_a_missing_validation_monitor_warns_once_and_never_cools_down():
    budget = PlateauBudget(window=1)
    x, y = probe_data(8 * STEPS)
    model = probe_model(schedules.WarmupStableDecay(PEAK))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[budget])
    messages = [str(w.message) for w in caught if "PlateauBudget" in str(w.message)]
    assert len(messages) == 1 and "val_loss" in messages[0]
    assert len(history.history["loss"]) == 4 and budget.plateau_epoch is None


def test_a_new_fit_starts_afresh():
    budget = PlateauBudget(window=2, smoothing_window=1)
    run(PLATEAU, budget)
    assert budget.stop_reason is StopReason.COOLED_DOWN
    falling = [1.0 - 0.05 * e for e in range(5)]
    history, _, _ = run(falling, budget, epochs=5)
    assert len(history.history["loss"]) == 5
    assert budget.stop_reason is None and budget.plateau_epoch is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"monitor": ""}, "`monitor` must be a non-empty string; received monitor=''"),
        ({"window": 0}, "`window` must be an integer >= 1; received window=0"),
        ({"min_progress": 1.0}, "`min_progress` must be a number in [0, 1)"),
        (
            {"min_progress": -0.1},
            "`min_progress` must be a finite number in [0.0, 1.0]",
        ),
        ({"cooldown": 0}, "`cooldown` must be a finite number > 0.0"),
        ({"smoothing_window": 0}, "`smoothing_window` must be an integer >= 1"),
        ({"mode": "up"}, "`mode` must be one of"),
    ],
)
def test_arguments_are_checked_at_construction(kwargs, message):
    with pytest.raises(ValueError) as error:
        PlateauBudget(**kwargs)
    assert message in str(error.value)


def test_an_unresolvable_monitor_asks_for_mode():
    x, y = probe_data(8 * STEPS)
    model = probe_model(schedules.WarmupStableDecay(PEAK))
    with pytest.raises(ValueError, match="mode="):
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            callbacks=[PlateauBudget("val_widget")],
        )
