"""A criterion that remembers the best finite value it has seen."""

from __future__ import annotations

import math
from typing import Any

from keras_epochkit.criteria.criterion import Criterion


class BestTracking(Criterion):
    """Adds `best` (best finite value so far) and `_track(value) -> improved`."""

    def reset(self) -> None:
        self.best: float | None = None

    def _track(self, value: float) -> bool:
        if math.isfinite(value) and self._better(value, self.best):
            self.best = value
            return True
        return False

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.best = None if state.get("best") is None else float(state["best"])
