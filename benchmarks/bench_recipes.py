"""Recipes: the main job's accuracy and time, epochs and time against plain
Keras with a fixed `epochs=100`, and the epochkit callbacks' overhead.

One backend per run (the figures of every backend run so far are kept in
`benchmarks/data/recipes.json` and all of them go into the table):

    KERAS_BACKEND=jax python benchmarks/bench_recipes.py [--recipes cnn,ffn,rnn]
        [--parts main,compare,overhead]

* main: `python recipes/cnn.py` as a user runs it, timed from the outside
  (process start to summary), with its test accuracy.
* compare: each recipe (its defaults) against the same model trained by plain
  Keras: Adam at the recipe's peak rate, constant, `epochs=100`, no callbacks,
  the last epoch's weights. Same data split, same augmentation and dropout;
  seeds 0, 1 and 2 (`--seeds`).
* overhead: the epoch time of the everyday callbacks (EpochBudget,
  EarlyStopping.recommended, OverfittingMonitor, TimeBudget) against bare
  `model.fit`, interleaved in the same process, paired per round, with the
  spread over rounds and an A/A (bare against bare) noise floor; see
  `overhead`. `--overhead-rounds 1 --overhead-rows 20000` is a smoke test.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.tables import quartiles  # noqa: E402

RESULTS = ROOT / "benchmarks" / "data" / "recipes.json"
# Overhead runs: 391 steps of 256 rows an epoch (about 0.2 s on JAX, 0.7 s on
# TensorFlow, 1.5 s on PyTorch on the idle 2-core machine); fits of 6 timed
# epochs per arm, so that an arm's median epoch shrugs off a single slow one
# while the arms compared still run seconds apart.
OVERHEAD_ROWS, OVERHEAD_BATCH, OVERHEAD_EPOCHS, OVERHEAD_REPEATS = 100_000, 256, 6, 8
# Main job: runs of `python recipes/cnn.py` in a row, timed from outside.
MAIN_RUNS = 3
MAIN_ACCURACY, MAIN_SECONDS = 0.99, 30.0
# Compare: seeds of each recipe against plain Keras.
COMPARE_SEEDS = (0, 1, 2)
HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
)


def _load_recipe(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_avg() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main_job(backend: str, runs: int = MAIN_RUNS) -> dict:
    """`python recipes/cnn.py` timed from outside, process start to exit.

    Runs it `runs` times in a row: the first run may read the packages from
    disk, the later ones find them in the page cache, as a user's second run
    does. Each run's seconds are kept; the test accuracy is that of the first
    (the runs are seeded alike).
    """
    seconds, reports = [], []
    load = _load_avg()
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "recipes" / "cnn.py"),
                    "--verbose",
                    "0",
                    "--output",
                    out,
                ],
                env={
                    **os.environ,
                    "KERAS_BACKEND": backend,
                    "TF_CPP_MIN_LOG_LEVEL": "2",
                },
                capture_output=True,
                text=True,
                check=True,
            )
            seconds.append(round(time.perf_counter() - start, 1))
            reports.append(json.loads(pathlib.Path(out, "report.json").read_text()))
        assert "from start to summary" in proc.stdout
    return {
        "test_accuracy": reports[0]["test"]["accuracy"],
        "test_accuracies": [r["test"]["accuracy"] for r in reports],
        "epochs": reports[0]["epochs_run"],
        "fit_seconds": [r["fit_seconds"] for r in reports],
        "seconds": statistics.median(seconds),
        "runs_seconds": seconds,
        "load_before": load,
        "load_after": _load_avg(),
    }


def compare(name: str, seeds=COMPARE_SEEDS) -> dict:
    """The recipe at its defaults against plain Keras `epochs=100`, per seed.

    For each seed the recipe runs as `main(["--seed", seed])` and the plain
    arm trains the same model, on the same split, with Adam at the recipe's
    peak rate, constant, for 100 epochs, keeping the last epoch's weights.
    The two arms alternate which runs first from seed to seed, in one
    process.
    """
    # One untimed epoch of each arm first: the first fit of a process pays
    # one-time costs (backend start-up, small compiled helpers) that would
    # otherwise fall on whichever arm runs first.
    _recipe_arm(name, seeds[0], epochs=1)
    _plain_arm(name, seeds[0], epochs=1)
    runs = []
    for i, seed in enumerate(seeds):
        arms = [_recipe_arm, _plain_arm] if i % 2 == 0 else [_plain_arm, _recipe_arm]
        run = {"seed": seed}
        for arm in arms:
            run.update(arm(name, seed))
        runs.append(run)
    return {"runs": runs, "date": time.strftime("%Y-%m-%d")}


def _recipe_arm(name: str, seed: int, epochs: int | None = None) -> dict:
    recipe = _load_recipe(name)
    cap = [] if epochs is None else ["--epochs", str(epochs)]
    report = recipe.main(
        ["--verbose", "0", "--seed", str(seed), "--output", tempfile.mkdtemp(), *cap]
    )
    return {
        "recipe_accuracy": report["test"]["accuracy"],
        "recipe_epochs": report["epochs_run"],
        "recipe_seconds": report["fit_seconds"],
        "recipe_first_epoch_seconds": report["first_epoch_seconds"],
        "recipe_stop": report["stop_reason"],
    }


def _plain_arm(name: str, seed: int, epochs: int = 100) -> dict:
    import keras

    recipe = _load_recipe(name)
    args = recipe.parse_args(["--seed", str(seed)])
    keras.utils.set_random_seed(seed)
    # The same split as the recipe's (the CNN's is sized to whole batches).
    batch = (
        (args.batch_size,)
        if "batch_size" in inspect.signature(recipe.load_data).parameters
        else ()
    )
    train, val, test, classes = recipe.load_data(args.dataset, seed, 1.0, *batch)
    model = recipe.build_model(
        train[0].shape[1:], classes, augment=True, dropout=args.dropout, seed=seed
    )
    binary = name == "ffn"
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    epoch_ends = []
    start = time.perf_counter()
    model.fit(
        *train,
        validation_data=val,
        batch_size=args.batch_size,
        epochs=epochs,
        verbose=0,
        # Only to time the first epoch, which includes compiling.
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: epoch_ends.append(time.perf_counter())
            )
        ],
    )
    seconds = time.perf_counter() - start
    plain = model.evaluate(*test, verbose=0, return_dict=True)
    return {
        "plain_accuracy": float(plain["accuracy"]),
        "plain_epochs": epochs,
        "plain_seconds": round(seconds, 2),
        "plain_first_epoch_seconds": round(epoch_ends[0] - start, 2),
        "test_rows": len(test[0]),
    }


def compare_summary(c: dict) -> dict:
    """Means over seeds, the accuracy gap in test samples, ratios, verdicts."""
    runs = c["runs"]
    rows = runs[0]["test_rows"]
    recipe_acc = statistics.fmean(r["recipe_accuracy"] for r in runs)
    plain_acc = statistics.fmean(r["plain_accuracy"] for r in runs)
    # In test samples, mean over seeds: counted from each run's accuracy
    # (rounded to whole samples, so float32 accuracies leave no residue).
    gap = statistics.fmean(
        round(r["recipe_accuracy"] * rows) - round(r["plain_accuracy"] * rows)
        for r in runs
    )
    epochs = statistics.fmean(r["recipe_epochs"] for r in runs)
    ratios = [r["recipe_seconds"] / r["plain_seconds"] for r in runs]
    time_ratio = sum(r["recipe_seconds"] for r in runs) / sum(
        r["plain_seconds"] for r in runs
    )
    # Without the first epoch, which compiles the steps: the cost of epochs.
    later = sum(r["recipe_seconds"] - r["recipe_first_epoch_seconds"] for r in runs)
    later_plain = sum(r["plain_seconds"] - r["plain_first_epoch_seconds"] for r in runs)
    return {
        "later_epochs_time_ratio": later / later_plain,
        "first_epoch_seconds": statistics.fmean(
            r["recipe_first_epoch_seconds"] for r in runs
        ),
        "plain_first_epoch_seconds": statistics.fmean(
            r["plain_first_epoch_seconds"] for r in runs
        ),
        "recipe_accuracy": recipe_acc,
        "plain_accuracy": plain_acc,
        "gap_samples": gap,
        "epochs": epochs,
        "epoch_ratio": epochs / 100,
        "time_ratio": time_ratio,
        "time_ratios": ratios,
        "accuracy_ok": gap >= -1.0,
        "epochs_ok": epochs <= 50,
        "time_ok": time_ratio <= 0.5,
    }


class HookTimer:
    """Adds up the time spent inside the hooks a callback overrides.

    Only overridden hooks are wrapped (Keras skips, or runs off the training
    thread, the hooks a callback leaves at their default, and wrapping one
    would change that); batch hooks that Keras runs on its worker thread are
    timed there. The total is the callbacks' own work, without the effect
    of sharing the cores with training.
    """

    def __init__(self):
        import threading

        self.seconds = 0.0
        self._lock = threading.Lock()

    def wrap(self, callback):
        for name in HOOKS:
            if getattr(getattr(type(callback), name), "_is_default", False):
                continue
            hook = getattr(callback, name)

            def timed(*args, _hook=hook, **kwargs):
                start = time.perf_counter()
                try:
                    return _hook(*args, **kwargs)
                finally:
                    spent = time.perf_counter() - start
                    with self._lock:
                        self.seconds += spent

            setattr(callback, name, timed)
        return callback


def overhead(repeats: int = OVERHEAD_REPEATS, rows: int = OVERHEAD_ROWS) -> dict:
    """Epoch time of the everyday callbacks against bare `fit`, with its noise.

    Arms: `bare` (no callbacks), `bare_again` (the same, a second time: the
    A/A comparison that shows the noise floor), `callbacks` (EpochBudget,
    EarlyStopping.recommended(), OverfittingMonitor, TimeBudget(minutes=600))
    and `backup` (those plus BackupAndRestore). Every arm keeps one compiled
    model across the run, with the same attached schedule, so that only the
    callbacks differ; one untimed fit per arm warms it up (compiling,
    allocator, thread pools) before any timing. Then `repeats` rounds, each
    running every arm once in a rotated order, each fit timed from one epoch
    end to the next (its first epoch, which includes `fit`'s setup, is left
    out). An arm's cost is the ratio of its median lap to the bare arm's
    median lap in the same round (paired, so slow drift of the machine
    cancels); the figure is the median ratio over rounds, with the
    interquartile range of the rounds' ratios beside it.

    The warm-up, the shared schedule and the rotation are there because an
    earlier protocol, which rebuilt the model for every fit and gave bare
    `fit` a schedule with a fixed horizon (the other arms a bound one),
    found bare `fit` slower than `fit` with callbacks on PyTorch; the A/A
    row shows how large such a difference is without any cause.
    """
    import gc

    import keras
    import numpy as np

    import keras_epochkit as ek

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 30)).astype("float32")
    y = (x[:, :10].sum(axis=1) > 0).astype("float32")[:, None]
    x_val, y_val = x[:10_000], y[:10_000]
    steps = -(-rows // OVERHEAD_BATCH)
    arms = ["bare", "bare_again", "callbacks", "backup"]

    def build(arm: str):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((30,)),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        rate = ek.schedules.CosineDecay(1e-3)
        model.compile(
            optimizer=keras.optimizers.Adam(rate),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )
        if arm.startswith("bare"):
            # What EpochBudget does, by hand: the same variable-backed
            # schedule in the compiled step of every arm.
            rate.attach(model.optimizer)
        return model, rate

    def callbacks_for(arm: str, backup_dir: str) -> list:
        if arm.startswith("bare"):
            return []
        everyday = [
            ek.callbacks.EpochBudget(),
            ek.callbacks.EarlyStopping.recommended(),
            ek.callbacks.OverfittingMonitor(verbose=0),
            ek.callbacks.TimeBudget(minutes=600),
        ]
        if arm == "backup":
            return [
                *everyday,
                ek.callbacks.BackupAndRestore(backup_dir),
            ]
        return everyday

    hook_seconds, hook_epochs = [], []

    def run(arm: str, model, rate, epochs: int, timer=None) -> list[float]:
        laps = []

        class Clock(keras.callbacks.Callback):
            """Time from one epoch end to the next: everything in between."""

            def on_train_begin(self, logs=None):
                self.last = None

            def on_epoch_end(self, epoch, logs=None):
                now = time.perf_counter()
                if self.last is not None:
                    laps.append(now - self.last)
                self.last = now

        if arm.startswith("bare"):
            step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
            rate.bind(step + epochs * steps, step)
        with tempfile.TemporaryDirectory() as backup_dir:
            callbacks = callbacks_for(arm, backup_dir)
            if timer is not None:
                callbacks = [timer.wrap(c) for c in callbacks]
            gc.collect()
            # The clock last, so that a lap includes the others' epoch-end work.
            model.fit(
                x,
                y,
                validation_data=(x_val, y_val),
                batch_size=OVERHEAD_BATCH,
                epochs=epochs,
                verbose=0,
                callbacks=[*callbacks, Clock()],
            )
        if timer is not None:
            hook_seconds.append(timer.seconds)
            hook_epochs.append(epochs)
        return laps

    models = {arm: build(arm) for arm in arms}
    for arm in arms:  # warm-up, untimed
        run(arm, *models[arm], epochs=2)
    laps = {arm: [] for arm in arms}
    ratios = {arm: [] for arm in arms[1:]}
    load_before = _load_avg()
    for repeat in range(repeats):
        # A different arm goes first in each round, so none always runs in
        # the same place (after a garbage collection, a cold cache...).
        shift = repeat % len(arms)
        medians = {}
        for arm in arms[shift:] + arms[:shift]:
            timer = HookTimer() if arm == "callbacks" else None
            lap = run(arm, *models[arm], epochs=OVERHEAD_EPOCHS + 1, timer=timer)
            laps[arm] += lap
            medians[arm] = statistics.median(lap)
        for arm in ratios:
            ratios[arm].append(medians[arm] / medians["bare"])
        print(
            "overhead round",
            repeat + 1,
            {arm: round(100 * (r[-1] - 1), 1) for arm, r in ratios.items()},
            flush=True,
        )

    def pct(values: list[float]) -> list[float]:
        low, mid, high = quartiles(values)
        return [round(100 * (v - 1), 1) for v in (mid, low, high)]

    low, mid, high = quartiles(laps["bare"])
    # The callbacks' own time per epoch (the whole fit's hook time, setup and
    # train-end included, over its epochs), against the bare epoch.
    own_ms = [1000 * s / n for s, n in zip(hook_seconds, hook_epochs)]
    own_low, own_mid, own_high = quartiles(own_ms)
    return {
        "protocol": 3,
        "hook_ms_per_epoch": [round(own_mid, 2), round(own_low, 2), round(own_high, 2)],
        "hook_pct": round(100 * own_mid / (1000 * mid), 2),
        "rows": rows,
        "steps_per_epoch": steps,
        "rounds": repeats,
        "laps_per_fit": OVERHEAD_EPOCHS,
        "bare_epoch_s": [round(mid, 3), round(low, 3), round(high, 3)],
        "noise_pct": pct(ratios["bare_again"]),
        "overhead_pct": pct(ratios["callbacks"]),
        "backup_pct": pct(ratios["backup"]),
        "load_before": load_before,
        "load_after": _load_avg(),
    }


def _verdict(figures: dict, target: float = 3.0) -> str:
    """Whether the everyday callbacks cost at most `target` percent.

    Yes when both the epoch-time median and the hooks' own time are within
    it; no when the hooks alone exceed it, or the epoch-time median does
    while the run's A/A interquartile range is inside the target; otherwise
    the run cannot tell.
    """
    _, aa_low, aa_high = figures["noise_pct"]
    median = figures["overhead_pct"][0]
    own = figures["hook_pct"]
    if own > target:
        return "no"
    if median <= target:
        return "yes"
    if max(abs(aa_low), abs(aa_high)) <= target:
        return "no"
    return f"cannot tell (A/A noise {aa_low:+.1f} to {aa_high:+.1f}%)"


def _overhead_table(results: dict) -> list[str]:
    """The overhead paragraph and table, from protocol-3 runs only."""
    from benchmarks.tables import markdown_table

    def spread(figures: list[float]) -> str:
        median, low, high = figures
        return f"{median:+.1f}% ({low:+.1f} to {high:+.1f})"

    rows = []
    for backend, r in sorted(results.items()):
        o = r.get("overhead", {})
        if o.get("protocol") != 3:
            continue  # figures of an older protocol are not comparable
        median, low, high = o["bare_epoch_s"]
        rows.append(
            [
                backend,
                f"{median} ({low}-{high})",
                spread(o["noise_pct"]),
                spread(o["overhead_pct"]),
                "{} ({}-{}) ms, {:.2f}%".format(*o["hook_ms_per_epoch"], o["hook_pct"]),
                spread(o["backup_pct"]),
                _verdict(o),
                f"{o['load_before']} / {o['load_after']}",
            ]
        )
    if not rows:
        return []
    first = next(
        r["overhead"]
        for _, r in sorted(results.items())
        if r.get("overhead", {}).get("protocol") == 3
    )
    return [
        "Overhead: epoch time (one epoch end to the next) of the everyday "
        "callbacks (`EpochBudget`, `EarlyStopping.recommended()`, "
        "`OverfittingMonitor`, `TimeBudget(minutes=600)`) against bare "
        f"`model.fit`, in one process: {first['rows']:,} rows of 30 features, "
        f"batch 256 ({first['steps_per_epoch']} steps an epoch), a 128-128-1 "
        "MLP. Every arm keeps one compiled model with the same attached "
        "`CosineDecay` schedule, and is warmed up by an untimed fit; then "
        f"{first['rounds']} rounds run each arm once, in a rotated order, "
        f"timing {first['laps_per_fit']} epochs per fit. Each figure is the "
        "median over rounds of the arm's median epoch against the bare arm's "
        "in the same round, with the interquartile range over rounds in "
        "brackets. "
        "The A/A column times bare `fit` against itself: the noise floor. "
        "The hooks' own time is the time spent inside the everyday "
        "callbacks' hooks (batch hooks included, timed on Keras's worker "
        "thread) per epoch, median (IQR) over rounds, and its share of the "
        "bare epoch: a measurement without the epoch-to-epoch noise, though "
        "without the cost of sharing the cores either. "
        "BackupAndRestore (a backup of model, optimizer and callback states "
        "every epoch) is timed on top of the everyday callbacks, against bare "
        "`fit`. Target: at most 3% more than bare `fit`, met when both the "
        "median epoch-time figure and the hooks' own time are within it. The "
        "1-minute load "
        "average before and after is given (2.0 means both cores busy).",
        "",
        markdown_table(
            [
                "backend",
                "bare epoch s (IQR)",
                "A/A: bare vs bare",
                "everyday callbacks",
                "their hooks' own time per epoch",
                "plus BackupAndRestore",
                "within 3%?",
                "load before / after",
            ],
            rows,
        ),
        "",
    ]


def _write_tables(results: dict) -> None:
    from benchmarks.tables import markdown_table
    from benchmarks.tables import write_section

    parts = ["## Recipes", ""]
    main_rows = []
    for backend, r in sorted(results.items()):
        if "main" not in r:
            continue
        m = r["main"]
        runs = m.get("runs_seconds", [m["seconds"]])
        main_rows.append(
            [
                backend,
                f"{m['test_accuracy']:.2%}",
                m["epochs"],
                m["seconds"],
                ", ".join(f"{s:g}" for s in runs),
                ", ".join(f"{s:g}" for s in m.get("fit_seconds", [])) or "n/a",
                "yes"
                if m["test_accuracy"] >= MAIN_ACCURACY and m["seconds"] <= MAIN_SECONDS
                else "no",
                f"{m['load_before']} / {m['load_after']}",
            ]
        )
    if main_rows:
        parts += [
            "Main job: `python recipes/cnn.py` (digits, stratified 25% test split, "
            f"seed 0), timed from outside, process start to exit, {MAIN_RUNS} runs "
            "in a row (the first may read the packages from disk; the others find "
            "them cached). Target: at least 99% test accuracy in at most 30 s, "
            "the median run, on every backend of this 2-core CPU (the moonshot is "
            "20 s). Every backend is installed in the same environment, so "
            "`keras.utils.set_random_seed` imports TensorFlow on JAX and PyTorch "
            "too; with one backend installed that import is not "
            "paid. The 1-minute load average before and after is given (2.0 "
            "means both cores busy).",
            "",
            markdown_table(
                [
                    "backend",
                    "test accuracy",
                    "epochs",
                    "seconds, median",
                    "each run (s)",
                    "fit of each run (s)",
                    "target met",
                    "load before / after",
                ],
                main_rows,
            ),
            "",
        ]
    compare_rows = []
    for backend, r in sorted(results.items()):
        for name, c in sorted(r.get("compare", {}).items()):
            if "runs" not in c:  # a single-seed figure of an older protocol
                continue
            m = compare_summary(c)
            runs = c["runs"]
            compare_rows.append(
                [
                    backend,
                    name,
                    f"{m['recipe_accuracy']:.2%} ("
                    + ", ".join(f"{x['recipe_accuracy']:.2%}" for x in runs)
                    + ")",
                    f"{m['plain_accuracy']:.2%} ("
                    + ", ".join(f"{x['plain_accuracy']:.2%}" for x in runs)
                    + ")",
                    f"{m['gap_samples']:+.1f}",
                    ", ".join(str(x["recipe_epochs"]) for x in runs),
                    ", ".join(f"{x['recipe_seconds']:g}" for x in runs),
                    ", ".join(f"{x['plain_seconds']:g}" for x in runs),
                    f"{m['time_ratio']:.2f} ("
                    + f"{min(m['time_ratios']):.2f}-{max(m['time_ratios']):.2f})",
                    f"{m['first_epoch_seconds']:.1f} / "
                    f"{m['plain_first_epoch_seconds']:.1f}",
                    f"{m['later_epochs_time_ratio']:.2f}",
                    " / ".join(
                        "yes" if m[k] else "no"
                        for k in ("accuracy_ok", "epochs_ok", "time_ok")
                    ),
                    c.get("date", "n/a"),
                ]
            )
    if compare_rows:
        parts += [
            "Each recipe at its defaults against the same model trained by plain "
            "Keras: Adam at the recipe's peak rate, constant, `epochs=100`, no "
            "callbacks, the last epoch's weights; same split, augmentation and "
            f"dropout. Seeds {', '.join(map(str, COMPARE_SEEDS))} (the seed sets "
            "the validation split, the initial weights and the augmentation; "
            "for the FFN also the test split). The recipes have no per-recipe "
            "epoch budget: `fit(epochs=100)` is a cap and `PlateauBudget` "
            "decides when to cool down and stop. Fit time only (the compiling "
            "first epoch included), both arms in one process, alternating which "
            "runs first, after one untimed epoch of each arm. Target, averaged over the seeds: test accuracy at "
            "least the plain arm's less one test sample, at most half the "
            "epochs (50) and at most half the time. Gap: the recipe's mean "
            "accuracy minus the plain arm's, in test samples (143 for the FFN "
            "on breast cancer, 450 digits for the CNN and RNN). Time ratio: "
            "the recipe's total fit time over the plain arm's, with the range "
            "of the per-seed ratios; the target is judged on it. The first epoch "
            "includes compiling the train and test steps (mean over seeds); "
            "the last ratio leaves it out of both arms, the cost of the epochs "
            "themselves.",
            "",
            markdown_table(
                [
                    "backend",
                    "recipe",
                    "recipe acc., mean (each seed)",
                    "plain acc., mean (each seed)",
                    "gap (samples)",
                    "recipe epochs",
                    "recipe fit s",
                    "plain fit s (100 epochs)",
                    "time ratio (range)",
                    "first epoch s, recipe / plain",
                    "time ratio after the first epoch",
                    "accuracy / epochs / time met",
                    "measured",
                ],
                compare_rows,
            ),
            "",
        ]
    parts += _overhead_table(results)
    write_section(
        "recipes", "\n".join(parts), command="python benchmarks/bench_recipes.py"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default="cnn,ffn,rnn")
    parser.add_argument("--parts", default="main,compare,overhead")
    parser.add_argument("--tables-only", action="store_true")
    parser.add_argument(
        "--overhead-rounds",
        type=int,
        default=OVERHEAD_REPEATS,
        help="overhead: rounds of every arm (fewer for a smoke test)",
    )
    parser.add_argument(
        "--overhead-rows",
        type=int,
        default=OVERHEAD_ROWS,
        help="overhead: rows of the synthetic table (fewer for a smoke test)",
    )
    parser.add_argument(
        "--seeds",
        default=",".join(map(str, COMPARE_SEEDS)),
        help="compare: the seeds of each recipe and plain arm",
    )
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not args.tables_only:
        import keras

        backend = keras.backend.backend()
        entry = results.setdefault(backend, {})
        parts = args.parts.split(",")
        if "main" in parts:
            entry["main"] = main_job(backend)
            print("main", entry["main"], flush=True)
        if "overhead" in parts:
            entry["overhead"] = overhead(args.overhead_rounds, args.overhead_rows)
            print("overhead", entry["overhead"], flush=True)
        if "compare" in parts:
            for name in args.recipes.split(","):
                entry.setdefault("compare", {})[name] = compare(name, seeds)
                print(name, entry["compare"][name], flush=True)
        RESULTS.parent.mkdir(exist_ok=True)
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2))
        os.replace(tmp, RESULTS)
    _write_tables(results)


if __name__ == "__main__":
    main()
