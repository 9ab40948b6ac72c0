"""CSVLogger: Keras's per-epoch CSV log, safe to resume."""

from __future__ import annotations

import csv
import io
import os
import pathlib

import keras
import numpy as np

from keras_epochkit import _atomic


class CSVLogger(keras.callbacks.Callback):
    """Writes each epoch's logs to a CSV file; a resumed run keeps it exact.

    The file has the layout of `keras.callbacks.CSVLogger` (an `epoch` column,
    then the log keys in sorted order), so `keras_epochkit.analysis` and any
    CSV reader take it as they take Keras's. Two things differ:

    * The whole file is rewritten atomically at every epoch end (a temporary
      file, then a rename), so a crash never leaves a torn last line.
    * The rows are the callback's state (`get_state`/`set_state`). Handed to
      `keras_epochkit.callbacks.BackupAndRestore(callbacks=[...])`, a resumed
      run rewrites the file with exactly the epochs before the restored one:
      epochs that ran after the last backup and are run again appear once,
      and the log has one row per epoch of the whole run. Keras's logger in
      append mode writes such epochs twice.

    Args:
        filename: path of the CSV file.
        separator: the column separator. Defaults to `","`.
        append: keep the rows already in `filename` and add to them, as
            when continuing a run with `fit(initial_epoch=...)`. Rows are
            keyed by epoch: a new row for epoch `e` replaces the file's rows
            from `e` on. With `False` (the default) every `fit()` starts a
            new file.

    Examples:
        >>> import numpy as np, keras, tempfile, os
        >>> from keras_epochkit.callbacks import CSVLogger
        >>> path = os.path.join(tempfile.mkdtemp(), "history.csv")
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 2)), np.ones((8, 1))
        >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
        >>> open(path).read().splitlines()[0]
        'epoch,loss'
        >>> len(open(path).read().splitlines())
        3
    """

    def __init__(
        self, filename: str | os.PathLike, separator: str = ",", append: bool = False
    ):
        super().__init__()
        if not filename:
            raise ValueError("`filename` must be a non-empty path.")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                f"`separator` must be a single character. Received: {separator!r}"
            )
        self.filename = pathlib.Path(filename)
        if self.filename.is_dir():
            raise ValueError(
                f"`filename` must be a file path, but {str(self.filename)!r} is "
                "a directory."
            )
        self.separator = separator
        self.append = bool(append)
        self.rows: list[dict] = []

    def on_train_begin(self, logs=None):
        self.rows = self._read_existing() if self.append else []

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": int(epoch)}
        row.update({key: _plain(value) for key, value in (logs or {}).items()})
        # A row for an epoch already logged (a rerun after a resume without
        # restored state) replaces it, so each epoch appears once.
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        self._write()

    # -- state ------------------------------------------------------------

    def get_state(self) -> dict:
        return {"rows": [dict(r) for r in self.rows]}

    def set_state(self, state: dict) -> None:
        self.rows = [dict(r) for r in state["rows"]]
        self._write()

    # -- file -------------------------------------------------------------

    def _columns(self) -> list[str]:
        keys = {key for row in self.rows for key in row if key != "epoch"}
        return ["epoch", *sorted(keys)]

    def _write(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer,
            fieldnames=self._columns(),
            delimiter=self.separator,
            lineterminator="\n",
            restval="NA",
        )
        writer.writeheader()
        writer.writerows(self.rows)
        _atomic.write_text(self.filename, buffer.getvalue())

    def _read_existing(self) -> list[dict]:
        if not self.filename.exists():
            return []
        with open(self.filename, newline="") as f:
            reader = csv.DictReader(f, delimiter=self.separator)
            rows = list(reader)
        if rows and "epoch" not in (reader.fieldnames or ()):
            raise ValueError(
                f"Cannot append to {str(self.filename)!r}: it has no 'epoch' "
                f"column (columns: {reader.fieldnames}). Use another `filename` "
                "or `append=False`."
            )
        return [{k: _parse(k, v) for k, v in row.items()} for row in rows]


def _plain(value):
    """A log value as a JSON- and CSV-friendly Python value."""
    if isinstance(value, str):
        return value
    array = np.asarray(value)
    if array.ndim == 0:
        return array.item()
    return "[" + ", ".join(str(v) for v in array.reshape(-1).tolist()) + "]"


def _parse(key: str, text: str):
    if key == "epoch":
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text
