"""RandomApply: applies a layer to a random subset of the samples."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit._core.validation import check_number
from keras_epochkit.layers._base import LayerWrapper
from keras_epochkit.layers._base import check_layer


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomApply(LayerWrapper):
    """Applies `layer` to each sample independently with probability `rate`.

    For every sample a coin is drawn; the output holds the augmented sample
    where it came up and the original elsewhere. The wrapped layer runs on the
    whole batch (called with `training=True`) and the selection is made per
    sample, so any augmentation layer works, including Keras core image layers
    such as `keras.layers.RandomFlip` or `keras.layers.RandomContrast` (whose
    own randomness may be drawn once per batch). Active in training, the
    identity at inference; usable in `tf.data` on every backend.

    Args:
        layer: the augmentation layer to apply.
        rate: probability of augmenting each sample, in `[0, 1]`. Defaults to
            `0.5`.
        seed: integer seed of the coin flips. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a batched tensor of any rank.
        training: whether to augment. Defaults to `True`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> flip = ek.layers.RandomApply(keras.layers.RandomFlip("horizontal", seed=0),
        ...                              rate=0.5, seed=0)
        >>> images = np.random.default_rng(0).random((8, 4, 4, 1)).astype("float32")
        >>> keras.ops.convert_to_numpy(flip(images)).shape
        (8, 4, 4, 1)
    """

    _layer_arguments = ("layer",)

    def __init__(
        self,
        layer: keras.layers.Layer,
        rate: float = 0.5,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(seed=seed, **kwargs)
        self.layer = check_layer("layer", layer)
        self.rate = check_number("rate", rate, 0.0, 1.0)

    def _wrapped_layers(self):
        return [self.layer]

    def _augment(self, inputs):
        chosen = self._uniform_per_sample(inputs) < self.rate
        return self._augment_where(chosen, self.layer, inputs, inputs)
