"""Shared machinery of the sequence augmentation layers.

Every layer here subclasses `PipelineLayer`, a `keras.layers.Layer` that also
works inside a `tf.data` pipeline whatever the Keras backend is. Inside a
model it computes with the model's backend through `keras.ops` and
`keras.random`; inside `tf.data` under JAX or PyTorch it computes with
Keras's TensorFlow ops for the duration of the call. That is why the layers
compute with `self.backend` (a namespace with `numpy`, `random`, `cast`,
`shape`, `convert_to_tensor`, `Variable` and `name`) and draw seeds from
`self._get_seed_generator(self.backend.name)`.
"""

from __future__ import annotations

import functools
import importlib
import numbers
import sys
import types
from typing import Any

import keras
import numpy as np

from keras_epochkit._core.config import arguments_config
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import invalid

__all__ = [
    "Augmentation",
    "LayerWrapper",
    "PipelineLayer",
    "SequenceAugmentation",
    "SplineAugmentation",
    "catmull_rom_weights",
    "check_fraction",
    "check_layer",
    "select_per_sample",
]


class Untracked:
    """A dict that Keras's attribute tracking does not look into.

    Keras tracks the variables and seed generators stored in a layer's lists
    and dicts; per-backend copies made for a data pipeline must stay out of
    the layer's weights, so they live in here.
    """

    def __init__(self):
        self.items: dict = {}


class _Ops:
    """The ops a layer computes with, named after their backend."""

    def __init__(self, name: str, ops):
        self.name = name
        self._ops = ops

    def __getattr__(self, attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self._ops, attr)


def model_ops() -> _Ops:
    """Keras's own backend, through the public API."""
    return _Ops(
        keras.backend.backend(),
        types.SimpleNamespace(
            numpy=keras.ops.numpy,
            random=keras.random,
            cast=keras.ops.cast,
            shape=keras.ops.shape,
            convert_to_tensor=keras.ops.convert_to_tensor,
            convert_to_numpy=keras.ops.convert_to_numpy,
            Variable=keras.Variable,
        ),
    )


_TF_OPS_NAMES = ("numpy", "random", "cast", "shape", "convert_to_tensor", "Variable")


@functools.lru_cache(maxsize=1)
def tensorflow_ops() -> _Ops:
    """Keras's TensorFlow ops, for a `tf.data` pipeline under JAX or PyTorch.

    Keras exports no public way to run its ops on TensorFlow while another
    backend is active (its own image layers use an internal module for this),
    so this one path reads that module, `keras.src.backend.tensorflow`, and
    fails with a clear error if a Keras release moves it.
    """
    module_name = "keras.src.backend.tensorflow"
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and error.name == "tensorflow":
            raise
        module = None
    missing = [n for n in _TF_OPS_NAMES if not hasattr(module, n)]
    if missing:
        raise RuntimeError(
            "keras_epochkit's augmentation layers run inside tf.data on the "
            f"{keras.backend.backend()} backend through {module_name}, which "
            f"Keras {keras.__version__} does not provide (missing: "
            f"{', '.join(missing)}). Apply the layer inside the model instead, "
            "or use the TensorFlow backend."
        )
    return _Ops("tensorflow", module)


def _in_tf_graph(inputs) -> bool:
    """Whether `inputs` are symbolic TensorFlow tensors (tf.data, tf.function)."""
    flat = keras.tree.flatten(inputs)
    if not flat or not type(flat[0]).__module__.startswith("tensorflow"):
        return False
    tf = sys.modules.get("tensorflow")
    return tf is not None and not tf.executing_eagerly()


class PipelineLayer(keras.layers.Layer):
    """A layer that runs in the model and inside `tf.data` on every backend.

    Subclasses compute with `self.backend` ops, and draw random numbers from
    `self._get_seed_generator(self.backend.name)` after setting `self.seed`
    and `self.generator` in `__init__`. Only a single input tensor (or a
    structure of them) is supported.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.backend = model_ops()
        self._pipeline_seed_generators = Untracked()

    def __call__(self, inputs, *args, **kwargs):
        if keras.backend.backend() != "tensorflow" and _in_tf_graph(inputs):
            return self._call_on_tensorflow(inputs, *args, **kwargs)
        return super().__call__(inputs, *args, **kwargs)

    def _call_on_tensorflow(self, inputs, *args, **kwargs):
        # A tf.data pipeline under JAX or PyTorch: the model backend's ops
        # cannot take graph tensors, so the call runs on TensorFlow's ops and
        # bypasses Layer.__call__, which would convert the inputs to the
        # model backend's arrays.
        ops = tensorflow_ops()
        model = self.backend
        self.backend = ops
        try:
            inputs = keras.tree.map_structure(
                lambda x: ops.convert_to_tensor(x, dtype=self.compute_dtype), inputs
            )
            if not self.built:
                first = keras.tree.flatten(inputs)[0]
                self.build(tuple(first.shape))
            return self.call(inputs, *args, **kwargs)
        finally:
            self.backend = model

    def _get_seed_generator(self, backend: str | None = None):
        """The layer's seed generator for the backend the call computes on."""
        if not hasattr(self, "seed") or not hasattr(self, "generator"):
            raise ValueError(
                "Set `self.seed` and `self.generator` in `__init__` before "
                "drawing random numbers."
            )
        if backend is None or backend == keras.backend.backend():
            return self.generator
        generators = self._pipeline_seed_generators.items
        if backend not in generators:
            generators[backend] = keras.random.SeedGenerator(
                self.seed, backend=self.backend._ops
            )
        return generators[backend]


class Augmentation(PipelineLayer):
    """A seeded layer, active in training and the identity at inference.

    It owns what every augmentation layer here shares: the `seed` argument
    and its generator, masks that pass through unchanged, and a `get_config`
    that holds every constructor argument, read from the signature of the
    class's `__init__` (an argument stored under another attribute name is
    listed in `_config_attributes`; tuples are saved as lists and Keras layers
    serialized).

    Args:
        seed: integer seed of the layer's random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).
    """

    # Constructor arguments kept under another attribute name (for get_config).
    _config_attributes: dict[str, str] = {}

    def __init__(self, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise invalid("seed", "an integer or None", seed)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        arguments = arguments_config(self, self._config_attributes, PipelineLayer)
        config.update({name: _config_value(v) for name, v in arguments.items()})
        return config


class SequenceAugmentation(Augmentation):
    """Base class of the layers that augment `(batch, time, channels)` inputs.

    A subclass implements `_draw(inputs, seed, strength)`, which draws the
    per-sample random parameters of a batch from the seed generator `seed`
    with its magnitude scaled by `strength` (a float32 scalar), and
    `_apply(inputs, transformation)`, which applies them. The public
    `get_random_transformation` and `transform` wrap them. The layer is
    active when called with `training=True` (the default outside a model, so
    it augments inside `tf.data`) and the identity at inference. Masks pass
    through unchanged.

    Args:
        seed: integer seed of the layer's random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).
    """

    def call(self, inputs, training=True, strength=None):
        if not training:
            return inputs
        transformation = self.get_random_transformation(
            inputs, training=True, strength=strength
        )
        return self.transform(inputs, transformation)

    def get_random_transformation(
        self, inputs, training=True, seed=None, strength=None
    ):
        """Draws the random parameters of one batch.

        Args:
            inputs: a `(batch, time, channels)` tensor.
            training: whether the layer is in training mode.
            seed: a `SeedGenerator` or integer; defaults to the layer's own.
            strength: scalar multiplier of the layer's magnitude; `None`
                means 1 (the magnitude given at construction).

        Returns:
            A dict of tensors, or `None` when not training.
        """
        if not training:
            return None
        return self._draw(inputs, self._seed(seed), self._strength(strength))

    def transform(self, inputs, transformation):
        """Applies the parameters drawn by `get_random_transformation`."""
        if transformation is None:
            return inputs
        return self._apply(inputs, transformation)

    def _draw(self, inputs, seed, strength) -> dict:
        raise NotImplementedError

    def _apply(self, inputs, transformation):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def build(self, input_shape):
        if input_shape is None:
            return super().build(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects inputs shaped (batch, time, "
                f"channels). Received: input_shape={input_shape}"
            )
        if input_shape[1] is None or input_shape[1] < 2:
            raise ValueError(
                f"{type(self).__name__} needs a static time length >= 2. "
                f"Received: input_shape={input_shape}"
            )
        super().build(input_shape)

    # Helpers for subclasses -------------------------------------------------

    def _seed(self, seed):
        if seed is None:
            return self._get_seed_generator(self.backend.name)
        return seed

    def _sizes(self, inputs):
        """Batch size (maybe dynamic), static time length and channels."""
        batch = self.backend.shape(inputs)[0]
        return batch, inputs.shape[1], inputs.shape[2]

    def _strength(self, strength):
        """The magnitude multiplier as a float32 scalar tensor."""
        if strength is None:
            return self.backend.convert_to_tensor(1.0, dtype="float32")
        return self.backend.cast(strength, "float32")

    def _fast_normal(self, shape, seed):
        """Standard normal float32 noise of `shape`, cheap on every device.

        The counter-based stream generators that `keras.random.normal` uses
        are slow on XLA CPUs. Here `keras.random` draws only two integers per
        call; each pair of outputs then comes from one 32-bit hash (two rounds
        of the MurmurHash3 finalizer) of its index, split into two 16-bit
        uniforms and turned into two normals by the Box-Muller transform.
        The 16-bit uniforms bound the values to about +-4.9 standard
        deviations.
        """
        ops = self.backend
        size = 1
        for dim in shape:
            size = size * dim
        half = (size + 1) // 2
        keys = ops.random.randint((2,), 0, 2**31 - 1, seed=seed)
        counter = ops.numpy.arange(half, dtype="int32")
        bits = _mix32(ops, counter * -1640531535 + keys[0])
        bits = _mix32(ops, ops.numpy.bitwise_xor(bits, keys[1]))
        high = ops.numpy.bitwise_and(ops.numpy.right_shift(bits, 16), 0xFFFF)
        low = ops.numpy.bitwise_and(bits, 0xFFFF)
        u1 = (ops.cast(high, "float32") + 0.5) / 65536.0
        angle = (ops.cast(low, "float32") + 0.5) * (6.283185307179586 / 65536.0)
        radius = ops.numpy.sqrt(-2.0 * ops.numpy.log(u1))
        normals = ops.numpy.concatenate(
            [radius * ops.numpy.cos(angle), radius * ops.numpy.sin(angle)]
        )
        return ops.numpy.reshape(normals[:size], shape)

    def _resample(self, inputs, positions):
        """Linear interpolation of `inputs` at fractional time `positions`.

        Args:
            inputs: `(batch, time, channels)` tensor.
            positions: `(batch, time)` float32 positions in `[0, time - 1]`.
        """
        ops = self.backend
        length = inputs.shape[1]
        positions = ops.numpy.clip(positions, 0.0, float(length - 1))
        left = ops.numpy.clip(
            ops.numpy.floor(positions), 0.0, float(max(length - 2, 0))
        )
        weight = ops.numpy.expand_dims(ops.cast(positions - left, inputs.dtype), -1)
        left = ops.cast(left, "int32")
        right = ops.numpy.minimum(left + 1, length - 1)
        x0 = self._gather_time(inputs, left)
        x1 = self._gather_time(inputs, right)
        return (1 - weight) * x0 + weight * x1

    def _gather_time(self, inputs, indices):
        """`out[b, t] = inputs[b, indices[b, t]]` for int32 `(batch, time)` indices."""
        ops = self.backend
        length = inputs.shape[1]
        channels = inputs.shape[2]
        batch = ops.shape(inputs)[0]
        offsets = ops.numpy.arange(batch, dtype="int32") * length
        flat_index = ops.numpy.reshape(
            indices + ops.numpy.expand_dims(offsets, -1), [-1]
        )
        flat = ops.numpy.reshape(inputs, [-1, channels])
        gathered = ops.numpy.take(flat, flat_index, axis=0)
        return ops.numpy.reshape(
            gathered, [batch, indices.shape[1] or length, channels]
        )

    def _smooth_curves(self, knot_values, length):
        """Catmull-Rom curves through `knot_values` (`(batch, knots + 2, ...)`)."""
        ops = self.backend
        knots = knot_values.shape[1]
        weights = ops.convert_to_tensor(catmull_rom_weights(length, knots - 2))
        if len(knot_values.shape) == 2:
            return ops.numpy.matmul(knot_values, ops.numpy.transpose(weights))
        return ops.numpy.matmul(weights, knot_values)


class SplineAugmentation(SequenceAugmentation):
    """Base of the layers driven by smooth random curves around 1.

    A curve passes through `knots + 2` evenly spaced control values (both
    ends included) drawn from `N(1, sigma)`, joined by a Catmull-Rom spline;
    a `strength` of `s` draws them from `N(1, s * sigma)`.

    Args:
        sigma: standard deviation of the control values. Defaults to `0.2`.
        knots: number of interior control points. Defaults to `4`.
        seed: integer seed of the random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).
    """

    def __init__(
        self, sigma: float = 0.2, knots: int = 4, seed: int | None = None, **kwargs: Any
    ):
        super().__init__(seed=seed, **kwargs)
        self.sigma = check_number("sigma", sigma, 0.0)
        self.knots = check_int("knots", knots, 0)

    def _random_curves(self, inputs, seed, strength, per_channel: bool):
        """Float32 curves `(batch, time, channels)`, or `(batch, time)`."""
        batch, length, channels = self._sizes(inputs)
        shape = (batch, self.knots + 2) + ((channels,) if per_channel else ())
        values = self.backend.random.normal(shape, dtype="float32", seed=seed)
        return self._smooth_curves(1.0 + values * (self.sigma * strength), length)


class LayerWrapper(Augmentation):
    """Base of the layers that apply other layers to a random subset of samples.

    The wrapped layers run on the whole batch (called with `training=True`)
    and each sample takes the output drawn for it, so any augmentation layer
    works, Keras core image layers included. A subclass returns its wrapped
    layers from `_wrapped_layers()`, names the constructor arguments that
    hold layers in `_layer_arguments` (for `from_config`) and implements
    `_augment(inputs)`, the training-time call.
    """

    _layer_arguments: tuple[str, ...] = ()

    def _wrapped_layers(self) -> list:
        raise NotImplementedError

    def _augment(self, inputs):
        raise NotImplementedError

    def build(self, input_shape):
        for layer in self._wrapped_layers():
            if input_shape is not None and not layer.built:
                layer.build(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=True):
        if not training:
            return inputs
        return self._augment(inputs)

    def compute_output_shape(self, input_shape):
        return self._wrapped_layers()[0].compute_output_shape(input_shape)

    def _uniform_per_sample(self, inputs):
        """One uniform draw in `[0, 1)` per sample of the batch."""
        ops = self.backend
        seed = self._get_seed_generator(ops.name)
        return ops.random.uniform((ops.shape(inputs)[0],), seed=seed)

    def _augment_where(self, chosen, layer, inputs, otherwise):
        """`layer(inputs)` for the samples where `chosen`, `otherwise` elsewhere."""
        augmented = self.backend.cast(layer(inputs, training=True), inputs.dtype)
        return select_per_sample(self.backend, chosen, augmented, otherwise)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls._layer_arguments:
            value = config[name]
            if isinstance(value, list):
                config[name] = [keras.saving.deserialize_keras_object(v) for v in value]
            else:
                config[name] = keras.saving.deserialize_keras_object(value)
        return cls(**config)


def _mix32(ops, x):
    """MurmurHash3's 32-bit finalizer on int32 (logical shifts via masks)."""
    x = ops.numpy.bitwise_xor(
        x, ops.numpy.bitwise_and(ops.numpy.right_shift(x, 16), 0xFFFF)
    )
    x = x * -2048144789  # 0x85EBCA6B as a signed 32-bit integer
    x = ops.numpy.bitwise_xor(
        x, ops.numpy.bitwise_and(ops.numpy.right_shift(x, 13), 0x7FFFF)
    )
    x = x * -1028477387  # 0xC2B2AE35 as a signed 32-bit integer
    return ops.numpy.bitwise_xor(
        x, ops.numpy.bitwise_and(ops.numpy.right_shift(x, 16), 0xFFFF)
    )


@functools.lru_cache(maxsize=64)
def catmull_rom_weights(length: int, knots: int) -> np.ndarray:
    """The `(length, knots + 2)` matrix that interpolates evenly spaced knots.

    Row `t` holds the weights of the `knots + 2` control values (the interior
    knots plus both ends) at time step `t` of a Catmull-Rom spline, which
    passes through every control value and has a continuous slope. The end
    points are repeated beyond the ends.

    >>> w = catmull_rom_weights(5, 0)
    >>> w.shape
    (5, 2)
    >>> w.sum(axis=1).round(6).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    points = knots + 2
    weights = np.zeros((length, points), dtype="float32")
    if length == 1:
        weights[0, 0] = 1.0
        return weights
    position = np.arange(length) * (points - 1) / (length - 1)
    segment = np.minimum(np.floor(position).astype(int), points - 2)
    u = position - segment
    coefficients = (
        0.5 * (-u + 2 * u**2 - u**3),
        0.5 * (2 - 5 * u**2 + 3 * u**3),
        0.5 * (u + 4 * u**2 - 3 * u**3),
        0.5 * (-(u**2) + u**3),
    )
    for offset, coefficient in zip(range(-1, 3), coefficients):
        column = np.clip(segment + offset, 0, points - 1)
        np.add.at(weights, (np.arange(length), column), coefficient)
    return weights


def check_fraction(name: str, value) -> float:
    """Validates a fraction in `(0, 1]`."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (number and 0 < value <= 1):
        raise invalid(name, "a number in (0, 1]", value)
    return float(value)


def check_layer(name: str, layer) -> keras.layers.Layer:
    """Validates an argument that must be a Keras layer."""
    if not isinstance(layer, keras.layers.Layer):
        raise invalid(name, "a Keras layer", layer)
    return layer


def select_per_sample(backend, chosen, when_true, when_false):
    """`when_true[i]` where `chosen[i]`, else `when_false[i]`, for any rank."""
    rank = len(when_true.shape)
    chosen = backend.numpy.reshape(chosen, [-1] + [1] * (rank - 1))
    return backend.numpy.where(
        chosen, when_true, backend.cast(when_false, when_true.dtype)
    )


def _config_value(value):
    """`value` as `get_config` stores it: JSON-able, layers serialized."""
    if isinstance(value, keras.layers.Layer):
        return keras.saving.serialize_keras_object(value)
    if isinstance(value, (list, tuple)):
        return [_config_value(item) for item in value]
    return value
