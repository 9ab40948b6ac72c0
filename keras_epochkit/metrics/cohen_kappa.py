"""Cohen's kappa: agreement between labels and predictions beyond chance."""

from __future__ import annotations

import keras
from keras import ops

from keras_epochkit._core.config import arguments_of
from keras_epochkit._core.validation import check_choice
from keras_epochkit.metrics.confusion_counts import check_zero_division
from keras_epochkit.metrics.confusion_counts import zero_division_value
from keras_epochkit.metrics.matrix_score import MatrixScore

WEIGHTS = (None, "linear", "quadratic")


@keras.saving.register_keras_serializable(package="keras_epochkit")
class CohenKappa(MatrixScore):
    """Computes Cohen's kappa, optionally with linear or quadratic weights.

    `kappa = 1 - sum(W * C) / sum(W * E)` with `C` the confusion matrix, `E`
    the matrix expected by chance from its marginals and `W` the
    disagreement weights; equal to `sklearn.metrics.cohen_kappa_score`. It is
    computed as `(sum(W * E) - sum(W * C)) / sum(W * E)` on unnormalised
    counts, which keeps it exact in float32 for integer weights while the
    terms stay below 2**24.

    Args:
        task: `"binary"` or `"multiclass"`. Defaults to `"multiclass"`.
        num_classes: number of classes; required for multiclass. Defaults to
            `None`.
        weights: `None` (every disagreement counts 1), `"linear"` or
            `"quadratic"` (disagreements weighted by the distance between the
            class indices, for ordinal classes). Defaults to `None`.
        zero_division: the result when kappa is undefined (no samples, or
            chance agreement is perfect): `"warn"` (0, with an
            `UndefinedMetricWarning` in eager execution), `0`, `1` or `"nan"`
            (scikit-learn's default is NaN). Defaults to `0.0`.
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
        name: name of the metric instance. Defaults to `"cohen_kappa"`.
        dtype: dtype of the counts and result. Defaults to `"float32"`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> metric = ek.metrics.CohenKappa(num_classes=3, weights="quadratic")
        >>> metric.update_state(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
        >>> round(float(metric.result()), 4)
        0.6364
    """

    _direction = "up"  # maximised by callbacks with mode="auto"
    _default_name = "cohen_kappa"
    _config_attributes = {"weights": "weights_mode"}

    def __init__(
        self,
        task: str = "multiclass",
        num_classes: int | None = None,
        weights: str | None = None,
        zero_division: str | float = 0.0,
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
        self.weights_mode = check_choice("weights", weights, WEIGHTS)
        self.zero_division = check_zero_division(zero_division)

    def _disagreement(self):
        index = ops.arange(self._classes, dtype=self.dtype)
        distance = ops.abs(index[:, None] - index[None, :])
        if self.weights_mode == "linear":
            return distance
        if self.weights_mode == "quadratic":
            return distance * distance
        return ops.cast(distance > 0, self.dtype)

    def result(self):
        matrix = self.matrix()
        weights = self._disagreement()
        true_sum = ops.sum(matrix, axis=1)
        pred_sum = ops.sum(matrix, axis=0)
        total = ops.sum(true_sum)
        expected = ops.sum(true_sum[:, None] * weights * pred_sum[None, :])
        observed = total * ops.sum(weights * matrix)
        defined = expected > 0
        self._warn_undefined(
            ops.equal(expected, 0.0), "(no samples, or chance agreement is perfect)"
        )
        kappa = (expected - observed) / ops.where(defined, expected, 1.0)
        fill = zero_division_value(self.zero_division)
        return self._propagate_nan(ops.where(defined, kappa, fill), matrix)
