"""The confusion matrix, accumulated over batches."""

from __future__ import annotations

import keras
from keras import ops

from keras_epochkit._core.config import arguments_of
from keras_epochkit._core.validation import check_choice
from keras_epochkit._core.validation import invalid
from keras_epochkit.metrics.confusion_counts import TASKS
from keras_epochkit.metrics.matrix_score import MatrixScore

NORMALIZE = (None, "true", "pred", "all")


@keras.saving.register_keras_serializable(package="keras_epochkit")
class ConfusionMatrix(MatrixScore):
    """Accumulates the (weighted) confusion matrix.

    For `"binary"` and `"multiclass"` the result has shape
    `(num_classes, num_classes)` (2 x 2 for binary), rows are true classes and
    columns predicted classes, as `sklearn.metrics.confusion_matrix(...,
    labels=range(num_classes))`. For `"multilabel"` it has shape
    `(num_classes, 2, 2)`, one `[[tn, fp], [fn, tp]]` block per label, as
    `sklearn.metrics.multilabel_confusion_matrix`.

    Compiled into a model, its (non-scalar) result appears in the logs as an
    array; `keras_epochkit.callbacks.ClassificationReport` turns it into a
    per-class table. Counts are exact integers in float32 up to 2**24
    (unweighted) samples.

    Args:
        task: `"binary"`, `"multiclass"` or `"multilabel"`. Defaults to
            `"multiclass"`.
        num_classes: number of classes or labels; required unless
            `task="binary"`. Defaults to `None`.
        normalize: `None` (counts), `"true"` (rows sum to 1), `"pred"`
            (columns sum to 1) or `"all"` (the matrix sums to 1); an empty row
            or column stays 0. Binary and multiclass only. Defaults to `None`.
        threshold: probability above which a binary or multilabel prediction
            is positive. Defaults to `0.5`.
        from_logits: whether `y_pred` holds logits. Defaults to `False`.
        sparse_y_true: force class indices (`True`) or one-hot (`False`)
            labels. Defaults to `None` (detected from the shapes).
        sparse_y_pred: force class indices (`True`) or scores (`False`) in
            `y_pred`. Defaults to `None` (detected from the shapes).
        ignore_class: a class index (multiclass) or label value (binary,
            multilabel) whose samples are skipped. Defaults to `None`.
        class_names: names of the classes, used by reports. Defaults to
            `None`.
        name: name of the metric instance. Defaults to `"confusion_matrix"`.
        dtype: dtype of the counts and result. Defaults to `"float32"`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> metric = ek.metrics.ConfusionMatrix(num_classes=3)
        >>> metric.update_state(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
        >>> np.asarray(metric.result()).astype(int)
        array([[1, 0, 0],
               [0, 0, 1],
               [0, 1, 1]])
    """

    _default_name = "confusion_matrix"
    _tasks = TASKS

    def __init__(
        self,
        task: str = "multiclass",
        num_classes: int | None = None,
        normalize: str | None = None,
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
        check_choice("normalize", normalize, NORMALIZE)
        if normalize is not None and task == "multilabel":
            raise invalid("normalize", "None for task='multilabel'", normalize)
        self.normalize = normalize

    def result(self):
        if not self._uses_matrix:
            tp, fp, fn, tn, _ = self.stat_scores_per_class()
            blocks = ops.stack([ops.stack([tn, fp], -1), ops.stack([fn, tp], -1)], 1)
            return blocks
        matrix = self.matrix()
        if self.normalize == "true":
            totals = ops.sum(matrix, axis=1, keepdims=True)
        elif self.normalize == "pred":
            totals = ops.sum(matrix, axis=0, keepdims=True)
        elif self.normalize == "all":
            totals = ops.sum(matrix)
        else:
            return matrix
        safe = ops.where(totals > 0, totals, ops.ones_like(totals))
        return self._propagate_nan(ops.where(totals > 0, matrix / safe, 0.0), matrix)
