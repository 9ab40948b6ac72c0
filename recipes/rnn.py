"""Train a recurrent network on sequences until it stops improving.

The default run reads scikit-learn's 8x8 handwritten digits row by row, as
sequences of 8 steps with 8 features, holding out a stratified 25% of them
(seed 0) as the test set. `--dataset adding` is the adding problem (a
regression on synthetic sequences), `--dataset imdb` movie-review sentiment
through `keras.datasets` (downloaded once):

    python recipes/rnn.py
    python recipes/rnn.py --backend jax --dataset adding --minutes 2

It writes into `--output` (default `runs/rnn`): the trained model
(`model.keras`), the per-epoch history (`history.csv`), a report
(`report.json`, `report.md`: test metrics, epochs run, stop reason,
overfitting onset, wall time) and `learning_curves.png`. Copy this file and
change `build_model` or `load_data` for your own sequences.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

START = time.perf_counter()
DATASETS = ("digits", "adding", "imdb")
STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "tpu", "multi-worker", "data-parallel")
BACKENDS = ("tensorflow", "jax", "torch")


def choose_backend(flag: str | None = None) -> tuple[str, str]:
    """Sets `KERAS_BACKEND` before Keras is imported; returns (backend, why).

    The first of: `--backend`; `KERAS_BACKEND`; the backend in Keras's config
    file (`$KERAS_HOME/keras.json`, else `~/.keras/keras.json`) if that backend
    is installed; the first installed of tensorflow, jax and torch. With none
    installed it exits with one line that names the extras to install.
    """
    import importlib.util

    def installed(name):
        return importlib.util.find_spec(name) is not None

    if "keras" in sys.modules:  # imported already: its backend is fixed
        name = sys.modules["keras"].backend.backend()
        if flag and flag != name:
            sys.exit(f"--backend {flag}: Keras was already imported with {name}")
        return name, "Keras already imported"
    name, why = flag, "--backend"
    if not name and os.environ.get("KERAS_BACKEND"):
        name, why = os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    if not name:
        home = os.environ.get("KERAS_HOME") or os.path.join(
            os.path.expanduser("~")
            if os.access(os.path.expanduser("~"), os.W_OK)
            else "/tmp",
            ".keras",
        )
        config = os.path.join(home, "keras.json")
        try:
            with open(config) as f:
                configured = json.load(f).get("backend")
        except (OSError, ValueError, AttributeError):
            configured = None
        if configured in BACKENDS and installed(configured):
            name, why = configured, config
    if not name:
        name = next((b for b in BACKENDS if installed(b)), None)
        why = "the first installed of tensorflow, jax and torch"
    extras = (
        'pip install "keras-epochkit[jax,recipes]" '
        "(or [tensorflow,recipes], [torch,recipes])"
    )
    if name is None:
        sys.exit(f"No Keras backend is installed. Install one: {extras}")
    if name in BACKENDS and not installed(name):
        sys.exit(f"The {name} backend (from {why}) is not installed. {extras}")
    os.environ["KERAS_BACKEND"] = name
    return name, why


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS)
    parser.add_argument("--strategy", choices=STRATEGIES, default="auto")
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=None,
        help="split the CPU into this many devices to try data parallelism",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=100,
        help="epoch cap (PlateauBudget ends sooner once the validation loss plateaus)",
    )
    parser.add_argument("--minutes", type=float, default=None, help="time budget")
    parser.add_argument("--batch-size", type=int, default=32, help="per replica")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument(
        "--data-fraction",
        type=float,
        default=1.0,
        help="train on this fraction of the training rows (quick trials)",
    )
    parser.add_argument("--no-augmentation", action="store_true")
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--output", default="runs/rnn")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUTPUT/backup",
    )
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    return parser.parse_args(argv)


def load_data(name: str, seed: int, fraction: float):
    """Returns (x_train, y_train), (x_val, y_val), (x_test, y_test), classes.

    `classes` is 0 for a regression (the adding problem).
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    stratify = True
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images / 16.0).astype("float32")  # (samples, 8 rows, 8)
        y = digits.target.astype("int32")
    elif name == "adding":
        # Each step holds a value in [0, 1) and a marker; the target is the
        # sum of the two marked values.
        rng = np.random.default_rng(seed)
        samples, steps = 4000, 50
        values = rng.random((samples, steps)).astype("float32")
        markers = np.zeros((samples, steps), "float32")
        first = rng.integers(0, steps // 2, samples)
        second = rng.integers(steps // 2, steps, samples)
        markers[np.arange(samples), first] = 1.0
        markers[np.arange(samples), second] = 1.0
        x = np.stack([values, markers], axis=-1)
        y = (values * markers).sum(axis=1, keepdims=True).astype("float32")
        stratify = False
    else:
        import keras

        (x_a, y_a), (x_b, y_b) = keras.datasets.imdb.load_data(num_words=10000)
        x = keras.utils.pad_sequences(np.concatenate([x_a, x_b]), maxlen=200)
        y = np.concatenate([y_a, y_b]).astype("int32")
    labels = y if stratify else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=labels, random_state=seed
    )
    if fraction < 1.0:
        x_train, _, y_train, _ = train_test_split(
            x_train,
            y_train,
            train_size=fraction,
            stratify=y_train if stratify else None,
            random_state=seed,
        )
    x_train, x_val, y_train, y_val = train_test_split(
        x_train,
        y_train,
        test_size=0.15,
        stratify=y_train if stratify else None,
        random_state=seed,
    )
    classes = int(np.max(y_train)) + 1 if stratify else 0
    return (x_train, y_train), (x_val, y_val), (x_test, y_test), classes


def build_model(input_shape, classes: int, augment: bool, dropout: float, seed: int):
    import keras

    import keras_epochkit as ek

    layers = keras.layers
    tokens = len(input_shape) == 1
    inputs = keras.Input(input_shape, dtype="int32" if tokens else "float32")
    x = layers.Embedding(10000, 32)(inputs) if tokens else inputs
    if augment:
        # Sequence augmentation: a gentle time warp on half the samples,
        # masked spans and a little noise (on the embeddings for text).
        x = ek.layers.RandomApply(
            ek.layers.RandomTimeWarp(sigma=0.1, seed=seed), rate=0.5, seed=seed + 1
        )(x)
        x = ek.layers.RandomTimeMask(count=1, max_width=0.1, seed=seed + 2)(x)
        x = ek.layers.RandomJitter(sigma=0.02, seed=seed + 3)(x)
    x = layers.GRU(64)(x)
    if dropout:
        x = layers.Dropout(dropout, seed=seed + 4)(x)
    if classes:
        outputs = layers.Dense(classes, activation="softmax", dtype="float32")(x)
    else:
        outputs = layers.Dense(1, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="rnn")


def write_atomically(path: str, data: str | bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def stopped_by(callbacks) -> str:
    """Which callback ended training, and why, in words."""
    for callback in callbacks:
        reason = getattr(callback, "stop_reason", None)
        if reason is not None:
            message = getattr(callback, "stop_message", "") or reason.message
            return f"{type(callback).__name__}: {message}"
    return "epoch cap reached"


def main(argv=None) -> dict:
    args = parse_args(argv)
    backend, chosen_by = choose_backend(args.backend)
    if args.verbose:
        print(f"Keras backend: {backend} (from {chosen_by})")
    import keras

    import keras_epochkit as ek

    # Devices first: on JAX the distribution must exist before any variable.
    setup = ek.distribute.auto(args.strategy, cpu_devices=args.cpu_devices)
    keras.utils.set_random_seed(args.seed)
    if args.mixed_precision:
        on_gpu = any("gpu" in d.lower() or "cuda" in d.lower() for d in setup.devices)
        keras.mixed_precision.set_dtype_policy(
            "mixed_float16" if on_gpu else "mixed_bfloat16"
        )
    train, val, test, classes = load_data(args.dataset, args.seed, args.data_fraction)
    global_batch = setup.global_batch_size(args.batch_size)
    local_batch = setup.local_batch_size(args.batch_size)
    # With several processes each one feeds its own part of every batch.
    train, val, test = (
        tuple(setup.trim(setup.shard(a, global_batch)) for a in split)
        for split in (train, val, test)
    )
    os.makedirs(args.output, exist_ok=True)
    history_path = os.path.join(args.output, "history.csv")

    with setup.scope():
        model = build_model(
            train[0].shape[1:],
            classes,
            augment=not args.no_augmentation,
            dropout=args.dropout,
            seed=args.seed,
        )
        # The rate holds its peak until the validation loss plateaus; then
        # PlateauBudget moves the horizon so that the decay (the last 20% of
        # the schedule) runs over the next quarter of the epochs run so far,
        # and training stops at its end. With --minutes, TimeBudget
        # re-targets the horizon every epoch to end on time instead.
        schedule = ek.schedules.WarmupStableDecay(
            args.learning_rate,
            decay_fraction=0.2,
            final_learning_rate=args.learning_rate / 50,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss="sparse_categorical_crossentropy" if classes else "mse",
            metrics=(
                [
                    "accuracy",
                    ek.metrics.F1Score(num_classes=classes, average="macro", name="f1"),
                ]
                if classes
                else ["mae"]
            ),
        )
        # PlateauBudget owns the budget here; the stopper is the safety net
        # (overfitting, divergence) and keeps the best weights, so it runs
        # at the cautious end of its line (see the early-stopping guide).
        stopper = ek.callbacks.EarlyStopping.recommended(aggressiveness=0.5)
        overfitting = ek.callbacks.OverfittingMonitor(verbose=0)
        budget = (
            ek.callbacks.TimeBudget(args.minutes)
            if args.minutes
            else ek.callbacks.PlateauBudget()
        )
        # Per-class precision/recall/F1 on the test split, made once at train
        # end from the restored best weights; the test split never steers
        # training. (Skipped with several processes: each holds a part.)
        report_callback = ek.callbacks.ClassificationReport(
            validation_data=test,
            confusion_matrix=ek.metrics.ConfusionMatrix(num_classes=max(classes, 2)),
            every_n_epochs=0,
            batch_size=local_batch,
            print_fn=None,
        )
        # Order matters at train end: the best weights are restored before
        # the classification report is made.
        callbacks = [budget, stopper, overfitting]
        if setup.process_count == 1 and classes:
            callbacks.append(report_callback)
        # One row per epoch of the whole run, also across a resume (the rows
        # are part of the backup). Only process 0 writes where users look.
        logger = ek.callbacks.CSVLogger(
            history_path
            if setup.is_chief
            else os.path.join(tempfile.mkdtemp(), "history.csv")
        )
        callbacks.append(logger)
        if args.resume:
            # Restores the model, the optimizer, the epoch and the state of the
            # callbacks of this fit (patience count, best weights, budget, log).
            backup_dir = os.path.join(
                args.output,
                "backup" if setup.is_chief else f"backup-{setup.process_index}",
            )
            callbacks.append(ek.callbacks.BackupAndRestore(backup_dir))
        # The first epoch's time includes compiling the train and test steps.
        epoch_ends = []
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: epoch_ends.append(time.perf_counter())
            )
        )
        fit_start = time.perf_counter()
        model.fit(
            *train,
            validation_data=val,
            batch_size=local_batch,
            epochs=args.epochs,
            callbacks=callbacks,
            verbose=args.verbose if setup.is_chief else 0,
        )
        fit_seconds = time.perf_counter() - fit_start
        scores = model.evaluate(
            *test, batch_size=local_batch, verbose=0, return_dict=True
        )

    epochs_run = len(logger.rows)
    onset = overfitting.onset_epoch
    report = {
        "recipe": "rnn",
        "dataset": args.dataset,
        "backend": keras.backend.backend(),
        "distribution": setup.describe(),
        "seed": args.seed,
        "split": (f"25% test split, stratified for classes (random_state={args.seed})"),
        "test": {k: float(v) for k, v in scores.items() if k != "confusion_matrix"},
        "epochs_run": epochs_run,
        "epoch_budget": args.epochs,
        "best_epoch": stopper.best_epoch + 1,
        "stop_reason": stopped_by([budget, stopper, overfitting]),
        "overfitting_onset_epoch": onset + 1 if onset >= 0 else None,
        "history": {
            key: [float(row[key]) for row in logger.rows]
            for key in ("loss", "val_loss")
        },
        "fit_seconds": round(fit_seconds, 2),
        "first_epoch_seconds": (
            round(epoch_ends[0] - fit_start, 2) if epoch_ends else None
        ),
        "wall_seconds": 0.0,
        "test_classification_report": report_callback.reports[-1]["report"]
        if report_callback.reports
        else None,
    }
    if setup.process_count > 1 and not setup.is_chief:
        # Saving gathers the weights from every process, so all take part;
        # only process 0 keeps the file.
        with tempfile.TemporaryDirectory() as scratch:
            model.save(os.path.join(scratch, "model.keras"))
    if setup.is_chief:
        model.save(os.path.join(args.output, "model.keras"))
        plot_curves(
            ek, history_path, report, os.path.join(args.output, "learning_curves.png")
        )
        report["wall_seconds"] = round(time.perf_counter() - START, 2)
        write_atomically(
            os.path.join(args.output, "report.json"), json.dumps(report, indent=2)
        )
        write_atomically(os.path.join(args.output, "report.md"), markdown(report))
        print_summary(report)
    return report


def plot_curves(ek, history_path: str, report: dict, path: str) -> None:
    """Learning curves with the best epoch, the stop and the onset marked."""
    figure = ek.analysis.plot(
        history_path, title=f"{report['recipe']} on {report['dataset']}"
    )
    axes = figure.axes[0]
    # The plot counts epochs from 0, as the logs do.
    axes.axvline(
        report["epochs_run"] - 1, color="black", linestyle=":", label="stopped"
    )
    axes.legend(fontsize="small")
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        figure.savefig(f, format="png", dpi=100)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def markdown(report: dict) -> str:
    rows = [
        ("Dataset", report["dataset"]),
        ("Split", report["split"]),
        ("Backend / devices", report["distribution"]),
        *((f"Test {k}", f"{v:.4f}") for k, v in report["test"].items()),
        ("Epochs run", f"{report['epochs_run']} of at most {report['epoch_budget']}"),
        ("Best epoch (weights kept)", report["best_epoch"]),
        ("Stop reason", report["stop_reason"]),
        ("Overfitting onset (epoch)", report["overfitting_onset_epoch"] or "none"),
        ("Wall time, start to summary (s)", report["wall_seconds"]),
        ("Fit time (s)", report["fit_seconds"]),
    ]
    lines = [f"# {report['recipe']} report", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    per_class = report.get("test_classification_report") or {}
    if per_class:
        lines += [
            "",
            "## Test split, per class",
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for name, row in per_class.items():
            if isinstance(row, dict) and "precision" in row:
                lines.append(
                    f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | "
                    f"{row['f1-score']:.3f} | {row['support']:.0f} |"
                )
    return "\n".join(lines) + "\n"


def print_summary(report: dict) -> None:
    onset = report["overfitting_onset_epoch"]
    lines = [
        "",
        f"== {report['recipe']} on {report['dataset']}: {report['distribution']}",
        "test      " + ", ".join(f"{k} {v:.4f}" for k, v in report["test"].items()),
        f"epochs    {report['epochs_run']} of at most {report['epoch_budget']}, "
        f"weights of epoch {report['best_epoch']} kept",
        f"stopped   {report['stop_reason']}",
        f"overfit   {'from epoch ' + str(onset) if onset else 'not detected'}",
        f"time      {report['wall_seconds']:.1f} s from start to summary "
        f"(fit {report['fit_seconds']:.1f} s)",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
