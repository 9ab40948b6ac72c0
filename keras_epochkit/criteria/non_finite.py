"""Stop as soon as the monitored value is NaN or infinite."""

from __future__ import annotations

import math

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit.criteria._best import BestTracking
from keras_epochkit.criteria.decision import Decision


@serializable
class NonFinite(BestTracking):
    """Stops at the first epoch whose monitored value is NaN or infinite.

    A run whose loss has become NaN does not recover; stopping at once
    saves the rest of the budget, and `EarlyStopping` restores the best
    weights seen before it.

    Args:
        monitor: the key of `logs` to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`; only used to report
            improvements. Defaults to `"auto"`.

    State: `best`, the best finite value so far.

    Examples:
        >>> from keras_epochkit.criteria import NonFinite
        >>> rule = NonFinite(monitor="loss")
        >>> rule.update(0, {"loss": 0.5}).stop, rule.update(1, {"loss": float("nan")}).stop
        (False, True)
    """

    stop_reason = StopReason.NON_FINITE
    stage = 0

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        value = self._read(logs)
        if value is None:
            return Decision()
        if not math.isfinite(value):
            return self._stop(f"{self.monitor} is {value} at epoch {epoch + 1}")
        return Decision(improved=self._track(value))
