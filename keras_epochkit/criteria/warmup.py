"""A gate that hides the first epochs from a criterion."""

from __future__ import annotations

from typing import Any

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.validation import check_int
from keras_epochkit.criteria._wrapper import Wrapper
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.decision import Decision


@serializable
class Warmup(Wrapper):
    """Hides epochs `0 .. epochs - 1` from the wrapped criterion.

    The wrapped criterion neither sees nor counts the warm-up epochs, as
    with `start_from_epoch` in `keras.callbacks.EarlyStopping`; from epoch
    `epochs` on, its decisions pass through unchanged. `Warmup` never stops
    training by itself (it reports its member's reason).

    Args:
        epochs: the number of warm-up epochs.
        criterion: the criterion to gate.

    State: the wrapped criterion's state.

    Examples:
        >>> from keras_epochkit.criteria import Patience, Warmup
        >>> rule = Warmup(3, Patience(patience=1, mode="min"))
        >>> stops = [rule.update(e, {"val_loss": v}).stop
        ...  for e, v in enumerate([1.0, 2.0, 3.0, 0.5, 0.6])]
        >>> stops
        [False, False, False, False, True]
    """

    def __init__(self, epochs: int, criterion: Criterion) -> None:
        self.epochs = check_int("epochs", epochs)
        super().__init__(criterion)

    def update(self, epoch: int, logs: dict, budget: int | None = None) -> Decision:
        if epoch < self.epochs:
            return Decision()
        return self.criterion.update(epoch, logs, budget)

    def get_config(self) -> dict[str, Any]:
        return {"epochs": self.epochs, **super().get_config()}
