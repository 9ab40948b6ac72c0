"""Why training stopped: one enum, with a human message per member."""

from __future__ import annotations

import enum


class StopReason(enum.IntEnum):
    """Why a callback or a stopping criterion ended training.

    Every keras-epochkit callback that can stop training exposes
    `stop_reason`: `None` until it stops, then one of these members. Its
    `message` is the human sentence; the callback's `stop_message` adds the
    figures of the run (the monitor, the epochs waited, ...). The integer
    value is the stop code that lands in logs when asked for (0 means not
    stopped), so a number in a CSV file maps back with `StopReason(code)`.

    Examples:
        >>> from keras_epochkit.criteria import StopReason
        >>> StopReason.PATIENCE.message
        'the monitored value stopped improving'
        >>> StopReason(4) is StopReason.PATIENCE
        True
    """

    NON_FINITE = 1
    TARGET_REACHED = 2
    DIVERGED = 3
    PATIENCE = 4
    BASELINE_NOT_REACHED = 5
    GENERALIZATION_LOSS = 6
    PROGRESS_QUOTIENT = 7
    UP_STRIPS = 8
    NO_FORECAST_GAIN = 9
    TIME_BUDGET = 10
    OVERFITTING = 11
    COOLED_DOWN = 12

    @property
    def message(self) -> str:
        """A short human sentence saying why training stopped."""
        return _MESSAGES[self]


_MESSAGES = {
    StopReason.NON_FINITE: "the monitored value became NaN or infinite",
    StopReason.TARGET_REACHED: "the monitored value reached its target",
    StopReason.DIVERGED: "the monitored value diverged",
    StopReason.PATIENCE: "the monitored value stopped improving",
    StopReason.BASELINE_NOT_REACHED: "the monitored value never beat the baseline",
    StopReason.GENERALIZATION_LOSS: "the generalization loss passed its threshold",
    StopReason.PROGRESS_QUOTIENT: (
        "the generalization loss outgrew the training progress"
    ),
    StopReason.UP_STRIPS: "the validation error rose in successive strips",
    StopReason.NO_FORECAST_GAIN: (
        "the learning-curve forecast sees no gain within the budget"
    ),
    StopReason.TIME_BUDGET: "the time budget allows no further epoch",
    StopReason.OVERFITTING: "overfitting was detected",
    StopReason.COOLED_DOWN: (
        "the learning rate cooled down after the monitored value plateaued"
    ),
}
