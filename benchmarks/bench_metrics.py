"""Cost of the precision/recall metrics against keras.metrics, per backend.

For each pair, a compiled `evaluate` loop (`jit_compile=True` on TensorFlow
and JAX, eager on PyTorch) runs over fixed predictions (an identity model on
precomputed scores) with only that metric compiled in, and the same loop with
no metric is the baseline:

* F1 (multiclass, 10 classes, macro): `keras.metrics.F1Score(average="macro")`
  on one-hot labels vs `keras_epochkit.metrics.F1Score(num_classes=10)`;
* Precision and Recall (binary, threshold 0.5): `keras.metrics.Precision()` /
  `Recall()` vs `keras_epochkit.metrics.Precision(task="binary")` / `Recall`.

Each backend runs in its own process. The table gives the best time of the
whole loop, the metric's own cost (loop minus baseline, so update_state plus
result; best of interleaved runs) and the ratio epochkit / Keras of that cost (at most 1.2 is the
target; below 1: epochkit is cheaper), and the absolute difference of the
epochkit result from scikit-learn on the same data.

Usage: python benchmarks/bench_metrics.py [--samples 50000] [--batch 500]
           [--repeats 7] [--backends "tensorflow jax torch"]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

BACKENDS = ("tensorflow", "jax", "torch")
CLASSES = 10


def _data(samples: int):
    rng = np.random.default_rng(0)
    y = rng.integers(0, CLASSES, samples).astype("int32")
    scores = rng.normal(size=(samples, CLASSES)).astype("float32")
    scores[np.arange(samples), y] += 1.0
    probs = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    y_bin = (rng.random(samples) < 0.3).astype("float32")
    p_bin = np.clip(0.3 * y_bin + 0.7 * rng.random(samples), 0, 1).astype("float32")
    return y, probs.astype("float32"), y_bin, p_bin


def _worker(samples: int, batch: int, repeats: int) -> dict:
    import keras
    from sklearn import metrics as skm

    import keras_epochkit as ek

    jit = keras.backend.backend() in ("tensorflow", "jax")
    y, probs, y_bin, p_bin = _data(samples)
    one_hot = np.eye(CLASSES, dtype="float32")[y]

    def compiled(width, metric):
        model = keras.Sequential([keras.Input((width,)), keras.layers.Identity()])
        model.compile(
            loss=lambda t, p: keras.ops.zeros_like(p[:, 0]),
            metrics=[] if metric is None else [metric],
            jit_compile=jit,
        )
        return model

    def timed(runs):
        """Best time of each (model, x, y) run, measured in interleaved rounds."""
        results = [
            model.evaluate(x, t, batch_size=batch, verbose=0, return_dict=True)
            for model, x, t in runs
        ]
        best = [float("inf")] * len(runs)
        for _ in range(repeats):
            for i, (model, x, t) in enumerate(runs):
                start = time.perf_counter()
                model.evaluate(x, t, batch_size=batch, verbose=0)
                best[i] = min(best[i], time.perf_counter() - start)
        return [1000 * b for b in best], results

    rows = []
    pairs = [
        (
            "F1 (10 classes, macro)",
            CLASSES,
            probs,
            lambda: keras.metrics.F1Score(average="macro", name="m"),
            one_hot,
            lambda: ek.metrics.F1Score(num_classes=CLASSES, average="macro", name="m"),
            y,
            skm.f1_score(y, probs.argmax(-1), average="macro"),
        ),
        (
            "Precision (binary)",
            1,
            p_bin[:, None],
            lambda: keras.metrics.Precision(name="m"),
            y_bin[:, None],
            lambda: ek.metrics.Precision(task="binary", name="m"),
            y_bin[:, None],
            skm.precision_score(y_bin, p_bin > 0.5),
        ),
        (
            "Recall (binary)",
            1,
            p_bin[:, None],
            lambda: keras.metrics.Recall(name="m"),
            y_bin[:, None],
            lambda: ek.metrics.Recall(task="binary", name="m"),
            y_bin[:, None],
            skm.recall_score(y_bin, p_bin > 0.5),
        ),
    ]
    for label, width, x, keras_metric, keras_y, ek_metric, ek_y, sk_value in pairs:
        (base_ms, keras_ms, ek_ms), (_, keras_res, ek_res) = timed(
            [
                (compiled(width, None), x, ek_y),
                (compiled(width, keras_metric()), x, keras_y),
                (compiled(width, ek_metric()), x, ek_y),
            ]
        )
        rows.append(
            {
                "metric": label,
                "baseline_ms": base_ms,
                "keras_ms": keras_ms,
                "epochkit_ms": ek_ms,
                "keras_value": float(keras_res["m"]),
                "epochkit_value": float(ek_res["m"]),
                "sklearn_value": float(sk_value),
            }
        )
    return {"backend": keras.backend.backend(), "jit": jit, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=50000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--backends", default=" ".join(BACKENDS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(_worker(args.samples, args.batch, args.repeats)))
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
                *("--repeats", str(args.repeats)),
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

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.tables import markdown_table
    from benchmarks.tables import write_section

    load = os.getloadavg()[0]
    table = []
    for result in results:
        mode = "jit_compile=True" if result["jit"] else "eager"
        for row in result["rows"]:
            keras_cost = row["keras_ms"] - row["baseline_ms"]
            ek_cost = row["epochkit_ms"] - row["baseline_ms"]
            # Either cost at or below zero is timing noise: no ratio.
            ratio = (
                f"{ek_cost / keras_cost:.2f}"
                if keras_cost > 0 and ek_cost > 0
                else "n/a"
            )
            table.append(
                [
                    f"{result['backend']} ({mode})",
                    row["metric"],
                    f"{row['baseline_ms']:.1f}",
                    f"{row['keras_ms']:.1f}",
                    f"{row['epochkit_ms']:.1f}",
                    ratio,
                    f"{row['epochkit_ms'] / row['keras_ms']:.2f}",
                    f"{abs(row['epochkit_value'] - row['sklearn_value']):.1e}",
                    f"{abs(row['keras_value'] - row['sklearn_value']):.1e}",
                ]
            )
    headers = [
        "backend",
        "metric",
        "loop without metric (ms)",
        "keras.metrics (ms)",
        "epochkit (ms)",
        "metric cost ratio epochkit/keras",
        "loop time ratio",
        "|epochkit - sklearn|",
        "|keras - sklearn|",
    ]
    body = (
        "## Metrics: update+result cost against keras.metrics\n\n"
        f"A compiled `evaluate` loop over {args.samples} precomputed predictions in "
        f"batches of {args.batch} (an identity model; best of {args.repeats} interleaved runs), "
        "with one metric compiled in. *Metric cost* is the loop time minus the same "
        "loop without a metric; its ratio epochkit / Keras below 1.2 meets the "
        "target (below 1: epochkit is cheaper). The last columns give each "
        "result's distance from scikit-learn on the same data. The metric cost "
        "is a difference of two loop times, so small costs carry the timing noise "
        "of both (a loop without a metric can even come out slower than one with "
        "it; the ratio is then n/a): read the loop-time ratio alongside it. "
        f"1-minute load average at the end of the run: {load:.1f} on 2 cores"
        + (" (other jobs were running)" if load > 2.5 else "")
        + ".\n\n"
        + markdown_table(headers, table)
    )
    write_section("metrics", body)
    print(body)


if __name__ == "__main__":
    main()
