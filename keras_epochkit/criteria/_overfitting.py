"""The overfitting detector: logs in, onset out, with no model.

`OverfittingMonitor` wraps it inside `fit`; `analysis.analyze` replays it on
recorded logs. It follows the criterion protocol, so a detection is a
`Decision` with `StopReason.OVERFITTING`.
"""

from __future__ import annotations

import math
from typing import Any

from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import check_str
from keras_epochkit.criteria._trend import linear_trend
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.decision import Decision

FIGURES = (
    "overfit_gap",
    "overfit_gap_ratio",
    "overfit_gl",
    "overfit_val_slope",
    "overfit_val_slope_p",
    "overfit_onset_epoch",
)


def train_key_for(monitor: str) -> str:
    """The training counterpart of a validation key (`val_loss` -> `loss`)."""
    if not monitor.startswith("val_"):
        raise ValueError(
            "`train_monitor` must be given when `monitor` does not start with "
            f"'val_'; received monitor={monitor!r}."
        )
    return monitor.removeprefix("val_")


def relative_change(value: float, reference: float) -> float:
    """(value - reference) / |reference|; 0 when equal, inf when reference is 0."""
    if value == reference:
        return 0.0
    if reference == 0:
        return math.copysign(math.inf, value - reference)
    return (value - reference) / abs(reference)


class OverfittingDetector(Criterion):
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
    kept degrading, and `update` returns a stopping `Decision` at the
    detection epoch. A later new best clears the onset (the degradation was
    temporary) and detection starts over. Epochs with a non-finite value are
    not recorded. After each update, `figures` holds the `overfit_*` numbers
    of that epoch (see `OverfittingMonitor`).
    """

    stop_reason = StopReason.OVERFITTING

    def __init__(
        self,
        monitor: str = "val_loss",
        train_monitor: str | None = None,
        mode: str = "auto",
        window: int = 12,
        significance: float = 0.05,
        patience: int = 3,
        min_gl: float = 5.0,
    ) -> None:
        check_str("monitor", monitor)
        if train_monitor is None:
            self.train_key = train_key_for(monitor)
        else:
            self.train_key = check_str("train_monitor", train_monitor)
        self.train_monitor = train_monitor
        self.window = check_int("window", window, minimum=3)
        self.significance = check_number(
            "significance", significance, 0.0, 1.0, strict=True
        )
        self.patience = check_int("patience", patience, minimum=1)
        self.min_gl = check_number("min_gl", min_gl, minimum=0.0)
        super().__init__(monitor=monitor, mode=mode)

    def reset(self) -> None:
        self.epochs: list[int] = []
        self.val: list[float] = []
        self.train: list[float] = []
        self.best_index = -1
        self.streak = 0
        self.onset_epoch = -1
        self.detected_epoch = -1
        self.alarms: list[list[int]] = []
        self.figures: dict[str, float] = {}

    # --- state -----------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {
            **super().get_state(),
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
        super().set_state(state)
        self.epochs = [int(e) for e in state["epochs"]]
        self.val = [float(v) for v in state["val"]]
        self.train = [float(v) for v in state["train"]]
        self.best_index = int(state["best_index"])
        self.streak = int(state["streak"])
        self.onset_epoch = int(state["onset_epoch"])
        self.detected_epoch = int(state["detected_epoch"])
        self.alarms = [[int(a), int(b)] for a, b in state["alarms"]]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "train_monitor": self.train_monitor,
            "window": self.window,
            "significance": self.significance,
            "patience": self.patience,
            "min_gl": self.min_gl,
        }

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
    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        val = self._read(logs)
        if val is None:
            self.figures = {}
            return Decision()
        train = self._read(logs, self.train_key)
        if not (math.isfinite(val) and math.isfinite(train)):
            self.figures = dict.fromkeys(FIGURES, math.nan)
            self.figures["overfit_onset_epoch"] = float(self.onset_epoch)
            return Decision()
        s = 1.0 if self._mode == "min" else -1.0
        self.epochs.append(epoch)
        self.val.append(val)
        self.train.append(train)
        last = len(self.val) - 1
        improved = self.best_index < 0 or s * val < s * self.best_value
        if improved:
            self.best_index = last
            self.streak = 0
            self.onset_epoch = -1
            self.detected_epoch = -1
        best_val = self.best_value
        best_train = self.train[self.best_index]
        gl = 100.0 * s * relative_change(val, best_val)
        start = max(self.best_index, last - self.window + 1)
        trend = linear_trend([s * v for v in self.val[start:]])
        degrading = (
            gl >= self.min_gl
            and trend.p_value < self.significance
            and s * train < s * best_train
        )
        self.streak = self.streak + 1 if degrading else 0
        detected = self.onset_epoch < 0 and self.streak >= self.patience
        if detected:
            self.onset_epoch = self.best_epoch
            self.detected_epoch = epoch
            self.alarms.append([self.onset_epoch, self.detected_epoch])
        self.figures = {
            "overfit_gap": s * (val - train),
            "overfit_gap_ratio": s * relative_change(val, train),
            "overfit_gl": gl,
            "overfit_val_slope": s * trend.slope,
            "overfit_val_slope_p": trend.p_value,
            "overfit_onset_epoch": float(self.onset_epoch),
        }
        if detected:
            return self._stop(
                f"overfitting detected at epoch {epoch + 1}: {self.monitor} has "
                f"degraded since epoch {self.onset_epoch + 1} (best "
                f"{best_val:.4g})",
                improved=improved,
            )
        return Decision(improved=improved)

    def summary(self) -> str:
        """One line: where overfitting began and how far each value moved.

        Epochs are counted from 1, as in Keras's progress bar.
        """
        monitor, train_monitor = self.monitor, self.train_key
        if not self.val:
            return f"no finite `{monitor}` was recorded."
        if self.onset_epoch < 0:
            return (
                f"no overfitting detected in {len(self.val)} epochs; best "
                f"{monitor} {self.best_value:.4g} at epoch {self.best_epoch + 1}."
            )
        onset_val, onset_train = self.value_at(self.onset_epoch)
        val_change = 100.0 * relative_change(self.val[-1], onset_val)
        train_change = 100.0 * relative_change(self.train[-1], onset_train)
        verb = "fell" if train_change < 0 else "rose"
        return (
            f"overfitting began at epoch {self.onset_epoch + 1}: {monitor} "
            f"{val_change:+.0f}% from its best while {train_monitor} {verb} "
            f"{abs(train_change):.0f}%."
        )
