"""Linear decay to the end of the budget."""

from __future__ import annotations

import keras

from keras_epochkit.schedules.budget_schedule import BudgetSchedule


@keras.saving.register_keras_serializable(package="keras_epochkit")
class LinearDecay(BudgetSchedule):
    """Warm-up, then a straight line from the peak to the floor at the budget's end.

    The budget-aware schedule of Li, Yumer and Ramanan (ICLR 2020, "Budgeted
    Training"): the rate falls linearly from `learning_rate` right after the
    warm-up to `final_learning_rate` at step `total_steps`.

    Args:
        learning_rate: the peak learning rate.
        total_steps: the horizon in optimizer steps, or `None` to let
            `EpochBudget` or `TimeBudget` bind it. Defaults to `None`.
        warmup_steps: length of the warm-up in steps. Defaults to `0`.
        warmup_fraction: length of the warm-up as a fraction of the horizon,
            exclusive with `warmup_steps`. Defaults to `0.0`.
        warmup_learning_rate: the rate at step 0 of the warm-up. Defaults
            to `0.0`.
        final_learning_rate: the floor at the end of the horizon. Defaults
            to `0.0`.
        name: the schedule's name. Defaults to `"LinearDecay"`.

    Examples:
        >>> import keras_epochkit as ek
        >>> schedule = ek.schedules.LinearDecay(0.1, total_steps=100, warmup_steps=10)
        >>> [round(float(schedule(step)), 4) for step in (0, 5, 10, 55, 100, 120)]
        [0.0, 0.05, 0.1, 0.05, 0.0, 0.0]
    """

    def _shape(self, progress, xp=None):
        return 1.0 - progress
