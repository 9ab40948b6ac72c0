"""Cost of each sequence augmentation layer against its reference implementation.

For every sequence layer, on `(batch, 1000, 3)` float32 batches (256 by
default), on the CPU:

* in-model: time of a compiled training step (`jit_compile=True` on
  TensorFlow and JAX, eager on PyTorch) with the layer, minus the same step
  without it;
* tf.data: time per batch of a `tf.data` pipeline mapping the layer, minus
  the same pipeline without it;

per Keras backend, each in its own process, against the reference on the same
batch: tsaug's transform where it has one (jitter: `AddNoise`, time warp:
`TimeWarp`, window slice: `Crop` with `resize`), otherwise a plain numpy
implementation of the layer's definition written below. Ratios are
reference time / layer time (above 1: the layer is faster).

Usage: python benchmarks/bench_augmentation.py [--batch 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

LENGTH, CHANNELS = 1000, 3
# Differences below this many milliseconds are within the timing noise.
NOISE_MS = 1.0
BACKENDS = ("tensorflow", "jax", "torch")
LAYERS = (
    "RandomJitter",
    "RandomScaling",
    "RandomMagnitudeWarp",
    "RandomTimeWarp",
    "RandomWindowSlice",
    "RandomWindowWarp",
    "RandomPermutation",
    "RandomTimeMask",
)


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


# --- references: tsaug where it has the transform, numpy otherwise ----------


def _spline_curves(rng, batch, sigma, knots, channels):
    from scipy.interpolate import CubicSpline

    x_knots = np.linspace(0, LENGTH - 1, knots + 2)
    values = rng.normal(1.0, sigma, size=(batch, knots + 2, channels))
    steps = np.arange(LENGTH)
    return np.stack(
        [
            np.stack(
                [CubicSpline(x_knots, v[:, c])(steps) for c in range(channels)], -1
            )
            for v in values
        ]
    )


def _numpy_scaling(x, rng):
    return x * rng.normal(1.0, 0.1, size=(x.shape[0], 1, x.shape[2]))


def _numpy_magnitude_warp(x, rng):
    return x * _spline_curves(rng, x.shape[0], 0.2, 4, x.shape[2])


def _numpy_window_warp(x, rng, window_ratio=0.1, scales=(0.5, 2.0)):
    out = np.empty_like(x)
    steps = np.arange(LENGTH)
    width = int(np.ceil(window_ratio * LENGTH))
    for i, sample in enumerate(x):
        scale = rng.choice(scales)
        start = rng.integers(1, LENGTH - width - 1)
        end = start + width
        for c in range(x.shape[2]):
            window = np.interp(
                np.linspace(0, width - 1, int(width * scale)),
                np.arange(width),
                sample[start:end, c],
            )
            warped = np.concatenate([sample[:start, c], window, sample[end:, c]])
            out[i, :, c] = np.interp(
                steps, np.linspace(0, LENGTH - 1, warped.size), warped
            )
    return out


def _numpy_permutation(x, rng, max_segments=5):
    out = np.empty_like(x)
    for i, sample in enumerate(x):
        cuts = np.sort(rng.integers(1, LENGTH, size=max_segments - 1))
        pieces = np.split(sample, cuts)
        order = rng.permutation(len(pieces))
        out[i] = np.concatenate([pieces[k] for k in order])
    return out


def _numpy_time_mask(x, rng, count=2, max_width=100):
    out = x.copy()
    for i in range(x.shape[0]):
        for _ in range(count):
            width = rng.integers(0, max_width + 1)
            start = rng.integers(0, LENGTH - width + 1)
            out[i, start : start + width] = 0
    return out


def references():
    """Name -> (reference label, callable on a numpy batch)."""
    import tsaug

    rng = np.random.default_rng(0)
    return {
        "RandomJitter": (
            "tsaug AddNoise",
            lambda x: tsaug.AddNoise(scale=0.03, normalize=False).augment(x),
        ),
        "RandomScaling": ("numpy", lambda x: _numpy_scaling(x, rng)),
        "RandomMagnitudeWarp": (
            "numpy + scipy spline",
            lambda x: _numpy_magnitude_warp(x, rng),
        ),
        "RandomTimeWarp": ("tsaug TimeWarp", lambda x: tsaug.TimeWarp().augment(x)),
        "RandomWindowSlice": (
            "tsaug Crop+resize",
            lambda x: tsaug.Crop(size=int(0.9 * LENGTH), resize=LENGTH).augment(x),
        ),
        "RandomWindowWarp": ("numpy", lambda x: _numpy_window_warp(x, rng)),
        "RandomPermutation": ("numpy", lambda x: _numpy_permutation(x, rng)),
        "RandomTimeMask": ("numpy", lambda x: _numpy_time_mask(x, rng)),
    }


# --- one backend, in its own process ----------------------------------------


def measure_backend(batch: int, repeats: int) -> dict:
    import keras
    import tensorflow as tf

    import keras_epochkit as ek

    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, LENGTH, CHANNELS)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    jit = backend in ("tensorflow", "jax")

    def step_ms(layer):
        inputs = keras.Input((LENGTH, CHANNELS))
        h = inputs if layer is None else layer(inputs)
        h = keras.layers.GlobalAveragePooling1D()(h)
        model = keras.Model(inputs, keras.layers.Dense(1)(h))
        model.compile("sgd", "mse", jit_compile=jit)
        model.train_on_batch(x, y)
        return _median_ms(lambda: model.train_on_batch(x, y), repeats)

    def pipeline_ms(layer):
        data = tf.data.Dataset.from_tensors(x).repeat(repeats + 1)
        if layer is not None:
            data = data.map(layer)

        def run():
            for _ in data:
                pass

        run()
        start = time.perf_counter()
        run()
        return 1000 * (time.perf_counter() - start) / (repeats + 1)

    results = {"in_model": {}, "tf_data": {}}
    base_step = step_ms(None)
    base_pipeline = pipeline_ms(None)
    for name in LAYERS:
        cls = getattr(ek.layers, name)
        results["in_model"][name] = max(step_ms(cls(seed=0)) - base_step, 1e-3)
        results["tf_data"][name] = max(pipeline_ms(cls(seed=0)) - base_pipeline, 1e-3)
        print(
            backend,
            name,
            results["in_model"][name],
            results["tf_data"][name],
            file=sys.stderr,
        )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure_backend(args.batch, args.repeats)))
        return

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, LENGTH, CHANNELS)).astype("float32")
    reference_ms = {}
    labels = {}
    for name, (label, fn) in references().items():
        labels[name] = label
        reference_ms[name] = _median_ms(lambda fn=fn: fn(x), args.repeats)
        print("reference", name, reference_ms[name], file=sys.stderr)

    backends = args.backends.split(",")
    measured = {}
    for backend in backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                f"--batch={args.batch}",
                f"--repeats={args.repeats}",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        measured[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(backend, json.dumps(measured[backend]), file=sys.stderr)

    headers = ["layer", "reference", "reference ms"]
    for backend in backends:
        headers += [f"{backend} in-model ms (x)", f"{backend} tf.data ms (x)"]
    rows = []
    slowest = {}
    for name in LAYERS:
        ref = reference_ms[name]
        row = [f"`{name}`", labels[name], f"{ref:.1f}"]
        for backend in backends:
            for where in ("in_model", "tf_data"):
                ms = measured[backend][where][name]
                if ms < NOISE_MS:
                    # The step with the layer was not measurably slower.
                    row.append(f"< {NOISE_MS:.0f} (n/a)")
                    continue
                row.append(f"{ms:.1f} ({ref / ms:.1f}x)")
                if labels[name].startswith("tsaug"):
                    key = (backend, where)
                    slowest[key] = min(slowest.get(key, (np.inf, "")), (ref / ms, name))
        rows.append(row)

    from benchmarks.tables import markdown_table
    from benchmarks.tables import write_section

    notes = "\n".join(
        f"- slowest ratio against tsaug, {backend} {where.replace('_', '-')}: "
        f"{ratio:.1f}x (`{name}`)"
        for (backend, where), (ratio, name) in sorted(slowest.items())
    )
    load = os.getloadavg()[0]
    body = (
        "## Augmentation\n\n"
        f"Time per `({args.batch}, {LENGTH}, {CHANNELS})` float32 batch, median of "
        f"{args.repeats} repeats, CPU only (no GPU was available). In-model: a "
        "compiled training step with the layer minus the same step without it "
        "(`jit_compile=True` on TensorFlow and JAX, eager PyTorch); tf.data: per "
        "batch of a pipeline mapping the layer minus the bare pipeline "
        f"(`< {NOISE_MS:.0f}`: no measurable difference, no ratio). In "
        "parentheses: reference time / layer time (above 1: the layer is faster). "
        "The reference runs the same batch in numpy on the host: tsaug's "
        "transform where one exists, otherwise a plain numpy implementation of "
        "the definition (in the script). 1-minute load average at the end of "
        f"the run: {load:.1f} on 2 cores"
        + (
            " (other jobs were running, so single figures are noisy)"
            if load > 2.5
            else ""
        )
        + ".\n\n"
        + markdown_table(headers, rows)
        + "\n\n"
        + notes
    )
    write_section("augmentation", body)
    print(body)


if __name__ == "__main__":
    main()
