"""`AnalysisReport`: what `analyze` found in a training log."""

from __future__ import annotations

import dataclasses

from keras_epochkit.analysis.criterion_stop import CriterionStop


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _ordinal(epoch: int) -> str:
    """A 0-based epoch as a person reads it (from 1), or "-" for none."""
    return "-" if epoch < 0 else str(epoch + 1)


@dataclasses.dataclass(frozen=True)
class AnalysisReport:
    """Where a run's best epoch was, where rules would have stopped it, and
    where overfitting began.

    Epoch attributes are 0-based, as in Keras callbacks and the `epoch`
    column of `keras.callbacks.CSVLogger` files; the text of `to_markdown()`
    counts epochs from 1, as Keras's progress bar does ("Epoch 3/30").
    `str(report)` is `report.to_markdown()`.

    Attributes:
        monitor: the monitored validation key, e.g. `"val_loss"`.
        mode: `"min"` or `"max"`.
        epochs: number of recorded epochs.
        best_epoch: epoch of the best finite monitored value (the first on
            ties), or `-1` when there is none.
        best_value: that value (NaN when there is none).
        stops: one `CriterionStop` per replayed criterion.
        onset_epoch: epoch where overfitting began, as `OverfittingMonitor`
            defines it, or `None`.
        onset_detected_epoch: epoch at which it was detected, or `None`.
        overfitting_summary: `OverfittingMonitor`'s one-line summary, with
            epochs counted from 1.
    """

    monitor: str
    mode: str
    epochs: int
    best_epoch: int
    best_value: float
    stops: tuple[CriterionStop, ...]
    onset_epoch: int | None
    onset_detected_epoch: int | None
    overfitting_summary: str

    def to_markdown(self) -> str:
        """The report as a short paragraph and a Markdown table."""
        lines = [
            f"{self.epochs} epochs recorded (counted from 1); best {self.monitor} "
            f"{_fmt(self.best_value)} at epoch {_ordinal(self.best_epoch)}.",
            "",
            f"| Rule | Stops after epoch | Keeps epoch | {self.monitor} kept "
            "| Epochs run | Epochs saved | Share saved |",
            "|---|---|---|---|---|---|---|",
            f"| full run | - | {_ordinal(self.best_epoch)} | {_fmt(self.best_value)} "
            f"| {self.epochs} | 0 | 0% |",
        ]
        for stop in self.stops:
            stop_epoch = "never" if stop.stop_epoch is None else stop.stop_epoch + 1
            name = stop.name.replace("|", "\\|")
            lines.append(
                f"| {name} | {stop_epoch} | {_ordinal(stop.kept_epoch)} "
                f"| {_fmt(stop.kept_value)} | {stop.epochs_run} "
                f"| {stop.epochs_saved} | {stop.share_saved:.0%} |"
            )
        lines.append("")
        summary = self.overfitting_summary
        line = summary[:1].upper() + summary[1:]
        if self.onset_detected_epoch is not None:
            line += f" Detected at epoch {self.onset_detected_epoch + 1}."
        lines.append(line)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()
