"""FBetaScore equals scikit-learn's fbeta_score."""

import functools

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from keras_epochkit.metrics import FBetaScore
from tests.metrics._cases import check_score_parity
from tests.support.conformance import assert_config_round_trip


@settings(max_examples=25, deadline=None)
@given(st.data(), st.sampled_from([0.5, 2.0, 3.0]))
def test_fbeta_matches_sklearn_across_tasks_averages_and_weights(data, beta):
    check_score_parity(
        functools.partial(FBetaScore, beta=beta),
        functools.partial(skm.fbeta_score, beta=beta),
        data,
    )


@pytest.mark.parametrize("beta", [0, -1.0, "2", True])
def test_fbeta_rejects_a_non_positive_beta(beta):
    with pytest.raises(ValueError, match="beta"):
        FBetaScore(beta=beta, num_classes=3)


def test_fbeta_config_round_trips():
    assert_config_round_trip(FBetaScore(beta=2.0, task="binary", threshold=0.4))
