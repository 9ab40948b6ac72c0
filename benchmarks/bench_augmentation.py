"""Cost of each sequence augmentation layer against its reference implementation.

For every sequence layer, on `(batch, 1000, 3)` float32 batches (256 by
default), on the CPU (the workers run with `CUDA_VISIBLE_DEVICES` empty), per
Keras backend, each backend in its own process:

* in-model: one compiled training step (`model.train_on_batch`,
  `jit_compile=True` on TensorFlow and JAX, eager on PyTorch) of a model with
  the layer, against the same step of a model without it;
* tf.data: one `next()` on an iterator over
  `Dataset.from_tensors(x).repeat().map(layer)`, against `next()` on an
  iterator over the same dataset without the map. Nothing prefetches (the
  `inject_prefetch` and `map_parallelization` optimizations are off), so
  `next()` runs the map on the calling side and the figure is the layer's
  compute cost per batch, which a default pipeline overlaps with training.

Protocol, the same in both places. Every arm (a model or an iterator) is built
once, called once (compiling or tracing it) and `WARMUP` more times untimed
before any timing; a sample is the time of a block of `--calls` consecutive
calls divided by `--calls`. Then `--repeats` rounds: in each, every layer's
arm is timed paired with the bare arm, the two blocks back to back after a
garbage collection (none runs inside the pair), and the pair gives one
difference, layer minus bare. Each arm's pair runs the bare block first in
every other round, and the order of the arms rotates from round to round.
The figure is the median of the rounds' differences with their interquartile
range (25th to 75th percentile, inclusive method). An A/A arm (a second bare
model or iterator) is timed against the bare arm the same way: the noise
floor of a difference.

The reference runs the same batch in numpy on the host, in the parent
process, before the backends: tsaug's transform where it has one (jitter:
`AddNoise`, time warp: `TimeWarp`, window slice: `Crop` with `resize`),
otherwise a plain numpy implementation of the layer's definition written
below. It is warmed up and timed the same way, in blocks of `--calls` calls,
every reference once per round over `--repeats` rounds: median and
interquartile range of the time per call.

Ratios are reference time / layer time (above 1: the layer is faster): the
ratio of the medians, with a range from the reference's lower quartile over
the layer's upper quartile to the reference's upper quartile over the layer's
lower quartile (the widest combination of the two IQRs; the reference and
the layer run in different processes, so their samples cannot be paired).
A difference whose lower quartile is at or below zero (the layer arm was not
slower than the bare arm in at least a quarter of the rounds) is within the
noise and gets no ratio. This spread rule replaces a fixed 1 ms threshold:
with paired blocks of calls, differences well under a millisecond are
resolved, and the A/A row shows the noise of the run itself.

Usage: python benchmarks/bench_augmentation.py [--batch 256] [--repeats 5]
    [--calls 10] [--backends tensorflow,jax,torch] [--no-write]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.tables import quartiles  # noqa: E402

LENGTH, CHANNELS = 1000, 3
# Untimed calls of every arm after its first call (which compiles or traces),
# before the first timed block.
WARMUP = 3
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
AA = "A/A"  # the second bare arm, timed against the bare arm


def _block_ms(fn, calls: int) -> float:
    """Milliseconds per call over a block of `calls` consecutive calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1000 * (time.perf_counter() - start) / calls


def _summary(values: list[float]) -> list[float]:
    """[median, lower quartile, upper quartile], rounded to microseconds."""
    low, mid, high = quartiles(values)
    return [round(mid, 3), round(low, 3), round(high, 3)]


def paired_rounds(bare, arms: dict, repeats: int, calls: int) -> dict:
    """Per arm, the per-round differences arm - bare in ms per call.

    `bare` and the values of `arms` are callables doing one call each. All of
    them are warmed up first; then each round times every arm paired with
    the bare arm, back to back, in an order that alternates.
    """
    for fn in (bare, *arms.values()):
        for _ in range(WARMUP + 1):
            fn()
    names = list(arms)
    diffs = {name: [] for name in names}
    bare_ms = []
    for repeat in range(repeats):
        # The arms' order rotates from round to round; each arm's pair runs
        # the bare block first in every other round.
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            # A collection before the pair, none inside it.
            gc.collect()
            gc.disable()
            try:
                if (repeat + names.index(name)) % 2:
                    layer = _block_ms(arms[name], calls)
                    base = _block_ms(bare, calls)
                else:
                    base = _block_ms(bare, calls)
                    layer = _block_ms(arms[name], calls)
            finally:
                gc.enable()
            diffs[name].append(layer - base)
            bare_ms.append(base)
    return {"bare": bare_ms, "diffs": diffs}


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


def measure_backend(batch: int, repeats: int, calls: int) -> dict:
    import keras
    import tensorflow as tf

    import keras_epochkit as ek

    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, LENGTH, CHANNELS)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    jit = backend in ("tensorflow", "jax")

    def train_step(layer):
        inputs = keras.Input((LENGTH, CHANNELS))
        h = inputs if layer is None else layer(inputs)
        h = keras.layers.GlobalAveragePooling1D()(h)
        model = keras.Model(inputs, keras.layers.Dense(1)(h))
        model.compile("sgd", "mse", jit_compile=jit)
        return lambda: model.train_on_batch(x, y)

    # With the default options tf.data injects a prefetch after the map
    # (`inject_prefetch`; `map_parallelization` can make the map asynchronous
    # too): a background thread then computes batches ahead, also while the
    # clock is stopped (between blocks, during the other arm), and a timed
    # `next()` can return a batch that is already done (measured on
    # TensorFlow at batch 256: about 0.5 ms for a `next()` of RandomTimeMask
    # after a pause, 10 ms with `inject_prefetch` off). Both are off and
    # nothing prefetches, so `next()` runs the map on the calling side and a
    # block times the work of its own batches: the layer's compute cost per
    # batch, which a default pipeline would overlap with training.
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False
    options.experimental_optimization.map_parallelization = False

    def pipeline(layer):
        data = tf.data.Dataset.from_tensors(x).repeat()
        if layer is not None:
            data = data.map(layer)
        return iter(data.with_options(options)).__next__

    def layers():
        return {name: getattr(ek.layers, name)(seed=0) for name in LAYERS}

    results = {}
    for where, make in (("in_model", train_step), ("tf_data", pipeline)):
        arms = {AA: make(None)}
        arms.update({name: make(layer) for name, layer in layers().items()})
        runs = paired_rounds(make(None), arms, repeats, calls)
        results[where] = {
            "bare": _summary(runs["bare"]),
            "diff": {name: _summary(d) for name, d in runs["diffs"].items()},
            "rounds": {
                name: [round(v, 3) for v in d] for name, d in runs["diffs"].items()
            },
        }
    return results


def measure_references(batch: int, repeats: int, calls: int):
    """Reference labels, and per layer [median, low, high] ms per call."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, LENGTH, CHANNELS)).astype("float32")
    refs = references()
    times = {name: [] for name in refs}
    for _, fn in refs.values():
        for _ in range(WARMUP + 1):
            fn(x)
    for _ in range(repeats):
        for name, (_, fn) in refs.items():
            gc.collect()
            gc.disable()
            try:
                times[name].append(_block_ms(lambda fn=fn: fn(x), calls))
            finally:
                gc.enable()
    labels = {name: label for name, (label, _) in refs.items()}
    return labels, {name: _summary(t) for name, t in times.items()}


# --- the table ----------------------------------------------------------------


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _ms(figures: list[float]) -> str:
    mid, low, high = figures
    digits = 2 if max(abs(low), abs(high)) < 10 else 1
    return f"{mid:.{digits}f} ({low:.{digits}f} to {high:.{digits}f})"


def _ratio(reference: list[float], layer: list[float]) -> tuple[float, float, float]:
    """Reference / layer: ratio of medians, range from the two IQRs."""
    return (
        reference[0] / layer[0],
        reference[1] / layer[2],
        reference[2] / layer[1],
    )


def _cell(reference: list[float] | None, diff: list[float]) -> tuple[str, tuple]:
    """A table cell, and the ratio (None within the noise or without reference)."""
    if reference is None:
        return _ms(diff), None
    if diff[1] <= 0:
        return f"{_ms(diff)}, within noise", None
    ratio = _ratio(reference, diff)
    mid, low, high = (_x(r) for r in ratio)
    return f"{_ms(diff)}, {mid}x ({low}-{high})", ratio


def _x(ratio: float) -> str:
    return f"{ratio:.1f}" if ratio >= 1 else f"{ratio:.2f}"


def render(args, labels, reference, measured, loads) -> str:
    from benchmarks.tables import markdown_table

    backends = list(measured)
    headers = ["layer", "reference", "reference ms"]
    for backend in backends:
        headers += [f"{backend} in-model", f"{backend} tf.data"]
    rows = []
    slowest = {}
    for name in (AA, *LAYERS):
        ref = reference.get(name)
        if ref is None:
            row = ["A/A: bare vs bare", "-", "-"]
        else:
            row = [f"`{name}`", labels[name], _ms(ref)]
        for backend in backends:
            for where in ("in_model", "tf_data"):
                text, ratio = _cell(ref, measured[backend][where]["diff"][name])
                row.append(text)
                if ratio is not None and labels[name].startswith("tsaug"):
                    key = (backend, where)
                    slowest[key] = min(slowest.get(key, (np.inf,)), (*ratio, name))
        rows.append(row)
    bare_row = ["bare arm (absolute)", "-", "-"]
    for backend in backends:
        for where in ("in_model", "tf_data"):
            bare_row.append(_ms(measured[backend][where]["bare"]))
    rows.append(bare_row)

    notes = "\n".join(
        f"- slowest ratio against tsaug, {backend} {where.replace('_', '-')}: "
        f"{_x(mid)}x ({_x(low)}-{_x(high)}, `{name}`)"
        for (backend, where), (mid, low, high, name) in sorted(slowest.items())
    )
    shape = f"`({args.batch}, {LENGTH}, {CHANNELS})`"
    return (
        "## Augmentation\n\n"
        f"Milliseconds per {shape} float32 batch on the CPU: the median over "
        f"{args.repeats} rounds with the interquartile range in brackets, each "
        f"round's figure the mean of a block of {args.calls} consecutive calls. "
        "In-model: a compiled training step (`train_on_batch`, "
        "`jit_compile=True` on TensorFlow and JAX, eager PyTorch) with the layer "
        "minus the same step without it; tf.data: one `next()` on a steady "
        "iterator mapping the layer (no prefetch, map on the calling side, so "
        "the layer's compute cost, which a default pipeline overlaps with "
        "training) minus the same iterator without the map. Every model and "
        "iterator is built once and warmed up before timing; in each round the "
        "layer arm and the bare arm are timed back to back, in alternating "
        "order, and the figure is the median of the rounds' differences. "
        "The A/A row times a second bare arm the same way (the noise floor); "
        "the last row gives the bare arm's own time per call. "
        "The reference runs the same batch in numpy on the host, timed the same "
        "way in another process: tsaug's transform where one exists, otherwise "
        "a plain numpy implementation of the definition (in the script). After "
        "each difference: reference time / layer time (above 1: the layer is "
        "faster), the ratio of the medians with the range given by the two "
        "interquartile ranges; 'within noise': the difference's lower quartile "
        "is at or below zero, no ratio. 1-minute load average before and after "
        f"the run: {loads[0]} / {loads[1]} on {os.cpu_count()} cores.\n\n"
        + markdown_table(headers, rows)
        + "\n\n"
        + notes
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5, help="rounds")
    parser.add_argument("--calls", type=int, default=10, help="calls per block")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="print the section without writing docs/benchmarks.md",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        figures = measure_backend(args.batch, args.repeats, args.calls)
        print(json.dumps(figures))
        return

    loads = [_load()]
    labels, reference = measure_references(args.batch, args.repeats, args.calls)
    print("reference", json.dumps(reference), file=sys.stderr)
    measured = {}
    for backend in args.backends.split(","):
        env = dict(
            os.environ,
            KERAS_BACKEND=backend,
            TF_CPP_MIN_LOG_LEVEL="2",
            CUDA_VISIBLE_DEVICES="",
        )
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                f"--batch={args.batch}",
                f"--repeats={args.repeats}",
                f"--calls={args.calls}",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            sys.stderr.write(proc.stderr)
            proc.check_returncode()
        measured[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(backend, json.dumps(measured[backend]), file=sys.stderr)
    loads.append(_load())

    body = render(args, labels, reference, measured, loads)
    if not args.no_write:
        from benchmarks.tables import write_section

        write_section("augmentation", body)
    print(body)


if __name__ == "__main__":
    main()
