"""CSVLogger: Keras's per-epoch CSV log, safe to resume."""

from __future__ import annotations

import csv
import io
import os
import pathlib

import numpy as np

from keras_epochkit import _atomic
from keras_epochkit.callbacks._stateful import StatefulCallback

# Keras's logger writes with the csv module's "excel" dialect.
_LINE_END = "\r\n"


class CSVLogger(StatefulCallback):
    """Writes each epoch's logs to a CSV file; a resumed run keeps it exact.

    The file is laid out as `keras.callbacks.CSVLogger` writes it: an `epoch`
    column, then the first epoch's log keys in sorted order (with a `val_`
    twin of each when the first epoch has no validation keys, as Keras adds),
    `"NA"` for a missing value, and `"\\r\\n"` line endings. So
    `keras_epochkit.analysis` and any CSV reader take it as they take
    Keras's. The differences:

    * The whole file is rewritten atomically at every epoch end (a temporary
      file, then a rename), so a crash never leaves a torn last line.
    * A key that appears only after the first epoch gets a column of its own,
      added at the end (Keras's writer raises on it), and an array value is
      written as one field `[1, 2]` (Keras writes it with literal quotes
      inside the field).
    * The rows are the callback's state (`get_state`/`set_state`, under the
      `state_key` `"CSVLogger"`). Handed to
      `keras_epochkit.callbacks.BackupAndRestore(callbacks=[...])`, a resumed
      run rewrites the file with exactly the rows logged before the restored
      epoch: epochs that ran after the last backup and are run again appear
      once. Keras's logger in append mode writes such epochs twice.

    Args:
        filename: path of the CSV file.
        separator: the column separator. Defaults to `","`.
        append: keep the rows already in `filename` and add this `fit`'s
            rows after them, as Keras does; no earlier row is ever dropped.
            With `False` (the default) every `fit()` starts a new file.

    Examples:
        >>> import numpy as np, keras, tempfile, os
        >>> from keras_epochkit.callbacks import CSVLogger
        >>> path = os.path.join(tempfile.mkdtemp(), "history.csv")
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 2)), np.ones((8, 1))
        >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
        >>> open(path).read().splitlines()[0]
        'epoch,loss,val_loss'
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
        self.columns: list[str] = []

    def reset_state(self) -> None:
        """Forgets the rows, or re-reads the file's rows with `append=True`."""
        self.rows, self.columns = [], []
        if self.append:
            self._read_existing()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": int(epoch)}
        row.update({key: _plain(value) for key, value in (logs or {}).items()})
        if not self.columns:
            self.columns = _keras_columns(row)
        self.columns += sorted(key for key in row if key not in self.columns)
        self.rows.append(row)
        self._write()

    # -- state ------------------------------------------------------------

    def _get_state(self) -> dict:
        return {"rows": [dict(r) for r in self.rows], "columns": list(self.columns)}

    def _set_state(self, state: dict) -> None:
        self.rows = [dict(r) for r in state["rows"]]
        self.columns = list(state.get("columns") or [])
        if not self.columns and self.rows:
            self.columns = _keras_columns(self.rows[0])
        for row in self.rows:
            self.columns += sorted(key for key in row if key not in self.columns)
        self._write()

    # -- file -------------------------------------------------------------

    def _write(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer,
            fieldnames=self.columns,
            delimiter=self.separator,
            lineterminator=_LINE_END,
            restval="NA",
        )
        writer.writeheader()
        writer.writerows(self.rows)
        _atomic.write_text(self.filename, buffer.getvalue())

    def _read_existing(self) -> None:
        if not self.filename.exists():
            return
        with open(self.filename, newline="") as f:
            reader = csv.DictReader(f, delimiter=self.separator)
            rows = list(reader)
        columns = list(reader.fieldnames or [])
        if columns and "epoch" not in columns:
            raise ValueError(
                f"Cannot append to {str(self.filename)!r}: it has no 'epoch' "
                f"column (columns: {columns}). Use another `filename` or "
                "`append=False`."
            )
        # The text of earlier rows is kept as it is, digit for digit.
        self.rows = [dict(row) for row in rows]
        self.columns = columns


def _keras_columns(row: dict) -> list[str]:
    """The header Keras's CSVLogger writes for a file whose first row is `row`."""
    keys = sorted(key for key in row if key != "epoch")
    if keys and not any(key.startswith("val_") for key in keys):
        keys += [f"val_{key}" for key in keys]
    return ["epoch", *keys]


def _plain(value):
    """A log value as a JSON- and CSV-friendly Python value."""
    if isinstance(value, str):
        return value
    array = np.asarray(value)
    if array.ndim == 0:
        return array.item()
    return "[" + ", ".join(str(v) for v in array.reshape(-1).tolist()) + "]"
