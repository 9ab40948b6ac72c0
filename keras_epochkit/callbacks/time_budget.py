"""Finish training on time: re-target the schedule and stop before a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_bool
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import check_verbose
from keras_epochkit._core.validation import invalid
from keras_epochkit.callbacks import _budget
from keras_epochkit.callbacks._stateful import StatefulCallback
from keras_epochkit.distribute import sync
from keras_epochkit.schedules.budget_schedule import BudgetSchedule


class TimeBudget(StatefulCallback):
    """Ends training cleanly before a wall-clock deadline, schedule included.

    The deadline is `minutes` after the start of `fit` (plus any time already
    spent in a resumed run). At every epoch end the callback measures the
    epoch's duration, forecasts how many more epochs fit in the remaining
    time (the slower of the last two epochs, each timed from the end of its
    first batch and scaled to all its batches, so compiling in the first
    batch does not count as a cost of every epoch),
    re-targets the optimizer's keras-epochkit schedule, if there is one, so
    its learning rate reaches the schedule's end value at the last epoch that
    fits, and stops when no further epoch fits. With `stop_mid_epoch=True` it
    also stops at a batch end when the next batch would pass the deadline,
    for epochs too long to stop between. So training never runs past the
    deadline by more than the misforecast of one epoch (or batch).

    By default the callback keeps Keras's batch ends off the training thread
    (`async_safe`): its batch hook only notes when the epoch's first batch
    ended, so Keras needs no device sync per batch for it. With
    `stop_mid_epoch=True` the hook must decide before the next batch starts,
    so it runs on the training thread: Keras then converts every batch's
    logs there, a device sync per batch, which costs training time on
    backends that dispatch asynchronously (JAX, PyTorch). Use it only for
    epochs too long to stop between.

    The decision is the same on every process of a multi-process run: the
    elapsed time and the forecast are the maxima over the processes
    (`keras_epochkit.distribute.max_across_processes`), so every process
    stops at the same epoch and none waits for another. Callbacks run once
    per process, so the replicas of one process agree by construction.

    Attributes `stopped_epoch` (0-based, or `None`), `stop_reason`
    (`StopReason.TIME_BUDGET` once it stops, `None` before), `stop_message`
    and `elapsed_seconds` tell what happened.

    State (`get_state`/`set_state`): the seconds already spent, so a resumed
    run keeps its deadline.

    Args:
        minutes: the time budget in minutes, > 0.
        schedule: the schedule to re-target; it must be the optimizer's
            learning rate. Defaults to `None` (the optimizer's learning rate
            when it is a `keras_epochkit.schedules` schedule; otherwise the
            callback only stops on time).
        stop_mid_epoch: also stop at a batch end when the next batch would
            pass the deadline; this adds a device sync per batch (see
            above). Defaults to `False`.
        clock: a function returning seconds, for tests. Defaults to
            `time.monotonic`.
        verbose: 1 prints the forecast each epoch and the stop. Defaults
            to `0`.

    Examples:
        >>> import numpy as np, keras
        >>> import keras_epochkit as ek
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> schedule = ek.schedules.LinearDecay(0.05)
        >>> model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
        >>> now = [0.0]                      # a fake clock: 10 s per batch
        >>> class Tick(keras.callbacks.Callback):
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         now[0] += 10.0
        >>> budget = ek.callbacks.TimeBudget(minutes=3, clock=lambda: now[0])
        >>> history = model.fit(x, y, batch_size=16, epochs=100, verbose=0,
        ...                     callbacks=[Tick(), budget])
        >>> len(history.history["loss"]), now[0], budget.stopped_epoch
        (4, 160.0, 3)
        >>> round(float(model.optimizer.learning_rate), 6)
        0.0
    """

    def __init__(
        self,
        minutes: float,
        schedule: BudgetSchedule | None = None,
        stop_mid_epoch: bool = False,
        clock: Callable[[], float] | None = None,
        verbose: int = 0,
    ):
        super().__init__()
        self.minutes = check_number("minutes", minutes, minimum=0.0, strict=True)
        if schedule is not None and not isinstance(schedule, BudgetSchedule):
            raise invalid(
                "schedule", "a keras_epochkit.schedules schedule or None", schedule
            )
        if clock is not None and not callable(clock):
            raise invalid("clock", "a callable or None", clock)
        self.schedule = schedule
        self.stop_mid_epoch = check_bool("stop_mid_epoch", stop_mid_epoch)
        self.clock = clock or time.monotonic
        self.verbose = check_verbose(verbose)
        self._schedule = None
        self._started = None
        self.reset_state()

    @property
    def async_safe(self) -> bool:
        """Whether Keras may run the batch hook off the training thread.

        True unless `stop_mid_epoch`: then the hook must stop training
        before the next batch starts, so it runs synchronously.
        """
        return not self.stop_mid_epoch

    def reset_state(self) -> None:
        """Forgets the time spent: called by every `on_train_begin` not resuming."""
        self._spent_before = 0.0
        self.stopped_epoch: int | None = None
        self.stop_reason: StopReason | None = None
        self.stop_message = ""

    @property
    def budget_seconds(self) -> float:
        return self.minutes * 60.0

    @property
    def elapsed_seconds(self) -> float:
        """Seconds spent so far, including those of a resumed run."""
        if self._started is None:
            return self._spent_before
        return self._spent_before + (self.clock() - self._started)

    def set_model(self, model) -> None:
        super().set_model(model)
        if _budget.inner_optimizer(model) is not None:
            self._schedule = _budget.resolve_schedule(
                model, self.schedule, "TimeBudget", required=self.schedule is not None
            )

    def on_train_begin(self, logs=None) -> None:
        self._schedule = _budget.resolve_schedule(
            self.model, self.schedule, "TimeBudget", required=self.schedule is not None
        )
        super().on_train_begin(logs)
        self._started = self.clock()
        self._forecasts = []
        self._first_batch_ends = {}
        self._first_batches = float("inf")
        self._epoch = 0
        self._batch_seconds = 0.0
        self.stopped_epoch = None
        self.stop_reason = None
        self.stop_message = ""
        self._steps_per_epoch = self.params.get("steps")
        self._bound = False

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = epoch
        self._epoch_started = self.clock()
        self._first_batch_ends = {}
        self._first_batches = float("inf")
        self._epoch_step = _budget.iterations(self.model)
        if self._schedule is not None and not self._bound and self._steps_per_epoch:
            # Until an epoch is measured, plan for the epochs `fit` asked for.
            epochs_left = self.params["epochs"] - epoch
            self._schedule.bind(
                self._epoch_step + epochs_left * int(self._steps_per_epoch),
                self._epoch_step,
            )
            self._bound = True

    def on_train_batch_begin(self, batch, logs=None) -> None:
        if self.stop_mid_epoch:
            self._batch_started = self.clock()

    def on_train_batch_end(self, batch, logs=None) -> None:
        if batch + 1 < self._first_batches:
            # Off the training thread, batch ends may arrive out of order and
            # concurrently: each candidate stores its own entry (one atomic
            # dict store), and the epoch's end reads the earliest batch's.
            # Keras converted this batch's logs first, so its step is done.
            self._first_batch_ends.setdefault(batch + 1, self.clock())
            self._first_batches = min(self._first_batches, batch + 1)
        if not self.stop_mid_epoch:
            return
        seconds = self.clock() - self._batch_started
        self._batch_seconds = max(seconds, 0.5 * self._batch_seconds)
        remaining = self.budget_seconds - self.elapsed_seconds
        if sync.any_process(remaining < self._batch_seconds):
            self.model.stop_training = True
            self._stop(self._epoch, "the next batch would pass the deadline")

    def on_epoch_end(self, epoch, logs=None) -> None:
        now = self.clock()
        step = _budget.iterations(self.model)
        self._forecasts.append(self._steady_epoch_seconds(now))
        steps = step - self._epoch_step
        if steps > 0:
            self._steps_per_epoch = steps
        if self.stopped_epoch is not None:
            self.stopped_epoch = epoch
            return
        forecast = sync.max_across_processes(max(self._forecasts[-2:]))
        elapsed = sync.max_across_processes(self.elapsed_seconds)
        remaining = self.budget_seconds - elapsed
        fits = int(remaining // forecast) if forecast > 0 else 10**9
        epochs_left = self.params["epochs"] - epoch - 1
        planned = max(min(fits, epochs_left), 0)
        if self.verbose:
            print(
                f"TimeBudget: epoch {epoch + 1}: {elapsed:.1f}s of "
                f"{self.budget_seconds:.1f}s used, about {forecast:.1f}s per "
                f"epoch, {planned} more epoch(s) planned."
            )
        if self._schedule is not None and self._steps_per_epoch:
            self._schedule.bind(max(step + planned * self._steps_per_epoch, 1), step)
        if fits < 1 and epochs_left > 0:
            self.model.stop_training = True
            self._stop(epoch, "no further epoch fits")

    def _steady_epoch_seconds(self, now: float) -> float:
        """The epoch's duration without its first batch, scaled to all batches."""
        whole = now - self._epoch_started
        if not self._first_batch_ends:
            return whole
        first_batches = min(self._first_batch_ends)
        first_end = self._first_batch_ends[first_batches]
        batches = self._batches_in_epoch()
        if batches is None or batches <= first_batches:
            return whole
        return (now - first_end) * batches / (batches - first_batches)

    def _batches_in_epoch(self):
        steps = self._steps_per_epoch
        return int(steps) if steps else None

    def on_train_end(self, logs=None) -> None:
        super().on_train_end(logs)
        self._spent_before = self.elapsed_seconds
        self._started = None

    def _stop(self, epoch: int, why: str) -> None:
        self._record_stop(
            epoch,
            StopReason.TIME_BUDGET,
            f"stopped after {self.elapsed_seconds:.1f}s of "
            f"{self.budget_seconds:.1f}s: {why}",
        )

    def _get_state(self) -> dict:
        return {"elapsed_seconds": float(self.elapsed_seconds)}

    def _set_state(self, state: dict) -> None:
        """Restores the time spent, so the deadline stays where it was."""
        self._spent_before = float(state["elapsed_seconds"])
        if self._started is not None:
            self._started = self.clock()
