"""Reads per-epoch logs from a History, a DataFrame, a CSV file or dicts."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from typing import Any


def _number(value: Any) -> float | None:
    """A float, or None for values that are not numbers (CSVLogger's "NA")."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _clean(row: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in row.items():
        number = _number(value)
        if number is not None and not (key == "epoch" and math.isnan(number)):
            out[str(key)] = number
    return out


def _order_by_epoch(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """Sorts rows by their `epoch` column, keeping the last row of an epoch.

    A resumed run appended to the same CSV file repeats the epochs it redid;
    the later rows are the ones that count. The column itself is dropped.
    """
    if not rows or not all("epoch" in row for row in rows):
        return [{k: v for k, v in row.items() if k != "epoch"} for row in rows]
    by_epoch = {}
    for row in rows:
        by_epoch[int(row["epoch"])] = {k: v for k, v in row.items() if k != "epoch"}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def _read_csv(path: str) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        sample = f.read(4096)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(f, dialect)
        header = None
        rows = []
        for record in reader:
            if not record:
                continue
            if header is None or record == header:
                header = record  # a file appended to by a resumed run repeats it
                continue
            rows.append(_clean(dict(zip(header, record))))
    if header is None:
        raise ValueError(f"{path!r} is empty; expected a CSVLogger file.")
    return rows


def load_logs(source: Any) -> list[dict[str, float]]:
    """Per-epoch logs, in epoch order, with only numeric values kept.

    Args:
        source: a `keras.callbacks.History` (or the dict in its `history`
            attribute), a pandas `DataFrame` with one row per epoch, the path
            of a `keras.callbacks.CSVLogger` file, or a list of per-epoch
            dicts.

    Returns:
        One dict per epoch mapping each log key to a float. An `epoch`
        column orders the rows and is then dropped.
    """
    if isinstance(source, (str, os.PathLike)):
        rows = _read_csv(os.fspath(source))
    elif hasattr(source, "history") and isinstance(source.history, Mapping):
        rows = _columns_to_rows(source.history)
    elif isinstance(source, Mapping):
        rows = _columns_to_rows(source)
    elif type(source).__module__.split(".")[0] == "pandas" and hasattr(
        source, "to_dict"
    ):
        rows = [_clean(row) for row in source.to_dict("records")]
    elif isinstance(source, (list, tuple)):
        if not all(isinstance(row, Mapping) for row in source):
            raise TypeError("A list of logs must hold one dict per epoch.")
        rows = [_clean(row) for row in source]
    else:
        raise TypeError(
            "Expected a keras History, a dict of lists, a pandas DataFrame, a "
            f"CSVLogger file path or a list of dicts; got {type(source).__name__}."
        )
    rows = _order_by_epoch(rows)
    if not rows:
        raise ValueError("The training log has no epochs.")
    return rows


def _columns_to_rows(columns: Mapping[str, Any]) -> list[dict[str, float]]:
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(
            "Every key of the history must have one value per epoch; got "
            f"lengths {sorted(lengths)}."
        )
    n = lengths.pop() if lengths else 0
    return [_clean({k: v[i] for k, v in columns.items()}) for i in range(n)]
