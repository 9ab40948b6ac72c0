"""Records EpochBench v2: learning-curve families where patience fails or wastes epochs.

Each family is one training recipe (data, tiny model, optimizer, schedule,
batch size, budget of 50, 100 or 200 epochs) run with several seeds. The
families cover learning-rate staircases from `ReduceLROnPlateau` (with
`learning_rate` in the logs), cosine and linear annealing to the end of the
budget, long plateaus before a breakthrough (sparse parity and the adding
problem under SGD), large batches, tiny or noisy validation sets, heavy label
noise, slow SGD, regression, forecasting, and dropout/input-noise
augmentation. Per epoch a curve keeps every log Keras hands to
`on_epoch_end` and the figures of that epoch's weights on a held-out test
set that no callback ever sees (see `benchmarks/curves.py`).

Recording is resumable and usable when cut short: seeds are recorded
round-robin over the families (every family gets its first seed before any
gets its second), each curve is written on its own to `--parts` as soon as
it is done, and `--assemble` (also run at the end) gathers the parts into
one file per family, `benchmarks/data/v2/<family>.json.gz`.

Usage:

    python benchmarks/record_curves_v2.py                      # everything
    python benchmarks/record_curves_v2.py --seeds 2 --only parity
    python benchmarks/record_curves_v2.py --assemble           # parts -> files
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import os
import pathlib
import sys
import time

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.record_curves import _init_worker
from benchmarks.record_curves import _round
from benchmarks.record_curves import test_figures
from benchmarks.record_curves import write_curves

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data" / "v2"
PARTS_DIR = pathlib.Path("/tmp/epochbench_v2_parts")
SEEDS = 13
SEED_BASE = 3000

# name -> recipe. Keys: dataset, task, model (units), optimizer, lr,
# schedule (None, "plateau", "cosine", "linear"), batch (None: full batch),
# budget, label_noise, val_size (None: 20% of the non-test data),
# val_noise (label noise on the validation split only), dropout, input_noise.
FAMILIES: dict[str, dict] = {
    "digits-plateau-lr": dict(
        dataset="digits",
        model=32,
        optimizer="adam",
        lr=3e-3,
        schedule="plateau",
        batch=128,
        budget=100,
    ),
    "breast-sgd-plateau-lr": dict(
        dataset="breast_cancer",
        model=16,
        optimizer="sgd",
        lr=0.05,
        schedule="plateau",
        batch=64,
        budget=100,
    ),
    "digits-cosine": dict(
        dataset="digits",
        model=32,
        optimizer="adam",
        lr=2e-3,
        schedule="cosine",
        batch=256,
        budget=100,
    ),
    "friedman-linear-decay": dict(
        dataset="friedman",
        model=32,
        optimizer="sgd",
        lr=0.02,
        schedule="linear",
        batch=64,
        budget=100,
    ),
    "parity-sgd": dict(
        dataset="parity",
        model=64,
        optimizer="sgd",
        lr=0.03,
        batch=64,
        budget=200,
    ),
    "adding-sgd": dict(
        dataset="adding",
        model="gru8",
        optimizer="sgd",
        lr=0.1,
        batch=64,
        budget=200,
    ),
    "digits-large-batch": dict(
        dataset="digits",
        model=32,
        optimizer="adam",
        lr=2e-3,
        batch=None,
        budget=200,
    ),
    "wine-tiny-val": dict(
        dataset="wine",
        model=16,
        optimizer="adam",
        lr=3e-3,
        batch=32,
        budget=100,
        val_size=12,
    ),
    "synth-noisy-val": dict(
        dataset="synth_cls",
        model=32,
        optimizer="adam",
        lr=3e-3,
        batch=64,
        budget=100,
        val_size=40,
        val_noise=0.2,
    ),
    "digits-label-noise": dict(
        dataset="digits",
        model=64,
        optimizer="adam",
        lr=3e-3,
        batch=64,
        budget=50,
        label_noise=0.4,
    ),
    "synth-label-noise": dict(
        dataset="synth_cls",
        model=64,
        optimizer="adam",
        lr=1e-2,
        batch=64,
        budget=100,
        label_noise=0.3,
    ),
    "digits-slow-sgd": dict(
        dataset="digits",
        model=32,
        optimizer="sgd",
        lr=3e-3,
        batch=64,
        budget=200,
    ),
    "diabetes-regression": dict(
        dataset="diabetes",
        model=32,
        optimizer="adam",
        lr=3e-3,
        batch=32,
        budget=100,
    ),
    "forecast-sines": dict(
        dataset="sines",
        model=16,
        optimizer="adam",
        lr=1e-3,
        batch=128,
        budget=100,
    ),
    "forecast-ar-rmsprop": dict(
        dataset="ar",
        model=16,
        optimizer="rmsprop",
        lr=1e-3,
        batch=128,
        budget=50,
    ),
    "digits-dropout": dict(
        dataset="digits",
        model=64,
        optimizer="adam",
        lr=3e-3,
        batch=64,
        budget=100,
        dropout=0.5,
    ),
    "forecast-input-noise": dict(
        dataset="sines",
        model=16,
        optimizer="adam",
        lr=3e-3,
        batch=64,
        budget=100,
        input_noise=0.3,
        dropout=0.2,
    ),
}
TASKS = {
    "digits": "classification",
    "breast_cancer": "classification",
    "wine": "classification",
    "synth_cls": "classification",
    "parity": "classification",
    "friedman": "regression",
    "diabetes": "regression",
    "adding": "regression",
    "sines": "regression",
    "ar": "regression",
}


def _windows(series: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(width)[None, :] + np.arange(len(series) - width)[:, None]
    return series[index].astype("float32"), series[width:].astype("float32")


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets of a dataset; fixed (seed 0) for generated ones."""
    from sklearn import datasets

    rng = np.random.default_rng(0)
    if name == "digits":
        x, y = datasets.load_digits(return_X_y=True)
        return (x / 16.0).astype("float32"), y.astype("int32")
    if name == "breast_cancer":
        x, y = datasets.load_breast_cancer(return_X_y=True)
        return x.astype("float32"), y.astype("float32")
    if name == "wine":
        x, y = datasets.load_wine(return_X_y=True)
        return x.astype("float32"), y.astype("int32")
    if name == "synth_cls":
        x, y = datasets.make_classification(
            n_samples=1500,
            n_features=20,
            n_informative=6,
            n_redundant=4,
            n_classes=3,
            class_sep=0.8,
            random_state=0,
        )
        return x.astype("float32"), y.astype("int32")
    if name == "parity":
        # Sparse parity: the label is the XOR of 4 of 20 random bits.
        x = rng.integers(0, 2, size=(3000, 20))
        y = x[:, :4].sum(axis=1) % 2
        return (2.0 * x - 1.0).astype("float32"), y.astype("float32")
    if name == "friedman":
        x, y = datasets.make_friedman1(n_samples=1000, noise=1.0, random_state=0)
        return x.astype("float32"), y.astype("float32")
    if name == "diabetes":
        x, y = datasets.load_diabetes(return_X_y=True)
        return x.astype("float32"), y.astype("float32")
    if name == "adding":
        n, steps = 1200, 30
        values = rng.uniform(0, 1, size=(n, steps))
        markers = np.zeros((n, steps))
        for i in range(n):
            markers[i, rng.choice(steps, size=2, replace=False)] = 1.0
        x = np.stack([values, markers], axis=-1).astype("float32")
        return x, (values * markers).sum(axis=1).astype("float32")
    if name == "sines":
        t = np.arange(2600)
        series = (
            np.sin(2 * np.pi * t / 50)
            + 0.5 * np.sin(2 * np.pi * t / 13 + 1.0)
            + 0.3 * rng.standard_normal(len(t))
        )
        return _windows(series, 24)
    if name == "ar":
        series = np.zeros(2600)
        shocks = rng.standard_normal(len(series))
        for i in range(2, len(series)):
            series[i] = 1.2 * series[i - 1] - 0.5 * series[i - 2] + shocks[i]
        return _windows(series / series.std(), 16)
    raise ValueError(f"unknown dataset {name!r}")


def curve_configs(seeds: int = SEEDS) -> list[dict]:
    """Every curve, round-robin over the families (seed index major)."""
    configs = []
    names = list(FAMILIES)
    for s in range(seeds):
        for f, name in enumerate(names):
            recipe = FAMILIES[name]
            configs.append(
                {
                    "id": f"v2-{name}-s{s}",
                    "family": name,
                    "task": TASKS[recipe["dataset"]],
                    "seed": SEED_BASE + 100 * f + s,
                    **recipe,
                }
            )
    return configs


def split(config: dict):
    """Fixed test split; seeded validation split, label noise and shuffling.

    Forecasting windows keep time order: train, then validation, then test.
    """
    x, y = load_dataset(config["dataset"])
    rng = np.random.default_rng(config["seed"])
    task = config["task"]
    n = len(x)
    n_test = round(0.25 * n)
    if config["dataset"] in ("sines", "ar"):
        n_val = round(0.2 * (n - n_test))
        train = np.arange(n - n_test - n_val)
        val = np.arange(n - n_test - n_val, n - n_test)
        test = np.arange(n - n_test, n)
    else:
        fixed = np.random.default_rng(0).permutation(n)
        test, rest = fixed[:n_test], rng.permutation(fixed[n_test:])
        n_val = config.get("val_size") or round(0.2 * len(rest))
        val, train = rest[:n_val], rest[n_val:]
    x_train, y_train = x[train], y[train].copy()
    x_val, y_val = x[val], y[val].copy()
    x_test, y_test = x[test], y[test].copy()
    if task == "regression":
        mean, std = y_train.mean(), y_train.std() + 1e-8
        y_train, y_val, y_test = ((t - mean) / std for t in (y_train, y_val, y_test))
    if x.ndim == 2 and config["dataset"] not in ("parity",):
        mean, std = x_train.mean(0), x_train.std(0) + 1e-8
        x_train, x_val, x_test = ((t - mean) / std for t in (x_train, x_val, x_test))
    n_classes = int(y.max()) + 1 if task == "classification" else 0

    def flip(labels, share):
        hit = rng.random(len(labels)) < share
        shift = rng.integers(1, n_classes, size=len(labels))
        flipped = (labels.astype("int64") + shift) % n_classes
        labels[hit] = flipped[hit].astype(labels.dtype)

    noise = config.get("label_noise", 0.0)
    if noise and task == "classification":
        flip(y_train, noise)
        flip(y_val, noise)
    if config.get("val_noise") and task == "classification":
        flip(y_val, config["val_noise"])
    f32 = lambda t: np.asarray(t, dtype="float32")  # noqa: E731
    ycast = (
        (lambda t: np.asarray(t, dtype=y.dtype)) if task == "classification" else f32
    )
    return (
        (f32(x_train), ycast(y_train)),
        (f32(x_val), ycast(y_val)),
        (f32(x_test), ycast(y_test)),
        n_classes,
    )


def build_model(config: dict, input_shape: tuple, n_classes: int):
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    h = inputs
    if config.get("input_noise"):
        h = layers.GaussianNoise(config["input_noise"])(h)
    if config["model"] == "gru8":
        h = layers.GRU(8)(h)
    else:
        units = int(config["model"])
        activation = "tanh" if config["dataset"] == "parity" else "relu"
        h = layers.Dense(units, activation=activation)(h)
        if config.get("dropout"):
            h = layers.Dropout(config["dropout"])(h)
        if config["dataset"] not in ("parity",):
            h = layers.Dense(max(units // 2, 8), activation="relu")(h)
            if config.get("dropout"):
                h = layers.Dropout(config["dropout"])(h)
    if config["task"] == "regression":
        outputs = layers.Dense(1)(h)
        loss, metrics = "mse", ["mae"]
    elif n_classes == 2:
        outputs = layers.Dense(1, activation="sigmoid")(h)
        loss, metrics = "binary_crossentropy", ["accuracy"]
    else:
        outputs = layers.Dense(n_classes, activation="softmax")(h)
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    model = keras.Model(inputs, outputs)
    lr = config["lr"]
    optimizer = {
        "adam": lambda: keras.optimizers.Adam(learning_rate=lr),
        "sgd": lambda: keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
        "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate=lr),
    }[config["optimizer"]]()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def schedule_callbacks(config: dict) -> list:
    """The learning-rate callback of the recipe; each puts `learning_rate` in the logs."""
    import keras

    kind, lr, budget = config.get("schedule"), config["lr"], config["budget"]
    if kind == "plateau":
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=0.3, patience=6, min_lr=1e-6
            )
        ]
    if kind == "cosine":
        return [
            keras.callbacks.LearningRateScheduler(
                lambda e, _: 0.5 * lr * (1 + math.cos(math.pi * e / budget))
            )
        ]
    if kind == "linear":
        return [
            keras.callbacks.LearningRateScheduler(lambda e, _: lr * (1 - e / budget))
        ]
    return []


def record_one(config: dict) -> dict:
    """Trains one model for its full budget and returns its curve."""
    import keras

    keras.utils.set_random_seed(config["seed"])
    (x_train, y_train), (x_val, y_val), (x_test, y_test), n_classes = split(config)
    model = build_model(config, x_train.shape[1:], n_classes)
    logs_per_epoch: list[dict] = []
    test_per_epoch: list[dict] = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs_per_epoch.append({k: float(v) for k, v in (logs or {}).items()})
            pred = np.asarray(self.model.predict_on_batch(x_test))
            test_per_epoch.append(test_figures(pred, y_test, config["task"], n_classes))

    batch = config.get("batch") or len(x_train)
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=config["budget"],
        batch_size=batch,
        callbacks=[*schedule_callbacks(config), Recorder()],
        verbose=0,
    )
    curve = {
        "id": config["id"],
        "family": config["family"],
        "dataset": config["dataset"],
        "kind": "sequence"
        if config["dataset"] in ("adding", "sines", "ar")
        else "tabular",
        "task": config["task"],
        "model": str(config["model"]),
        "optimizer": config["optimizer"],
        "learning_rate": config["lr"],
        "schedule": config.get("schedule"),
        "label_noise": config.get("label_noise", 0.0),
        "regime": config["family"],
        "params": int(model.count_params()),
        "train_size": len(x_train),
        "val_size": len(x_val),
        "test_size": len(x_test),
        "batch_size": batch,
        "seed": config["seed"],
        "budget": config["budget"],
        "backend": keras.backend.backend(),
        "seconds": round(time.perf_counter() - start, 1),
        "logs": logs_per_epoch,
        "test": test_per_epoch,
    }
    return _round(curve)


def _part_path(parts: pathlib.Path, config: dict) -> pathlib.Path:
    return parts / f"{config['id']}.json.gz"


def _record_part(job: tuple[dict, str]) -> str:
    config, parts = job
    curve = record_one(config)
    write_curves([curve], _part_path(pathlib.Path(parts), config))
    return f"{time.strftime('%H:%M:%S')} {curve['id']} {curve['seconds']}s"


def assemble(parts: pathlib.Path, out_dir: pathlib.Path = DATA_DIR) -> dict[str, int]:
    """Gathers the recorded parts into one file per family; returns the counts."""
    counts = {}
    for name in FAMILIES:
        curves = []
        for path in sorted(parts.glob(f"v2-{name}-s*.json.gz")):
            with gzip.open(path, "rt") as f:
                curves.extend(json.load(f))
        if curves:
            curves.sort(key=lambda c: c["seed"])
            write_curves(curves, out_dir / f"{name}.json.gz")
        counts[name] = len(curves)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="jax")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--only", default=None, help="substring of the family names")
    parser.add_argument("--parts", type=pathlib.Path, default=PARTS_DIR)
    parser.add_argument("--out", type=pathlib.Path, default=DATA_DIR)
    parser.add_argument("--assemble", action="store_true", help="only assemble parts")
    args = parser.parse_args(argv)
    args.parts.mkdir(parents=True, exist_ok=True)
    if not args.assemble:
        configs = [
            c
            for c in curve_configs(args.seeds)
            if (args.only is None or args.only in c["family"])
            and not _part_path(args.parts, c).exists()
        ]
        print(f"recording {len(configs)} curves on {args.backend}", flush=True)
        start = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(
            args.processes,
            initializer=_init_worker,
            initargs=(args.backend,),
            maxtasksperchild=20,
        ) as pool:
            jobs = [(c, str(args.parts)) for c in configs]
            for line in pool.imap(_record_part, jobs, chunksize=1):
                print(line, flush=True)
        print(f"recorded in {time.perf_counter() - start:.0f}s", flush=True)
    counts = assemble(args.parts, args.out)
    print("curves per family:", counts, "total", sum(counts.values()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
