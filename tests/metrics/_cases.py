"""Random classification data fed in batches, and the scikit-learn references."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st


@dataclasses.dataclass
class Case:
    """One random problem: labels, scores, weights and batch boundaries."""

    y_true: np.ndarray
    scores: np.ndarray
    weights: np.ndarray | None
    splits: int
    num_classes: int

    def batches(self):
        for index in np.array_split(np.arange(len(self.y_true)), self.splits):
            weights = None if self.weights is None else self.weights[index]
            yield self.y_true[index], self.scores[index], weights


def make_case(
    seed: int,
    task: str,
    *,
    num_classes: int = 4,
    size: int = 120,
    absent: tuple = (),
    weights: str = "none",
    batches: int = 3,
) -> Case:
    """Builds a problem where `absent` classes never occur in `y_true`.

    `weights`: "none", "dyadic" (multiples of 1/2, exact in float32) or
    "float" (uniform reals).
    """
    rng = np.random.default_rng(seed)
    if task == "multilabel":
        y_true = (rng.random((size, num_classes)) < 0.4).astype("int32")
        y_true[:, list(absent)] = 0
        scores = np.clip(y_true * 0.3 + rng.random((size, num_classes)) * 0.7, 0, 1)
    elif task == "binary":
        y_true = (rng.random(size) < 0.3).astype("int32")
        scores = np.clip(y_true * 0.3 + rng.random(size) * 0.7, 0, 1)
    else:
        present = [c for c in range(num_classes) if c not in absent]
        y_true = rng.choice(present, size).astype("int32")
        scores = rng.normal(size=(size, num_classes))
        scores[np.arange(size), y_true] += rng.uniform(0.0, 2.0)
    scores = scores.astype("float32")
    if weights == "dyadic":
        w = (rng.integers(0, 7, size) / 2).astype("float32")
    elif weights == "float":
        w = rng.uniform(0.0, 2.0, size).astype("float32")
    else:
        w = None
    # Equal batches keep the set of shapes small, so compiled ops are reused.
    return Case(y_true, scores, w, batches, num_classes)


def feed(metric, case: Case, *, one_hot: bool = False):
    """Updates `metric` batch by batch; returns its result as numpy."""
    for y_true, scores, weights in case.batches():
        if one_hot:
            y_true = np.eye(case.num_classes, dtype="float32")[y_true]
        metric.update_state(y_true, scores, sample_weight=weights)
    return as_numpy(metric.result())


def as_numpy(result):
    if isinstance(result, dict):
        return np.array([float(v) for v in result.values()])
    return np.asarray(result, dtype="float64")


def predictions(case: Case, task: str, threshold: float = 0.5) -> np.ndarray:
    """The hard predictions scikit-learn gets."""
    if task == "multiclass":
        return case.scores.argmax(axis=-1)
    return (case.scores > threshold).astype("int32")


def sk_zero_division(zero_division):
    return np.nan if zero_division == "nan" else zero_division


seeds = st.integers(0, 2**31 - 1)
averages = st.sampled_from(["micro", "macro", "weighted", None])
zero_divisions = st.sampled_from(["warn", 0, 1, "nan"])
weightings = st.sampled_from(["none", "dyadic", "float"])
absences = st.sampled_from([(), (1,), (0, 3)])


def check_score_parity(make_metric, sk_score, data, *, one_hot_allowed=True):
    """Hypothesis body shared by Precision, Recall, FBetaScore and F1Score.

    `make_metric(**kwargs)` builds the metric; `sk_score(y_true, y_pred,
    **kwargs)` is the scikit-learn function with the same meaning.
    """
    task = data.draw(st.sampled_from(["binary", "multiclass", "multilabel"]))
    average = data.draw(averages)
    zero_division = data.draw(zero_divisions)
    weighting = data.draw(weightings)
    absent = data.draw(absences) if task != "binary" else ()
    case = make_case(
        data.draw(seeds),
        task,
        absent=absent,
        weights=weighting,
        size=data.draw(st.sampled_from([12, 48, 96])),
        batches=data.draw(st.sampled_from([1, 3])),
    )
    one_hot = task == "multiclass" and one_hot_allowed and data.draw(st.booleans())
    kwargs = {"task": task, "zero_division": zero_division}
    if task != "binary":
        kwargs.update(num_classes=case.num_classes, average=average)
    result = feed(make_metric(**kwargs), case, one_hot=one_hot)
    sk_kwargs = {"zero_division": sk_zero_division(zero_division)}
    if task == "binary":
        sk_kwargs["average"] = "binary"
    else:
        sk_kwargs.update(labels=list(range(case.num_classes)), average=average)
    expected = sk_score(
        case.y_true,
        predictions(case, task),
        sample_weight=case.weights,
        **sk_kwargs,
    )
    np.testing.assert_allclose(
        result, np.asarray(expected, dtype="float64"), atol=1e-6, rtol=0
    )
