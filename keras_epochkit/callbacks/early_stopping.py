"""Early stopping: Keras's rule, plus criteria, several monitors and a resumable state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_epochkit._core import monitor as monitor_core
from keras_epochkit._core.config import constructor_arguments
from keras_epochkit._core.monitor import check_min_delta_mode
from keras_epochkit._core.monitor import check_mode
from keras_epochkit._core.monitor import is_improvement
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_bool
from keras_epochkit._core.validation import check_choice
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit._core.validation import check_verbose
from keras_epochkit._core.validation import invalid
from keras_epochkit.callbacks._stateful import StatefulCallback
from keras_epochkit.criteria._smoothing import check_smoothing
from keras_epochkit.criteria.compose import AllOf
from keras_epochkit.criteria.compose import AnyOf
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.divergence import Divergence
from keras_epochkit.criteria.non_finite import NonFinite
from keras_epochkit.criteria.patience import Patience
from keras_epochkit.criteria.trend_patience import TrendPatience

# What `EarlyStopping.recommended()` adds to `TrendPatience.tuned()`:
#   divergence: factor of a relative Divergence rule, or None;
#   restore_best_weights, start_from_epoch: as in EarlyStopping.
_RECOMMENDED: dict[str, Any] = {
    "divergence": 10.0,
    "restore_best_weights": True,
    "start_from_epoch": 0,
}

# Settings of the patience rule `recommended()` built before it moved to
# TrendPatience; they configure nothing now, so passing one is an error that
# says so.
_RETIRED = (
    "smoothing",
    "smoothing_window",
    "min_delta_mode",
    "generalization_loss",
    "extrapolation",
)

BEST_EPOCH_LOG = "early_stopping_best_epoch"
STOP_CODE_LOG = "early_stopping_stop_code"
STOP_WHEN = ("all", "any")


def _as_list(value, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if not value:
            raise invalid(name, "a value or a non-empty list", value)
        return list(value)
    return [value]


class EarlyStopping(StatefulCallback):
    """Stops training when a monitored quantity has stopped improving.

    A drop-in superset of `keras.callbacks.EarlyStopping`: every Keras
    argument has the same meaning and default, so with finite logs that
    contain the monitor, changing the import changes nothing (same stop
    epoch, same restored weights) until a new argument is used. The
    deliberate deviations: a bad argument (such as `mode`) raises
    `ValueError` instead of warning; a monitor missing from `logs` while
    other keys of its kind are there (a typo) raises `ValueError` listing
    the keys present, where Keras warns every epoch; a
    non-finite value is never "best" (Keras counts a NaN first epoch as
    best), and by default (`check_finite=True`) a NaN or infinite monitored
    value stops training at once, restoring the best weights.

    Each epoch the monitored values go through the stop rules in a fixed
    order: non-finite, target, divergence, the patience family,
    extrapolation; the first rule that says stop gives `stop_reason` and
    `stop_message`. The best epoch is the epoch whose first (primary) monitor
    value beat the best so far by more than `min_delta` (Keras's rule);
    weights are snapshot only on such an improvement, never from a
    non-finite epoch, and with `restore_best_weights=True` they are
    restored at the end of training however it ends (patience, a
    criterion, a non-finite value, or the end of the budget).

    Several monitors (`monitor=["val_loss", "val_auc"]`): the first one is
    primary and alone defines the best epoch and the weights kept; each
    monitor gets its own patience count, and with `stop_when="all"` training
    stops only once every monitor has stalled (any monitor still improving
    keeps training going), with `stop_when="any"` as soon as one has.

    It adds nothing to the epoch logs by default, so Keras's progress bar
    stays as it is. With `log_figures=True`, two numbers are added from the
    first epoch on, so `History`, `CSVLogger` and `TensorBoard` record them:
    `early_stopping_best_epoch` (0-based, `-1` before any finite value) and
    `early_stopping_stop_code` (`0`, or `int(stop_reason)`: a
    `keras_epochkit.criteria.StopReason`).

    A `val_` monitor missing from the logs of an epoch with no validation
    value at all (no validation data, or `validation_freq > 1`) skips that
    epoch, with one warning per `fit` that lists the keys present; any other
    missing monitor raises a `ValueError`. A monitored value may be a
    Python number, a 0-d or one-element array (as Keras's `F1Score` logs at
    `average=None` for one class) or a tensor.

    Args:
        monitor: the quantity to monitor, or a list of them (the first is
            primary). Defaults to `"val_loss"`.
        min_delta: the smallest change that counts as an improvement; a
            change of less counts as none. Defaults to `0`.
        patience: epochs with no improvement after which training stops.
            Defaults to `0`.
        verbose: `0` is silent, `1` prints why training stopped and which
            epoch's weights were restored. Defaults to `0`.
        mode: `"auto"`, `"min"` or `"max"` (or one per monitor). In `"min"`
            mode training stops when the quantity stops decreasing, in
            `"max"` when it stops increasing; `"auto"` decides once, at the
            first epoch end, from the model's metrics (their `_direction`,
            which keras_epochkit metrics set too), then from the name
            (`loss`, `error`... are minimized; `accuracy`, `auc`,
            `precision`, `recall`, `f1`... maximized), and otherwise raises
            a `ValueError` saying to pass `mode`. Defaults to `"auto"`.
        baseline: a value (or one per monitor) that an improvement must
            also beat to reset the patience count, as in Keras: a run that
            never beats it stops after `patience` epochs. Defaults to `None`.
        restore_best_weights: whether to restore the weights of the best
            epoch at the end of training. Defaults to `False`.
        start_from_epoch: epochs to wait before monitoring improvement
            (non-finite values are still checked). Defaults to `0`.
        criteria: a list of `keras_epochkit.criteria` rules that replace
            the built-in patience rule (then leave `patience`, `baseline`
            and `smoothing` at their defaults and put a
            `criteria.Patience(...)` in the list if you want one). Their
            `mode="auto"` is resolved like `mode`. Defaults to `None`.
        min_delta_mode: `"abs"` (`min_delta` in the monitor's units, as in
            Keras) or `"rel"` (a fraction of the best value's magnitude).
            Defaults to `"abs"`.
        smoothing: `None`, `"ema"` or `"median"`: the patience rule runs on
            a smoothed copy of each monitor (see `criteria.Patience`); the
            best epoch still uses the raw primary monitor. Defaults to
            `None`.
        smoothing_window: the smoothing window in epochs. Defaults to `5`.
        stop_when: with several monitors, `"all"` (stop once every monitor
            has stalled) or `"any"` (once one has). Defaults to `"all"`.
        check_finite: whether a NaN or infinite monitored value stops
            training at once. Defaults to `True`.
        log_figures: whether to add `early_stopping_best_epoch` and
            `early_stopping_stop_code` to the epoch logs. Defaults to
            `False`.

    Attributes:
        stopped_epoch: the 0-based epoch at which training stopped, `0` if
            it did not (as in Keras).
        best_epoch: the 0-based best epoch (as in Keras, `0` before any).
        best: the primary monitor's best value, `None` before any finite
            value (a plain attribute, as in Keras; `best_value` is an alias).
        wait: epochs since the last improvement of the built-in patience
            rule (as in Keras; `0` with `criteria`).
        stop_reason: the `keras_epochkit.criteria.StopReason` of the rule
            that stopped training, `None` until it stops.
        stop_message: that rule's sentence with the run's figures, `""`
            until it stops.
        stop_code: `int(stop_reason)`, `0` until it stops.
        best_weights: the snapshot of the best epoch's weights, or `None`.
        state_key: the name under which `BackupAndRestore` keeps its state
            (`"EarlyStopping[val_loss]"`); assign another to tell two apart.

    State (`get_state`/`set_state`): the best value and epoch, the stop
    epoch, code and reason, the resolved modes, every rule's state and the
    best weights (a list of numpy arrays); everything else is JSON-able. A
    state set with `set_state` before `fit` survives that fit's
    `on_train_begin`, and one set during the first epoch (as
    `keras_epochkit.callbacks.BackupAndRestore` does) takes effect at once,
    so a resumed `fit(initial_epoch=...)` continues exactly. The stop
    reason is kept by its name.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_epochkit.callbacks import EarlyStopping
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 2)), np.zeros((8, 1))
        >>> stop = EarlyStopping(monitor="loss", patience=1, min_delta=10.0)
        >>> history = model.fit(x, y, epochs=5, callbacks=[stop], verbose=0)
        >>> len(history.history["loss"]), stop.stopped_epoch, stop.stop_reason
        (2, 1, <StopReason.PATIENCE: 4>)
    """

    def __init__(
        self,
        monitor: str | Sequence[str] = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str | Sequence[str] = "auto",
        baseline: float | Sequence[float | None] | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
        *,
        criteria: Sequence[Criterion] | Criterion | None = None,
        min_delta_mode: str = "abs",
        smoothing: str | None = None,
        smoothing_window: int = 5,
        stop_when: str = "all",
        check_finite: bool = True,
        log_figures: bool = False,
    ) -> None:
        super().__init__()
        self.monitors = self._check_monitors(monitor)
        self.monitor = monitor if isinstance(monitor, str) else list(monitor)
        self.modes = [check_mode(m) for m in self._per_monitor(mode, "mode")]
        self.mode = mode
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.patience = check_int("patience", patience)
        self.verbose = check_verbose(verbose)
        self.baselines = [
            None if b is None else check_number("baseline", b)
            for b in self._per_monitor(baseline, "baseline")
        ]
        self.baseline = baseline
        self.restore_best_weights = check_bool(
            "restore_best_weights", restore_best_weights
        )
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch)
        self.min_delta_mode = check_min_delta_mode(min_delta_mode)
        check_smoothing(smoothing, smoothing_window)
        self.smoothing = smoothing
        self.smoothing_window = smoothing_window
        self.stop_when = check_choice("stop_when", stop_when, STOP_WHEN)
        self.check_finite = check_bool("check_finite", check_finite)
        self.log_figures = check_bool("log_figures", log_figures)
        self.criteria = self._check_criteria(criteria)
        self._missing = monitor_core.MissingMonitorWarning("EarlyStopping")
        self.reset_state()

    # --- construction helpers ----------------------------------------------
    @staticmethod
    def _check_monitors(monitor) -> list[str]:
        monitors = _as_list(monitor, "monitor")
        for item in monitors:
            if not isinstance(item, str) or not item:
                raise invalid(
                    "monitor", "a non-empty string or a list of them", monitor
                )
        if len(set(monitors)) != len(monitors):
            raise invalid("monitor", "a list of distinct keys", monitor)
        return monitors

    def _per_monitor(self, value, name: str) -> list:
        if isinstance(value, (list, tuple)):
            if len(value) != len(self.monitors):
                raise invalid(
                    name,
                    f"a single value or one per monitor ({len(self.monitors)})",
                    value,
                )
            return list(value)
        return [value] * len(self.monitors)

    def _check_criteria(self, criteria) -> list[Criterion] | None:
        if criteria is None:
            return None
        items = _as_list(criteria, "criteria")
        for item in items:
            if not isinstance(item, Criterion):
                raise invalid(
                    "criteria", "a list of keras_epochkit.criteria objects", criteria
                )
        if (
            self.patience != 0
            or any(b is not None for b in self.baselines)
            or (self.smoothing is not None)
        ):
            raise ValueError(
                "`patience`, `baseline` and `smoothing` configure the built-in "
                "patience rule, which `criteria` replaces; leave them at their "
                "defaults and add keras_epochkit.criteria.Patience(...) to "
                "`criteria` instead."
            )
        return items

    @classmethod
    def recommended(
        cls,
        monitor: str = "val_loss",
        aggressiveness: float = 1.0,
        **overrides: Any,
    ) -> EarlyStopping:
        """The early-stopping rule we recommend: `TrendPatience.tuned()`.

        It reads the curves as a person would (see
        `keras_epochkit.criteria.TrendPatience`): it waits 8 epochs without
        a new best `val_loss` normally, 5 once the training loss falls
        while `val_loss` rises (overfitting), and 30% of the budget while
        `val_loss` is barely below its first value (a plateau that may end
        in a breakthrough); a learning-rate drop in the logs restarts the
        count; and it stops early when the recent rate of gain, carried on
        to the end of the budget, would gain less than 6%, unless
        `val_accuracy` made a new best within the last 30 epochs. A
        relative divergence guard (10x the best), the non-finite check and
        `restore_best_weights=True` complete it.

        The settings were chosen on the 221 curves of EpochBench v2. Chosen
        without each family in turn and scored on it, the rule uses 52.3% of
        the budget and hits 92.8% of the curves, as often as Keras
        `EarlyStopping(patience=20)`, which uses 66.5%, and more often than
        `patience=10` (53.9%, 88.2%). It misses the benchmark's target of
        `patience=10`'s hit rate with at most 80% of its budget. On the
        older recordings a and b, curves it was not tuned on, it uses 56.5%
        and 57.4% and hits 90.7% and 92.6% (`patience=10`: 62.0% / 94.4%
        and 56.7% / 94.4%: on recording b, `patience=10` uses less and hits
        one curve more). `aggressiveness=0.7` gives 60.5% / 96.3% and
        60.9% / 98.1% there. The "Stopping at the right epoch" guide has the
        figures per family and along the `aggressiveness` line.

        Args:
            monitor: the quantity to monitor. Defaults to `"val_loss"`.
            aggressiveness: a positive number that moves the rule along
                its own line of budget against hit rate: it divides the
                waits and multiplies the forecast's tolerance (`2` stops
                about twice as early, `0.5` waits about twice as long).
                Defaults to `1`.
            **overrides: `TrendPatience` arguments that replace the tuned
                settings (`patience`, `forecast_tolerance`, `guard_monitor`,
                ...; applied before `aggressiveness`), `divergence` (the
                factor, or `None` for no guard), or other `EarlyStopping`
                arguments such as `restore_best_weights`, `verbose`, `mode`
                or extra `criteria`.

        Returns:
            An `EarlyStopping` callback.

        Examples:
            >>> from keras_epochkit.callbacks import EarlyStopping
            >>> stop = EarlyStopping.recommended()
            >>> stop.restore_best_weights, type(stop.criteria[0]).__name__
            (True, 'TrendPatience')
            >>> EarlyStopping.recommended(aggressiveness=2).criteria[0].patience
            4
        """
        retired = [name for name in _RETIRED if name in overrides]
        if retired:
            raise ValueError(
                f"`EarlyStopping.recommended()` no longer takes `{retired[0]}`: "
                "it now builds keras_epochkit.criteria.TrendPatience, "
                "which does not smooth the monitor. Pass TrendPatience "
                "arguments, or add rules with `criteria=[...]`; received "
                f"{retired[0]}={overrides[retired[0]]!r}."
            )
        trend_names = set(constructor_arguments(TrendPatience)) - {"monitor", "mode"}
        trend = {k: overrides.pop(k) for k in list(overrides) if k in trend_names}
        settings = {**_RECOMMENDED, **overrides}
        mode = settings.pop("mode", "auto")
        divergence = settings.pop("divergence")
        criteria = [
            TrendPatience.tuned(aggressiveness, monitor=monitor, mode=mode, **trend)
        ]
        if divergence is not None:
            criteria.append(
                Divergence(divergence, monitor=monitor, mode=mode, relative=True)
            )
        criteria.extend(settings.pop("criteria", None) or [])
        return cls(monitor=monitor, mode=mode, criteria=criteria, **settings)

    # --- state ----------------------------------------------------------------
    def reset_state(self) -> None:
        """Forgets the run: called by every `on_train_begin` not resuming."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best: float | None = None
        self.best_weights = None
        self.stop_reason: StopReason | None = None
        self.stop_message = ""
        self._resolved: dict[str, str] = {}
        self._finite_rules: list[Criterion] | None = None
        self._rules: list[Criterion] | None = None

    @property
    def best_value(self) -> float | None:
        """The primary monitor's best value; an alias of `best`."""
        return self.best

    @best_value.setter
    def best_value(self, value: float | None) -> None:
        self.best = value

    @property
    def monitor_op(self):
        """`keras.ops.less` or `keras.ops.greater` for the primary monitor, as
        in Keras; `None` until its direction is resolved (first epoch end)."""
        mode = self._resolved.get(self.monitors[0])
        if mode is None:
            return None
        return keras.ops.greater if mode == "max" else keras.ops.less

    @property
    def stop_code(self) -> int:
        """`int(stop_reason)`, or `0` before training stops."""
        return 0 if self.stop_reason is None else int(self.stop_reason)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._missing.reset()

    def _get_state(self) -> dict[str, Any]:
        return {
            "best_value": self.best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "wait": self.wait,
            "stop_reason": None if self.stop_reason is None else self.stop_reason.name,
            "stop_message": self.stop_message,
            "resolved_modes": dict(self._resolved),
            "finite_rules": None
            if self._finite_rules is None
            else [rule.get_state() for rule in self._finite_rules],
            "rules": None
            if self._rules is None
            else [rule.get_state() for rule in self._rules],
            "best_weights": None
            if self.best_weights is None
            else [np.array(w, copy=True) for w in self.best_weights],
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.reset_state()
        best_value = state.get("best_value")
        self.best = None if best_value is None else float(best_value)
        self.best_epoch = int(state.get("best_epoch", 0))
        self.stopped_epoch = int(state.get("stopped_epoch", 0))
        self.wait = int(state.get("wait", 0))
        reason = state.get("stop_reason")
        self.stop_reason = None if reason is None else StopReason[reason]
        self.stop_message = str(state.get("stop_message", ""))
        self._resolved = dict(state.get("resolved_modes") or {})
        weights = state.get("best_weights")
        self.best_weights = (
            None if weights is None else [np.asarray(w) for w in weights]
        )
        if state.get("rules") is not None:
            self._build_rules()
            for rule, rule_state in zip(self._rules, state["rules"], strict=True):
                rule.set_state(rule_state)
            for rule, rule_state in zip(
                self._finite_rules, state["finite_rules"], strict=True
            ):
                rule.set_state(rule_state)

    # --- modes and rules --------------------------------------------------------
    def _mode_for(self, monitor: str) -> str:
        if monitor not in self._resolved:
            mode = "auto"
            if monitor in self.monitors:
                mode = self.modes[self.monitors.index(monitor)]
            self._resolved[monitor] = monitor_core.resolve_mode(
                monitor, mode, owner="EarlyStopping", model=self.model
            )
        return self._resolved[monitor]

    def _build_rules(self) -> None:
        for monitor in self.monitors:
            self._mode_for(monitor)
        self._finite_rules = [
            NonFinite(monitor=m, mode=self._mode_for(m)) for m in self.monitors
        ]
        if self.criteria is not None:
            rules = [rule.resolved(self._mode_for) for rule in self.criteria]
        else:
            patience_rules = [
                Patience(
                    patience=self.patience,
                    min_delta=self.min_delta,
                    min_delta_mode=self.min_delta_mode,
                    monitor=monitor,
                    mode=self._mode_for(monitor),
                    baseline=baseline,
                    smoothing=self.smoothing,
                    smoothing_window=self.smoothing_window,
                )
                for monitor, baseline in zip(self.monitors, self.baselines)
            ]
            if len(patience_rules) == 1:
                rules = patience_rules
            elif self.stop_when == "all":
                rules = [AllOf(patience_rules)]
            else:
                rules = [AnyOf(patience_rules)]
        self._rules = sorted(rules, key=lambda rule: rule.stage)

    # --- epoch logic ------------------------------------------------------------
    def _read(self, logs: dict) -> dict[str, float] | None:
        self._missing.check(logs, self.monitors)
        values = {}
        for monitor in self.monitors:
            value = monitor_core.read(logs, monitor, owner="EarlyStopping")
            if value is None:
                return None
            values[monitor] = value
        return values

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            logs = {}
        values = self._read(logs)
        if values is not None:
            self._update(int(epoch), logs, values)
        if self.log_figures:
            logs[BEST_EPOCH_LOG] = self.best_epoch if self.best is not None else -1
            logs[STOP_CODE_LOG] = self.stop_code

    def _update(self, epoch: int, logs: dict, values: dict[str, float]) -> None:
        if self._rules is None:
            self._build_rules()
        budget = (self.params or {}).get("epochs")
        decision = None
        if self.check_finite:
            for rule in self._finite_rules:
                outcome = rule.update(epoch, logs, budget)
                if outcome.stop:
                    decision = outcome
                    break
        if decision is None and epoch >= self.start_from_epoch:
            self._track_best(epoch, values[self.monitors[0]])
            for rule in self._rules:
                outcome = rule.update(epoch, logs, budget)
                if outcome.stop and decision is None:
                    decision = outcome
            primary = self._rules[0] if self.criteria is None else None
            self.wait = getattr(primary, "wait", 0) if primary is not None else 0
        if decision is not None:
            self._stop(epoch, decision)

    def _track_best(self, epoch: int, value: float) -> None:
        if not is_improvement(
            value,
            self.best,
            self._mode_for(self.monitors[0]),
            self.min_delta,
            self.min_delta_mode,
        ):
            return
        self.best = value
        self.best_epoch = epoch
        if self.restore_best_weights:
            self.best_weights = self.model.get_weights()

    def _stop(self, epoch: int, decision) -> None:
        self.stopped_epoch = epoch
        self.stop_reason = decision.reason
        self.stop_message = decision.message
        self.model.stop_training = True
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: early stopping: {decision.message}")
        if (
            decision.reason is StopReason.NON_FINITE
            and self.restore_best_weights
            and self.best_weights is not None
        ):
            self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)
