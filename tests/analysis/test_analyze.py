"""analyze: every input form, replayed criteria, best epoch and onset."""

import collections

import keras
import numpy as np
import pytest

from keras_epochkit.analysis import AnalysisReport
from keras_epochkit.analysis import analyze

Decision = collections.namedtuple("Decision", ["stop", "improved", "reason", "message"])


class StandInPatience:
    """Follows the `keras_epochkit.criteria` interface: logs in, decision out."""

    def __init__(self, patience, monitor="val_loss"):
        self.patience = patience
        self.monitor = monitor
        self.best = float("inf")
        self.wait = 0

    def update(self, epoch, logs, budget=None):
        value = logs[self.monitor]
        improved = value < self.best
        if improved:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        stop = self.wait >= self.patience
        message = f"no improvement in {self.wait} epochs" if stop else ""
        return Decision(stop, improved, None, message)

    def get_config(self):
        return {"patience": self.patience, "monitor": self.monitor}


VAL = [1.0, 0.6, 0.5, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]
LOGS = [{"loss": 1.0 / (e + 1), "val_loss": v} for e, v in enumerate(VAL)]


def test_report_on_hand_worked_logs():
    report = analyze(LOGS, criteria=[StandInPatience(2), StandInPatience(20)])
    assert isinstance(report, AnalysisReport)
    assert (report.epochs, report.best_epoch, report.best_value) == (12, 3, 0.45)
    early, never = report.stops
    assert early.name == "StandInPatience(patience=2)"
    assert (early.stop_epoch, early.kept_epoch, early.kept_value) == (5, 3, 0.45)
    assert (early.epochs_run, early.epochs_saved) == (6, 6)
    assert early.share_saved == pytest.approx(0.5)
    assert early.reason == "no improvement in 2 epochs"
    assert never.stop_epoch is None and never.epochs_saved == 0
    # Val rises from epoch 3 in a straight line: epochs 5, 6, 7 degrade.
    assert (report.onset_epoch, report.onset_detected_epoch) == (3, 7)
    table = report.to_markdown()
    # The text counts epochs from 1, as Keras's progress bar does.
    assert "| StandInPatience(patience=2) | 6 | 4 | 0.45 | 6 | 6 | 50% |" in table
    assert "| StandInPatience(patience=20) | never |" in table
    assert "Overfitting began at epoch 4" in table
    assert "Detected at epoch 8." in table
    assert str(report) == table


def test_criteria_are_replayed_from_a_fresh_copy():
    rule = StandInPatience(2)
    first = analyze(LOGS, criteria={"p2": rule})
    second = analyze(LOGS, criteria={"p2": rule})
    assert first.stops == second.stops
    assert rule.wait == 0


def test_no_overfitting_on_a_steadily_improving_run():
    logs = [{"loss": 1 / (e + 1), "val_loss": 1.1 / (e + 1)} for e in range(20)]
    report = analyze(logs, criteria=[])
    assert report.onset_epoch is None
    assert report.best_epoch == 19
    assert "No overfitting detected in 20 epochs" in report.to_markdown()


def test_max_mode_monitor():
    logs = [
        {"accuracy": 0.5 + e / 40, "val_accuracy": 1.2 - v} for e, v in enumerate(VAL)
    ]
    report = analyze(logs, monitor="val_accuracy", criteria=[])
    assert report.mode == "max"
    assert report.best_epoch == 3 and report.onset_epoch == 3


def test_missing_monitor_lists_the_keys():
    with pytest.raises(ValueError, match=r"val_mae.*\['loss', 'val_loss'\]"):
        analyze(LOGS, monitor="val_mae", mode="min", criteria=[])


def _fit_with_csv_logger(tmp_path, validation_freq=1):
    x, y = np.random.default_rng(0).normal(size=(2, 48, 6)).astype("float32")
    y = y[:, :1]
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    path = tmp_path / "training_log.csv"
    history = model.fit(
        x[:24],
        y[:24],
        validation_data=(x[24:], y[24:]),
        epochs=12,
        validation_freq=validation_freq,
        batch_size=24,
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(str(path))],
    )
    return history, path


def test_history_csv_dataframe_and_list_give_the_same_report(tmp_path):
    pd = pytest.importorskip("pandas")
    history, path = _fit_with_csv_logger(tmp_path)
    criteria = {"p3": StandInPatience(3)}
    from_history = analyze(history, criteria=criteria)
    from_csv = analyze(path, criteria=criteria)
    from_str = analyze(str(path), criteria=criteria)
    from_frame = analyze(pd.read_csv(path), criteria=criteria)
    rows = [dict(zip(history.history, v)) for v in zip(*history.history.values())]
    from_list = analyze(rows, criteria=criteria)
    assert from_history.epochs == 12
    assert from_history.best_epoch == int(np.argmin(history.history["val_loss"]))
    for other in (from_csv, from_str, from_frame, from_list):
        assert other.best_epoch == from_history.best_epoch
        assert other.best_value == pytest.approx(from_history.best_value, rel=1e-6)
        assert [s.stop_epoch for s in other.stops] == [
            s.stop_epoch for s in from_history.stops
        ]
        assert other.onset_epoch == from_history.onset_epoch


def test_csv_with_epochs_without_validation(tmp_path):
    history, path = _fit_with_csv_logger(tmp_path, validation_freq=3)
    report = analyze(path, criteria=[])
    assert report.epochs == 12
    val = history.history["val_loss"]
    assert report.best_value == pytest.approx(min(val), rel=1e-6)
    assert report.best_epoch == 2 + 3 * int(np.argmin(val))


def test_appended_csv_keeps_the_last_row_of_each_epoch(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(
        "epoch,loss,val_loss\n0,1.0,1.0\n1,0.8,0.9\n2,0.7,0.95\n"
        "epoch,loss,val_loss\n2,0.7,0.5\n3,0.6,0.6\n"
    )
    report = analyze(path, criteria=[])
    assert report.epochs == 4
    assert (report.best_epoch, report.best_value) == (2, 0.5)


def test_rejects_unknown_sources():
    with pytest.raises(TypeError, match="CSVLogger"):
        analyze(42)


def test_default_criteria_are_the_epochkit_rules():
    report = analyze(LOGS)
    assert [s.name for s in report.stops] == [
        "Patience(patience=5)",
        "Patience(patience=10)",
        "GeneralizationLoss(alpha=5.0)",
        "ProgressQuotient(alpha=0.5)",
        "UpStrips(s=3)",
        "Extrapolation(tolerance=0.01)",
    ]
    by_name = {s.name: s for s in report.stops}
    # Best at epoch 3; five epochs without improvement end at epoch 8.
    assert by_name["Patience(patience=5)"].stop_epoch == 8
    # GL(4) = 100 * (0.5 / 0.45 - 1) = 11.1 > 5.
    gl = by_name["GeneralizationLoss(alpha=5.0)"]
    assert (gl.stop_epoch, gl.kept_epoch) == (4, 3)
    assert gl.reason


def test_epochkit_criterion_replays_like_the_stand_in():
    from keras_epochkit.criteria import Patience

    report = analyze(LOGS, criteria=[Patience(patience=2), StandInPatience(2)])
    ours, stand_in = report.stops
    assert ours.stop_epoch == stand_in.stop_epoch == 5
    assert ours.kept_epoch == stand_in.kept_epoch == 3
