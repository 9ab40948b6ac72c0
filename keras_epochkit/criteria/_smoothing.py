"""Smoothing of a monitored value: exponential moving average or running median."""

from __future__ import annotations

import statistics
from typing import Any

SMOOTHING = (None, "ema", "median")


def check_smoothing(smoothing: str | None, window: int) -> None:
    if smoothing not in SMOOTHING:
        raise ValueError(
            f"`smoothing` must be one of {SMOOTHING}; received smoothing={smoothing!r}."
        )
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(
            "`smoothing_window` must be an integer >= 1; received "
            f"smoothing_window={window!r}."
        )


class Smoother:
    """EMA with factor `2 / (window + 1)`, or the median of the last `window` values."""

    def __init__(self, smoothing: str | None, window: int) -> None:
        self.smoothing = smoothing
        self.window = window
        self.reset()

    def reset(self) -> None:
        self.ema: float | None = None
        self.recent: list[float] = []

    def __call__(self, value: float) -> float:
        if self.smoothing is None:
            return value
        if self.smoothing == "ema":
            factor = 2.0 / (self.window + 1.0)
            self.ema = (
                value
                if self.ema is None
                else (factor * value + (1.0 - factor) * self.ema)
            )
            return self.ema
        self.recent = [*self.recent, value][-self.window :]
        return float(statistics.median(self.recent))

    def get_state(self) -> dict[str, Any]:
        return {"ema": self.ema, "recent": list(self.recent)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.ema = state.get("ema")
        self.recent = [float(v) for v in state.get("recent", [])]
