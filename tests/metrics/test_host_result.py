"""An eager `result()` computes on the host; it must equal the keras.ops path.

Keras calls `result()` eagerly at every epoch end, where the averaged scores
read their state once and finish in NumPy; inside a compiled step the same
code runs in `keras.ops`. Both paths are compared here on the same state.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_epochkit as ek

RNG = np.random.default_rng(7)
Y_MULTI = RNG.integers(0, 4, 64)
P_MULTI = RNG.random((64, 4)).astype("float32")
Y_BIN = RNG.integers(0, 2, 64)
P_BIN = RNG.random(64).astype("float32")

CASES = [
    (ek.metrics.Precision, {"num_classes": 4, "average": average}, Y_MULTI, P_MULTI)
    for average in ("micro", "macro", "weighted", None)
] + [
    (ek.metrics.Recall, {"task": "binary"}, Y_BIN, P_BIN),
    (ek.metrics.F1Score, {"num_classes": 4, "ignore_class": 2}, Y_MULTI, P_MULTI),
    (ek.metrics.F1Score, {"num_classes": 4, "class_id": 1}, Y_MULTI, P_MULTI),
    (
        ek.metrics.FBetaScore,
        {"num_classes": 4, "beta": 2.0, "average": "weighted", "zero_division": "nan"},
        Y_MULTI,
        P_MULTI,
    ),
    (
        ek.metrics.Precision,
        {"num_classes": 4, "average": "macro", "zero_division": "nan"},
        Y_MULTI,
        np.eye(4)[np.zeros(64, int)],
    ),
    (
        ek.metrics.Recall,
        {"task": "multilabel", "num_classes": 3, "average": "macro"},
        RNG.integers(0, 2, (64, 3)),
        RNG.random((64, 3)).astype("float32"),
    ),
]


@pytest.mark.parametrize("cls, kwargs, y_true, y_pred", CASES)
def test_the_host_path_equals_the_keras_ops_path(cls, kwargs, y_true, y_pred):
    metric = cls(**kwargs)
    metric.update_state(y_true, y_pred.astype("float32"))
    assert metric.host_namespace() is np  # eager: the state is readable
    host = metric.result()
    traced = metric._as_result(metric._result(ops), ops)
    if isinstance(host, dict):
        assert host.keys() == traced.keys()
        host, traced = list(host.values()), list(traced.values())
    np.testing.assert_allclose(
        ops.convert_to_numpy(host),
        ops.convert_to_numpy(traced),
        rtol=1e-6,
        equal_nan=True,
    )


def test_the_host_result_is_a_tensor_of_the_metric_dtype():
    metric = ek.metrics.Recall(task="binary", dtype="float32")
    metric.update_state(Y_BIN, P_BIN)
    value = metric.result()
    assert ops.is_tensor(value)
    assert keras.backend.standardize_dtype(value.dtype) == "float32"


def test_a_dtype_numpy_lacks_stays_on_the_keras_ops_path():
    metric = ek.metrics.Precision(task="binary", dtype="bfloat16")
    metric.update_state(Y_BIN, P_BIN)
    assert metric.host_namespace() is ops
    value = ops.cast(metric.result(), "float32")  # TF cannot hand bfloat16 to NumPy
    assert np.isfinite(float(ops.convert_to_numpy(value)))
