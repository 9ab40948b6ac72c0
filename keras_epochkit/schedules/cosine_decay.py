"""Cosine decay to the end of the budget."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_epochkit.schedules.budget_schedule import BudgetSchedule


@keras.saving.register_keras_serializable(package="keras_epochkit")
class CosineDecay(BudgetSchedule):
    """Warm-up, then half a cosine from the peak to the floor at the budget's end.

    After the warm-up the rate is `final + (peak - final) * (1 + cos(pi * p)) / 2`
    with `p` the fraction of the post-warm-up steps done (Loshchilov and
    Hutter's SGDR without restarts), reaching `final_learning_rate` exactly at
    step `total_steps`.

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
        name: the schedule's name. Defaults to `"CosineDecay"`.

    Examples:
        >>> import keras_epochkit as ek
        >>> schedule = ek.schedules.CosineDecay(0.1, total_steps=100)
        >>> [round(float(schedule(step)), 4) for step in (0, 50, 100, 200)]
        [0.1, 0.05, 0.0, 0.0]
    """

    def _shape(self, progress, xp=ops):
        return 0.5 * (1.0 + xp.cos(math.pi * progress))
