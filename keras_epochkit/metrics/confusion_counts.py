"""The confusion-count state shared by every classification metric."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

TASKS = ("binary", "multiclass", "multilabel")
AVERAGES = ("micro", "macro", "weighted", None)


def zero_division_value(zero_division: str | float) -> float:
    """Maps a `zero_division` argument to the number it stands for."""
    if isinstance(zero_division, str):
        return math.nan if zero_division == "nan" else 0.0
    return float(zero_division)


def check_zero_division(zero_division: str | float) -> str | float:
    """Validates `zero_division`; returns its JSON-able canonical form."""
    if isinstance(zero_division, str):
        if zero_division in ("warn", "nan"):
            return zero_division
    elif isinstance(zero_division, (int, float)) and not isinstance(
        zero_division, bool
    ):
        if math.isnan(zero_division):
            return "nan"
        if zero_division in (0, 1):
            return float(zero_division)
    raise ValueError(
        'Argument `zero_division` must be one of "warn", 0, 1 or "nan" (or '
        f"float('nan')). Received: zero_division={zero_division!r}"
    )


def check_average(average: str | None) -> str | None:
    """Validates `average`."""
    if average not in AVERAGES:
        raise ValueError(
            'Argument `average` must be one of "micro", "macro", "weighted" or '
            f"None. Received: average={average!r}"
        )
    return average


def _shape(x) -> tuple:
    return tuple(None if d is None else int(d) for d in x.shape)


def _compatible(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b)
    )


@keras.saving.register_keras_serializable(package="keras_epochkit")
class ConfusionCounts(keras.metrics.Metric):
    """Base class: accumulates confusion counts that subclasses reduce.

    The state is either a full confusion matrix (rows are true classes,
    columns predicted classes; `binary` and `multiclass` tasks with a single
    prediction per sample) or, per class, four sums: true positives,
    predicted positives, actual positives (the support) and the total weight.
    Every count is weighted by `sample_weight` and kept in a metric variable
    with `"sum"` aggregation, so replicas add up under distribution. The
    inputs are formatted in one place, with shape errors raised while the
    step is traced.

    Input conventions per `task`:

    * `"binary"`: `y_true` holds 0/1 labels of shape `(...)` or `(..., 1)`;
      `y_pred` holds one probability (or logit with `from_logits=True`) per
      sample of the same shape; a prediction is positive when it is greater
      than `threshold`.
    * `"multiclass"`: `y_true` holds class indices `(...)` / `(..., 1)` or
      one-hot rows `(..., num_classes)`; `y_pred` holds scores
      `(..., num_classes)` (probabilities or logits: the arg-max, or the
      `top_k` highest scores, are the predicted classes) or class indices.
    * `"multilabel"`: `y_true` and `y_pred` are `(..., num_classes)`
      indicator rows and scores; each label is positive above `threshold`.

    Labels outside `[0, num_classes)` (other than `ignore_class`) cannot be
    reported from inside a compiled step, so they turn the result into NaN;
    when `update_state` receives NumPy labels it raises a `ValueError`
    instead.

    Args:
        task: `"binary"`, `"multiclass"` or `"multilabel"`. Defaults to
            `"multiclass"`.
        num_classes: number of classes (multiclass) or labels (multilabel);
            required for those tasks, unused for binary. Defaults to `None`.
        threshold: probability above which a binary or multilabel prediction
            is positive. Defaults to `0.5`.
        top_k: multiclass only: count a sample as predicted for each of its
            `top_k` highest-scoring classes. Defaults to `None` (arg-max).
        from_logits: whether `y_pred` holds logits; a sigmoid is applied
            before thresholding. The arg-max and top-k of multiclass scores do
            not depend on it. Defaults to `False`.
        sparse_y_true: force class indices (`True`) or one-hot rows
            (`False`) for multiclass `y_true`. Defaults to `None` (detected
            from the shapes).
        sparse_y_pred: force class indices (`True`) or scores (`False`) for
            multiclass `y_pred`. Defaults to `None` (detected from the
            shapes).
        ignore_class: multiclass: a class index whose samples are skipped (a
            valid index is also left out of the per-class results and the
            averages); binary and multilabel: a label value (such as `-1`)
            whose entries are skipped. Defaults to `None`.
        class_names: names used in per-class result keys instead of
            `class_0`, `class_1`, ... Defaults to `None`.
        name: name of the metric instance. Defaults to the subclass's name.
        dtype: dtype of the counts and results. Defaults to `"float32"`.
    """

    _needs_matrix = False
    _default_name = "confusion_counts"

    def __init__(
        self,
        task: str = "multiclass",
        num_classes: int | None = None,
        threshold: float = 0.5,
        top_k: int | None = None,
        from_logits: bool = False,
        sparse_y_true: bool | None = None,
        sparse_y_pred: bool | None = None,
        ignore_class: int | None = None,
        class_names: list[str] | None = None,
        name: str | None = None,
        dtype: str | None = None,
    ):
        super().__init__(name=name or self._default_name, dtype=dtype or "float32")
        if task not in TASKS:
            raise ValueError(
                'Argument `task` must be one of "binary", "multiclass" or '
                f'"multilabel". Received: task={task!r}'
            )
        if task == "binary":
            if num_classes not in (None, 1, 2):
                raise ValueError(
                    "Argument `num_classes` must be None, 1 or 2 for "
                    f"task='binary'. Received: num_classes={num_classes!r}"
                )
        elif num_classes is None:
            raise ValueError(
                f"Argument `num_classes` is required for task={task!r}. "
                "Received: num_classes=None"
            )
        elif not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                "Argument `num_classes` must be an integer >= 2 for "
                f"task={task!r}. Received: num_classes={num_classes!r}"
            )
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(
                "Argument `threshold` must be in [0, 1]. "
                f"Received: threshold={threshold!r}"
            )
        if top_k is not None:
            if task != "multiclass":
                raise ValueError(
                    "Argument `top_k` is only allowed with task='multiclass'. "
                    f"Received: top_k={top_k!r}, task={task!r}"
                )
            if not isinstance(top_k, int) or not 1 <= top_k <= num_classes:
                raise ValueError(
                    "Argument `top_k` must be an integer in [1, num_classes="
                    f"{num_classes}]. Received: top_k={top_k!r}"
                )
            if top_k > 1 and self._needs_matrix:
                raise ValueError(
                    f"{type(self).__name__} needs one predicted class per sample, "
                    f"so `top_k` must be None or 1. Received: top_k={top_k!r}"
                )
            if top_k > 1 and sparse_y_pred:
                raise ValueError(
                    "Argument `top_k` > 1 needs scores in `y_pred`, not class "
                    f"indices. Received: top_k={top_k!r}, sparse_y_pred=True"
                )
        for arg, value in (
            ("sparse_y_true", sparse_y_true),
            ("sparse_y_pred", sparse_y_pred),
        ):
            if value not in (None, True, False):
                raise ValueError(
                    f"Argument `{arg}` must be None, True or False. "
                    f"Received: {arg}={value!r}"
                )
        if ignore_class is not None and not isinstance(ignore_class, int):
            raise ValueError(
                "Argument `ignore_class` must be an integer or None. "
                f"Received: ignore_class={ignore_class!r}"
            )
        self.task = task
        self.num_classes = num_classes
        self.threshold = float(threshold)
        self.top_k = top_k
        self.from_logits = bool(from_logits)
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.ignore_class = ignore_class
        self._classes = 2 if task == "binary" else num_classes
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if len(class_names) != self._classes:
                raise ValueError(
                    f"Argument `class_names` must name {self._classes} classes. "
                    f"Received {len(class_names)}: class_names={class_names!r}"
                )
        self.class_names = class_names
        self._uses_matrix = self._needs_matrix and task != "multilabel"
        if self._uses_matrix:
            self.confusion = self.add_variable(
                shape=(self._classes, self._classes),
                initializer="zeros",
                dtype=self.dtype,
                name="confusion",
            )
        else:
            columns = 1 if task == "binary" else num_classes
            self.stat_scores = self.add_variable(
                shape=(4, columns),
                initializer="zeros",
                dtype=self.dtype,
                name="stat_scores",
            )

    # Input formatting -------------------------------------------------

    def _format_weights(self, sample_weight, lead):
        """Broadcasts `sample_weight` to `lead`'s shape and flattens it."""
        if sample_weight is None:
            return ops.reshape(ops.ones_like(lead, dtype=self.dtype), (-1,))
        sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), self.dtype)
        w_shape, l_shape = _shape(sample_weight), _shape(lead)
        if len(w_shape) == len(l_shape) + 1 and w_shape[-1] == 1:
            sample_weight = ops.squeeze(sample_weight, axis=-1)
            w_shape = w_shape[:-1]
        if len(w_shape) > len(l_shape) or not _compatible(
            w_shape, l_shape[: len(w_shape)]
        ):
            raise ValueError(
                f"`sample_weight` of shape {w_shape} does not match the samples "
                f"of shape {l_shape} (y_true and y_pred without the class axis)."
            )
        for _ in range(len(l_shape) - len(w_shape)):
            sample_weight = ops.expand_dims(sample_weight, -1)
        sample_weight = sample_weight * ops.ones_like(lead, dtype=self.dtype)
        return ops.reshape(sample_weight, (-1,))

    def _shape_error(self, message, y_true, y_pred):
        return ValueError(
            f"{type(self).__name__}(task={self.task!r}, num_classes="
            f"{self.num_classes}): {message} Received: y_true.shape="
            f"{_shape(y_true)}, y_pred.shape={_shape(y_pred)}"
        )

    def _check_numpy_labels(self, y_true, valid_values):
        labels = np.asarray(y_true)
        if labels.dtype.kind not in "iub" and not np.all(labels == np.round(labels)):
            return
        shape = labels.shape
        if self.ignore_class is not None:
            labels = labels[labels != self.ignore_class]
        bad = labels[(labels < valid_values[0]) | (labels > valid_values[1])]
        if bad.size:
            raise ValueError(
                f"{type(self).__name__}(task={self.task!r}): labels must be in "
                f"[{valid_values[0]}, {valid_values[1]}]; received "
                f"{sorted(set(bad.ravel().tolist()))[:10]} in y_true of shape "
                f"{shape}."
            )

    def _multiclass_inputs(self, y_true, y_pred):
        """Returns flat int class indices of `y_true` and of `y_pred` (or scores)."""
        c = self.num_classes
        t_shape, p_shape = _shape(y_true), _shape(y_pred)
        if len(p_shape) == 0:
            raise self._shape_error("y_pred must have a batch axis.", y_true, y_pred)
        sparse_pred = self.sparse_y_pred
        if sparse_pred is None:
            if len(p_shape) >= 2 and p_shape[-1] == c:
                sparse_pred = False
            elif len(p_shape) == 1 or p_shape[-1] == 1:
                sparse_pred = True
            elif _compatible(
                p_shape, t_shape
            ) and "int" in keras.backend.standardize_dtype(y_pred.dtype):
                sparse_pred = True
            else:
                raise self._shape_error(
                    f"y_pred must hold scores of shape (..., {c}) or class "
                    "indices of shape (...) or (..., 1).",
                    y_true,
                    y_pred,
                )
        if sparse_pred:
            if len(p_shape) >= 2 and p_shape[-1] == 1:
                y_pred = ops.squeeze(y_pred, axis=-1)
            lead = _shape(y_pred)
        else:
            if len(p_shape) < 2 or p_shape[-1] != c:
                raise self._shape_error(
                    f"y_pred scores must have shape (..., {c}).", y_true, y_pred
                )
            lead = p_shape[:-1]
        sparse_true = self.sparse_y_true
        if sparse_true is None:
            if len(t_shape) == len(lead):
                sparse_true = True
            elif len(t_shape) == len(lead) + 1 and t_shape[-1] == 1:
                sparse_true = True
            elif len(t_shape) == len(lead) + 1 and t_shape[-1] == c:
                sparse_true = False
            else:
                raise self._shape_error(
                    f"y_true must hold class indices of shape {lead} or "
                    f"{(*lead, 1)}, or one-hot rows of shape {(*lead, c)}.",
                    y_true,
                    y_pred,
                )
        if sparse_true:
            if len(t_shape) == len(lead) + 1 and t_shape[-1] == 1:
                y_true = ops.squeeze(y_true, axis=-1)
            if not _compatible(_shape(y_true), lead):
                raise self._shape_error(
                    f"sparse y_true must have shape {lead} or {(*lead, 1)}.",
                    y_true,
                    y_pred,
                )
            true_idx = ops.cast(y_true, "int32")
        else:
            if not _compatible(t_shape, (*lead, c)):
                raise self._shape_error(
                    f"one-hot y_true must have shape {(*lead, c)}.", y_true, y_pred
                )
            true_idx = ops.cast(ops.argmax(y_true, axis=-1), "int32")
        ones = ops.ones_like(true_idx, dtype=self.dtype)
        true_idx = ops.reshape(true_idx, (-1,))
        if sparse_pred:
            pred = ops.reshape(ops.cast(y_pred, "int32"), (-1,))
        else:
            pred = ops.reshape(y_pred, (-1, c))
        return true_idx, pred, sparse_pred, ones

    def _binary_inputs(self, y_true, y_pred):
        t_shape, p_shape = _shape(y_true), _shape(y_pred)
        if len(p_shape) >= 2 and p_shape[-1] == 1:
            y_pred = ops.squeeze(y_pred, axis=-1)
        if len(t_shape) >= 2 and t_shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        if len(_shape(y_pred)) == 0 or not _compatible(_shape(y_true), _shape(y_pred)):
            raise self._shape_error(
                "task='binary' expects one 0/1 label and one score per sample, "
                "shapes (...) or (..., 1); for several classes use "
                "task='multiclass' or 'multilabel' with num_classes.",
                y_true,
                y_pred,
            )
        return y_true, y_pred

    def _positive(self, y_pred):
        y_pred = ops.cast(y_pred, self.dtype)
        if self.from_logits:
            y_pred = ops.sigmoid(y_pred)
        return ops.cast(y_pred > self.threshold, self.dtype)

    def _labels_01(self, y_true, weights):
        """Zero weight for ignored labels, NaN weight for labels other than 0/1."""
        y_true = ops.cast(y_true, self.dtype)
        in_range = ops.logical_or(ops.equal(y_true, 0), ops.equal(y_true, 1))
        weights = ops.where(in_range, weights, math.nan)
        if self.ignore_class is not None:
            weights = ops.where(ops.equal(y_true, self.ignore_class), 0.0, weights)
        return ops.where(in_range, y_true, 0.0), weights

    def _index_mask(self, true_idx, weights):
        """Zero weight for the ignored class, NaN weight for indices out of range.

        A NaN weight turns the counts, and so the result, into NaN until the
        next reset: a compiled step cannot raise, and a silent wrong number
        would be worse.
        """
        c = self._classes
        in_range = ops.logical_and(true_idx >= 0, true_idx < c)
        if weights is None:
            weights = ops.where(in_range, 1.0, math.nan)
        else:
            weights = ops.where(in_range, weights, math.nan)
        if self.ignore_class is not None:
            weights = ops.where(ops.equal(true_idx, self.ignore_class), 0.0, weights)
        weights = ops.cast(weights, self.dtype)
        return ops.clip(true_idx, 0, c - 1), weights

    # State updates ----------------------------------------------------

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        """Accumulates the confusion counts of a batch.

        Args:
            y_true: ground-truth labels (see the class docstring for shapes).
            y_pred: predicted scores or labels.
            sample_weight: optional per-sample weights broadcastable to the
                samples. Defaults to `None` (weight 1).
        """
        if self.task == "multiclass" and isinstance(y_true, (np.ndarray, list)):
            if self.sparse_y_true or (
                self.sparse_y_true is None
                and np.ndim(y_true) >= 1
                and (np.shape(y_true)[-1] != self.num_classes or np.ndim(y_true) == 1)
            ):
                self._check_numpy_labels(y_true, (0, self.num_classes - 1))
        elif isinstance(y_true, (np.ndarray, list)):
            self._check_numpy_labels(y_true, (0, 1))
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if self.task == "binary":
            self._update_binary(y_true, y_pred, sample_weight)
        elif self.task == "multilabel":
            self._update_multilabel(y_true, y_pred, sample_weight)
        else:
            self._update_multiclass(y_true, y_pred, sample_weight)

    def _update_binary(self, y_true, y_pred, sample_weight):
        y_true, y_pred = self._binary_inputs(y_true, y_pred)
        weights = self._format_weights(sample_weight, y_pred)
        y_true, weights = self._labels_01(ops.reshape(y_true, (-1,)), weights)
        positive = self._positive(ops.reshape(y_pred, (-1,)))
        if self._uses_matrix:
            self._add_to_matrix(
                ops.cast(y_true, "int32"), ops.cast(positive, "int32"), weights
            )
        else:
            self._add_stat_scores(y_true[:, None], positive[:, None], weights[:, None])

    def _update_multilabel(self, y_true, y_pred, sample_weight):
        c = self.num_classes
        t_shape, p_shape = _shape(y_true), _shape(y_pred)
        if len(p_shape) < 2 or p_shape[-1] != c or not _compatible(t_shape, p_shape):
            raise self._shape_error(
                f"task='multilabel' expects y_true and y_pred of the same shape "
                f"(..., {c}).",
                y_true,
                y_pred,
            )
        weights = self._format_weights(sample_weight, y_pred[..., 0])
        weights = ops.reshape(weights[:, None] * ops.ones((1, c), self.dtype), (-1,))
        y_true, weights = self._labels_01(ops.reshape(y_true, (-1,)), weights)
        positive = self._positive(ops.reshape(y_pred, (-1, c)))
        self._add_stat_scores(
            ops.reshape(y_true, (-1, c)), positive, ops.reshape(weights, (-1, c))
        )

    def _update_multiclass(self, y_true, y_pred, sample_weight):
        c = self.num_classes
        true_idx, pred, sparse_pred, ones = self._multiclass_inputs(y_true, y_pred)
        weights = None
        if sample_weight is not None:
            weights = self._format_weights(sample_weight, ones)
        true_idx, weights = self._index_mask(true_idx, weights)
        if sparse_pred:
            pred_in_range = ops.logical_and(pred >= 0, pred < c)
            weights = ops.where(pred_in_range, weights, math.nan)
            pred_idx = ops.clip(pred, 0, c - 1)
        elif self.top_k is None or self.top_k == 1:
            pred_idx = ops.cast(ops.argmax(pred, axis=-1), "int32")
        else:
            pred_idx = None
        if self._uses_matrix:
            self._add_to_matrix(true_idx, pred_idx, weights)
        else:
            truth = ops.one_hot(true_idx, c, dtype=self.dtype)
            if pred_idx is not None:
                predicted = ops.one_hot(pred_idx, c, dtype=self.dtype)
            else:
                _, top = ops.top_k(ops.cast(pred, "float32"), self.top_k)
                predicted = ops.sum(ops.one_hot(top, c, dtype=self.dtype), axis=1)
            self._add_stat_scores(truth, predicted, weights[:, None])

    def _add_stat_scores(self, truth, predicted, weights):
        """Adds per-class tp, predicted, actual and total weight: (4, classes)."""
        weighted_truth = truth * weights
        weighted_pred = predicted * weights
        tp = ops.sum(weighted_truth * predicted, axis=0)
        pred_sum = ops.sum(weighted_pred, axis=0)
        true_sum = ops.sum(weighted_truth, axis=0)
        total = ops.sum(weights, axis=0) * ops.ones_like(tp)
        self.stat_scores.assign_add(ops.stack([tp, pred_sum, true_sum, total]))

    def _add_to_matrix(self, true_idx, pred_idx, weights):
        c = self._classes
        truth = ops.one_hot(true_idx, c, dtype=self.dtype) * weights[:, None]
        predicted = ops.one_hot(pred_idx, c, dtype=self.dtype)
        self.confusion.assign_add(ops.matmul(ops.transpose(truth), predicted))

    # Reductions shared by subclasses ---------------------------------

    def stat_scores_per_class(self):
        """Per-class `(tp, fp, fn, tn, support)` tensors from the state."""
        if self._uses_matrix:
            matrix = ops.convert_to_tensor(self.confusion)
            tp = ops.diagonal(matrix)
            pred_sum = ops.sum(matrix, axis=0)
            true_sum = ops.sum(matrix, axis=1)
            total = ops.sum(matrix) * ops.ones_like(tp)
        else:
            scores = ops.convert_to_tensor(self.stat_scores)
            tp, pred_sum, true_sum, total = scores[0], scores[1], scores[2], scores[3]
        fp = pred_sum - tp
        fn = true_sum - tp
        tn = total - tp - fp - fn
        return tp, fp, fn, tn, true_sum

    def _class_label(self, index: int) -> str:
        if self.class_names is not None:
            return self.class_names[index]
        return f"class_{index}"

    def _included_classes(self) -> list[int]:
        columns = 1 if self.task == "binary" else self.num_classes
        if self.task == "multiclass" and self.ignore_class is not None:
            return [i for i in range(columns) if i != self.ignore_class]
        return list(range(columns))

    def _propagate_nan(self, value, counts):
        """`value`, or NaN when the counts are NaN (labels out of range)."""
        return value + 0.0 * ops.sum(counts)

    def result(self):
        raise NotImplementedError(
            f"{type(self).__name__} is a base class; use a metric that reduces it."
        )

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "task": self.task,
            "num_classes": self.num_classes,
            "threshold": self.threshold,
            "top_k": self.top_k,
            "from_logits": self.from_logits,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "ignore_class": self.ignore_class,
            "class_names": self.class_names,
        }


class AveragedScore(ConfusionCounts):
    """A per-class ratio of confusion counts, averaged like scikit-learn.

    Subclasses define `_ratio_terms(tp, fp, fn)` returning the numerator and
    denominator of the per-class score; this class divides (with
    `zero_division` for empty denominators) and averages.
    """

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
        super().__init__(
            task=task,
            num_classes=num_classes,
            threshold=threshold,
            top_k=top_k,
            from_logits=from_logits,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            ignore_class=ignore_class,
            class_names=class_names,
            name=name,
            dtype=dtype,
        )
        self.average = check_average(average)
        self.zero_division = check_zero_division(zero_division)
        if class_id is not None:
            if task == "binary":
                raise ValueError(
                    "Argument `class_id` is not used with task='binary' (the "
                    f"score is the positive class's). Received: class_id={class_id!r}"
                )
            if not isinstance(class_id, int) or not 0 <= class_id < num_classes:
                raise ValueError(
                    f"Argument `class_id` must be an integer in [0, {num_classes}). "
                    f"Received: class_id={class_id!r}"
                )
        self.class_id = class_id
        self._direction = "up"

    def _ratio_terms(self, tp, pred_sum, true_sum):
        raise NotImplementedError

    def _counts(self):
        """Per-class true positives, predicted positives and support."""
        if self._uses_matrix:
            matrix = ops.convert_to_tensor(self.confusion)
            return ops.diagonal(matrix), ops.sum(matrix, 0), ops.sum(matrix, 1)
        scores = ops.convert_to_tensor(self.stat_scores)
        return scores[0], scores[1], scores[2]

    def _divide(self, numerator, denominator):
        defined = denominator > 0
        ratio = numerator / ops.where(defined, denominator, 1.0)
        fill = zero_division_value(self.zero_division)
        if fill == 0.0:
            return ratio  # the numerator is 0 wherever the denominator is
        # NaN counts (labels out of range) must stay NaN.
        return ops.where(defined | ops.isnan(denominator), ratio, fill)

    def per_class(self):
        """The score of every class (or of the positive class for binary)."""
        return self._divide(*self._ratio_terms(*self._counts()))

    def result(self):
        tp, pred_sum, true_sum = self._counts()
        if self.task == "binary":
            return self._divide(*self._ratio_terms(tp, pred_sum, true_sum))[0]
        if self.class_id is not None:
            return self._divide(*self._ratio_terms(tp, pred_sum, true_sum))[
                self.class_id
            ]
        included = self._included_classes()
        if len(included) < self.num_classes:
            index = ops.convert_to_tensor(included, "int32")
            tp, pred_sum, true_sum = (
                ops.take(v, index) for v in (tp, pred_sum, true_sum)
            )
        if self.average == "micro":
            numerator, denominator = self._ratio_terms(
                ops.sum(tp), ops.sum(pred_sum), ops.sum(true_sum)
            )
            return self._divide(numerator, denominator)
        scores = self._divide(*self._ratio_terms(tp, pred_sum, true_sum))
        if self.average is None:
            return {
                f"{self.name}_{self._class_label(i)}": scores[j]
                for j, i in enumerate(included)
            }
        if self.zero_division != "nan":
            mean = ops.mean(scores)
            if self.average == "macro":
                return mean
            total = ops.sum(true_sum)
            weighted = ops.sum(scores * true_sum) / ops.where(total > 0, total, 1.0)
            return ops.where(total == 0, mean, weighted)
        # zero_division="nan": undefined classes are left out of the averages.
        present = ops.logical_not(ops.isnan(scores))
        values = ops.where(present, scores, 0.0)
        counts = ops.cast(present, self.dtype)
        mean = ops.sum(values) / ops.sum(counts)  # NaN when no class is defined
        if self.average == "macro":
            return self._propagate_nan(mean, true_sum)
        weights = true_sum * counts
        total = ops.sum(weights)
        weighted = ops.sum(values * weights) / ops.where(total > 0, total, 1.0)
        return self._propagate_nan(ops.where(total > 0, weighted, mean), true_sum)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "average": self.average,
                "class_id": self.class_id,
                "zero_division": self.zero_division,
            }
        )
        return config
