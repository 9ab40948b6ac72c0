"""AugmentationScheduler: sets scheduled augmentation strengths every epoch."""

from __future__ import annotations

from typing import Any

from keras_epochkit.callbacks._stateful import StatefulCallback
from keras_epochkit.layers._base import LayerWrapper
from keras_epochkit.layers.scheduled_augmentation import ScheduledAugmentation


class AugmentationScheduler(StatefulCallback):
    """Sets the strength of every `ScheduledAugmentation` at each epoch start.

    At `on_epoch_begin(epoch)` it assigns `layer.strength_at(epoch)` to each
    `keras_epochkit.layers.ScheduledAugmentation` found in the model (in
    nested models and keras-epochkit wrappers too) and to each layer passed
    in `layers`: pass there the layers that run in a `tf.data` pipeline, or
    inside a custom layer of your own, which Keras's public API does not
    list. The
    compiled training step reads the new value without retracing. At epoch
    end it adds `"<layer name>_strength"` to the logs, so `History` and
    `CSVLogger` record it.

    State (`get_state`/`set_state`): the last epoch begun and the strength set
    per layer; its `state_key` is `"AugmentationScheduler"`.

    Args:
        layers: extra `ScheduledAugmentation` layers to drive, for example
            the ones mapped over a `tf.data` dataset. Defaults to `None`.
        verbose: `1` prints each strength change. Defaults to `0`.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> scheduled = ek.layers.ScheduledAugmentation(
        ...     ek.layers.RandomJitter(0.1), schedule="steps", boundaries=[1],
        ...     values=[0.0, 1.0], name="jitter")
        >>> model = keras.Sequential([keras.Input((16, 1)), scheduled,
        ...                           keras.layers.GlobalAveragePooling1D(),
        ...                           keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> history = model.fit(np.zeros((8, 16, 1)), np.zeros((8, 1)), epochs=2,
        ...                     verbose=0, callbacks=[ek.callbacks.AugmentationScheduler()])
        >>> tuple(history.history["jitter_strength"])
        (0.0, 1.0)
    """

    def __init__(
        self, layers: list[ScheduledAugmentation] | None = None, verbose: int = 0
    ):
        super().__init__()
        layers = list(layers or [])
        for layer in layers:
            if not isinstance(layer, ScheduledAugmentation):
                raise ValueError(
                    "`layers` must hold keras_epochkit.layers.ScheduledAugmentation "
                    f"instances. Received: {type(layer).__name__}"
                )
        if verbose not in (0, 1):
            raise ValueError(f"`verbose` must be 0 or 1. Received: verbose={verbose!r}")
        self.extra_layers = layers
        self.verbose = verbose
        self.reset_state()

    def _scheduled_layers(self) -> list[ScheduledAugmentation]:
        found = list(self.extra_layers)
        if self.model is not None:
            for layer in _sublayers(self.model):
                if isinstance(layer, ScheduledAugmentation) and layer not in found:
                    found.append(layer)
        return found

    def _apply(self, layers, strengths: dict[str, float]) -> None:
        for layer in layers:
            if layer.name in strengths:
                layer.set_strength(strengths[layer.name])

    def reset_state(self) -> None:
        """Forgets the epoch and the strengths set."""
        self.epoch: int | None = None
        self.strengths: dict[str, float] = {}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # A restored state is put back on the layers; a reset one is empty.
        self._apply(self._scheduled_layers(), self.strengths)

    def on_epoch_begin(self, epoch, logs=None):
        for layer in self._scheduled_layers():
            value = float(layer.strength_at(epoch))
            if self.verbose and self.strengths.get(layer.name) != value:
                print(f"Epoch {epoch + 1}: {layer.name} strength set to {value:.4g}.")
            layer.set_strength(value)
            self.strengths[layer.name] = value
        self.epoch = int(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for name, value in self.strengths.items():
                logs[f"{name}_strength"] = value

    def _get_state(self) -> dict[str, Any]:
        """`{"epoch": int or None, "strengths": {layer name: float}}`."""
        return {"epoch": self.epoch, "strengths": dict(self.strengths)}

    def _set_state(self, state: dict[str, Any]) -> None:
        epoch = state.get("epoch")
        self.epoch = None if epoch is None else int(epoch)
        self.strengths = {
            str(k): float(v) for k, v in state.get("strengths", {}).items()
        }
        self._apply(self._scheduled_layers(), self.strengths)


def _sublayers(model) -> list:
    """The layers of `model`, of nested models and inside keras-epochkit wrappers.

    Read through public attributes only (`Model.layers`), depth first.
    """
    found, stack, seen = [], list(reversed(model.layers)), {id(model)}
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        found.append(layer)
        children = list(getattr(layer, "layers", None) or [])
        if isinstance(layer, LayerWrapper):
            children += list(layer._wrapped_layers())
        stack.extend(reversed(children))
    return found
