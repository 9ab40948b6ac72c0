"""Stop once the monitored value is good enough."""

from __future__ import annotations

from typing import Any

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_number
from keras_epochkit.criteria._best import BestTracking
from keras_epochkit.criteria.decision import Decision


@serializable
class Target(BestTracking):
    """Stops once the monitored value reaches `value`: good enough, done.

    In `"min"` mode training stops at the first epoch with
    `monitor <= value`; in `"max"` mode at the first with `monitor >= value`.

    Args:
        value: the target value.
        monitor: the key of `logs` to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`. Defaults to `"auto"`.

    State: `best`, the best finite value so far.

    Examples:
        >>> from keras_epochkit.criteria import Target
        >>> rule = Target(0.9, monitor="val_accuracy")
        >>> stops = [rule.update(e, {"val_accuracy": v}).stop
        ...  for e, v in enumerate([0.7, 0.85, 0.91])]
        >>> stops
        [False, False, True]
    """

    stop_reason = StopReason.TARGET_REACHED
    stage = 1

    def __init__(
        self, value: float, monitor: str = "val_loss", mode: str = "auto"
    ) -> None:
        self.value = check_number("value", value)
        super().__init__(monitor=monitor, mode=mode)

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        current = self._read(logs)
        if current is None:
            return Decision()
        improved = self._track(current)
        reached = (
            current <= self.value if self._mode == "min" else current >= self.value
        )
        if reached:
            return self._stop(
                f"{self.monitor} reached the target {self.value:.6g} ({current:.6g})",
                improved=improved,
            )
        return Decision(improved=improved)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value, **super().get_config()}
