"""Run a criterion over recorded logs."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from collections.abc import Sequence

from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.decision import Decision


def replay(
    criterion: Criterion,
    logs_per_epoch: Sequence[dict],
    budget: int | None = None,
) -> tuple[int | None, Decision]:
    """Replays a fresh copy of `criterion` on recorded logs, up to its first stop.

    `criterion` itself is left untouched. Any object with the criterion
    interface (`update(epoch, logs, budget=None)` returning a decision with
    `stop`; `reset()` if it has one) replays too.

    Args:
        criterion: the criterion to replay.
        logs_per_epoch: one logs dict per epoch, epoch 0 first (for example
            the rows of a `CSVLogger` file or `history.history` transposed).
        budget: the run's epoch budget handed to the criterion, or `None`.
            Defaults to `None`.

    Returns:
        `(stop_epoch, decision)`: the 0-based epoch after which it stops and
        that epoch's decision, or `(None, last_decision)` if it never stops
        (`Decision()` for empty logs).

    Examples:
        >>> from keras_epochkit.criteria import Patience, replay
        >>> logs = [{"val_loss": v} for v in [1.0, 0.7, 0.8, 0.9, 0.95]]
        >>> epoch, decision = replay(Patience(patience=2), logs)
        >>> epoch, decision.reason
        (3, <StopReason.PATIENCE: 4>)
    """
    fresh = copy.deepcopy(criterion)
    if callable(getattr(fresh, "reset", None)):
        fresh.reset()
    decision = Decision()
    for epoch, decision in feed(fresh, logs_per_epoch, budget):
        if decision.stop:
            return epoch, decision
    return None, decision


def feed(
    criterion: Criterion, logs_per_epoch: Sequence[dict], budget: int | None = None
) -> Iterator[tuple[int, Decision]]:
    """Feeds `criterion` itself one epoch at a time; yields `(epoch, decision)`.

    The one replay loop: `replay` and `keras_epochkit.analysis` both use it.
    """
    for epoch, logs in enumerate(logs_per_epoch):
        yield epoch, criterion.update(epoch, dict(logs), budget=budget)
