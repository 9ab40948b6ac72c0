"""Stop once the monitored value is hopelessly bad."""

from __future__ import annotations

from typing import Any

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_number
from keras_epochkit.criteria._best import BestTracking
from keras_epochkit.criteria.decision import Decision


@serializable
class Divergence(BestTracking):
    """Stops once the monitored value is worse than a threshold: hopeless.

    With `relative=False`, training stops at the first epoch whose value is
    worse than `threshold` itself (`monitor > threshold` in `"min"` mode,
    `monitor < threshold` in `"max"` mode). With `relative=True`, the
    threshold is a factor of the best finite value so far: in `"min"` mode
    training stops when `monitor > threshold * best`, in `"max"` mode when
    `monitor < best / threshold` (this assumes a positive monitored value,
    as losses and accuracies are).

    Args:
        threshold: the absolute threshold, or with `relative=True` a factor
            greater than 1.
        monitor: the key of `logs` to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`. Defaults to `"auto"`.
        relative: whether `threshold` is a factor of the best value.
            Defaults to `False`.

    State: `best`, the best finite value so far.

    Examples:
        >>> from keras_epochkit.criteria import Divergence
        >>> rule = Divergence(3.0, relative=True, mode="min")
        >>> stops = [rule.update(e, {"val_loss": v}).stop
        ...  for e, v in enumerate([1.0, 0.5, 1.2, 1.6])]
        >>> stops
        [False, False, False, True]
    """

    stop_reason = StopReason.DIVERGED
    stage = 2

    def __init__(
        self,
        threshold: float,
        monitor: str = "val_loss",
        mode: str = "auto",
        relative: bool = False,
    ) -> None:
        if not isinstance(relative, bool):
            raise ValueError(
                f"`relative` must be True or False; received relative={relative!r}."
            )
        self.relative = relative
        self.threshold = check_number(
            "threshold", threshold, minimum=1.0 if relative else None, strict=relative
        )
        super().__init__(monitor=monitor, mode=mode)

    def _limit(self) -> float | None:
        if not self.relative:
            return self.threshold
        if self.best is None:
            return None
        if self._mode == "min":
            return self.threshold * self.best
        return self.best / self.threshold

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        current = self._read(logs)
        if current is None:
            return Decision()
        improved = self._track(current)
        limit = self._limit()
        if limit is not None and (
            current > limit if self._mode == "min" else current < limit
        ):
            return self._stop(
                f"{self.monitor} diverged: {current:.6g} is worse than {limit:.6g}"
            )
        return Decision(improved=improved)

    def get_config(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            **super().get_config(),
            "relative": self.relative,
        }
