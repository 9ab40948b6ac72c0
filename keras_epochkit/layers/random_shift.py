"""RandomShift: moves each sample by a random whole number of steps."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import invalid
from keras_epochkit.layers._base import SequenceAugmentation


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomShift(SequenceAugmentation):
    """Shifts each sample by a random whole number of steps along some axes.

    On a `(batch, time, channels)` series the default `axes=1` moves it in
    time. On `(batch, height, width, channels)` images `axes=(1, 2)`
    translates them, as `keras.layers.RandomTranslation(factor, factor,
    fill_mode="constant", interpolation="nearest")` does, but with one gather
    per axis for the whole batch on every backend (Keras's PyTorch backend
    transforms images one at a time) and compiled on JAX.

    Per sample and axis of length `n`, the shift is the whole number nearest
    to a uniform draw from `[-factor * n, factor * n]`; a positive shift moves
    the content towards higher indices. Positions moved in from outside take
    `fill_value`. Active in training, the identity at inference. Its
    magnitude is `factor`: a `strength` of `s` draws from `[-s * factor * n,
    s * factor * n]`.

    Args:
        factor: the largest shift as a fraction of each axis's length, in
            `[0, 1)`. Defaults to `0.1`.
        axes: the axis, or a tuple of axes, to shift along; not the batch
            axis 0. Each needs a static length. Defaults to `1`.
        fill_value: value of the positions moved in from outside. Defaults
            to `0.0`.
        seed: integer seed of the random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor with a batch axis and the `axes`.
        training: whether to augment. Defaults to `True`.
        strength: optional scalar multiplier of `factor`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> layer = ek.layers.RandomShift(0.3, seed=0)
        >>> y = keras.ops.convert_to_numpy(layer(np.ones((4, 10, 1), "float32")))
        >>> bool(((y == 0).sum(axis=(1, 2)) <= 3).all())  # at most 0.3 * 10 steps
        True
        >>> images = ek.layers.RandomShift(0.1, axes=(1, 2), seed=0)
        >>> tuple(images(np.ones((2, 8, 8, 1), "float32")).shape)
        (2, 8, 8, 1)
    """

    def __init__(
        self,
        factor: float = 0.1,
        axes: int | tuple[int, ...] = 1,
        fill_value: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(seed=seed, **kwargs)
        if not check_number("factor", factor, 0.0) < 1.0:
            raise invalid("factor", "a number in [0, 1)", factor)
        self.factor = float(factor)
        as_tuple = (axes,) if isinstance(axes, int) else tuple(axes)
        if (
            not as_tuple
            or any(not isinstance(a, int) or isinstance(a, bool) for a in as_tuple)
            or any(a < 1 for a in as_tuple)
            or len(set(as_tuple)) != len(as_tuple)
        ):
            raise invalid("axes", "an axis >= 1 or a tuple of distinct axes >= 1", axes)
        self.axes = as_tuple
        self.fill_value = check_number("fill_value", fill_value)

    def build(self, input_shape):
        if input_shape is not None:
            rank = len(input_shape)
            if max(self.axes) >= rank:
                raise ValueError(
                    f"RandomShift(axes={self.axes}) needs inputs with at least "
                    f"{max(self.axes) + 1} axes. Received: input_shape={input_shape}"
                )
            if any(input_shape[a] is None for a in self.axes):
                raise ValueError(
                    f"RandomShift needs a static length on axes {self.axes}. "
                    f"Received: input_shape={input_shape}"
                )
        keras.layers.Layer.build(self, input_shape)

    def _draw(self, inputs, seed, strength):
        ops = self.backend
        batch = ops.shape(inputs)[0]
        lengths = ops.convert_to_tensor(
            [float(inputs.shape[a]) for a in self.axes], dtype="float32"
        )
        draws = ops.random.uniform(
            (batch, len(self.axes)), -1.0, 1.0, dtype="float32", seed=seed
        )
        shifts = ops.numpy.round(draws * (self.factor * strength) * lengths)
        return {"shifts": ops.cast(shifts, "int32")}

    def _apply(self, inputs, transformation):
        ops = self.backend
        rank = len(inputs.shape)
        fill = ops.cast(self.fill_value, inputs.dtype)
        outputs = inputs
        for column, axis in enumerate(self.axes):
            length = inputs.shape[axis]
            shift = transformation["shifts"][:, column : column + 1]
            # Output position i takes input position i - shift.
            source = ops.numpy.arange(length, dtype="int32")[None, :] - shift
            inside = ops.numpy.logical_and(source >= 0, source < length)
            shape = [-1] + [1] * (rank - 1)
            shape[axis] = length
            index = ops.numpy.reshape(ops.numpy.clip(source, 0, length - 1), shape)
            index = ops.numpy.broadcast_to(index, ops.shape(outputs))
            outputs = ops.numpy.take_along_axis(outputs, index, axis=axis)
            outputs = ops.numpy.where(ops.numpy.reshape(inside, shape), outputs, fill)
        return outputs
