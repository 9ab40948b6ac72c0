"""A gate that hides the first epochs from a criterion."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit.criteria._checks import check_int
from keras_epochkit.criteria._wrapper import Wrapper
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.decision import Decision


@keras.saving.register_keras_serializable(package="keras_epochkit")
class Warmup(Wrapper):
    """Hides epochs `0 .. epochs - 1` from the wrapped criterion.

    The wrapped criterion neither sees nor counts the warm-up epochs, as
    with `start_from_epoch` in `keras.callbacks.EarlyStopping`; from epoch
    `epochs` on, its decisions pass through unchanged. `Warmup` never stops
    training by itself (its `code` is never reported).

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

    code = 10

    def __init__(self, epochs: int, criterion: Criterion) -> None:
        self.epochs = check_int("epochs", epochs)
        super().__init__(criterion)

    def update(self, epoch: int, logs: dict, budget: int | None = None) -> Decision:
        if epoch < self.epochs:
            return Decision()
        return self.criterion.update(epoch, logs, budget)

    def get_config(self) -> dict[str, Any]:
        return {"epochs": self.epochs, **super().get_config()}
