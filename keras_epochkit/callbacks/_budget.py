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
    rate = getattr(optimizer, "_learning_rate", None)
    if schedule is not None and rate is not schedule:
        raise ValueError(
            f"{owner}(schedule=...) must be the optimizer's learning rate; the "
            f"optimizer's learning rate is {_describe(rate)}. Pass the schedule "
            "to the optimizer, e.g. keras.optimizers.SGD(learning_rate=schedule)."
        )
    if not isinstance(rate, BudgetSchedule):
        if not required:
            return None
        raise ValueError(
            f"{owner} cannot bind the learning rate: it is {_describe(rate)}, not "
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


def current_learning_rate(model) -> float:
    optimizer = inner_optimizer(model)
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _describe(rate) -> str:
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return f"a {type(rate).__name__} schedule"
    if isinstance(rate, keras.Variable):
        return f"a fixed value ({float(keras.ops.convert_to_numpy(rate)):.4g})"
    return repr(rate)
