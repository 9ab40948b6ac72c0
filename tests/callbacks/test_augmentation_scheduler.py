import json

import keras
import numpy as np
import pytest

import keras_epochkit as ek


def _model(scheduled):
    inputs = keras.Input((32, 1))
    x = ek.layers.RandomApply(scheduled, rate=1.0)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "mse")
    return model


def _scheduled(name="ramp"):
    return ek.layers.ScheduledAugmentation(
        ek.layers.RandomScaling(0.1), "linear", start=0.0, end=1.0, epochs=4, name=name
    )


def test_sets_nested_layer_strength_each_epoch_and_logs_it():
    scheduled = _scheduled()
    model = _model(scheduled)
    x = np.random.default_rng(0).normal(size=(16, 32, 1)).astype("float32")
    y = x.mean(axis=1)
    scheduler = ek.callbacks.AugmentationScheduler()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[scheduler])
    assert history.history["ramp_strength"] == [0.0, 0.25, 0.5]
    assert float(keras.ops.convert_to_numpy(scheduled.strength)) == 0.5
    assert scheduler.get_state() == {"epoch": 2, "strengths": {"ramp": 0.5}}


def test_state_round_trips_through_json_and_is_reapplied_on_resume():
    scheduled = _scheduled()
    model = _model(scheduled)
    scheduler = ek.callbacks.AugmentationScheduler()
    state = json.loads(json.dumps({"epoch": 3, "strengths": {"ramp": 0.75}}))
    scheduler.set_state(state)
    scheduler.set_model(model)
    scheduler.on_train_begin()
    assert float(keras.ops.convert_to_numpy(scheduled.strength)) == 0.75
    assert scheduler.get_state() == state


def test_state_resets_on_a_fresh_train_begin():
    scheduler = ek.callbacks.AugmentationScheduler(layers=[_scheduled()])
    scheduler.on_epoch_begin(2)
    assert scheduler.get_state()["epoch"] == 2
    scheduler.on_train_begin()
    assert scheduler.get_state() == {"epoch": None, "strengths": {}}


def test_rejects_layers_that_are_not_scheduled():
    with pytest.raises(ValueError, match="ScheduledAugmentation"):
        ek.callbacks.AugmentationScheduler(layers=[ek.layers.RandomJitter()])


def test_finds_layers_in_nested_models_and_takes_custom_layers_in_layers():
    in_model = _scheduled("in_model")
    inner = keras.Sequential([keras.Input((32, 1)), in_model], name="inner")

    class Custom(keras.layers.Layer):
        def __init__(self, wrapped, **kwargs):
            super().__init__(**kwargs)
            self.wrapped = wrapped

        def call(self, x):
            return self.wrapped(x)

    in_custom = _scheduled("in_custom")
    inputs = keras.Input((32, 1))
    x = Custom(in_custom)(inner(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(x)))
    model.compile("sgd", "mse")
    data = np.zeros((8, 32, 1), "float32"), np.zeros((8, 1), "float32")
    # A layer inside a custom layer is not listed by Keras's public API.
    found = ek.callbacks.AugmentationScheduler()
    model.fit(*data, epochs=2, verbose=0, callbacks=[found])
    assert found.get_state()["strengths"] == {"in_model": 0.25}
    given = ek.callbacks.AugmentationScheduler(layers=[in_custom])
    history = model.fit(*data, epochs=2, verbose=0, callbacks=[given])
    assert history.history["in_custom_strength"] == [0.0, 0.25]
    assert history.history["in_model_strength"] == [0.0, 0.25]
