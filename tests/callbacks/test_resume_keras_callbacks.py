"""`BackupAndRestore(dir)` alone keeps the state of Keras's own callbacks.

Each test trains once without interruption, then again with an interruption
and a resume in which the model and every callback are built anew (as in a
new process), and compares what the Keras callback decided and wrote.
"""

import csv
import json
import warnings

import keras
import numpy as np
import pytest

from keras_epochkit.callbacks import BackupAndRestore
from keras_epochkit.callbacks import EarlyStopping
from keras_epochkit.callbacks._resume import ResumeWarning
from tests.callbacks import fault_child

pytestmark = pytest.mark.slow  # two or three fits of a new model per test

EPOCHS = 24
STOP_AT = 9  # the interruption: before epoch 9 begins (the run stops at 11)


@pytest.fixture(scope="module")
def data():
    x, y = fault_child.make_data()
    rng = np.random.default_rng(1)
    flip = rng.random(128) < 0.3
    y_train = np.where(flip[:, None], 1 - y[:128], y[:128])
    return (x[:128], y_train), (x[128:], y[128:])


def fit(data, callbacks, seed=0, epochs=EPOCHS):
    keras.utils.set_random_seed(seed)
    model = fault_child.make_keras_model()
    (x, y), validation = data
    history = model.fit(
        x,
        y,
        validation_data=validation,
        batch_size=32,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    return model, history


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch, hook="on_epoch_begin"):
        super().__init__()
        self.at_epoch, self.hook = at_epoch, hook

    def on_epoch_begin(self, epoch, logs=None):
        if self.hook == "on_epoch_begin" and epoch == self.at_epoch:
            raise KeyboardInterrupt(f"before epoch {epoch}")

    def on_epoch_end(self, epoch, logs=None):
        if self.hook == "on_epoch_end" and epoch == self.at_epoch:
            raise KeyboardInterrupt(f"after epoch {epoch}")


def resumed(
    tmp_path, data, make_callbacks, backup_first=True, interrupt=None, epochs=EPOCHS
):
    """Interrupts a run, then resumes it with everything built anew."""
    interrupt = interrupt or Interrupt(STOP_AT)

    def listing(callbacks):
        backup = BackupAndRestore(tmp_path / "backup")
        return [backup, *callbacks] if backup_first else [*callbacks, backup]

    with pytest.raises(KeyboardInterrupt):
        fit(data, [*listing(make_callbacks()), interrupt], epochs=epochs)
    callbacks = make_callbacks()
    model, history = fit(data, listing(callbacks), seed=99, epochs=epochs)
    return model, history, callbacks


def assert_same_weights(ours, theirs):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backup_first", [True, False], ids=["first", "last"])
def test_keras_early_stopping(tmp_path, data, backup_first):
    def make():
        return [keras.callbacks.EarlyStopping(patience=4, restore_best_weights=True)]

    reference = make()
    model_ref, _ = fit(data, reference)
    assert reference[0].stopped_epoch > STOP_AT
    model, _, (stopper,) = resumed(tmp_path, data, make, backup_first)
    for name in ("stopped_epoch", "best_epoch", "wait"):
        assert getattr(stopper, name) == getattr(reference[0], name), name
    assert float(stopper.best) == pytest.approx(float(reference[0].best), rel=1e-6)
    assert_same_weights(stopper.best_weights, reference[0].best_weights)
    assert_same_weights(model.get_weights(), model_ref.get_weights())


@pytest.mark.parametrize("backup_first", [False], ids=["last"])
def test_keras_reduce_lr_on_plateau(tmp_path, data, backup_first):
    def make():
        return [keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1)]

    reference = make()
    _, history_ref = fit(data, reference, epochs=16)
    rates = history_ref.history["learning_rate"]
    cuts = [i for i in range(1, len(rates)) if rates[i] != rates[i - 1]]
    assert cuts, "the scenario must cut the rate"
    # Restart right after the first cut: the cooldown and the new best
    # must carry over for the later rates to match.
    _, history, (reducer,) = resumed(
        tmp_path, data, make, backup_first, Interrupt(cuts[0] + 1), epochs=16
    )
    np.testing.assert_allclose(history.history["learning_rate"], rates, rtol=1e-6)
    for name in ("wait", "cooldown_counter"):
        assert getattr(reducer, name) == getattr(reference[0], name), name


@pytest.mark.parametrize("backup_first", [False], ids=["last"])
def test_keras_model_checkpoint_keeps_the_best_file(tmp_path, data, backup_first):
    best_path = tmp_path / "best.weights.h5"

    def make():
        return [
            keras.callbacks.ModelCheckpoint(
                best_path, save_best_only=True, save_weights_only=True
            )
        ]

    reference = make()
    fit(data, reference, epochs=16)
    reference_best = fault_child.make_keras_model()
    reference_best.load_weights(best_path)
    best_path.unlink()

    _, _, (checkpoint,) = resumed(
        tmp_path, data, make, backup_first, Interrupt(STOP_AT), epochs=16
    )
    # Without its `best`, the resumed checkpoint would overwrite the best file
    # with the first epoch after the restart.
    assert float(checkpoint.best) == pytest.approx(float(reference[0].best), rel=1e-6)
    best = fault_child.make_keras_model()
    best.load_weights(best_path)
    assert_same_weights(best.get_weights(), reference_best.get_weights())


@pytest.mark.parametrize("append", [False, True])
@pytest.mark.parametrize("backup_first", [True, False], ids=["first", "last"])
def test_keras_csv_logger_writes_each_epoch_once(tmp_path, data, backup_first, append):
    path = tmp_path / "log.csv"

    def make():
        return [keras.callbacks.CSVLogger(str(path), append=append)]

    fit(data, make(), epochs=12)
    reference = path.read_text()
    path.unlink()
    _, _, (logger,) = resumed(
        tmp_path, data, make, backup_first, Interrupt(7, "on_epoch_end"), epochs=12
    )
    rows = list(csv.DictReader(path.read_text().splitlines()))
    reference_rows = list(csv.DictReader(reference.splitlines()))
    assert [r["epoch"] for r in rows] == [str(e) for e in range(12)]
    for row, reference_row in zip(rows, reference_rows):
        for key, value in reference_row.items():
            assert float(row[key]) == pytest.approx(float(value), rel=1e-5), key
    assert logger.append is append  # the resume's forced append is undone


@pytest.mark.parametrize("backup_first", [False], ids=["last"])
def test_history_holds_the_whole_run(tmp_path, data, backup_first):
    _, history_ref = fit(data, [], epochs=12)
    _, history, _ = resumed(tmp_path, data, list, backup_first, Interrupt(5), epochs=12)
    assert history.epoch == history_ref.epoch
    for key, values in history_ref.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-5)


def test_learning_rate_scheduler_and_terminate_on_nan_need_nothing(tmp_path, data):
    def make():
        return [
            keras.callbacks.LearningRateScheduler(lambda epoch: 0.003 * 0.9**epoch),
            keras.callbacks.TerminateOnNaN(),
        ]

    model_ref, history_ref = fit(data, make(), epochs=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResumeWarning)  # nothing to warn about
        model, history, _ = resumed(
            tmp_path, data, make, interrupt=Interrupt(4), epochs=10
        )
    np.testing.assert_allclose(
        history.history["learning_rate"], history_ref.history["learning_rate"]
    )
    assert_same_weights(model.get_weights(), model_ref.get_weights())


def test_an_error_in_a_later_callbacks_epoch_end_does_not_cost_the_epoch(
    tmp_path, data
):
    """Keras's semantics: the epoch was trained and backed up; it is not redone."""
    trained = []

    class Count(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            trained.append(epoch)

    backup = BackupAndRestore(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        fit(data, [backup, Interrupt(3, "on_epoch_end"), Count()])
    assert trained == [0, 1, 2, 3]
    trained.clear()
    _, history = fit(data, [BackupAndRestore(tmp_path / "backup"), Count()], epochs=6)
    assert trained == [4, 5]
    assert history.epoch == [0, 1, 2, 3, 4, 5]


def test_a_run_stopped_before_the_kill_resumes_as_stopped(tmp_path, data):
    def make():
        return [EarlyStopping(patience=4)]

    reference = make()
    _, history_ref = fit(data, reference)
    stop = reference[0].stopped_epoch
    trained = []

    class Count(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            trained.append(epoch)

    # Interrupted right after the stopping epoch, before `fit` returns.
    with pytest.raises(KeyboardInterrupt):
        fit(
            data,
            [
                BackupAndRestore(tmp_path / "b"),
                *make(),
                Interrupt(stop, "on_epoch_end"),
            ],
        )
    callbacks = make()
    _, history = fit(data, [BackupAndRestore(tmp_path / "b"), *callbacks, Count()])
    assert trained == []  # nothing left to train
    assert callbacks[0].stopped_epoch == stop
    assert history.epoch == history_ref.epoch


def test_a_callback_with_state_but_no_protocol_gets_one_warning(tmp_path, data):
    class Counter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = 0

        def on_epoch_end(self, epoch, logs=None):
            self.seen += 1

    with pytest.warns(ResumeWarning, match=r"Counter \(its seen changed") as record:
        fit(data, [BackupAndRestore(tmp_path / "b"), Counter()], epochs=3)
    ours = [w for w in record if issubclass(w.category, ResumeWarning)]
    assert len(ours) == 1
    assert "guides/resuming" in str(ours[0].message)  # links to the guide


def test_reordered_callbacks_restore_by_key_and_changes_are_named(tmp_path, data):
    def make():
        return [
            keras.callbacks.EarlyStopping(patience=4),
            keras.callbacks.ReduceLROnPlateau(patience=1),
        ]

    first = make()
    with pytest.raises(KeyboardInterrupt):
        fit(data, [BackupAndRestore(tmp_path / "b"), *first, Interrupt(6)])
    saved_wait = first[0].wait
    state = json.loads(
        (
            tmp_path
            / "b"
            / json.loads((tmp_path / "b" / "LATEST").read_text())["checkpoint"]
            / "state.json"
        ).read_text()
    )
    assert {
        "keras.EarlyStopping[val_loss]",
        "keras.ReduceLROnPlateau[val_loss]",
    } <= set(state["callbacks"])

    class Probe(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 6:
                self.wait = stopper.wait

    stopper, reducer = make()
    probe = Probe()
    fit(data, [reducer, stopper, BackupAndRestore(tmp_path / "b"), probe], epochs=7)
    assert probe.wait == saved_wait

    with pytest.raises(KeyboardInterrupt):
        fit(data, [BackupAndRestore(tmp_path / "c"), *make(), Interrupt(4)])
    with pytest.raises(ValueError, match=r"keras.ReduceLROnPlateau\[val_loss\]"):
        fit(
            data,
            [BackupAndRestore(tmp_path / "c", strict=True), make()[0]],
        )
    with pytest.warns(ResumeWarning, match="no longer has"):
        fit(data, [BackupAndRestore(tmp_path / "c"), make()[0]], epochs=5)
