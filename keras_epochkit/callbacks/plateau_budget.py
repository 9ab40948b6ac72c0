"""Lets the learning curve decide the epoch budget: cool down at a plateau."""

from __future__ import annotations

import math

from keras_epochkit._core import monitor as monitor_core
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import check_str
from keras_epochkit._core.validation import invalid
from keras_epochkit.callbacks import _budget
from keras_epochkit.callbacks.epoch_budget import EpochBudget
from keras_epochkit.criteria._smoothing import Smoother
from keras_epochkit.schedules.budget_schedule import BudgetSchedule


class PlateauBudget(EpochBudget):
    """Ends the budget when the monitored value plateaus, after a cool-down.

    `fit(epochs=...)` becomes a cap. Until the plateau, the callback binds
    the schedule's horizon to that cap exactly as `EpochBudget` does, so
    with `WarmupStableDecay` the rate holds its peak. At the end of an epoch
    where the monitored value has stalled, it shrinks the budget: the
    horizon moves to `cooldown` times the epochs run so far from now, so
    the schedule's decay runs over the next few epochs, and training stops
    when it ends (`stop_reason` is `StopReason.COOLED_DOWN`). A run that
    never stalls is bound to the cap, as with `EpochBudget`, and so is one
    whose cap comes before the end of the cool-down.

    The monitored value has stalled when its smoothed best has improved,
    over the last `window` epochs, by less than `min_progress` of its whole
    improvement since the first epoch: `0.02` means the last `window`
    epochs brought less than 2% of the progress made so far. The smoothing
    is an exponential moving average with factor `2 / (smoothing_window +
    1)`, so one lucky epoch does not count as progress. The test measures
    progress against the run's own scale, so it needs no `min_delta` in the
    monitor's units, and a long slow creep of a validation loss counts as a
    plateau, where a patience rule keeps waiting as long as each small
    improvement resets its count.

    With `WarmupStableDecay(decay_fraction=0.2)` and the default
    `cooldown=0.25`, the new horizon puts the start of the decay at the
    plateau: the rate holds its peak until then and decays over the next
    quarter of the epochs run. Any other budget schedule continues from
    where it is and spreads the rest of its shape over the cool-down (see
    `keras_epochkit.schedules.BudgetSchedule.bind`). Combine it with
    `EarlyStopping(restore_best_weights=True)` to keep the best epoch.

    Attributes `plateau_epoch` (0-based epoch whose end started the
    cool-down, or `None`), `stopped_epoch` (0-based, or `None`),
    `stop_reason` (`None` until it stops) and `stop_message` tell what
    happened.

    State (`get_state`/`set_state`): `EpochBudget`'s, plus the smoothed
    monitor, its recent bests and the cool-down's last epoch; its
    `state_key` is `"PlateauBudget[<monitor>]"`.

    Args:
        monitor: the key of the epoch logs to watch. Defaults to
            `"val_loss"`.
        window: epochs over which progress is measured, >= 1. Defaults to
            `8`.
        min_progress: the share of the progress so far that the last
            `window` epochs must bring, in `[0, 1)`. Larger values cool
            down sooner. Defaults to `0.02`.
        cooldown: the cool-down's length as a share of the epochs run so
            far, > 0 (at least one epoch). Defaults to `0.25`.
        mode: `"min"`, `"max"` or `"auto"` (from the monitor's name).
            Defaults to `"auto"`.
        smoothing_window: the span of the moving average, in epochs, >= 1
            (1 means no smoothing). Defaults to `3`.
        schedule: the schedule to bind; it must be the optimizer's learning
            rate. Defaults to `None` (the optimizer's learning rate, which
            must be a `keras_epochkit.schedules` schedule).
        verbose: 1 prints the horizon when it is bound or shrunk, and the
            stop. Defaults to `0`.

    Examples:
        >>> import numpy as np, keras
        >>> import keras_epochkit as ek
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(256, 4)).astype("float32")
        >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
        >>> keras.utils.set_random_seed(0)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> schedule = ek.schedules.WarmupStableDecay(0.05, decay_fraction=0.2)
        >>> model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
        >>> budget = ek.callbacks.PlateauBudget(monitor="loss")
        >>> history = model.fit(x, y, batch_size=32, epochs=100, verbose=0,
        ...                     callbacks=[budget])
        >>> len(history.history["loss"]) < 100, budget.stop_reason.name
        (True, 'COOLED_DOWN')
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        window: int = 8,
        min_progress: float = 0.02,
        cooldown: float = 0.25,
        mode: str = "auto",
        smoothing_window: int = 3,
        schedule: BudgetSchedule | None = None,
        verbose: int = 0,
    ):
        self.monitor = check_str("monitor", monitor)
        self.window = check_int("window", window, minimum=1)
        self.min_progress = check_number("min_progress", min_progress, 0.0, 1.0)
        if self.min_progress == 1.0:
            raise invalid("min_progress", "a number in [0, 1)", min_progress)
        self.cooldown = check_number("cooldown", cooldown, 0.0, strict=True)
        self.mode = monitor_core.check_mode(mode)
        self.smoothing_window = check_int(
            "smoothing_window", smoothing_window, minimum=1
        )
        self._smoother = Smoother("ema", self.smoothing_window)
        super().__init__(schedule=schedule, verbose=verbose)
        self._missing = monitor_core.MissingMonitorWarning("PlateauBudget")
        self._mode = None

    def reset_state(self) -> None:
        """Forgets the horizon, the monitor's history and any cool-down."""
        super().reset_state()
        self.plateau_epoch: int | None = None
        self.cooldown_end: int | None = None
        self.stopped_epoch: int | None = None
        self.stop_reason: StopReason | None = None
        self.stop_message = ""
        self._first: float | None = None
        self._smoother.reset()
        self._bests: list[float] = []

    def on_train_begin(self, logs=None) -> None:
        super().on_train_begin(logs)
        self._missing.reset()
        self._mode = monitor_core.resolve_mode(
            self.monitor, self.mode, owner="PlateauBudget", model=self.model
        )

    def on_epoch_end(self, epoch, logs=None) -> None:
        super().on_epoch_end(epoch, logs)
        if self.cooldown_end is not None:
            if epoch >= self.cooldown_end:
                self._stop(epoch)
            return
        self._missing.check(logs, [self.monitor])
        value = monitor_core.read(logs, self.monitor, owner="PlateauBudget")
        if value is None or not math.isfinite(value):
            return  # no validation this epoch, or a value no one can rank
        if self._observe(value) and self._bound and self.steps_per_epoch:
            self._cool_down(epoch)

    def _observe(self, value: float) -> bool:
        """Adds one epoch's value; whether the monitor has now stalled."""
        smoothed = self._smoother(value if self._mode == "min" else -value)
        if self._first is None:
            self._first = smoothed
        best = min(smoothed, self._bests[-1]) if self._bests else smoothed
        self._bests = [*self._bests, best][-(self.window + 1) :]
        if len(self._bests) <= self.window:
            return False
        progress = self._first - best
        recent = self._bests[0] - best
        return progress > 0 and recent < self.min_progress * progress

    def _cool_down(self, epoch: int) -> None:
        epochs = max(1, math.ceil(self.cooldown * (epoch + 1)))
        step = _budget.iterations(self.model)
        horizon = step + epochs * self.steps_per_epoch
        if self.total_steps is not None and horizon >= self.total_steps:
            return  # the cap ends training sooner: nothing to shrink
        self.plateau_epoch = epoch
        self.cooldown_end = epoch + epochs
        self.total_steps = horizon
        self._schedule.bind(horizon, step)
        if self.verbose:
            print(
                f"PlateauBudget: epoch {epoch + 1}: `{self.monitor}` has "
                f"plateaued; cooling down over {epochs} epochs, to end at "
                f"epoch {self.cooldown_end + 1} (step {horizon})."
            )

    def _stop(self, epoch: int) -> None:
        self.model.stop_training = True
        self._record_stop(
            epoch,
            StopReason.COOLED_DOWN,
            f"`{self.monitor}` plateaued at epoch {self.plateau_epoch + 1}; "
            f"cooled down until epoch {epoch + 1}",
        )

    def _get_state(self) -> dict:
        """The horizon, the smoothed monitor, its recent bests and the cool-down."""
        return {
            **super()._get_state(),
            "first": self._first,
            "smoother": self._smoother.get_state(),
            "bests": list(self._bests),
            "plateau_epoch": self.plateau_epoch,
            "cooldown_end": self.cooldown_end,
        }

    def _set_state(self, state: dict) -> None:
        super()._set_state(state)
        self._first = state.get("first")
        self._smoother.set_state(state.get("smoother", {}))
        self._bests = [float(b) for b in state.get("bests", [])]
        self.plateau_epoch = state.get("plateau_epoch")
        self.cooldown_end = state.get("cooldown_end")
