"""CSVLogger: Keras's file layout, atomic rewrites, and exact logs after a resume."""

import csv

import keras
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from keras_epochkit.analysis import analyze
from keras_epochkit.callbacks import BackupAndRestore
from keras_epochkit.callbacks import CSVLogger
from keras_epochkit.callbacks import EarlyStopping

EPOCHS = 6


@pytest.fixture(scope="module")
def data():
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    return (x[:256], y[:256, None].astype("float32")), (
        x[256:384],
        y[256:384, None].astype("float32"),
    )


def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((30,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.3, seed=1),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def fit(data, callbacks, epochs=EPOCHS, model=None):
    (x, y), validation = data
    return (model or make_model()).fit(
        x,
        y,
        validation_data=validation,
        batch_size=64,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class InterruptAfterEpoch(keras.callbacks.Callback):
    """Dies after an epoch's row is logged and before the next backup."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt(f"interrupted after epoch {epoch}")


def test_writes_keras_layout_with_the_same_values_as_keras(tmp_path, data):
    ours, theirs = tmp_path / "ours.csv", tmp_path / "keras.csv"
    fit(data, [CSVLogger(ours), keras.callbacks.CSVLogger(str(theirs))], epochs=3)
    ours_rows, keras_rows = read(ours), read(theirs)
    assert list(ours_rows[0]) == list(keras_rows[0])  # same columns, same order
    assert [r["epoch"] for r in ours_rows] == ["0", "1", "2"]
    for mine, keras_row in zip(ours_rows, keras_rows):
        for key in keras_row:
            assert float(mine[key]) == pytest.approx(float(keras_row[key]), rel=1e-6)
    # The analysis reads it like Keras's file.
    assert analyze(str(ours)).epochs == 3


def test_a_resumed_run_logs_every_epoch_exactly_once(tmp_path, data):
    path, backup_dir = tmp_path / "history.csv", tmp_path / "backup"

    def callbacks(*extra):
        logger = CSVLogger(path, append=True)
        backup = BackupAndRestore(backup_dir, callbacks=[logger])
        return [logger, backup, *extra]

    with pytest.raises(KeyboardInterrupt):
        fit(data, callbacks(InterruptAfterEpoch(2)))
    # Epoch 2 was logged, but the newest backup was made as it began.
    assert [r["epoch"] for r in read(path)] == ["0", "1", "2"]
    fit(data, callbacks())
    resumed = read(path)
    assert [int(r["epoch"]) for r in resumed] == list(range(EPOCHS))

    fit(data, [CSVLogger(tmp_path / "straight.csv")])
    straight = read(tmp_path / "straight.csv")
    np.testing.assert_allclose(
        [float(r["loss"]) for r in resumed],
        [float(r["loss"]) for r in straight],
        rtol=1e-5,
    )


def test_append_keeps_earlier_rows_and_a_fresh_logger_starts_over(tmp_path, data):
    path = tmp_path / "history.csv"
    model = make_model()
    fit(data, [CSVLogger(path)], epochs=2, model=model)
    (x, y), validation = data
    model.fit(
        x,
        y,
        validation_data=validation,
        epochs=4,
        initial_epoch=2,
        verbose=0,
        callbacks=[CSVLogger(path, append=True)],
    )
    assert [r["epoch"] for r in read(path)] == ["0", "1", "2", "3"]
    fit(data, [CSVLogger(path)], epochs=1)
    assert [r["epoch"] for r in read(path)] == ["0"]


def test_rows_are_the_state_and_round_trip_through_json(tmp_path, data):
    import json

    logger = CSVLogger(tmp_path / "a.csv")
    stopper = EarlyStopping(patience=1)
    fit(data, [logger, stopper], epochs=3)
    state = json.loads(json.dumps(logger.get_state()))
    other = CSVLogger(tmp_path / "b.csv")
    other.set_state(state)
    assert (tmp_path / "b.csv").read_text() == (tmp_path / "a.csv").read_text()


def test_array_logs_are_written_as_one_quoted_field(tmp_path):
    logger = CSVLogger(tmp_path / "h.csv")
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": np.float32(0.5), "per_class": np.array([1, 2])})
    (row,) = read(tmp_path / "h.csv")
    assert row == {
        "epoch": "0",
        "loss": "0.5",
        "per_class": "[1, 2]",
        "val_loss": "NA",  # Keras's header names the validation twins too
        "val_per_class": "NA",
    }


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filename": ""}, "filename"),
        ({"filename": "h.csv", "separator": ";;"}, "separator"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CSVLogger(**kwargs)


def test_appending_to_a_file_without_epochs_raises(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    logger = CSVLogger(path, append=True)
    with pytest.raises(ValueError, match="no 'epoch' column"):
        logger.on_train_begin()


def test_a_directory_is_refused_as_filename(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        CSVLogger(tmp_path)
