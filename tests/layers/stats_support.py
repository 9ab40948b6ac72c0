"""Helpers shared by the statistical tests of the augmentation layers."""

import keras
import numpy as np


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def ramps(batch, length, channels=1):
    """`(batch, length, channels)` inputs whose value is the time index."""
    ramp = np.arange(length, dtype="float32")[None, :, None]
    return np.tile(ramp, (batch, 1, channels))
