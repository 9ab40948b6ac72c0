"""CohenKappa equals scikit-learn's cohen_kappa_score."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from keras_epochkit.metrics import CohenKappa
from tests.metrics._cases import absences
from tests.metrics._cases import feed
from tests.metrics._cases import make_case
from tests.metrics._cases import predictions
from tests.metrics._cases import seeds
from tests.support.conformance import assert_config_round_trip

# Dyadic weights keep the agreement terms exact in float32 (see the MCC test).
_weightings = st.sampled_from(["none", "dyadic"])


@settings(max_examples=25, deadline=None)
@given(
    seeds,
    st.sampled_from(["binary", "multiclass"]),
    _weightings,
    absences,
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_kappa_matches_sklearn(seed, task, weighting, absent, weights):
    if task == "binary":
        absent = ()
    case = make_case(seed, task, weights=weighting, absent=absent, size=96)
    kwargs = {"task": task, "weights": weights}
    if task != "binary":
        kwargs["num_classes"] = case.num_classes
    got = feed(CohenKappa(**kwargs), case)
    labels = [0, 1] if task == "binary" else list(range(case.num_classes))
    expected = skm.cohen_kappa_score(
        case.y_true,
        predictions(case, task),
        labels=labels,
        weights=weights,
        sample_weight=case.weights,
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=0)


def test_kappa_undefined_uses_zero_division():
    metric = CohenKappa(num_classes=3, zero_division=1)
    metric.update_state(np.array([1, 1]), np.array([1, 1]))
    assert float(metric.result()) == 1.0
    assert float(CohenKappa(num_classes=3).result()) == 0.0


def test_kappa_rejects_unknown_weights_and_round_trips():
    with pytest.raises(ValueError, match="weights"):
        CohenKappa(num_classes=3, weights="cubic")
    metric = CohenKappa(num_classes=4, weights="quadratic", zero_division="nan")
    assert metric._direction == "up"
    assert_config_round_trip(metric)
