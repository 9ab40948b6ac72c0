"""A gate that holds a criterion back until a baseline is beaten."""

from __future__ import annotations

import math
from typing import Any

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit.criteria._wrapper import Wrapper
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.decision import Decision


@serializable
class Baseline(Wrapper):
    """Lets the wrapped criterion stop training only once `value` is beaten.

    Until the monitored value first beats `value` (is below it in `"min"`
    mode, above it in `"max"` mode), the wrapped criterion still sees every
    epoch but its stop decisions are held back; with `patience`, training
    stops (with `StopReason.BASELINE_NOT_REACHED`) if the baseline is still not beaten
    after `patience` epochs. Once beaten, the wrapped criterion decides
    alone. (`Patience(baseline=...)` and `EarlyStopping(baseline=...)` keep
    Keras's own baseline rule instead.)

    Args:
        value: the baseline value.
        criterion: the criterion to gate.
        patience: epochs to wait for the baseline before giving up, or
            `None` to wait for ever. Defaults to `None`.

    State: `beaten`, `seen` and the wrapped criterion's state.

    Examples:
        >>> from keras_epochkit.criteria import Baseline, Patience
        >>> rule = Baseline(0.9, Patience(patience=1, mode="min"))
        >>> stops = [rule.update(e, {"val_loss": v}).stop
        ...  for e, v in enumerate([1.0, 1.1, 0.8, 0.85])]
        >>> stops
        [False, False, False, True]
    """

    stop_reason = StopReason.BASELINE_NOT_REACHED

    def __init__(
        self, value: float, criterion: Criterion, patience: int | None = None
    ) -> None:
        self.value = check_number("value", value)
        self.patience = None if patience is None else check_int("patience", patience, 1)
        super().__init__(criterion)

    def reset(self) -> None:
        super().reset()
        self.beaten = False
        self.seen = 0

    def update(self, epoch: int, logs: dict, budget: int | None = None) -> Decision:
        decision = self.criterion.update(epoch, logs, budget)
        current = self._read(logs)
        if current is None:
            return decision
        self.seen += 1
        mode = self._concrete_mode()
        if not self.beaten and math.isfinite(current):
            self.beaten = (
                current < self.value if mode == "min" else current > self.value
            )
        if self.beaten:
            return decision
        if self.patience is not None and self.seen >= self.patience:
            return self._stop(
                f"{self.monitor} did not beat the baseline {self.value:.6g} "
                f"in {self.seen} epochs"
            )
        return Decision(improved=decision.improved)

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "beaten": self.beaten, "seen": self.seen}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.beaten = bool(state["beaten"])
        self.seen = int(state["seen"])

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value, **super().get_config(), "patience": self.patience}
