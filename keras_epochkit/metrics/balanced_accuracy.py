"""Balanced accuracy: the mean recall over the classes present."""

from __future__ import annotations

import keras
from keras import ops

from keras_epochkit._core.config import arguments_of
from keras_epochkit.metrics.matrix_score import MatrixScore


@keras.saving.register_keras_serializable(package="keras_epochkit")
class BalancedAccuracy(MatrixScore):
    """Computes balanced accuracy, the mean per-class recall.

    Classes without true samples are left out of the mean, as in
    `sklearn.metrics.balanced_accuracy_score`; with `adjusted=True` the score
    is rescaled so that chance level is 0 and a perfect score 1. When no
    class has true samples the result is 0 (scikit-learn returns NaN).

    Args:
        task: `"binary"` or `"multiclass"`. Defaults to `"multiclass"`.
        num_classes: number of classes; required for multiclass. Defaults to
            `None`.
        adjusted: rescale for chance. Defaults to `False`.
        threshold: probability above which a binary prediction is positive.
            Defaults to `0.5`.
        from_logits: whether `y_pred` holds logits. Defaults to `False`.
        sparse_y_true: force class indices (`True`) or one-hot (`False`)
            labels. Defaults to `None` (detected from the shapes).
        sparse_y_pred: force class indices (`True`) or scores (`False`) in
            `y_pred`. Defaults to `None` (detected from the shapes).
        ignore_class: a class index (multiclass) or label value (binary)
            whose samples are skipped. Defaults to `None`.
        class_names: names of the classes. Defaults to `None`.
        name: name of the metric instance. Defaults to `"balanced_accuracy"`.
        dtype: dtype of the counts and result. Defaults to `"float32"`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> metric = ek.metrics.BalancedAccuracy(num_classes=3)
        >>> metric.update_state(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
        >>> round(float(metric.result()), 4)
        0.5
    """

    _direction = "up"  # maximised by callbacks with mode="auto"
    _default_name = "balanced_accuracy"

    def __init__(
        self,
        task: str = "multiclass",
        num_classes: int | None = None,
        adjusted: bool = False,
        threshold: float = 0.5,
        from_logits: bool = False,
        sparse_y_true: bool | None = None,
        sparse_y_pred: bool | None = None,
        ignore_class: int | None = None,
        class_names: list[str] | None = None,
        name: str | None = None,
        dtype: str | None = None,
    ):
        super().__init__(**arguments_of(MatrixScore, locals()))
        self.adjusted = bool(adjusted)

    def result(self):
        matrix = self.matrix()
        support = ops.sum(matrix, axis=1)
        present = support > 0
        recall = ops.diagonal(matrix) / ops.where(present, support, 1.0)
        count = ops.sum(ops.cast(present, self.dtype))
        score = ops.sum(ops.where(present, recall, 0.0)) / ops.maximum(count, 1.0)
        if self.adjusted:
            chance = 1.0 / ops.maximum(count, 1.0)
            score = ops.where(count > 1, (score - chance) / (1.0 - chance), 0.0)
        return self._propagate_nan(ops.where(count > 0, score, 0.0), matrix)
