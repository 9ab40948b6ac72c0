"""The confusion-count core shared by every classification metric.

Each metric runs the same three steps: format and validate the inputs once
(`ConfusionCounts._format`), count them into a metric variable, and reduce
the counts in `result()`. `AveragedScore` (per-class ratios) and
`MatrixScore` (scores of the full confusion matrix) are the two bases to
subclass.
"""

from __future__ import annotations

import math
import warnings
from typing import Any
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from keras_epochkit._core.config import arguments_config
from keras_epochkit._core.validation import check_choice
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import invalid

TASKS = ("binary", "multiclass", "multilabel")
AVERAGES = ("micro", "macro", "weighted", None)
ZERO_DIVISIONS = ("warn", 0.0, 1.0, "nan")


class UndefinedMetricWarning(UserWarning):
    """A score was undefined (0 / 0) and set by `zero_division="warn"`.

    The counterpart of `sklearn.exceptions.UndefinedMetricWarning`: filter it
    with `warnings.filterwarnings("ignore", category=UndefinedMetricWarning)`
    or pass `zero_division=0` to say that 0 is meant.
    """


def zero_division_value(zero_division: str | float) -> float:
    """Maps a `zero_division` argument to the number it stands for."""
    if isinstance(zero_division, str):
        return math.nan if zero_division == "nan" else 0.0
    return float(zero_division)


def check_zero_division(zero_division: str | float) -> str | float:
    """Validates `zero_division`; returns its JSON-able canonical form."""
    if isinstance(zero_division, bool):
        raise invalid("zero_division", '"warn", 0, 1 or "nan"', zero_division)
    if isinstance(zero_division, (int, float)):
        if math.isnan(zero_division):
            return "nan"
        zero_division = float(zero_division)
    return check_choice("zero_division", zero_division, ZERO_DIVISIONS)


def check_average(average: str | None) -> str | None:
    """Validates `average`."""
    return check_choice("average", average, AVERAGES)


# Result dtypes that NumPy computes in natively (the host path of `result()`).
_HOST_DTYPES = ("float16", "float32", "float64")


def concrete(value) -> np.ndarray | None:
    """`value` as NumPy when it is concrete, `None` inside a traced function."""
    try:
        return ops.convert_to_numpy(value)
    except Exception:  # a symbolic tensor or tracer has no value to read
        return None


def _shape(x) -> tuple:
    return tuple(None if d is None else int(d) for d in x.shape)


def _compatible(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b)
    )


def _is_float(x) -> bool:
    return "float" in keras.backend.standardize_dtype(x.dtype)


def _finite_poison(values):
    """Per element: 0, or NaN where float `values` hold a NaN or an infinity.

    Poison terms are not reduced here: `ConfusionCounts` adds them to the
    actual-class counts before their sum (see `_add_stat_scores`), or sums
    them once for a confusion matrix.
    """
    if not _is_float(values):
        return None
    return values * 0.0


def _fraction_poison(values):
    """Per element: 0, or NaN where float class indices are not whole numbers."""
    if not _is_float(values):
        return None
    return ops.where(ops.equal(values - ops.floor(values), 0.0), 0.0, math.nan)


def _add(a, b):
    if a is None or b is None:
        return b if a is None else a
    return a + b


def _nan_where_invalid(valid, weights):
    """`weights` (`None` stands for all 1) where `valid`, NaN elsewhere.

    A NaN weight poisons the counts: an invalid entry turns the result into
    NaN, as a compiled step cannot raise.
    """
    return ops.where(valid, 1.0 if weights is None else weights, math.nan)


def _zero_where(ignored, weights):
    """`weights` (`None` stands for all 1), 0 where `ignored`."""
    return ops.where(ignored, 0.0, 1.0 if weights is None else weights)


def _total_poison(poison):
    """One scalar, 0 or NaN, from poison terms (or `None`)."""
    return None if poison is None else ops.cast(ops.sum(poison), "float32")


def _first_argmax(values, classes: int):
    """`argmax` over the last axis: the index of the first largest value.

    On TensorFlow, XLA compiles a max, a comparison and a min into faster
    code than argmax's paired (value, index) reduction; JAX's argmax is the
    faster there, and PyTorch runs eagerly, where one kernel beats four. A
    row holding NaN may get `classes` (no class) on TensorFlow: its poison
    term turns the counts into NaN anyway.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.argmax(values, axis=-1)
    if keras.backend.standardize_dtype(values.dtype) == "bool":
        values = ops.cast(values, "int32")
    top = ops.max(values, axis=-1, keepdims=True)
    index = ops.arange(classes, dtype="int32")
    return ops.min(ops.where(values >= top, index, classes), axis=-1)


class _Formatted(NamedTuple):
    """A multiclass batch after formatting.

    `poison` holds per-sample poison terms, shape `(samples, 1)` or
    `(samples, num_classes)`, or `None` when the inputs cannot be invalid.
    """

    true_idx: Any
    pred: Any
    sparse_true: bool
    sparse_pred: bool
    lead: Any  # the class indices before flattening: the samples' shape
    poison: Any


@keras.saving.register_keras_serializable(package="keras_epochkit")
class ConfusionCounts(keras.metrics.Metric):
    """Per-class confusion counts: the core every classification metric reduces.

    Used directly, it returns the weighted counts of every class (of the
    positive class for `task="binary"`) as a `(columns, 5)` tensor whose
    columns are `tp, fp, tn, fn, support`, as torchmetrics' `StatScores`.
    Subclass `AveragedScore` for a per-class ratio such as precision, or
    `MatrixScore` for a score of the full confusion matrix.

    Inputs are formatted and validated once per batch, then counted: a full
    confusion matrix (rows are true classes, columns predicted classes) for
    `MatrixScore` subclasses, otherwise four sums per class (true positives,
    predicted positives, actual positives and the total weight). Every count
    is weighted by `sample_weight` and kept in a metric variable with `"sum"`
    aggregation, so replicas add up under distribution. Shape errors are
    raised while the step is traced.

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

    Inputs that would give a silently wrong number raise a `ValueError` when
    `update_state` receives NumPy arrays, and turn the result into NaN (until
    `reset_state`) inside a compiled step, which cannot raise: labels outside
    `[0, num_classes)` (other than `ignore_class`), labels that are not whole
    numbers (such as `1.7`), class indices in `y_pred` that are not whole
    numbers, and NaN or infinite values in `y_pred` or in one-hot `y_true`.
    The graph-side checks add no reduction of their own to per-class counts
    (their terms are summed with the counts) and one to a confusion matrix.

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
        name: name of the metric instance. Defaults to the class's name.
        dtype: dtype of the counts and results. Defaults to `"float32"`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> metric = ek.metrics.ConfusionCounts(num_classes=3)
        >>> metric.update_state(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
        >>> np.asarray(metric.result()).astype(int)  # tp, fp, tn, fn, support
        array([[1, 0, 3, 0, 1],
               [0, 1, 2, 1, 1],
               [1, 1, 1, 1, 2]])
    """

    _needs_matrix = False
    _default_name = "confusion_counts"
    # Constructor arguments kept under another attribute name (for get_config).
    _config_attributes: dict[str, str] = {}

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
        check_choice("task", task, TASKS)
        if task == "binary":
            check_choice("num_classes", num_classes, (None, 1, 2))
        elif (
            not isinstance(num_classes, int)
            or isinstance(num_classes, bool)
            or num_classes < 2
        ):
            raise invalid(
                "num_classes", f"an integer >= 2 for task={task!r}", num_classes
            )
        threshold = check_number("threshold", threshold, 0.0, 1.0)
        if top_k is not None:
            self._check_top_k(task, num_classes, top_k, sparse_y_pred)
        check_choice("sparse_y_true", sparse_y_true, (None, True, False))
        check_choice("sparse_y_pred", sparse_y_pred, (None, True, False))
        if ignore_class is not None and (
            not isinstance(ignore_class, int) or isinstance(ignore_class, bool)
        ):
            raise invalid("ignore_class", "an integer or None", ignore_class)
        self.task = task
        self.num_classes = num_classes
        self.threshold = threshold
        self.top_k = top_k
        self.from_logits = bool(from_logits)
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.ignore_class = ignore_class
        self._classes = 2 if task == "binary" else num_classes
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if len(class_names) != self._classes:
                raise invalid(
                    "class_names", f"a list of {self._classes} names", class_names
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

    def _check_top_k(self, task, num_classes, top_k, sparse_y_pred):
        if task != "multiclass":
            raise invalid("top_k", f"None for task={task!r}", top_k)
        if not isinstance(top_k, int) or not 1 <= top_k <= num_classes:
            raise invalid("top_k", f"an integer in [1, {num_classes}]", top_k)
        if top_k > 1 and self._needs_matrix:
            raise invalid(
                "top_k",
                f"None or 1 for {type(self).__name__} (one class per sample)",
                top_k,
            )
        if top_k > 1 and sparse_y_pred:
            raise invalid("top_k", "None or 1 with sparse_y_pred=True", top_k)

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

    def _multiclass_inputs(self, y_true, y_pred):
        """Flat class indices of `y_true`, and of `y_pred` or its score rows."""
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
            poison = _rows(_fraction_poison(y_true), 1)
            true_idx = ops.cast(y_true, "int32")
        else:
            if not _compatible(t_shape, (*lead, c)):
                raise self._shape_error(
                    f"one-hot y_true must have shape {(*lead, c)}.", y_true, y_pred
                )
            poison = _rows(_finite_poison(y_true), c)
            true_idx = _first_argmax(y_true, c)
        lead = true_idx
        true_idx = _flat(true_idx, ())
        if sparse_pred:
            poison = _add(poison, _rows(_fraction_poison(y_pred), 1))
            pred = _flat(ops.cast(y_pred, "int32"), ())
        else:
            poison = _add(poison, _rows(_finite_poison(y_pred), c))
            pred = _flat(y_pred, (c,))
        return _Formatted(true_idx, pred, sparse_true, sparse_pred, lead, poison)

    def _binary_inputs(self, y_true, y_pred):
        t_shape, p_shape = _shape(y_true), _shape(y_pred)
        # Indexing drops the trailing axis without an op dispatch (eager).
        if len(p_shape) >= 2 and p_shape[-1] == 1:
            y_pred = y_pred[..., 0]
        if len(t_shape) >= 2 and t_shape[-1] == 1:
            y_true = y_true[..., 0]
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
        y_pred = _as_dtype(y_pred, self.dtype)
        if self.from_logits:
            y_pred = ops.sigmoid(y_pred)
        return ops.cast(y_pred > self.threshold, self.dtype)

    def _labels_01(self, y_true, weights):
        """Zero weight for ignored labels, NaN weight for labels other than 0/1.

        `weights=None` stands for weights of 1.
        """
        y_true = _as_dtype(y_true, self.dtype)
        in_range = ops.logical_or(ops.equal(y_true, 0), ops.equal(y_true, 1))
        weights = _nan_where_invalid(in_range, weights)
        if self.ignore_class is not None:
            weights = _zero_where(ops.equal(y_true, self.ignore_class), weights)
        return ops.where(in_range, y_true, 0.0), _as_dtype(weights, self.dtype)

    def _index_mask(self, true_idx, weights, in_range: bool = False):
        """Zero weight for the ignored class, NaN weight for indices out of range.

        A NaN weight turns the counts, and so the result, into NaN until the
        next reset: a compiled step cannot raise, and a silent wrong number
        would be worse. `in_range=True` says the indices are arg-maxes, which
        need no check. The weights stay `None` (all 1) when nothing changes
        them.
        """
        c = self._classes
        if not in_range:
            valid = ops.logical_and(true_idx >= 0, true_idx < c)
            weights = _nan_where_invalid(valid, weights)
        if self.ignore_class is not None:
            weights = _zero_where(ops.equal(true_idx, self.ignore_class), weights)
        if weights is not None:
            weights = _as_dtype(weights, self.dtype)
        if not in_range:
            true_idx = ops.clip(true_idx, 0, c - 1)
        return true_idx, weights

    # Validation of NumPy input ------------------------------------------

    def _input_error(self, message: str) -> ValueError:
        return ValueError(f"{type(self).__name__}(task={self.task!r}): {message}")

    def _check_numpy(self, y_true, y_pred, sparse_true=True, sparse_pred=False):
        """Raises on NumPy input that a compiled step would turn into NaN."""
        if isinstance(y_pred, (np.ndarray, list)):
            self._check_values("y_pred", np.asarray(y_pred), sparse_pred)
        if isinstance(y_true, (np.ndarray, list)):
            self._check_values("y_true", np.asarray(y_true), sparse_true)

    def _check_values(self, arg: str, values: np.ndarray, indices: bool):
        if values.dtype.kind == "f":
            finite = np.isfinite(values)
            if not finite.all():
                raise self._input_error(
                    f"{arg} must be finite; received {int((~finite).sum())} NaN "
                    f"or infinite values in {arg} of shape {values.shape}."
                )
            if indices and not np.all(values == np.round(values)):
                fractions = values[values != np.round(values)]
                raise self._input_error(
                    f"{arg} must hold whole class indices; received "
                    f"{sorted(set(fractions.ravel().tolist()))[:10]} in {arg} "
                    f"of shape {values.shape}."
                )
        if not indices or values.dtype.kind not in "iubf":
            return
        shape = values.shape
        if arg == "y_true" and self.ignore_class is not None:
            values = values[values != self.ignore_class]
        high = 1 if self.task != "multiclass" else self.num_classes - 1
        bad = values[(values < 0) | (values > high)]
        if bad.size:
            kind = "labels" if arg == "y_true" else "predicted classes"
            raise self._input_error(
                f"{kind} must be in [0, {high}]; received "
                f"{sorted(set(bad.ravel().tolist()))[:10]} in {arg} of shape "
                f"{shape}."
            )

    # State updates ----------------------------------------------------

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None):
        """Accumulates the confusion counts of a batch.

        Args:
            y_true: ground-truth labels (see the class docstring for shapes).
            y_pred: predicted scores or labels.
            sample_weight: optional per-sample weights broadcastable to the
                samples. Defaults to `None` (weight 1).
        """
        raw_true, raw_pred = y_true, y_pred
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if self.task == "binary":
            self._update_binary(raw_true, raw_pred, y_true, y_pred, sample_weight)
        elif self.task == "multilabel":
            self._update_multilabel(raw_true, raw_pred, y_true, y_pred, sample_weight)
        else:
            self._update_multiclass(raw_true, raw_pred, y_true, y_pred, sample_weight)

    def _update_binary(self, raw_true, raw_pred, y_true, y_pred, sample_weight):
        y_true, y_pred = self._binary_inputs(y_true, y_pred)
        self._check_numpy(raw_true, raw_pred)
        poison = _rows(_finite_poison(y_pred), 1)
        weights = None
        if sample_weight is not None:
            weights = self._format_weights(sample_weight, y_pred)
        y_true, weights = self._labels_01(_flat(y_true, ()), weights)
        positive = self._positive(_flat(y_pred, ()))
        if self._uses_matrix:
            self._add_to_matrix(
                ops.cast(y_true, "int32"),
                ops.cast(positive, "int32"),
                weights,
                _total_poison(poison),
            )
            return
        self._add_stat_scores(
            y_true[:, None],
            positive[:, None],
            weights[:, None],
            poison,
            unit_weights=sample_weight is None and self.ignore_class is None,
        )

    def _update_multilabel(self, raw_true, raw_pred, y_true, y_pred, sample_weight):
        c = self.num_classes
        t_shape, p_shape = _shape(y_true), _shape(y_pred)
        if len(p_shape) < 2 or p_shape[-1] != c or not _compatible(t_shape, p_shape):
            raise self._shape_error(
                f"task='multilabel' expects y_true and y_pred of the same shape "
                f"(..., {c}).",
                y_true,
                y_pred,
            )
        self._check_numpy(raw_true, raw_pred)
        poison = _rows(_finite_poison(y_pred), c)
        weights = self._format_weights(sample_weight, y_pred[..., 0])
        weights = ops.reshape(weights[:, None] * ops.ones((1, c), self.dtype), (-1,))
        y_true, weights = self._labels_01(ops.reshape(y_true, (-1,)), weights)
        positive = self._positive(ops.reshape(y_pred, (-1, c)))
        self._add_stat_scores(
            ops.reshape(y_true, (-1, c)),
            positive,
            ops.reshape(weights, (-1, c)),
            poison,
            unit_weights=sample_weight is None and self.ignore_class is None,
        )

    def _update_multiclass(self, raw_true, raw_pred, y_true, y_pred, sample_weight):
        c = self.num_classes
        batch = self._multiclass_inputs(y_true, y_pred)
        self._check_numpy(raw_true, raw_pred, batch.sparse_true, batch.sparse_pred)
        pred = batch.pred
        weights = None
        if sample_weight is not None:
            weights = self._format_weights(sample_weight, batch.lead)
        true_idx, weights = self._index_mask(
            batch.true_idx, weights, in_range=not batch.sparse_true
        )
        if batch.sparse_pred:
            pred_in_range = ops.logical_and(pred >= 0, pred < c)
            weights = _as_dtype(_nan_where_invalid(pred_in_range, weights), self.dtype)
            pred_idx = ops.clip(pred, 0, c - 1)
        elif self.top_k is None or self.top_k == 1:
            pred_idx = _first_argmax(pred, c)
        else:
            pred_idx = None
        if self._uses_matrix:
            if weights is None:
                weights = ops.ones_like(true_idx, dtype=self.dtype)
            self._add_to_matrix(
                true_idx, pred_idx, weights, _total_poison(batch.poison)
            )
            return
        truth = ops.one_hot(true_idx, c, dtype=self.dtype)
        if pred_idx is not None:
            predicted = ops.one_hot(pred_idx, c, dtype=self.dtype)
        else:
            _, top = ops.top_k(ops.cast(pred, "float32"), self.top_k)
            predicted = ops.sum(ops.one_hot(top, c, dtype=self.dtype), axis=1)
        unit = sample_weight is None and self.ignore_class is None
        if weights is not None:
            weights = weights[:, None]
        self._add_stat_scores(
            truth, predicted, weights, batch.poison, unit_weights=unit
        )

    def _add_stat_scores(self, truth, predicted, weights, poison, unit_weights):
        """Adds per-class tp, predicted, actual and total weight: (4, columns).

        Args:
            truth: `(samples, columns)` 0/1 indicators of the actual classes.
            predicted: the same for the predicted classes.
            weights: per-sample weights broadcastable to `truth`, or `None`
                when every weight is 1.
            poison: poison terms (0 or NaN) broadcastable to `truth`, or
                `None`. When any is NaN, every count becomes NaN.
            unit_weights: whether every weight is 1, or NaN for an invalid
                label (no `sample_weight`, no `ignore_class`): the total
                weight is then the number of samples.

        The poison terms ride in the sum of actual positives (adding 0 leaves
        it exact), so they cost no reduction of their own; a NaN there is
        then spread to every count. A NaN weight (an invalid label) is made a
        poison term too: XLA turns a product with a 0/1 indicator into a
        select, which would keep it out of the other classes' counts.
        """
        if weights is None:
            weighted_truth, weighted_pred = truth, predicted
        else:
            weighted_truth, weighted_pred = truth * weights, predicted * weights
            if unit_weights:  # 1 or NaN: times 0 is the poison term
                nan_weights = weights * 0.0
            else:  # user weights may be infinite: only NaN poisons
                nan_weights = ops.where(ops.isnan(weights), math.nan, 0.0)
            poison = _add(poison, _as_dtype(nan_weights, "float32"))
        poisoned_truth = weighted_truth
        if poison is not None:
            poisoned_truth = weighted_truth + _as_dtype(poison, self.dtype)
        blocks = [weighted_truth * predicted, weighted_pred, poisoned_truth]
        if not unit_weights:
            blocks.append(weights * ops.ones_like(truth))
        if _shape(truth)[-1] == 1:
            # One column (binary): XLA sums separate vectors faster than
            # the columns of a stacked (samples, blocks) matrix.
            sums = [ops.sum(block, axis=0) for block in blocks]
        else:
            # Several columns: one reduction reads each sample once.
            sums = ops.unstack(ops.sum(ops.stack(blocks, axis=1), axis=0), axis=0)
        tp, pred_sum, true_sum = sums[:3]
        if unit_weights:
            samples = ops.shape(truth)[0]
            if not isinstance(samples, int):  # a dynamic batch size
                samples = ops.cast(samples, self.dtype)
            total = tp * 0.0 + samples
            # The actual counts are at most `samples`, or NaN: times 0 is 0 or NaN.
            flag = ops.sum(true_sum) * 0.0
        else:
            total = sums[3]
            flag = ops.where(ops.isnan(ops.sum(true_sum)), math.nan, 0.0)
        counts = ops.stack([tp, pred_sum, true_sum, total])
        self.stat_scores.assign_add(counts + _as_dtype(flag, self.dtype))

    def _add_to_matrix(self, true_idx, pred_idx, weights, poison):
        c = self._classes
        truth = ops.one_hot(true_idx, c, dtype=self.dtype) * weights[:, None]
        predicted = ops.one_hot(pred_idx, c, dtype=self.dtype)
        counts = ops.matmul(ops.transpose(truth), predicted)
        self.confusion.assign_add(_poisoned(counts, poison))

    # Reductions shared by subclasses ---------------------------------

    def counts(self, xp=ops):
        """Per-class true positives, predicted positives and support.

        `xp` is `keras.ops` (tensors, traceable) or `numpy` (the state read
        to the host once: eager execution only, see `host_namespace`).
        """
        return self._counts(xp)[:3]

    def _counts(self, xp):
        """`(tp, predicted positives, support, total)` per class."""
        read = ops.convert_to_numpy if xp is np else ops.convert_to_tensor
        if self._uses_matrix:
            matrix = read(self.confusion)
            support = xp.sum(matrix, 1)
            tp = xp.diagonal(matrix)
            return tp, xp.sum(matrix, 0), support, xp.sum(support) * xp.ones_like(tp)
        scores = read(self.stat_scores)
        return scores[0], scores[1], scores[2], scores[3]

    def stat_scores_per_class(self, xp=ops):
        """Per-class `(tp, fp, fn, tn, support)` from the state, in `xp`."""
        tp, pred_sum, true_sum, total = self._counts(xp)
        fp = pred_sum - tp
        fn = true_sum - tp
        tn = total - tp - fp - fn
        return tp, fp, fn, tn, true_sum

    def host_namespace(self):
        """`numpy` when the state can be read (eager), else `keras.ops`.

        A `result()` called eagerly, as Keras does at the end of every epoch,
        computes on the host from one read of the state: a few NumPy
        operations instead of dozens of eager backend operations.
        """
        if keras.backend.standardize_dtype(self.dtype) not in _HOST_DTYPES:
            return ops  # e.g. bfloat16, which NumPy does not have
        state = self.confusion if self._uses_matrix else self.stat_scores
        return np if concrete(state) is not None else ops

    def _as_result(self, value, xp):
        """A result computed in `xp` as a tensor of the metric's dtype."""
        if xp is ops:
            return value
        return ops.convert_to_tensor(np.asarray(value, dtype=self.dtype))

    def _class_label(self, index: int) -> str:
        if self.class_names is not None:
            return self.class_names[index]
        return f"class_{index}"

    def _included_classes(self) -> list[int]:
        columns = 1 if self.task == "binary" else self.num_classes
        if self.task == "multiclass" and self.ignore_class is not None:
            return [i for i in range(columns) if i != self.ignore_class]
        return list(range(columns))

    def _propagate_nan(self, value, counts, xp=ops):
        """`value`, or NaN when the counts are NaN (invalid inputs)."""
        return value + 0.0 * xp.sum(counts)

    def _warn_undefined(self, undefined, message: str):
        """Warns once for this `result()` if `undefined` (a bool tensor) holds.

        Only with `zero_division="warn"` and only where the value can be read:
        inside a traced function there is no Python value to test.
        """
        if getattr(self, "zero_division", None) != "warn":
            return
        if isinstance(undefined, (np.ndarray, np.bool_)):
            flag = np.any(undefined)
        else:
            flag = concrete(ops.any(undefined))
        if flag is not None and bool(flag):
            warnings.warn(
                f"{type(self).__name__} is ill-defined and being set to 0.0 "
                f"{message}. Use `zero_division` to control this behavior.",
                UndefinedMetricWarning,
                stacklevel=3,
            )

    def result(self):
        """Per-class counts, a `(columns, 5)` tensor: tp, fp, tn, fn, support."""
        tp, fp, fn, tn, support = self.stat_scores_per_class()
        return ops.stack([tp, fp, tn, fn, support], axis=-1)

    def get_config(self) -> dict:
        """Every constructor argument of the class, read from its attribute."""
        return arguments_config(self, self._config_attributes, keras.metrics.Metric)


def _poisoned(counts, poison):
    return counts if poison is None else counts + ops.cast(poison, counts.dtype)


def _as_dtype(x, dtype: str):
    """`x` cast to `dtype`, without an op when it already has it."""
    if keras.backend.standardize_dtype(x.dtype) == dtype:
        return x
    return ops.cast(x, dtype)


def _flat(x, tail: tuple):
    """`x` reshaped to `(-1, *tail)`, without an op when it already is."""
    shape = _shape(x)
    if len(shape) == len(tail) + 1 and shape[1:] == tail:
        return x
    if len(shape) == 1 and tail == (1,):
        return x[:, None]
    return ops.reshape(x, (-1, *tail))


def _rows(terms, width: int):
    """Poison terms (or `None`) as float32 (0 or NaN) of shape `(samples, width)`."""
    if terms is None:
        return None
    return _as_dtype(_flat(terms, (width,)), "float32")
