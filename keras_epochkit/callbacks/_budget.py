"""Finding, attaching and reading the budget schedule behind an optimizer."""

from __future__ import annotations

import keras

from keras_epochkit.schedules.budget_schedule import BudgetSchedule


def inner_optimizer(model):
    optimizer = getattr(model, "optimizer", None)
    return getattr(optimizer, "inner_optimizer", optimizer)


def resolve_schedule(model, schedule, owner: str, *, required: bool):
    """Returns the budget schedule driving `model`'s optimizer, attached to it.

    Raises `ValueError` when the optimizer's learning rate is not `schedule`
    (when given) or is not a keras-epochkit budget schedule (when `required`).
    """
    optimizer = inner_optimizer(model)
    if optimizer is None:
        raise ValueError(f"{owner} needs a compiled model with an optimizer.")
    rate = learning_rate_schedule(optimizer)
    if schedule is not None and rate is not schedule:
        raise ValueError(
            f"{owner}(schedule=...) must be the optimizer's learning rate; the "
            f"optimizer's learning rate is {_describe(optimizer, rate)}. Pass the "
            "schedule to the optimizer, e.g. "
            "keras.optimizers.SGD(learning_rate=schedule)."
        )
    if not isinstance(rate, BudgetSchedule):
        if not required:
            return None
        raise ValueError(
            f"{owner} cannot bind the learning rate: it is "
            f"{_describe(optimizer, rate)}, not "
            "a bindable budget schedule. Use one of keras_epochkit.schedules "
            "(LinearDecay, CosineDecay, WarmupStableDecay, OneCycle, Constant) "
            "as the optimizer's learning_rate."
        )
    rate.attach(optimizer)
    return rate


def iterations(model) -> int:
    """The optimizer's step count (a host read, once per epoch)."""
    optimizer = inner_optimizer(model)
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


def current_learning_rate(model, step: int | None = None) -> float:
    """The optimizer's learning rate now; `step` is its step count if known.

    A budget schedule's rate is computed on the host from its state (no
    eager evaluation of the schedule's ops, which costs a millisecond a
    call on JAX); any other rate is read from the optimizer.
    """
    optimizer = inner_optimizer(model)
    schedule = learning_rate_schedule(optimizer)
    if isinstance(schedule, BudgetSchedule):
        return schedule.value_at(iterations(model) if step is None else step)
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def learning_rate_schedule(optimizer):
    """The schedule (or callable) behind `optimizer`'s learning rate, or `None`.

    `None` means a fixed rate, whose value `optimizer.learning_rate` gives.
    Keras has no public accessor for the schedule object itself (the public
    `learning_rate` property returns its value at the current step), so this
    one function reads it where Keras 3 keeps it, `optimizer._learning_rate`,
    and fails with a clear error on a Keras that keeps it elsewhere.
    """
    major = keras.__version__.split(".")[0]
    if major != "3" or not hasattr(optimizer, "_learning_rate"):
        raise RuntimeError(
            "keras_epochkit finds the learning-rate schedule of an optimizer "
            "where Keras 3 keeps it (`optimizer._learning_rate`), as Keras "
            f"offers no public accessor for it; Keras {keras.__version__} "
            f"keeps it elsewhere ({type(optimizer).__name__}). Use Keras 3."
        )
    rate = optimizer._learning_rate
    if isinstance(rate, keras.Variable) or not callable(rate):
        return None
    return rate


def _describe(optimizer, rate) -> str:
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return f"a {type(rate).__name__} schedule"
    if rate is None:
        value = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        return f"a fixed value ({value:.4g})"
    return repr(rate)
