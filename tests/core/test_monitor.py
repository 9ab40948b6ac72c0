"""The one monitor core: direction by name or metric, values of every kind."""

import math
import warnings

import keras
import numpy as np
import pytest

from keras_epochkit._core import monitor
from keras_epochkit.criteria import Patience
from keras_epochkit.criteria._overfitting import OverfittingDetector


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("val_loss", "min"),
        ("val_output_1_loss", "min"),
        ("val_accuracy", "max"),
        ("val_sparse_categorical_accuracy", "max"),
        ("val_mse_score", "max"),
        ("val_kl_divergence", "min"),
        ("val_poisson", "min"),
        ("val_mcc", "max"),
        ("val_perplexity", "min"),
        ("val_mean_absolute_error", "min"),
        ("val_f1_score", "max"),
        ("val_auc_1", "max"),
        ("val_r2_score", "max"),
        ("val_temperature", None),
    ],
)
def test_direction_from_the_name(name, mode):
    assert monitor.mode_from_name(name) == mode


def test_criteria_and_the_overfitting_detector_agree_on_every_name():
    # These names once resolved one way in the criteria and another (or not
    # at all) in OverfittingMonitor and analyze.
    for name in ("val_mse_score", "val_kl_divergence", "val_mcc", "val_perplexity"):
        train = name.removeprefix("val_")
        rule = Patience(monitor=name)
        detector = OverfittingDetector(monitor=name)
        rule.update(0, {name: 1.0, train: 1.0})
        detector.update(0, {name: 1.0, train: 1.0})
        assert rule._mode == detector._mode == monitor.resolve_mode(name)


def test_the_models_metric_direction_wins_over_the_name():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(
        optimizer="sgd", loss="mse", metrics=[keras.metrics.AUC(name="quality")]
    )
    model.evaluate(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0)
    assert monitor.mode_from_name("val_quality") is None
    assert monitor.resolve_mode("val_quality", model=model) == "max"
    assert monitor.resolve_mode("val_loss", "max", model=model) == "max"


def test_an_unresolvable_name_says_to_pass_mode():
    with pytest.raises(ValueError, match=r"`val_temperature`.*mode='min'"):
        monitor.resolve_mode("val_temperature", owner="EarlyStopping")


def test_values_of_every_kind_read_as_one_float():
    for value in (
        0.5,
        np.float32(0.5),
        np.array(0.5),
        np.array([0.5]),
        keras.ops.convert_to_tensor([0.5]),
    ):
        assert monitor.to_float(value, "k") == 0.5
    with pytest.raises(ValueError, match="`k` holds 2 values"):
        monitor.to_float(np.array([0.5, 0.2]), "k")


def test_a_missing_val_key_is_skipped_only_when_validation_did_not_run():
    assert monitor.read({"loss": 1.0}, "val_loss") is None
    with pytest.raises(ValueError, match=r"`val_acc`.*\['loss', 'val_loss'\]"):
        monitor.read({"loss": 1.0, "val_loss": 2.0}, "val_acc")
    with pytest.raises(ValueError, match="`acc`"):
        monitor.read({"loss": 1.0}, "acc")


def test_the_missing_monitor_warning_comes_once_until_reset():
    warning = monitor.MissingMonitorWarning("EarlyStopping")
    with pytest.warns(UserWarning, match="validation data"):
        warning.check({"loss": 1.0}, ["val_loss"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warning.check({"loss": 1.0}, ["val_loss"])
    warning.reset()
    with pytest.warns(UserWarning):
        warning.check({"loss": 1.0}, ["val_loss"])


def test_improvement_follows_keras_in_float32_and_never_counts_nan():
    assert monitor.is_improvement(0.9, 1.0, "min", 0.05)
    assert not monitor.is_improvement(0.96, 1.0, "min", 0.05)
    assert monitor.is_improvement(1.2, 1.0, "max", 0.1, "rel")
    assert not monitor.is_improvement(math.nan, 1.0, "min")
    assert monitor.is_improvement(3.0, None, "min")
