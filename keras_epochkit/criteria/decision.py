"""The outcome of one criterion update."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Decision:
    """What a stopping criterion concluded at the end of one epoch.

    Args:
        stop: whether training should stop after this epoch.
        improved: whether this epoch is a new best for the criterion's
            monitored value.
        reason: a human-readable message saying why training should stop;
            `""` when `stop` is `False`.
        code: the numeric stop code of the criterion class that stopped
            (see `keras_epochkit.criteria.STOP_CODES`); `0` when `stop` is
            `False`.

    Examples:
        >>> from keras_epochkit.criteria import Decision
        >>> Decision(stop=False, improved=True)
        Decision(stop=False, improved=True, reason='', code=0)
    """

    stop: bool = False
    improved: bool = False
    reason: str = ""
    code: int = 0
