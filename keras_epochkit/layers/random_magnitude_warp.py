"""RandomMagnitudeWarp: multiplies the sequence by a smooth random curve."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit.layers._base import SequenceAugmentation
from keras_epochkit.layers._base import check_int
from keras_epochkit.layers._base import check_positive


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomMagnitudeWarp(SequenceAugmentation):
    """Multiplies each channel by a smooth random curve around 1.

    The curve passes through `knots + 2` evenly spaced control values (both
    ends included) drawn from `N(1, sigma)` per sample and channel, joined by
    a Catmull-Rom spline (Um et al., 2017, who use a cubic spline). Active in
    training, the identity at inference. Its magnitude is `sigma`.

    Args:
        sigma: standard deviation of the control values. Defaults to `0.2`.
        knots: number of interior control points. Defaults to `4`.
        seed: integer seed of the random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a `(batch, time, channels)` float tensor.
        training: whether to augment. Defaults to `True`.
        strength: optional scalar multiplier of `sigma`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> layer = ek.layers.RandomMagnitudeWarp(sigma=0.2, knots=4, seed=0)
        >>> y = keras.ops.convert_to_numpy(layer(np.ones((2, 100, 3), "float32")))
        >>> y.shape, bool(np.abs(np.diff(y, axis=1)).max() < 0.1)  # smooth
        ((2, 100, 3), True)
    """

    def __init__(
        self, sigma: float = 0.2, knots: int = 4, seed: int | None = None, **kwargs: Any
    ):
        super().__init__(seed=seed, **kwargs)
        self.sigma = check_positive("sigma", sigma)
        self.knots = check_int("knots", knots, 0)

    def get_random_transformation(
        self, inputs, training=True, seed=None, strength=None
    ):
        if not training:
            return None
        ops = self.backend
        batch, length, channels = self._sizes(inputs)
        stddev = self.sigma * self._strength(strength)
        values = ops.random.normal(
            (batch, self.knots + 2, channels), dtype="float32", seed=self._seed(seed)
        )
        return {"curves": self._smooth_curves(1.0 + values * stddev, length)}

    def transform(self, inputs, transformation):
        if transformation is None:
            return inputs
        return inputs * self.backend.cast(transformation["curves"], inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"sigma": self.sigma, "knots": self.knots})
        return config
