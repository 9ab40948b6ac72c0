"""Shared base of Prechelt's criteria: errors, their optimum and GL."""

from __future__ import annotations

import math
from typing import Any

from keras_epochkit.criteria.criterion import Criterion


def generalization_loss(error: float, optimum: float) -> float:
    """GL = 100 * (E_va / E_opt - 1), in percent (Prechelt 1998, eq. 3)."""
    if optimum > 0:
        return 100.0 * (error / optimum - 1.0)
    return 0.0 if error <= optimum else math.inf


class PrecheltCriterion(Criterion):
    """Turns monitored values into errors and tracks E_opt.

    Prechelt's formulas are ratios of errors, which must be positive. In
    `"max"` mode (an accuracy, say) they run on `1 / value`, so a value
    that falls from its best by a factor `r` reads as an error that grew by
    the factor `r`. Non-finite values are skipped (that is `NonFinite`'s
    job).
    """

    def reset(self) -> None:
        self.optimum: float | None = None
        self.seen = 0

    def _error(self, value: float) -> float | None:
        if not math.isfinite(value):
            return None
        if self._mode == "min":
            return value
        return math.inf if value <= 0 else 1.0 / value

    def _observe(self, error: float) -> bool:
        """Counts the epoch and updates E_opt; returns whether it improved."""
        self.seen += 1
        if self.optimum is None or error < self.optimum:
            self.optimum = error
            return True
        return False

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "optimum": self.optimum, "seen": self.seen}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        optimum = state.get("optimum")
        self.optimum = None if optimum is None else float(optimum)
        self.seen = int(state.get("seen", 0))
