"""`OverfittingMonitor`: logs gap and trend figures and finds the onset."""

from __future__ import annotations

import warnings
from typing import Any

import keras

from keras_epochkit._core import monitor as monitor_core
from keras_epochkit._core.config import arguments_config
from keras_epochkit._core.config import arguments_of
from keras_epochkit._core.monitor import check_mode
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_bool
from keras_epochkit._core.validation import check_choice
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import check_str
from keras_epochkit.callbacks import _budget
from keras_epochkit.callbacks._stateful import StatefulCallback
from keras_epochkit.criteria._overfitting import FIGURES
from keras_epochkit.criteria._overfitting import OverfittingDetector

_ACTIONS = (None, "warn", "stop", "reduce_lr")


class OverfittingMonitor(StatefulCallback):
    """Watches the gap between training and validation and finds overfitting.

    At every epoch end it computes six numbers, kept in `figures`. The first,
    `overfit_gap`, is added to `logs` (so `History`, `CSVLogger` and
    `TensorBoard` placed after it in the callback list record it); with
    `log_figures=True` all six are:

    - `overfit_gap`: `val_loss - loss` (for `mode="max"`, `acc - val_acc`), so
      a positive gap means validation is worse than training.
    - `overfit_gap_ratio`: the gap divided by `|loss|`.
    - `overfit_gl`: Prechelt's generalization loss, the percentage by which the
      validation value is worse than its best so far:
      `100 * (val_loss / min(val_loss) - 1)`.
    - `overfit_val_slope`: the least-squares slope per epoch of the validation
      value over the last `window` epochs, leaving out those before its best
      epoch so far (the trend since the best).
    - `overfit_val_slope_p`: the one-sided p-value of a t-test (n - 2 degrees
      of freedom) of that slope against "no trend", in the direction of
      getting worse; 1 with fewer than three epochs.
    - `overfit_onset_epoch`: the (0-based) onset epoch once overfitting is
      detected, `-1` before.

    **Onset.** Let `b` be the epoch of the best validation value so far.
    An epoch *degrades* when (1) its `overfit_gl` is at least `min_gl`,
    (2) its `overfit_val_slope_p` is below `significance`, and (3) the
    training value is better than it was at `b`. Validation degrades
    *persistently* when `patience` consecutive epochs degrade with no new best
    in between; overfitting is then detected and its onset is `b`, the epoch
    from which validation kept getting worse while training kept improving.
    A later new best validation value clears the onset (`-1` again), since
    the degradation did not last, and detection starts over. Epochs whose
    values are NaN or infinite are ignored. The defaults were chosen on the
    EpochBench learning curves (see the "Detecting overfitting" guide for
    their detection and false-alarm rates).

    At train end it prints one line (with `verbose=1`) and keeps it in
    `summary`, e.g. "overfitting began at epoch 14: val_loss +23% from its best
    while loss fell 40%." (epochs counted from 1 in messages, as in Keras's
    progress bar; from 0 in `logs` and attributes, as in Keras callbacks).
    The detection itself is `keras_epochkit.analysis`'s too: `analyze`
    replays the same model-free detector on recorded logs.

    Args:
        monitor: Validation quantity to watch. Defaults to `"val_loss"`.
        train_monitor: Its training counterpart. Defaults to `None`, which
            drops the `"val_"` prefix of `monitor`.
        mode: One of `"auto"`, `"min"`, `"max"`: whether lower or higher
            values are better; `"auto"` infers it from the name (losses and
            errors: min; accuracies and scores: max). Defaults to `"auto"`.
        window: Number of most recent epochs in the slope test (none before
            the best epoch so far), at least 3. Defaults to `12`.
        significance: p-value below which the slope counts as a real rise.
            Defaults to `0.05`.
        patience: Consecutive degrading epochs that make the degradation
            persistent. Defaults to `3`.
        min_gl: Smallest generalization loss, in percent, that counts as
            degradation. Defaults to `5.0`.
        action: What to do when overfitting is detected: `None` (only log and
            report), `"warn"` (a `UserWarning`), `"stop"` (set
            `model.stop_training`) or `"reduce_lr"` (multiply the learning
            rate by `factor`, then again after every further `patience`
            degrading epochs). With a learning-rate schedule, `"reduce_lr"`
            needs a schedule with a `scale` property and a `set_scale(value)`
            method, as keras-epochkit's schedules have; any other schedule
            raises a `TypeError` at train begin. A keras-epochkit schedule
            that no other callback attached is attached to the optimizer
            (so the new scale reaches the compiled train step; see
            `BudgetSchedule.attach`). Defaults to `None`.
        factor: Multiplier of the learning rate (or schedule scale) for
            `action="reduce_lr"`, in (0, 1). Defaults to `0.5`.
        min_lr: Floor for a plain (non-schedule) learning rate. Defaults to
            `0.0`.
        verbose: 0 (silent) or 1 (print on detection and at train end).
            Defaults to `1`.
        log_figures: whether to add all six figures to `logs` instead of
            `overfit_gap` alone. Defaults to `False`.

    Attributes:
        onset_epoch: 0-based onset epoch, or `-1`.
        detected_epoch: epoch at which the current onset was detected, or `-1`.
        stopped_epoch: epoch at which `action="stop"` stopped training, or `-1`.
        stop_reason: `StopReason.OVERFITTING` once `action="stop"` has
            stopped training, `None` before.
        stop_message: the detection sentence, `""` until it stops.
        lr_reductions: how many times `action="reduce_lr"` reduced the rate.
        figures: the six figures of the last epoch (empty before any).
        summary: the train-end line (empty before train end).

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> x = np.random.rand(64, 4).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> monitor = ek.callbacks.OverfittingMonitor(verbose=0)
        >>> history = model.fit(x, y, validation_split=0.25, epochs=3,
        ...                     callbacks=[monitor], verbose=0)
        >>> sorted(k for k in history.history if k.startswith("overfit_"))
        ['overfit_gap']
        >>> sorted(monitor.figures)
        ['overfit_gap', 'overfit_gap_ratio', 'overfit_gl', 'overfit_onset_epoch',
         'overfit_val_slope', 'overfit_val_slope_p']
        >>> monitor.onset_epoch
        -1
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        train_monitor: str | None = None,
        mode: str = "auto",
        window: int = 12,
        significance: float = 0.05,
        patience: int = 3,
        min_gl: float = 5.0,
        action: str | None = None,
        factor: float = 0.5,
        min_lr: float = 0.0,
        verbose: int = 1,
        log_figures: bool = False,
    ):
        super().__init__()
        self.monitor = check_str("monitor", monitor)
        self.train_monitor = train_monitor
        self.mode = check_mode(mode)
        self.action = check_choice("action", action, _ACTIONS)
        self.factor = check_number("factor", factor, 0.0, 1.0, strict=True)
        self.min_lr = check_number("min_lr", min_lr, minimum=0.0)
        self.verbose = check_choice("verbose", verbose, (0, 1))
        self.log_figures = check_bool("log_figures", log_figures)
        self.detector = OverfittingDetector(
            **arguments_of(OverfittingDetector, locals())
        )
        self.train_key = self.detector.train_key
        self.window = self.detector.window
        self.significance = self.detector.significance
        self.patience = self.detector.patience
        self.min_gl = self.detector.min_gl
        self._missing = monitor_core.MissingMonitorWarning("OverfittingMonitor")
        self.reset_state()

    def reset_state(self) -> None:
        """Forgets the run: called by every `on_train_begin` not resuming."""
        self.detector.reset()
        self.stopped_epoch = -1
        self.stop_reason: StopReason | None = None
        self.stop_message = ""
        self.lr_reductions = 0
        self.summary = ""

    @property
    def onset_epoch(self) -> int:
        return self.detector.onset_epoch

    @property
    def detected_epoch(self) -> int:
        return self.detector.detected_epoch

    @property
    def figures(self) -> dict[str, float]:
        return dict(self.detector.figures)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments."""
        return arguments_config(self, {})

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OverfittingMonitor:
        """Rebuilds a monitor from `get_config()`."""
        return cls(**config)

    def _get_state(self) -> dict[str, Any]:
        """The detector's state plus `stopped_epoch`, `stop_reason` and
        `lr_reductions`, as JSON-able values."""
        return {
            **self.detector.get_state(),
            "stopped_epoch": self.stopped_epoch,
            "stop_reason": None if self.stop_reason is None else self.stop_reason.name,
            "stop_message": self.stop_message,
            "lr_reductions": self.lr_reductions,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.detector.set_state(state)
        self.stopped_epoch = int(state["stopped_epoch"])
        reason = state.get("stop_reason")
        self.stop_reason = None if reason is None else StopReason[reason]
        self.stop_message = str(state.get("stop_message", ""))
        self.lr_reductions = int(state["lr_reductions"])
        self.summary = ""

    # --- Keras hooks -------------------------------------------------------
    def set_model(self, model) -> None:
        super().set_model(model)
        # `fit` builds the optimizer, then hands the model to its callbacks,
        # then prepares the train step: attaching here puts the schedule's
        # state among the optimizer's variables before that. Keras 3.10 and
        # 3.11 on JAX record the optimizer's variables at that point and
        # fail on one added later, in `on_train_begin`.
        if self.action == "reduce_lr" and getattr(model, "optimizer", None) is not None:
            optimizer, rate = self._optimizer_and_rate()
            if optimizer.built:
                self._attach(optimizer, rate)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._missing.reset()
        if self.detector._mode is None:
            self.detector._mode = monitor_core.resolve_mode(
                self.monitor, self.mode, owner="OverfittingMonitor", model=self.model
            )
        if self.action == "reduce_lr":
            self._check_learning_rate()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        self._missing.check(logs, [self.monitor])
        detector = self.detector
        decision = detector.update(epoch, logs)
        if not detector.figures:
            return
        if self.log_figures:
            logs.update(detector.figures)
        else:
            logs[FIGURES[0]] = detector.figures[FIGURES[0]]
        if decision.stop:
            self._on_detection(int(epoch), decision.message)
        elif (
            self.action == "reduce_lr"
            and detector.onset_epoch >= 0
            and detector.streak > self.patience
            and detector.streak % self.patience == 0
        ):
            self._reduce_learning_rate(epoch)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        self.summary = "OverfittingMonitor: " + self.detector.summary()
        if self.verbose:
            print(self.summary)

    # --- helpers -----------------------------------------------------------
    def _on_detection(self, epoch: int, message: str) -> None:
        message = f"OverfittingMonitor: {message}."
        if self.action == "warn":
            warnings.warn(message, UserWarning, stacklevel=2)
        elif self.action == "stop":
            self.model.stop_training = True
            self.stopped_epoch = epoch
            self.stop_reason = StopReason.OVERFITTING
            self.stop_message = message
            message += " Stopping training."
        elif self.action == "reduce_lr":
            self._reduce_learning_rate(epoch)
            return
        if self.verbose:
            print(message)

    def _optimizer_and_rate(self):
        optimizer = _budget.inner_optimizer(self.model)
        return optimizer, _budget.learning_rate_schedule(optimizer)

    def _check_learning_rate(self) -> None:
        if getattr(self.model, "optimizer", None) is None:
            raise ValueError(
                "OverfittingMonitor(action='reduce_lr') needs a compiled model "
                "with an optimizer."
            )
        optimizer, rate = self._optimizer_and_rate()
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            if not (
                hasattr(rate, "scale") and callable(getattr(rate, "set_scale", None))
            ):
                raise TypeError(
                    "OverfittingMonitor(action='reduce_lr') cannot reduce the "
                    f"learning rate: it is a {type(rate).__name__} schedule, "
                    "which has no `scale` property and `set_scale(value)` "
                    "method. Use a keras_epochkit schedule, a float learning "
                    "rate, or another `action`."
                )
            self._attach(optimizer, rate)
        elif callable(rate):
            raise TypeError(
                "OverfittingMonitor(action='reduce_lr') cannot reduce a "
                "learning rate given as a plain callable; use a float, a "
                "keras_epochkit schedule, or another `action`."
            )

    @staticmethod
    def _attach(optimizer, rate) -> None:
        # keras_epochkit schedules keep `scale` in a variable the compiled
        # train step reads; on JAX it must be the optimizer's, which `attach`
        # creates once.
        if callable(getattr(rate, "attach", None)) and not getattr(
            rate, "attached", True
        ):
            rate.attach(optimizer)

    def _reduce_learning_rate(self, epoch: int) -> None:
        optimizer, rate = self._optimizer_and_rate()
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            old = float(rate.scale)
            new = old * self.factor
            rate.set_scale(new)
            what = "learning-rate scale"
        else:
            old = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            new = max(old * self.factor, self.min_lr)
            if new >= old:
                return
            optimizer.learning_rate = new
            what = "learning rate"
        self.lr_reductions += 1
        if self.verbose:
            print(
                f"OverfittingMonitor: epoch {epoch + 1}: {self.monitor} keeps "
                f"degrading; {what} reduced from {old:.4g} to {new:.4g}."
            )
