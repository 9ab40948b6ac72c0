"""Keras serialization for classes that must not import Keras to be defined.

The criteria are plain Python, so `epochkit analyze` replays them with NumPy
alone. They still register with Keras's serialization under the
`keras_epochkit` package: at once when Keras is already imported, otherwise
as soon as any keras-epochkit module that uses Keras is imported (callbacks,
layers, metrics, schedules), or when a criterion is serialized.
"""

from __future__ import annotations

import sys

_PENDING: list[type] = []


def serializable(cls: type) -> type:
    """Registers `cls` as `keras_epochkit>{cls.__name__}`, now or later."""
    _PENDING.append(cls)
    if "keras" in sys.modules:
        register_pending()
    return cls


def register_pending() -> None:
    """Registers every class still waiting for Keras (imports Keras)."""
    import keras

    while _PENDING:
        keras.saving.register_keras_serializable(package="keras_epochkit")(
            _PENDING.pop(0)
        )


def serialize(obj) -> dict:
    """`keras.saving.serialize_keras_object(obj)`, after registering."""
    register_pending()
    import keras

    return keras.saving.serialize_keras_object(obj)


def deserialize(config):
    """`keras.saving.deserialize_keras_object(config)`, after registering."""
    register_pending()
    import keras

    return keras.saving.deserialize_keras_object(config)
