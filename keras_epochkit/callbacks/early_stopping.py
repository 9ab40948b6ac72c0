"""Early stopping: Keras's rule, plus criteria, several monitors and a resumable state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_epochkit.criteria._checks import check_int
from keras_epochkit.criteria._checks import check_min_delta_mode
from keras_epochkit.criteria._checks import check_number
from keras_epochkit.criteria._smoothing import check_smoothing
from keras_epochkit.criteria.compose import AllOf
from keras_epochkit.criteria.compose import AnyOf
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.criterion import check_mode
from keras_epochkit.criteria.criterion import mode_from_name
from keras_epochkit.criteria.divergence import Divergence
from keras_epochkit.criteria.extrapolation import Extrapolation
from keras_epochkit.criteria.generalization_loss import GeneralizationLoss
from keras_epochkit.criteria.non_finite import NonFinite
from keras_epochkit.criteria.patience import Patience
from keras_epochkit.criteria.patience import is_improvement

# The rule `EarlyStopping.recommended()` builds, chosen on EpochBench v2
# (`python benchmarks/bench_epochbench.py`).
#   patience, overfit_patience, plateau_patience, plateau_progress, window,
#       trend_threshold, lr_drop: the TrendPatience rule (waits that follow
#       the training and validation trends; a learning-rate drop restarts it);
#   aggressiveness: divides the three waits (2 waits half as long);
#   restore_best_weights, start_from_epoch: as in EarlyStopping;
#   divergence: factor of a relative Divergence rule, or None;
#   generalization_loss: alpha of a GeneralizationLoss rule, or None;
#   extrapolation: keyword arguments of an Extrapolation rule, or None.
_RECOMMENDED: dict[str, Any] = {
    "patience": 12,
    "overfit_patience": 2,
    "plateau_patience": 20,
    "plateau_progress": 0.05,
    "window": 5,
    "trend_threshold": 0.01,
    "overfit_gap": 0.05,
    "lr_drop": 0.5,
    "forecast_tolerance": 0.06,
    "forecast_window": 20,
    "aggressiveness": 1.0,
    "restore_best_weights": True,
    "start_from_epoch": 0,
    "divergence": 10.0,
    "generalization_loss": None,
    "extrapolation": None,
}

BEST_EPOCH_LOG = "early_stopping_best_epoch"
STOP_CODE_LOG = "early_stopping_stop_code"
STOP_WHEN = ("all", "any")


def _as_list(value, name: str) -> list:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"`{name}` must not be empty; received {name}={value!r}.")
        return list(value)
    return [value]


def _flat_metrics(model) -> list:
    found, seen, stack = [], set(), list(getattr(model, "metrics", []) or [])
    while stack:
        metric = stack.pop(0)
        if id(metric) in seen:
            continue
        seen.add(id(metric))
        found.append(metric)
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack.extend(inner)
    return found


class EarlyStopping(keras.callbacks.Callback):
    """Stops training when a monitored quantity has stopped improving.

    A drop-in superset of `keras.callbacks.EarlyStopping`: every Keras
    argument has the same meaning and default, so with finite logs that
    contain the monitor, changing the import changes nothing (same stop
    epoch, same restored weights) until a new argument is used. The
    deliberate deviations: a bad argument (such as `mode`) raises
    `ValueError` instead of warning; a monitor missing from `logs` raises
    `ValueError` listing the keys present instead of warning (epochs where
    validation did not run, with no `val_` key at all, are skipped); a
    non-finite value is never "best" (Keras counts a NaN first epoch as
    best), and by default (`check_finite=True`) a NaN or infinite monitored
    value stops training at once, restoring the best weights.

    Each epoch the monitored values go through the stop rules in a fixed
    order: non-finite, target, divergence, the patience family,
    extrapolation; the first rule that says stop gives `stop_reason` and
    `stop_code`. The best epoch is the epoch whose first (primary) monitor
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

    From the first epoch on, two numbers are added to the epoch logs, so
    `History`, `CSVLogger` and `TensorBoard` record them:
    `early_stopping_best_epoch` (0-based, `-1` before any finite value) and
    `early_stopping_stop_code` (`0`, or the code of the rule that stopped:
    see `keras_epochkit.criteria.STOP_CODES`).

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

    Attributes:
        stopped_epoch: the 0-based epoch at which training stopped, `0` if
            it did not (as in Keras).
        best_epoch: the 0-based best epoch (as in Keras, `0` before any).
        best_value: the primary monitor's best value, `None` before any
            finite value (`best` is an alias, as in Keras).
        stop_reason: why training stopped, `""` if it did not.
        stop_code: the stop code, `0` if training did not stop.
        best_weights: the snapshot of the best epoch's weights, or `None`.

    State (`get_state`/`set_state`): the best value and epoch, the stop
    epoch, code and reason, the resolved modes, every rule's state and the
    best weights (a list of numpy arrays); everything else is JSON-able. A
    state set with `set_state` before `fit` survives that fit's
    `on_train_begin`, and one set during the first epoch (as
    `keras_epochkit.callbacks.BackupAndRestore` does) takes effect at once,
    so a resumed `fit(initial_epoch=...)` continues exactly.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_epochkit.callbacks import EarlyStopping
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 2)), np.zeros((8, 1))
        >>> stop = EarlyStopping(monitor="loss", patience=1, min_delta=10.0)
        >>> history = model.fit(x, y, epochs=5, callbacks=[stop], verbose=0)
        >>> len(history.history["loss"]), stop.stopped_epoch, stop.stop_code
        (2, 1, 4)
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
    ) -> None:
        super().__init__()
        self.monitors = self._check_monitors(monitor)
        self.monitor = monitor if isinstance(monitor, str) else list(monitor)
        self.modes = self._per_monitor(mode, "mode")
        for item in self.modes:
            check_mode(item)
        self.mode = mode
        self.min_delta = abs(check_number("min_delta", min_delta))
        self.patience = check_int("patience", patience)
        # Keras accepts verbose=True/False too.
        self.verbose = int(verbose) if isinstance(verbose, bool) else verbose
        check_int("verbose", self.verbose)
        self.baselines = [
            None if b is None else check_number("baseline", b)
            for b in self._per_monitor(baseline, "baseline")
        ]
        self.baseline = baseline
        if not isinstance(restore_best_weights, bool):
            raise ValueError(
                "`restore_best_weights` must be True or False; received "
                f"restore_best_weights={restore_best_weights!r}."
            )
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch)
        self.min_delta_mode = check_min_delta_mode(min_delta_mode)
        check_smoothing(smoothing, smoothing_window)
        self.smoothing = smoothing
        self.smoothing_window = smoothing_window
        if stop_when not in STOP_WHEN:
            raise ValueError(
                f"`stop_when` must be one of {STOP_WHEN}; received "
                f"stop_when={stop_when!r}."
            )
        self.stop_when = stop_when
        if not isinstance(check_finite, bool):
            raise ValueError(
                f"`check_finite` must be True or False; received "
                f"check_finite={check_finite!r}."
            )
        self.check_finite = check_finite
        self.criteria = self._check_criteria(criteria)
        self._resuming = False
        self._reset()

    # --- construction helpers ----------------------------------------------
    @staticmethod
    def _check_monitors(monitor) -> list[str]:
        monitors = _as_list(monitor, "monitor")
        for item in monitors:
            if not isinstance(item, str) or not item:
                raise ValueError(
                    "`monitor` must be a non-empty string or a list of them; "
                    f"received monitor={monitor!r}."
                )
        if len(set(monitors)) != len(monitors):
            raise ValueError(f"`monitor` lists a key twice: monitor={monitor!r}.")
        return monitors

    def _per_monitor(self, value, name: str) -> list:
        if isinstance(value, (list, tuple)):
            if len(value) != len(self.monitors):
                raise ValueError(
                    f"`{name}` must be a single value or one per monitor "
                    f"({len(self.monitors)}); received {name}={value!r}."
                )
            return list(value)
        return [value] * len(self.monitors)

    def _check_criteria(self, criteria) -> list[Criterion] | None:
        if criteria is None:
            return None
        items = _as_list(criteria, "criteria")
        for index, item in enumerate(items):
            if not isinstance(item, Criterion):
                raise ValueError(
                    "`criteria` must be a list of keras_epochkit.criteria "
                    f"objects; criteria[{index}] is {item!r}."
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
    def recommended(cls, monitor: str = "val_loss", **overrides: Any) -> EarlyStopping:
        """The early-stopping rule we recommend, tuned on EpochBench v2.

        A `TrendPatience` rule on the raw monitor: it waits `patience`
        epochs without improvement, only `overfit_patience` while the
        training loss keeps falling and the monitor does not (overfitting),
        and `plateau_patience` while both are flat and the monitor is less
        than `plateau_progress` better than at the first epoch (a plateau
        that may still break); a learning-rate drop in the logs (as
        `ReduceLROnPlateau` and `LearningRateScheduler` write them)
        restarts the count. Around it: a relative divergence guard, the
        non-finite check and `restore_best_weights=True`. `stop_reason`
        names the regime that stopped it. The "Stopping at the right epoch"
        guide gives its benchmark figures, per family of curves, against
        Keras's `EarlyStopping` at every patience from 1 to 50.

        Args:
            monitor: the quantity to monitor. Defaults to `"val_loss"`.
            **overrides: replacements for the recommended settings:
                `aggressiveness` (a positive number dividing the three
                waits: `2` stops about twice as early, `0.5` waits twice as
                long; default `1`), `patience`, `overfit_patience`,
                `plateau_patience`, `plateau_progress`, `window`,
                `trend_threshold`, `lr_drop` (see
                `keras_epochkit.criteria.trend_patience.TrendPatience`),
                `restore_best_weights`, `start_from_epoch`, `divergence`,
                `generalization_loss`, `extrapolation`, or other
                `EarlyStopping` arguments such as `mode`, `verbose` or
                extra `criteria`.

        Returns:
            An `EarlyStopping` callback.

        Examples:
            >>> from keras_epochkit.callbacks import EarlyStopping
            >>> stop = EarlyStopping.recommended()
            >>> stop.restore_best_weights, stop.criteria[0].patience
            (True, 12)
            >>> EarlyStopping.recommended(aggressiveness=2).criteria[0].patience
            6
        """
        from keras_epochkit.criteria.trend_patience import TrendPatience

        settings = {**_RECOMMENDED, **overrides}
        mode = settings.pop("mode", "auto")
        divergence = settings.pop("divergence")
        generalization_loss = settings.pop("generalization_loss")
        extrapolation = settings.pop("extrapolation")
        aggressiveness = check_number(
            "aggressiveness", settings.pop("aggressiveness"), 0.0, strict=True
        )

        tolerance = settings.pop("forecast_tolerance")

        def wait(name: str) -> int:
            return max(1, round(settings.pop(name) / aggressiveness))

        criteria = [
            TrendPatience(
                patience=wait("patience"),
                overfit_patience=wait("overfit_patience"),
                plateau_patience=wait("plateau_patience"),
                plateau_progress=settings.pop("plateau_progress"),
                window=settings.pop("window"),
                trend_threshold=settings.pop("trend_threshold"),
                overfit_gap=settings.pop("overfit_gap"),
                lr_drop=settings.pop("lr_drop"),
                forecast_tolerance=None
                if tolerance is None
                else tolerance * aggressiveness,
                forecast_window=settings.pop("forecast_window"),
                monitor=monitor,
                mode=mode,
            )
        ]
        if divergence is not None:
            criteria.append(
                Divergence(divergence, monitor=monitor, mode=mode, relative=True)
            )
        if generalization_loss is not None:
            criteria.append(
                GeneralizationLoss(generalization_loss, monitor=monitor, mode=mode)
            )
        if extrapolation is not None:
            criteria.append(
                Extrapolation(**{"monitor": monitor, "mode": mode, **extrapolation})
            )
        criteria.extend(settings.pop("criteria", None) or [])
        return cls(monitor=monitor, mode=mode, criteria=criteria, **settings)

    # --- state ----------------------------------------------------------------
    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_value: float | None = None
        self.best_weights = None
        self.stop_reason = ""
        self.stop_code = 0
        self._resolved: dict[str, str] = {}
        self._finite_rules: list[Criterion] | None = None
        self._rules: list[Criterion] | None = None

    @property
    def best(self) -> float | None:
        return self.best_value

    def on_train_begin(self, logs=None):
        if self._resuming:
            self._resuming = False
            return
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        # A state set before this fit was consumed by `on_train_begin`; one set
        # after it (a backup restored at the first epoch) must not survive
        # into the next fit.
        self._resuming = False

    def get_state(self) -> dict[str, Any]:
        """The state needed to continue exactly; see the class docstring."""
        return {
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "stop_reason": self.stop_reason,
            "stop_code": self.stop_code,
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

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores a state from `get_state`; it survives the next `on_train_begin`."""
        self._reset()
        best_value = state.get("best_value")
        self.best_value = None if best_value is None else float(best_value)
        self.best_epoch = int(state.get("best_epoch", 0))
        self.stopped_epoch = int(state.get("stopped_epoch", 0))
        self.stop_reason = str(state.get("stop_reason", ""))
        self.stop_code = int(state.get("stop_code", 0))
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
        self._resuming = True

    # --- modes and rules --------------------------------------------------------
    def _mode_for(self, monitor: str) -> str:
        if monitor in self._resolved:
            return self._resolved[monitor]
        mode = None
        if (
            monitor in self.monitors
            and self.modes[self.monitors.index(monitor)] != "auto"
        ):
            mode = self.modes[self.monitors.index(monitor)]
        name = monitor.removeprefix("val_")
        if mode is None and (name == "loss" or name.endswith("_loss")):
            mode = "min"
        if mode is None and self.model is not None:
            for metric in _flat_metrics(self.model):
                direction = getattr(metric, "_direction", None)
                if getattr(metric, "name", None) == name and direction in (
                    "up",
                    "down",
                ):
                    mode = "max" if direction == "up" else "min"
                    break
        if mode is None:
            mode = mode_from_name(monitor)
        if mode is None:
            raise ValueError(
                f"EarlyStopping cannot tell whether `{monitor}` should be "
                "minimized or maximized: no metric of the model named "
                f"`{name}` sets a direction and the name does not say. Pass "
                "`mode='min'` (lower is better) or `mode='max'` (higher is "
                "better), or one mode per monitor."
            )
        self._resolved[monitor] = mode
        return mode

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
        values = {}
        for monitor in self.monitors:
            if monitor in logs and logs[monitor] is not None:
                values[monitor] = float(logs[monitor])
            elif monitor.startswith("val_") and not any(
                key.startswith("val_") for key in logs
            ):
                return None
            else:
                raise ValueError(
                    f"EarlyStopping monitors `{monitor}`, which is not in the "
                    f"epoch logs. Keys present: {sorted(logs)}. Pass one of them "
                    "as `monitor` (validation metrics need validation data)."
                )
        return values

    def on_epoch_end(self, epoch, logs=None):
        self._resuming = False
        if logs is None:
            logs = {}
        values = self._read(logs)
        if values is not None:
            self._update(int(epoch), logs, values)
        logs[BEST_EPOCH_LOG] = self.best_epoch if self.best_value is not None else -1
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
            self.best_value,
            self._mode_for(self.monitors[0]),
            self.min_delta,
            self.min_delta_mode,
        ):
            return
        self.best_value = value
        self.best_epoch = epoch
        if self.restore_best_weights:
            self.best_weights = self.model.get_weights()

    def _stop(self, epoch: int, decision) -> None:
        self.stopped_epoch = epoch
        self.stop_reason = decision.reason
        self.stop_code = decision.code
        self.model.stop_training = True
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: early stopping: {decision.reason}")
        if (
            decision.code == NonFinite.code
            and self.restore_best_weights
            and self.best_weights is not None
        ):
            self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        self._resuming = False
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)
