"""F1 score: the harmonic mean of precision and recall."""

from __future__ import annotations

import keras

from keras_epochkit._core.config import arguments_of
from keras_epochkit.metrics.averaged_score import AveragedScore
from keras_epochkit.metrics.f_beta_score import FBetaScore


@keras.saving.register_keras_serializable(package="keras_epochkit")
class F1Score(FBetaScore):
    """Computes the F1 score for binary, multiclass or multilabel tasks.

    Per class, `2 tp / (2 tp + fn + fp)`, then averaged; the result equals
    `sklearn.metrics.f1_score(..., labels=range(num_classes))`. Unlike
    `keras.metrics.F1Score` it takes sparse labels, logits and `top_k`.

    Args:
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
        name: name of the metric instance. Defaults to `"f1_score"`.
        dtype: dtype of the counts and result. Defaults to `"float32"`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> metric = ek.metrics.F1Score(num_classes=3, average="weighted")
        >>> metric.update_state(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
        >>> round(float(metric.result()), 4)
        0.5
    """

    _default_name = "f1_score"

    def __init__(
        self,
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
        super().__init__(beta=1.0, **arguments_of(AveragedScore, locals()))
