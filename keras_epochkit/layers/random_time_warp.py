"""RandomTimeWarp: smooth random speed changes along time."""

from __future__ import annotations

import keras

from keras_epochkit.layers._base import SplineAugmentation

# Lowest relative speed, so that the time map stays strictly increasing.
_MIN_SPEED = 0.05


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomTimeWarp(SplineAugmentation):
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

    def _draw(self, inputs, seed, strength):
        ops = self.backend
        speed = self._random_curves(inputs, seed, strength, per_channel=False)
        elapsed = ops.numpy.cumsum(ops.numpy.maximum(speed, _MIN_SPEED), axis=1)
        elapsed = elapsed - elapsed[:, :1]
        return {"positions": elapsed / elapsed[:, -1:] * float(inputs.shape[1] - 1)}

    def _apply(self, inputs, transformation):
        return self._resample(inputs, transformation["positions"])
