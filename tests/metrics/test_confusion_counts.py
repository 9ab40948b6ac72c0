"""The shared confusion-count core: input formats, errors, Keras integration."""

import keras
import numpy as np
import pytest
from sklearn import datasets
from sklearn import metrics as skm

from keras_epochkit import metrics as ekm
from keras_epochkit.metrics import ConfusionCounts
from tests.support.conformance import assert_model_round_trip
from tests.support.multidevice import run_with_jax_devices
from tests.support.multidevice import run_with_tf_mirrored

JIT = keras.backend.backend() in ("tensorflow", "jax")


def _only_on(backend):
    return pytest.mark.skipif(
        keras.backend.backend() != backend,
        reason=f"runs in the {backend} session of the suite",
    )


# --- construction and shape errors ------------------------------------------


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_missing_num_classes_raises_naming_the_task(task):
    with pytest.raises(ValueError, match=f"num_classes.*task='{task}'"):
        ekm.Precision(task=task)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"task": "ternary"}, "task"),
        ({"num_classes": 3, "average": "samples"}, "average"),
        ({"num_classes": 3, "threshold": 1.5}, "threshold"),
        ({"num_classes": 3, "top_k": 4}, "top_k"),
        ({"task": "multilabel", "num_classes": 3, "top_k": 2}, "top_k"),
        ({"num_classes": 3, "zero_division": 0.5}, "zero_division"),
        ({"num_classes": 3, "class_id": 3}, "class_id"),
        ({"num_classes": 3, "class_names": ["a", "b"]}, "class_names"),
        ({"num_classes": 3, "sparse_y_true": "yes"}, "sparse_y_true"),
    ],
)
def test_invalid_arguments_raise_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ekm.Recall(**kwargs)


def test_matrix_state_refuses_top_k():
    matrix_metric = type("MatrixCounts", (ConfusionCounts,), {"_needs_matrix": True})
    with pytest.raises(ValueError, match="top_k"):
        matrix_metric(num_classes=3, top_k=2)


@pytest.mark.parametrize(
    "task, y_true_shape, y_pred_shape",
    [
        ("multiclass", (8,), (8, 4)),  # wrong number of class scores
        ("multiclass", (8, 2), (8, 3)),  # y_true neither indices nor one-hot
        ("multiclass", (8,), (7, 3)),  # batch sizes differ
        ("binary", (8,), (8, 3)),  # several scores per sample
        ("multilabel", (8, 3), (8, 2)),  # label counts differ
    ],
)
def test_shape_errors_name_the_shapes_received(task, y_true_shape, y_pred_shape):
    metric = ekm.F1Score(task=task, num_classes=None if task == "binary" else 3)
    y_true = np.zeros(y_true_shape, "int32")
    y_pred = np.zeros(y_pred_shape, "float32")
    with pytest.raises(ValueError, match=r"y_true.shape=.*y_pred.shape="):
        metric.update_state(y_true, y_pred)


def test_shape_errors_are_raised_while_tracing_a_compiled_step():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(loss="mse", metrics=[ekm.Precision(num_classes=4)], jit_compile=JIT)
    with pytest.raises(ValueError, match=r"scores of shape \(\.\.\., 4\)"):
        model.evaluate(np.zeros((8, 4)), np.zeros((8, 3)), verbose=0)


@pytest.mark.parametrize("labels", [[0, 3, 1], [-2, 0, 1]])
def test_numpy_labels_out_of_range_raise(labels):
    metric = ekm.Precision(num_classes=3)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\]"):
        metric.update_state(np.array(labels), np.eye(3)[[0, 1, 2]])


def test_binary_labels_other_than_0_1_raise():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        ekm.Recall(task="binary").update_state(np.array([0, 2]), np.array([0.1, 0.9]))


def test_out_of_range_labels_in_a_compiled_step_give_nan_not_a_wrong_number():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Softmax()])
    model.compile(
        loss=lambda y_true, y_pred: keras.ops.zeros_like(y_pred[:, 0]),
        metrics=[ekm.Recall(num_classes=3)],
        jit_compile=JIT,
    )
    x = np.eye(3, dtype="float32")
    results = model.evaluate(x, np.array([0, 1, 7]), verbose=0, return_dict=True)
    assert np.isnan(results["recall"])
    results = model.evaluate(x, np.array([0, 1, 2]), verbose=0, return_dict=True)
    assert results["recall"] == 1.0


# --- input formats ------------------------------------------------------------


def test_sparse_labels_may_have_a_trailing_axis_and_predictions_may_be_indices():
    y_true = np.array([0, 1, 2, 2, 1])
    y_pred = np.array([0, 2, 2, 1, 1])
    expected = skm.f1_score(y_true, y_pred, average="macro")
    for true, pred in [
        (y_true, y_pred),
        (y_true[:, None], y_pred[:, None]),
        (np.eye(3)[y_true], np.eye(3)[y_pred]),
    ]:
        metric = ekm.F1Score(num_classes=3)
        metric.update_state(true, pred)
        np.testing.assert_allclose(float(metric.result()), expected, atol=1e-6)


def test_tied_scores_predict_the_first_highest_class_as_argmax_does():
    scores = np.array(
        [
            [0.4, 0.4, 0.2],
            [0.1, 0.45, 0.45],
            [0.3, 0.3, 0.3],
            [0.0, 0.0, 1.0],
            [0.5, 0.0, 0.5],
            [0.2, 0.4, 0.4],
        ],
        "float32",
    )
    y = np.array([1, 2, 0, 2, 2, 1])
    labels = [0, 1, 2]
    expected = skm.f1_score(y, scores.argmax(-1), labels=labels, average=None)
    # Eagerly, on sparse and on one-hot labels (tied one-hot rows too).
    for y_true in (y, np.eye(3, dtype="float32")[y]):
        metric = ekm.F1Score(num_classes=3, average=None)
        metric.update_state(keras.ops.convert_to_tensor(y_true), scores)
        got = [float(v) for v in metric.result().values()]
        np.testing.assert_allclose(got, expected, atol=1e-6)
    tied_rows = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 1.0]], "float32")
    metric = ekm.Recall(num_classes=3, average=None, zero_division=0)
    metric.update_state(keras.ops.convert_to_tensor(tied_rows), np.eye(3)[[0, 1]])
    np.testing.assert_allclose(
        [float(v) for v in metric.result().values()], [1.0, 1.0, 0.0], atol=1e-6
    )
    # In a compiled step.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    model.compile(
        loss=lambda t, p: keras.ops.zeros_like(p[:, 0]),
        metrics=[ekm.F1Score(num_classes=3, average=None)],
        jit_compile=JIT,
    )
    results = model.evaluate(scores, y, verbose=0, return_dict=True)
    got = [results[f"f1_score_class_{i}"] for i in labels]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_explicit_sparse_override_reads_a_batch_of_num_classes_labels_as_indices():
    # Three samples and three classes: (3, 3) scores and a (3, 1) label column.
    scores = np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    metric = ekm.Recall(num_classes=3, sparse_y_true=True, average="micro")
    metric.update_state(np.array([[0], [2], [0]]), scores)
    np.testing.assert_allclose(float(metric.result()), 2 / 3, atol=1e-6)


def test_dense_prediction_maps_are_flattened_per_pixel():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, (2, 5, 5))
    scores = rng.random((2, 5, 5, 3)).astype("float32")
    weights = rng.random(2).astype("float32")
    metric = ekm.Precision(num_classes=3, average="weighted")
    metric.update_state(y_true, scores, sample_weight=weights)
    expected = skm.precision_score(
        y_true.ravel(),
        scores.argmax(-1).ravel(),
        average="weighted",
        sample_weight=np.repeat(weights, 25),
    )
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-6)


def test_reset_state_clears_the_counts():
    metric = ekm.ConfusionMatrix(num_classes=2)
    metric.update_state(np.array([0, 1]), np.array([1, 1]))
    metric.reset_state()
    assert float(np.sum(keras.ops.convert_to_numpy(metric.result()))) == 0.0


# --- stateless API ------------------------------------------------------------


@pytest.mark.parametrize(
    "metric",
    [
        ekm.F1Score(num_classes=4, average=None),
        ekm.MatthewsCorrelation(num_classes=4),
        ekm.CohenKappa(num_classes=4, weights="linear"),
    ],
    ids=lambda m: type(m).__name__,
)
def test_stateless_api_gives_the_stateful_result(metric):
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 4, 64)
    scores = rng.random((64, 4)).astype("float32")
    state = [keras.ops.zeros(v.shape, v.dtype) for v in metric.variables]
    for index in np.array_split(np.arange(64), 2):
        state = metric.stateless_update_state(state, y_true[index], scores[index])
    stateless = metric.stateless_result(state)
    assert float(np.sum(keras.ops.convert_to_numpy(metric.variables[0]))) == 0.0
    metric.update_state(y_true, scores)
    stateful = metric.result()
    if isinstance(stateful, dict):
        stateless, stateful = list(stateless.values()), list(stateful.values())
    np.testing.assert_allclose(
        np.asarray(stateless, "float64"), np.asarray(stateful, "float64"), atol=1e-6
    )


# --- fit / evaluate -----------------------------------------------------------


def _digits():
    x, y = datasets.load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y.astype("int32")


def _digit_metrics():
    return [
        ekm.Precision(num_classes=10, average="macro"),
        ekm.Recall(num_classes=10, average=None),
        ekm.F1Score(num_classes=10, average="weighted", from_logits=True),
        ekm.BalancedAccuracy(num_classes=10),
        ekm.MatthewsCorrelation(num_classes=10),
        ekm.CohenKappa(num_classes=10, weights="quadratic"),
    ]


@pytest.mark.slow
def test_fit_and_evaluate_compiled_report_sklearn_values_and_val_per_class_keys():
    x, y = _digits()
    x_train, y_train, x_val, y_val = x[:1200], y[:1200], x[1200:1600], y[1200:1600]
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=_digit_metrics(),
        jit_compile=JIT,
    )
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        batch_size=100,
        epochs=2,
        verbose=0,
    )
    assert "val_recall_class_3" in history.history
    assert "recall_class_9" in history.history
    results = model.evaluate(x_val, y_val, batch_size=100, verbose=0, return_dict=True)
    y_pred = model.predict(x_val, batch_size=100, verbose=0).argmax(-1)
    labels = list(range(10))
    expected = {
        "precision": skm.precision_score(y_val, y_pred, labels=labels, average="macro"),
        "f1_score": skm.f1_score(y_val, y_pred, labels=labels, average="weighted"),
        "balanced_accuracy": skm.balanced_accuracy_score(y_val, y_pred),
    }
    recalls = skm.recall_score(y_val, y_pred, labels=labels, average=None)
    expected.update({f"recall_class_{i}": r for i, r in enumerate(recalls)})
    for key, value in expected.items():
        np.testing.assert_allclose(results[key], value, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(
        results["matthews_correlation"],
        skm.matthews_corrcoef(y_val, y_pred),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        results["cohen_kappa"],
        skm.cohen_kappa_score(y_val, y_pred, weights="quadratic"),
        rtol=1e-5,
    )


def test_keras_callbacks_resolve_mode_auto_to_max():
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(loss="mse", metrics=_digit_metrics())
    x, y = _digits()
    model.evaluate(x[:10], np.eye(10)[y[:10]], verbose=0)
    for monitor in ("val_precision", "val_matthews_correlation", "cohen_kappa"):
        stopper = keras.callbacks.EarlyStopping(monitor=monitor, mode="auto")
        stopper.set_model(model)
        stopper._set_monitor_op()
        assert stopper.monitor_op is keras.ops.greater, monitor


@pytest.mark.slow
def test_model_with_metrics_saves_and_reloads_in_a_fresh_process(tmp_path):
    x, y = _digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(loss="sparse_categorical_crossentropy", metrics=_digit_metrics())
    assert_model_round_trip(model, x[:200], tmp_path, y=y[:200], atol=1e-5)


# --- distribution ---------------------------------------------------------------

_DISTRIBUTED = """
import numpy as np
import keras
from sklearn import datasets
import keras_epochkit as ek

x, y = datasets.load_digits(return_X_y=True)
x = (x[:512] / 16.0).astype("float32")
y = y[:512].astype("int32")
weights = (np.arange(512) % 4 / 2).astype("float32")

def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[
            ek.metrics.F1Score(num_classes=10, average="macro"),
            ek.metrics.Recall(num_classes=10, average=None),
            ek.metrics.MatthewsCorrelation(num_classes=10),
            ek.metrics.CohenKappa(num_classes=10),
            ek.metrics.ConfusionMatrix(num_classes=10),
        ],
        jit_compile="auto",
    )
    return model

def evaluate(model):
    results = model.evaluate(
        x, y, sample_weight=weights, batch_size=64, verbose=0, return_dict=True
    )
    out = {k: np.asarray(v).tolist() for k, v in results.items() if k != "loss"}
    out["y_pred"] = model.predict(x, batch_size=64, verbose=0).argmax(-1).tolist()
    return out
"""


def _check_distributed_equals_single(result):
    y_pred = np.array(result["distributed"]["y_pred"])
    for key, single in result["single"].items():
        np.testing.assert_allclose(
            result["distributed"][key], single, rtol=1e-6, atol=1e-6, err_msg=key
        )
    y = _digits()[1][:512]
    weights = (np.arange(512) % 4 / 2).astype("float32")
    np.testing.assert_allclose(
        result["distributed"]["confusion_matrix"],
        skm.confusion_matrix(y, y_pred, labels=range(10), sample_weight=weights),
    )
    np.testing.assert_allclose(
        result["distributed"]["f1_score"],
        skm.f1_score(y, y_pred, average="macro", sample_weight=weights),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        result["distributed"]["matthews_correlation"],
        skm.matthews_corrcoef(y, y_pred, sample_weight=weights),
        rtol=1e-5,
    )


@pytest.mark.slow
@pytest.mark.multidevice
@_only_on("tensorflow")
def test_mirrored_strategy_on_two_replicas_sums_counts_like_one_device():
    result = run_with_tf_mirrored(
        _DISTRIBUTED
        + """
single = evaluate(make_model())
with strategy.scope():
    model = make_model()
distributed = evaluate(model)
report({"single": single, "distributed": distributed,
        "replicas": strategy.num_replicas_in_sync})
""",
        replicas=2,
    )
    assert result["replicas"] == 2
    _check_distributed_equals_single(result)


@pytest.mark.slow
@pytest.mark.multidevice
@_only_on("jax")
def test_jax_data_parallel_on_four_devices_sums_counts_like_one_device():
    result = run_with_jax_devices(
        _DISTRIBUTED
        + """
import jax
single = evaluate(make_model())
keras.distribution.set_distribution(keras.distribution.DataParallel())
distributed = evaluate(make_model())
report({"single": single, "distributed": distributed, "devices": len(jax.devices())})
""",
        devices=4,
    )
    assert result["devices"] == 4
    _check_distributed_equals_single(result)
