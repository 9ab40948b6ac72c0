"""F-beta score: the weighted harmonic mean of precision and recall."""

from __future__ import annotations

import keras

from keras_epochkit._core.config import arguments_of
from keras_epochkit._core.validation import check_number
from keras_epochkit.metrics.averaged_score import AveragedScore


@keras.saving.register_keras_serializable(package="keras_epochkit")
class FBetaScore(AveragedScore):
    """Computes the F-beta score for binary, multiclass or multilabel tasks.

    Per class, `(1 + b²) tp / ((1 + b²) tp + b² fn + fp)` with `b = beta`,
    then averaged; the result equals `sklearn.metrics.fbeta_score(...,
    labels=range(num_classes))`. `beta > 1` favours recall, `beta < 1`
    precision.

    Args:
        beta: weight of recall relative to precision; must be positive.
            Defaults to `1.0`.
        task: `"binary"`, `"multiclass"` or `"multilabel"`. Defaults to
            `"multiclass"`.
        num_classes: number of classes or labels; required unless
            `task="binary"`. Defaults to `None`.
        average: `"micro"`, `"macro"`, `"weighted"` or `None` (per-class
            results as a dict of scalars `{"<name>_class_<i>": ...}`).
            Unused for `task="binary"`. Defaults to `"macro"`.
        threshold: probability above which a binary or multilabel prediction
            is positive. Defaults to `0.5`.
        top_k: multiclass only: the `top_k` highest scores are the predicted
            classes of a sample. Defaults to `None` (arg-max).
        class_id: return only this class's score. Defaults to `None`.
        zero_division: the score of a class that is neither present nor
            predicted: `"warn"` (0, with an `UndefinedMetricWarning` in eager
            execution), `0`, `1` or `"nan"`
            (left out of the averages). Defaults to `"warn"`.
        from_logits: whether `y_pred` holds logits. Defaults to `False`.
        sparse_y_true: force class indices (`True`) or one-hot (`False`)
            labels. Defaults to `None` (detected from the shapes).
        sparse_y_pred: force class indices (`True`) or scores (`False`) in
            `y_pred`. Defaults to `None` (detected from the shapes).
        ignore_class: a class index (multiclass) or label value (binary,
            multilabel) to skip. Defaults to `None`.
        class_names: names for the per-class result keys. Defaults to `None`.
        name: name of the metric instance. Defaults to `"fbeta_score"`.
        dtype: dtype of the counts and result. Defaults to `"float32"`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> metric = ek.metrics.FBetaScore(beta=2.0, task="binary")
        >>> metric.update_state(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.7, 0.1]))
        >>> round(float(metric.result()), 4)
        0.5
    """

    _default_name = "fbeta_score"
    undefined_in = "classes with no true nor predicted samples"

    def __init__(
        self,
        beta: float = 1.0,
        task: str = "multiclass",
        num_classes: int | None = None,
        average: str | None = "macro",
        threshold: float = 0.5,
        top_k: int | None = None,
        class_id: int | None = None,
        zero_division: str | float = "warn",
        from_logits: bool = False,
        sparse_y_true: bool | None = None,
        sparse_y_pred: bool | None = None,
        ignore_class: int | None = None,
        class_names: list[str] | None = None,
        name: str | None = None,
        dtype: str | None = None,
    ):
        self.beta = check_number("beta", beta, 0.0, strict=True)
        super().__init__(**arguments_of(AveragedScore, locals()))

    def ratio_terms(self, tp, fp, fn, tn):
        b2 = self.beta**2
        return (1.0 + b2) * tp, (1.0 + b2) * tp + b2 * fn + fp
