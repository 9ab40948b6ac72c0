"""Prechelt's PQ criterion: generalization loss per unit of training progress."""

from __future__ import annotations

import math
from typing import Any

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit.criteria._prechelt import PrecheltCriterion
from keras_epochkit.criteria._prechelt import generalization_loss
from keras_epochkit.criteria.decision import Decision


def training_progress(strip_errors: list[float]) -> float:
    """P_k = 1000 * (sum E_tr / (k * min E_tr) - 1) over one strip (Prechelt eq. 4)."""
    k = len(strip_errors)
    lowest = min(strip_errors)
    if lowest <= 0:
        return math.inf if sum(strip_errors) > k * lowest else 0.0
    return 1000.0 * (sum(strip_errors) / (k * lowest) - 1.0)


@serializable
class ProgressQuotient(PrecheltCriterion):
    """Prechelt's PQ_alpha: stops when GL per unit of training progress exceeds `alpha`.

    Epochs are grouped in strips of `strip` (k) epochs. At the end of each
    strip, with E_tr the training error over the strip's k epochs,

        P_k(t) = 1000 * (sum(E_tr) / (k * min(E_tr)) - 1)

    measures how much training still improves (it is large while the
    training error moves and near 0 once it has flattened), and training
    stops after the first end of strip with PQ(t) = GL(t) / P_k(t) > alpha,
    where GL is `GeneralizationLoss`'s quantity (L. Prechelt, "Early
    Stopping — but when?", 1998). A flat strip (P_k = 0) with GL > 0 stops.
    Errors must be positive; in `"max"` mode both monitors are read as
    `1 / value`. Epochs without the validation monitor are not counted.

    Args:
        alpha: the PQ threshold. Defaults to `0.5`.
        strip: the strip length k in epochs. Defaults to `5`.
        monitor: the validation error to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`, for both monitors.
            Defaults to `"auto"`.
        train_monitor: the training error. Defaults to `"loss"`.

    State: `optimum` (E_opt), `seen` (epochs counted) and `strip_errors`
    (training errors of the current strip).

    Examples:
        >>> from keras_epochkit.criteria import ProgressQuotient
        >>> rule = ProgressQuotient(alpha=0.5, strip=2, mode="min")
        >>> logs = [{"loss": 1.0, "val_loss": 1.0}, {"loss": 0.8, "val_loss": 0.9},
        ...         {"loss": 0.79, "val_loss": 0.95}, {"loss": 0.789, "val_loss": 0.99}]
        >>> stops = [rule.update(e, row).stop for e, row in enumerate(logs)]
        >>> stops
        [False, False, False, True]
    """

    stop_reason = StopReason.PROGRESS_QUOTIENT
    stage = 3

    def __init__(
        self,
        alpha: float = 0.5,
        strip: int = 5,
        monitor: str = "val_loss",
        mode: str = "auto",
        train_monitor: str = "loss",
    ) -> None:
        self.alpha = check_number("alpha", alpha, minimum=0.0)
        self.strip = check_int("strip", strip, minimum=1)
        if not isinstance(train_monitor, str) or not train_monitor:
            raise ValueError(
                "`train_monitor` must be a non-empty string; received "
                f"train_monitor={train_monitor!r}."
            )
        self.train_monitor = train_monitor
        super().__init__(monitor=monitor, mode=mode)

    def reset(self) -> None:
        super().reset()
        self.strip_errors: list[float] = []

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        value = self._read(logs)
        error = None if value is None else self._error(value)
        if error is None:
            return Decision()
        train_error = self._error(self._read(logs, self.train_monitor))
        improved = self._observe(error)
        if train_error is not None:
            self.strip_errors.append(train_error)
        if self.seen % self.strip:
            return Decision(improved=improved)
        strip_errors, self.strip_errors = self.strip_errors, []
        if len(strip_errors) < self.strip:
            return Decision(improved=improved)
        gl = generalization_loss(error, self.optimum)
        progress = training_progress(strip_errors)
        if progress > 0:
            quotient = gl / progress
        else:
            quotient = math.inf if gl > 0 else 0.0
        if quotient > self.alpha:
            return self._stop(
                f"progress quotient of {self.monitor} is {quotient:.3g} "
                f"(GL {gl:.3g}% / P{self.strip} {progress:.3g} > alpha "
                f"{self.alpha:.3g})"
            )
        return Decision(improved=improved)

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "strip_errors": list(self.strip_errors)}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.strip_errors = [float(v) for v in state.get("strip_errors", [])]

    def get_config(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "strip": self.strip,
            **super().get_config(),
            "train_monitor": self.train_monitor,
        }
