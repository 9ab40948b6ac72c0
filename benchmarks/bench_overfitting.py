"""Overfitting detection on EpochBench: false alarms and onset error.

Each detector watches a recorded curve epoch by epoch and may raise an alarm
("overfitting began at epoch b"). `OverfittingMonitor` is driven through the
real Keras callback API (a `keras.callbacks.CallbackList` around a small Keras
model, `action=None` so it never stops the replay); the test figures never
reach it. Two simple rules run on the same curves in the same run, as
peers:

- "GL > 5" (Prechelt's GL_5): alarm at the first epoch whose validation loss
  is more than 5% above its minimum so far;
- "no new best in 10": alarm once validation loss has not improved for 10
  epochs (what `keras.callbacks.EarlyStopping(patience=10)` would stop on).

Both report the best-validation epoch at the alarm as the onset, as the
monitor does. A hindsight row, known only after training, takes the epoch of
the lowest validation loss of the whole run on every curve: its onset error
shows how far the validation and test minima lie apart (it is averaged over
all overfitting curves, the detectors' over those they detect).

Ground truth, from the held-out test loss: a curve *overfits* when its final
test loss is at least 10% above its minimum test loss, and its true onset is
the epoch of that minimum. Figures per detector over one recording:

- detection rate: overfitting curves with an alarm / overfitting curves;
- false-alarm rate: other curves with an alarm / other curves (an alarm
  counts even if a later new best withdrew it);
- onset error: |reported onset - true onset| in epochs, mean and median over
  detected overfitting curves;
- delay: alarm epoch - true onset, mean over detected overfitting curves.

Usage:

    python benchmarks/bench_overfitting.py            # recordings a, b and v2
    python benchmarks/bench_overfitting.py --recordings a

On EpochBench v2 (`benchmarks/data/v2/`, one file per family) the same
figures come per family with one family left out at a time: the
`OverfittingMonitor` variant with the best detection rate minus false-alarm
rate on the other families is scored on the held-out one (its defaults were
chosen on recording a, so on v2 they are held out too).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.curves import curves_path
from benchmarks.curves import load_curves
from benchmarks.curves import load_v2
from keras_epochkit.callbacks import OverfittingMonitor

OVERFIT_RATIO = 1.10
_MODEL = None


def truth(curve: dict) -> tuple[bool, int]:
    """(overfits, true onset epoch) from the curve's test loss."""
    test_loss = np.array([row["loss"] for row in curve["test"]], dtype="float64")
    onset = int(np.argmin(test_loss))
    return bool(test_loss[-1] >= OVERFIT_RATIO * test_loss[onset]), onset


def _model() -> keras.Model:
    global _MODEL
    if _MODEL is None:
        _MODEL = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        _MODEL.compile(optimizer="sgd", loss="mse")
    return _MODEL


def monitor_alarm(curve: dict, **kwargs) -> tuple[int, int] | None:
    """First (onset, alarm epoch) of an `OverfittingMonitor`, or None."""
    monitor = OverfittingMonitor(verbose=0, **kwargs)
    logs = curve["logs"]
    callbacks = keras.callbacks.CallbackList(
        [monitor], model=_model(), epochs=len(logs), verbose=0
    )
    callbacks.on_train_begin()
    for epoch, row in enumerate(logs):
        callbacks.on_epoch_begin(epoch)
        callbacks.on_epoch_end(epoch, dict(row))
    callbacks.on_train_end()
    alarms = monitor.get_state()["alarms"]
    return tuple(alarms[0]) if alarms else None


def gl_alarm(curve: dict, alpha: float = 5.0) -> tuple[int, int] | None:
    best, best_epoch = math.inf, -1
    for epoch, row in enumerate(curve["logs"]):
        value = row["val_loss"]
        if not math.isfinite(value):
            continue
        if value < best:
            best, best_epoch = value, epoch
        elif 100.0 * (value / best - 1.0) > alpha:
            return best_epoch, epoch
    return None


def patience_alarm(curve: dict, patience: int = 10) -> tuple[int, int] | None:
    best, best_epoch = math.inf, -1
    for epoch, row in enumerate(curve["logs"]):
        value = row["val_loss"]
        if math.isfinite(value) and value < best:
            best, best_epoch = value, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return None


def hindsight_alarm(curve: dict) -> tuple[int, int]:
    val = np.array([row["val_loss"] for row in curve["logs"]], dtype="float64")
    val[~np.isfinite(val)] = np.inf
    return int(np.argmin(val)), len(val) - 1


def detectors():
    return [
        ("`OverfittingMonitor()` (defaults)", monitor_alarm),
        (
            "`OverfittingMonitor(patience=2)`",
            lambda c: monitor_alarm(c, patience=2),
        ),
        (
            "`OverfittingMonitor(patience=5)`",
            lambda c: monitor_alarm(c, patience=5),
        ),
        (
            "`OverfittingMonitor(significance=0.01)`",
            lambda c: monitor_alarm(c, significance=0.01),
        ),
        ("`OverfittingMonitor(window=6)`", lambda c: monitor_alarm(c, window=6)),
        ("`OverfittingMonitor(min_gl=2)`", lambda c: monitor_alarm(c, min_gl=2.0)),
        ("peer: GL > 5 (Prechelt)", gl_alarm),
        ("peer: no new best in 10", patience_alarm),
        ("hindsight: argmin of the whole val_loss", hindsight_alarm),
    ]


def score(curves: list[dict], detect) -> dict:
    truths = [truth(c) for c in curves]
    alarms = [detect(c) for c in curves]
    over = [(t, a) for t, a in zip(truths, alarms) if t[0]]
    other = [a for t, a in zip(truths, alarms) if not t[0]]
    detected = [(t, a) for t, a in over if a is not None]
    errors = [abs(a[0] - t[1]) for t, a in detected]
    delays = [a[1] - t[1] for t, a in detected]
    return {
        "detection": len(detected) / len(over) if over else math.nan,
        "false_alarm": sum(a is not None for a in other) / len(other)
        if other
        else math.nan,
        "n_false": sum(a is not None for a in other),
        "error_mean": float(np.mean(errors)) if errors else math.nan,
        "error_median": float(np.median(errors)) if errors else math.nan,
        "delay": float(np.mean(delays)) if delays else math.nan,
        "n_over": len(over),
        "n_other": len(other),
    }


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.0f}%"


def _num(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1f}"


def table(recording: str) -> tuple[str, dict]:
    from benchmarks.tables import markdown_table

    curves = load_curves(recording)
    results = {name: score(curves, detect) for name, detect in detectors()}
    peer = results["peer: no new best in 10"]
    rows = []
    for name, r in results.items():
        if name.startswith("hindsight"):
            rows.append(
                [
                    name,
                    "n/a",
                    "n/a",
                    "n/a",
                    f"{_num(r['error_mean'])} ({_num(r['error_median'])})",
                    "n/a",
                ]
            )
            continue
        ratio = (
            r["false_alarm"] / peer["false_alarm"]
            if peer["false_alarm"] and not math.isnan(r["false_alarm"])
            else math.nan
        )
        rows.append(
            [
                name,
                _pct(r["detection"]),
                f"{_pct(r['false_alarm'])} ({r['n_false']}/{r['n_other']})",
                "-" if math.isnan(ratio) else f"{ratio:.2f}",
                f"{_num(r['error_mean'])} ({_num(r['error_median'])})",
                _num(r["delay"]),
            ]
        )
    n_over = results["hindsight: argmin of the whole val_loss"]["n_over"]
    heading = (
        f"**Recording {recording}**: {len(curves)} curves, {n_over} of them "
        "overfit (final test loss at least 10% above its minimum)."
    )
    markdown = markdown_table(
        [
            "Detector",
            "Detection rate",
            "False-alarm rate",
            "False alarms vs. peer 'no new best in 10'",
            "Onset error, epochs: mean (median)",
            "Delay, epochs",
        ],
        rows,
    )
    return heading + "\n\n" + markdown, results


MONITOR_VARIANTS = {
    "defaults": {},
    "patience=2": {"patience": 2},
    "patience=5": {"patience": 5},
    "significance=0.01": {"significance": 0.01},
    "window=6": {"window": 6},
    "min_gl=2": {"min_gl": 2.0},
}


def _figures(truths, alarms, mask) -> dict:
    over = [(t, a) for t, a, m in zip(truths, alarms, mask) if m and t[0]]
    other = [a for t, a, m in zip(truths, alarms, mask) if m and not t[0]]
    detected = [(t, a) for t, a in over if a is not None]
    errors = [abs(a[0] - t[1]) for t, a in detected]
    return {
        "n_over": len(over),
        "n_other": len(other),
        "detected": len(detected),
        "false": sum(a is not None for a in other),
        "errors": errors,
    }


def _utility(f: dict) -> float:
    detection = f["detected"] / f["n_over"] if f["n_over"] else 0.0
    false = f["false"] / f["n_other"] if f["n_other"] else 0.0
    return detection - false


def v2_table(curves: list[dict]) -> str:
    """Per held-out family: the monitor tuned without it, its defaults and peers."""
    from benchmarks.tables import markdown_table

    truths = [truth(c) for c in curves]
    family = np.array([c["family"] for c in curves])
    alarms = {
        name: [monitor_alarm(c, **kwargs) for c in curves]
        for name, kwargs in MONITOR_VARIANTS.items()
    }
    peers = {
        "GL > 5": [gl_alarm(c) for c in curves],
        "no new best in 10": [patience_alarm(c) for c in curves],
    }
    held_alarms = [None] * len(curves)
    chosen = {}
    for fam in sorted(set(family)):
        train = family != fam
        best = max(
            MONITOR_VARIANTS, key=lambda n: _utility(_figures(truths, alarms[n], train))
        )
        chosen[fam] = best
        for i in np.flatnonzero(~train):
            held_alarms[i] = alarms[best][i]
    columns = {
        "`OverfittingMonitor`, variant tuned without the family": held_alarms,
        "`OverfittingMonitor()` defaults": alarms["defaults"],
        "peer: GL > 5": peers["GL > 5"],
        "peer: no new best in 10": peers["no new best in 10"],
    }

    def cell(f: dict) -> str:
        det = f"{f['detected']}/{f['n_over']}" if f["n_over"] else "-"
        err = f"{np.mean(f['errors']):.1f}" if f["errors"] else "-"
        return f"{det} det, {f['false']}/{f['n_other']} false, err {err}"

    rows = []
    for fam in [*sorted(set(family)), "all"]:
        mask = np.ones(len(curves), bool) if fam == "all" else family == fam
        label = "**all families**" if fam == "all" else f"`{fam}`"
        variant = "" if fam == "all" else chosen[fam]
        rows.append(
            [label, variant]
            + [cell(_figures(truths, a, mask)) for a in columns.values()]
        )
    totals = {
        name: _figures(truths, a, np.ones(len(curves), bool))
        for name, a in columns.items()
    }
    lines = [
        f"**EpochBench v2, one family held out at a time**: {len(curves)} curves "
        f"in {len(set(family))} families, "
        f"{totals['peer: GL > 5']['n_over']} of them overfit. Each cell: "
        "overfitting curves detected, other curves with a false alarm, mean "
        "onset error in epochs over the detected curves. The variant column "
        "names the `OverfittingMonitor` setting chosen without that family "
        "(best detection rate minus false-alarm rate among "
        + ", ".join(f"`{n}`" for n in MONITOR_VARIANTS)
        + ").",
        "",
        markdown_table(["Held-out family", "Variant", *columns], rows),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", nargs="+", default=["a", "b"])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--no-v2", action="store_true", help="skip EpochBench v2")
    args = parser.parse_args(argv)
    recordings = [r for r in args.recordings if curves_path(r).exists()]
    missing = sorted(set(args.recordings) - set(recordings))
    if not recordings:
        print("no recording found; run benchmarks/record_curves.py first")
        return 1
    parts = [
        "## Overfitting detection (EpochBench)",
        "",
        "`OverfittingMonitor` and two simple peer rules watch each recorded "
        "curve's `loss`/`val_loss`; the held-out test loss decides the truth: "
        "a curve overfits when its final test loss is at least 10% above its "
        "minimum, and overfitting began at the epoch of that minimum. The "
        "detection rate counts overfitting curves with an alarm; the false-"
        "alarm rate counts the other curves with an alarm (even one withdrawn "
        "later by a new best). Onset error is |reported onset - true onset| over "
        "detected curves; delay is the alarm epoch minus the true onset. The "
        "hindsight row takes the lowest validation loss of the whole run (known "
        "only after training) on every overfitting curve: how far validation "
        "and test minima lie apart. The "
        "defaults were chosen on recording a; recording b (other seeds) checks "
        "them.",
    ]
    for recording in recordings:
        markdown, _ = table(recording)
        print(markdown + "\n")
        parts += ["", markdown]
    if missing:
        parts += ["", f"Recording(s) {', '.join(missing)} not available in this run."]
    v2 = [] if args.no_v2 else load_v2()
    if v2:
        markdown = v2_table(v2)
        print(markdown + "\n")
        parts += ["", markdown]
    if not args.no_write:
        from benchmarks.tables import write_section

        write_section(
            "overfitting",
            "\n".join(parts),
            command="python benchmarks/bench_overfitting.py",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
