"""BackupAndRestore with keras-epochkit's own callbacks: a resume decides the same."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import keras_epochkit as ek

EPOCHS = 12


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    # A third of the training labels flipped, so validation loss turns and
    # early stopping has a decision to make inside the budget.
    y_noisy = y.copy()
    flip = rng.random(len(y)) < 0.35
    y_noisy[flip] = rng.integers(0, 10, flip.sum())
    return (x[:600], y_noisy[:600]), (x[600:900], y[600:900])


def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2, seed=3),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    schedule = ek.schedules.LinearDecay(0.02, warmup_steps=5)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def make_callbacks(backup_dir, backup_first, interrupt_at=None):
    stopper = ek.callbacks.EarlyStopping(
        patience=2, restore_best_weights=True, verbose=0
    )
    budget = ek.callbacks.EpochBudget()
    monitor = ek.callbacks.OverfittingMonitor(window=4, patience=2, verbose=0)
    stateful = [stopper, budget, monitor]
    backup = ek.callbacks.BackupAndRestore(backup_dir, callbacks=stateful)
    callbacks = [backup, *stateful] if backup_first else [*stateful, backup]
    if interrupt_at is not None:
        callbacks.append(_Interrupt(interrupt_at))
    return callbacks, stopper, budget, monitor


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def train(digits, callbacks, epochs=EPOCHS):
    model = make_model()
    (x, y), validation = digits
    history = model.fit(
        x,
        y,
        validation_data=validation,
        batch_size=100,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    return model, history


@pytest.mark.parametrize("backup_first", [True, False], ids=["first", "last"])
def test_resumed_run_makes_the_uninterrupted_runs_decisions(
    tmp_path, digits, backup_first
):
    callbacks, stopper, _, monitor = make_callbacks(tmp_path / "a", backup_first)
    reference, reference_history = train(digits, callbacks)
    assert stopper.stopped_epoch > 0, "the scenario must stop early"
    interrupt_at = stopper.stopped_epoch - 1

    callbacks, *_ = make_callbacks(tmp_path / "b", backup_first, interrupt_at)
    with pytest.raises(KeyboardInterrupt):
        train(digits, callbacks)
    callbacks, resumed_stopper, _, resumed_monitor = make_callbacks(
        tmp_path / "b", backup_first
    )
    model, history = train(digits, callbacks)

    assert resumed_stopper.stopped_epoch == stopper.stopped_epoch
    assert resumed_stopper.best_epoch == stopper.best_epoch
    assert resumed_stopper.stop_reason == stopper.stop_reason
    assert resumed_monitor.get_state().keys() == monitor.get_state().keys()
    rates = reference_history.history["learning_rate"]
    np.testing.assert_allclose(history.history["learning_rate"], rates, rtol=1e-6)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_nan_loss_stops_and_never_reaches_the_backed_up_best_weights(tmp_path, digits):
    class PoisonAfter(keras.callbacks.Callback):
        """Turns the weights non-finite from epoch 3 on, as a diverged run would."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                # The output layer: a NaN before a ReLU can come out as 0
                # (TensorFlow's oneDNN kernels), which would not diverge.
                kernel = self.model.layers[-1].kernel
                kernel.assign(keras.ops.full(kernel.shape, float("nan")))

    stopper = ek.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    backup = ek.callbacks.BackupAndRestore(
        tmp_path / "b", callbacks=[stopper], delete_checkpoint=False
    )
    model, _ = train(digits, [backup, stopper, PoisonAfter()])

    assert stopper.stopped_epoch == 3
    assert stopper.stop_reason is ek.callbacks.StopReason.NON_FINITE
    assert "nan" in stopper.stop_message
    assert all(np.isfinite(w).all() for w in model.get_weights())
    state = stopper.get_state()
    assert all(np.isfinite(w).all() for w in state["best_weights"])
    # The backup written after the stop holds the same finite best weights.
    check = ek.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    reader = ek.callbacks.BackupAndRestore(tmp_path / "b", callbacks=[check])
    reader.set_model(make_model())
    reader.on_train_begin()
    reader.on_epoch_begin(reader.restored_epoch)
    saved = check.get_state()["best_weights"]
    assert all(np.isfinite(w).all() for w in saved)
    for ours, theirs in zip(saved, state["best_weights"]):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("backup_first", [True, False], ids=["first", "last"])
def test_a_backup_restores_the_schedule_and_optimizer_attached_first_or_not(
    tmp_path, digits, backup_first
):
    budget = ek.callbacks.EpochBudget()
    backup = ek.callbacks.BackupAndRestore(
        tmp_path / "b", callbacks=[budget], delete_checkpoint=False
    )
    writer, _ = train(
        digits, [backup, budget] if backup_first else [budget, backup], epochs=2
    )
    written = writer.optimizer._learning_rate.get_state()
    assert written["total_steps"] == 12  # 2 epochs of 6 batches

    for attach_first in (False, True):
        model = make_model()
        schedule = model.optimizer._learning_rate
        if attach_first:  # as EpochBudget does in fit: after the optimizer is built
            model.optimizer.build(model.trainable_variables)
            schedule.attach(model.optimizer)
        reader = ek.callbacks.BackupAndRestore(
            tmp_path / "b", callbacks=[ek.callbacks.EpochBudget()]
        )
        reader.set_model(model)
        reader.on_train_begin()
        assert reader.restored_epoch == 2
        assert schedule.get_state() == written
        for ours, theirs in zip(model.optimizer.variables, writer.optimizer.variables):
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
            )
