"""Budgeted training on bundled data: budget-aware schedules vs. the usual ones.

For a reference of `--reference` epochs and budgets of 10%, 25%, 50% and 100%
of it, two models train on scikit-learn's digits (8x8 images): a small CNN
and a GRU that reads the image row by row. Every model uses the same
optimizer (SGD, momentum 0.9, peak rate `--lr`) with five learning-rate
rules:

- constant rate (the peak rate throughout);
- Keras `CosineDecay` sized for the full reference and cut short at the
  budget (the usual mistake when the budget changes);
- keras-epochkit `LinearDecay`, `CosineDecay` and `WarmupStableDecay`
  (decay over the last 20%, 1-sqrt), each bound to the budget by
  `EpochBudget`.

Figures: test accuracy (a fixed held-out split) after the last epoch, mean
and spread (standard deviation) over `--seeds` seeds; and, per rule, the
share of its own full-budget accuracy kept at 25% of the budget.

Usage:

    KERAS_BACKEND=jax python benchmarks/bench_budgets.py
    KERAS_BACKEND=jax python benchmarks/bench_budgets.py --seeds 1 --reference 10   # smoke
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_epochkit as ek
from benchmarks.tables import markdown_table
from benchmarks.tables import write_section

BUDGETS = (0.10, 0.25, 0.50, 1.00)
BATCH_SIZE = 32
RULES = (
    "constant",
    "Keras CosineDecay (full budget, cut short)",
    "LinearDecay + EpochBudget",
    "CosineDecay + EpochBudget",
    "WarmupStableDecay + EpochBudget",
)
BUDGET_AWARE = RULES[2:]


def load_data():
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")
    y = digits.target.astype("int32")
    return train_test_split(x, y, test_size=0.33, random_state=0, stratify=y)


def make_model(kind: str) -> keras.Model:
    if kind == "cnn":
        layers = [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    else:
        layers = [
            keras.Input((8, 8)),
            keras.layers.GRU(32),
            keras.layers.Dense(10, activation="softmax"),
        ]
    return keras.Sequential(layers)


def learning_rate(rule: str, peak: float, reference_steps: int):
    if rule == "constant":
        return peak
    if rule.startswith("Keras"):
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=reference_steps)
    if rule.startswith("LinearDecay"):
        return ek.schedules.LinearDecay(peak)
    if rule.startswith("CosineDecay"):
        return ek.schedules.CosineDecay(peak)
    return ek.schedules.WarmupStableDecay(peak, decay_fraction=0.2)


class Trainer:
    """One compiled model per (model, rule), re-initialized for every run.

    Compiling once and resetting the weights (drawn from the seed) and the
    optimizer's state between runs keeps the benchmark about training, not
    about compiling the same graph a hundred times.
    """

    def __init__(self, kind, rule, data, args):
        x_train, x_test, y_train, y_test = data
        if kind == "cnn":
            x_train, x_test = x_train[..., None], x_test[..., None]
        self.x_train, self.x_test = x_train, x_test
        self.y_train, self.y_test = y_train, y_test
        self.kind, self.rule = kind, rule
        steps = math.ceil(len(x_train) / BATCH_SIZE)
        self.model = make_model(kind)
        self.model.compile(
            optimizer=keras.optimizers.SGD(
                learning_rate(rule, args.lr, args.reference * steps), momentum=0.9
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )

    def run(self, epochs: int, seed: int) -> float:
        keras.utils.set_random_seed(seed)
        self.model.set_weights(make_model(self.kind).get_weights())
        optimizer = self.model.optimizer
        for variable in optimizer.variables:
            if variable is not getattr(optimizer, "_learning_rate", None):
                variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
        callbacks = [ek.callbacks.EpochBudget()] if self.rule in BUDGET_AWARE else []
        self.model.fit(
            self.x_train,
            self.y_train,
            batch_size=BATCH_SIZE,
            epochs=epochs,
            verbose=0,
            callbacks=callbacks,
        )
        _, accuracy = self.model.evaluate(self.x_test, self.y_test, verbose=0)
        return 100.0 * float(accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--models", default="cnn,gru")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    data = load_data()
    started = time.time()
    sections = []
    for kind in args.models.split(","):
        results = {}
        for rule in RULES:
            trainer = Trainer(kind, rule, data, args)
            for budget in BUDGETS:
                epochs = max(1, round(budget * args.reference))
                scores = [trainer.run(epochs, seed) for seed in range(args.seeds)]
                results[rule, budget] = np.array(scores)
                print(
                    f"{kind:4s} {rule:45s} {budget:4.0%} ({epochs:3d} epochs): "
                    f"{np.mean(scores):6.2f} ± {np.std(scores):.2f}  "
                    f"[{time.time() - started:.0f}s]",
                    flush=True,
                )
        sections.append(render(kind, results, args))
    body = (
        "## Budgets: accuracy in a fixed epoch budget\n\n"
        f"Test accuracy (%) on scikit-learn digits (1,203 train / 594 test) "
        f"after training for a share of a {args.reference}-epoch reference, "
        f"mean ± standard deviation over {args.seeds} seeds; SGD with momentum "
        f"0.9, peak rate {args.lr}, batch {BATCH_SIZE}; backend "
        f'{keras.backend.backend()} on the CPU. "Kept at 25%" is the rule\'s '
        "mean accuracy at 25% of the budget over its own at 100%. "
        "**Bold**: a budget-aware rule above both the constant rate and the "
        "truncated Keras cosine at that budget.\n\n" + "\n\n".join(sections)
    )
    if args.no_write:
        print(body)
    else:
        write_section("budgets", body, command=_command())
    print(f"done in {time.time() - started:.0f}s")


def render(kind, results, args) -> str:
    title = {"cnn": "digits CNN", "gru": "digits GRU (rows as a sequence)"}[kind]
    headers = ["rule"]
    headers += [f"{b:.0%} ({max(1, round(b * args.reference))} ep.)" for b in BUDGETS]
    headers += ["kept at 25%"]
    rows = []
    for rule in RULES:
        row = [rule]
        for budget in BUDGETS:
            scores = results[rule, budget]
            cell = f"{scores.mean():.2f} ± {scores.std():.2f}"
            baseline = max(
                results[RULES[0], budget].mean(), results[RULES[1], budget].mean()
            )
            if rule in BUDGET_AWARE and budget < 1.0 and scores.mean() > baseline:
                cell = f"**{cell}**"
            row.append(cell)
        kept = results[rule, 0.25].mean() / results[rule, 1.0].mean()
        row.append(f"{100 * kept:.1f}%")
        rows.append(row)
    return f"### {title}\n\n" + markdown_table(headers, rows)


def _command() -> str:
    return f"KERAS_BACKEND={keras.backend.backend()} python " + " ".join(sys.argv)


if __name__ == "__main__":
    main()
