"""BackupAndRestore: Keras's fault-tolerance callback, plus every callback's state."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Sequence

import keras
import numpy as np

from keras_epochkit import _atomic
from keras_epochkit._core.validation import check_bool
from keras_epochkit._core.validation import invalid
from keras_epochkit._version import __version__
from keras_epochkit.callbacks._budget import inner_optimizer
from keras_epochkit.schedules.budget_schedule import BudgetSchedule

# Bump when the layout of a backup changes; see `BackupAndRestore` for what a
# reader does with a backup written in another format. Format 2: callback
# states keyed by `state_key`, the budget schedule's state in `state.json`.
BACKUP_FORMAT = 2

_LATEST = "LATEST"
_WEIGHTS = "model.weights.h5"
_STATE = "state.json"
_ARRAYS = "arrays.npz"
_CHECKPOINT_PREFIX = "ckpt-"
_TMP_PREFIX = ".tmp-"


class BackupAndRestore(keras.callbacks.Callback):
    """Backs up and restores the whole training state, callbacks included.

    Everything `keras.callbacks.BackupAndRestore` does (the model's weights, the
    optimizer's state and the epoch, restored at the start of the next `fit`
    after an interruption), plus:

    - the state of the callbacks passed in `callbacks` (keras-epochkit's
      `EarlyStopping` with its best weights, `OverfittingMonitor`,
      `EpochBudget`, `TimeBudget`, `AugmentationScheduler`,
      `ClassificationReport`, or any callback of yours that follows the
      protocol below), so a resumed run makes the decisions an uninterrupted
      one would have made;
    - the state of the model's random generators (`keras.random.SeedGenerator`,
      used by dropout and augmentation layers), which `save_weights` omits.
      Give such layers a `seed` for an exact resume: on PyTorch, a `Dropout`
      without one draws from torch's global generator, which belongs to no
      model and is not saved;
    - crash safety: a backup is written to a fresh directory, fsynced, and only
      then published by atomically replacing the `LATEST` pointer file, so a
      kill at any instant leaves the previous backup or the new one, never a
      torn one;
    - checks: a backup written by a different model, or in a backup format
      this version cannot read, raises `ValueError` instead of resuming wrong.

    **When it acts.** A callback only sees its own hooks, and callbacks run in
    list order, so this one works where every sibling has finished: it
    restores the weights, optimizer and random generators in `on_train_begin`
    (Keras reads the epoch to resume from right after it), restores the
    callbacks' states at the first `on_epoch_begin` (after every callback has
    reset itself in `on_train_begin`), and writes the backup of epoch `k` at
    `on_epoch_begin` of epoch `k + 1` (after every callback's `on_epoch_end`)
    and at `on_train_end` when `delete_checkpoint=False`. Its place in the
    callback list therefore does not matter.

    **The state protocol.** A callback joins by implementing two methods:

    - `get_state() -> dict`: a snapshot of everything that drives its future
      decisions. Values are JSON-able (numbers, strings, booleans, None) or
      numpy arrays, nested in dicts and lists (tuples come back as lists).
    - `set_state(state: dict) -> None`: puts the callback back exactly as it
      was when `get_state` was called, including any variable it drives.

    `set_state` runs at the first `on_epoch_begin` of the resumed `fit`, after
    the callback's own `on_train_begin`.

    **Keys, not positions.** Each state is kept under the callback's stable
    key: its `state_key` (keras-epochkit's callbacks have one: the class name,
    plus `[monitor]` for a callback with a `monitor`, or a name you assign),
    else its class name plus `[monitor]` when it has a `monitor` attribute.
    Reordering `callbacks` between the interrupted run and the resumed one
    therefore restores the same states. Two callbacks with the same key raise
    `ValueError`: assign `state_key` to tell them apart. A callback added
    since the backup, or one the backup has and `callbacks` no longer does,
    is named in a warning and the others are restored; with `strict=True` the
    resume is refused with a `ValueError` instead.

    The optimizer's budget schedule (`keras_epochkit.schedules`), when it has
    one, is kept too: its state is saved with the backup and put back with
    the weights.

    **Versions.** A backup records its format number (`BACKUP_FORMAT`) and
    the keras-epochkit version that wrote it. A backup in the same format is
    read whatever the version; one in another format is refused with a
    `ValueError` that names both, and the way forward is to finish the run
    with the version that wrote it or to delete `backup_dir` and restart.

    With `save_freq` an integer, the backup is written every `save_freq`
    batches, and (as in Keras) training resumes at the start of the epoch in
    which it was written, with the weights of that point.

    The positional arguments are Keras's, in Keras's order; the ones Keras
    does not have are keyword-only.

    Args:
        backup_dir: directory for the backup; used by this callback alone.
        save_freq: `"epoch"` or a positive integer number of batches.
            Defaults to `"epoch"`.
        double_checkpoint: keep the previous backup too, and fall back to it
            when the latest cannot be read. Defaults to `False`.
        delete_checkpoint: delete the backup when `fit` ends normally.
            Defaults to `True`.
        callbacks: keyword-only; the callbacks whose state to keep, each with
            `get_state` and `set_state`. Defaults to `None` (none).
        strict: keyword-only; refuse to resume when the backup's callback
            keys differ from those of `callbacks`, instead of warning and
            restoring the ones both have. Defaults to `False`.

    Examples:
        >>> import tempfile
        >>> import numpy as np
        >>> import keras
        >>> from keras_epochkit.callbacks import BackupAndRestore
        >>> class Interrupt(keras.callbacks.Callback):
        ...     def on_epoch_begin(self, epoch, logs=None):
        ...         if epoch == 3:
        ...             raise RuntimeError("preempted")
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 4)), np.zeros((8, 1))
        >>> backup = BackupAndRestore(tempfile.mkdtemp())
        >>> try:
        ...     model.fit(x, y, epochs=6, callbacks=[backup, Interrupt()], verbose=0)
        ... except RuntimeError:
        ...     pass
        >>> history = model.fit(x, y, epochs=6, callbacks=[backup], verbose=0)
        >>> len(history.history["loss"])  # epochs 3, 4 and 5 only
        3
    """

    def __init__(
        self,
        backup_dir: str | os.PathLike,
        save_freq: str | int = "epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
        *,
        callbacks: Sequence[keras.callbacks.Callback] | None = None,
        strict: bool = False,
    ):
        super().__init__()
        if not backup_dir:
            raise invalid("backup_dir", "a non-empty path", backup_dir)
        self.backup_dir = pathlib.Path(backup_dir)
        if self.backup_dir.exists() and not self.backup_dir.is_dir():
            raise ValueError(
                f"`backup_dir` must be a directory, but {str(self.backup_dir)!r} "
                "is a file."
            )
        if save_freq != "epoch" and not (
            isinstance(save_freq, int)
            and not isinstance(save_freq, bool)
            and save_freq > 0
        ):
            raise invalid(
                "save_freq",
                "'epoch' or a positive integer number of batches",
                save_freq,
            )
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise invalid("callbacks", "a list of callbacks or None", callbacks)
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            missing = [
                name
                for name in ("get_state", "set_state")
                if not callable(getattr(callback, name, None))
            ]
            if missing:
                raise ValueError(
                    f"Every callback in `callbacks` needs get_state() and "
                    f"set_state(state); {type(callback).__name__} lacks "
                    f"{' and '.join(missing)}. See the BackupAndRestore "
                    "docstring for the protocol."
                )
        _keyed(self.callbacks)  # two callbacks under one key fail here
        self.strict = check_bool("strict", strict)
        self.save_freq = save_freq
        # Saving by epoch leaves the batch hook empty, so Keras may keep
        # dispatching batch ends asynchronously (no device sync per batch).
        self.async_safe = save_freq == "epoch"
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.restored_epoch: int | None = None
        self._pending_callback_states: dict | None = None
        self._set_initial_epoch = False
        self._first_epoch: int | None = None
        self._current_epoch = 0
        self._batches_since_save = 0

    # -- Keras hooks ------------------------------------------------------

    def on_train_begin(self, logs=None):
        model = self.model
        if not model.built:
            raise ValueError(
                "BackupAndRestore needs a built model before fit(): call the "
                "model on a batch or give it an Input first."
            )
        _keyed(self.callbacks)  # a state_key assigned since __init__ may clash
        # Before the first step, so that on JAX the compiled step is traced
        # once with the schedule's state among the optimizer's variables. The
        # optimizer is built first, as `fit` builds it before any callback
        # runs, so the state comes after the optimizer's own variables in
        # every writer and reader of a backup.
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        _budget_schedule(model)
        self._check_writable()
        self.restored_epoch = None
        self._pending_callback_states = None
        self._set_initial_epoch = False
        self._first_epoch = None
        self._batches_since_save = 0
        self._restore_newest_readable()

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._batches_since_save = 0
        if self._first_epoch is None:
            self._first_epoch = epoch
            if self._pending_callback_states is not None:
                self._restore_callbacks(self._pending_callback_states)
                self._pending_callback_states = None
            return
        if self.save_freq == "epoch":
            # Every callback has finished the previous epoch by now.
            self._save(epoch=epoch, batch=0)

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(epoch=self._current_epoch, batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1

    def on_train_end(self, logs=None):
        if self._set_initial_epoch:
            # Keras reads this on every fit; a later fit must start afresh.
            self.model._initial_epoch = None
            self._set_initial_epoch = False
        if self.delete_checkpoint:
            self._delete_backup()
        elif self._first_epoch is not None:
            self._save(epoch=self._current_epoch, batch=0)

    # -- writing ----------------------------------------------------------

    def _check_writable(self) -> None:
        if self.backup_dir.exists() and not self.backup_dir.is_dir():
            raise ValueError(
                f"`backup_dir` must be a directory, but {str(self.backup_dir)!r} "
                "is a file."
            )
        try:
            self.backup_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.backup_dir):
                pass
        except OSError as error:
            raise PermissionError(
                f"`backup_dir` {str(self.backup_dir)!r} is not writable: {error}"
            ) from error

    def _save(self, *, epoch: int, batch: int) -> None:
        model = self.model
        schedule = _budget_schedule(model)
        arrays: dict[str, np.ndarray] = {}
        state = {
            "format": BACKUP_FORMAT,
            "epochkit_version": __version__,
            "backend": keras.backend.backend(),
            "epoch": int(epoch),
            "batch": int(batch),
            "model": _model_signature(model),
            "seed_generators": _encode(
                [keras.ops.convert_to_numpy(g.state) for g in _seed_generators(model)],
                arrays,
                "seed",
            ),
            "schedule": None if schedule is None else schedule.get_state(),
            "callbacks": {
                key: _encode(callback.get_state(), arrays, key)
                for key, callback in _keyed(self.callbacks).items()
            },
        }
        staging = self.backup_dir / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            model.save_weights(staging / _WEIGHTS)
            with open(staging / _ARRAYS, "wb") as f:
                np.savez(f, **arrays)
            with open(staging / _STATE, "w") as f:
                json.dump(state, f)
            for name in (_WEIGHTS, _ARRAYS, _STATE):
                _fsync_file(staging / name)
            name = f"{_CHECKPOINT_PREFIX}{self._next_index():08d}"
            os.replace(staging, self.backup_dir / name)
            _atomic._fsync_dir(self.backup_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # The backup exists only once the pointer names it.
        _atomic.write_text(self.backup_dir / _LATEST, json.dumps({"checkpoint": name}))
        self._prune(keep=name)

    def _delete_backup(self) -> None:
        """Unpublishes the backup, then removes its files.

        A kill while the files are being removed must not leave a pointer to a
        half-deleted checkpoint, so the pointer goes first, in one step.
        """
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.backup_dir / _LATEST)
            _atomic._fsync_dir(self.backup_dir)
        shutil.rmtree(self.backup_dir, ignore_errors=True)

    def _checkpoints(self) -> list[str]:
        """Complete checkpoint directories, oldest first."""
        if not self.backup_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.backup_dir.iterdir()
            if p.is_dir() and p.name.startswith(_CHECKPOINT_PREFIX)
        )

    def _next_index(self) -> int:
        names = self._checkpoints()
        return int(names[-1][len(_CHECKPOINT_PREFIX) :]) + 1 if names else 0

    def _prune(self, keep: str) -> None:
        names = self._checkpoints()
        keep_names = {keep}
        if self.double_checkpoint:
            older = [n for n in names if n < keep]
            keep_names.update(older[-1:])
        for path in self.backup_dir.iterdir():
            stale_checkpoint = (
                path.name.startswith(_CHECKPOINT_PREFIX) and path.name not in keep_names
            )
            if stale_checkpoint or path.name.startswith(_TMP_PREFIX):
                shutil.rmtree(path, ignore_errors=True)

    # -- reading ----------------------------------------------------------

    def _latest_name(self) -> str | None:
        pointer = self.backup_dir / _LATEST
        if not pointer.exists():
            return None
        return json.loads(pointer.read_text())["checkpoint"]

    def _restore_newest_readable(self) -> None:
        """Restores the newest backup that loads; does nothing without one."""
        latest = self._latest_name()
        if latest is None:
            return
        candidates = [latest]
        if self.double_checkpoint:
            candidates += [n for n in reversed(self._checkpoints()) if n < latest][:1]
        errors = []
        for name in candidates:
            try:
                # A torn weights file only shows when loaded, so load here;
                # a fallback load then overwrites whatever part was read.
                self._restore(self._read(self.backup_dir / name))
                return
            except _IncompatibleBackup:
                raise
            except (OSError, ValueError, KeyError) as error:
                errors.append(f"{name}: {error}")
        raise OSError(
            f"No readable backup in {str(self.backup_dir)!r}: " + "; ".join(errors)
        )

    def _read(self, directory: pathlib.Path) -> dict:
        state = json.loads((directory / _STATE).read_text())
        if state.get("format") != BACKUP_FORMAT:
            raise _IncompatibleBackup(
                f"The backup in {str(self.backup_dir)!r} was written by "
                f"keras-epochkit {state.get('epochkit_version')} in backup format "
                f"{state.get('format')}; keras-epochkit {__version__} "
                f"reads format {BACKUP_FORMAT}. Finish the run with the version "
                "that wrote it, or delete the directory to start over."
            )
        signature = _model_signature(self.model)
        if state["model"] != signature:
            raise _IncompatibleBackup(
                f"The backup in {str(self.backup_dir)!r} was written by a different "
                f"model (its weights: {_describe(state['model'])}; this model's: "
                f"{_describe(signature)}). Use another `backup_dir` for this model."
            )
        self._check_keys(sorted(state["callbacks"]))
        with np.load(directory / _ARRAYS) as npz:
            arrays = {name: npz[name] for name in npz.files}
        state["seed_generators"] = _decode(state["seed_generators"], arrays)
        state["callbacks"] = {
            key: _decode(value, arrays) for key, value in state["callbacks"].items()
        }
        state["weights_path"] = directory / _WEIGHTS
        if not state["weights_path"].exists():
            raise OSError(f"{state['weights_path']} is missing")
        return state

    def _check_keys(self, saved: list[str]) -> None:
        keys = list(_keyed(self.callbacks))
        added = [key for key in keys if key not in saved]
        removed = [key for key in saved if key not in keys]
        if not (added or removed):
            return
        parts = []
        if added:
            parts.append(f"no state for {added} (added since the backup)")
        if removed:
            parts.append(f"a state for {removed}, which `callbacks` no longer has")
        message = (
            f"The backup in {str(self.backup_dir)!r} has " + " and ".join(parts) + "."
        )
        if self.strict:
            raise _IncompatibleBackup(
                f"{message} Pass the same callbacks to resume, or strict=False "
                "to restore the others."
            )
        warnings.warn(
            f"{message} Restoring the other callbacks' states; the added ones "
            "start afresh.",
            stacklevel=3,
        )

    def _restore(self, state: dict) -> None:
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        schedule = _budget_schedule(model)
        model.load_weights(state["weights_path"])
        if schedule is not None and state.get("schedule") is not None:
            schedule.set_state(state["schedule"])
        generators = _seed_generators(model)
        for generator, value in zip(generators, state["seed_generators"]):
            generator.state.assign(value)
        model._initial_epoch = state["epoch"]
        self._set_initial_epoch = True
        self.restored_epoch = state["epoch"]
        self._pending_callback_states = state["callbacks"]

    def _restore_callbacks(self, states: dict) -> None:
        for key, callback in _keyed(self.callbacks).items():
            if key in states:
                callback.set_state(states[key])


class _IncompatibleBackup(ValueError):
    """A backup that must not be resumed from (another model or format)."""


def _budget_schedule(model) -> BudgetSchedule | None:
    """The optimizer's budget schedule, attached so that weight files line up.

    On JAX an attached schedule keeps its state in an optimizer variable, and
    weight files match optimizer variables by position, so the writer and
    the reader of a backup must agree on whether it is there: attaching
    (idempotent, and a no-op on the other backends) makes them agree.
    """
    optimizer = inner_optimizer(model)
    schedule = getattr(optimizer, "_learning_rate", None)
    if not isinstance(schedule, BudgetSchedule):
        return None
    schedule.attach(optimizer)
    return schedule


def state_key(callback) -> str:
    """The stable key a callback's state is kept under.

    Its `state_key` when it has one (keras-epochkit's callbacks), else its
    class name, plus `[monitor]` when it has a `monitor` attribute.
    """
    key = getattr(callback, "state_key", None)
    if isinstance(key, str) and key:
        return key
    monitor = getattr(callback, "monitor", None)
    if isinstance(monitor, (list, tuple)):
        monitor = ",".join(str(m) for m in monitor)
    if isinstance(monitor, str) and monitor:
        return f"{type(callback).__name__}[{monitor}]"
    return type(callback).__name__


def _keyed(callbacks) -> dict:
    keyed: dict = {}
    for callback in callbacks:
        key = state_key(callback)
        if key in keyed:
            raise ValueError(
                f"Two callbacks in `callbacks` keep their state under the key "
                f"{key!r} ({type(keyed[key]).__name__} and "
                f"{type(callback).__name__}); assign a distinct `state_key` to "
                "each, e.g. callback.state_key = 'EarlyStopping[slow]'."
            )
        keyed[key] = callback
    return keyed


def _fsync_file(path: pathlib.Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _seed_generators(model) -> list:
    """Every SeedGenerator of the model's layers, in a stable order."""
    generators = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        generators.extend(getattr(layer, "_seed_generators", []))
    return generators


def _model_signature(model) -> list:
    """Shapes and dtypes of the weights: what a compatible model must share."""
    return [[list(v.shape), str(v.dtype)] for v in model.weights]


def _describe(signature: list) -> str:
    return f"{len(signature)} variables"


def _encode(value, arrays: dict, prefix: str):
    """Replaces numpy arrays by references into `arrays`; the rest stays JSON."""
    if isinstance(value, dict):
        return {str(k): _encode(v, arrays, f"{prefix}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v, arrays, f"{prefix}.{i}") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"__ndarray__": name}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(
        f"get_state() returned a value that is neither JSON-able nor a numpy "
        f"array at {prefix}: {value!r}"
    )


def _decode(value, arrays: dict):
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            return arrays[value["__ndarray__"]]
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value
