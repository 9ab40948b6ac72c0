"""`analyze`: where a recorded run should have stopped, and where it overfit."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from keras_epochkit import criteria as criteria_lib
from keras_epochkit._core.monitor import resolve_mode
from keras_epochkit.analysis._logs import load_logs
from keras_epochkit.analysis.analysis_report import AnalysisReport
from keras_epochkit.analysis.criterion_stop import CriterionStop
from keras_epochkit.criteria._overfitting import OverfittingDetector
from keras_epochkit.criteria.replay import feed
from keras_epochkit.criteria.replay import replay

_HIDDEN_ARGS = ("monitor", "mode", "train_monitor", "name")


def criterion_name(criterion: Any) -> str:
    """The class name with its first argument and those not at their default."""
    cls = type(criterion)
    try:
        config = criterion.get_config()
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (AttributeError, TypeError, ValueError):
        return cls.__name__
    first = parameters[0].name if parameters else None
    defaults = {p.name: p.default for p in parameters}
    shown = []
    for key, value in config.items():
        if key in _HIDDEN_ARGS or isinstance(value, (Mapping, list)):
            continue
        default = defaults.get(key, inspect.Parameter.empty)
        if key != first and default is not inspect.Parameter.empty:
            if default == value:
                continue
        shown.append(f"{key}={value!r}")
    return f"{cls.__name__}({', '.join(shown)})"


def _default_criteria(monitor: str, mode: str, train_key: str) -> dict[str, Any]:
    rules = [
        criteria_lib.Patience(patience=5, monitor=monitor, mode=mode),
        criteria_lib.Patience(patience=10, monitor=monitor, mode=mode),
        criteria_lib.GeneralizationLoss(monitor=monitor, mode=mode),
        criteria_lib.ProgressQuotient(
            monitor=monitor, mode=mode, train_monitor=train_key
        ),
        criteria_lib.UpStrips(monitor=monitor, mode=mode),
        criteria_lib.Extrapolation(monitor=monitor, mode=mode),
    ]
    return {criterion_name(rule): rule for rule in rules}


def _best(values: list[float], sign: float, last: int) -> tuple[int, float]:
    best_epoch, best_value = -1, math.nan
    for epoch in range(last + 1):
        value = values[epoch]
        if math.isfinite(value) and (
            best_epoch < 0 or sign * value < sign * best_value
        ):
            best_epoch, best_value = epoch, value
    return best_epoch, best_value


def analyze(
    source: Any,
    *,
    monitor: str = "val_loss",
    train_monitor: str | None = None,
    mode: str = "auto",
    criteria: Sequence[Any] | Mapping[str, Any] | None = None,
    budget: int | None = None,
    overfitting_monitor: Any = None,
) -> AnalysisReport:
    """Finds the best epoch, where stopping rules would have stopped, and
    where overfitting began, in the logs of a finished run.

    Each criterion is replayed on the logs from a fresh copy, as
    `EarlyStopping` would have run it; the epoch it keeps is the best
    monitored epoch up to its stop, as with `restore_best_weights=True`. Time
    saved is counted in epochs (epochs of equal length). Overfitting is found
    by replaying an `OverfittingMonitor`.

    Args:
        source: a `keras.callbacks.History`, its `history` dict, a pandas
            `DataFrame` (one row per epoch), the path of a
            `keras.callbacks.CSVLogger` file, or a list of per-epoch dicts.
        monitor: the validation key to judge epochs by. Defaults to
            `"val_loss"`.
        train_monitor: its training counterpart. Defaults to `None`, which
            drops the `"val_"` prefix.
        mode: `"auto"`, `"min"` or `"max"`. Defaults to `"auto"`, inferred
            from the name as in `OverfittingMonitor`.
        criteria: objects with `update(epoch, logs, budget=None)` returning a
            decision with `stop` and `reason` (the `keras_epochkit.criteria`
            interface), as a list (named after their class and non-default
            arguments) or a dict from name to criterion. Defaults to `None`:
            `Patience` with patience 5 and 10, `GeneralizationLoss`,
            `ProgressQuotient`, `UpStrips` and `Extrapolation` at their
            defaults.
        budget: the epoch budget handed to the criteria. Defaults to `None`,
            the number of recorded epochs.
        overfitting_monitor: an `OverfittingMonitor` (or anything with the
            detector's settings in its `get_config()`) whose detection
            settings to use. Defaults to `None`, the default settings.

    Returns:
        An `AnalysisReport`; print it for a Markdown table.

    Examples:
        >>> from keras_epochkit.analysis import analyze
        >>> val = [1.0, 0.6, 0.5, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]
        >>> logs = [{"loss": 1.0 / (e + 1), "val_loss": v} for e, v in enumerate(val)]
        >>> report = analyze(logs, criteria=[])
        >>> report.best_epoch, report.onset_epoch
        (3, 3)
    """
    logs = load_logs(source)
    resolved = resolve_mode(monitor, mode, owner="analyze")
    sign = 1.0 if resolved == "min" else -1.0
    detector = _detector(overfitting_monitor, monitor, train_monitor, resolved)
    if not any(monitor in row for row in logs):
        raise ValueError(
            f"`monitor={monitor!r}` is in no epoch of the log. Keys present: "
            f"{sorted(set().union(*logs))}."
        )
    train_key = detector.train_key
    if criteria is None:
        criteria = _default_criteria(monitor, resolved, train_key)
    elif not isinstance(criteria, Mapping):
        criteria = {criterion_name(c): c for c in criteria}
    budget = len(logs) if budget is None else int(budget)

    values = [row.get(monitor, math.nan) for row in logs]
    n = len(logs)
    best_epoch, best_value = _best(values, sign, n - 1)
    stops = []
    for name, criterion in criteria.items():
        stop_epoch, decision = replay(criterion, logs, budget)
        last = n - 1 if stop_epoch is None else stop_epoch
        kept_epoch, kept_value = _best(values, sign, last)
        saved = n - (last + 1)
        stops.append(
            CriterionStop(
                name=name,
                stop_epoch=stop_epoch,
                kept_epoch=kept_epoch,
                kept_value=kept_value,
                epochs_run=last + 1,
                epochs_saved=saved,
                share_saved=saved / n,
                reason=decision.message if stop_epoch is not None else "",
            )
        )

    for _ in feed(detector, logs, budget):
        pass
    onset = detector.onset_epoch
    return AnalysisReport(
        monitor=monitor,
        mode=resolved,
        epochs=n,
        best_epoch=best_epoch,
        best_value=best_value,
        stops=tuple(stops),
        onset_epoch=onset if onset >= 0 else None,
        onset_detected_epoch=detector.detected_epoch if onset >= 0 else None,
        overfitting_summary=detector.summary(),
    )


def _detector(settings: Any, monitor: str, train_monitor, mode: str):
    """A fresh `OverfittingDetector` with the settings of `settings`, if any."""
    config = {"monitor": monitor, "train_monitor": train_monitor, "mode": mode}
    if settings is not None:
        wanted = inspect.signature(OverfittingDetector.__init__).parameters
        given = settings.get_config()
        config.update({k: v for k, v in given.items() if k in wanted})
        if config.get("mode", "auto") == "auto":
            config["mode"] = mode
    return OverfittingDetector(**config)
