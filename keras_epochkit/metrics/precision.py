"""Precision: the share of predicted positives that are correct."""

from __future__ import annotations

import keras

from keras_epochkit.metrics.averaged_score import AveragedScore


@keras.saving.register_keras_serializable(package="keras_epochkit")
class Precision(AveragedScore):
    """Computes precision, `tp / (tp + fp)`, for binary, multiclass or multilabel tasks.

    The counts are accumulated over batches (weighted by `sample_weight`)
    and summed across replicas, and the result equals
    `sklearn.metrics.precision_score(..., labels=range(num_classes))`.

    Args:
        task: `"binary"`, `"multiclass"` or `"multilabel"`. Defaults to
            `"multiclass"`.
        num_classes: number of classes or labels; required unless
            `task="binary"`. Defaults to `None`.
        average: `"micro"` (pool the counts of all classes), `"macro"`
            (unweighted mean of the per-class scores), `"weighted"` (mean
            weighted by each class's support) or `None` (one result per class,
            as a dict of scalars `{"<name>_class_<i>": ...}` so that each
            reaches the logs). Unused for `task="binary"`, which scores the
            positive class. Defaults to `"macro"`.
        threshold: probability above which a binary or multilabel prediction
            is positive. Defaults to `0.5`.
        top_k: multiclass only: the `top_k` highest scores are the predicted
            classes of a sample. Defaults to `None` (arg-max).
        class_id: return only this class's score. Defaults to `None`.
        zero_division: the score of a class with no predicted positives:
            `"warn"` (0, with an `UndefinedMetricWarning` in eager
            execution), `0`, `1` or `"nan"` (NaN classes
            are left out of the averages). Defaults to `"warn"`.
        from_logits: whether `y_pred` holds logits. Defaults to `False`.
        sparse_y_true: force class indices (`True`) or one-hot (`False`)
            labels. Defaults to `None` (detected from the shapes).
        sparse_y_pred: force class indices (`True`) or scores (`False`) in
            `y_pred`. Defaults to `None` (detected from the shapes).
        ignore_class: a class index (multiclass) or label value (binary,
            multilabel) to skip. Defaults to `None`.
        class_names: names for the per-class result keys. Defaults to `None`.
        name: name of the metric instance. Defaults to `"precision"`.
        dtype: dtype of the counts and result. Defaults to `"float32"`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> metric = ek.metrics.Precision(num_classes=3, average=None)
        >>> metric.update_state(np.array([0, 1, 2, 2]), np.eye(3)[[0, 2, 2, 1]])
        >>> {k: round(float(v), 2) for k, v in metric.result().items()}
        {'precision_class_0': 1.0, 'precision_class_1': 0.0, 'precision_class_2': 0.5}
    """

    _default_name = "precision"
    undefined_in = "classes with no predicted samples"

    def ratio_terms(self, tp, fp, fn, tn):
        return tp, tp + fp
