"""MatthewsCorrelation equals scikit-learn's matthews_corrcoef."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from keras_epochkit.metrics import MatthewsCorrelation
from tests.metrics._cases import absences
from tests.metrics._cases import feed
from tests.metrics._cases import make_case
from tests.metrics._cases import predictions
from tests.metrics._cases import seeds
from tests.support.conformance import assert_config_round_trip

# Dyadic weights keep every count, and so the covariance terms, exact in
# float32; arbitrary real weights would leave ~1e-7 relative noise in terms
# whose difference can be close to zero.
_weightings = st.sampled_from(["none", "dyadic"])


@settings(max_examples=25, deadline=None)
@given(seeds, st.sampled_from(["binary", "multiclass"]), _weightings, absences)
def test_mcc_matches_sklearn(seed, task, weighting, absent):
    if task == "binary":
        absent = ()
    case = make_case(seed, task, weights=weighting, absent=absent, size=96)
    kwargs = {"task": task}
    if task != "binary":
        kwargs["num_classes"] = case.num_classes
    got = feed(MatthewsCorrelation(**kwargs), case)
    expected = skm.matthews_corrcoef(
        case.y_true, predictions(case, task), sample_weight=case.weights
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=0)


def test_mcc_is_zero_when_every_prediction_is_one_class():
    metric = MatthewsCorrelation(num_classes=3)
    metric.update_state(np.array([0, 1, 2, 1]), np.array([1, 1, 1, 1]))
    assert float(metric.result()) == 0.0


def test_mcc_rejects_multilabel_and_round_trips():
    with pytest.raises(ValueError, match="task"):
        MatthewsCorrelation(task="multilabel", num_classes=3)
    metric = MatthewsCorrelation(task="binary", threshold=0.7, from_logits=True)
    assert metric._direction == "up"
    assert_config_round_trip(metric)
