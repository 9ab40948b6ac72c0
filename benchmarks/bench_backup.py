"""The cost of resume safety: keras-epochkit's BackupAndRestore against Keras's.

keras-epochkit's `BackupAndRestore` writes each epoch's backup twice (at its
own epoch end, then once every callback has finished the epoch), fsyncs
every file and keeps every callback's state; Keras's writes once. This
measures what that costs per epoch, against Keras's `BackupAndRestore` and
against no backup at all, in the same process.

Protocol: an MLP on a generated regression task (2,048 samples, batch 256,
8 steps per epoch), at two sizes; for each size the three arms (none, Keras,
keras-epochkit) run `fit(epochs=E)` in interleaved order, `--repeats` times,
after one warm-up fit per arm that is not counted. Figures are the median
seconds per epoch with the interquartile range, and the ratio of each backup
arm to the bare arm, median over repeats of the per-repeat ratio with its
IQR. Beside Keras's and EarlyStopping, ReduceLROnPlateau and CSVLogger run
in every arm, as a user's fit would have them.

Usage:

    KERAS_BACKEND=jax python benchmarks/bench_backup.py
    KERAS_BACKEND=jax python benchmarks/bench_backup.py --repeats 2 --no-write
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras
import numpy as np

import keras_epochkit as ek
from benchmarks.tables import markdown_table
from benchmarks.tables import write_section

SIZES = {"0.03M parameters": 128, "4.2M parameters": 1024}
ARMS = ("none", "Keras BackupAndRestore", "keras-epochkit BackupAndRestore")


def make_model(width: int) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def run(arm: str, width: int, epochs: int, data, workdir: pathlib.Path) -> float:
    """Seconds per epoch of one fit (the first epoch, which compiles, left out)."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    callbacks = [
        keras.callbacks.EarlyStopping(patience=100),
        keras.callbacks.ReduceLROnPlateau(patience=100),
        keras.callbacks.CSVLogger(str(workdir / "log.csv")),
    ]
    if arm == ARMS[1]:
        callbacks.append(keras.callbacks.BackupAndRestore(str(workdir / "backup")))
    elif arm == ARMS[2]:
        callbacks.append(ek.callbacks.BackupAndRestore(workdir / "backup"))
    model = make_model(width)
    x, y = data
    started = []

    class Begin(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.append(time.perf_counter())

    model.fit(
        x,
        y,
        validation_split=0.2,
        batch_size=256,
        epochs=epochs,
        verbose=0,
        callbacks=[Begin(), *callbacks],
    )
    # Epoch k's time: from its begin to the next epoch's begin (every
    # callback's epoch end included); the compiling first epoch is left out.
    gaps = np.diff(started)[1:]
    return float(np.median(gaps))


def iqr(values) -> str:
    q1, q3 = np.percentile(values, [25, 75])
    return f"{q1:.3g}-{q3:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, 64)).astype("float32")
    y = (x[:, :8].sum(axis=1, keepdims=True) + rng.normal(size=(2048, 1))).astype(
        "float32"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, width in SIZES.items():
            for arm in ARMS:  # warm-up, not counted
                run(arm, width, 3, (x, y), pathlib.Path(tmp) / "warm")
            per_arm = {arm: [] for arm in ARMS}
            for repeat in range(args.repeats):
                order = ARMS if repeat % 2 == 0 else tuple(reversed(ARMS))
                for arm in order:
                    per_arm[arm].append(
                        run(arm, width, args.epochs, (x, y), pathlib.Path(tmp) / "run")
                    )
            bare = np.asarray(per_arm[ARMS[0]])
            for arm in ARMS:
                seconds = np.asarray(per_arm[arm])
                ratios = seconds / bare
                rows.append(
                    [
                        label,
                        arm,
                        f"{np.median(seconds) * 1e3:.1f} ms ({iqr(seconds * 1e3)})",
                        "1"
                        if arm == ARMS[0]
                        else f"{np.median(ratios):.2f} ({iqr(ratios)})",
                    ]
                )
                print(rows[-1], flush=True)
    table = markdown_table(
        [
            "Model",
            "Backup",
            "Seconds per epoch, median (IQR)",
            "ratio to no backup (IQR)",
        ],
        rows,
    )
    body = (
        f"## Backup cost ({keras.backend.backend()})\n\n"
        "Time per epoch (from one epoch's begin to the next, every callback's "
        "epoch end included; the compiling first epoch left out) of an MLP on "
        "2,048 generated samples, 8 steps of 256 per epoch, with Keras's "
        "EarlyStopping, ReduceLROnPlateau and CSVLogger in every arm. "
        "keras-epochkit's `BackupAndRestore` writes two fsynced backups per "
        "epoch (see the resuming guide); Keras's writes one without fsync. "
        f"Arms interleaved, {args.repeats} repeats of {args.epochs} epochs.\n\n" + table
    )
    print(body)
    if not args.no_write:
        write_section(f"backup-{keras.backend.backend()}", body)


if __name__ == "__main__":
    main()
