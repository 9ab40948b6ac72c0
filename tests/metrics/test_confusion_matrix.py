"""ConfusionMatrix equals scikit-learn's confusion matrices."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from keras_epochkit.metrics import ConfusionMatrix
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
    st.sampled_from(["binary", "multiclass", "multilabel"]),
    weightings,
    absences,
    st.sampled_from([None, "true", "pred", "all"]),
)
def test_confusion_matrix_matches_sklearn(seed, task, weighting, absent, normalize):
    if task == "binary":
        absent = ()
    if task == "multilabel":
        normalize = None
    case = make_case(seed, task, weights=weighting, absent=absent, size=96)
    kwargs = {"task": task, "normalize": normalize}
    if task != "binary":
        kwargs["num_classes"] = case.num_classes
    got = feed(ConfusionMatrix(**kwargs), case)
    y_pred = predictions(case, task)
    if task == "multilabel":
        expected = skm.multilabel_confusion_matrix(
            case.y_true, y_pred, sample_weight=case.weights
        )
    else:
        labels = [0, 1] if task == "binary" else list(range(case.num_classes))
        with np.errstate(all="ignore"):
            expected = skm.confusion_matrix(
                case.y_true,
                y_pred,
                labels=labels,
                sample_weight=case.weights,
                normalize=normalize,
            )
    # Counts, not ratios: float32 sums of real weights agree to float32
    # precision, which for a sum of tens of weights is a few 1e-6 relative
    # (hypothesis found 1.2e-6 on one multilabel case), as the other metric
    # tests allow.
    np.testing.assert_allclose(got, np.nan_to_num(expected), rtol=1e-5, atol=1e-6)


def test_confusion_matrix_rejects_unknown_or_multilabel_normalize():
    with pytest.raises(ValueError, match="normalize"):
        ConfusionMatrix(num_classes=3, normalize="rows")
    with pytest.raises(ValueError, match="normalize"):
        ConfusionMatrix(task="multilabel", num_classes=3, normalize="true")


def test_confusion_matrix_config_round_trips():
    assert_config_round_trip(
        ConfusionMatrix(num_classes=3, normalize="true", class_names=["a", "b", "c"])
    )
