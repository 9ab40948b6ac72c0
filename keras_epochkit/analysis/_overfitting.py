"""The overfitting detector shared by `OverfittingMonitor` and `analyze`.

It needs no model: it consumes one (validation, training) pair per epoch and
holds its whole state in plain Python values, so the same code runs inside a
callback and on recorded logs.
"""

from __future__ import annotations

import math
from typing import Any

from keras_epochkit.analysis._trend import linear_trend

_MIN_WORDS = ("loss", "error", "crossentropy", "hinge", "mse", "mae", "mape", "msle")
_MAX_WORDS = (
    "acc",
    "auc",
    "precision",
    "recall",
    "f1",
    "fbeta",
    "score",
    "iou",
    "r2",
    "kappa",
    "correlation",
)

LOG_KEYS = (
    "overfit_gap",
    "overfit_gap_ratio",
    "overfit_gl",
    "overfit_val_slope",
    "overfit_val_slope_p",
    "overfit_onset_epoch",
)


def resolve_mode(monitor: str, mode: str) -> str:
    """Turns `mode="auto"` into "min" or "max" from the monitor's name."""
    if mode in ("min", "max"):
        return mode
    name = monitor.lower()
    name = name[4:] if name.startswith("val_") else name
    if any(word in name for word in _MIN_WORDS):
        return "min"
    if any(word in name for word in _MAX_WORDS):
        return "max"
    raise ValueError(
        f"Cannot infer whether `monitor={monitor!r}` should decrease or "
        "increase. Pass `mode='min'` (losses, errors) or `mode='max'` "
        "(accuracies, scores)."
    )


def train_key_for(monitor: str) -> str:
    """The training counterpart of a validation key (`val_loss` -> `loss`)."""
    if not monitor.startswith("val_"):
        raise ValueError(
            f"Cannot derive the training key from `monitor={monitor!r}`, which "
            "does not start with 'val_'. Pass `train_monitor=` explicitly."
        )
    return monitor[4:]


def relative_change(value: float, reference: float) -> float:
    """(value - reference) / |reference|; 0 when equal, inf when reference is 0."""
    if value == reference:
        return 0.0
    if reference == 0:
        return math.copysign(math.inf, value - reference)
    return (value - reference) / abs(reference)


class OverfittingTracker:
    """Epoch-by-epoch overfitting detector with explicit, JSON-able state.

    Errors are the monitored values oriented so that lower is better
    (`mode="max"` negates them). With `b` the epoch of the best validation
    value so far (the earliest one on ties), epoch `t` *degrades* when

    1. GL(t) = 100 * (E_va(t) - E_va(b)) / |E_va(b)| >= `min_gl`,
    2. the least-squares slope of E_va over the last `window` epochs, but
       none before `b`, is positive with one-sided p-value < `significance`,
       and
    3. the training error improved since `b`: E_tr(t) < E_tr(b).

    Overfitting is detected once `patience` consecutive epochs degrade
    without a new best; its onset is `b`, the epoch from which validation
    kept degrading. A later new best clears the onset (the degradation was
    temporary) and detection starts over.
    """

    def __init__(
        self,
        mode: str,
        window: int,
        significance: float,
        patience: int,
        min_gl: float,
    ):
        self.sign = 1.0 if mode == "min" else -1.0
        self.window = window
        self.significance = significance
        self.patience = patience
        self.min_gl = min_gl
        self.reset()

    def reset(self) -> None:
        self.epochs: list[int] = []
        self.val: list[float] = []
        self.train: list[float] = []
        self.best_index = -1
        self.streak = 0
        self.onset_epoch = -1
        self.detected_epoch = -1
        self.alarms: list[list[int]] = []

    # --- state -----------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {
            "epochs": list(self.epochs),
            "val": list(self.val),
            "train": list(self.train),
            "best_index": self.best_index,
            "streak": self.streak,
            "onset_epoch": self.onset_epoch,
            "detected_epoch": self.detected_epoch,
            "alarms": [list(a) for a in self.alarms],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.epochs = [int(e) for e in state["epochs"]]
        self.val = [float(v) for v in state["val"]]
        self.train = [float(v) for v in state["train"]]
        self.best_index = int(state["best_index"])
        self.streak = int(state["streak"])
        self.onset_epoch = int(state["onset_epoch"])
        self.detected_epoch = int(state["detected_epoch"])
        self.alarms = [[int(a), int(b)] for a, b in state["alarms"]]

    # --- queries ---------------------------------------------------------
    @property
    def best_epoch(self) -> int:
        return self.epochs[self.best_index] if self.best_index >= 0 else -1

    @property
    def best_value(self) -> float:
        return self.val[self.best_index] if self.best_index >= 0 else math.nan

    def value_at(self, epoch: int) -> tuple[float, float]:
        """(validation, training) values recorded at `epoch`."""
        i = self.epochs.index(epoch)
        return self.val[i], self.train[i]

    # --- update ----------------------------------------------------------
    def update(self, epoch: int, val: float, train: float) -> dict[str, float]:
        """Records one epoch; returns the `overfit_*` figures for the logs.

        Non-finite values are not recorded: their figures are NaN and the
        onset is unchanged.
        """
        if not (math.isfinite(val) and math.isfinite(train)):
            figures = dict.fromkeys(LOG_KEYS, math.nan)
            figures["overfit_onset_epoch"] = float(self.onset_epoch)
            return figures
        s = self.sign
        self.epochs.append(int(epoch))
        self.val.append(float(val))
        self.train.append(float(train))
        last = len(self.val) - 1
        if self.best_index < 0 or s * val < s * self.best_value:
            self.best_index = last
            self.streak = 0
            self.onset_epoch = -1
            self.detected_epoch = -1
        best_val = self.best_value
        best_train = self.train[self.best_index]
        gl = 100.0 * s * relative_change(val, best_val)
        start = max(self.best_index, last - self.window + 1)
        errors = [s * v for v in self.val[start:]]
        trend = linear_trend(errors)
        degrading = (
            gl >= self.min_gl
            and trend.p_value < self.significance
            and s * train < s * best_train
        )
        self.streak = self.streak + 1 if degrading else 0
        if self.onset_epoch < 0 and self.streak >= self.patience:
            self.onset_epoch = self.best_epoch
            self.detected_epoch = int(epoch)
            self.alarms.append([self.onset_epoch, self.detected_epoch])
        gap = s * (val - train)
        return {
            "overfit_gap": gap,
            "overfit_gap_ratio": s * relative_change(val, train),
            "overfit_gl": gl,
            "overfit_val_slope": s * trend.slope,
            "overfit_val_slope_p": trend.p_value,
            "overfit_onset_epoch": float(self.onset_epoch),
        }

    def summary(self, monitor: str, train_monitor: str, first_epoch: int = 1) -> str:
        """One line: where overfitting began and how far each value moved.

        Epochs are numbered from `first_epoch` (1 as in Keras's progress bar).
        """
        if not self.val:
            return f"no finite `{monitor}` was recorded."
        if self.onset_epoch < 0:
            return (
                f"no overfitting detected in {len(self.val)} epochs; best "
                f"{monitor} {self.best_value:.4g} at epoch {self.best_epoch + first_epoch}."
            )
        onset_val, onset_train = self.value_at(self.onset_epoch)
        val_change = 100.0 * relative_change(self.val[-1], onset_val)
        train_change = 100.0 * relative_change(self.train[-1], onset_train)
        verb = "fell" if train_change < 0 else "rose"
        return (
            f"overfitting began at epoch {self.onset_epoch + first_epoch}: {monitor} "
            f"{val_change:+.0f}% from its best while {train_monitor} {verb} "
            f"{abs(train_change):.0f}%."
        )
