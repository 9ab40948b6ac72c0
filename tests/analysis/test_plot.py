"""plot: a PNG of the curves with best epoch, onset and stops marked."""

import builtins
import os

import pytest

from keras_epochkit.analysis import analyze
from keras_epochkit.analysis import plot

pytest.importorskip("matplotlib")

VAL = [1.0, 0.6, 0.5, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]
LOGS = [{"loss": 1.0 / (e + 1), "val_loss": v} for e, v in enumerate(VAL)]


def test_writes_a_png_with_the_points_marked(tmp_path):
    path = tmp_path / "curves.png"
    figure = plot(LOGS, path, criteria=[], title="run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["curves.png"]
    labels = figure.axes[0].get_legend_handles_labels()[1]
    # Epochs 3, 3 and 7 (0-based) read from 1, as in Keras's progress bar.
    assert labels == [
        "loss",
        "val_loss",
        "best epoch (4)",
        "overfitting onset (4)",
        "overfitting detected (8)",
    ]
    best_marker = figure.axes[0].get_lines()[2]
    assert list(best_marker.get_xdata()) == [4]


def test_marks_criterion_stops_from_a_given_report(tmp_path):
    report = analyze(LOGS, criteria=[])
    report = report.__class__(**{**report.__dict__, "stops": ()})
    figure = plot(LOGS, report=report)
    assert figure.axes[0].get_xlabel() == "epoch"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")
    from matplotlib.figure import Figure

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot(LOGS, path, criteria=[])
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["curves.png"]


def test_missing_matplotlib_names_the_plot_extra(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"keras-epochkit\[plot\]"):
        plot(LOGS, criteria=[])
