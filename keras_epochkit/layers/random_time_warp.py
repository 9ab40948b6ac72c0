"""RandomTimeWarp: smooth random speed changes along time."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit.layers._base import SequenceAugmentation
from keras_epochkit.layers._base import check_int
from keras_epochkit.layers._base import check_positive

# Lowest relative speed, so that the time map stays strictly increasing.
_MIN_SPEED = 0.05


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomTimeWarp(SequenceAugmentation):
    """Resamples the sequence along a smooth, monotone random time map.

    A speed curve is drawn per sample as in `RandomMagnitudeWarp` (control
    values from `N(1, sigma)`, clipped at 0.05 so time never runs backwards);
    its cumulative sum, rescaled so that the first and last steps map to
    themselves, gives for every output step the input time to read (Um et al.,
    2017). Values between input steps are linearly interpolated, so the output
    length equals the input length and both endpoints are kept. All channels
    share one time map. Its magnitude is `sigma`.

    Args:
        sigma: standard deviation of the speed control values. Defaults to
            `0.2`.
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
        >>> ramp = np.tile(np.arange(20, dtype="float32")[None, :, None], (2, 1, 1))
        >>> y = keras.ops.convert_to_numpy(ek.layers.RandomTimeWarp(seed=0)(ramp))
        >>> bool((np.diff(y, axis=1) >= 0).all()), y[:, 0, 0].tolist(), y[:, -1, 0].tolist()
        (True, [0.0, 0.0], [19.0, 19.0])
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
        batch, length, _ = self._sizes(inputs)
        stddev = self.sigma * self._strength(strength)
        values = ops.random.normal(
            (batch, self.knots + 2), dtype="float32", seed=self._seed(seed)
        )
        speed = ops.numpy.maximum(
            self._smooth_curves(1.0 + values * stddev, length), _MIN_SPEED
        )
        elapsed = ops.numpy.cumsum(speed, axis=1)
        elapsed = elapsed - elapsed[:, :1]
        positions = elapsed / elapsed[:, -1:] * float(length - 1)
        return {"positions": positions}

    def transform(self, inputs, transformation):
        if transformation is None:
            return inputs
        return self._resample(inputs, transformation["positions"])

    def get_config(self):
        config = super().get_config()
        config.update({"sigma": self.sigma, "knots": self.knots})
        return config
