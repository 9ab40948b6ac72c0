"""`CriterionStop`: where one stopping criterion would have ended a run."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CriterionStop:
    """Where a criterion, replayed on a run's logs, would have stopped it.

    Epochs are 0-based, as in Keras callbacks and the `epoch` column of
    `keras.callbacks.CSVLogger` files.

    Attributes:
        name: the criterion, with its non-default arguments.
        stop_epoch: the epoch after which it stops training, or `None` when it
            never fires within the recorded epochs.
        kept_epoch: the epoch whose weights `restore_best_weights=True` would
            keep: the best monitored epoch up to `stop_epoch`.
        kept_value: the monitored value at `kept_epoch`.
        epochs_run: epochs trained under the criterion.
        epochs_saved: recorded epochs it would have skipped.
        share_saved: `epochs_saved` over the recorded epochs; with epochs of
            equal length, the share of training time saved.
        reason: the criterion's explanation of its stop, empty if none.

    Examples:
        >>> from keras_epochkit.analysis import CriterionStop
        >>> stop = CriterionStop("Patience(patience=2)", 5, 3, 0.25, 6, 4, 0.4, "")
        >>> stop.share_saved
        0.4
    """

    name: str
    stop_epoch: int | None
    kept_epoch: int
    kept_value: float
    epochs_run: int
    epochs_saved: int
    share_saved: float
    reason: str
