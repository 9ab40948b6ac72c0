"""BackupAndRestore: resumes weights, optimizer, generators and callback state."""

import contextlib
import json
import pathlib
import shutil

import keras
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from keras_epochkit import _atomic
from keras_epochkit.callbacks import BackupAndRestore
from keras_epochkit.callbacks import backup_and_restore as backup_module

EPOCHS = 6


@pytest.fixture(scope="module")
def data():
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")[:256]
    return x, y.astype("float32")[:256, None]


def make_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((30,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3, seed=1),
            keras.layers.GaussianNoise(0.1, seed=2),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


class LossLedger(keras.callbacks.Callback):
    """A stateful callback that follows the protocol: it keeps every epoch's loss."""

    def on_train_begin(self, logs=None):
        self.losses = []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))

    def get_state(self):
        return {"losses": np.asarray(self.losses), "count": len(self.losses)}

    def set_state(self, state):
        assert state["count"] == len(state["losses"])
        self.losses = [float(v) for v in state["losses"]]


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt(f"interrupted at epoch {epoch}")


def fit(model, data, callbacks, epochs=EPOCHS):
    x, y = data
    return model.fit(
        x,
        y,
        batch_size=64,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


def assert_same_run(history, ledger, model, reference_ledger, reference):
    """The resumed run's whole history, ledger and weights equal the reference's."""
    np.testing.assert_allclose(
        history.history["loss"], reference_ledger.losses, rtol=1e-5
    )
    np.testing.assert_allclose(ledger.losses, reference_ledger.losses, rtol=1e-5)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def uninterrupted(data):
    model, ledger = make_model(), LossLedger()
    fit(model, data, [ledger])
    return model, ledger


@pytest.mark.parametrize("listed", [False, True], ids=["found", "listed-twice"])
@pytest.mark.parametrize(
    "backup_first", [True, False], ids=["backup-first", "backup-last"]
)
def test_resumed_run_equals_uninterrupted_run(tmp_path, data, backup_first, listed):
    reference, reference_ledger = uninterrupted(data)

    def callbacks(ledger, *extra):
        # The ledger's state is kept whether or not it is named a second time.
        kept = {"callbacks": [ledger]} if listed else {}
        backup = BackupAndRestore(tmp_path / "backup", **kept)
        return ([backup, ledger] if backup_first else [ledger, backup]) + list(extra)

    ledger = LossLedger()
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), data, callbacks(ledger, Interrupt(at_epoch=4)))

    # A new process would build a new model and new callbacks, seeded anew.
    model, ledger = make_model(seed=99), LossLedger()
    history = fit(model, data, callbacks(ledger))

    # `fit` returns the whole run's history, the epochs before the restart too.
    assert_same_run(history, ledger, model, reference_ledger, reference)
    assert not (tmp_path / "backup").exists()  # deleted after a normal end


def test_restores_random_generator_state_that_save_weights_omits(tmp_path, data):
    model = make_model()
    backup = BackupAndRestore(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        fit(model, data, [backup, Interrupt(at_epoch=2)])
    saved = [keras.ops.convert_to_numpy(v) for v in backup_module._seed_states(model)]
    assert len(saved) == 2 and all(s[1] > 0 for s in saved)

    fresh = make_model(seed=7)
    fresh_backup = BackupAndRestore(tmp_path / "backup")
    fresh_backup.set_model(fresh)
    fresh_backup.on_train_begin()
    restored = [
        keras.ops.convert_to_numpy(v) for v in backup_module._seed_states(fresh)
    ]
    for before, after in zip(saved, restored):
        np.testing.assert_array_equal(before, after)
    assert fresh_backup.restored_epoch == 2


def test_seed_states_are_exactly_the_seed_generators_of_every_layer():
    # Read through the public `Model.variables` (weights plus seed states).
    model = make_model()
    expected = []
    for layer in model.layers:
        for attribute in vars(layer).values():
            if isinstance(attribute, keras.random.SeedGenerator):
                expected.append(attribute.state)
    states = backup_module._seed_states(model)
    assert len(states) == 2
    assert [id(v) for v in states] == [id(v) for v in expected]


def test_a_keras_without_the_initial_epoch_attribute_gets_a_clear_error():
    class NoInitialEpoch:
        pass

    with pytest.raises(RuntimeError, match=r"_initial_epoch.*Keras"):
        backup_module._set_initial_epoch(NoInitialEpoch(), 3)


def test_keeps_backup_when_asked_and_resumes_from_the_end(tmp_path, data):
    backup = BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
    fit(make_model(), data, [backup], epochs=3)
    state = json.loads((tmp_path / "backup" / "LATEST").read_text())
    assert (tmp_path / "backup" / state["checkpoint"] / "state.json").exists()
    history = fit(make_model(), data, [BackupAndRestore(tmp_path / "backup")], epochs=5)
    assert history.epoch == [0, 1, 2, 3, 4]  # 3 restored, 2 trained


def test_a_later_fit_starts_afresh_after_a_resumed_one(tmp_path, data):
    model = make_model()
    with pytest.raises(KeyboardInterrupt):
        fit(model, data, [BackupAndRestore(tmp_path / "b"), Interrupt(at_epoch=2)])
    fit(model, data, [BackupAndRestore(tmp_path / "b")])
    history = fit(model, data, [])
    assert len(history.history["loss"]) == EPOCHS


def test_refuses_a_backup_written_by_a_different_model(tmp_path, data):
    backup = BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
    fit(make_model(), data, [backup], epochs=2)
    other = keras.Sequential([keras.Input((30,)), keras.layers.Dense(1)])
    other.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="different model"):
        fit(other, data, [BackupAndRestore(tmp_path / "backup")], epochs=2)


def test_refuses_a_backup_in_another_format(tmp_path, data, monkeypatch):
    backup = BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
    fit(make_model(), data, [backup], epochs=2)
    monkeypatch.setattr(backup_module, "BACKUP_FORMAT", backup_module.BACKUP_FORMAT + 1)
    with pytest.raises(ValueError, match="backup format"):
        fit(make_model(), data, [BackupAndRestore(tmp_path / "backup")], epochs=3)


class StepLedger(LossLedger):
    """A second protocol follower, told apart from LossLedger by its class."""


class MonitorLedger(LossLedger):
    def __init__(self, monitor):
        super().__init__()
        self.monitor = monitor


def _interrupted_then_resumed(tmp_path, data, before, after, **kwargs):
    """Interrupts a fit at epoch 3 with `before`, resumes with `after`."""
    with pytest.raises(KeyboardInterrupt):
        fit(
            make_model(),
            data,
            [BackupAndRestore(tmp_path / "b", callbacks=before), *before, Interrupt(3)],
        )
    backup = BackupAndRestore(tmp_path / "b", callbacks=after, **kwargs)
    fit(make_model(), data, [backup, *after])
    return backup


def test_states_are_matched_by_key_so_reordering_the_list_still_restores(
    tmp_path, data
):
    _, reference = uninterrupted(data)
    ledger, steps = LossLedger(), StepLedger()
    _interrupted_then_resumed(tmp_path, data, [ledger, steps], [steps, ledger])
    # Each got its own state back: every epoch's loss, in order.
    np.testing.assert_allclose(ledger.losses, reference.losses, rtol=1e-5)
    np.testing.assert_allclose(steps.losses, reference.losses, rtol=1e-5)


def test_the_key_is_the_state_key_or_the_class_plus_its_monitor():
    from keras_epochkit.callbacks import EpochBudget
    from keras_epochkit.callbacks._stateful import StatefulCallback

    class Watch(StatefulCallback):
        monitor = "val_auc"

    assert backup_module.state_key(Watch()) == "Watch[val_auc]"
    budget = EpochBudget()
    assert backup_module.state_key(budget) == "EpochBudget"
    budget.state_key = "warm-up budget"
    assert backup_module.state_key(budget) == "warm-up budget"
    # Objects with only get_state/set_state: the class, plus its monitor.
    assert backup_module.state_key(LossLedger()) == "LossLedger"
    assert backup_module.state_key(MonitorLedger("val_auc")) == "MonitorLedger[val_auc]"


def test_two_callbacks_under_one_key_raise_telling_to_set_state_key(tmp_path):
    with pytest.raises(ValueError, match="state_key"):
        BackupAndRestore(tmp_path / "b", callbacks=[LossLedger(), LossLedger()])
    # Different monitors are different keys.
    BackupAndRestore(
        tmp_path / "b", callbacks=[MonitorLedger("loss"), MonitorLedger("val_loss")]
    )


def test_an_added_callback_is_named_and_the_others_are_restored(tmp_path, data):
    _, reference = uninterrupted(data)
    ledger, added = LossLedger(), StepLedger()
    with pytest.warns(UserWarning, match=r"StepLedger.*added since the backup"):
        _interrupted_then_resumed(tmp_path, data, [ledger], [ledger, added])
    np.testing.assert_allclose(ledger.losses, reference.losses, rtol=1e-5)
    assert len(added.losses) == EPOCHS - 3  # started afresh at the resume


def test_a_removed_callback_is_named_and_the_others_are_restored(tmp_path, data):
    _, reference = uninterrupted(data)
    ledger = LossLedger()
    with pytest.warns(UserWarning, match=r"StepLedger.*no longer has"):
        _interrupted_then_resumed(tmp_path, data, [ledger, StepLedger()], [ledger])
    np.testing.assert_allclose(ledger.losses, reference.losses, rtol=1e-5)


def test_strict_refuses_a_backup_of_other_callbacks(tmp_path, data):
    with pytest.raises(ValueError, match=r"StepLedger.*strict=False"):
        _interrupted_then_resumed(
            tmp_path, data, [LossLedger()], [LossLedger(), StepLedger()], strict=True
        )


def test_keras_positional_order_with_new_arguments_keyword_only(tmp_path):
    backup = BackupAndRestore(tmp_path / "b", 3, True, False)
    assert (backup.save_freq, backup.double_checkpoint, backup.delete_checkpoint) == (
        3,
        True,
        False,
    )
    with pytest.raises(TypeError):
        BackupAndRestore(tmp_path / "b", "epoch", False, True, [LossLedger()])


@pytest.mark.parametrize(
    "damaged", ["model.weights.h5", "state.json", "arrays.npz", "LATEST"]
)
@pytest.mark.parametrize("double_checkpoint", [False, True])
def test_a_damaged_newest_backup_falls_back_to_the_previous_one(
    tmp_path, data, damaged, double_checkpoint
):
    reference, reference_ledger = uninterrupted(data)

    def callbacks(ledger, *extra):
        backup = BackupAndRestore(tmp_path / "b", double_checkpoint=double_checkpoint)
        return [backup, ledger, *extra]

    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), data, callbacks(LossLedger(), Interrupt(at_epoch=4)))
    latest = json.loads((tmp_path / "b" / "LATEST").read_text())["checkpoint"]
    target = (
        tmp_path / "b" / (damaged if damaged == "LATEST" else f"{latest}/{damaged}")
    )
    target.write_bytes(b"{torn")

    model, ledger = make_model(seed=99), LossLedger()
    with (
        pytest.warns(UserWarning, match="could not be read|resuming from")
        if (damaged != "LATEST")
        else contextlib.nullcontext()
    ):
        history = fit(model, data, callbacks(ledger))
    # The previous backup is the same epoch's, written before the callbacks
    # after BackupAndRestore had seen the epoch; they replay it.
    assert_same_run(history, ledger, model, reference_ledger, reference)


def test_no_readable_backup_raises_and_names_each_failure(tmp_path, data):
    backup = BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), data, [backup, Interrupt(at_epoch=3)])
    names = backup._checkpoints()
    assert len(names) == 2  # the newest and the one before it
    for name in names:
        (tmp_path / "b" / name / "state.json").write_text("{")
    with pytest.raises(OSError, match="No readable backup") as error:
        fit(make_model(), data, [BackupAndRestore(tmp_path / "b")])
    assert all(name in str(error.value) for name in names)


def test_mid_epoch_saves_resume_at_the_start_of_that_epoch(tmp_path, data):
    class InterruptAtBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.params and batch == 2 and getattr(self, "epoch", 0) == 1:
                raise KeyboardInterrupt

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

    backup = BackupAndRestore(tmp_path / "b", save_freq=2)
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), data, [backup, InterruptAtBatch()])
    history = fit(make_model(), data, [BackupAndRestore(tmp_path / "b", save_freq=2)])
    assert history.epoch == list(range(EPOCHS))  # epoch 0 restored, 1.. trained


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backup_dir": ""}, "non-empty"),
        ({"save_freq": 0}, "save_freq"),
        ({"save_freq": "batch"}, "save_freq"),
        ({"save_freq": True}, "save_freq"),
        ({"callbacks": [keras.callbacks.History()]}, "get_state"),
    ],
)
def test_bad_arguments_raise_clear_errors(tmp_path, kwargs, message):
    kwargs = {"backup_dir": tmp_path / "b", **kwargs}
    with pytest.raises(ValueError, match=message):
        BackupAndRestore(**kwargs)


def test_backup_dir_that_is_a_file_raises(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(ValueError, match="is a file"):
        BackupAndRestore(path)


def test_unwritable_backup_dir_raises_before_training(tmp_path, data, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(backup_module.tempfile, "TemporaryFile", refuse)
    with pytest.raises(PermissionError, match="not writable"):
        fit(make_model(), data, [BackupAndRestore(tmp_path / "b")])


def test_unjsonable_state_is_reported_with_its_place(tmp_path, data):
    class Bad(LossLedger):
        def get_state(self):
            return {"when": object()}

    bad = Bad()
    with pytest.raises(TypeError, match=r"Bad\.when"):
        fit(
            make_model(), data, [BackupAndRestore(tmp_path / "b", callbacks=[bad]), bad]
        )


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "report.json"
    _atomic.write_text(path, "old")
    with pytest.raises(RuntimeError), _atomic.atomic_path(path) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_kill_while_deleting_the_backup_leaves_nothing_published(
    tmp_path, data, monkeypatch
):
    # Stand in for a SIGKILL during the removal at train end: the removal
    # deletes one checkpoint file and then dies.
    class Killed(BaseException):
        pass

    rmtree = shutil.rmtree

    def dying_rmtree(path, ignore_errors=False):
        if pathlib.Path(path) != tmp_path / "b":  # pruning an old checkpoint
            return rmtree(path, ignore_errors=ignore_errors)
        next(pathlib.Path(path).glob("ckpt-*/state.json")).unlink()
        raise Killed

    monkeypatch.setattr(backup_module.shutil, "rmtree", dying_rmtree)
    with pytest.raises(Killed):
        fit(make_model(), data, [BackupAndRestore(tmp_path / "b")], epochs=2)
    monkeypatch.undo()
    assert not (tmp_path / "b" / "LATEST").exists()
    # The next run finds no published backup and starts afresh.
    history = fit(make_model(), data, [BackupAndRestore(tmp_path / "b")], epochs=2)
    assert len(history.history["loss"]) == 2


def test_saving_by_epoch_keeps_batch_ends_asynchronous(tmp_path):
    model = make_model()
    baseline = keras.callbacks.CallbackList([], model=model)
    by_epoch = keras.callbacks.CallbackList(
        [BackupAndRestore(tmp_path / "a")], model=model
    )
    by_batch = keras.callbacks.CallbackList(
        [BackupAndRestore(tmp_path / "b", save_freq=2)], model=model
    )
    assert by_epoch._async_train == baseline._async_train
    assert by_batch._async_train is False  # a mid-epoch save needs the step done
