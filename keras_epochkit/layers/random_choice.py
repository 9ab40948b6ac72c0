"""RandomChoice: applies one layer, chosen at random, to each sample."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit.layers._base import PipelineLayer
from keras_epochkit.layers.random_apply import check_layer
from keras_epochkit.layers.random_apply import select_per_sample


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomChoice(PipelineLayer):
    """Applies to each sample one of `layers`, drawn with probabilities `weights`.

    Every layer runs on the whole batch (called with `training=True`) and each
    sample takes the output of the layer drawn for it, so the cost is the sum
    of the layers' costs; any augmentation layer works, including Keras core
    image layers. Active in training, the identity at inference; usable in
    `tf.data` on every backend. To leave some samples unchanged, include
    `keras.layers.Identity()` among the layers.

    Args:
        layers: list of augmentation layers, all mapping an input to an output
            of the same shape.
        weights: relative probability of each layer, non-negative with a
            positive sum; `None` draws uniformly. Defaults to `None`.
        seed: integer seed of the draws. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a batched tensor of any rank.
        training: whether to augment. Defaults to `True`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> choice = ek.layers.RandomChoice(
        ...     [ek.layers.RandomJitter(0.1), ek.layers.RandomTimeMask(1, 5)],
        ...     weights=[3, 1], seed=0)
        >>> keras.ops.convert_to_numpy(choice(np.ones((8, 50, 2), "float32"))).shape
        (8, 50, 2)
    """

    def __init__(
        self,
        layers: list[keras.layers.Layer],
        weights: list[float] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if not isinstance(layers, (list, tuple)) or not layers:
            raise ValueError(
                f"`layers` must be a non-empty list of layers. Received: layers={layers!r}"
            )
        self.choices = [check_layer("layers", layer) for layer in layers]
        if weights is None:
            weights = [1.0] * len(layers)
        try:
            weights = [float(w) for w in weights]
        except (TypeError, ValueError):
            weights = []
        if len(weights) != len(layers) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(
                "`weights` must hold one non-negative number per layer with a "
                f"positive sum. Received: weights={weights!r} for {len(layers)} layers"
            )
        self.weights_ = weights
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        for layer in self.choices:
            if input_shape is not None and not layer.built:
                layer.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=True):
        if not training:
            return inputs
        ops = self.backend
        seed = self._get_seed_generator(ops.name)
        total = sum(self.weights_)
        draws = ops.random.uniform((ops.shape(inputs)[0],), seed=seed) * total
        last = max(i for i, weight in enumerate(self.weights_) if weight > 0)
        output = inputs
        lower = 0.0
        for index, (layer, weight) in enumerate(zip(self.choices, self.weights_)):
            if weight == 0:
                continue
            upper = lower + weight
            chosen = draws >= lower
            if index != last:
                chosen = chosen & (draws < upper)
            augmented = ops.cast(layer(inputs, training=True), inputs.dtype)
            output = select_per_sample(ops, chosen, augmented, output)
            lower = upper
        return output

    def compute_output_shape(self, input_shape):
        return self.choices[0].compute_output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layers": [
                    keras.saving.serialize_keras_object(layer) for layer in self.choices
                ],
                "weights": list(self.weights_),
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layers"] = [
            keras.saving.deserialize_keras_object(layer) for layer in config["layers"]
        ]
        return cls(**config)
