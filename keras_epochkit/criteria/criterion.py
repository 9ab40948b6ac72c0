"""Base class of the stopping criteria."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from keras_epochkit.criteria.decision import Decision

MODES = ("auto", "min", "max")

# Name fragments that tell the direction of a monitored quantity when no
# metric object is at hand (replaying recorded logs).
_MAX_FRAGMENTS = (
    "acc",
    "auc",
    "precision",
    "recall",
    "f1",
    "fbeta",
    "f_beta",
    "iou",
    "kappa",
    "matthews",
    "mcc",
    "r2",
    "score",
    "specificity",
    "sensitivity",
)
_MIN_FRAGMENTS = (
    "loss",
    "error",
    "mse",
    "mae",
    "mape",
    "msle",
    "crossentropy",
    "hinge",
    "divergence",
    "poisson",
    "logcosh",
    "perplexity",
)


def check_mode(mode: str, argument: str = "mode") -> str:
    """Returns `mode` or raises a `ValueError` naming the allowed values."""
    if mode not in MODES:
        raise ValueError(
            f"`{argument}` must be one of {MODES}; received {argument}={mode!r}."
        )
    return mode


def mode_from_name(monitor: str) -> str | None:
    """`"min"`/`"max"` read off a monitor's name, or `None` when unclear.

    Examples:
        >>> mode_from_name("val_loss"), mode_from_name("val_accuracy")
        ('min', 'max')
    """
    name = monitor.removeprefix("val_").lower()
    if name == "loss" or name.endswith("_loss"):
        return "min"
    if any(fragment in name for fragment in _MAX_FRAGMENTS):
        return "max"
    if any(fragment in name for fragment in _MIN_FRAGMENTS):
        return "min"
    return None


def resolve_mode_from_name(monitor: str, owner: str) -> str:
    """Like `mode_from_name`, but raises a `ValueError` saying how to fix it."""
    mode = mode_from_name(monitor)
    if mode is None:
        raise ValueError(
            f"{owner} cannot tell whether `{monitor}` should be minimized or "
            "maximized. Pass `mode='min'` to treat lower values as better or "
            "`mode='max'` for higher values."
        )
    return mode


def is_finite(value: float) -> bool:
    return math.isfinite(value)


class Criterion:
    """Base class of the stopping criteria: logs in, `Decision` out.

    A criterion holds explicit state and no model, so it can run inside
    `keras_epochkit.callbacks.EarlyStopping` or be replayed on recorded logs
    (`keras_epochkit.criteria.replay`). Subclasses implement `_update`,
    `reset` and their state; `code` is the numeric stop code of the class
    and `stage` orders checks (non-finite, target, divergence, patience
    family, extrapolation).

    Args:
        monitor: the key of `logs` to watch. Defaults to `"val_loss"`.
        mode: `"min"` if lower is better, `"max"` if higher is better, or
            `"auto"` to decide from the monitor. `EarlyStopping` resolves
            `"auto"` once from the model's metrics; a criterion used alone
            resolves it from the monitor's name (names ending in `loss` or
            containing `error`... are minimized, names containing `acc`,
            `auc`, `precision`, `recall`, `f1`... are maximized). Defaults to
            `"auto"`.

    Epochs whose logs lack a `val_` monitor and have no `val_` key at all
    (validation did not run, `validation_freq > 1`) are skipped: `update`
    returns a `Decision` with `stop=False` and leaves the state unchanged.
    """

    code: int = 0
    stage: int = 3

    def __init__(self, monitor: str = "val_loss", mode: str = "auto") -> None:
        if type(self) is Criterion:
            raise TypeError(
                "Criterion is a base class; use a concrete criterion such as "
                "keras_epochkit.criteria.Patience."
            )
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(
                f"`monitor` must be a non-empty string; received monitor={monitor!r}."
            )
        self.monitor = monitor
        self.mode = check_mode(mode)
        self._mode = None if mode == "auto" else mode
        self.reset()

    # --- mode -------------------------------------------------------------
    def with_mode(self, mode: str) -> Criterion:
        """A fresh copy whose `"auto"` mode is replaced by `mode`.

        A criterion with a concrete mode keeps it.
        """
        check_mode(mode)
        config = self.get_config()
        if config.get("mode", "auto") == "auto":
            config["mode"] = mode
        return type(self).from_config(config)

    def resolved(self, resolver: Callable[[str], str]) -> Criterion:
        """A fresh copy with `"auto"` modes resolved by `resolver(monitor)`."""
        if self.mode == "auto":
            return self.with_mode(resolver(self.monitor))
        return type(self).from_config(self.get_config())

    def _concrete_mode(self) -> str:
        if self._mode is None:
            self._mode = resolve_mode_from_name(self.monitor, type(self).__name__)
        return self._mode

    # --- logs -------------------------------------------------------------
    def _read(self, logs: dict, key: str | None = None) -> float | None:
        """The value of `key` (the monitor by default), `None` to skip."""
        key = self.monitor if key is None else key
        logs = logs or {}
        if key in logs and logs[key] is not None:
            return float(logs[key])
        if key.startswith("val_") and not any(k.startswith("val_") for k in logs):
            return None
        raise ValueError(
            f"{type(self).__name__} monitors `{key}`, which is not in the logs. "
            f"Keys present: {sorted(logs)}."
        )

    def _better(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._concrete_mode() == "min":
            return value < reference
        return value > reference

    # --- protocol ---------------------------------------------------------
    def update(self, epoch: int, logs: dict, budget: int | None = None) -> Decision:
        """Feeds one epoch's logs; returns the decision for this epoch.

        Args:
            epoch: the 0-based epoch index, as Keras hands it to callbacks.
            logs: the epoch's logs (numbers keyed by metric name).
            budget: the total number of epochs of the run
                (`params["epochs"]`), or `None` when unknown.

        Returns:
            A `Decision`.
        """
        self._concrete_mode()
        return self._update(int(epoch), logs, budget)

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        raise NotImplementedError

    def _stop(self, reason: str, improved: bool = False) -> Decision:
        return Decision(stop=True, improved=improved, reason=reason, code=self.code)

    def reset(self) -> None:
        """Forgets everything seen so far."""

    def get_state(self) -> dict[str, Any]:
        """The JSON-able state needed to continue exactly where this left off."""
        return {"resolved_mode": self._mode}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores a state returned by `get_state`."""
        self._mode = state.get("resolved_mode", self._mode)

    def get_config(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "mode": self.mode}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Criterion:
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"

    def __deepcopy__(self, memo):
        clone = type(self).from_config(copy.deepcopy(self.get_config(), memo))
        clone.set_state(copy.deepcopy(self.get_state(), memo))
        return clone
