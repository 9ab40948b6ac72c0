"""BalancedAccuracy equals scikit-learn's balanced_accuracy_score."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from keras_epochkit.metrics import BalancedAccuracy
from tests.metrics._cases import absences
from tests.metrics._cases import feed
from tests.metrics._cases import make_case
from tests.metrics._cases import predictions
from tests.metrics._cases import seeds
from tests.metrics._cases import weightings
from tests.support.conformance import assert_config_round_trip


@settings(max_examples=25, deadline=None)
@given(
    seeds,
    st.sampled_from(["binary", "multiclass"]),
    weightings,
    absences,
    st.booleans(),
)
def test_balanced_accuracy_matches_sklearn(seed, task, weighting, absent, adjusted):
    if task == "binary":
        absent = ()
    case = make_case(seed, task, weights=weighting, absent=absent, size=96)
    kwargs = {"task": task, "adjusted": adjusted}
    if task != "binary":
        kwargs["num_classes"] = case.num_classes
    got = feed(BalancedAccuracy(**kwargs), case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes predicted but absent
        expected = skm.balanced_accuracy_score(
            case.y_true,
            predictions(case, task),
            sample_weight=case.weights,
            adjusted=adjusted,
        )
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_balanced_accuracy_rejects_multilabel():
    with pytest.raises(ValueError, match="task"):
        BalancedAccuracy(task="multilabel", num_classes=3)


def test_balanced_accuracy_has_direction_up_and_round_trips():
    metric = BalancedAccuracy(num_classes=4, adjusted=True, ignore_class=0)
    assert metric._direction == "up"
    assert_config_round_trip(metric)
