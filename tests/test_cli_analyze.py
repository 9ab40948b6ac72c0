"""`epochkit analyze`: the report of a real CSVLogger file, as a table."""

import keras
import numpy as np
import pytest

from keras_epochkit import cli


@pytest.fixture(scope="module")
def training_log(tmp_path_factory):
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 8)).astype("float32")
    y = (x[:, :1] * 0.3 + rng.normal(size=(80, 1))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    path = tmp_path_factory.mktemp("cli") / "training_log.csv"
    history = model.fit(
        x[:32],
        y[:32],
        validation_data=(x[32:], y[32:]),
        epochs=20,
        batch_size=32,
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(str(path))],
    )
    return path, history.history


def test_prints_the_report_table(training_log, capsys):
    path, history = training_log
    assert cli.main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    best = int(np.argmin(history["val_loss"]))
    assert "20 epochs recorded (counted from 1); best val_loss" in out
    assert f"at epoch {best + 1}." in out
    assert "| Rule | Stops after epoch | Keeps epoch |" in out
    assert "| Patience(patience=5) |" in out
    assert "| GeneralizationLoss(alpha=5.0) |" in out
    assert "verfitting" in out


def test_writes_the_plot(training_log, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path, _ = training_log
    png = tmp_path / "curves.png"
    assert cli.main(["analyze", str(path), "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert f"Plot written to {png}" in capsys.readouterr().out


def test_errors_exit_with_status_1(training_log, tmp_path, capsys):
    path, _ = training_log
    assert cli.main(["analyze", str(tmp_path / "missing.csv")]) == 1
    assert "epochkit analyze: error:" in capsys.readouterr().err
    assert cli.main(["analyze", str(path), "--monitor", "val_auc"]) == 1
    assert "Keys present" in capsys.readouterr().err
