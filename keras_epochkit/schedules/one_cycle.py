"""The one-cycle policy of Smith and Topin."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_epochkit._core.validation import check_number
from keras_epochkit.schedules.budget_schedule import BudgetSchedule


@keras.saving.register_keras_serializable(package="keras_epochkit")
class OneCycle(BudgetSchedule):
    """One cycle: up from a low rate to the maximum, then down far below it.

    Smith and Topin's one-cycle policy (2018, "Super-Convergence") with
    cosine phases: the rate rises from `max_learning_rate / div_factor` to
    `max_learning_rate` over the warm-up (`warmup_fraction` of the horizon,
    30% by default, or `warmup_steps`), then anneals to
    `max_learning_rate / div_factor / final_div_factor` at step
    `total_steps`.

    Args:
        max_learning_rate: the peak learning rate.
        total_steps: the horizon in optimizer steps, or `None` to let
            `EpochBudget` or `TimeBudget` bind it. Defaults to `None`.
        warmup_fraction: the rising phase as a fraction of the horizon.
            Defaults to `0.3` unless `warmup_steps` is given.
        warmup_steps: the rising phase in steps instead. Defaults to `0`.
        div_factor: the start rate is `max_learning_rate / div_factor`.
            Defaults to `25.0`.
        final_div_factor: the final rate is the start rate divided by this.
            Defaults to `1e4`.
        name: the schedule's name. Defaults to `"OneCycle"`.

    Examples:
        >>> import keras_epochkit as ek
        >>> schedule = ek.schedules.OneCycle(0.1, total_steps=100)
        >>> [f"{float(schedule(step)):.1e}" for step in (0, 30, 100)]
        ['4.0e-03', '1.0e-01', '4.0e-07']
    """

    _config_attributes = {
        "total_steps": "initial_total_steps",
        "warmup_fraction": "_warmup_fraction_arg",
    }

    def __init__(
        self,
        max_learning_rate: float,
        total_steps: int | None = None,
        warmup_fraction: float | None = None,
        warmup_steps: int = 0,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        name: str | None = None,
    ):
        self.div_factor = check_number("div_factor", div_factor, 1.0)
        self.final_div_factor = check_number("final_div_factor", final_div_factor, 1.0)
        self.max_learning_rate = float(max_learning_rate)
        self._warmup_fraction_arg = warmup_fraction
        if warmup_fraction is None:
            warmup_fraction = 0.0 if warmup_steps else 0.3
        start = float(max_learning_rate) / self.div_factor
        super().__init__(
            max_learning_rate,
            total_steps=total_steps,
            warmup_steps=warmup_steps,
            warmup_fraction=warmup_fraction,
            warmup_learning_rate=start,
            final_learning_rate=start / self.final_div_factor,
            name=name,
        )

    def _warmup_shape(self, fraction, xp=ops):
        return 0.5 * (1.0 - xp.cos(math.pi * fraction))

    def _shape(self, progress, xp=ops):
        return 0.5 * (1.0 + xp.cos(math.pi * progress))
