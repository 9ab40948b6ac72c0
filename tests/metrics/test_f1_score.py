"""F1Score equals scikit-learn's f1_score and takes what keras.metrics.F1Score cannot."""

import keras
import numpy as np
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from keras_epochkit.metrics import F1Score
from tests.metrics._cases import check_score_parity
from tests.metrics._cases import make_case
from tests.support.conformance import assert_config_round_trip


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_f1_matches_sklearn_across_tasks_averages_and_weights(data):
    check_score_parity(F1Score, skm.f1_score, data)


def test_f1_sparse_and_one_hot_labels_give_the_same_result():
    case = make_case(7, "multiclass", weights="float")
    sparse = F1Score(num_classes=4, average="macro")
    sparse.update_state(case.y_true, case.scores, sample_weight=case.weights)
    one_hot = F1Score(num_classes=4, average="macro")
    one_hot.update_state(
        np.eye(4)[case.y_true], case.scores, sample_weight=case.weights
    )
    np.testing.assert_allclose(float(sparse.result()), float(one_hot.result()))


def test_f1_equals_keras_f1_on_one_hot_labels():
    case = make_case(8, "multiclass")
    ours = F1Score(num_classes=4, average="macro")
    ours.update_state(case.y_true, case.scores)
    theirs = keras.metrics.F1Score(average="macro")
    theirs.update_state(np.eye(4, dtype="float32")[case.y_true], case.scores)
    np.testing.assert_allclose(float(ours.result()), float(theirs.result()), atol=1e-6)


def test_f1_config_has_no_beta_and_round_trips():
    metric = F1Score(num_classes=3, average=None, class_names=["a", "b", "c"])
    assert "beta" not in metric.get_config()
    assert_config_round_trip(metric)
