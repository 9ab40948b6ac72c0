"""RandomScaling: multiplies each channel of each sample by a random factor."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit._core.validation import check_number
from keras_epochkit.layers._base import SequenceAugmentation


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomScaling(SequenceAugmentation):
    """Scales each channel of each sample by a factor drawn from `N(1, sigma)`.

    The factor is constant along time (Um et al., 2017). Active in training,
    the identity at inference. Its magnitude is `sigma`: a `strength` of `s`
    draws factors from `N(1, s * sigma)`.

    Args:
        sigma: standard deviation of the scaling factor. Defaults to `0.1`.
        seed: integer seed of the random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a `(batch, time, channels)` float tensor.
        training: whether to augment. Defaults to `True`.
        strength: optional scalar multiplier of `sigma`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> layer = ek.layers.RandomScaling(sigma=0.2, seed=0)
        >>> y = keras.ops.convert_to_numpy(layer(np.ones((2, 8, 1), "float32")))
        >>> bool(np.allclose(y, y[:, :1]))  # one factor per sample and channel
        True
    """

    def __init__(self, sigma: float = 0.1, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.sigma = check_number("sigma", sigma, 0.0)

    def _draw(self, inputs, seed, strength):
        batch, _, channels = self._sizes(inputs)
        noise = self.backend.random.normal(
            (batch, 1, channels), dtype="float32", seed=seed
        )
        return {"factors": 1.0 + noise * (self.sigma * strength)}

    def _apply(self, inputs, transformation):
        return inputs * self.backend.cast(transformation["factors"], inputs.dtype)
