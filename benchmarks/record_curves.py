"""Records EpochBench's learning curves with plain Keras models.

Each curve is one `model.fit` run of 100 epochs on bundled or synthetic data.
Per epoch it keeps every log Keras hands to `on_epoch_end` and the loss and
accuracy (regression: loss and mean absolute error) of that epoch's weights on
a held-out test set that no callback ever sees.

Usage:

    python benchmarks/record_curves.py --recording a   # tuning seeds
    python benchmarks/record_curves.py --recording b   # check seeds
    python benchmarks/record_curves.py --recording a --limit 2 --out /tmp/x.json.gz

The test split and the train/validation split of each dataset are fixed (seed
0); the curve's seed drives weight initialisation, shuffling, the small-data
subsample and the label noise. Recording "a" uses seeds from 1000, "b" from
2000. The output is `benchmarks/data/curves_<recording>.json.gz`: a JSON list of
curves with floats rounded to 6 significant digits.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import pathlib
import sys
import time

import numpy as np

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
BUDGET = 100
SEED_BASE = {"a": 1000, "b": 2000}

# (dataset, model, kind, task)
PAIRS = [
    ("digits", "mlp", "image", "classification"),
    ("digits", "cnn", "image", "classification"),
    ("breast_cancer", "mlp", "tabular", "classification"),
    ("wine", "mlp", "tabular", "classification"),
    ("digits_rows", "gru", "sequence", "classification"),
    ("digits_rows", "conv1d", "sequence", "classification"),
    ("diabetes", "mlp", "tabular", "regression"),
    ("friedman", "mlp", "tabular", "regression"),
    ("adding", "gru", "sequence", "regression"),
]
OPTIMIZERS = [
    ("adam", 1e-3),
    ("sgd", 1e-2),
    ("rmsprop", 1e-3),
    ("adam", 1e-2),
    ("sgd", 1e-1),
    ("rmsprop", 1e-4),
]
# regime -> (label_noise for classification, for regression, share of train kept)
REGIMES = {
    "clean": (0.0, 0.0, 1.0),
    "noisy": (0.3, 0.5, 1.0),
    "small": (0.0, 0.0, 0.2),
}


def curve_configs(recording: str) -> list[dict]:
    """The curves of one recording: every pair x regime, with two optimizers."""
    configs = []
    seed = SEED_BASE[recording]
    for p, (dataset, model, kind, task) in enumerate(PAIRS):
        for r, regime in enumerate(REGIMES):
            for k in range(2):
                # Rotate so that every optimizer meets every kind of curve.
                name, lr = OPTIMIZERS[(2 * (p + r) + k) % len(OPTIMIZERS)]
                noise_cls, noise_reg, share = REGIMES[regime]
                noise = noise_cls if task == "classification" else noise_reg
                configs.append(
                    {
                        "id": f"{recording}-{dataset}-{model}-{regime}-{name}{lr:g}",
                        "dataset": dataset,
                        "kind": kind,
                        "task": task,
                        "model": model,
                        "optimizer": name,
                        "learning_rate": lr,
                        "label_noise": noise,
                        "regime": regime,
                        "train_share": share,
                        "batch_size": 32,
                        "seed": seed,
                        "budget": BUDGET,
                    }
                )
                seed += 1
    return configs


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    if name == "digits":
        x, y = datasets.load_digits(return_X_y=True)
        return (x / 16.0).reshape(-1, 8, 8, 1).astype("float32"), y.astype("int32")
    if name == "digits_rows":
        x, y = datasets.load_digits(return_X_y=True)
        return (x / 16.0).reshape(-1, 8, 8).astype("float32"), y.astype("int32")
    if name == "breast_cancer":
        x, y = datasets.load_breast_cancer(return_X_y=True)
        return x.astype("float32"), y.astype("float32")
    if name == "wine":
        x, y = datasets.load_wine(return_X_y=True)
        return x.astype("float32"), y.astype("int32")
    if name == "diabetes":
        x, y = datasets.load_diabetes(return_X_y=True)
        return x.astype("float32"), y.astype("float32")
    if name == "friedman":
        x, y = datasets.make_friedman1(n_samples=1000, noise=1.0, random_state=0)
        return x.astype("float32"), y.astype("float32")
    if name == "adding":
        rng = np.random.default_rng(0)
        n, steps = 1200, 20
        values = rng.uniform(0, 1, size=(n, steps))
        markers = np.zeros((n, steps))
        for i in range(n):
            markers[i, rng.choice(steps, size=2, replace=False)] = 1.0
        x = np.stack([values, markers], axis=-1).astype("float32")
        return x, (values * markers).sum(axis=1).astype("float32")
    raise ValueError(f"unknown dataset {name!r}")


def split(config: dict):
    """Fixed test and validation splits; seeded subsample and label noise."""
    x, y = load_dataset(config["dataset"])
    fixed = np.random.default_rng(0).permutation(len(x))
    n_test = round(0.25 * len(x))
    n_val = round(0.2 * (len(x) - n_test))
    test, val, train = (
        fixed[:n_test],
        fixed[n_test : n_test + n_val],
        fixed[n_test + n_val :],
    )
    rng = np.random.default_rng(config["seed"])
    if config["train_share"] < 1.0:
        keep = max(round(config["train_share"] * len(train)), 16)
        train = rng.permutation(train)[:keep]
    x_train, y_train = x[train], y[train].copy()
    x_val, y_val = x[val], y[val].copy()
    x_test, y_test = x[test], y[test].copy()
    if config["task"] == "regression":
        # Standardise the target on the training split.
        mean, std = y_train.mean(), y_train.std() + 1e-8
        y_train, y_val, y_test = ((t - mean) / std for t in (y_train, y_val, y_test))
    if x.ndim == 2:
        mean, std = x_train.mean(0), x_train.std(0) + 1e-8
        x_train, x_val, x_test = ((t - mean) / std for t in (x_train, x_val, x_test))
    noise = config["label_noise"]
    if noise > 0:
        # Noise in the training and validation labels; the test set stays clean.
        if config["task"] == "classification":
            n_classes = int(y.max()) + 1
            for labels in (y_train, y_val):
                flip = rng.random(len(labels)) < noise
                shift = rng.integers(1, n_classes, size=len(labels))
                flipped = (labels.astype("int64") + shift) % n_classes
                labels[flip] = flipped[flip].astype(labels.dtype)
        else:
            y_train = y_train + noise * rng.standard_normal(len(y_train))
            y_val = y_val + noise * rng.standard_normal(len(y_val))
    cast = [np.asarray(t, dtype="float32") for t in (x_train, x_val, x_test)]
    ycast = [
        np.asarray(
            t, dtype=y.dtype if config["task"] == "classification" else "float32"
        )
        for t in (y_train, y_val, y_test)
    ]
    return (cast[0], ycast[0]), (cast[1], ycast[1]), (cast[2], ycast[2])


def build_model(config: dict, input_shape: tuple, n_classes: int):
    import keras
    from keras import layers

    name = config["model"]
    inputs = keras.Input(input_shape)
    h = inputs
    if name == "mlp":
        if len(input_shape) > 1:
            h = layers.Flatten()(h)
        units = 128 if config["kind"] == "image" else 64
        h = layers.Dense(units, activation="relu")(h)
        h = layers.Dense(units // 2, activation="relu")(h)
    elif name == "cnn":
        h = layers.Conv2D(16, 3, activation="relu", padding="same")(h)
        h = layers.MaxPooling2D()(h)
        h = layers.Conv2D(32, 3, activation="relu", padding="same")(h)
        h = layers.Flatten()(h)
        h = layers.Dense(64, activation="relu")(h)
    elif name == "gru":
        h = layers.GRU(32)(h)
    elif name == "conv1d":
        h = layers.Conv1D(32, 3, activation="relu", padding="same")(h)
        h = layers.Conv1D(32, 3, activation="relu", padding="same")(h)
        h = layers.Flatten()(h)
        h = layers.Dense(64, activation="relu")(h)
    else:
        raise ValueError(f"unknown model {name!r}")
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
    optimizer_cls = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[config["optimizer"]]
    model.compile(
        optimizer=optimizer_cls(learning_rate=config["learning_rate"]),
        loss=loss,
        metrics=metrics,
    )
    return model


def test_figures(pred: np.ndarray, y: np.ndarray, task: str, n_classes: int) -> dict:
    """Test loss and accuracy (regression: loss and MAE), as Keras computes them."""
    eps = 1e-7
    if task == "regression":
        err = pred.reshape(-1) - y
        return {"loss": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}
    if n_classes == 2:
        p = np.clip(pred.reshape(-1), eps, 1 - eps)
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        accuracy = np.mean((p > 0.5) == (y > 0.5))
    else:
        p = np.clip(pred, eps, 1 - eps)
        loss = -np.mean(np.log(p[np.arange(len(y)), y.astype("int64")]))
        accuracy = np.mean(np.argmax(pred, axis=-1) == y)
    return {"loss": float(loss), "accuracy": float(accuracy)}


def _round(value):
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def record_one(config: dict) -> dict:
    """Trains one model for the full budget and returns its curve."""
    import keras

    keras.utils.set_random_seed(config["seed"])
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(config)
    n_classes = int(max(y_train.max(), y_val.max(), y_test.max())) + 1
    model = build_model(config, x_train.shape[1:], n_classes)
    logs_per_epoch: list[dict] = []
    test_per_epoch: list[dict] = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs_per_epoch.append({k: float(v) for k, v in (logs or {}).items()})
            pred = np.asarray(self.model.predict_on_batch(x_test))
            test_per_epoch.append(test_figures(pred, y_test, config["task"], n_classes))

    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=config["budget"],
        batch_size=config["batch_size"],
        callbacks=[Recorder()],
        verbose=0,
    )
    curve = {
        key: config[key]
        for key in (
            "id",
            "dataset",
            "kind",
            "task",
            "model",
            "optimizer",
            "learning_rate",
            "label_noise",
            "regime",
        )
    }
    curve.update(
        train_size=len(x_train),
        val_size=len(x_val),
        test_size=len(x_test),
        batch_size=config["batch_size"],
        seed=config["seed"],
        budget=config["budget"],
        backend=keras.backend.backend(),
        seconds=round(time.perf_counter() - start, 1),
        logs=logs_per_epoch,
        test=test_per_epoch,
    )
    return _round(curve)


def _init_worker(backend: str) -> None:
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["XLA_FLAGS"] = (
        "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )
    os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"


def _record_logged(config: dict) -> dict:
    curve = record_one(config)
    print(
        f"{time.strftime('%H:%M:%S')} {curve['id']} seed={curve['seed']} "
        f"{curve['seconds']}s",
        flush=True,
    )
    return curve


def write_curves(curves: list[dict], path: pathlib.Path) -> None:
    """Writes the curves as gzip-compressed JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    payload = json.dumps(curves, separators=(",", ":")).encode()
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(payload)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording", choices=sorted(SEED_BASE), required=True)
    parser.add_argument("--backend", default="jax")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N curves only")
    parser.add_argument("--only", default=None, help="substring of the curve ids")
    parser.add_argument("--out", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)
    configs = curve_configs(args.recording)
    if args.only:
        configs = [c for c in configs if args.only in c["id"]]
    if args.limit:
        configs = configs[: args.limit]
    out = args.out or DATA_DIR / f"curves_{args.recording}.json.gz"
    print(f"recording {len(configs)} curves on {args.backend} -> {out}", flush=True)
    start = time.perf_counter()
    # Slow (recurrent) curves first so the two workers finish together.
    order = sorted(range(len(configs)), key=lambda i: configs[i]["model"] != "gru")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(
        args.processes, initializer=_init_worker, initargs=(args.backend,)
    ) as pool:
        results = pool.map(_record_logged, [configs[i] for i in order], chunksize=1)
    curves = [None] * len(configs)
    for i, curve in zip(order, results):
        curves[i] = curve
    write_curves(curves, out)
    print(
        f"wrote {len(curves)} curves ({out.stat().st_size / 1e3:.0f} kB) "
        f"in {time.perf_counter() - start:.0f}s",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
