"""The base of scores computed from the full confusion matrix."""

from __future__ import annotations

import keras
from keras import ops

from keras_epochkit._core.config import arguments_of
from keras_epochkit._core.validation import invalid
from keras_epochkit.metrics.confusion_counts import ConfusionCounts


@keras.saving.register_keras_serializable(package="keras_epochkit")
class MatrixScore(ConfusionCounts):
    """Base class of a score of the full (weighted) confusion matrix.

    The extension point for scores that need every cell of the matrix, such
    as the Matthews correlation or Cohen's kappa. The state is the
    `(num_classes, num_classes)` confusion matrix (2 x 2 for binary), rows
    true classes and columns predicted classes, summed across replicas. A
    subclass overrides `result()` and reduces `self.matrix()`; used directly,
    `result()` returns the matrix. Each sample has one predicted class, so
    there is no `top_k`, and the task is binary or multiclass.

    Its constructor arguments are those of `MatthewsCorrelation`, in the
    same order and with the same defaults (`name` defaults to the class's
    `_default_name`).

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> @keras.saving.register_keras_serializable(package="my_package")
        ... class Accuracy(ek.metrics.MatrixScore):
        ...     _default_name = "accuracy"
        ...
        ...     def result(self):
        ...         matrix = self.matrix()
        ...         return keras.ops.trace(matrix) / keras.ops.sum(matrix)
        >>> metric = Accuracy(num_classes=3)
        >>> metric.update_state(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
        >>> float(metric.result())
        0.5
    """

    _needs_matrix = True
    _default_name = "matrix_score"
    _tasks = ("binary", "multiclass")

    def __init__(
        self,
        task: str = "multiclass",
        num_classes: int | None = None,
        threshold: float = 0.5,
        from_logits: bool = False,
        sparse_y_true: bool | None = None,
        sparse_y_pred: bool | None = None,
        ignore_class: int | None = None,
        class_names: list[str] | None = None,
        name: str | None = None,
        dtype: str | None = None,
    ):
        if task not in self._tasks and task in ("binary", "multiclass", "multilabel"):
            listed = " or ".join(repr(t) for t in self._tasks)
            raise invalid("task", f"{listed} for {type(self).__name__}", task)
        super().__init__(**arguments_of(ConfusionCounts, locals()))

    def matrix(self):
        """The confusion matrix as a tensor: rows true, columns predicted."""
        return ops.convert_to_tensor(self.confusion)

    def result(self):
        return self.matrix()
