"""The base class of keras-epochkit's budget-aware learning-rate schedules."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_epochkit._core.config import arguments_config
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import invalid

# Layout of the schedule's state vector (one float32 variable).
_WARMUP, _HORIZON, _ANCHOR_STEP, _ANCHOR_PROGRESS, _SCALE = range(5)
_STATE_SIZE = 5
_STATE_NAMES = (
    "warmup_steps",
    "total_steps",
    "anchor_step",
    "anchor_progress",
    "scale",
)


@keras.saving.register_keras_serializable(package="keras_epochkit")
class BudgetSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Base class of the schedules that know where the training budget ends.

    A budget schedule has two phases. During the warm-up (the first
    `warmup_steps` optimizer steps, or the first `warmup_fraction` of the
    horizon) the rate rises from `warmup_learning_rate` to the peak
    `learning_rate`. After it, the rate follows the subclass's shape over the
    remaining steps, from the peak down to `final_learning_rate` at step
    `total_steps`, and stays there past the end. Everything is multiplied by
    `scale` (1.0 unless `set_scale` changed it).

    The horizon (`total_steps`) can be given here, or bound later by
    `keras_epochkit.callbacks.EpochBudget` or `TimeBudget` from `fit()`. A
    schedule that is never bound and has no `total_steps` holds its peak rate
    after the warm-up (a warm-up given in steps still runs).

    **State inside the compiled step.** The schedule is computed from the
    optimizer's step inside the compiled train step. The values that may
    change during `fit` (horizon, warm-up length, the re-target anchor and
    `scale`) live in one small `keras.Variable` that the schedule creates and
    owns, so changing them between epochs takes effect without retracing.
    TensorFlow and PyTorch read that variable in the compiled step as it is.
    JAX's compiled step only sees the variables it is handed (the model's and
    the optimizer's): there `attach(optimizer)` creates the state through the
    optimizer's public `add_variable`, once, and the schedule reads it from
    then on. `EpochBudget` and `TimeBudget` attach the schedule themselves;
    call `attach` yourself to change `scale` or the horizon from another
    callback. Nothing is ever removed from the optimizer, so a failed `fit`
    leaves it as a finished one does. `get_state`/`set_state` give the state
    as plain numbers (`BackupAndRestore` keeps it with every backup).

    **Re-targeting.** `bind(total_steps, step)` changes the horizon at the
    current step without a jump in the learning rate: when the schedule's
    closed form for the new horizon gives the rate it has now (during the
    warm-up or a constant phase) the closed form is used; otherwise the
    schedule continues from where it is and spreads the rest of its shape
    over the remaining steps.

    Subclasses implement `_shape(progress)`, a function from the decay
    progress in `[0, 1]` to a fraction in `[0, 1]` (1 at the start, 0 at the
    end), with `keras.ops`.

    Args:
        learning_rate: the peak learning rate, reached at the end of the
            warm-up.
        total_steps: the horizon in optimizer steps, or `None` to let a
            callback bind it. Defaults to `None`.
        warmup_steps: length of the warm-up in steps. Defaults to `0`.
        warmup_fraction: length of the warm-up as a fraction of the horizon,
            in `[0, 1)`; exclusive with `warmup_steps`. It is resolved to
            steps when the horizon is first known. Defaults to `0.0`.
        warmup_learning_rate: the rate at step 0 of the warm-up. Defaults
            to `0.0`.
        final_learning_rate: the floor reached at the end of the horizon.
            Defaults to `0.0`.
        name: the schedule's name. Defaults to the class name.
    """

    # Constructor arguments kept under another attribute name (for get_config).
    _config_attributes: dict[str, str] = {"total_steps": "initial_total_steps"}

    def __init__(
        self,
        learning_rate: float,
        total_steps: int | None = None,
        warmup_steps: int = 0,
        warmup_fraction: float = 0.0,
        warmup_learning_rate: float = 0.0,
        final_learning_rate: float = 0.0,
        name: str | None = None,
    ):
        super().__init__()
        self.learning_rate = check_number("learning_rate", learning_rate, 0.0)
        if self.learning_rate == 0:
            raise invalid("learning_rate", "a finite number > 0", learning_rate)
        self.warmup_learning_rate = check_number(
            "warmup_learning_rate", warmup_learning_rate, 0.0
        )
        self.final_learning_rate = check_number(
            "final_learning_rate", final_learning_rate, 0.0
        )
        if total_steps is not None:
            total_steps = check_int("total_steps", total_steps, 1)
        self.initial_total_steps = total_steps
        self.warmup_steps = check_int("warmup_steps", warmup_steps, 0)
        self.warmup_fraction = check_number("warmup_fraction", warmup_fraction, 0.0)
        if self.warmup_fraction >= 1.0:
            raise invalid("warmup_fraction", "a number in [0, 1)", warmup_fraction)
        if warmup_steps and warmup_fraction:
            raise ValueError(
                "Give the warm-up either in steps (`warmup_steps`) or as a "
                "fraction of the horizon (`warmup_fraction`), not both; "
                f"received warmup_steps={warmup_steps}, "
                f"warmup_fraction={warmup_fraction}"
            )
        if total_steps is not None and warmup_steps >= total_steps:
            raise ValueError(
                "`warmup_steps` must be smaller than `total_steps`; received "
                f"warmup_steps={warmup_steps}, total_steps={total_steps}"
            )
        self.name = name or type(self).__name__
        self._optimizer = None
        # The schedule's own state; on JAX, attach() moves the reads to an
        # optimizer variable, which is what JAX's compiled step is handed.
        self._state = keras.Variable(
            self._initial_state(self.initial_total_steps),
            trainable=False,
            dtype="float32",
            name="budget_schedule_state",
        )
        self._optimizer_state = None

    # ----------------------------------------------------------------- state
    def _initial_state(self, total_steps: int | None) -> np.ndarray:
        state = np.zeros(_STATE_SIZE, dtype="float32")
        state[_SCALE] = 1.0
        state[_WARMUP] = self.warmup_steps
        if total_steps is not None:
            state[_HORIZON] = total_steps
            state[_WARMUP] = self._resolve_warmup(total_steps)
        state[_ANCHOR_STEP] = state[_WARMUP]
        return state

    def _resolve_warmup(self, total_steps: int) -> int:
        if self.warmup_fraction:
            return round(self.warmup_fraction * total_steps)
        return self.warmup_steps

    def _carrier(self) -> keras.Variable:
        """The variable the compiled train step reads."""
        if self._optimizer_state is not None:
            return self._optimizer_state
        return self._state

    def _read_state(self) -> np.ndarray:
        value = ops.convert_to_numpy(self._carrier().value)
        return np.array(value, dtype="float32")

    def _write_state(self, state: np.ndarray) -> None:
        state = np.asarray(state, dtype="float32")
        self._state.assign(state)
        if self._optimizer_state is not None:
            self._optimizer_state.assign(state)

    @property
    def attached(self) -> bool:
        """Whether `attach` tied the schedule to an optimizer."""
        return self._optimizer is not None

    def attach(self, optimizer: keras.optimizers.Optimizer) -> None:
        """Makes changes of the state reach `optimizer`'s compiled train step.

        Idempotent, and permanent for that optimizer. On JAX it creates the
        schedule's state as a variable of `optimizer` through the optimizer's
        public `add_variable`, once: JAX's compiled step is handed the
        optimizer's variables and no other state. On TensorFlow and PyTorch
        the compiled step reads the schedule's own variable and nothing is
        added. Call it before `fit` starts training: a callback's `set_model`
        is the place, as `EpochBudget` and `TimeBudget` do (`on_train_begin`
        also works from Keras 3.12 on; Keras 3.10 and 3.11 on JAX fix the
        optimizer's variables before it).

        A schedule serves one optimizer: attaching it to a second one raises
        `ValueError`.

        Args:
            optimizer: the `keras.optimizers.Optimizer` whose learning
                rate is this schedule.
        """
        if self._optimizer is not None:
            if self._optimizer is optimizer:
                return
            raise ValueError(
                f"The schedule {self.name!r} is attached to another optimizer; "
                "give each optimizer its own schedule."
            )
        if keras.backend.backend() == "jax":
            self._optimizer_state = optimizer.add_variable(
                shape=(_STATE_SIZE,),
                initializer=keras.initializers.Constant(self._read_state()),
                dtype="float32",
                name="budget_schedule_state",
            )
        self._optimizer = optimizer

    def detach(self) -> None:
        """Does nothing; kept so that code written for 0.x keeps running.

        The schedule's state never moves in or out of the optimizer any more
        (see `attach`), so there is nothing to undo at the end of `fit`.
        """

    def get_state(self) -> dict[str, float]:
        """The changeable state as plain numbers (horizon, anchor, scale...).

        Returns:
            A dict with `warmup_steps`, `total_steps` (0 while unbound),
            `anchor_step`, `anchor_progress` and `scale`.
        """
        state = self._read_state()
        return {name: float(state[i]) for i, name in enumerate(_STATE_NAMES)}

    def set_state(self, state: dict[str, float]) -> None:
        """Puts back a state returned by `get_state`.

        Args:
            state: a dict from `get_state`.
        """
        missing = [name for name in _STATE_NAMES if name not in state]
        if missing:
            raise ValueError(
                "`state` must be a dict returned by get_state(); "
                f"received state without {missing}"
            )
        self._write_state(
            np.array([float(state[name]) for name in _STATE_NAMES], dtype="float32")
        )

    @property
    def total_steps(self) -> int | None:
        """The bound horizon in optimizer steps, or `None` while unbound."""
        horizon = float(self._read_state()[_HORIZON])
        return round(horizon) if horizon > 0 else None

    @property
    def scale(self) -> float:
        """The multiplier applied to the whole schedule (1.0 by default)."""
        return float(self._read_state()[_SCALE])

    def set_scale(self, value: float) -> None:
        """Multiplies the whole schedule by `value` from the next step on.

        Args:
            value: a finite number > 0.
        """
        value = check_number("scale", value, 0.0, strict=True)
        state = self._read_state()
        state[_SCALE] = value
        self._write_state(state)

    def bind(self, total_steps: int, step: int = 0) -> None:
        """Sets the horizon to `total_steps`, at optimizer step `step`.

        The learning rate at `step` does not change (see the class notes).

        Args:
            total_steps: the new horizon, in optimizer steps from step 0.
            step: the optimizer's current step. Defaults to `0`.
        """
        total_steps = int(total_steps)
        step = int(step)
        if total_steps < 1:
            raise ValueError(f"`total_steps` must be >= 1; received {total_steps}")
        old = self._read_state()
        new = old.copy()
        if old[_HORIZON] <= 0:
            # First binding: resolve the warm-up, without cutting one short.
            warmup = self._resolve_warmup(total_steps)
            if step > 0 and self.warmup_fraction:
                warmup = min(warmup, step)
            new[_WARMUP] = warmup
        new[_HORIZON] = total_steps
        new[_ANCHOR_STEP] = new[_WARMUP]
        new[_ANCHOR_PROGRESS] = 0.0
        now = self._evaluate(step, old)
        if step > new[_WARMUP] and not np.isclose(
            self._evaluate(step, new), now, rtol=1e-6, atol=1e-12
        ):
            # Continue from the current point of the decay.
            new[_ANCHOR_STEP] = step
            new[_ANCHOR_PROGRESS] = self._progress_at(step, old)
        self._write_state(new)

    def _evaluate(self, step: int, state: np.ndarray) -> float:
        """The rate at `step` under `state`, computed on the host in NumPy."""
        return float(self._value(step, state, np))

    def _progress_at(self, step: int, state: np.ndarray) -> float:
        return float(self._progress(np.float32(step), state, np))

    def value_at(self, step: int) -> float:
        """The learning rate at optimizer step `step`, as a Python float.

        Computed on the host from the schedule's current state, with the
        same formula as the compiled step (float32): one small read of the
        state, no device computation. Callbacks use it to log the rate.

        Args:
            step: an optimizer step (`optimizer.iterations`).

        Returns:
            The rate as a Python float.

        Examples:
            >>> import keras_epochkit as ek
            >>> schedule = ek.schedules.CosineDecay(0.1, total_steps=100)
            >>> round(schedule.value_at(50), 4)
            0.05
        """
        return self._evaluate(int(step), self._read_state())

    # ------------------------------------------------------------------ math
    # Each formula takes the array namespace it computes with: `keras.ops`
    # inside the compiled step, NumPy on the host (`value_at`, `bind`).
    def _progress(self, step, state, xp=ops):
        horizon = state[_HORIZON]
        anchor_step = state[_ANCHOR_STEP]
        anchor_progress = state[_ANCHOR_PROGRESS]
        span = xp.maximum(horizon - anchor_step, 1.0)
        progress = (
            anchor_progress + (1.0 - anchor_progress) * (step - anchor_step) / span
        )
        progress = xp.clip(progress, 0.0, 1.0)
        # Unbound: hold the start of the decay.
        return xp.where(horizon > 0, progress, xp.zeros_like(progress))

    def _warmup_shape(self, fraction, xp=ops):
        """Fraction of the way from the warm-up rate to the peak; linear."""
        return fraction

    def _shape(self, progress, xp=ops):
        raise NotImplementedError

    def _value(self, step, state, xp=ops):
        step = ops.cast(step, "float32") if xp is ops else np.float32(step)
        warmup = state[_WARMUP]
        fraction = xp.clip(step / xp.maximum(warmup, 1.0), 0.0, 1.0)
        warm = self.warmup_learning_rate + (
            self.learning_rate - self.warmup_learning_rate
        ) * self._warmup_shape(fraction, xp)
        decay = self.final_learning_rate + (
            self.learning_rate - self.final_learning_rate
        ) * self._shape(self._progress(step, state, xp), xp)
        return xp.where(step < warmup, warm, decay) * state[_SCALE]

    def __call__(self, step):
        state = ops.cast(self._carrier().value, "float32")
        return self._value(step, [state[i] for i in range(_STATE_SIZE)])

    def get_config(self) -> dict:
        """Every constructor argument, read from its attribute."""
        return arguments_config(self, self._config_attributes)
