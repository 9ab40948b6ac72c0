"""Argument checks with one error wording: "`arg` must be ...; received arg=...".

Every public constructor validates its arguments with these helpers, so a bad
argument fails at construction with a `ValueError` that names the argument,
says what it must be, and shows what was received.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def invalid(name: str, expected: str, value: Any) -> ValueError:
    """The `ValueError` for argument `name`, which must be `expected`.

    Examples:
        >>> str(invalid("patience", "an integer >= 0", -1))
        '`patience` must be an integer >= 0; received patience=-1.'
    """
    return ValueError(f"`{name}` must be {expected}; received {name}={value!r}.")


def check_int(
    name: str, value: Any, minimum: int | None = 0, maximum: int | None = None
) -> int:
    """Returns `value` as an `int`, or raises if it is no integer in range.

    `bool` is refused: `patience=True` is a mistake, not `1`.
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and minimum is not None and value < minimum:
        ok = False
    if ok and maximum is not None and value > maximum:
        ok = False
    if not ok:
        raise invalid(name, "an integer" + _range(minimum, maximum), value)
    return int(value)


def check_number(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    strict: bool = False,
) -> float:
    """Returns `value` as a finite `float` within the bounds, or raises.

    With `strict=True` the bounds are exclusive.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        number = float(value)
        ok = math.isfinite(number)
        if ok and minimum is not None:
            ok = number > minimum if strict else number >= minimum
        if ok and maximum is not None:
            ok = number < maximum if strict else number <= maximum
    if not ok:
        raise invalid(name, "a finite number" + _range(minimum, maximum, strict), value)
    return number


def check_optional_number(name: str, value: Any, **bounds: Any) -> float | None:
    """`None`, or `value` checked by `check_number`."""
    return None if value is None else check_number(name, value, **bounds)


def check_bool(name: str, value: Any) -> bool:
    """Returns `value` if it is `True` or `False`, or raises."""
    if not isinstance(value, bool):
        raise invalid(name, "True or False", value)
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Returns `value` if it is one of `choices`, or raises naming them."""
    choices = tuple(choices)
    if not any(value is choice or value == choice for choice in choices):
        listed = ", ".join(repr(choice) for choice in choices)
        raise invalid(name, f"one of {listed}", value)
    return value


def check_str(name: str, value: Any) -> str:
    """Returns `value` if it is a non-empty string, or raises."""
    if not isinstance(value, str) or not value:
        raise invalid(name, "a non-empty string", value)
    return value


def check_verbose(value: Any) -> int:
    """Keras's `verbose`: an integer >= 0, or `True`/`False` as 1/0."""
    if isinstance(value, bool):
        return int(value)
    return check_int("verbose", value, minimum=0)


def _range(minimum, maximum, strict: bool = False) -> str:
    low, high = (">", "<") if strict else (">=", "<=")
    if minimum is not None and maximum is not None:
        if strict:
            return f" in the open interval ({minimum}, {maximum})"
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" {low} {minimum}"
    if maximum is not None:
        return f" {high} {maximum}"
    return ""
