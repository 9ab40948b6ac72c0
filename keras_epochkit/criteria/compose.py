"""Composition of criteria: stop when any, or when all, of them say so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.registry import serialize
from keras_epochkit.criteria._wrapper import check_criterion
from keras_epochkit.criteria._wrapper import deserialize_criterion
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.decision import Decision


class _Composite(Criterion):
    """Runs every member each epoch, checked in stage order."""

    def __init__(self, criteria: list[Criterion]) -> None:
        members = [deserialize_criterion(c) for c in criteria]
        if not members:
            raise ValueError(
                "`criteria` must hold at least one criterion; received []."
            )
        for index, member in enumerate(members):
            check_criterion(f"criteria[{index}]", member)
        self.criteria = members
        super().__init__(monitor=members[0].monitor, mode=members[0].mode)

    @property
    def stage(self) -> int:  # type: ignore[override]
        return min(member.stage for member in self.criteria)

    def _ordered(self) -> list[int]:
        return sorted(range(len(self.criteria)), key=lambda i: self.criteria[i].stage)

    def with_mode(self, mode: str) -> Criterion:
        return type(self)([member.with_mode(mode) for member in self.criteria])

    def resolved(self, resolver: Callable[[str], str]) -> Criterion:
        return type(self)([member.resolved(resolver) for member in self.criteria])

    def _concrete_mode(self) -> str:
        for member in self.criteria:
            member._concrete_mode()
        self._mode = self.criteria[0]._mode
        return self._mode

    def _decide(self, decisions: list[Decision]) -> Decision:
        raise NotImplementedError

    def update(self, epoch: int, logs: dict, budget: int | None = None) -> Decision:
        self._concrete_mode()
        decisions = [None] * len(self.criteria)
        for index in self._ordered():
            decisions[index] = self.criteria[index].update(epoch, logs, budget)
        return self._decide(decisions)

    def reset(self) -> None:
        for member in getattr(self, "criteria", []):
            member.reset()

    def get_state(self) -> dict[str, Any]:
        return {
            **super().get_state(),
            "criteria": [member.get_state() for member in self.criteria],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        for member, member_state in zip(self.criteria, state["criteria"], strict=True):
            member.set_state(member_state)

    def get_config(self) -> dict[str, Any]:
        return {"criteria": [serialize(member) for member in self.criteria]}


@serializable
class AnyOf(_Composite):
    """Stops when any member criterion says stop; build it with `any_of`.

    Every member sees every epoch. The decision reported is the first
    stopping member's in check order (non-finite, target, divergence,
    patience family, extrapolation; ties in the given order), with its own
    reason and message; `improved` is the first member's.

    Args:
        criteria: the member criteria.

    State: the members' states.
    """

    def _decide(self, decisions: list[Decision]) -> Decision:
        for index in self._ordered():
            if decisions[index].stop:
                return Decision(
                    stop=True,
                    improved=decisions[0].improved,
                    reason=decisions[index].reason,
                    message=decisions[index].message,
                )
        return Decision(improved=decisions[0].improved)


@serializable
class AllOf(_Composite):
    """Stops when every member criterion says stop at the same epoch; see `all_of`.

    Every member sees every epoch; `improved` is the first member's. The
    reason is the first member's in check order, and the message joins the
    members' messages.

    Args:
        criteria: the member criteria.

    State: the members' states.
    """

    def _decide(self, decisions: list[Decision]) -> Decision:
        improved = decisions[0].improved
        if all(decision.stop for decision in decisions):
            first = decisions[self._ordered()[0]]
            message = "; ".join(decision.message for decision in decisions)
            return Decision(
                stop=True, improved=improved, reason=first.reason, message=message
            )
        return Decision(improved=improved)


def any_of(*criteria: Criterion) -> AnyOf:
    """A criterion that stops when any of `criteria` says stop.

    Args:
        *criteria: the criteria to combine.

    Returns:
        An `AnyOf` criterion.

    Examples:
        >>> from keras_epochkit.criteria import NonFinite, Patience, any_of
        >>> rule = any_of(Patience(patience=5, mode="min"), NonFinite(mode="min"))
        >>> decision = rule.update(0, {"val_loss": float("nan")})
        >>> decision.stop, decision.reason is NonFinite.stop_reason
        (True, True)
    """
    return AnyOf(list(criteria))


def all_of(*criteria: Criterion) -> AllOf:
    """A criterion that stops when all of `criteria` say stop at the same epoch.

    Args:
        *criteria: the criteria to combine.

    Returns:
        An `AllOf` criterion.

    Examples:
        >>> from keras_epochkit.criteria import Patience, all_of
        >>> rule = all_of(Patience(1, monitor="val_loss", mode="min"),
        ...               Patience(1, monitor="val_accuracy", mode="max"))
        >>> logs = [{"val_loss": 1.0, "val_accuracy": 0.5},
        ...         {"val_loss": 1.1, "val_accuracy": 0.6},
        ...         {"val_loss": 1.2, "val_accuracy": 0.55}]
        >>> stops = [rule.update(e, row).stop for e, row in enumerate(logs)]
        >>> stops
        [False, False, True]
    """
    return AllOf(list(criteria))
