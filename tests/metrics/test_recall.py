"""Recall equals scikit-learn's recall_score."""

import numpy as np
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from keras_epochkit.metrics import Recall
from tests.metrics._cases import check_score_parity
from tests.metrics._cases import feed
from tests.metrics._cases import make_case
from tests.support.conformance import assert_config_round_trip


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_recall_matches_sklearn_across_tasks_averages_and_weights(data):
    check_score_parity(Recall, skm.recall_score, data)


def test_recall_of_class_absent_from_data_uses_zero_division():
    case = make_case(5, "multiclass", absent=(3,))
    per_class = feed(Recall(num_classes=4, average=None, zero_division=1), case)
    assert per_class[3] == 1.0
    macro_nan = feed(Recall(num_classes=4, zero_division="nan"), case)
    np.testing.assert_allclose(macro_nan, per_class[:3].mean(), atol=1e-6)


def test_recall_multilabel_ignore_value_skips_those_entries():
    case = make_case(6, "multilabel")
    y_true = case.y_true.copy()
    y_true[::3, 0] = -1
    keep = y_true[:, 0] != -1
    metric = Recall(task="multilabel", num_classes=4, average=None, ignore_class=-1)
    metric.update_state(y_true, case.scores)
    got = np.array([float(v) for v in metric.result().values()])
    expected0 = skm.recall_score(y_true[keep, 0], case.scores[keep, 0] > 0.5)
    np.testing.assert_allclose(got[0], expected0, atol=1e-6)
    expected_rest = skm.recall_score(
        y_true[:, 1:], case.scores[:, 1:] > 0.5, average=None
    )
    np.testing.assert_allclose(got[1:], expected_rest, atol=1e-6)


def test_recall_config_round_trips():
    assert_config_round_trip(Recall(num_classes=3, average="weighted", top_k=2))
