"""Warm-up, a long constant phase, then a short decay (WSD)."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_epochkit._core.config import arguments_of
from keras_epochkit._core.validation import check_choice
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import invalid
from keras_epochkit.schedules.budget_schedule import BudgetSchedule

DECAY_SHAPES = ("linear", "cosine", "1-sqrt")


@keras.saving.register_keras_serializable(package="keras_epochkit")
class WarmupStableDecay(BudgetSchedule):
    """Warm-up, constant peak rate, then a decay over the last `decay_fraction`.

    The warmup-stable-decay ("trapezoidal") schedule studied by Hägele et al.
    (2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed Training
    Durations"): the rate holds `learning_rate` after the warm-up and decays
    to `final_learning_rate` over the last `decay_fraction` of the
    post-warm-up steps, with a linear, cosine or `1 - sqrt` shape. A re-target
    during the constant phase simply moves the decay, so the schedule suits
    budgets that change while training.

    Args:
        learning_rate: the peak (stable) learning rate.
        total_steps: the horizon in optimizer steps, or `None` to let
            `EpochBudget` or `TimeBudget` bind it. Defaults to `None`.
        decay_fraction: the share of the post-warm-up steps spent decaying,
            in `(0, 1]`. Defaults to `0.2`.
        decay_shape: `"linear"`, `"cosine"` or `"1-sqrt"`. Defaults to
            `"1-sqrt"`.
        warmup_steps: length of the warm-up in steps. Defaults to `0`.
        warmup_fraction: length of the warm-up as a fraction of the horizon,
            exclusive with `warmup_steps`. Defaults to `0.0`.
        warmup_learning_rate: the rate at step 0 of the warm-up. Defaults
            to `0.0`.
        final_learning_rate: the floor at the end of the horizon. Defaults
            to `0.0`.
        name: the schedule's name. Defaults to `"WarmupStableDecay"`.

    Examples:
        >>> import keras_epochkit as ek
        >>> schedule = ek.schedules.WarmupStableDecay(
        ...     0.1, total_steps=110, warmup_steps=10, decay_fraction=0.2,
        ...     decay_shape="linear")
        >>> [round(float(schedule(step)), 4) for step in (0, 10, 90, 100, 110)]
        [0.0, 0.1, 0.1, 0.05, 0.0]
    """

    def __init__(
        self,
        learning_rate: float,
        total_steps: int | None = None,
        decay_fraction: float = 0.2,
        decay_shape: str = "1-sqrt",
        warmup_steps: int = 0,
        warmup_fraction: float = 0.0,
        warmup_learning_rate: float = 0.0,
        final_learning_rate: float = 0.0,
        name: str | None = None,
    ):
        self.decay_fraction = check_number("decay_fraction", decay_fraction, 0.0, 1.0)
        if self.decay_fraction == 0:
            raise invalid("decay_fraction", "a number in (0, 1]", decay_fraction)
        self.decay_shape = check_choice("decay_shape", decay_shape, DECAY_SHAPES)
        super().__init__(**arguments_of(BudgetSchedule, locals()))

    def _shape(self, progress, xp=ops):
        start = 1.0 - self.decay_fraction
        q = xp.clip((progress - start) / self.decay_fraction, 0.0, 1.0)
        if self.decay_shape == "linear":
            return 1.0 - q
        if self.decay_shape == "cosine":
            return 0.5 * (1.0 + xp.cos(math.pi * q))
        return 1.0 - xp.sqrt(q)
