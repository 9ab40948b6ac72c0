"""RandomApply: applies a layer to a random subset of the samples."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit.layers._base import PipelineLayer


def select_per_sample(backend, chosen, when_true, when_false):
    """`when_true[i]` where `chosen[i]`, else `when_false[i]`, for any rank."""
    rank = len(when_true.shape)
    chosen = backend.numpy.reshape(chosen, [-1] + [1] * (rank - 1))
    return backend.numpy.where(
        chosen, when_true, backend.cast(when_false, when_true.dtype)
    )


def check_layer(name: str, layer):
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(f"`{name}` must be a Keras layer. Received: {name}={layer!r}")
    return layer


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomApply(PipelineLayer):
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

    def __init__(
        self,
        layer: keras.layers.Layer,
        rate: float = 0.5,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.layer = check_layer("layer", layer)
        if (
            not isinstance(rate, (int, float))
            or isinstance(rate, bool)
            or not 0 <= rate <= 1
        ):
            raise ValueError(
                f"`rate` must be a number in [0, 1]. Received: rate={rate!r}"
            )
        self.rate = float(rate)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape is not None and not self.layer.built:
            self.layer.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=True):
        if not training:
            return inputs
        ops = self.backend
        seed = self._get_seed_generator(ops.name)
        coins = ops.random.uniform((ops.shape(inputs)[0],), seed=seed)
        augmented = ops.cast(self.layer(inputs, training=True), inputs.dtype)
        return select_per_sample(ops, coins < self.rate, augmented, inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": keras.saving.serialize_keras_object(self.layer),
                "rate": self.rate,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)
