"""ScheduledAugmentation: an augmentation whose strength follows the epochs."""

from __future__ import annotations

import itertools
import math
from typing import Any

import keras

from keras_epochkit._core.validation import check_choice
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import invalid
from keras_epochkit.layers._base import LayerWrapper
from keras_epochkit.layers._base import SequenceAugmentation
from keras_epochkit.layers._base import Untracked
from keras_epochkit.layers._base import check_layer

_SCHEDULES = ("linear", "cosine", "steps")
_TARGETS = ("magnitude", "probability")


@keras.saving.register_keras_serializable(package="keras_epochkit")
class ScheduledAugmentation(LayerWrapper):
    """Wraps an augmentation whose strength follows a schedule over epochs.

    The strength lives in a non-trainable scalar variable (`self.strength`)
    that `keras_epochkit.callbacks.AugmentationScheduler` sets at the start
    of every epoch from `strength_at(epoch)`. A compiled training step reads
    the variable on every call, so the change takes effect without
    retracing, on TensorFlow, JAX and PyTorch alike.

    With `target="magnitude"` the strength multiplies the wrapped layer's
    magnitude (each epochkit sequence layer documents what that is: `sigma`
    for jitter, `1 - ratio` for window slicing, ...); with
    `target="probability"` each sample is augmented with probability equal to
    the strength (clipped to `[0, 1]`), which works for any layer, Keras core
    image layers included.

    Schedules, for epoch `e` (0-based) and `t = min(e / epochs, 1)`:

    * `"linear"`: `start + (end - start) * t`;
    * `"cosine"`: `start + (end - start) * (1 - cos(pi * t)) / 2`;
    * `"steps"`: `values[i]`, where `i` is the number of `boundaries` that
      are `<= e`.

    In a `tf.data` pipeline the same layer works on every backend: with
    TensorFlow it reads the variable itself; with JAX and PyTorch it reads a
    TensorFlow copy that `set_strength` updates, so pass the layer to
    `AugmentationScheduler(layers=[...])` and it feeds the strength in at
    each epoch.

    Args:
        layer: the augmentation layer to drive.
        schedule: `"linear"`, `"cosine"` or `"steps"`. Defaults to `"linear"`.
        start: strength at epoch 0 (linear and cosine). Defaults to `0.0`.
        end: strength from epoch `epochs` on (linear and cosine). Defaults to
            `1.0`.
        epochs: length of the ramp in epochs, `>= 1`. Defaults to `10`.
        boundaries: increasing epochs at which a `"steps"` schedule moves to
            the next value. Defaults to `None`.
        values: the `len(boundaries) + 1` strengths of a `"steps"` schedule.
            Defaults to `None`.
        target: `"magnitude"` or `"probability"`. Defaults to `"magnitude"`.
        seed: integer seed of the per-sample draws of `"probability"`.
            Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a batched tensor.
        training: whether to augment. Defaults to `True`.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> layer = ek.layers.ScheduledAugmentation(
        ...     ek.layers.RandomJitter(sigma=0.1), schedule="linear", start=0.0,
        ...     end=1.0, epochs=4)
        >>> tuple(layer.strength_at(e) for e in range(6))
        (0.0, 0.25, 0.5, 0.75, 1.0, 1.0)
        >>> float(np.abs(keras.ops.convert_to_numpy(layer(np.ones((2, 8, 1))))-1).max())
        0.0
        >>> layer.set_strength(layer.strength_at(4))
        >>> bool(np.abs(keras.ops.convert_to_numpy(layer(np.ones((2, 8, 1))))-1).max() > 0)
        True
    """

    _layer_arguments = ("layer",)

    def __init__(
        self,
        layer: keras.layers.Layer,
        schedule: str = "linear",
        start: float = 0.0,
        end: float = 1.0,
        epochs: int = 10,
        boundaries: list[int] | None = None,
        values: list[float] | None = None,
        target: str = "magnitude",
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(seed=seed, **kwargs)
        self.layer = check_layer("layer", layer)
        self.schedule = check_choice("schedule", schedule, _SCHEDULES)
        self.target = check_choice("target", target, _TARGETS)
        if target == "magnitude" and not isinstance(layer, SequenceAugmentation):
            raise invalid(
                "layer",
                "a keras_epochkit sequence layer (RandomJitter, RandomScaling, "
                "...) for target='magnitude'; use target='probability' for "
                "other layers",
                layer,
            )
        self.epochs = check_int("epochs", epochs, 1)
        self.start = check_number("start", start, 0.0)
        self.end = check_number("end", end, 0.0)
        if schedule == "steps":
            boundaries = list(boundaries or [])
            values = [check_number("values", v, 0.0) for v in values or []]
            if len(values) != len(boundaries) + 1:
                raise invalid(
                    "values", "a list of len(boundaries) + 1 strengths", values
                )
            if any(b2 <= b1 for b1, b2 in itertools.pairwise(boundaries)):
                raise invalid("boundaries", "an increasing list of epochs", boundaries)
        elif boundaries is not None or values is not None:
            raise invalid(
                "boundaries",
                "None (with `values`) unless schedule='steps'",
                boundaries,
            )
        self.boundaries = None if boundaries is None else [int(b) for b in boundaries]
        self.values = values
        self.strength = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.strength_at(0)),
            dtype="float32",
            trainable=False,
            name="strength",
        )
        # Copies of the strength for data pipelines on another backend; kept
        # out of the layer's weights.
        self._mirrors = Untracked()

    def strength_at(self, epoch: int) -> float:
        """The scheduled strength at `epoch` (0-based), as a Python float."""
        if self.schedule == "steps":
            index = sum(1 for boundary in self.boundaries if boundary <= epoch)
            return self.values[index]
        progress = min(max(epoch, 0) / self.epochs, 1.0)
        if self.schedule == "cosine":
            progress = (1.0 - math.cos(math.pi * progress)) / 2.0
        return self.start + (self.end - self.start) * progress

    def set_strength(self, value: float) -> None:
        """Sets the strength the layer applies, in models and `tf.data` alike."""
        value = float(value)
        self.strength.assign(value)
        for mirror in self._mirrors.items.values():
            mirror.assign(value)

    def _current_strength(self):
        backend_name = self.backend.name
        if backend_name == keras.backend.backend():
            return self.backend.cast(self.strength.value, "float32")
        # A data pipeline on another backend (tf.data under JAX or PyTorch)
        # cannot read this backend's variable; it reads a copy kept in step.
        mirrors = self._mirrors.items
        if backend_name not in mirrors:
            value = float(keras.ops.convert_to_numpy(self.strength.value))
            mirrors[backend_name] = self.backend.Variable(
                initializer=value,
                dtype="float32",
                trainable=False,
                name="strength_copy",
            )
        return self.backend.cast(mirrors[backend_name].value, "float32")

    def _wrapped_layers(self):
        return [self.layer]

    def _augment(self, inputs):
        strength = self._current_strength()
        if self.target == "magnitude":
            return self.backend.cast(
                self.layer(inputs, training=True, strength=strength), inputs.dtype
            )
        chosen = self._uniform_per_sample(inputs) < strength
        return self._augment_where(chosen, self.layer, inputs, inputs)
