"""RandomTimeMask: zeroes random spans of time steps (SpecAugment style)."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import invalid
from keras_epochkit.layers._base import SequenceAugmentation


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomTimeMask(SequenceAugmentation):
    """Sets `count` random spans of consecutive time steps to zero.

    Per sample and span, a width is drawn uniformly from `0..max_width` and a
    start uniformly among the positions where the span fits; all channels of
    the span are zeroed (the time masking of SpecAugment, Park et al., 2019).
    Spans may overlap. Its magnitude is `max_width`: a `strength` of `s`
    draws widths up to `s * max_width`.

    Args:
        count: number of spans per sample, `>= 0`. Defaults to `2`.
        max_width: widest span: an integer number of steps, or a float in
            `(0, 1)` read as a fraction of the length. Defaults to `0.1`.
        seed: integer seed of the random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a `(batch, time, channels)` float tensor.
        training: whether to augment. Defaults to `True`.
        strength: optional scalar multiplier of `max_width`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> layer = ek.layers.RandomTimeMask(count=1, max_width=5, seed=0)
        >>> y = keras.ops.convert_to_numpy(layer(np.ones((4, 20, 2), "float32")))
        >>> bool(((y == 0).sum(axis=1)[:, 0] <= 5).all())
        True
    """

    def __init__(
        self,
        count: int = 2,
        max_width: int | float = 0.1,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(seed=seed, **kwargs)
        self.count = check_int("count", count, 0)
        valid = isinstance(max_width, (int, float)) and not isinstance(max_width, bool)
        if valid and isinstance(max_width, float):
            valid = 0 < max_width < 1
        elif valid:
            valid = max_width >= 0
        if not valid:
            raise invalid(
                "max_width",
                "an integer >= 0 (steps) or a float in (0, 1) (fraction of the length)",
                max_width,
            )
        self.max_width = max_width

    def _max_steps(self, length: int) -> int:
        if isinstance(self.max_width, float):
            return round(self.max_width * length)
        return min(self.max_width, length)

    def _draw(self, inputs, seed, strength):
        ops = self.backend
        batch, length, _ = self._sizes(inputs)
        widest = float(self._max_steps(length)) * strength
        widest = ops.numpy.clip(ops.numpy.floor(widest), 0.0, float(length))
        shape = (batch, self.count)
        widths = ops.numpy.floor(
            ops.random.uniform(shape, dtype="float32", seed=seed) * (widest + 1.0)
        )
        widths = ops.numpy.minimum(widths, widest)
        starts = ops.numpy.floor(
            ops.random.uniform(shape, dtype="float32", seed=seed)
            * (float(length) - widths + 1.0)
        )
        starts = ops.numpy.minimum(starts, float(length) - widths)
        return {
            "starts": ops.cast(starts, "int32"),
            "widths": ops.cast(widths, "int32"),
        }

    def _apply(self, inputs, transformation):
        if self.count == 0:
            return inputs
        ops = self.backend
        steps = ops.numpy.arange(inputs.shape[1], dtype="int32")[None, :]
        starts, widths = transformation["starts"], transformation["widths"]
        # One (batch, time) mask per span, then one selection broadcast over
        # the channels: in a tf.data pipeline about half the cost of comparing
        # all spans at once on (batch, time, count) and selecting from a
        # tensor of zeros.
        masked = None
        for span in range(self.count):
            start = starts[:, span : span + 1]
            inside = (steps >= start) & (steps < start + widths[:, span : span + 1])
            masked = inside if masked is None else masked | inside
        zero = ops.cast(0, inputs.dtype)
        return ops.numpy.where(ops.numpy.expand_dims(masked, -1), zero, inputs)
