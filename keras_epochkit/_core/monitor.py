"""The one monitor core: which way a monitored quantity should go, and its value.

Criteria, `EarlyStopping`, `OverfittingMonitor` and `analysis` all resolve a
monitor's direction and read it from the epoch logs through this module, so
they agree on every name and every kind of value.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from keras_epochkit._core.validation import check_choice

MODES = ("auto", "min", "max")

# Words of a metric name that tell its direction, matched against the name's
# "_"-separated tokens from the last one backwards, so the suffix decides:
# `val_mse_score` is a score (max), `val_kl_divergence` a divergence (min).
_MIN_WORDS = (
    "loss",
    "error",
    "mse",
    "mae",
    "mape",
    "msle",
    "rmse",
    "crossentropy",
    "hinge",
    "divergence",
    "poisson",
    "logcosh",
    "perplexity",
)
_MAX_WORDS = (
    "acc",
    "accuracy",
    "auc",
    "precision",
    "recall",
    "f1",
    "fbeta",
    "iou",
    "kappa",
    "matthews",
    "mcc",
    "correlation",
    "r2",
    "score",
    "specificity",
    "sensitivity",
)


def check_mode(mode: Any, argument: str = "mode") -> str:
    """Returns `mode` if it is `"auto"`, `"min"` or `"max"`, or raises."""
    return check_choice(argument, mode, MODES)


def mode_from_name(monitor: str) -> str | None:
    """`"min"` or `"max"` read off a monitor's name, or `None` when unclear.

    The last token of the name that names a kind of quantity decides
    (`val_mse_score` is a score, so `"max"`).

    Examples:
        >>> mode_from_name("val_loss"), mode_from_name("val_accuracy")
        ('min', 'max')
        >>> mode_from_name("val_mse_score"), mode_from_name("val_kl_divergence")
        ('max', 'min')
        >>> mode_from_name("val_temperature") is None
        True
    """
    tokens = monitor.lower().removeprefix("val_").split("_")
    for token in reversed(tokens):
        if token in _MIN_WORDS or any(token.endswith(w) for w in _MIN_WORDS):
            return "min"
        if any(token.startswith(word) for word in _MAX_WORDS):
            return "max"
    return None


def model_directions(model: Any) -> dict[str, str]:
    """`{metric name: "min" | "max"}` for the model's metrics that set a direction.

    Keras metrics (and keras-epochkit's) say which way is better in their
    `_direction` (`"up"` or `"down"`); compiled-metric containers are searched
    too. Needs no Keras import: any object with `metrics` works.
    """
    found: dict[str, str] = {}
    seen: set[int] = set()
    stack = list(getattr(model, "metrics", None) or [])
    while stack:
        metric = stack.pop(0)
        if id(metric) in seen:
            continue
        seen.add(id(metric))
        direction = getattr(metric, "_direction", None)
        name = getattr(metric, "name", None)
        if direction in ("up", "down") and isinstance(name, str):
            found.setdefault(name, "max" if direction == "up" else "min")
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack.extend(inner)
    return found


def resolve_mode(
    monitor: str,
    mode: str = "auto",
    *,
    owner: str = "keras_epochkit",
    model: Any = None,
) -> str:
    """Turns `mode` into `"min"` or `"max"` for `monitor`.

    An explicit mode wins; then a name ending in `loss` is minimized; then the
    direction set by the model's metric of that name (when `model` is given);
    then the name's words (`mode_from_name`). A name none of these resolves
    raises a `ValueError` that says to pass `mode=`.

    Examples:
        >>> resolve_mode("val_f1_score"), resolve_mode("val_x", "max")
        ('max', 'max')
    """
    check_mode(mode)
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "min"
    if model is not None:
        direction = model_directions(model).get(name)
        if direction is not None:
            return direction
    resolved = mode_from_name(monitor)
    if resolved is None:
        raise ValueError(
            f"{owner} cannot tell whether `{monitor}` should be minimized or "
            "maximized. Pass `mode='min'` if lower values are better or "
            "`mode='max'` if higher values are better."
        )
    return resolved


def is_better(value: float, reference: float | None, mode: str) -> bool:
    """Whether `value` beats `reference` (`None`: nothing to beat yet)."""
    if reference is None:
        return True
    return value < reference if mode == "min" else value > reference


def is_improvement(
    value: float,
    best: float | None,
    mode: str,
    min_delta: float = 0.0,
    min_delta_mode: str = "abs",
) -> bool:
    """Keras's test: `value` beats `best` by more than `min_delta`.

    The absolute rule is computed as Keras computes it (the shifted value and
    the best compared in float32), so the two agree epoch by epoch;
    `min_delta_mode="rel"` scales `min_delta` by `|best|`. A non-finite value
    is never an improvement.

    Examples:
        >>> is_improvement(0.9, 1.0, "min", 0.05), is_improvement(0.97, 1.0, "min", 0.05)
        (True, False)
    """
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    if min_delta_mode == "abs":
        if mode == "min":
            return bool(np.float32(value + min_delta) < np.float32(best))
        return bool(np.float32(value - min_delta) > np.float32(best))
    margin = min_delta * abs(best)
    if mode == "min":
        return value < best - margin
    return value > best + margin


def to_float(value: Any, key: str = "value") -> float:
    """One float from a log value: a Python number, a 0-d or one-element array,
    or a tensor of any backend.

    Raises `ValueError` for an array of several values (a per-class metric):
    which one to watch is the user's choice.

    Examples:
        >>> import numpy as np
        >>> to_float(np.array([0.57]), "val_f1_score")
        0.57
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError):
        keras = sys.modules.get("keras")
        if keras is None:
            raise
        array = np.asarray(keras.ops.convert_to_numpy(value))
    if array.size != 1:
        raise ValueError(
            f"`{key}` holds {array.size} values (shape {array.shape}), not one "
            "number, so it cannot be monitored as it is. Monitor a single "
            "number, such as an averaged metric (e.g. `average='macro'`)."
        )
    return float(array.reshape(()))


def validation_ran(logs: Mapping[str, Any]) -> bool:
    """Whether the logs hold any validation value (a `val_` key)."""
    return any(key.startswith("val_") for key in logs)


def read(
    logs: Mapping[str, Any] | None,
    key: str,
    *,
    owner: str = "keras_epochkit",
) -> float | None:
    """The value of `key` in one epoch's logs, or `None` when it must be skipped.

    A `val_` key is skipped (`None`) at an epoch with no validation value at
    all: validation did not run then (no validation data, or
    `validation_freq > 1`). Any other missing key raises a `ValueError` that
    lists the keys present.
    """
    logs = logs or {}
    value = logs.get(key)
    if value is not None:
        return to_float(value, key)
    if key.startswith("val_") and not validation_ran(logs):
        return None
    raise ValueError(
        f"{owner} monitors `{key}`, which is not in the epoch logs. Keys "
        f"present: {sorted(logs)}. Pass one of them as `monitor`."
    )


class MissingMonitorWarning:
    """Warns once per fit that a `val_` monitor is missing from the logs."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.warned = False

    def reset(self) -> None:
        self.warned = False

    def check(self, logs: Mapping[str, Any] | None, keys) -> None:
        """Warns (once) if a `val_` key of `keys` is absent and validation
        did not run."""
        logs = logs or {}
        if self.warned or validation_ran(logs):
            return
        missing = [k for k in keys if k.startswith("val_") and k not in logs]
        if missing:
            self.warned = True
            warnings.warn(
                f"{self.owner} monitors {', '.join(f'`{k}`' for k in missing)}, "
                f"which is not in the epoch logs (keys present: {sorted(logs)}). "
                "Validation did not run at this epoch: pass validation data to "
                "`fit` (`validation_data=` or `validation_split=`), or expect "
                "skipped epochs with `validation_freq > 1`. Epochs without it "
                "are skipped.",
                UserWarning,
                stacklevel=3,
            )


MIN_DELTA_MODES = ("abs", "rel")


def check_min_delta_mode(mode: Any) -> str:
    """Returns `mode` if it is `"abs"` or `"rel"`, or raises."""
    return check_choice("min_delta_mode", mode, MIN_DELTA_MODES)
