"""The base of per-class ratio scores, averaged as scikit-learn does."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from keras_epochkit._core.config import arguments_of
from keras_epochkit._core.validation import invalid
from keras_epochkit.metrics.confusion_counts import ConfusionCounts
from keras_epochkit.metrics.confusion_counts import check_average
from keras_epochkit.metrics.confusion_counts import check_zero_division
from keras_epochkit.metrics.confusion_counts import zero_division_value


@keras.saving.register_keras_serializable(package="keras_epochkit")
class AveragedScore(ConfusionCounts):
    """Base class of a per-class ratio of confusion counts, averaged like scikit-learn.

    The extension point for scores such as precision, recall or specificity.
    A subclass defines `ratio_terms(tp, fp, fn, tn)`, which returns the
    numerator and the denominator of its score from per-class (or, for
    `average="micro"`, pooled) weighted counts; this class divides, applies
    `zero_division` where the denominator is 0, and averages. Arguments,
    input formats, `get_config` and serialization come with it: a subclass
    that adds constructor arguments stores each under its own name, and
    `get_config` finds them in its signature. Register the subclass with
    `keras.saving.register_keras_serializable` to save it in a `.keras` file.

    Its constructor arguments are those of `Precision`, in the same order
    and with the same defaults (`name` defaults to the class's
    `_default_name`). A class whose denominator is 0 scores `zero_division`:
    `0`, `1`, `"nan"` (left out of the averages) or `"warn"`: 0 with an
    `UndefinedMetricWarning`, once per `result()` call, as scikit-learn
    does. A `result()` traced into a graph (a compiled train step) cannot
    read the counts, so there it scores 0 without the warning; called
    eagerly (by you, or by Keras at the end of an epoch on some backends),
    it warns.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> @keras.saving.register_keras_serializable(package="my_package")
        ... class Specificity(ek.metrics.AveragedScore):
        ...     _default_name = "specificity"
        ...     undefined_in = "classes with no negative samples"
        ...
        ...     def ratio_terms(self, tp, fp, fn, tn):
        ...         return tn, tn + fp
        >>> metric = Specificity(task="binary")
        >>> metric.update_state(np.array([0, 0, 0, 1]), np.array([0.2, 0.7, 0.1, 0.9]))
        >>> round(float(metric.result()), 4)
        0.6667
    """

    _default_name = "averaged_score"
    _direction = "up"  # maximised by callbacks with mode="auto"
    # Where a score is undefined, in the words of the warning.
    undefined_in = "classes whose denominator is 0"

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
        super().__init__(**arguments_of(ConfusionCounts, locals()))
        self.average = check_average(average)
        self.zero_division = check_zero_division(zero_division)
        if class_id is not None:
            if task == "binary":
                raise invalid("class_id", "None for task='binary'", class_id)
            if not isinstance(class_id, int) or not 0 <= class_id < num_classes:
                raise invalid("class_id", f"an integer in [0, {num_classes})", class_id)
        self.class_id = class_id

    def ratio_terms(self, tp: Any, fp: Any, fn: Any, tn: Any) -> tuple[Any, Any]:
        """The numerator and denominator of the score from weighted counts.

        Args:
            tp: true positives, per class (or pooled for micro averaging).
            fp: false positives.
            fn: false negatives.
            tn: true negatives.

        Returns:
            A `(numerator, denominator)` pair of tensors of the counts' shape.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define ratio_terms(tp, fp, fn, tn)."
        )

    def _divide(self, numerator, denominator, xp=ops):
        defined = denominator > 0
        ratio = numerator / xp.where(defined, denominator, 1.0)
        fill = zero_division_value(self.zero_division)
        if fill == 0.0:
            return ratio  # the numerator is 0 wherever the denominator is
        # NaN counts (invalid inputs) must stay NaN.
        return xp.where(defined | xp.isnan(denominator), ratio, fill)

    def _score(self, tp, fp, fn, tn, xp=ops):
        numerator, denominator = self.ratio_terms(tp, fp, fn, tn)
        if xp is np:  # a subclass's terms may come back as tensors
            numerator = np.asarray(ops.convert_to_numpy(numerator), self.dtype)
            denominator = np.asarray(ops.convert_to_numpy(denominator), self.dtype)
        self._warn_undefined(denominator == 0.0, f"in {self.undefined_in}")
        return self._divide(numerator, denominator, xp)

    def per_class(self):
        """The score of every class (or of the positive class for binary)."""
        tp, fp, fn, tn, _ = self.stat_scores_per_class()
        return self._divide(*self.ratio_terms(tp, fp, fn, tn))

    def result(self):
        # Eagerly (as Keras calls it at each epoch end) on the host in NumPy;
        # traced (inside a compiled step) in keras.ops.
        xp = self.host_namespace()
        with np.errstate(divide="ignore", invalid="ignore"):
            value = self._result(xp)
        if isinstance(value, dict):
            return {k: self._as_result(v, xp) for k, v in value.items()}
        return self._as_result(value, xp)

    def _result(self, xp):
        tp, fp, fn, tn, support = self.stat_scores_per_class(xp)
        if self.task == "binary" or self.class_id is not None:
            index = self.class_id or 0
            return self._score(tp[index], fp[index], fn[index], tn[index], xp)
        included = self._included_classes()
        if len(included) < self.num_classes:
            index = included if xp is np else ops.convert_to_tensor(included, "int32")
            tp, fp, fn, tn, support = (
                xp.take(v, index) for v in (tp, fp, fn, tn, support)
            )
        if self.average == "micro":
            return self._score(*(xp.sum(v) for v in (tp, fp, fn, tn)), xp)
        scores = self._score(tp, fp, fn, tn, xp)
        if self.average is None:
            return {
                f"{self.name}_{self._class_label(i)}": scores[j]
                for j, i in enumerate(included)
            }
        if self.zero_division != "nan":
            mean = xp.mean(scores)
            if self.average == "macro":
                return mean
            total = xp.sum(support)
            weighted = xp.sum(scores * support) / xp.where(total > 0, total, 1.0)
            return xp.where(total == 0, mean, weighted)
        # zero_division="nan": undefined classes are left out of the averages.
        present = xp.logical_not(xp.isnan(scores))
        values = xp.where(present, scores, 0.0)
        counts = (
            ops.cast(present, self.dtype) if xp is ops else present.astype(self.dtype)
        )
        mean = xp.sum(values) / xp.sum(counts)  # NaN when no class is defined
        if self.average == "macro":
            return self._propagate_nan(mean, support, xp)
        weights = support * counts
        total = xp.sum(weights)
        weighted = xp.sum(values * weights) / xp.where(total > 0, total, 1.0)
        return self._propagate_nan(xp.where(total > 0, weighted, mean), support, xp)
