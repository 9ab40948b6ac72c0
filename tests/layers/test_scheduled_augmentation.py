import keras
import numpy as np
import pytest

import keras_epochkit as ek
from tests.layers.stats_support import numpy


def _strength_probe(scheduled, channels=2):
    """A model whose training loss is the mean square of the augmentation.

    On all-zero inputs the jitter alone makes the output, and the frozen
    identity layer (learning rate 0) keeps it, so the loss of an epoch is
    `(strength * sigma) ** 2`.
    """
    inputs = keras.Input((200, channels))
    x = scheduled(inputs)
    outputs = keras.layers.Dense(channels, kernel_initializer="identity")(x)
    model = keras.Model(inputs, outputs)
    jit = keras.backend.backend() in ("tensorflow", "jax")
    model.compile(keras.optimizers.SGD(0.0), "mse", jit_compile=jit)
    return model


def test_schedules_follow_their_definitions():
    jitter = ek.layers.RandomJitter(0.1)
    linear = ek.layers.ScheduledAugmentation(
        jitter, "linear", start=0.2, end=1.0, epochs=4
    )
    assert [linear.strength_at(e) for e in (0, 2, 4, 9)] == pytest.approx(
        [0.2, 0.6, 1.0, 1.0]
    )
    cosine = ek.layers.ScheduledAugmentation(
        jitter, "cosine", start=0.0, end=1.0, epochs=4
    )
    assert [cosine.strength_at(e) for e in (0, 1, 2, 4)] == pytest.approx(
        [0.0, (1 - np.cos(np.pi / 4)) / 2, 0.5, 1.0]
    )
    steps = ek.layers.ScheduledAugmentation(
        jitter, "steps", boundaries=[2, 5], values=[0.0, 0.5, 1.0]
    )
    assert [steps.strength_at(e) for e in range(7)] == [
        0.0,
        0.0,
        0.5,
        0.5,
        0.5,
        1.0,
        1.0,
    ]


def test_strength_changes_mid_fit_without_rebuilding_the_train_step():
    scheduled = ek.layers.ScheduledAugmentation(
        ek.layers.RandomJitter(sigma=1.0, seed=0),
        schedule="steps",
        boundaries=[1, 2],
        values=[0.0, 0.5, 1.0],
    )
    model = _strength_probe(scheduled)
    train_functions = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: train_functions.append(model.train_function)
    )
    x = np.zeros((64, 200, 2), "float32")
    history = model.fit(
        x,
        x,
        batch_size=32,
        epochs=3,
        verbose=0,
        callbacks=[ek.callbacks.AugmentationScheduler(), record],
    )
    np.testing.assert_allclose(
        history.history["loss"], [0.0, 0.25, 1.0], rtol=0.05, atol=1e-6
    )
    assert all(f is train_functions[0] for f in train_functions)


def test_probability_target_augments_a_strength_share_of_samples():
    scheduled = ek.layers.ScheduledAugmentation(
        keras.layers.RandomFlip("horizontal", seed=0),
        schedule="linear",
        start=0.0,
        end=1.0,
        epochs=2,
        target="probability",
        seed=1,
    )
    images = np.random.default_rng(0).random((400, 4, 4, 1)).astype("float32")
    np.testing.assert_array_equal(numpy(scheduled(images)), images)
    scheduled.set_strength(1.0)
    flipped = np.isclose(numpy(scheduled(images)), images[:, :, ::-1]).all(
        axis=(1, 2, 3)
    )
    assert abs(flipped.mean() - 0.5) < 0.08


def test_strength_reaches_a_tf_data_pipeline_on_every_backend():
    tf = pytest.importorskip("tensorflow")
    scheduled = ek.layers.ScheduledAugmentation(
        ek.layers.RandomJitter(sigma=1.0, seed=0),
        schedule="steps",
        boundaries=[1],
        values=[0.0, 1.0],
    )
    x = np.zeros((64, 200, 2), "float32")
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, x))
        .batch(32)
        .map(lambda a, b: (scheduled(a), b))
    )
    inputs = keras.Input((200, 2))
    outputs = keras.layers.Dense(2, kernel_initializer="identity")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    callback = ek.callbacks.AugmentationScheduler(layers=[scheduled])
    history = model.fit(
        dataset, epochs=2, verbose=0, shuffle=False, callbacks=[callback]
    )
    np.testing.assert_allclose(
        history.history["loss"], [0.0, 1.0], rtol=0.05, atol=1e-6
    )


def test_magnitude_target_needs_an_epochkit_sequence_layer():
    with pytest.raises(ValueError, match="target"):
        ek.layers.ScheduledAugmentation(keras.layers.RandomFlip(), target="magnitude")


def test_steps_schedule_needs_one_more_value_than_boundaries():
    with pytest.raises(ValueError, match="values"):
        ek.layers.ScheduledAugmentation(
            ek.layers.RandomJitter(), "steps", boundaries=[1, 2], values=[0.0, 1.0]
        )
