"""RandomMagnitudeWarp: multiplies the sequence by a smooth random curve."""

from __future__ import annotations

import keras

from keras_epochkit.layers._base import SplineAugmentation


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomMagnitudeWarp(SplineAugmentation):
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

    def _draw(self, inputs, seed, strength):
        return {"curves": self._random_curves(inputs, seed, strength, per_channel=True)}

    def _apply(self, inputs, transformation):
        return inputs * self.backend.cast(transformation["curves"], inputs.dtype)
