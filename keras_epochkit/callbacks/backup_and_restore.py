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
from keras_epochkit.callbacks import _resume
from keras_epochkit.callbacks._budget import inner_optimizer
from keras_epochkit.callbacks._budget import learning_rate_schedule
from keras_epochkit.schedules.budget_schedule import BudgetSchedule

# Bump when the layout of a backup changes; see `BackupAndRestore` for what a
# reader does with a backup written in another format. Format 2: callback
# states keyed by `state_key`, the budget schedule's state in `state.json`.
# Format 3: every callback of the fit, Keras's built-ins included; an epoch's
# backup names the callbacks that had not yet seen the epoch, with its logs.
BACKUP_FORMAT = 3

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

    - the state of **every callback in the same `fit`**, found on its own:
      keras-epochkit's callbacks and any callback with `get_state()` /
      `set_state(state)`; Keras's `EarlyStopping`, `ReduceLROnPlateau`,
      `ModelCheckpoint`, `CSVLogger` and `History` through adapters over
      their public attributes (see the resuming guide for what each keeps).
      A resumed run makes the decisions the uninterrupted one would have
      made, and `fit` returns the whole run's history. A callback of yours
      whose attributes change during training but that has no `get_state`
      is named in one warning;
    - the state of the model's random generators (`keras.random.SeedGenerator`,
      used by dropout and augmentation layers), which `save_weights` omits.
      Give such layers a `seed` for an exact resume: on PyTorch, a `Dropout`
      without one draws from torch's global generator, which belongs to no
      model and is not saved;
    - crash safety: a backup is written to a fresh directory, fsynced, and only
      then published by atomically replacing the `LATEST` pointer file, so a
      kill at any instant leaves the previous backup or the new one, never a
      torn one. The previous backup is always kept, and used when the newest
      cannot be read;
    - checks: a backup written by a different model, or in a backup format
      this version cannot read, raises `ValueError` instead of resuming wrong.

    **When it acts.** When `fit` builds its callback list, this callback
    finds the list (`keras.callbacks.CallbackList`, which calls every
    callback's hooks) and appends a small companion after every other
    callback, Keras's `History` and progress bar included. The companion
    restores the weights, the optimizer, the generators and every callback's
    state once every callback has run `on_train_begin`. Each epoch is backed
    up twice: at this callback's own `on_epoch_end`, as Keras does, so an
    error raised by a later callback does not cost the epoch (that backup
    names the callbacks that had not seen the epoch yet and keeps the
    epoch's logs; a resume from it replays their `on_epoch_end`), and again
    by the companion once every callback has finished the epoch. Its place in
    the list therefore does not matter. A run that had stopped (an early stop,
    say) when it was interrupted resumes as stopped: `fit` trains no further
    epoch.

    **The state protocol.** A callback joins by implementing two methods:

    - `get_state() -> dict`: a snapshot of everything that drives its future
      decisions. Values are JSON-able (numbers, strings, booleans, None) or
      numpy arrays, nested in dicts and lists (tuples come back as lists).
    - `set_state(state: dict) -> None`: puts the callback back exactly as it
      was when `get_state` was called, including any variable it drives.

    `set_state` runs in the resumed `fit` after every callback's
    `on_train_begin`.

    **Keys, not positions.** Each state is kept under the callback's stable
    key: its `state_key` (keras-epochkit's callbacks have one: the class name,
    plus `[monitor]` for a callback with a `monitor`, or a name you assign),
    else its class name plus `[monitor]` when it has a `monitor` attribute;
    Keras's built-ins are kept as `keras.<Class>[monitor or file]`.
    Reordering the callbacks between the interrupted run and the resumed one
    therefore restores the same states. Two callbacks with the same key raise
    `ValueError`: assign `state_key` to tell them apart. A callback added
    since the backup, or one the backup has and the fit no longer does, is
    named in a warning and the others are restored; with `strict=True` the
    resume is refused with a `ValueError` instead.

    The optimizer's budget schedule (`keras_epochkit.schedules`), when it has
    one, is kept too: its state is saved with the backup and put back with
    the weights.

    **Hooks called by hand.** When this callback's hooks are not called
    through a `keras.callbacks.CallbackList`, it cannot see the other
    callbacks: it keeps the states of the objects passed in `callbacks` only,
    restores them at the first `on_epoch_begin` and backs up at its own
    `on_epoch_end`.

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
        double_checkpoint: keep two earlier backups instead of one, to fall
            back further when the newest cannot be read. Defaults to `False`
            (the newest and the one before it are kept).
        delete_checkpoint: delete the backup when `fit` ends normally.
            Defaults to `True`.
        callbacks: keyword-only; more objects whose state to keep, each with
            `get_state` and `set_state`: a data loader's position, say. The
            callbacks of the `fit` need not be listed here. Defaults to
            `None`.
        strict: keyword-only; refuse to resume when the backup's callback
            keys differ from those of this fit, instead of warning and
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
        >>> history.epoch  # 0-2 restored from the backup, 3-5 trained
        [0, 1, 2, 3, 4, 5]
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
            raise invalid("callbacks", "a list of objects or None", callbacks)
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not _resume.has_protocol(callback):
                missing = [
                    name
                    for name in ("get_state", "set_state")
                    if not callable(getattr(callback, name, None))
                ]
                raise ValueError(
                    f"Every object in `callbacks` needs get_state() and "
                    f"set_state(state); {type(callback).__name__} lacks "
                    f"{' and '.join(missing)}. See the BackupAndRestore "
                    "docstring for the protocol."
                )
        _keyed([_resume.handle_for(c) for c in self.callbacks])  # clashes fail here
        self.strict = check_bool("strict", strict)
        self.save_freq = save_freq
        # Saving by epoch leaves the batch hook empty, so Keras may keep
        # dispatching batch ends asynchronously (no device sync per batch).
        self.async_safe = save_freq == "epoch"
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.restored_epoch: int | None = None
        self._finisher = _Finisher(self)
        self._listed: list | None = None  # the fit's callbacks, in order
        self._handles: list[_resume.Handle] = []
        self._after: set[str] = set()  # keys of the handles listed after this one
        self._prepared: list = []
        self._watched: dict = {}
        self._warned: set[str] = set()
        self._pending_states: dict | None = None
        self._moved_initial_epoch = False
        self._first_epoch: int | None = None
        self._current_epoch = 0
        self._batches_since_save = 0
        self._complete = True

    # -- finding the fit's callbacks --------------------------------------

    def set_model(self, model):
        super().set_model(model)
        # `fit` builds the optimizer, then hands the model to its callbacks,
        # then prepares the train step: attaching the schedule here puts its
        # state among the optimizer's variables before that (Keras 3.10 and
        # 3.11 on JAX record them there and fail on one added later).
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and optimizer.built:
            _budget_schedule(model)
        listing = _resume.find_callback_list(self)
        if listing is None:
            # Hooks called by hand: only `callbacks` is kept (see the docstring).
            self._listed = None
            return
        if not any(c is self._finisher for c in listing.callbacks):
            # A new list, so that Keras's loop over the old one is undisturbed.
            listing.callbacks = [*listing.callbacks, self._finisher]
            self._finisher.set_model(model)
        self._listed = listing.callbacks
        self._unprepare()  # what an interrupted fit left prepared
        if self._has_backup():
            for callback in self._listed:
                adapter = _resume.adapter_for(callback)
                if adapter is not None and not _resume.has_protocol(callback):
                    adapter.prepare(callback)
                    self._prepared.append((adapter, callback))

    def _unprepare(self) -> None:
        for adapter, callback in self._prepared:
            adapter.finish(callback)
        self._prepared = []

    def _collect(self) -> None:
        """The handles of every callback whose state a backup keeps."""
        handles, after, seen = [], set(), set()
        self._watched = {}
        listed = self._listed if self._listed is not None else []
        position = next((i for i, c in enumerate(listed) if c is self), len(listed))
        for index, callback in enumerate([*listed, *self.callbacks]):
            if id(callback) in seen or callback is self or callback is self._finisher:
                continue
            seen.add(id(callback))
            handle = _resume.handle_for(callback)
            if handle is None:
                if not isinstance(callback, _resume.STATELESS):
                    self._watched[id(callback)] = (
                        callback,
                        _resume.fingerprint(callback),
                    )
                continue
            handles.append(handle)
            if position < index < len(listed):
                after.add(handle.key)
        _keyed(handles)
        self._handles, self._after = handles, after

    def _warn_unkept(self) -> None:
        for callback, picture in list(self._watched.values()):
            changed = _resume.changed_attributes(callback, picture)
            name = type(callback).__name__
            if changed and name not in self._warned:
                self._warned.add(name)
                _resume.warn_unkept(callback, changed)
        self._watched = {}

    # -- Keras hooks ------------------------------------------------------

    def on_train_begin(self, logs=None):
        model = self.model
        if not model.built:
            raise ValueError(
                "BackupAndRestore needs a built model before fit(): call the "
                "model on a batch or give it an Input first."
            )
        self._check_writable()
        self.restored_epoch = None
        self._pending_states = None
        self._moved_initial_epoch = False
        self._first_epoch = None
        self._batches_since_save = 0
        if self._listed is None:
            self._begin()

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._batches_since_save = 0
        if self._first_epoch is None:
            self._first_epoch = epoch
            if self._pending_states is not None:
                # Hooks called by hand: the states go back once every
                # callback has reset itself.
                self._apply(self._pending_states)
                self._pending_states = None

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(epoch=self._current_epoch, batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq != "epoch":
            return
        # The epoch is trained: back it up now, as Keras does, so that an
        # error raised by a later callback does not cost the epoch. The
        # callbacks listed after this one have not seen the epoch yet; the
        # backup names them and keeps the epoch's logs, and a resume replays
        # their `on_epoch_end`, unless the complete backup written once they
        # have all finished (by `_Finisher`) replaces it first.
        pending = sorted(self._after) if self._listed is not None else []
        self._save(epoch=epoch + 1, batch=0, pending=pending, logs=logs)
        self._complete = not pending

    def on_train_end(self, logs=None):
        if self._listed is None:
            self._end()

    # -- the parts that run after every other callback ----------------------

    def _begin(self) -> None:
        """Restores the newest readable backup; every callback has begun."""
        model = self.model
        self._collect()
        # Before the first step, so that on JAX the compiled step is traced
        # once with the schedule's state among the optimizer's variables. The
        # optimizer is built first, as `fit` builds it before any callback
        # runs, so the state comes after the optimizer's own variables in
        # every writer and reader of a backup.
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        _budget_schedule(model)
        self._complete = True
        state = self._newest_readable()
        if state is None:
            return
        self._restore(state)
        if self._listed is None:
            self._pending_states = state
        else:
            self._apply(state)

    def _epoch_complete(self, epoch: int) -> None:
        """Every callback has finished `epoch`."""
        if self._watched:
            self._warn_unkept()
        if self.save_freq == "epoch" and not self._complete:
            self._save(epoch=epoch + 1, batch=0)
            self._complete = True

    def _end(self) -> None:
        if self._moved_initial_epoch:
            # Keras reads this on every fit; a later fit must start afresh.
            _set_initial_epoch(self.model, None)
            self._moved_initial_epoch = False
        self._unprepare()
        if self.delete_checkpoint:
            self._delete_backup()
        elif self._first_epoch is not None or self.restored_epoch is not None:
            # The run ended normally: a later fit continues from here.
            self._save(epoch=self._current_epoch, batch=0, stopped=False)

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

    def _save(
        self,
        *,
        epoch: int,
        batch: int,
        pending: list[str] | None = None,
        logs: dict | None = None,
        stopped: bool | None = None,
    ) -> None:
        model = self.model
        schedule = _budget_schedule(model)
        arrays: dict[str, np.ndarray] = {}
        state = {
            "format": BACKUP_FORMAT,
            "epochkit_version": __version__,
            "backend": keras.backend.backend(),
            "epoch": int(epoch),
            "batch": int(batch),
            "stopped": bool(model.stop_training if stopped is None else stopped),
            "pending": list(pending or []),
            "logs": _encode(dict(logs or {}) if pending else None, arrays, "logs"),
            "model": _model_signature(model),
            "seed_generators": _encode(
                [keras.ops.convert_to_numpy(v) for v in _seed_states(model)],
                arrays,
                "seed",
            ),
            "schedule": None if schedule is None else schedule.get_state(),
            "callbacks": {
                handle.key: _encode(handle.get_state(), arrays, handle.key)
                for handle in self._handles
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
        """Keeps the newest backup and the one before it (two before it with
        `double_checkpoint=True`), to fall back to when the newest is damaged."""
        older = [n for n in self._checkpoints() if n < keep]
        keep_names = {keep, *older[-(2 if self.double_checkpoint else 1) :]}
        for path in self.backup_dir.iterdir():
            stale_checkpoint = (
                path.name.startswith(_CHECKPOINT_PREFIX) and path.name not in keep_names
            )
            if stale_checkpoint or path.name.startswith(_TMP_PREFIX):
                shutil.rmtree(path, ignore_errors=True)

    # -- reading ----------------------------------------------------------

    def _has_backup(self) -> bool:
        # Published backups only: a directory without the pointer is a write
        # or a deletion that a kill cut short.
        return (self.backup_dir / _LATEST).exists()

    def _latest_name(self) -> str | None:
        pointer = self.backup_dir / _LATEST
        try:
            name = json.loads(pointer.read_text())["checkpoint"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return name if isinstance(name, str) else None

    def _newest_readable(self) -> dict | None:
        """The newest backup that loads, falling back to older ones; None without one.

        The pointer names the newest published backup; when it or that
        backup is damaged, the ones before it are tried, newest first. Without
        a pointer there is no backup (`fit` ended and deleted it, or none was
        ever published), whatever directories a kill left behind.
        """
        if not self._has_backup():
            return None
        names = self._checkpoints()
        latest = self._latest_name()
        if latest is not None and latest in names:
            candidates = [latest] + [n for n in reversed(names) if n < latest]
        else:  # a damaged pointer: the newest directory first
            candidates = list(reversed(names))
        if not candidates:
            raise OSError(
                f"No readable backup in {str(self.backup_dir)!r}: the LATEST "
                "pointer names no backup directory."
            )
        errors = []
        for name in candidates:
            try:
                state = self._read(self.backup_dir / name)
                # A torn weights file only shows when loaded, so load here;
                # a fallback load then overwrites whatever part was read.
                self.model.load_weights(state["weights_path"])
            except _IncompatibleBackup:
                raise
            except Exception as error:  # any damage: try the next one
                errors.append(f"{name}: {type(error).__name__}: {error}")
                continue
            if errors:
                warnings.warn(
                    f"The newest backup in {str(self.backup_dir)!r} could not be "
                    f"read ({'; '.join(errors)}); resuming from {name} instead.",
                    _resume.ResumeWarning,
                    stacklevel=3,
                )
            return state
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
        state["logs"] = _decode(state.get("logs"), arrays)
        state["callbacks"] = {
            key: _decode(value, arrays) for key, value in state["callbacks"].items()
        }
        state["weights_path"] = directory / _WEIGHTS
        if not state["weights_path"].exists():
            raise OSError(f"{state['weights_path']} is missing")
        return state

    def _check_keys(self, saved: list[str]) -> None:
        keys = [handle.key for handle in self._handles]
        added = [key for key in keys if key not in saved]
        removed = [key for key in saved if key not in keys]
        if not (added or removed):
            return
        parts = []
        if added:
            parts.append(f"no state for {added} (added since the backup)")
        if removed:
            parts.append(f"a state for {removed}, which this fit no longer has")
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
            _resume.ResumeWarning,
            stacklevel=4,
        )

    def _restore(self, state: dict) -> None:
        """Puts back the weights, the schedule, the generators and the epoch."""
        model = self.model
        schedule = _budget_schedule(model)
        if schedule is not None and state.get("schedule") is not None:
            schedule.set_state(state["schedule"])
        for variable, value in zip(_seed_states(model), state["seed_generators"]):
            variable.assign(value)
        _set_initial_epoch(model, state["epoch"])
        self._moved_initial_epoch = True
        self.restored_epoch = state["epoch"]
        self._current_epoch = state["epoch"]

    def _set_states(self, state: dict) -> None:
        saved = state["callbacks"]
        for handle in self._handles:
            if handle.key in saved:
                handle.set_state(saved[handle.key])

    def _apply(self, state: dict) -> None:
        """Puts back the callbacks' states and replays what they had not seen."""
        self._set_states(state)
        saved = state["callbacks"]
        pending = set(state.get("pending") or [])
        if pending and state.get("logs") is not None:
            logs = dict(state["logs"])  # one dict, shared as Keras shares it
            for handle in self._handles:
                if handle.key in pending and handle.key in saved:
                    handle.replay_epoch_end(state["epoch"] - 1, logs)
        if self._listed is not None and (
            state.get("stopped") or self.model.stop_training
        ):
            # The run had stopped: the resumed fit trains no further epoch.
            epochs = (self.params or {}).get("epochs")
            if epochs is not None:
                _set_initial_epoch(self.model, max(int(epochs), state["epoch"]))
            self.model.stop_training = True


class _Finisher(keras.callbacks.Callback):
    """The part of `BackupAndRestore` that runs after every other callback.

    `BackupAndRestore` appends it to the fit's callback list, after Keras's
    `History` and progress bar: it restores once every callback has reset
    itself, and completes the epoch's backup once every callback has
    finished the epoch.
    """

    def __init__(self, owner: BackupAndRestore):
        super().__init__()
        self._owner = owner

    def on_train_begin(self, logs=None):
        self._owner._begin()

    def on_epoch_end(self, epoch, logs=None):
        self._owner._epoch_complete(epoch)

    def on_train_end(self, logs=None):
        self._owner._end()


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
    if optimizer is None:
        return None
    schedule = learning_rate_schedule(optimizer)
    if not isinstance(schedule, BudgetSchedule):
        return None
    schedule.attach(optimizer)
    return schedule


def state_key(callback) -> str:
    """The stable key a callback's state is kept under.

    Its `state_key` when it has one (keras-epochkit's callbacks), else its
    class name, plus `[monitor]` when it has a `monitor` attribute; Keras's
    built-ins kept through an adapter are named `keras.<Class>[...]`.
    """
    handle = _resume.handle_for(callback)
    return _resume.protocol_key(callback) if handle is None else handle.key


def _keyed(handles) -> dict:
    keyed: dict = {}
    for handle in handles:
        if handle.key in keyed:
            raise ValueError(
                f"Two callbacks keep their state under the key {handle.key!r} "
                f"({type(keyed[handle.key].callback).__name__} and "
                f"{type(handle.callback).__name__}); assign a distinct "
                "`state_key` to each, e.g. callback.state_key = "
                "'EarlyStopping[slow]'."
            )
        keyed[handle.key] = handle
    return keyed


def _fsync_file(path: pathlib.Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _seed_states(model) -> list:
    """The state variables of the model's `SeedGenerator`s, in a stable order.

    `Layer.variables` is the layer's whole state: its weights and the states
    of its seed generators (Keras's own definition); the weights are saved
    with the model, so these are the rest.
    """
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _set_initial_epoch(model, epoch: int | None) -> None:
    """Makes the next `fit` start at `epoch` (`None`: at its own argument).

    Keras has no public way for a callback to move the first epoch of a
    `fit`; its own `BackupAndRestore` sets `Model._initial_epoch`, which
    `fit` reads after `on_train_begin`, and so does this one. A Keras without
    that attribute gets a clear error rather than a resume that restarts at
    epoch 0.
    """
    if not hasattr(model, "_initial_epoch"):
        raise RuntimeError(
            "keras_epochkit.callbacks.BackupAndRestore resumes at the backed-up "
            "epoch through `Model._initial_epoch`, which Keras's own "
            f"BackupAndRestore sets and Keras {keras.__version__} does not "
            "have. Install a Keras version supported by keras-epochkit (see "
            "its pyproject.toml), or resume with fit(initial_epoch=...)."
        )
    model._initial_epoch = epoch


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
