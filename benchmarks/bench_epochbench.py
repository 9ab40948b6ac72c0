"""EpochBench: scores stopping rules on recorded learning curves.

Every rule is a Keras callback, replayed through the real Keras callback API:
a `keras.callbacks.CallbackList` around a tiny Keras model whose single weight
is set to the epoch index before each `on_epoch_end`, so the weight left at the
end of training says which epoch's weights the rule kept. A replay stops when
the rule sets `model.stop_training`. The test figures never reach the rule.

Figures per rule, over the curves of one recording:

- share of the budget used: epochs run / budget, averaged;
- hit rate: the share of curves where the kept epoch is as good as the
  reference, full-budget training that restores the best-`val_loss` epoch.
  Classification: test accuracy at most 0.5 points below the reference's.
  Regression: test loss above the reference's by at most 10% of it or 1% of
  the improvement from epoch 0 to the reference, whichever is larger;
- accuracy regret: reference test accuracy minus kept test accuracy, in
  points, mean and worst over the classification curves;
- test-loss excess: kept test loss over the reference's, in percent, mean
  over the regression curves.

The clairvoyant floor is, per curve, the fewest epochs after which restoring
the best-`val_loss` epoch seen so far is already a hit; its mean share of the
budget is what a rule hitting every curve needs at least.

Usage:

    python benchmarks/bench_epochbench.py              # tables for a and b
    python benchmarks/bench_epochbench.py --check      # self-check the harness
    python benchmarks/bench_epochbench.py --tune       # search recommended()
    python benchmarks/bench_epochbench.py --plot docs/guides/img/epochbench.png
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.curves import load_curves

KERAS_PATIENCES = (0, 2, 5, 10, 20, 30, 50)
ACCURACY_TOLERANCE = 0.005
REGRESSION_RELATIVE_TOLERANCE = 0.10
REGRESSION_IMPROVEMENT_TOLERANCE = 0.01
PLOT_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "docs",
    "guides",
    "img",
    "epochbench.png",
)

_PROBE = None


def probe_model() -> keras.Model:
    """A real Keras model with one weight, used to read back the kept epoch."""
    global _PROBE
    if _PROBE is None:
        _PROBE = keras.Sequential(
            [keras.Input((1,)), keras.layers.Dense(1, use_bias=False)]
        )
    return _PROBE


def replay(curve: dict, callback: keras.callbacks.Callback) -> dict:
    """Drives `callback` through a curve's logs; returns the epochs run and kept.

    Args:
        curve: a recorded curve (see `benchmarks/curves.py`).
        callback: a fresh Keras callback (e.g. an early-stopping rule).

    Returns:
        A dict with `epochs_run` (how many epochs the rule let training run)
        and `chosen` (the 0-based epoch whose weights the model ends with).
    """
    model = probe_model()
    budget = int(curve.get("budget", len(curve["logs"])))
    steps = math.ceil(curve.get("train_size", 1) / curve.get("batch_size", 1))
    callbacks = keras.callbacks.CallbackList(
        [callback], model=model, epochs=budget, steps=steps, verbose=0
    )
    model.stop_training = False
    callbacks.on_train_begin()
    epochs_run = 0
    for epoch in range(min(budget, len(curve["logs"]))):
        callbacks.on_epoch_begin(epoch)
        model.set_weights([np.full((1, 1), epoch, dtype="float32")])
        callbacks.on_epoch_end(epoch, dict(curve["logs"][epoch]))
        epochs_run = epoch + 1
        if model.stop_training:
            break
    callbacks.on_train_end()
    chosen = round(float(model.get_weights()[0][0, 0]))
    return {"epochs_run": epochs_run, "chosen": chosen}


def _val_losses(curve: dict) -> np.ndarray:
    values = np.array([log.get("val_loss", np.nan) for log in curve["logs"]])
    return np.where(np.isfinite(values), values, np.inf)


def reference_epoch(curve: dict) -> int:
    """The best-`val_loss` epoch of the full budget (the first one on ties)."""
    return int(np.argmin(_val_losses(curve)))


def is_hit(curve: dict, epoch: int) -> bool:
    """Whether keeping `epoch` is as good as the reference, within tolerance."""
    ref = reference_epoch(curve)
    test = curve["test"]
    if curve["task"] == "classification":
        return test[epoch]["accuracy"] >= test[ref]["accuracy"] - (
            ACCURACY_TOLERANCE + 1e-9
        )
    ref_loss = test[ref]["loss"]
    improvement = max(test[0]["loss"] - ref_loss, 0.0)
    tolerance = max(
        REGRESSION_RELATIVE_TOLERANCE * ref_loss,
        REGRESSION_IMPROVEMENT_TOLERANCE * improvement,
    )
    return test[epoch]["loss"] <= ref_loss + tolerance + 1e-12


def clairvoyant_epochs(curve: dict) -> int:
    """Fewest epochs after which the best-`val_loss` epoch so far is a hit."""
    val = _val_losses(curve)
    best = 0
    for t in range(len(val)):
        if val[t] < val[best]:
            best = t
        if is_hit(curve, best):
            return t + 1
    return len(val)


def score(curves: list[dict], make_callback) -> dict:
    """Replays a fresh callback from `make_callback()` on every curve."""
    shares, hits, regrets, excess = [], [], [], []
    for curve in curves:
        result = replay(curve, make_callback())
        chosen, ref = result["chosen"], reference_epoch(curve)
        shares.append(result["epochs_run"] / curve["budget"])
        hits.append(is_hit(curve, chosen))
        test = curve["test"]
        if curve["task"] == "classification":
            regrets.append(100 * (test[ref]["accuracy"] - test[chosen]["accuracy"]))
        else:
            excess.append(100 * (test[chosen]["loss"] / test[ref]["loss"] - 1))
    return {
        "share": float(np.mean(shares)),
        "hit_rate": float(np.mean(hits)),
        "regret_mean": float(np.mean(regrets)) if regrets else float("nan"),
        "regret_worst": float(np.max(regrets)) if regrets else float("nan"),
        "excess_mean": float(np.mean(excess)) if excess else float("nan"),
    }


def keras_rule(patience: int):
    def make():
        return keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, restore_best_weights=True
        )

    return make


def epochkit_rules() -> tuple[list[tuple[str, object]], list[str]]:
    """Each epochkit criterion at its defaults, and `recommended()`.

    Returns the rules that can be built, and notes for those that cannot
    (criteria that need a value, such as a target, have no default).
    """
    try:
        import keras_epochkit as ek
        from keras_epochkit import criteria
    except ImportError as error:
        return [], [f"keras_epochkit.criteria is not available: {error}"]
    rules, notes = [], []
    for name in criteria.__all__:
        obj = getattr(criteria, name)
        composite = (criteria.Criterion, criteria.AnyOf, criteria.AllOf)
        if not (isinstance(obj, type) and issubclass(obj, criteria.Criterion)):
            continue
        if obj in composite:
            continue
        if name in ("Warmup", "Baseline"):
            notes.append(
                f"`{name}` is a gate that wraps another rule, not a rule of its own."
            )
            continue
        try:
            obj(monitor="val_loss")
        except TypeError:
            required = [
                p.name
                for p in inspect.signature(obj).parameters.values()
                if p.default is inspect.Parameter.empty
                and p.kind is p.POSITIONAL_OR_KEYWORD
            ]
            notes.append(
                f"`{name}` has no default for `{'`, `'.join(required)}`, so it "
                "cannot run at its defaults."
            )
            continue

        def make(cls=obj):
            return ek.callbacks.EarlyStopping(
                monitor="val_loss",
                criteria=[cls(monitor="val_loss")],
                restore_best_weights=True,
            )

        rules.append((f"epochkit `{name}()`", make))
    rules.append(
        (
            "epochkit `EarlyStopping.recommended()`",
            lambda: ek.callbacks.EarlyStopping.recommended(),
        )
    )
    return rules, notes


def all_rules() -> tuple[list[tuple[str, object]], list[str]]:
    rules = [
        (f"Keras `EarlyStopping(patience={p})`", keras_rule(p)) for p in KERAS_PATIENCES
    ]
    extra, notes = epochkit_rules()
    return rules + extra, notes


def _fmt(value: float, digits: int = 2) -> str:
    if value != value:
        return "n/a"
    if round(value, digits) == 0:
        value = 0.0  # no "-0.00"
    return f"{value:.{digits}f}"


def table_for(curves: list[dict], rules) -> tuple[list[list[object]], dict]:
    rows, results = [], {}
    for name, make in rules:
        result = score(curves, make)
        results[name] = result
        rows.append(
            [
                name,
                f"{100 * result['share']:.1f}%",
                f"{100 * result['hit_rate']:.1f}%",
                _fmt(result["regret_mean"]),
                _fmt(result["regret_worst"]),
                _fmt(result["excess_mean"], 1),
            ]
        )
    floor = np.mean([clairvoyant_epochs(c) / c["budget"] for c in curves])
    rows.append(["clairvoyant floor", f"{100 * floor:.1f}%", "100.0%", "", "", ""])
    results["clairvoyant floor"] = {"share": float(floor), "hit_rate": 1.0}
    return rows, results


HEADERS = [
    "Rule",
    "Budget used",
    "Hit rate",
    "Acc. regret mean (pts)",
    "Acc. regret worst (pts)",
    "Regr. test-loss excess mean (%)",
]


def describe(curves: list[dict]) -> str:
    kinds = {}
    for c in curves:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    tasks = sum(c["task"] == "classification" for c in curves)
    return (
        f"{len(curves)} curves ({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}; "
        f"{tasks} classification, {len(curves) - tasks} regression)"
    )


def target_verdict(results: dict) -> str:
    """Whether recommended() meets the target on this recording, with figures."""
    rec = results.get("epochkit `EarlyStopping.recommended()`")
    if rec is None:
        return "`recommended()` was not scored."
    p10 = results["Keras `EarlyStopping(patience=10)`"]
    p20 = results["Keras `EarlyStopping(patience=20)`"]
    checks = [
        (
            rec["hit_rate"] >= p20["hit_rate"],
            f"hit rate {100 * rec['hit_rate']:.1f}% vs {100 * p20['hit_rate']:.1f}% "
            "for patience=20",
        ),
        (
            rec["share"] <= 0.8 * p10["share"],
            f"budget used {100 * rec['share']:.1f}% vs {100 * 0.8 * p10['share']:.1f}% "
            "(80% of patience=10's)",
        ),
        (
            rec["regret_worst"] < 1.0,
            f"worst accuracy regret {rec['regret_worst']:.2f} points (< 1)",
        ),
    ]
    parts = [("met" if ok else "MISSED") + ": " + text for ok, text in checks]
    overall = "Target met" if all(ok for ok, _ in checks) else "Target missed"
    return f"{overall}: " + "; ".join(parts) + "."


def run_tables(recordings: list[str]) -> dict:
    rules, notes = all_rules()
    sections, all_results = [], {}
    for recording in recordings:
        curves = load_curves(recording)
        rows, results = table_for(curves, rules)
        all_results[recording] = results
        label = (
            "tuning seeds" if recording == "a" else "check seeds, not used for tuning"
        )
        sections.append(
            f"### Recording {recording} ({label}): {describe(curves)}\n\n"
            + _markdown(rows)
            + "\n\n"
            + target_verdict(results)
        )
        late = sum(reference_epoch(c) >= 0.95 * c["budget"] for c in curves)
        sections[-1] += (
            f" On this recording {late} of {len(curves)} curves reach their best "
            "`val_loss` in the last 5% of the budget: every rule that keeps their "
            "accuracy runs them to the end, which is most of what separates the "
            "clairvoyant floor from zero."
        )
        print(f"\nrecording {recording}: {describe(curves)}")
        print(_markdown(rows))
        print(target_verdict(results))
    return {"sections": sections, "results": all_results, "notes": notes}


def _markdown(rows) -> str:
    from benchmarks.tables import markdown_table

    return markdown_table(HEADERS, rows)


def write_docs(report: dict) -> None:
    from benchmarks.tables import write_section

    notes = "".join(f"\n- {note}" for note in report["notes"])
    body = (
        "## EpochBench: stopping quality on recorded learning curves\n\n"
        "Each rule is replayed through `keras.callbacks.CallbackList` on learning "
        "curves recorded by `benchmarks/record_curves.py` (plain Keras models, "
        "100-epoch budget, image/tabular/sequence data, clean, noisy-label and "
        "small-data runs, Adam/SGD/RMSprop). *Budget used*: epochs run / 100. "
        "*Hit*: the kept epoch's test accuracy is at most 0.5 points below that of "
        "full-budget training restoring the best-`val_loss` epoch (regression: test "
        "loss above the reference's by at most max(10%, 1% of the improvement "
        "from epoch 0)). *Regret*: reference test accuracy minus the kept epoch's, "
        "in points (negative: better than the reference). The clairvoyant floor "
        "is the mean share of the budget after which restoring the best-"
        "`val_loss` epoch seen so far is already a hit. Keras rules use "
        "`restore_best_weights=True`; epochkit criteria run at their defaults "
        "inside `keras_epochkit.callbacks.EarlyStopping(criteria=[...], "
        "restore_best_weights=True)`.\n\n"
        "Target for `recommended()`: hit rate at least that of Keras "
        "`patience=20`, at most 80% of the epochs Keras `patience=10` uses, worst "
        "accuracy regret under 1 point.\n\n"
        + "\n\n".join(report["sections"])
        + "\n\n`recommended()` was tuned on recording a only (`python "
        "benchmarks/bench_epochbench.py --tune` searches patience, EMA window "
        "and relative `min_delta`) and then checked on recording b, recorded "
        "with other seeds."
        + (f"\n\nNot scored:{notes}" if notes else "")
        + f"\n\nReplayed on the {keras.backend.backend()} backend."
    )
    write_section("epochbench", body, command="python benchmarks/bench_epochbench.py")


TUNE_GRID = {
    "patience": (10, 11, 12, 13, 14),
    # recommended() is a patience rule on an EMA-smoothed monitor.
    "smoothing": (("ema", 3), ("ema", 4), ("ema", 5)),
    "min_delta": (0.0, 1e-4, 1e-3),
}


def tune(recording: str = "a") -> list[tuple[dict, dict]]:
    """Scores `recommended(**overrides)` over `TUNE_GRID` on one recording.

    Prints every candidate, then the cheapest one that reaches Keras
    `patience=20`'s hit rate with a worst accuracy regret under 1 point (on a
    tie, the larger `min_delta`: it ignores noise-level improvements).
    """
    import keras_epochkit as ek

    curves = load_curves(recording)
    bar = score(curves, keras_rule(20))["hit_rate"]
    results = []
    for patience in TUNE_GRID["patience"]:
        for smoothing, window in TUNE_GRID["smoothing"]:
            for min_delta in TUNE_GRID["min_delta"]:
                overrides = {
                    "patience": patience,
                    "smoothing": smoothing,
                    "smoothing_window": window,
                    "min_delta": min_delta,
                    "min_delta_mode": "rel",
                    "divergence": 10.0,
                }
                figures = score(
                    curves,
                    lambda o=overrides: ek.callbacks.EarlyStopping.recommended(**o),
                )
                results.append((overrides, figures))
                print(
                    overrides,
                    f"used {100 * figures['share']:.1f}%",
                    f"hits {100 * figures['hit_rate']:.1f}%",
                    f"worst regret {figures['regret_worst']:.2f}",
                    flush=True,
                )
    eligible = [
        (o, f) for o, f in results if f["hit_rate"] >= bar and f["regret_worst"] < 1.0
    ]
    if eligible:
        best = min(
            eligible,
            key=lambda item: (round(item[1]["share"], 6), -item[0]["min_delta"]),
        )
        print("cheapest eligible:", best[0], best[1])
    else:
        print(f"no candidate reaches patience=20's hit rate ({100 * bar:.1f}%)")
    return results


def plot(results: dict, path: str) -> None:
    """Budget used against hit rate for every rule, one panel per recording."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recordings = sorted(results)
    fig, axes = plt.subplots(
        1, len(recordings), figsize=(5.5 * len(recordings), 4.5), squeeze=False
    )
    for ax, recording in zip(axes[0], recordings):
        figures = results[recording]
        keras_names = [f"Keras `EarlyStopping(patience={p})`" for p in KERAS_PATIENCES]
        xs = [100 * figures[n]["share"] for n in keras_names]
        ys = [100 * figures[n]["hit_rate"] for n in keras_names]
        ax.plot(xs, ys, "o-", color="tab:blue", label="Keras EarlyStopping")
        for p, x, y in zip(KERAS_PATIENCES, xs, ys):
            ax.annotate(f"p={p}", (x, y), textcoords="offset points", xytext=(4, -10))
        for name, f in figures.items():
            if name.startswith("epochkit") and "recommended" not in name:
                ax.plot(100 * f["share"], 100 * f["hit_rate"], "s", color="tab:gray")
                label = name.split("`")[1].rstrip("()")
                ax.annotate(
                    label,
                    (100 * f["share"], 100 * f["hit_rate"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color="tab:gray",
                )
        rec = figures.get("epochkit `EarlyStopping.recommended()`")
        if rec is not None:
            ax.plot(
                100 * rec["share"],
                100 * rec["hit_rate"],
                "*",
                color="tab:red",
                markersize=14,
                label="epochkit recommended()",
            )
        floor = 100 * figures["clairvoyant floor"]["share"]
        ax.axvline(floor, color="black", linestyle="--", label="clairvoyant floor")
        p10 = figures["Keras `EarlyStopping(patience=10)`"]["share"]
        p20 = figures["Keras `EarlyStopping(patience=20)`"]["hit_rate"]
        ax.fill_between(
            [0, 80 * p10],
            100 * p20,
            101,
            color="tab:green",
            alpha=0.12,
            label="target region",
        )
        ax.set_xlim(0, 102)
        lowest = min(100 * f["hit_rate"] for f in figures.values())
        ax.set_ylim(max(0.0, lowest - 5), 101)
        ax.set_xlabel("budget used (% of 100 epochs)")
        ax.set_ylabel("hit rate (%)")
        ax.set_title(f"EpochBench recording {recording}")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), ".epochbench.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def self_check() -> int:
    """Checks the harness against a plain re-implementation of Keras patience."""
    failures = 0
    for recording in ("a", "b"):
        try:
            curves = load_curves(recording)
        except FileNotFoundError:
            continue
        for patience in KERAS_PATIENCES:
            for curve in curves:
                val = _val_losses(curve)
                best, wait, stop = 0, 0, len(val) - 1
                for t in range(1, len(val)):
                    wait += 1
                    if val[t] < val[best]:
                        best, wait = t, 0
                    elif wait >= patience:
                        stop = t
                        break
                got = replay(curve, keras_rule(patience)())
                want = {"epochs_run": stop + 1, "chosen": best}
                if got != want:
                    failures += 1
                    print(
                        f"MISMATCH {curve['id']} patience={patience}: {got} != {want}"
                    )
        for curve in curves:
            floor = clairvoyant_epochs(curve)
            if not 1 <= floor <= reference_epoch(curve) + 1:
                failures += 1
                print(f"MISMATCH {curve['id']}: clairvoyant {floor}")
        print(f"recording {recording}: checked {len(curves)} curves")
    print("self-check", "FAILED" if failures else "passed")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", default="a,b")
    parser.add_argument("--check", action="store_true", help="self-check the harness")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--tune", action="store_true", help="search recommended() on recording a"
    )
    parser.add_argument("--plot", default=PLOT_PATH, help="PNG of the tables")
    args = parser.parse_args(argv)
    if args.check:
        return self_check()
    if args.tune:
        tune("a")
        return 0
    report = run_tables(args.recordings.split(","))
    if not args.no_write:
        write_docs(report)
        plot(report["results"], args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
