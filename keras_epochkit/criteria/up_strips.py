"""Prechelt's UP criterion: validation error up in several successive strips."""

from __future__ import annotations

from typing import Any

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_int
from keras_epochkit.criteria._prechelt import PrecheltCriterion
from keras_epochkit.criteria.decision import Decision


@serializable
class UpStrips(PrecheltCriterion):
    """Prechelt's UP_s: stops when the validation error rose in `s` successive strips.

    Epochs are grouped in strips of `strip` (k) epochs. UP_1 stops after the
    first end of strip t with E_va(t) > E_va(t - k); UP_s stops after epoch
    t when UP_(s-1) stopped after t - k and E_va(t) > E_va(t - k)
    (L. Prechelt, "Early Stopping — but when?", 1998): the error at the end
    of each of `s` successive strips is higher than at the end of the strip
    before. In `"max"` mode a rise of the error is a fall of the value.
    Epochs without the monitor are not counted.

    Args:
        s: the number of successive strips with a rise. Defaults to `3`.
        strip: the strip length k in epochs. Defaults to `5`.
        monitor: the validation error to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`. Defaults to `"auto"`.

    State: `optimum`, `seen`, `ups` (successive strips with a rise) and
    `previous` (the error at the end of the previous strip).

    Examples:
        >>> from keras_epochkit.criteria import UpStrips
        >>> rule = UpStrips(s=2, strip=1, mode="min")
        >>> stops = [rule.update(e, {"val_loss": v}).stop
        ...  for e, v in enumerate([1.0, 0.8, 0.9, 0.95])]
        >>> stops
        [False, False, False, True]
    """

    stop_reason = StopReason.UP_STRIPS
    stage = 3

    def __init__(
        self,
        s: int = 3,
        strip: int = 5,
        monitor: str = "val_loss",
        mode: str = "auto",
    ) -> None:
        self.s = check_int("s", s, minimum=1)
        self.strip = check_int("strip", strip, minimum=1)
        super().__init__(monitor=monitor, mode=mode)

    def reset(self) -> None:
        super().reset()
        self.ups = 0
        self.previous: float | None = None

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        value = self._read(logs)
        error = None if value is None else self._error(value)
        if error is None:
            return Decision()
        improved = self._observe(error)
        if self.seen % self.strip:
            return Decision(improved=improved)
        if self.previous is not None:
            self.ups = self.ups + 1 if error > self.previous else 0
        self.previous = error
        if self.ups >= self.s:
            return self._stop(
                f"{self.monitor} got worse in {self.ups} successive strips of "
                f"{self.strip} epochs"
            )
        return Decision(improved=improved)

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "ups": self.ups, "previous": self.previous}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.ups = int(state.get("ups", 0))
        previous = state.get("previous")
        self.previous = None if previous is None else float(previous)

    def get_config(self) -> dict[str, Any]:
        return {"s": self.s, "strip": self.strip, **super().get_config()}
