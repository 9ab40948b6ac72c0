"""Every stateful epochkit callback follows BackupAndRestore's state protocol.

The protocol (see `BackupAndRestore`): `get_state()` returns JSON-able values
and numpy arrays; `set_state(state)` puts the callback back as it was, whether
it is called before `fit` or at the first `on_epoch_begin` of a resumed `fit`
(where BackupAndRestore calls it); and a restored state never leaks into a
later, separate `fit`, which starts afresh like any Keras callback.
"""

import itertools
import json

import keras
import pytest
from sklearn.datasets import load_digits

import keras_epochkit as ek
from keras_epochkit.callbacks import backup_and_restore as backup_module


class FakeClock:
    """Ten seconds per reading: wall time that repeats exactly."""

    def __init__(self):
        self._ticks = itertools.count()

    def __call__(self):
        return 10.0 * next(self._ticks)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8)
    return (x[:400], y[:400]), (x[400:600], y[400:600])


def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8)),  # each digit read as 8 rows of 8 pixels
            ek.layers.ScheduledAugmentation(
                ek.layers.RandomJitter(0.05, seed=1),
                schedule="linear",
                epochs=4,
                name="jitter",
            ),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(ek.schedules.CosineDecay(0.01)),
        loss="sparse_categorical_crossentropy",
        metrics=[ek.metrics.ConfusionMatrix(num_classes=10, name="confusion")],
    )
    return model


FACTORIES = {
    "EarlyStopping": lambda: ek.callbacks.EarlyStopping(
        patience=10, restore_best_weights=True
    ),
    "OverfittingMonitor": lambda: ek.callbacks.OverfittingMonitor(verbose=0),
    "EpochBudget": lambda: ek.callbacks.EpochBudget(),
    # A hair-trigger plateau, so that 3 epochs reach the cool-down.
    "PlateauBudget": lambda: ek.callbacks.PlateauBudget(window=1, min_progress=0.9),
    # On the training thread: off it, how many batch ends read the clock
    # depends on the order they arrive in, and a fake clock counts readings.
    "TimeBudget": lambda: ek.callbacks.TimeBudget(
        minutes=60, clock=FakeClock(), stop_mid_epoch=True
    ),
    "AugmentationScheduler": lambda: ek.callbacks.AugmentationScheduler(),
    "ClassificationReport": lambda: ek.callbacks.ClassificationReport(
        confusion_matrix="confusion", print_fn=None
    ),
}


def fit(digits, callbacks, epochs):
    (x, y), validation = digits
    model = make_model()
    model.fit(
        x,
        y,
        validation_data=validation,
        batch_size=100,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    return model


class _SetStateAtFirstEpoch(keras.callbacks.Callback):
    """Calls `set_state` where BackupAndRestore does: the first on_epoch_begin."""

    def __init__(self, target, state):
        super().__init__()
        self.target, self.state = target, state

    def on_epoch_begin(self, epoch, logs=None):
        if self.state is not None:
            self.target.set_state(self.state)
            self.state = None


def normalized(state):
    arrays = {}
    encoded = backup_module._encode(state, arrays, "state")  # raises if not JSON-able
    return json.loads(json.dumps(encoded)), {
        key: value.tolist() for key, value in arrays.items()
    }


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_round_trips_and_a_restore_does_not_leak_into_the_next_fit(digits, name):
    fresh = FACTORIES[name]()
    fit(digits, [fresh], epochs=1)

    source = FACTORIES[name]()
    fit(digits, [source], epochs=3)
    state = source.get_state()
    assert isinstance(state, dict)
    twin = FACTORIES[name]()
    twin.set_state(state)  # before any fit
    assert normalized(twin.get_state()) == normalized(state)

    restored = FACTORIES[name]()
    fit(digits, [restored, _SetStateAtFirstEpoch(restored, state)], epochs=1)
    # A later, separate fit resets like any Keras callback.
    fit(digits, [restored], epochs=1)
    assert normalized(restored.get_state()) == normalized(fresh.get_state())
