"""What `BackupAndRestore` keeps of each callback in a `fit`, and how.

A callback's state is kept through one of three routes:

- its own `get_state()` / `set_state(state)` (keras-epochkit's callbacks, and
  any callback of yours that follows the protocol);
- a small adapter over the public attributes of a Keras built-in
  (`EarlyStopping`, `ReduceLROnPlateau`, `ModelCheckpoint`, `CSVLogger`,
  `History`), listed in `ADAPTERS`;
- nothing, for callbacks that keep nothing a resume needs (`ProgbarLogger`,
  `LearningRateScheduler`, `TerminateOnNaN`, ...), listed in `STATELESS`.

Any other callback whose attributes change during training is named in one
warning: a resumed run starts it afresh.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import keras
import numpy as np

from keras_epochkit.callbacks._stateful import class_key

GUIDE_URL = "https://keras-epochkit.readthedocs.io/en/latest/guides/resuming/"


class ResumeWarning(UserWarning):
    """A callback whose state a backup cannot keep, or a backup that does not match."""


# -- finding the callbacks of this fit --------------------------------------------


def find_callback_list(callback, depth: int = 8):
    """The `keras.callbacks.CallbackList` that is calling `callback`, or None.

    `fit`, `evaluate` and custom loops call a callback's hooks through a
    `CallbackList` (public API), whose `callbacks` attribute lists every
    callback of the run. The caller's frame holds it; nothing else does.
    """
    frame = sys._getframe(1)
    for _ in range(depth):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, keras.callbacks.CallbackList) and any(
            c is callback for c in getattr(owner, "callbacks", ())
        ):
            return owner
        frame = frame.f_back
    return None


# -- handles: one per kept callback ------------------------------------------------


class Handle:
    """A callback whose state a backup keeps, with its stable key."""

    def __init__(self, callback, key: str, adapter: Adapter | None = None):
        self.callback = callback
        self.key = key
        self.adapter = adapter

    def get_state(self) -> dict[str, Any]:
        if self.adapter is None:
            return self.callback.get_state()
        return self.adapter.get_state(self.callback)

    def set_state(self, state: dict[str, Any]) -> None:
        if self.adapter is None:
            self.callback.set_state(state)
        else:
            self.adapter.set_state(self.callback, state)

    def replay_epoch_end(self, epoch: int, logs: dict) -> None:
        """Runs the epoch end the backup was written before this callback saw."""
        self.callback.on_epoch_end(epoch, logs)


class Adapter:
    """Reads and writes the public attributes that make up a Keras callback's state."""

    attributes: tuple[str, ...] = ()
    key_attribute = "monitor"

    def key(self, callback) -> str:
        value = getattr(callback, self.key_attribute, None)
        suffix = f"[{value}]" if value not in (None, "") else ""
        return f"keras.{type(callback).__name__}{suffix}"

    def get_state(self, callback) -> dict[str, Any]:
        return {
            name: _plain(getattr(callback, name))
            for name in self.attributes
            if hasattr(callback, name)
        }

    def set_state(self, callback, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(callback, name, value)

    def prepare(self, callback) -> None:
        """Called before the resumed fit's `on_train_begin`, when a backup exists."""

    def finish(self, callback) -> None:
        """Called at the end of the resumed fit; undoes `prepare`."""


class _EarlyStopping(Adapter):
    attributes = ("wait", "best", "stopped_epoch", "best_weights", "best_epoch")

    def set_state(self, callback, state):
        state = dict(state)
        weights = state.get("best_weights")
        if weights is not None:
            state["best_weights"] = [np.asarray(w) for w in weights]
        super().set_state(callback, state)


class _ReduceLROnPlateau(Adapter):
    attributes = ("wait", "cooldown_counter", "best")


class _ModelCheckpoint(Adapter):
    # The two counters drive `save_freq=<batches>`; Keras has no public name
    # for them, so they are kept only where they exist.
    attributes = ("best", "_batches_seen_since_last_saving", "_last_batch_seen")
    key_attribute = "filepath"


class _History(Adapter):
    key_attribute = ""

    def key(self, callback) -> str:
        return "keras.History"

    def get_state(self, callback):
        return {
            "epoch": [int(e) for e in getattr(callback, "epoch", [])],
            "history": {k: list(v) for k, v in callback.history.items()},
        }

    def set_state(self, callback, state):
        callback.epoch = [int(e) for e in state["epoch"]]
        callback.history = {k: list(v) for k, v in state["history"].items()}
        if callback.model is not None:
            # What `History.on_epoch_end` does, so that `fit` returns it even
            # when the resumed run has no epoch left to train.
            callback.model.history = callback


class _CSVLogger(Adapter):
    """Keras's CSVLogger: the file's length at the backup, and its columns.

    A resumed run appends to the file (whatever `append` says), after cutting
    it back to the rows the backup knows about, so each epoch is written once.
    """

    key_attribute = "filename"

    def get_state(self, callback):
        csv_file = getattr(callback, "csv_file", None)
        if csv_file is not None and not getattr(csv_file, "closed", False):
            csv_file.flush()
        size = _file_size(callback.filename)
        keys = getattr(callback, "keys", None)
        return {"size": int(size), "keys": None if keys is None else list(keys)}

    def set_state(self, callback, state):
        size = int(state["size"])
        current = _file_size(callback.filename)
        if current < size:
            warnings.warn(
                f"{callback.filename!r} is shorter ({current} bytes) than when the "
                f"backup was written ({size} bytes): rows written before the "
                "interruption were removed by something else and cannot be "
                "recovered.",
                ResumeWarning,
                stacklevel=2,
            )
        else:
            csv_file = getattr(callback, "csv_file", None)
            if csv_file is not None and not getattr(csv_file, "closed", False):
                csv_file.flush()
            # The logger's file is open for appending, so its next row goes
            # right after the cut.
            os.truncate(callback.filename, size)
        callback.keys = None if state["keys"] is None else list(state["keys"])
        callback.writer = None
        callback.append_header = size == 0

    def prepare(self, callback):
        # Opening with "w" in `on_train_begin` would empty the file.
        if not hasattr(callback, "_epochkit_append"):
            callback._epochkit_append = callback.append
        callback.append = True

    def finish(self, callback):
        if hasattr(callback, "_epochkit_append"):
            callback.append = callback._epochkit_append
            del callback._epochkit_append


ADAPTERS: tuple[tuple[type, Adapter], ...] = (
    (keras.callbacks.EarlyStopping, _EarlyStopping()),
    (keras.callbacks.ReduceLROnPlateau, _ReduceLROnPlateau()),
    (keras.callbacks.ModelCheckpoint, _ModelCheckpoint()),
    (keras.callbacks.CSVLogger, _CSVLogger()),
    (keras.callbacks.History, _History()),
)

STATELESS: tuple[type, ...] = (
    keras.callbacks.ProgbarLogger,
    keras.callbacks.LearningRateScheduler,
    keras.callbacks.TerminateOnNaN,
    keras.callbacks.LambdaCallback,
    keras.callbacks.RemoteMonitor,
)


def has_protocol(callback) -> bool:
    return callable(getattr(callback, "get_state", None)) and callable(
        getattr(callback, "set_state", None)
    )


def adapter_for(callback) -> Adapter | None:
    for cls, adapter in ADAPTERS:
        if isinstance(callback, cls):
            return adapter
    return None


def protocol_key(callback) -> str:
    """The key of a callback with the protocol.

    Its `state_key` when it has one (keras-epochkit's callbacks), else its
    class name, plus `[monitor]` when it has a `monitor` attribute.
    """
    key = getattr(callback, "state_key", None)
    if isinstance(key, str) and key:
        return key
    return class_key(callback)


def handle_for(callback) -> Handle | None:
    """How a backup keeps `callback`, or None when it keeps nothing of it."""
    if has_protocol(callback):
        return Handle(callback, protocol_key(callback))
    adapter = adapter_for(callback)
    if adapter is not None:
        key = getattr(callback, "state_key", None)
        if not (isinstance(key, str) and key):
            key = adapter.key(callback)
        return Handle(callback, key, adapter)
    return None


# -- callbacks with state but no protocol -----------------------------------------

_BASE_ATTRIBUTES = frozenset(vars(keras.callbacks.Callback())) | {"model", "params"}


def fingerprint(callback) -> dict[str, tuple]:
    """A cheap picture of a callback's attributes, to tell whether they change."""
    picture = {}
    for name, value in vars(callback).items():
        if name in _BASE_ATTRIBUTES:
            continue
        if isinstance(value, (bool, int, float, str, type(None))):
            picture[name] = (type(value).__name__, value)
        elif isinstance(value, (list, dict, set, tuple)):
            picture[name] = (id(value), len(value))
        else:
            picture[name] = (id(value),)
    return picture


def changed_attributes(callback, before: dict[str, tuple]) -> list[str]:
    after = fingerprint(callback)
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def warn_unkept(callback, attributes: list[str]) -> None:
    warnings.warn(
        f"BackupAndRestore cannot keep the state of {type(callback).__name__} "
        f"(its {', '.join(attributes)} changed during training), so a resumed "
        "run starts it afresh. Give it get_state() and set_state(state) to "
        f"keep it: {GUIDE_URL}",
        ResumeWarning,
        stacklevel=3,
    )


def _plain(value):
    """An attribute as a value a backup can hold (numbers, arrays, lists)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str, np.ndarray)):
        return value
    # Tensors and variables, e.g. a `best` Keras computed with keras.ops.
    array = np.asarray(keras.ops.convert_to_numpy(value))
    return array.item() if array.ndim == 0 else array


def _file_size(path) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0
