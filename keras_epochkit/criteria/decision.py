"""The outcome of one criterion update."""

from __future__ import annotations

import dataclasses

from keras_epochkit._core.stop_reason import StopReason


@dataclasses.dataclass(frozen=True)
class Decision:
    """What a stopping criterion concluded at the end of one epoch.

    Args:
        stop: whether training should stop after this epoch.
        improved: whether this epoch is a new best for the criterion's
            monitored value.
        reason: the `StopReason` of the criterion that says stop; `None`
            when `stop` is `False`.
        message: a human sentence with the run's figures saying why
            training should stop; `""` when `stop` is `False`.

    Examples:
        >>> from keras_epochkit.criteria import Decision
        >>> Decision(stop=False, improved=True)
        Decision(stop=False, improved=True, reason=None, message='')
    """

    stop: bool = False
    improved: bool = False
    reason: StopReason | None = None
    message: str = ""

    @property
    def code(self) -> int:
        """The numeric stop code: `int(reason)`, or `0` when not stopping."""
        return 0 if self.reason is None else int(self.reason)
