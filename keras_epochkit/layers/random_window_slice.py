"""RandomWindowSlice: crops a random window and stretches it to full length."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit.layers._base import SequenceAugmentation
from keras_epochkit.layers._base import check_fraction


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomWindowSlice(SequenceAugmentation):
    """Crops a random window of `ratio` of the length and resamples it back.

    The window spans `ratio * (time - 1)` steps and starts at a uniformly
    drawn, fractional position per sample (Le Guennec et al., 2016; Iwana &
    Uchida, 2021). The output reads the window at `time` evenly spaced
    positions with linear interpolation, so the output length equals the input
    length. Its magnitude is `1 - ratio`: a `strength` of `s` crops a window of
    `1 - s * (1 - ratio)` of the length.

    Args:
        ratio: length of the window as a fraction of the input, in `(0, 1]`.
            Defaults to `0.9`.
        seed: integer seed of the random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a `(batch, time, channels)` float tensor.
        training: whether to augment. Defaults to `True`.
        strength: optional scalar multiplier of `1 - ratio`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> ramp = np.arange(11, dtype="float32").reshape(1, 11, 1)
        >>> y = keras.ops.convert_to_numpy(ek.layers.RandomWindowSlice(0.5, seed=0)(ramp))
        >>> y.shape, round(float(y[0, -1, 0] - y[0, 0, 0]), 4)
        ((1, 11, 1), 5.0)
    """

    def __init__(self, ratio: float = 0.9, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.ratio = check_fraction("ratio", ratio)

    def _draw(self, inputs, seed, strength):
        ops = self.backend
        batch, length, _ = self._sizes(inputs)
        ratio = 1.0 - (1.0 - self.ratio) * strength
        ratio = ops.numpy.clip(ratio, 0.0, 1.0)
        span = ratio * float(length - 1)
        start = ops.random.uniform((batch, 1), dtype="float32", seed=seed)
        start = start * (float(length - 1) - span)
        steps = ops.numpy.arange(length, dtype="float32") / float(max(length - 1, 1))
        positions = start + ops.numpy.expand_dims(steps, 0) * span
        return {"positions": positions}

    def _apply(self, inputs, transformation):
        return self._resample(inputs, transformation["positions"])
