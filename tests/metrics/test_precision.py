"""Precision equals scikit-learn's precision_score, and its options behave."""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from keras_epochkit.metrics import Precision
from tests.metrics._cases import check_score_parity
from tests.metrics._cases import feed
from tests.metrics._cases import make_case
from tests.support.conformance import assert_config_round_trip


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_precision_matches_sklearn_across_tasks_averages_and_weights(data):
    check_score_parity(Precision, skm.precision_score, data)


def test_precision_per_class_results_are_named_scalars():
    case = make_case(0, "multiclass", absent=(2,))
    result = Precision(num_classes=4, average=None).update_state(
        case.y_true, case.scores
    )
    metric = Precision(num_classes=4, average=None, class_names=list("abcd"))
    metric.update_state(case.y_true, case.scores)
    result = metric.result()
    assert list(result) == ["precision_a", "precision_b", "precision_c", "precision_d"]
    assert all(keras.ops.ndim(v) == 0 for v in result.values())


def test_precision_class_id_picks_one_class():
    case = make_case(1, "multiclass", weights="float")
    expected = skm.precision_score(
        case.y_true,
        case.scores.argmax(-1),
        labels=[2],
        average=None,
        sample_weight=case.weights,
    )[0]
    got = feed(Precision(num_classes=4, class_id=2), case)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_precision_ignore_class_drops_its_samples_and_its_column():
    case = make_case(2, "multiclass", weights="float")
    keep = case.y_true != 1
    for average in ("micro", "macro", "weighted"):
        expected = skm.precision_score(
            case.y_true[keep],
            case.scores.argmax(-1)[keep],
            labels=[0, 2, 3],
            average=average,
            sample_weight=case.weights[keep],
            zero_division=0,
        )
        got = feed(Precision(num_classes=4, average=average, ignore_class=1), case)
        np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=average)


def test_precision_top_k_counts_each_of_the_k_best_classes():
    case = make_case(3, "multiclass", num_classes=5, weights="float")
    top = np.argsort(-case.scores, axis=-1)[:, :2]
    predicted = np.zeros_like(case.scores)
    np.put_along_axis(predicted, top, 1.0, axis=-1)
    truth = np.eye(5)[case.y_true]
    w = case.weights[:, None]
    tp = (truth * predicted * w).sum(0)
    per_class = tp / (predicted * w).sum(0)
    got = feed(Precision(num_classes=5, top_k=2, average=None), case)
    np.testing.assert_allclose(got, per_class, atol=1e-6)
    micro = feed(Precision(num_classes=5, top_k=2, average="micro"), case)
    np.testing.assert_allclose(micro, tp.sum() / (predicted * w).sum(), atol=1e-6)


def test_precision_from_logits_thresholds_the_sigmoid():
    case = make_case(4, "binary")
    logits = np.log(case.scores / (1 - case.scores + 1e-7) + 1e-7).astype("float32")
    expected = skm.precision_score(case.y_true, case.scores > 0.3)
    metric = Precision(task="binary", threshold=0.3, from_logits=True)
    metric.update_state(case.y_true, logits)
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-6)


def test_precision_has_direction_up():
    assert Precision(num_classes=3)._direction == "up"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"task": "binary", "threshold": 0.3, "zero_division": 1},
        {"num_classes": 4, "average": None, "class_names": list("wxyz")},
        {"num_classes": 4, "top_k": 2, "ignore_class": 0, "zero_division": "nan"},
        {"task": "multilabel", "num_classes": 3, "from_logits": True, "class_id": 1},
    ],
)
def test_precision_config_round_trips(kwargs):
    assert_config_round_trip(Precision(**kwargs))
