"""Matthews correlation coefficient from the confusion matrix."""

from __future__ import annotations

import keras
from keras import ops

from keras_epochkit.metrics.matrix_score import MatrixScore


@keras.saving.register_keras_serializable(package="keras_epochkit")
class MatthewsCorrelation(MatrixScore):
    """Computes the Matthews correlation coefficient (MCC).

    The multiclass generalisation (Gorodkin's R_K) of the correlation between
    true and predicted classes, from -1 to 1, 0 at chance; equal to
    `sklearn.metrics.matthews_corrcoef`, and 0 when undefined (all samples in
    one true or one predicted class), as there. Its terms are products of
    counts, so with integer (or dyadic) weights they are exact in float32
    while they stay below 2**24.

    Args:
        task: `"binary"` or `"multiclass"`. Defaults to `"multiclass"`.
        num_classes: number of classes; required for multiclass. Defaults to
            `None`.
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
        name: name of the metric instance. Defaults to
            `"matthews_correlation"`.
        dtype: dtype of the counts and result. Defaults to `"float32"`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> metric = ek.metrics.MatthewsCorrelation(task="binary")
        >>> metric.update_state(np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
        >>> round(float(metric.result()), 4)
        0.5774
    """

    _direction = "up"  # maximised by callbacks with mode="auto"
    _default_name = "matthews_correlation"

    def result(self):
        matrix = self.matrix()
        true_sum = ops.sum(matrix, axis=1)
        pred_sum = ops.sum(matrix, axis=0)
        total = ops.sum(true_sum)
        correct = ops.trace(matrix)
        cov_true_pred = correct * total - ops.sum(true_sum * pred_sum)
        cov_pred = total * total - ops.sum(pred_sum * pred_sum)
        cov_true = total * total - ops.sum(true_sum * true_sum)
        defined = ops.logical_and(cov_pred > 0, cov_true > 0)
        scale = ops.sqrt(ops.where(defined, cov_pred, 1.0)) * ops.sqrt(
            ops.where(defined, cov_true, 1.0)
        )
        return self._propagate_nan(
            ops.where(defined, cov_true_pred / scale, 0.0), matrix
        )
