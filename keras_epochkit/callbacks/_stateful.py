"""The stateful-callback protocol, written once.

A keras-epochkit callback that makes decisions from what it has seen keeps
that in a state: `get_state()` returns it (JSON-able values and NumPy
arrays), `set_state(state)` puts it back, and `state_key` names it stably, so
`BackupAndRestore` matches states by key, never by list position.

A state set before `fit` (or during its first epoch, as `BackupAndRestore`
does when it resumes) survives that fit's `on_train_begin`; a later `fit`
starts afresh.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit._core.validation import check_str


class StatefulCallback(keras.callbacks.Callback):
    """Base of the keras-epochkit callbacks whose state survives a resume.

    Subclasses implement `reset_state()` (forget everything seen),
    `_get_state()` and `_set_state(state)`, and call
    `super().on_train_begin(logs)` and `super().on_train_end(logs)` from
    their own hooks if they override them.

    `state_key` is the class name, plus the monitored key when the callback
    has a `monitor` (`"EarlyStopping[val_loss]"`); assign a string to it to
    tell two callbacks of the same kind apart.
    """

    def __init__(self) -> None:
        super().__init__()
        self._state_name: str | None = None
        self._restored = False

    # --- the key -------------------------------------------------------------
    @property
    def state_key(self) -> str:
        """The stable name under which `BackupAndRestore` keeps the state."""
        if self._state_name is not None:
            return self._state_name
        return class_key(self)

    @state_key.setter
    def state_key(self, name: str) -> None:
        self._state_name = check_str("state_key", name)

    # --- the protocol ----------------------------------------------------------
    def reset_state(self) -> None:
        """Forgets everything seen; called at every fresh `on_train_begin`."""

    def get_state(self) -> dict[str, Any]:
        """The state needed to continue exactly where this callback left off."""
        return self._get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores a state from `get_state`; it survives the next `on_train_begin`."""
        self._set_state(state)
        self._restored = True

    def _get_state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state: dict[str, Any]) -> None:
        del state

    # --- stopping ----------------------------------------------------------------
    def _record_stop(self, epoch: int, reason: Any, message: str) -> None:
        """Notes a stop: `stopped_epoch`, and at the first stop `stop_reason`
        and `stop_message`, printed with `verbose`."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_message = message
            if getattr(self, "verbose", 0):
                print(f"{type(self).__name__}: {message}.")
        self.stopped_epoch = epoch

    # --- Keras hooks -------------------------------------------------------------
    def on_train_begin(self, logs=None):
        restored, self._restored = self._restored, False
        if not restored:
            self.reset_state()

    def on_train_end(self, logs=None):
        # A state restored during this fit must not leak into the next one.
        self._restored = False


def class_key(callback) -> str:
    """The class name, plus `[monitor]` when the callback has a `monitor`."""
    monitor = getattr(callback, "monitor", None)
    if isinstance(monitor, (list, tuple)):
        monitor = ",".join(str(m) for m in monitor)
    if isinstance(monitor, str) and monitor:
        return f"{type(callback).__name__}[{monitor}]"
    return type(callback).__name__
