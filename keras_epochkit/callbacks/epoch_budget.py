"""Binds a budget schedule's horizon to `fit(epochs=..., steps_per_epoch=...)`."""

from __future__ import annotations

from keras_epochkit.callbacks import _budget
from keras_epochkit.callbacks._stateful import StatefulCallback
from keras_epochkit.schedules.budget_schedule import BudgetSchedule


class EpochBudget(StatefulCallback):
    """Makes the learning-rate schedule end exactly when `fit` ends.

    At the first epoch of every `fit` it reads `params["epochs"]` and
    `params["steps"]` (the steps per epoch) and binds the horizon of the
    optimizer's keras-epochkit schedule to

        horizon = optimizer.iterations + (epochs - epoch) * steps_per_epoch,

    so the schedule reaches its floor at the last step of the last epoch. The
    optimizer's iteration count is the truth for the position: after a resume
    (weights and optimizer restored, `initial_epoch` set) the schedule
    continues at the right step, and a fresh `fit(initial_epoch=k)` spreads
    the schedule over the epochs that remain. When the number of steps is
    unknown (a generator without `steps_per_epoch`), the first epoch's steps
    are counted meanwhile, with the schedule holding its warm-up or initial
    rate, and the horizon is bound at its end. A re-target never makes the
    learning rate jump (see `keras_epochkit.schedules.BudgetSchedule.bind`).
    It adds `learning_rate` (the rate for the next step) to the epoch logs.

    The callback attaches the schedule to the optimizer (see
    `BudgetSchedule.attach`) so that the horizon reaches the compiled train
    step on every backend; nothing is undone at the end of `fit`, so a failed
    `fit` leaves the optimizer as a finished one does.

    State (`get_state`/`set_state`): the bound horizon `total_steps` and the
    `steps_per_epoch` it was computed with; its `state_key` is `"EpochBudget"`.

    Args:
        schedule: the schedule to bind; it must be the optimizer's learning
            rate. Defaults to `None` (the optimizer's learning rate, which
            must be a `keras_epochkit.schedules` schedule).
        verbose: 1 prints the horizon when it is bound. Defaults to `0`.

    Examples:
        >>> import numpy as np, keras
        >>> import keras_epochkit as ek
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> y = x.sum(axis=1, keepdims=True)
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> schedule = ek.schedules.LinearDecay(0.05)
        >>> model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
        >>> history = model.fit(x, y, batch_size=16, epochs=4, verbose=0,
        ...                     callbacks=[ek.callbacks.EpochBudget()])
        >>> schedule.total_steps
        16
        >>> [round(lr, 4) for lr in history.history["learning_rate"]]
        [0.0375, 0.025, 0.0125, 0.0]
    """

    def __init__(self, schedule: BudgetSchedule | None = None, verbose: int = 0):
        super().__init__()
        if schedule is not None and not isinstance(schedule, BudgetSchedule):
            raise ValueError(
                "`schedule` must be a keras_epochkit.schedules schedule or None; "
                f"received {type(schedule).__name__}"
            )
        self.schedule = schedule
        self.verbose = int(verbose)
        self._schedule = None
        self.reset_state()
        self._epoch_start = 0
        self._batches_seen = 0
        # The batch hook only counts batches, so Keras may run it off the
        # training thread: overriding it would otherwise make Keras convert
        # every batch's logs on the spot, a device sync per batch.
        self.async_safe = True

    def set_model(self, model) -> None:
        super().set_model(model)
        # Attaching before fit builds its train function keeps the schedule's
        # variable among the optimizer's variables from the start.
        if _budget.inner_optimizer(model) is not None:
            self._schedule = _budget.resolve_schedule(
                model, self.schedule, "EpochBudget", required=True
            )

    def reset_state(self) -> None:
        """Forgets the horizon; the next epoch binds it afresh."""
        self.total_steps: int | None = None
        self.steps_per_epoch: int | None = None
        self._bound = False

    def on_train_begin(self, logs=None) -> None:
        self._schedule = _budget.resolve_schedule(
            self.model, self.schedule, "EpochBudget", required=True
        )
        super().on_train_begin(logs)
        if self.total_steps is not None:  # a state restored before fit
            self._schedule.bind(int(self.total_steps), _budget.iterations(self.model))
            self._bound = True
            return
        steps = self.params.get("steps")
        self.steps_per_epoch = int(steps) if steps else None

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch_start = _budget.iterations(self.model)
        self._batches_seen = 0
        if not self._bound and self.steps_per_epoch:
            self._bind(epoch, self._epoch_start, self.params["epochs"] - epoch)

    def on_train_batch_end(self, batch, logs=None) -> None:
        if not self._bound:
            # Run asynchronously, batch ends may arrive out of order.
            self._batches_seen = max(self._batches_seen, batch + 1)

    def on_epoch_end(self, epoch, logs=None) -> None:
        step = _budget.iterations(self.model)
        if not self._bound:
            # The batch index, not the iteration count: with an unsized
            # dataset TensorFlow counts one extra iteration at the epoch's end.
            counted = self._batches_seen
            if counted > 0:
                self.steps_per_epoch = counted
                self._bind(epoch, step, self.params["epochs"] - epoch - 1)
        if logs is not None:
            logs["learning_rate"] = _budget.current_learning_rate(self.model, step)

    def _bind(self, epoch: int, step: int, epochs_left: int) -> None:
        self.total_steps = max(step + epochs_left * self.steps_per_epoch, 1)
        self._schedule.bind(self.total_steps, step)
        self._bound = True
        if self.verbose:
            print(
                f"{type(self).__name__}: epoch {epoch + 1}: step {step}, "
                f"schedule ends at step {self.total_steps} ({epochs_left} epochs of "
                f"{self.steps_per_epoch} steps)."
            )

    def _get_state(self) -> dict:
        """The bound horizon and the steps per epoch it was computed with."""
        return {
            "total_steps": self.total_steps,
            "steps_per_epoch": self.steps_per_epoch,
        }

    def _set_state(self, state: dict) -> None:
        """Restores the horizon; the schedule continues at the optimizer's step."""
        self.total_steps = state.get("total_steps")
        self.steps_per_epoch = state.get("steps_per_epoch")
        if self.total_steps is not None and self._schedule is not None:
            self._schedule.bind(int(self.total_steps), _budget.iterations(self.model))
            self._bound = True
