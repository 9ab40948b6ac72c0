"""RandomChoice: applies one layer, chosen at random, to each sample."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit._core.validation import invalid
from keras_epochkit.layers._base import LayerWrapper
from keras_epochkit.layers._base import check_layer


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomChoice(LayerWrapper):
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

    _config_attributes = {"layers": "choices", "weights": "weights_"}
    _layer_arguments = ("layers",)

    def __init__(
        self,
        layers: list[keras.layers.Layer],
        weights: list[float] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(layers, (list, tuple)) or not layers:
            raise invalid("layers", "a non-empty list of layers", layers)
        self.choices = [check_layer("layers", layer) for layer in layers]
        try:
            values = (
                [1.0] * len(layers) if weights is None else [float(w) for w in weights]
            )
        except (TypeError, ValueError):
            values = []
        if len(values) != len(layers) or min(values) < 0 or sum(values) <= 0:
            expected = f"one number >= 0 per layer ({len(layers)}) with a positive sum"
            raise invalid("weights", expected, weights)
        self.weights_ = values

    def _wrapped_layers(self):
        return self.choices

    def _augment(self, inputs):
        draws = self._uniform_per_sample(inputs) * sum(self.weights_)
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
            output = self._augment_where(chosen, layer, inputs, output)
            lower = upper
        return output
