"""ClassificationReport: scikit-learn's report, from compiled counts or explicit data."""

import json

import keras
import numpy as np
import pytest
from sklearn import datasets
from sklearn import metrics as skm

import keras_epochkit as ek
from keras_epochkit.callbacks import ClassificationReport

JIT = keras.backend.backend() in ("tensorflow", "jax")


def _wine():
    x, y = datasets.load_wine(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    order = np.random.default_rng(0).permutation(len(y))
    return x[order], y[order].astype("int32")


def _model(metrics=(), weighted_metrics=()):
    model = keras.Sequential([keras.Input((13,)), keras.layers.Dense(3)])
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(metrics),
        weighted_metrics=list(weighted_metrics),
        jit_compile=JIT,
    )
    return model


def _assert_same_report(report, expected):
    assert set(report) == set(expected)
    for key, value in expected.items():
        if isinstance(value, dict):
            for field, number in value.items():
                np.testing.assert_allclose(
                    report[key][field], number, atol=1e-6, err_msg=f"{key}/{field}"
                )
        else:
            np.testing.assert_allclose(report[key], value, atol=1e-6, err_msg=key)


def test_report_from_compiled_confusion_matrix_equals_sklearn_on_validation_data(
    tmp_path,
):
    x, y = _wine()
    names = ["barolo", "grignolino", "barbera"]
    model = _model([ek.metrics.ConfusionMatrix(num_classes=3, class_names=names)])
    printed = []
    path = tmp_path / "reports" / "report.json"
    callback = ClassificationReport(
        every_n_epochs=2, path=path, print_fn=printed.append
    )
    model.fit(
        x[:120],
        y[:120],
        validation_data=(x[120:], y[120:]),
        batch_size=32,
        epochs=3,
        verbose=0,
        callbacks=[callback],
    )
    # Epoch 2 (every_n_epochs=2) and the end of training (epoch 3).
    assert [entry["epoch"] for entry in callback.reports] == [1, 2]
    assert "validation" in callback.reports[-1]["source"]
    y_pred = model.predict(x[120:], verbose=0).argmax(-1)
    expected = skm.classification_report(
        y[120:], y_pred, target_names=names, output_dict=True, zero_division=0
    )
    _assert_same_report(callback.last_report, expected)
    saved = json.loads(path.read_text())
    assert saved["reports"] == callback.reports
    assert "barbera" in printed[-1] and "weighted avg" in printed[-1]
    assert printed[-1].startswith("Final classification report (epoch 3")


def test_report_from_explicit_weighted_validation_data_equals_sklearn():
    x, y = _wine()
    weights = np.linspace(0.5, 2.0, 58).astype("float32")
    callback = ClassificationReport(
        validation_data=(x[120:], y[120:], weights),
        confusion_matrix=ek.metrics.ConfusionMatrix(num_classes=3, from_logits=True),
        every_n_epochs=1,
        print_fn=None,
    )
    model = _model()
    model.fit(
        x[:120], y[:120], epochs=2, batch_size=32, verbose=0, callbacks=[callback]
    )
    assert [entry["epoch"] for entry in callback.reports] == [0, 1]
    y_pred = model.predict(x[120:], verbose=0).argmax(-1)
    expected = skm.classification_report(
        y[120:],
        y_pred,
        labels=[0, 1, 2],
        target_names=["0", "1", "2"],
        sample_weight=weights,
        output_dict=True,
        zero_division=0,
    )
    _assert_same_report(callback.last_report, expected)


def test_multilabel_report_has_micro_average_like_sklearn():
    from keras_epochkit.callbacks.classification_report import (
        classification_report_from_counts,
    )

    rng = np.random.default_rng(3)
    y_true = (rng.random((50, 4)) < 0.4).astype("int32")
    scores = rng.random((50, 4)).astype("float32")
    metric = ek.metrics.ConfusionMatrix(task="multilabel", num_classes=4)
    metric.update_state(y_true, scores)
    counts = np.asarray(keras.ops.convert_to_numpy(metric.result()), "float64")
    report = classification_report_from_counts(counts, "multilabel")
    expected = skm.classification_report(
        y_true, scores > 0.5, output_dict=True, zero_division=0
    )
    del expected["samples avg"]  # needs per-sample data, not counts
    _assert_same_report(report, expected)


def test_a_state_set_before_fit_survives_it_and_the_next_fit_resets_it():
    callback = ClassificationReport(print_fn=None)
    callback.set_state({"reports": [{"epoch": 4, "source": "x", "report": {}}]})
    assert callback.get_state()["reports"][0]["epoch"] == 4
    json.dumps(callback.get_state())
    x, y = _wine()
    model = _model([ek.metrics.ConfusionMatrix(num_classes=3)])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    assert [entry["epoch"] for entry in callback.reports] == [4, 0]
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    assert [entry["epoch"] for entry in callback.reports] == [0]
    assert "training" in callback.reports[0]["source"]


def test_missing_source_raises_a_clear_error():
    x, y = _wine()
    with pytest.raises(ValueError, match="ConfusionMatrix"):
        _model().fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[ClassificationReport(print_fn=None)],
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"every_n_epochs": -1}, "every_n_epochs"),
        ({"digits": "2"}, "digits"),
        ({"confusion_matrix": 3}, "confusion_matrix"),
        ({"validation_data": ([1], [1], [1], [1])}, "validation_data"),
        ({"validation_data": ([1], [1]), "confusion_matrix": "cm"}, "confusion_matrix"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassificationReport(**kwargs)


def test_per_class_keys_reach_logs_and_early_stopping_maximizes_them():
    x, y = _wine()
    model = _model([ek.metrics.Recall(num_classes=3, average=None)])
    stopper = ek.callbacks.EarlyStopping(monitor="val_recall_class_2", patience=5)
    history = model.fit(
        x[:120],
        y[:120],
        validation_data=(x[120:], y[120:]),
        epochs=2,
        verbose=0,
        callbacks=[stopper],
    )
    assert "val_recall_class_2" in history.history
    assert stopper._mode_for("val_recall_class_2") == "max"
