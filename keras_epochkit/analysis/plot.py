"""`plot`: learning curves with the best epoch, stops and onset marked."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from typing import Any

from keras_epochkit import _atomic
from keras_epochkit.analysis._logs import load_logs
from keras_epochkit.analysis.analysis_report import AnalysisReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "keras_epochkit.analysis.plot needs matplotlib. Install it with "
            "`pip install keras-epochkit[plot]`."
        ) from error
    return Figure, FigureCanvasAgg


def plot(
    source: Any,
    path: str | os.PathLike | None = None,
    *,
    report: AnalysisReport | None = None,
    monitor: str = "val_loss",
    train_monitor: str | None = None,
    mode: str = "auto",
    criteria: Any = None,
    title: str | None = None,
    dpi: int = 100,
) -> Figure:
    """Draws training and validation curves with the key epochs marked.

    Marks the best epoch (a star), the epoch where overfitting began (a
    dashed line) and where it was detected (a cross), and where each
    criterion would have stopped (dotted lines),
    as found by `analyze`. It uses matplotlib's Agg canvas, so it needs no
    display and leaves `pyplot`'s state alone. Epochs are counted from 1 on
    the axis and in the legend, as in Keras's progress bar.

    Args:
        source: anything `analyze` accepts: a `History`, its `history` dict,
            a pandas `DataFrame`, a `CSVLogger` file path or a list of dicts.
        path: where to write a PNG (atomically: a temporary file in the same
            directory, then renamed). Defaults to `None`: only return the
            figure.
        report: a report of these logs from `analyze`. Defaults to `None`:
            computed here with `monitor`, `train_monitor`, `mode` and
            `criteria`, which are passed to `analyze`.
        monitor: the validation key. Defaults to `"val_loss"`.
        train_monitor: its training counterpart. Defaults to `None`, which
            drops the `"val_"` prefix.
        mode: `"auto"`, `"min"` or `"max"`. Defaults to `"auto"`.
        criteria: criteria to replay, as for `analyze`. Defaults to `None`.
        title: figure title. Defaults to `None`: no title.
        dpi: resolution of the PNG. Defaults to `100`.

    Returns:
        The `matplotlib.figure.Figure`.

    Examples:
        >>> from keras_epochkit.analysis import plot
        >>> logs = [{"loss": 1 / (e + 1), "val_loss": abs(e - 4) / 4 + 0.5}
        ...         for e in range(12)]
        >>> figure = plot(logs, criteria=[])
        >>> figure.axes[0].get_xlabel()
        'epoch'
    """
    from keras_epochkit.analysis.analyze import analyze

    Figure, FigureCanvasAgg = _matplotlib()
    logs = load_logs(source)
    if report is None:
        report = analyze(
            logs,
            monitor=monitor,
            train_monitor=train_monitor,
            mode=mode,
            criteria=criteria,
        )
    monitor = report.monitor
    train_key = train_monitor or (monitor[4:] if monitor.startswith("val_") else None)

    figure = Figure(figsize=(7, 4.2))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    # Epochs are drawn and labelled from 1, as Keras's progress bar counts.
    epochs = list(range(len(logs)))
    if train_key is not None and any(train_key in row for row in logs):
        axes.plot(
            [e + 1 for e in epochs if train_key in logs[e]],
            [row[train_key] for row in logs if train_key in row],
            label=train_key,
            color="tab:blue",
        )
    val_epochs = [e for e in epochs if monitor in logs[e]]
    axes.plot(
        [e + 1 for e in val_epochs],
        [logs[e][monitor] for e in val_epochs],
        label=monitor,
        color="tab:orange",
    )
    if report.best_epoch >= 0:
        axes.plot(
            [report.best_epoch + 1],
            [report.best_value],
            marker="*",
            markersize=14,
            linestyle="none",
            color="tab:green",
            label=f"best epoch ({report.best_epoch + 1})",
        )
    if report.onset_epoch is not None:
        axes.axvline(
            report.onset_epoch + 1,
            color="tab:red",
            linestyle="--",
            label=f"overfitting onset ({report.onset_epoch + 1})",
        )
        detected = report.onset_detected_epoch
        if detected is not None and monitor in logs[detected]:
            axes.plot(
                [detected + 1],
                [logs[detected][monitor]],
                marker="X",
                markersize=9,
                linestyle="none",
                color="tab:red",
                label=f"overfitting detected ({detected + 1})",
            )
    palette = ("tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive")
    for i, stop in enumerate(report.stops):
        if stop.stop_epoch is not None:
            axes.axvline(
                stop.stop_epoch + 1,
                color=palette[i % len(palette)],
                linestyle=":",
                label=f"{stop.name} stops ({stop.stop_epoch + 1})",
            )
    axes.set_xlabel("epoch")
    axes.set_ylabel(monitor if train_key is None else f"{train_key} / {monitor}")
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    if path is not None:
        with _atomic.atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=dpi)
    return figure
