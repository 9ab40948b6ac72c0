"""Prechelt's GL criterion: stop when validation error exceeds its optimum by alpha percent."""

from __future__ import annotations

from typing import Any

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_number
from keras_epochkit.criteria._prechelt import PrecheltCriterion
from keras_epochkit.criteria._prechelt import generalization_loss
from keras_epochkit.criteria.decision import Decision


@serializable
class GeneralizationLoss(PrecheltCriterion):
    """Prechelt's GL_alpha: stops once the generalization loss exceeds `alpha`.

    With E_va(t) the validation error at epoch t and
    E_opt(t) = min over t' <= t of E_va(t'), the generalization loss is

        GL(t) = 100 * (E_va(t) / E_opt(t) - 1)

    (the percentage by which the current error exceeds the best so far),
    and training stops after the first epoch with GL(t) > alpha
    (L. Prechelt, "Early Stopping — but when?", 1998). Errors must be
    positive; in `"max"` mode the formula runs on `1 / value`.

    Args:
        alpha: the GL threshold in percent. Defaults to `5.0`.
        monitor: the validation error to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`. Defaults to `"auto"`.

    State: `optimum` (E_opt) and `seen` (epochs counted).

    Examples:
        >>> from keras_epochkit.criteria import GeneralizationLoss
        >>> rule = GeneralizationLoss(alpha=5.0, mode="min")
        >>> stops = [rule.update(e, {"val_loss": v}).stop
        ...  for e, v in enumerate([1.0, 0.5, 0.52, 0.53])]
        >>> stops
        [False, False, False, True]
    """

    stop_reason = StopReason.GENERALIZATION_LOSS
    stage = 3

    def __init__(
        self, alpha: float = 5.0, monitor: str = "val_loss", mode: str = "auto"
    ) -> None:
        self.alpha = check_number("alpha", alpha, minimum=0.0)
        super().__init__(monitor=monitor, mode=mode)

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        value = self._read(logs)
        error = None if value is None else self._error(value)
        if error is None:
            return Decision()
        improved = self._observe(error)
        gl = generalization_loss(error, self.optimum)
        if gl > self.alpha:
            return self._stop(
                f"generalization loss of {self.monitor} is {gl:.3g}% "
                f"(> alpha {self.alpha:.3g}%)"
            )
        return Decision(improved=improved)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, **super().get_config()}
