"""Argument checks shared by the criteria; each names the argument."""

from __future__ import annotations

import math
import numbers

MIN_DELTA_MODES = ("abs", "rel")


def check_int(name: str, value, minimum: int = 0) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}; received {name}={value!r}."
        )
    return int(value)


def check_number(name: str, value, minimum: float | None = None, strict=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number; received {name}={value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite; received {name}={value!r}.")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        bound = ">" if strict else ">="
        raise ValueError(
            f"`{name}` must be {bound} {minimum}; received {name}={value!r}."
        )
    return value


def check_min_delta_mode(mode: str) -> str:
    if mode not in MIN_DELTA_MODES:
        raise ValueError(
            f"`min_delta_mode` must be one of {MIN_DELTA_MODES}; received "
            f"min_delta_mode={mode!r}."
        )
    return mode
