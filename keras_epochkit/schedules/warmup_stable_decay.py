"""Warm-up, a long constant phase, then a short decay (WSD)."""

from __future__ import annotations

import math

import keras
from keras import ops

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
        if not (0.0 < float(decay_fraction) <= 1.0):
            raise ValueError(
                "`decay_fraction` must be in (0, 1]; "
                f"received decay_fraction={decay_fraction!r}"
            )
        if decay_shape not in DECAY_SHAPES:
            raise ValueError(
                f"`decay_shape` must be one of {DECAY_SHAPES}; "
                f"received decay_shape={decay_shape!r}"
            )
        self.decay_fraction = float(decay_fraction)
        self.decay_shape = decay_shape
        super().__init__(
            learning_rate,
            total_steps=total_steps,
            warmup_steps=warmup_steps,
            warmup_fraction=warmup_fraction,
            warmup_learning_rate=warmup_learning_rate,
            final_learning_rate=final_learning_rate,
            name=name,
        )

    def _shape(self, progress):
        start = 1.0 - self.decay_fraction
        q = ops.clip((progress - start) / self.decay_fraction, 0.0, 1.0)
        if self.decay_shape == "linear":
            return 1.0 - q
        if self.decay_shape == "cosine":
            return 0.5 * (1.0 + ops.cos(math.pi * q))
        return 1.0 - ops.sqrt(q)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(decay_fraction=self.decay_fraction, decay_shape=self.decay_shape)
        return config
