"""Base class of the stopping criteria."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from keras_epochkit._core import monitor as monitor_core
from keras_epochkit._core.monitor import check_mode
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_str
from keras_epochkit.criteria.decision import Decision


class Criterion:
    """Base class of the stopping criteria: logs in, `Decision` out.

    A criterion holds explicit state and no model, so it can run inside
    `keras_epochkit.callbacks.EarlyStopping` or be replayed on recorded logs
    (`keras_epochkit.criteria.replay`). Subclasses implement `_update`,
    `reset` and their state; `stop_reason` is the `StopReason` the class
    reports and `stage` orders checks (non-finite, target, divergence, patience
    family, extrapolation).

    Args:
        monitor: the key of `logs` to watch. Defaults to `"val_loss"`.
        mode: `"min"` if lower is better, `"max"` if higher is better, or
            `"auto"` to decide from the monitor. `EarlyStopping` resolves
            `"auto"` once from the model's metrics; a criterion used alone
            resolves it from the monitor's name (the last word of the name
            that names a kind of quantity decides: `loss`, `error`, `mse`...
            are minimized, `accuracy`, `auc`, `precision`, `recall`, `f1`,
            `score`... maximized), and otherwise raises a `ValueError` saying
            to pass `mode`. Defaults to `"auto"`.

    Epochs whose logs lack a `val_` monitor and have no `val_` key at all
    (validation did not run, `validation_freq > 1`) are skipped: `update`
    returns a `Decision` with `stop=False` and leaves the state unchanged.
    """

    stop_reason: StopReason | None = None
    stage: int = 3

    def __init__(self, monitor: str = "val_loss", mode: str = "auto") -> None:
        if type(self) is Criterion:
            raise TypeError(
                "Criterion is a base class; use a concrete criterion such as "
                "keras_epochkit.criteria.Patience."
            )
        self.monitor = check_str("monitor", monitor)
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
            self._mode = monitor_core.resolve_mode(
                self.monitor, owner=type(self).__name__
            )
        return self._mode

    # --- logs -------------------------------------------------------------
    def _read(self, logs: dict, key: str | None = None) -> float | None:
        """The value of `key` (the monitor by default), `None` to skip."""
        key = self.monitor if key is None else key
        return monitor_core.read(logs, key, owner=type(self).__name__)

    def _better(self, value: float, reference: float | None) -> bool:
        return monitor_core.is_better(value, reference, self._concrete_mode())

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

    def _stop(self, message: str, improved: bool = False) -> Decision:
        return Decision(
            stop=True, improved=improved, reason=self.stop_reason, message=message
        )

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
