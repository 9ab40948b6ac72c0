"""Cost of the precision/recall metrics against keras.metrics, per backend.

Pairs, each given the same inputs on both sides:

* F1 (multiclass, 10 classes, macro): `keras.metrics.F1Score(average="macro")`
  vs `keras_epochkit.metrics.F1Score(num_classes=10)`, both on one-hot labels
  (the only form Keras's metric takes) and probability rows;
* Precision and Recall (binary, threshold 0.5): `keras.metrics.Precision()` /
  `Recall()` vs `keras_epochkit.metrics.Precision(task="binary")` / `Recall`,
  on `(batch, 1)` labels and probabilities.

What is timed. One call runs, for every batch, `update_state` followed by
`result()`, as a Keras test step does, over batches already in memory: on
TensorFlow one `tf.function(jit_compile=True)` whose while loop walks all the
batches (the metric's variables updated in place, as in Keras's compiled
step); on JAX one `jax.jit` of a `fori_loop` over `stateless_update_state` and
`stateless_result` (what Keras's JAX trainer compiles); on PyTorch an eager
loop (Keras's PyTorch trainer runs metrics eagerly). The baseline arm is the
same loop that only indexes each batch. Each backend runs in its own process.

Why not `evaluate`. A compiled `evaluate` call on the 2-core reference
machine costs about 110 ms of fixed work plus about 0.1 ms per batch of 500
(data adapter, tf.data, callbacks), even with `steps_per_execution` covering
the whole epoch, while the metrics cost about 10-60 us per batch (F1) and
about 1 us or less (binary Recall) on TensorFlow: under 1 % of the loop for
Recall, a difference that no number of repeats turns into a ratio. In the
loop above the metric is nearly all of the timed work. The batches (a pool
of `--samples`, 100 batches of 500 by default, about 0.4 MB for F1) are small
enough to stay in the CPU caches, as a model's outputs are when its step
updates the metrics; a call walks the pool as many times as it takes (the
same count for the three arms of a pair) for the Keras arm to last about
`--target-ms`. At 500 samples a batch the binary metrics cost well under a
microsecond on the compiled backends, where their ratio counts kernels more
than work; `--batch 4096` shows the per-sample cost.

Rounds. Each round times the baseline, the Keras metric and the epochkit
metric back to back, in an order that rotates from round to round; the
state is reset before every call (not timed). Per round, a metric's cost is
its time minus that round's baseline, per batch; the ratio is epochkit's
cost over Keras's in that round (a round whose Keras cost is not positive
counts as an infinite ratio). The table gives the median over rounds with
the interquartile range (IQR) of the costs and of the per-round ratios. The
target is a ratio of at most 1.2: "yes" when the ratio's upper quartile is
at most 1.2, "no" when its lower quartile is above 1.2, "cannot tell"
otherwise. The last columns give each result's distance from scikit-learn
on the pool.

Usage: python benchmarks/bench_metrics.py [--samples 50000] [--batch 500]
           [--rounds 21] [--target-ms 60] [--backends "tensorflow jax torch"]
           [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.tables import quartiles

BACKENDS = ("tensorflow", "jax", "torch")
CLASSES = 10
TARGET_RATIO = 1.2
MAX_PASSES = 2000


def _data(samples: int):
    rng = np.random.default_rng(0)
    y = rng.integers(0, CLASSES, samples).astype("int32")
    scores = rng.normal(size=(samples, CLASSES)).astype("float32")
    scores[np.arange(samples), y] += 1.0
    probs = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    y_bin = (rng.random(samples) < 0.3).astype("float32")
    p_bin = np.clip(0.3 * y_bin + 0.7 * rng.random(samples), 0, 1).astype("float32")
    return y, probs.astype("float32"), y_bin, p_bin


def _loop_runner(backend: str):
    """`make(metric)` -> `run(y_true, y_pred, steps)`: one timed call.

    `y_true` and `y_pred` hold the pool as `(batches, batch, ...)` tensors;
    `run` walks `steps` batches (cycling through the pool), updating the
    metric and computing its result after every batch, and returns the last
    result as NumPy once the work is done. `metric=None` is the baseline.

    In the compiled loops each batch is a loop variable, sliced from the pool
    at the end of the previous step: the metric reads materialized tensors,
    as a compiled step reads its inputs, rather than a slice that the
    compiler could fuse into (and recompute in) each of the metric's kernels.
    The baseline reads one element of each batch, so it slices them too.
    """
    import keras

    if backend == "tensorflow":
        import tensorflow as tf

        def make(metric):
            @tf.function(jit_compile=True)
            @tf.autograph.experimental.do_not_convert
            def loop(y_true, y_pred, steps):
                batches = tf.shape(y_true)[0]

                def body(i, t, p, out):
                    if metric is None:
                        first = tf.cast(tf.reshape(t, [-1])[0], out.dtype)
                        out = out + (first + tf.reshape(p, [-1])[0]) * 0.0
                    else:
                        metric.update_state(t, p)
                        out = metric.result()
                    j = (i + 1) % batches
                    return i + 1, y_true[j], y_pred[j], out

                start = tf.zeros(()) if metric is None else metric.result()
                carry = (0, y_true[0], y_pred[0], start)
                return tf.while_loop(lambda i, *_: i < steps, body, carry)[-1]

            def run(y_true, y_pred, steps):
                if metric is not None:
                    metric.reset_state()
                return np.asarray(loop(y_true, y_pred, tf.constant(steps)))

            return run

        return make

    if backend == "jax":
        import jax

        def make(metric):
            @jax.jit
            def loop(state, y_true, y_pred, steps):
                batches = y_true.shape[0]

                def body(i, carry):
                    state, t, p, out = carry
                    if metric is None:
                        first = t.ravel()[0].astype(out.dtype)
                        out = out + (first + p.ravel()[0]) * 0.0
                    else:
                        state = metric.stateless_update_state(state, t, p)
                        out = metric.stateless_result(state)
                    j = (i + 1) % batches
                    return state, y_true[j], y_pred[j], out

                start = (
                    jax.numpy.zeros(())
                    if metric is None
                    else metric.stateless_result(state)
                )
                carry = (state, y_true[0], y_pred[0], start)
                return jax.lax.fori_loop(0, steps, body, carry)[-1]

            def run(y_true, y_pred, steps):
                state = []
                if metric is not None:
                    metric.reset_state()
                    state = [v.value for v in metric.variables]
                out = loop(state, y_true, y_pred, steps)
                return np.asarray(jax.block_until_ready(out))

            return run

        return make

    def make(metric):  # PyTorch: eager, as Keras's trainer runs metrics there
        def run(y_true, y_pred, steps):
            batches = y_true.shape[0]
            out = None
            if metric is not None:
                metric.reset_state()
            for i in range(steps):
                t, p = y_true[i % batches], y_pred[i % batches]
                if metric is None:
                    out = p[0, 0]
                    continue
                metric.update_state(t, p)
                out = metric.result()
            return keras.ops.convert_to_numpy(out)

        return run

    return make


def _worker(samples: int, batch: int, rounds: int, target_ms: float) -> dict:
    import keras
    from sklearn import metrics as skm

    import keras_epochkit as ek

    backend = keras.backend.backend()
    make = _loop_runner(backend)
    batches = samples // batch
    used = batches * batch
    y, probs, y_bin, p_bin = _data(used)
    one_hot = np.eye(CLASSES, dtype="float32")[y]

    def pool(array):
        return keras.ops.convert_to_tensor(
            array.reshape((batches, batch, *array.shape[1:]))
        )

    multiclass = (pool(one_hot), pool(probs))
    binary = (pool(y_bin[:, None]), pool(p_bin[:, None]))
    pairs = [
        (
            "F1 (10 classes, macro)",
            multiclass,
            lambda: keras.metrics.F1Score(average="macro"),
            lambda: ek.metrics.F1Score(num_classes=CLASSES, average="macro"),
            skm.f1_score(y, probs.argmax(-1), average="macro"),
        ),
        (
            "Precision (binary)",
            binary,
            keras.metrics.Precision,
            lambda: ek.metrics.Precision(task="binary"),
            skm.precision_score(y_bin, p_bin > 0.5),
        ),
        (
            "Recall (binary)",
            binary,
            keras.metrics.Recall,
            lambda: ek.metrics.Recall(task="binary"),
            skm.recall_score(y_bin, p_bin > 0.5),
        ),
    ]

    def timed(run, data, steps):
        start = time.perf_counter()
        run(*data, steps)
        return time.perf_counter() - start

    rows = []
    for label, data, keras_metric, ek_metric, sk_value in pairs:
        metrics = [None, keras_metric(), ek_metric()]
        for metric in metrics[1:]:  # builds Keras's lazily shaped variables
            metric.update_state(data[0][0], data[1][0])
        runs = [make(metric) for metric in metrics]
        # Compiles, and gives the results of one pass over the pool.
        values = [float(run(*data, batches)) for run in runs]
        for run in runs:
            run(*data, batches)
        one_pass = min(timed(runs[1], data, batches) for _ in range(3))
        passes = int(np.clip(round(target_ms / 1000 / one_pass), 1, MAX_PASSES))
        steps = passes * batches
        times = np.zeros((rounds, 3))
        for r in range(rounds):
            for arm in np.roll(np.arange(3), -r):
                times[r, arm] = timed(runs[arm], data, steps)
        per_batch_us = times * 1e6 / steps
        rows.append(
            {
                "metric": label,
                "steps": steps,
                "passes": passes,
                "per_batch_us": per_batch_us.tolist(),
                "keras_value": values[1],
                "epochkit_value": values[2],
                "sklearn_value": float(sk_value),
            }
        )
    mode = "eager" if backend == "torch" else "jit_compile=True"
    return {"backend": backend, "mode": mode, "batches": batches, "rows": rows}


def _fmt(value: float, digits: int) -> str:
    return (
        f"{value:.{digits}f}"
        if np.isfinite(value)
        else ("inf" if value > 0 else "-inf")
    )


def _spread(values, digits: int) -> str:
    q1, q2, q3 = quartiles(values)
    return f"{_fmt(q2, digits)} ({_fmt(q1, digits)}-{_fmt(q3, digits)})"


def verdict(ratios) -> str:
    """ "yes", "no" or "cannot tell" for the target ratio of `TARGET_RATIO`."""
    q1, _, q3 = quartiles(ratios)
    if q3 <= TARGET_RATIO:
        return "yes"
    if q1 > TARGET_RATIO:
        return "no"
    return "cannot tell"


def summarize(row: dict) -> dict:
    """Per-round costs (us per batch) and ratios of one pair."""
    times = np.asarray(row["per_batch_us"])
    base, keras_t, ek_t = times[:, 0], times[:, 1], times[:, 2]
    keras_cost, ek_cost = keras_t - base, ek_t - base
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(keras_cost > 0, ek_cost / keras_cost, np.inf)
    return {"base": base, "keras": keras_cost, "epochkit": ek_cost, "ratio": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=50000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=21)
    parser.add_argument("--target-ms", type=float, default=60.0)
    parser.add_argument("--backends", default=" ".join(BACKENDS))
    parser.add_argument(
        "--no-write", action="store_true", help="print only, leave docs alone"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = _worker(args.samples, args.batch, args.rounds, args.target_ms)
        print("RESULT " + json.dumps(result))
        return

    results = []
    for backend in args.backends.split():
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                *("--samples", str(args.samples), "--batch", str(args.batch)),
                *("--rounds", str(args.rounds), "--target-ms", str(args.target_ms)),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{backend} run failed:\n{proc.stderr[-4000:]}")
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
        results.append(json.loads(line[len("RESULT ") :]))

    from benchmarks.tables import markdown_table
    from benchmarks.tables import write_section

    load = os.getloadavg()[0]
    table = []
    for result in results:
        for row in result["rows"]:
            stats = summarize(row)
            table.append(
                [
                    f"{result['backend']} ({result['mode']})",
                    row["metric"],
                    f"{result['batches']} x {row['passes']}",
                    f"{np.median(stats['base']):.2f}",
                    _spread(stats["keras"], 2),
                    _spread(stats["epochkit"], 2),
                    _spread(stats["ratio"], 2),
                    verdict(stats["ratio"]),
                    f"{abs(row['epochkit_value'] - row['sklearn_value']):.1e}",
                    f"{abs(row['keras_value'] - row['sklearn_value']):.1e}",
                ]
            )
    headers = [
        "backend",
        "metric",
        "batches x passes per call",
        "loop alone (us/batch)",
        "keras.metrics cost (us/batch)",
        "epochkit cost (us/batch)",
        "ratio epochkit/keras",
        f"ratio <= {TARGET_RATIO}?",
        "|epochkit - sklearn|",
        "|keras - sklearn|",
    ]
    body = (
        "## Metrics: update+result cost against keras.metrics\n\n"
        f"The cost per batch of {args.batch} of `update_state` followed by "
        "`result()`, as a test step runs them: one call walks a pool of "
        f"{args.samples // args.batch} batches in memory (several passes, the "
        "same for both sides of a pair) in one compiled loop "
        "(`jit_compile=True` on TensorFlow and JAX) or an eager loop (PyTorch), "
        "minus the same loop without a metric. Both metrics of a pair get the "
        "same inputs (one-hot labels for F1). Baseline, Keras and epochkit "
        f"are timed back to back in a rotating order, {args.rounds} rounds; "
        "costs and the per-round ratio epochkit / Keras are given as median "
        "(interquartile range). The target is a ratio of at most "
        f"{TARGET_RATIO}: *yes* when the ratio's upper quartile is at most "
        f"{TARGET_RATIO}, *no* when its lower quartile is above, *cannot tell* "
        "otherwise (below 1: epochkit is cheaper). The last columns give each "
        "result's distance from scikit-learn on the same data. See the "
        "docstring of `benchmarks/bench_metrics.py` for why this loop and not "
        "`evaluate`. "
        f"1-minute load average at the end of the run: {load:.1f} on "
        f"{os.cpu_count()} cores"
        + (" (other jobs were running)" if load > 1.25 * (os.cpu_count() or 1) else "")
        + ".\n\n"
        + markdown_table(headers, table)
    )
    if not args.no_write:
        write_section("metrics", body)
    print(body)


if __name__ == "__main__":
    main()
