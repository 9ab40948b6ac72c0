"""A model whose weight moves by exactly the applied learning rate per step.

`Dense(1, use_bias=False)` on inputs of ones with the loss `mean(y_pred)` has
a gradient of exactly 1 for its single weight, so plain SGD lowers the weight
by the learning rate the compiled train step applied at each step. Comparing
the weight at epoch boundaries with the schedule's own values tells whether
the compiled step saw a change made between epochs (on every backend).
"""

import keras
import numpy as np


def probe_data(samples: int = 32):
    x = np.ones((samples, 1), dtype="float32")
    return x, np.zeros((samples, 1), dtype="float32")


def probe_model(schedule) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=schedule),
        loss=lambda y_true, y_pred: y_pred,
    )
    return model


def weight(model) -> float:
    return float(keras.ops.convert_to_numpy(model.layers[0].kernel)[0, 0])


def schedule_sum(schedule, start: int, stop: int) -> float:
    """Sum of the schedule's current values over steps [start, stop)."""
    return float(
        sum(float(keras.ops.convert_to_numpy(schedule(s))) for s in range(start, stop))
    )


class AppliedRateRecorder(keras.callbacks.Callback):
    """Per epoch: the rate sum the compiled step applied and the one expected.

    The expectation is taken from the schedule at the start of the epoch,
    after every re-target made at the previous epoch end.
    """

    def __init__(self, schedule, steps_per_epoch: int):
        super().__init__()
        self.schedule = schedule
        self.steps_per_epoch = steps_per_epoch
        self.applied: list[float] = []
        self.expected: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self._weight = weight(self.model)
        self.expected.append(
            schedule_sum(self.schedule, step, step + self.steps_per_epoch)
        )

    def on_epoch_end(self, epoch, logs=None):
        self.applied.append(self._weight - weight(self.model))
