"""Loads EpochBench's recorded learning curves.

    from benchmarks.curves import load_curves

    curves = load_curves("a")  # or "b", or a path to a .json.gz file

Each curve is a dict with the run's description (`id`, `dataset`, `kind`
("image", "tabular" or "sequence"), `task` ("classification" or
"regression"), `model`, `optimizer`, `learning_rate`, `label_noise`, `regime`
("clean", "noisy" or "small"), `train_size`, `batch_size`, `seed`, `budget`)
and two per-epoch lists of equal length: `logs`, every log Keras handed to
`on_epoch_end` (`loss`, `val_loss`, and `accuracy`/`val_accuracy` or
`mae`/`val_mae`), and `test`, the held-out test figures of that epoch's
weights (`loss` and `accuracy`, or `loss` and `mae` for regression).

For regression, targets are standardised on the training split, and
`label_noise` is the standard deviation of the Gaussian noise added to the
standardised training and validation targets; for classification it is the
share of training and validation labels flipped to another class. The test
set is always clean.
"""

from __future__ import annotations

import gzip
import json
import pathlib

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
V2_DIR = DATA_DIR / "v2"
RECORDINGS = ("a", "b")


def curves_path(recording: str) -> pathlib.Path:
    """The file of a recording: "a" (tuning seeds) or "b" (check seeds)."""
    if recording not in RECORDINGS:
        raise ValueError(
            f"`recording` must be one of {RECORDINGS}; received: {recording!r}"
        )
    return DATA_DIR / f"curves_{recording}.json.gz"


def load_curves(recording: str | pathlib.Path) -> list[dict]:
    """Returns the curves of a recording ("a" or "b") or of a `.json.gz` path."""
    path = pathlib.Path(recording)
    if str(recording) in RECORDINGS:
        path = curves_path(str(recording))
    with gzip.open(path, "rt") as f:
        return json.load(f)


def load_v2(directory: str | pathlib.Path = V2_DIR) -> list[dict]:
    """Every EpochBench v2 curve, family by family (files sorted by name)."""
    curves = []
    for path in sorted(pathlib.Path(directory).glob("*.json.gz")):
        curves.extend(load_curves(path))
    return curves
