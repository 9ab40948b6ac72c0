"""Format, count, reduce: invalid inputs, zero_division="warn", the two bases."""

import inspect
import warnings

import keras
import numpy as np
import pytest
from sklearn import metrics as skm

from keras_epochkit import metrics as ekm
from keras_epochkit.metrics import AveragedScore
from keras_epochkit.metrics import MatrixScore
from keras_epochkit.metrics import UndefinedMetricWarning
from tests.metrics._cases import make_case
from tests.metrics._cases import predictions
from tests.support.conformance import assert_config_round_trip

JIT = keras.backend.backend() in ("tensorflow", "jax")

# Every exported metric class, with arguments that build one.
METRICS = {
    ekm.ConfusionCounts: {"num_classes": 3},
    ekm.Precision: {"num_classes": 3},
    ekm.Recall: {"num_classes": 3},
    ekm.FBetaScore: {"num_classes": 3, "beta": 2.0},
    ekm.F1Score: {"num_classes": 3},
    ekm.ConfusionMatrix: {"num_classes": 3},
    ekm.BalancedAccuracy: {"num_classes": 3},
    ekm.MatthewsCorrelation: {"num_classes": 3},
    ekm.CohenKappa: {"num_classes": 3, "weights": "linear"},
}


def _ignore_y_true(y_true, y_pred):
    """A loss that trains on the predictions alone, whatever the labels hold."""
    return keras.ops.mean(keras.ops.square(y_pred), axis=-1)


# --- invalid inputs: ValueError for NumPy, NaN inside a compiled step -------


@pytest.mark.parametrize("metric_cls", [ekm.Precision, ekm.MatthewsCorrelation])
def test_non_integer_numpy_labels_raise_instead_of_being_truncated(metric_cls):
    metric = metric_cls(num_classes=3)
    with pytest.raises(ValueError, match=r"whole class indices; received \[0.5, 1.7"):
        metric.update_state(np.array([0.5, 1.7, 2.2]), np.array([0, 1, 2]))


def test_non_integer_binary_labels_raise():
    with pytest.raises(ValueError, match="whole class indices"):
        ekm.Recall(task="binary").update_state(
            np.array([0.0, 0.5]), np.array([0.1, 0.9])
        )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_non_finite_numpy_predictions_raise(task, bad):
    case = make_case(0, task, num_classes=3, size=6, batches=1)
    scores = case.scores.copy()
    scores.flat[1] = bad
    metric = ekm.F1Score(task=task, num_classes=None if task == "binary" else 3)
    with pytest.raises(ValueError, match="y_pred must be finite; received 1 NaN"):
        metric.update_state(case.y_true, scores)


def test_nan_in_one_hot_numpy_labels_raises():
    labels = np.eye(3)[[0, 1, 2]]
    labels[1, 1] = np.nan
    with pytest.raises(ValueError, match="y_true must be finite"):
        ekm.CohenKappa(num_classes=3).update_state(labels, np.eye(3))


def test_non_integer_class_indices_in_y_pred_raise():
    metric = ekm.Recall(num_classes=3, sparse_y_pred=True)
    with pytest.raises(ValueError, match="y_pred must hold whole class indices"):
        metric.update_state(np.array([0, 1, 2]), np.array([0.0, 1.5, 2.0]))


def _fit_history(x, y, metrics, epochs=1):
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(3)])
    model.compile(
        optimizer="sgd", loss=_ignore_y_true, metrics=metrics, jit_compile=JIT
    )
    return model.fit(x, y, batch_size=4, epochs=epochs, verbose=0).history


def test_non_integer_labels_in_a_compiled_fit_give_nan_not_a_wrong_number():
    x = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2, 0, 1]]
    fractional = np.array([0.5, 1.7, 2.2, 0, 1, 2, 0, 1], "float32")

    def metrics():
        return [ekm.Precision(num_classes=3), ekm.MatthewsCorrelation(num_classes=3)]

    history = _fit_history(x, fractional, metrics())
    assert np.isnan(history["precision"][-1])
    assert np.isnan(history["matthews_correlation"][-1])
    # The same labels as whole numbers give numbers: the NaN is the fraction's.
    history = _fit_history(x, np.round(fractional), metrics())
    assert np.isfinite(history["precision"][-1])
    assert np.isfinite(history["matthews_correlation"][-1])


def test_nan_predictions_in_a_compiled_fit_give_nan_not_class_0():
    x = np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2, 0, 1]]
    x[5, 0] = np.nan  # the Dense layer turns this row's scores into NaN
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1], "int32")
    metrics = [ekm.F1Score(num_classes=3), ekm.BalancedAccuracy(num_classes=3)]
    history = _fit_history(x, y, metrics)
    assert np.isnan(history["f1_score"][-1])
    assert np.isnan(history["balanced_accuracy"][-1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_non_finite_predictions_in_a_compiled_evaluate_give_nan(task, bad):
    width = 1 if task == "binary" else 3
    model = keras.Sequential([keras.Input((width,)), keras.layers.Identity()])
    num_classes = None if task == "binary" else 3
    model.compile(
        loss=_ignore_y_true,
        metrics=[ekm.Recall(task=task, num_classes=num_classes, average="micro")],
        jit_compile=JIT,
    )
    scores = np.full((4, width), 0.1, "float32")
    scores[:, -1] = 0.9
    y = np.full(4, width - 1 if task == "multiclass" else 1, "int32")
    assert model.evaluate(scores, y, verbose=0, return_dict=True)["recall"] == 1.0
    scores[2, 0] = bad
    results = model.evaluate(scores, y, verbose=0, return_dict=True)
    assert np.isnan(results["recall"])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_invalid_labels_in_a_compiled_evaluate_give_nan_for_every_class(task, weighted):
    # XLA rewrites a product with a 0/1 indicator into a select, which keeps a
    # NaN weight out of the classes the sample does not belong to: the NaN must
    # still reach every per-class score and every average.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    model.compile(
        loss=_ignore_y_true,
        metrics=[
            ekm.F1Score(task=task, num_classes=3, average=None),
            ekm.Precision(task=task, num_classes=3, average="macro"),
            ekm.Recall(task=task, num_classes=3, average="micro"),
        ],
        jit_compile=JIT,
    )
    scores = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    if task == "multiclass":
        y = np.array([0, 1, 7, 0], "int32")
    else:
        y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
        y[2, 1] = 2.0
    weights = np.array([1.0, 0.5, 2.0, 1.0], "float32") if weighted else None
    results = model.evaluate(
        scores, y, sample_weight=weights, verbose=0, return_dict=True
    )
    values = {key: value for key, value in results.items() if key != "loss"}
    assert len(values) == 5
    assert all(np.isnan(value) for value in values.values()), values


# --- zero_division="warn" -----------------------------------------------------


def _never_predicts_class_2(metric):
    metric.update_state(np.array([0, 1, 2, 1]), np.array([0, 1, 1, 1]))
    return metric


def test_zero_division_warn_warns_once_per_result_and_scores_zero():
    metric = _never_predicts_class_2(ekm.Precision(num_classes=4, average=None))
    with pytest.warns(UndefinedMetricWarning, match="no predicted samples") as record:
        result = metric.result()
    undefined = [w for w in record if w.category is UndefinedMetricWarning]
    assert len(undefined) == 1  # classes 2 and 3 are undefined: one warning
    assert float(result["precision_class_2"]) == 0.0
    assert float(result["precision_class_3"]) == 0.0


@pytest.mark.parametrize(
    "metric_cls, match",
    [
        (ekm.Recall, "no true samples"),
        (ekm.F1Score, "no true nor predicted samples"),
        (ekm.FBetaScore, "no true nor predicted samples"),
    ],
)
def test_zero_division_warn_names_what_is_missing(metric_cls, match):
    metric = _never_predicts_class_2(metric_cls(num_classes=4))
    with pytest.warns(UndefinedMetricWarning, match=match):
        metric.result()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"zero_division": 0},  # 0 was asked for: nothing to warn about
        {"class_id": 0},  # the class reported is defined
        {"ignore_class": 3, "average": "micro"},  # the pooled counts are defined
    ],
)
def test_zero_division_warns_only_where_it_applies(kwargs):
    metric = _never_predicts_class_2(ekm.Precision(num_classes=4, **kwargs))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        metric.result()


def test_cohen_kappa_zero_division_warn_warns_when_kappa_is_undefined():
    metric = ekm.CohenKappa(num_classes=3, zero_division="warn")
    metric.update_state(np.array([1, 1]), np.array([1, 1]))
    with pytest.warns(UndefinedMetricWarning, match="chance agreement"):
        assert float(metric.result()) == 0.0
    assert metric.get_config()["zero_division"] == "warn"


# --- the extension points -----------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_epochkit_tests")
class Specificity(AveragedScore):
    """tn / (tn + fp): a user score written on the exported extension point."""

    _default_name = "specificity"
    undefined_in = "classes with no negative samples"

    def __init__(self, num_classes=None, task="multiclass", margin=0.0, **kwargs):
        super().__init__(task=task, num_classes=num_classes, **kwargs)
        self.margin = margin

    def ratio_terms(self, tp, fp, fn, tn):
        return tn, tn + fp


def _sklearn_specificity(y_true, y_pred, labels):
    blocks = skm.multilabel_confusion_matrix(y_true, y_pred, labels=labels)
    return blocks[:, 0, 0] / (blocks[:, 0, 0] + blocks[:, 0, 1])


def test_user_subclass_of_averaged_score_matches_sklearn_and_round_trips(tmp_path):
    case = make_case(5, "multiclass")
    y_pred = predictions(case, "multiclass")
    per_class = _sklearn_specificity(case.y_true, y_pred, labels=range(4))
    metric = Specificity(num_classes=4, average=None)
    metric.update_state(case.y_true, case.scores)
    got = [float(v) for v in metric.result().values()]
    np.testing.assert_allclose(got, per_class, atol=1e-6)

    binary = make_case(6, "binary")
    metric = Specificity(task="binary", margin=0.5)
    metric.update_state(binary.y_true, binary.scores)
    expected = skm.recall_score(binary.y_true, binary.scores > 0.5, pos_label=0)
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-6)
    config = metric.get_config()
    assert config["margin"] == 0.5 and config["task"] == "binary"
    # Arguments passed on through **kwargs are read from the parent's signature.
    assert config["zero_division"] == "warn" and config["name"] == "specificity"
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric), safe_mode=True
    )
    assert type(restored) is Specificity and restored.get_config() == config

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    model.compile(
        loss="sparse_categorical_crossentropy",
        metrics=[Specificity(num_classes=4)],
        jit_compile=JIT,
    )
    model.fit(case.scores, case.y_true, batch_size=40, epochs=1, verbose=0)
    before = model.evaluate(case.scores, case.y_true, verbose=0, return_dict=True)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    after = reloaded.evaluate(case.scores, case.y_true, verbose=0, return_dict=True)
    y_pred = model.predict(case.scores, verbose=0).argmax(-1)
    expected = _sklearn_specificity(case.y_true, y_pred, labels=range(4)).mean()
    np.testing.assert_allclose(before["specificity"], expected, atol=1e-6)
    np.testing.assert_allclose(after["specificity"], before["specificity"], atol=1e-6)


@keras.saving.register_keras_serializable(package="keras_epochkit_tests")
class MatrixAccuracy(MatrixScore):
    _default_name = "matrix_accuracy"

    def result(self):
        matrix = self.matrix()
        return keras.ops.trace(matrix) / keras.ops.sum(matrix)


def test_user_subclass_of_matrix_score_matches_sklearn():
    case = make_case(7, "multiclass", weights="float")
    metric = MatrixAccuracy(num_classes=4)
    for y_true, scores, weights in case.batches():
        metric.update_state(y_true, scores, sample_weight=weights)
    expected = skm.accuracy_score(
        case.y_true, predictions(case, "multiclass"), sample_weight=case.weights
    )
    np.testing.assert_allclose(float(metric.result()), expected, atol=1e-6)
    assert "top_k" not in inspect.signature(MatrixScore).parameters
    with pytest.raises(ValueError, match="task"):
        MatrixAccuracy(task="multilabel", num_classes=3)


def test_confusion_counts_returns_the_per_class_stat_scores():
    case = make_case(8, "multilabel", num_classes=3, weights="dyadic")
    metric = ekm.ConfusionCounts(task="multilabel", num_classes=3)
    for y_true, scores, weights in case.batches():
        metric.update_state(y_true, scores, sample_weight=weights)
    blocks = skm.multilabel_confusion_matrix(
        case.y_true, predictions(case, "multilabel"), sample_weight=case.weights
    )
    tn, fp, fn, tp = (blocks[:, i, j] for i, j in [(0, 0), (0, 1), (1, 0), (1, 1)])
    expected = np.stack([tp, fp, tn, fn, tp + fn], axis=-1)
    np.testing.assert_allclose(np.asarray(metric.result()), expected, atol=1e-6)


@pytest.mark.parametrize("metric_cls", list(METRICS), ids=lambda c: c.__name__)
def test_config_holds_exactly_the_constructor_arguments(metric_cls):
    metric = metric_cls(**METRICS[metric_cls])
    parameters = list(inspect.signature(metric_cls).parameters)
    assert list(metric.get_config()) == parameters
    assert_config_round_trip(metric)
