"""Stop when the monitored value has not improved for a number of epochs."""

from __future__ import annotations

import math
from typing import Any

from keras_epochkit._core.monitor import check_min_delta_mode
from keras_epochkit._core.monitor import is_improvement
from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit.criteria._smoothing import Smoother
from keras_epochkit.criteria._smoothing import check_smoothing
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.decision import Decision


@serializable
class Patience(Criterion):
    """Stops when the monitored value has not improved for `patience` epochs.

    This is the rule of `keras.callbacks.EarlyStopping`, epoch for epoch: an
    epoch improves when its value beats the best so far by more than
    `min_delta`; training stops at the first epoch (after the first) that
    does not improve and comes `patience` or more epochs after the last
    improvement. With `baseline`, an improvement resets the count only if it
    also beats `baseline`, so a run that never reaches the baseline stops
    after `patience` epochs. With `smoothing`, the rule runs on a smoothed
    copy of the monitored value, which stops noisy curves from resetting
    the count on lucky epochs. A non-finite value is never an improvement.

    Args:
        patience: epochs without improvement before stopping.
            Defaults to `10`.
        min_delta: the smallest change that counts as an improvement.
            Defaults to `0.0`.
        min_delta_mode: `"abs"` (`min_delta` in the monitor's units, as in
            Keras) or `"rel"` (a fraction of the best value's magnitude, e.g.
            `0.01` = 1%). Defaults to `"abs"`.
        monitor: the key of `logs` to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`. Defaults to `"auto"`.
        baseline: a value the monitor must beat for an improvement to reset
            the count, or `None`. Defaults to `None`.
        smoothing: `None`, `"ema"` (exponential moving average with factor
            `2 / (smoothing_window + 1)`) or `"median"` (running median of
            the last `smoothing_window` values). Defaults to `None`.
        smoothing_window: the smoothing window in epochs. Defaults to `5`.

    State: `wait` (epochs since the last improvement), `best` (best
    smoothed value, `None` before the first finite one) and the smoother's
    memory.

    Examples:
        >>> from keras_epochkit.criteria import Patience
        >>> rule = Patience(patience=2, mode="min")
        >>> stops = [rule.update(e, {"val_loss": v}).stop
        ...  for e, v in enumerate([1.0, 0.8, 0.9, 0.85])]
        >>> stops
        [False, False, False, True]
    """

    stop_reason = StopReason.PATIENCE
    stage = 3

    def __init__(
        self,
        patience: int = 10,
        min_delta: float = 0.0,
        min_delta_mode: str = "abs",
        monitor: str = "val_loss",
        mode: str = "auto",
        baseline: float | None = None,
        smoothing: str | None = None,
        smoothing_window: int = 5,
    ) -> None:
        self.patience = check_int("patience", patience)
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.min_delta_mode = check_min_delta_mode(min_delta_mode)
        self.baseline = None if baseline is None else check_number("baseline", baseline)
        check_smoothing(smoothing, smoothing_window)
        self.smoothing = smoothing
        self.smoothing_window = smoothing_window
        self._smoother = Smoother(smoothing, smoothing_window)
        super().__init__(monitor=monitor, mode=mode)

    def reset(self) -> None:
        self.wait = 0
        self.best: float | None = None
        self._smoother.reset()

    def _improves(self, value: float, reference: float | None) -> bool:
        return is_improvement(
            value, reference, self._mode, self.min_delta, self.min_delta_mode
        )

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        raw = self._read(logs)
        if raw is None:
            return Decision()
        value = self._smoother(raw) if math.isfinite(raw) else raw
        self.wait += 1
        if self._improves(value, self.best):
            self.best = value
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
            return Decision(improved=True)
        if self.wait >= self.patience and epoch > 0:
            best = "none" if self.best is None else f"{self.best:.6g}"
            reason = (
                f"{self.monitor} did not improve for {self.wait} epochs "
                f"(patience {self.patience}, best {best})"
            )
            if self.baseline is not None and not (
                self.best is not None and self._improves(self.best, self.baseline)
            ):
                reason += f"; baseline {self.baseline:.6g} not reached"
            return self._stop(reason)
        return Decision()

    def get_state(self) -> dict[str, Any]:
        return {
            **super().get_state(),
            "wait": self.wait,
            "best": self.best,
            "smoother": self._smoother.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.wait = int(state["wait"])
        self.best = None if state["best"] is None else float(state["best"])
        self._smoother.set_state(state.get("smoother", {}))

    def get_config(self) -> dict[str, Any]:
        return {
            "patience": self.patience,
            "min_delta": self.min_delta,
            "min_delta_mode": self.min_delta_mode,
            **super().get_config(),
            "baseline": self.baseline,
            "smoothing": self.smoothing,
            "smoothing_window": self.smoothing_window,
        }
