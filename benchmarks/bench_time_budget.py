"""TimeBudget on the CPU: how close training ends to its deadline, and accuracy.

A digits CNN (scikit-learn digits, 8x8) trains with `fit(epochs=10_000)`
under `TimeBudget(minutes=m)` for a few deadlines `m`, once with
`LinearDecay` re-targeted by the callback and once with a constant rate
(`Constant`: the same callback only stops it at the same deadline), both
SGD with momentum 0.9 and peak rate 0.05. Figures per run: wall time from
the start of training to its end as a share of the deadline, the overshoot
past the deadline (negative: ended early) next to the last epoch's duration,
the epochs run and the test accuracy. The first epoch includes compiling and
counts against the budget, as it would for a user.

Usage:

    KERAS_BACKEND=jax python benchmarks/bench_time_budget.py
    KERAS_BACKEND=jax python benchmarks/bench_time_budget.py --minutes 0.1 --no-write
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_epochkit as ek
from benchmarks.tables import markdown_table
from benchmarks.tables import write_section

RULES = ("LinearDecay + TimeBudget", "constant rate, stopped by TimeBudget")


class Timer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.started = time.monotonic()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(time.monotonic() - self._epoch)

    def on_train_end(self, logs=None):
        self.seconds = time.monotonic() - self.started


def run(rule: str, minutes: float, seed: int, data) -> dict:
    x_train, x_test, y_train, y_test = data
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    schedule = (
        ek.schedules.LinearDecay(0.05)
        if rule.startswith("Linear")
        else ek.schedules.Constant(0.05)
    )
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    timer = Timer()
    budget = ek.callbacks.TimeBudget(minutes=minutes)
    model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=10_000,
        verbose=0,
        callbacks=[timer, budget],
    )
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    keras.backend.clear_session()
    deadline = 60.0 * minutes
    return {
        "ratio": timer.seconds / deadline,
        "overshoot": timer.seconds - deadline,
        "last_epoch": timer.epochs[-1],
        "epochs": len(timer.epochs),
        "accuracy": 100.0 * float(accuracy),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="0.25,0.5,1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int32")
    data = train_test_split(x, y, test_size=0.33, random_state=0, stratify=y)

    rows = []
    for minutes in (float(m) for m in args.minutes.split(",")):
        for rule in RULES:
            r = run(rule, minutes, args.seed, data)
            print(minutes, rule, r, flush=True)
            rows.append(
                [
                    f"{60 * minutes:.0f} s",
                    rule,
                    f"{100 * r['ratio']:.1f}%",
                    f"{r['overshoot']:+.2f} s (last epoch {r['last_epoch']:.2f} s)",
                    r["epochs"],
                    f"{r['accuracy']:.2f}",
                ]
            )
    body = (
        "## Time budget: finishing on time\n\n"
        "A digits CNN trained with `fit(epochs=10_000)` under "
        "`TimeBudget(minutes=...)`; SGD with momentum 0.9, peak rate 0.05, "
        f"batch 32, seed {args.seed}; backend {keras.backend.backend()} on a "
        "CPU shared with other jobs. Wall time is from the start of training "
        "to its end (the first epoch includes compiling); overshoot is past "
        "the deadline (negative: ended before it). Target: within 5% of the "
        "deadline and never later than one epoch.\n\n"
        + markdown_table(
            [
                "deadline",
                "rule",
                "wall time / deadline",
                "overshoot",
                "epochs",
                "test accuracy (%)",
            ],
            rows,
        )
    )
    if args.no_write:
        print(body)
    else:
        command = f"KERAS_BACKEND={keras.backend.backend()} python " + " ".join(
            sys.argv
        )
        write_section("time_budget", body, command=command)


if __name__ == "__main__":
    main()
