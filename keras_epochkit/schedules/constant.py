"""A constant learning rate that takes part in budgets and scaling."""

from __future__ import annotations

import keras
from keras import ops

from keras_epochkit._core.config import arguments_of
from keras_epochkit.schedules.budget_schedule import BudgetSchedule


@keras.saving.register_keras_serializable(package="keras_epochkit")
class Constant(BudgetSchedule):
    """An optional warm-up, then the same rate until the end.

    The baseline of the budget family: it never decays, but it has the
    family's warm-up, `scale`/`set_scale` and horizon binding, so the same
    callbacks drive it (a `TimeBudget` with a `Constant` schedule only stops
    on time).

    Args:
        learning_rate: the rate after the warm-up.
        total_steps: the horizon in optimizer steps (only used to resolve
            `warmup_fraction`), or `None`. Defaults to `None`.
        warmup_steps: length of the warm-up in steps. Defaults to `0`.
        warmup_fraction: length of the warm-up as a fraction of the horizon,
            exclusive with `warmup_steps`. Defaults to `0.0`.
        warmup_learning_rate: the rate at step 0 of the warm-up. Defaults
            to `0.0`.
        name: the schedule's name. Defaults to `"Constant"`.

    Examples:
        >>> import keras_epochkit as ek
        >>> schedule = ek.schedules.Constant(0.01, warmup_steps=4)
        >>> [round(float(schedule(step)), 4) for step in (0, 2, 4, 1000)]
        [0.0, 0.005, 0.01, 0.01]
    """

    def __init__(
        self,
        learning_rate: float,
        total_steps: int | None = None,
        warmup_steps: int = 0,
        warmup_fraction: float = 0.0,
        warmup_learning_rate: float = 0.0,
        name: str | None = None,
    ):
        super().__init__(
            final_learning_rate=learning_rate,
            **arguments_of(BudgetSchedule, locals()),
        )

    def _shape(self, progress, xp=ops):
        return xp.ones_like(progress)
