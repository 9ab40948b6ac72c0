"""Shared machinery of the sequence augmentation layers.

Every layer here subclasses Keras's `DataLayer`, the base of Keras's own image
augmentation layers. Inside a model it runs on the model's backend; inside a
`tf.data` pipeline it switches its ops to TensorFlow for the duration of the
call, whatever the Keras backend is. That is why the layers compute with
`self.backend` (the same functions `keras.ops` and `keras.random` dispatch
to) and draw seeds from `self._get_seed_generator(...)`.
"""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
from keras.src.layers.preprocessing.data_layer import DataLayer

__all__ = [
    "DataLayer",
    "SequenceAugmentation",
    "catmull_rom_weights",
    "check_int",
    "check_positive",
]


class SequenceAugmentation(DataLayer):
    """Base class of the layers that augment `(batch, time, channels)` inputs.

    A subclass implements `get_random_transformation` (draws the per-sample
    random parameters, scaled by a `strength` multiplier of its magnitude) and
    `transform` (applies them). The layer is active when called with
    `training=True` (the default outside a model, so it augments inside
    `tf.data`) and the identity at inference. Masks pass through unchanged.

    Args:
        seed: integer seed of the layer's random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).
    """

    def __init__(self, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if seed is not None and not isinstance(seed, int):
            raise ValueError(
                f"`seed` must be an integer or None. Received: seed={seed!r}"
            )
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=True, strength=None):
        if not training:
            return inputs
        transformation = self.get_random_transformation(
            inputs, training=True, strength=strength
        )
        return self.transform(inputs, transformation)

    def get_random_transformation(
        self, inputs, training=True, seed=None, strength=None
    ):
        """Draws the random parameters of one batch.

        Args:
            inputs: a `(batch, time, channels)` tensor.
            training: whether the layer is in training mode.
            seed: a `SeedGenerator` or integer; defaults to the layer's own.
            strength: scalar multiplier of the layer's magnitude; `None`
                means 1 (the magnitude given at construction).

        Returns:
            A dict of tensors, or `None` when not training.
        """
        raise NotImplementedError

    def transform(self, inputs, transformation):
        """Applies the parameters drawn by `get_random_transformation`."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def build(self, input_shape):
        if input_shape is None:
            return super().build(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects inputs shaped (batch, time, "
                f"channels). Received: input_shape={input_shape}"
            )
        if input_shape[1] is None or input_shape[1] < 2:
            raise ValueError(
                f"{type(self).__name__} needs a static time length >= 2. "
                f"Received: input_shape={input_shape}"
            )
        super().build(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config

    # Helpers for subclasses -------------------------------------------------

    def _seed(self, seed):
        if seed is None:
            return self._get_seed_generator(self.backend._backend)
        return seed

    def _sizes(self, inputs):
        """Batch size (maybe dynamic), static time length and channels."""
        batch = self.backend.shape(inputs)[0]
        return batch, inputs.shape[1], inputs.shape[2]

    def _strength(self, strength):
        """The magnitude multiplier as a float32 scalar tensor."""
        if strength is None:
            return self.backend.convert_to_tensor(1.0, dtype="float32")
        return self.backend.cast(strength, "float32")

    def _fast_normal(self, shape, seed):
        """Standard normal float32 noise of `shape`, cheap on every device.

        The counter-based stream generators that `keras.random.normal` uses
        are slow on XLA CPUs. Here `keras.random` draws only two integers per
        call; each pair of outputs then comes from one 32-bit hash (two rounds
        of the MurmurHash3 finalizer) of its index, split into two 16-bit
        uniforms and turned into two normals by the Box-Muller transform.
        The 16-bit uniforms bound the values to about +-4.9 standard
        deviations.
        """
        ops = self.backend
        size = 1
        for dim in shape:
            size = size * dim
        half = (size + 1) // 2
        keys = ops.random.randint((2,), 0, 2**31 - 1, seed=seed)
        counter = ops.numpy.arange(half, dtype="int32")
        bits = _mix32(ops, counter * -1640531535 + keys[0])
        bits = _mix32(ops, ops.numpy.bitwise_xor(bits, keys[1]))
        high = ops.numpy.bitwise_and(ops.numpy.right_shift(bits, 16), 0xFFFF)
        low = ops.numpy.bitwise_and(bits, 0xFFFF)
        u1 = (ops.cast(high, "float32") + 0.5) / 65536.0
        angle = (ops.cast(low, "float32") + 0.5) * (6.283185307179586 / 65536.0)
        radius = ops.numpy.sqrt(-2.0 * ops.numpy.log(u1))
        normals = ops.numpy.concatenate(
            [radius * ops.numpy.cos(angle), radius * ops.numpy.sin(angle)]
        )
        return ops.numpy.reshape(normals[:size], shape)

    def _resample(self, inputs, positions):
        """Linear interpolation of `inputs` at fractional time `positions`.

        Args:
            inputs: `(batch, time, channels)` tensor.
            positions: `(batch, time)` float32 positions in `[0, time - 1]`.
        """
        ops = self.backend
        length = inputs.shape[1]
        positions = ops.numpy.clip(positions, 0.0, float(length - 1))
        left = ops.numpy.clip(
            ops.numpy.floor(positions), 0.0, float(max(length - 2, 0))
        )
        weight = ops.numpy.expand_dims(ops.cast(positions - left, inputs.dtype), -1)
        left = ops.cast(left, "int32")
        right = ops.numpy.minimum(left + 1, length - 1)
        x0 = self._gather_time(inputs, left)
        x1 = self._gather_time(inputs, right)
        return (1 - weight) * x0 + weight * x1

    def _gather_time(self, inputs, indices):
        """`out[b, t] = inputs[b, indices[b, t]]` for int32 `(batch, time)` indices."""
        ops = self.backend
        length = inputs.shape[1]
        channels = inputs.shape[2]
        batch = ops.shape(inputs)[0]
        offsets = ops.numpy.arange(batch, dtype="int32") * length
        flat_index = ops.numpy.reshape(
            indices + ops.numpy.expand_dims(offsets, -1), [-1]
        )
        flat = ops.numpy.reshape(inputs, [-1, channels])
        gathered = ops.numpy.take(flat, flat_index, axis=0)
        return ops.numpy.reshape(
            gathered, [batch, indices.shape[1] or length, channels]
        )

    def _smooth_curves(self, knot_values, length):
        """Catmull-Rom curves through `knot_values` (`(batch, knots + 2, ...)`)."""
        ops = self.backend
        knots = knot_values.shape[1]
        weights = ops.convert_to_tensor(catmull_rom_weights(length, knots - 2))
        if len(knot_values.shape) == 2:
            return ops.numpy.matmul(knot_values, ops.numpy.transpose(weights))
        return ops.numpy.matmul(weights, knot_values)


def _mix32(ops, x):
    """MurmurHash3's 32-bit finalizer on int32 (logical shifts via masks)."""
    x = ops.numpy.bitwise_xor(
        x, ops.numpy.bitwise_and(ops.numpy.right_shift(x, 16), 0xFFFF)
    )
    x = x * -2048144789  # 0x85EBCA6B as a signed 32-bit integer
    x = ops.numpy.bitwise_xor(
        x, ops.numpy.bitwise_and(ops.numpy.right_shift(x, 13), 0x7FFFF)
    )
    x = x * -1028477387  # 0xC2B2AE35 as a signed 32-bit integer
    return ops.numpy.bitwise_xor(
        x, ops.numpy.bitwise_and(ops.numpy.right_shift(x, 16), 0xFFFF)
    )


@functools.lru_cache(maxsize=64)
def catmull_rom_weights(length: int, knots: int) -> np.ndarray:
    """The `(length, knots + 2)` matrix that interpolates evenly spaced knots.

    Row `t` holds the weights of the `knots + 2` control values (the interior
    knots plus both ends) at time step `t` of a Catmull-Rom spline, which
    passes through every control value and has a continuous slope. The end
    points are repeated beyond the ends.

    >>> w = catmull_rom_weights(5, 0)
    >>> w.shape
    (5, 2)
    >>> w.sum(axis=1).round(6).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    points = knots + 2
    weights = np.zeros((length, points), dtype="float32")
    if length == 1:
        weights[0, 0] = 1.0
        return weights
    position = np.arange(length) * (points - 1) / (length - 1)
    segment = np.minimum(np.floor(position).astype(int), points - 2)
    u = position - segment
    coefficients = (
        0.5 * (-u + 2 * u**2 - u**3),
        0.5 * (2 - 5 * u**2 + 3 * u**3),
        0.5 * (u + 4 * u**2 - 3 * u**3),
        0.5 * (-(u**2) + u**3),
    )
    for offset, coefficient in zip(range(-1, 3), coefficients):
        column = np.clip(segment + offset, 0, points - 1)
        np.add.at(weights, (np.arange(length), column), coefficient)
    return weights


def check_positive(name: str, value, *, allow_zero: bool = True) -> float:
    """Validates a non-negative (or positive) number argument."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok or not np.isfinite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"`{name}` must be a finite number {bound}. Received: {name}={value!r}"
        )
    return float(value)


def check_int(name: str, value, minimum: int) -> int:
    """Validates an integer argument with a lower bound."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return value
