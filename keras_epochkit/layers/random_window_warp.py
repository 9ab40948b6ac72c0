"""RandomWindowWarp: speeds up or slows down a random window."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit._core.validation import invalid
from keras_epochkit.layers._base import SequenceAugmentation
from keras_epochkit.layers._base import check_fraction


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomWindowWarp(SequenceAugmentation):
    """Stretches a random window by a random factor and resamples to length.

    A window of `window_ratio * (time - 1)` steps, at a uniformly drawn start
    per sample, is stretched by a factor chosen uniformly from `scales`
    (Le Guennec et al., 2016; Iwana & Uchida, 2021: 10% of the length, by 0.5
    or 2). The warped sequence, longer or shorter than the input, is then
    read at `time` evenly spaced positions with linear interpolation, so the
    output length equals the input length and both endpoints are kept. Its
    magnitude is the log of the factor: a `strength` of `s` stretches by
    `factor ** s`.

    Args:
        window_ratio: window length as a fraction of the input, in `(0, 1]`.
            Defaults to `0.1`.
        scales: the stretch factors to choose from, each `> 0`. Defaults to
            `(0.5, 2.0)`.
        seed: integer seed of the random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a `(batch, time, channels)` float tensor.
        training: whether to augment. Defaults to `True`.
        strength: optional scalar exponent of the stretch factor.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> ramp = np.arange(100, dtype="float32").reshape(1, 100, 1)
        >>> y = keras.ops.convert_to_numpy(ek.layers.RandomWindowWarp(seed=0)(ramp))
        >>> y.shape, float(y[0, 0, 0]), float(y[0, -1, 0])
        ((1, 100, 1), 0.0, 99.0)
    """

    def __init__(
        self,
        window_ratio: float = 0.1,
        scales: tuple[float, ...] = (0.5, 2.0),
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(seed=seed, **kwargs)
        self.window_ratio = check_fraction("window_ratio", window_ratio)
        try:
            factors = tuple(float(s) for s in scales)
        except (TypeError, ValueError):
            factors = ()
        if not factors or min(factors) <= 0:
            raise invalid("scales", "a non-empty list of numbers > 0", scales)
        self.scales = factors

    def _draw(self, inputs, seed, strength):
        ops = self.backend
        batch, length, _ = self._sizes(inputs)
        last = float(length - 1)
        width = self.window_ratio * last
        start = ops.random.uniform((batch, 1), dtype="float32", seed=seed) * (
            last - width
        )
        choice = ops.random.randint((batch, 1), 0, len(self.scales), seed=seed)
        scales = ops.convert_to_tensor(list(self.scales), dtype="float32")
        factor = ops.numpy.take(scales, choice)
        factor = ops.numpy.power(factor, strength)
        return {"start": start, "width": width + 0.0 * start, "factor": factor}

    def _apply(self, inputs, transformation):
        ops = self.backend
        length = inputs.shape[1]
        last = float(length - 1)
        start = transformation["start"]
        width = transformation["width"]
        factor = transformation["factor"]
        warped_length = last + width * (factor - 1.0)
        steps = ops.numpy.arange(length, dtype="float32") / max(last, 1.0)
        u = ops.numpy.expand_dims(steps, 0) * warped_length
        stretched_end = start + width * factor
        positions = ops.numpy.where(
            u < start,
            u,
            ops.numpy.where(
                u < stretched_end,
                start + (u - start) / factor,
                u - width * (factor - 1.0),
            ),
        )
        return self._resample(inputs, positions)
