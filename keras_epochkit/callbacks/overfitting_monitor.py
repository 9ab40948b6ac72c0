"""`OverfittingMonitor`: logs gap and trend figures and finds the onset."""

from __future__ import annotations

import warnings
from typing import Any

import keras

from keras_epochkit.analysis._overfitting import OverfittingTracker
from keras_epochkit.analysis._overfitting import resolve_mode
from keras_epochkit.analysis._overfitting import train_key_for

_ACTIONS = (None, "warn", "stop", "reduce_lr")


class OverfittingMonitor(keras.callbacks.Callback):
    """Watches the gap between training and validation and finds overfitting.

    At every epoch end it adds six numbers to `logs` (so `History`,
    `CSVLogger` and `TensorBoard` placed after it in the callback list record
    them):

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
            for the run (so the new scale reaches the compiled train step)
            and detached at train end. Defaults to `None`.
        factor: Multiplier of the learning rate (or schedule scale) for
            `action="reduce_lr"`, in (0, 1). Defaults to `0.5`.
        min_lr: Floor for a plain (non-schedule) learning rate. Defaults to
            `0.0`.
        verbose: 0 (silent) or 1 (print on detection and at train end).
            Defaults to `1`.

    Attributes:
        onset_epoch: 0-based onset epoch, or `-1`.
        detected_epoch: epoch at which the current onset was detected, or `-1`.
        stopped_epoch: epoch at which `action="stop"` stopped training, or `-1`.
        lr_reductions: how many times `action="reduce_lr"` reduced the rate.
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
    ):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"`monitor` must be a non-empty string; got {monitor!r}.")
        if train_monitor is None:
            train_key = train_key_for(monitor)
        elif isinstance(train_monitor, str) and train_monitor:
            train_key = train_monitor
        else:
            raise ValueError(
                "`train_monitor` must be None or a non-empty string; got "
                f"{train_monitor!r}."
            )
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                f"`mode` must be one of 'auto', 'min', 'max'; got {mode!r}."
            )
        if isinstance(window, bool) or not isinstance(window, int) or window < 3:
            raise ValueError(f"`window` must be an integer >= 3; got {window!r}.")
        if not 0.0 < significance < 1.0:
            raise ValueError(
                f"`significance` must be in the open interval (0, 1); got "
                f"{significance!r}."
            )
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"`patience` must be an integer >= 1; got {patience!r}.")
        if not min_gl >= 0.0:
            raise ValueError(f"`min_gl` must be a number >= 0; got {min_gl!r}.")
        if action not in _ACTIONS:
            raise ValueError(
                "`action` must be one of None, 'warn', 'stop', 'reduce_lr'; got "
                f"{action!r}."
            )
        if not 0.0 < factor < 1.0:
            raise ValueError(
                f"`factor` must be in the open interval (0, 1); got {factor!r}."
            )
        if not min_lr >= 0.0:
            raise ValueError(f"`min_lr` must be a number >= 0; got {min_lr!r}.")
        if verbose not in (0, 1):
            raise ValueError(f"`verbose` must be 0 or 1; got {verbose!r}.")
        self.monitor = monitor
        self.train_monitor = train_monitor
        self.train_key = train_key
        self.mode = mode
        self.window = window
        self.significance = float(significance)
        self.patience = patience
        self.min_gl = float(min_gl)
        self.action = action
        self.factor = float(factor)
        self.min_lr = float(min_lr)
        self.verbose = verbose
        self._tracker = OverfittingTracker(
            resolve_mode(monitor, mode),
            window=window,
            significance=self.significance,
            patience=patience,
            min_gl=self.min_gl,
        )
        self._restored = False
        self._attached_schedule = None
        self._reset()

    def _reset(self) -> None:
        self._tracker.reset()
        self.stopped_epoch = -1
        self.lr_reductions = 0
        self.summary = ""

    @property
    def onset_epoch(self) -> int:
        return self._tracker.onset_epoch

    @property
    def detected_epoch(self) -> int:
        return self._tracker.detected_epoch

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments."""
        return {
            "monitor": self.monitor,
            "train_monitor": self.train_monitor,
            "mode": self.mode,
            "window": self.window,
            "significance": self.significance,
            "patience": self.patience,
            "min_gl": self.min_gl,
            "action": self.action,
            "factor": self.factor,
            "min_lr": self.min_lr,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OverfittingMonitor:
        """Rebuilds a monitor from `get_config()`."""
        return cls(**config)

    def get_state(self) -> dict[str, Any]:
        """Returns the detector's state as JSON-able values.

        It holds the finite (epoch, validation, training) values seen so far,
        the index of the best one, the current run of degrading epochs, the
        onset and detection epochs, every detection made (`alarms`, as
        `[onset, detected]` pairs), `stopped_epoch` and `lr_reductions`.
        """
        state = self._tracker.get_state()
        state["stopped_epoch"] = self.stopped_epoch
        state["lr_reductions"] = self.lr_reductions
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores a `get_state()` result.

        Called before `fit` (or between `on_train_begin` and the first epoch,
        as a resuming `BackupAndRestore` does), the restored state is kept by
        that run's `on_train_begin` instead of being reset.
        """
        self._tracker.set_state(state)
        self.stopped_epoch = int(state["stopped_epoch"])
        self.lr_reductions = int(state["lr_reductions"])
        self.summary = ""
        self._restored = True

    # --- Keras hooks -------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self._restored:
            self._restored = False
        else:
            self._reset()
        if self.action == "reduce_lr":
            self._check_learning_rate()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        values = self._read(logs)
        if values is None:
            return
        tracker = self._tracker
        before = tracker.detected_epoch
        logs.update(tracker.update(epoch, *values))
        if tracker.onset_epoch < 0:
            return
        if tracker.detected_epoch == int(epoch) and before != int(epoch):
            self._on_detection(epoch)
        elif (
            self.action == "reduce_lr"
            and tracker.streak > self.patience
            and tracker.streak % self.patience == 0
        ):
            self._reduce_learning_rate(epoch)

    def on_train_end(self, logs=None):
        self._restored = False
        if self._attached_schedule is not None:
            self._attached_schedule.detach()
            self._attached_schedule = None
        self.summary = "OverfittingMonitor: " + self._tracker.summary(
            self.monitor, self.train_key
        )
        if self.verbose:
            print(self.summary)

    # --- helpers -----------------------------------------------------------
    def _read(self, logs) -> tuple[float, float] | None:
        if self.monitor not in logs:
            if self.monitor.startswith("val_") and not any(
                key.startswith("val_") for key in logs
            ):
                return None  # validation did not run this epoch
            raise ValueError(
                f"OverfittingMonitor: `monitor={self.monitor!r}` is not in the "
                f"epoch logs. Keys present: {sorted(logs)}."
            )
        if self.train_key not in logs:
            raise ValueError(
                f"OverfittingMonitor: the training key {self.train_key!r} is not "
                f"in the epoch logs. Keys present: {sorted(logs)}. Set "
                "`train_monitor=`."
            )
        return float(logs[self.monitor]), float(logs[self.train_key])

    def _on_detection(self, epoch: int) -> None:
        tracker = self._tracker
        best_val, _ = tracker.value_at(tracker.onset_epoch)
        message = (
            f"OverfittingMonitor: overfitting detected at epoch {epoch + 1}; "
            f"{self.monitor} has degraded since epoch {tracker.onset_epoch + 1} "
            f"(best {best_val:.4g})."
        )
        if self.action == "warn":
            warnings.warn(message, UserWarning, stacklevel=2)
        elif self.action == "stop":
            self.model.stop_training = True
            self.stopped_epoch = int(epoch)
            message += " Stopping training."
        elif self.action == "reduce_lr":
            self._reduce_learning_rate(epoch)
            return
        if self.verbose:
            print(message)

    def _optimizer_and_rate(self):
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        return optimizer, getattr(optimizer, "_learning_rate", None)

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
            # keras_epochkit schedules keep `scale` in an optimizer variable
            # once attached, so a change reaches the compiled train step.
            if callable(getattr(rate, "attach", None)) and not getattr(
                rate, "attached", True
            ):
                rate.attach(optimizer)
                self._attached_schedule = rate
        elif callable(rate):
            raise TypeError(
                "OverfittingMonitor(action='reduce_lr') cannot reduce a "
                "learning rate given as a plain callable; use a float, a "
                "keras_epochkit schedule, or another `action`."
            )

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
