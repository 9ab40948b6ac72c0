"""Shared base of the gates that wrap another criterion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras_epochkit._core.registry import deserialize
from keras_epochkit._core.registry import serialize
from keras_epochkit.criteria.criterion import Criterion


def check_criterion(name: str, value) -> Criterion:
    if not isinstance(value, Criterion):
        raise ValueError(
            f"`{name}` must be a keras_epochkit.criteria.Criterion; received "
            f"{name}={value!r}."
        )
    return value


def deserialize_criterion(value) -> Criterion:
    if isinstance(value, dict):
        value = deserialize(value)
    return value


class Wrapper(Criterion):
    """A criterion that gates `self.criterion`; monitor and mode are its own."""

    def __init__(self, criterion: Criterion) -> None:
        self.criterion = check_criterion("criterion", deserialize_criterion(criterion))
        super().__init__(monitor=self.criterion.monitor, mode=self.criterion.mode)

    @property
    def stage(self) -> int:  # type: ignore[override]
        return self.criterion.stage

    def with_mode(self, mode: str) -> Criterion:
        return self._rewrap(self.criterion.with_mode(mode))

    def resolved(self, resolver: Callable[[str], str]) -> Criterion:
        return self._rewrap(self.criterion.resolved(resolver))

    def _rewrap(self, inner: Criterion) -> Criterion:
        config = self.get_config()
        config["criterion"] = inner
        return type(self).from_config(config)

    def _concrete_mode(self) -> str:
        self._mode = self.criterion._concrete_mode()
        return self._mode

    def reset(self) -> None:
        if hasattr(self, "criterion"):
            self.criterion.reset()

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "criterion": self.criterion.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.criterion.set_state(state["criterion"])

    def get_config(self) -> dict[str, Any]:
        return {"criterion": serialize(self.criterion)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Criterion:
        config = dict(config)
        config["criterion"] = deserialize_criterion(config["criterion"])
        return cls(**config)
