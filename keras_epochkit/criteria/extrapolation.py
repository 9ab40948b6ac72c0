"""Stop when a learning-curve forecast says the remaining budget will not pay off."""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np

from keras_epochkit._core.registry import serializable
from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit._core.validation import check_int
from keras_epochkit._core.validation import check_number
from keras_epochkit.criteria._best import BestTracking
from keras_epochkit.criteria.decision import Decision

_POWER_RATES = np.logspace(-1.5, 1.0, 41)
_EXPONENTIAL_RATES = np.logspace(-3.0, 0.0, 41)
_REFINE = 16


def fit_learning_curve(t: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    """Least-squares fits of `y ~ a + b * f_c(t)` over both families and a grid of c.

    For each family (`power`: f_c(t) = t^-c; `exponential`:
    f_c(t) = exp(-c * (t - t_0))) and each rate c on a log grid, `(a, b)`
    are solved by linear least squares; the grid is then refined around
    the best rate of each family.

    Returns:
        One dict per fit, best (smallest residual sum of squares) first,
        with keys `family`, `rate`, `coefficients`, `inverse_gram`
        (`(X^T X)^-1` of the design matrix) and `sse`.
    """
    fits = []
    for family, rates in (("power", _POWER_RATES), ("exponential", _EXPONENTIAL_RATES)):
        grid = _fits(family, rates, t, y)
        best = min(
            (i for i, fit in enumerate(grid) if fit is not None),
            key=lambda i: grid[i]["sse"],
            default=None,
        )
        if best is not None:
            # Refine the rate between the grid neighbours of the best one.
            low = rates[max(best - 1, 0)]
            high = rates[min(best + 1, len(rates) - 1)]
            grid += _fits(family, np.geomspace(low, high, _REFINE), t, y)
        fits += [fit for fit in grid if fit is not None]
    if not fits:
        raise ValueError("the learning curve cannot be fitted: t is constant")
    return sorted(fits, key=lambda fit: fit["sse"])


def _fits(family: str, rates: np.ndarray, t: np.ndarray, y: np.ndarray) -> list:
    """`_fit` for every rate at once: the 2x2 normal equations in closed form.

    One NumPy pass over all rates instead of a solve per rate, so a forecast
    over a 200-epoch history takes well under a millisecond per rate.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    rates = np.asarray(rates, dtype=float)
    if family == "power":
        basis = t[None, :] ** (-rates[:, None])
    else:
        basis = np.exp(-rates[:, None] * (t[None, :] - t[0]))
    n = float(len(t))
    sum_b = basis.sum(axis=1)
    sum_bb = (basis * basis).sum(axis=1)
    sum_y = float(y.sum())
    sum_by = basis @ y
    det = n * sum_bb - sum_b * sum_b
    # The condition number of the symmetric gram [[n, sum_b], [sum_b, sum_bb]].
    half_trace = (n + sum_bb) / 2.0
    spread = np.sqrt(((n - sum_bb) / 2.0) ** 2 + sum_b**2)
    smallest = half_trace - spread
    with np.errstate(divide="ignore", invalid="ignore"):
        condition = np.where(smallest > 0, (half_trace + spread) / smallest, np.inf)
    fits = []
    for i, rate in enumerate(rates):
        if not condition[i] <= 1e12:
            fits.append(None)
            continue
        inverse_gram = np.array([[sum_bb[i], -sum_b[i]], [-sum_b[i], n]]) / det[i]
        coefficients = inverse_gram @ np.array([sum_y, sum_by[i]])
        residual = coefficients[0] + coefficients[1] * basis[i] - y
        fits.append(
            {
                "family": family,
                "rate": float(rate),
                "coefficients": coefficients,
                "inverse_gram": inverse_gram,
                "sse": float(residual @ residual),
            }
        )
    return fits


def _basis(family: str, rate: float, t, t0: float):
    t = np.asarray(t, dtype=float)
    if family == "power":
        return t ** (-rate)
    return np.exp(-rate * (t - t0))


@serializable
class Extrapolation(BestTracking):
    """Stops when a fitted learning curve forecasts too little gain in the remaining budget.

    Model: over the last `window` finite values of the monitor (epochs
    counted t = 1, 2, ...; in `"max"` mode the values are negated so lower is
    better), fit `y(t) = a + b * t^-c` (power law) and
    `y(t) = a + b * exp(-c * (t - t_0))` (exponential decay) by least
    squares, solving `(a, b)` exactly for each rate `c` on a logarithmic
    grid, and keep the fit with the smallest residual sum of squares. The
    forecast gain over the `r` remaining epochs is
    `g = y(n) - y(n + r)` (negative when the fit rises: overfitting).
    With `s^2` the residual variance (`n_fit - 3` degrees of freedom) and
    `(X^T X)^-1` the covariance factor of `(a, b)`, `g` has standard error
    `s * |f_c(n) - f_c(n + r)| * sqrt([(X^T X)^-1]_bb)`. The rate's own
    uncertainty is covered by a profile-likelihood region: every (family,
    c) whose residual sum of squares is within
    `SSE_min * (1 + z_2^2 / (n_fit - 3))` of the best (`z_2` the two-sided
    normal quantile at `confidence`) is admissible, and the upper bound is
    the largest `g + z * se` over them (`z` the one-sided quantile).
    Training stops when that upper bound is below the tolerance.

    Assumptions: the monitored value decays smoothly and monotonically
    toward an asymptote with roughly independent, equal-variance Gaussian
    noise around the curve (the bounds are normal approximations, so they
    are optimistic when few epochs are fitted); learning-rate drops or other regime changes inside the
    window break the model (a short `window` limits the damage). The
    remaining budget is `budget - (epoch + 1)` epochs, from
    `params["epochs"]`; without a budget, `horizon` epochs (or as many as
    seen so far) are forecast.

    Args:
        tolerance: the smallest forecast gain worth training for.
            Defaults to `0.01`.
        tolerance_mode: `"rel"` (a fraction of the best value's magnitude)
            or `"abs"` (in the monitor's units). Defaults to `"rel"`.
        confidence: the one-sided confidence of the upper bound, in
            (0.5, 1). Defaults to `0.95`.
        min_epochs: finite values needed before the first forecast
            (at least 4). Defaults to `10`.
        window: the number of most recent values fitted, or `None` for
            all. Defaults to `20`.
        horizon: epochs to forecast when no budget is given, or `None` for
            as many as seen. Defaults to `None`.
        monitor: the key of `logs` to watch. Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"`. Defaults to `"auto"`.

    State: `best`, `seen` (finite values counted), `history` (`[t, y]`
    pairs in the window) and `forecast` (the last forecast gain and its
    upper bound, or `None`).

    Examples:
        >>> import math
        >>> from keras_epochkit.criteria import Extrapolation
        >>> rule = Extrapolation(tolerance=0.01, min_epochs=6, mode="min")
        >>> curve = [0.5 + 2.0 * math.exp(-0.8 * t) for t in range(30)]
        >>> stops = [rule.update(e, {"val_loss": v}, budget=100).stop
        ...          for e, v in enumerate(curve)]
        >>> stops.index(True) < 15
        True
    """

    stop_reason = StopReason.NO_FORECAST_GAIN
    stage = 4

    def __init__(
        self,
        tolerance: float = 0.01,
        tolerance_mode: str = "rel",
        confidence: float = 0.95,
        min_epochs: int = 10,
        window: int | None = 20,
        horizon: int | None = None,
        monitor: str = "val_loss",
        mode: str = "auto",
    ) -> None:
        self.tolerance = check_number("tolerance", tolerance, minimum=0.0)
        if tolerance_mode not in ("abs", "rel"):
            raise ValueError(
                "`tolerance_mode` must be one of ('abs', 'rel'); received "
                f"tolerance_mode={tolerance_mode!r}."
            )
        self.tolerance_mode = tolerance_mode
        self.confidence = check_number(
            "confidence", confidence, minimum=0.5, strict=True
        )
        if self.confidence >= 1.0:
            raise ValueError(
                f"`confidence` must be in (0.5, 1); received confidence={confidence!r}."
            )
        self.min_epochs = check_int("min_epochs", min_epochs, minimum=4)
        if window is not None and check_int("window", window, minimum=4) < min_epochs:
            raise ValueError(
                f"`window` must be None or >= min_epochs ({min_epochs}); received "
                f"window={window!r}."
            )
        self.window = window
        self.horizon = None if horizon is None else check_int("horizon", horizon, 1)
        super().__init__(monitor=monitor, mode=mode)

    def reset(self) -> None:
        super().reset()
        self.seen = 0
        self.history: list[list[float]] = []
        self.forecast: dict[str, float] | None = None

    def _update(self, epoch: int, logs: dict, budget: int | None) -> Decision:
        value = self._read(logs)
        if value is None or not math.isfinite(value):
            return Decision()
        improved = self._track(value)
        self.seen += 1
        y = value if self._mode == "min" else -value
        self.history.append([float(self.seen), y])
        if self.window is not None:
            self.history = self.history[-self.window :]
        if len(self.history) < self.min_epochs:
            return Decision(improved=improved)
        if budget is not None:
            remaining = int(budget) - (epoch + 1)
        else:
            remaining = self.horizon if self.horizon is not None else self.seen
        if remaining <= 0:
            return Decision(improved=improved)
        gain, bound, family = self._forecast(remaining)
        self.forecast = {"gain": gain, "upper_bound": bound}
        tolerance = self.tolerance
        if self.tolerance_mode == "rel":
            tolerance *= abs(self.best)
        if bound < tolerance:
            return self._stop(
                f"{family} fit of {self.monitor} forecasts a gain of at most "
                f"{bound:.3g} in the remaining {remaining} epochs "
                f"({self.confidence:.0%} confidence), below the tolerance "
                f"{tolerance:.3g}",
                improved=improved,
            )
        return Decision(improved=improved)

    def _forecast(self, remaining: int) -> tuple[float, float, str]:
        data = np.asarray(self.history, dtype=float)
        t, y = data[:, 0], data[:, 1]
        if np.ptp(y) == 0.0:
            return 0.0, 0.0, "constant"
        fits = fit_learning_curve(t, y)
        dof = max(len(t) - 3, 1)
        variance = fits[0]["sse"] / dof
        z = statistics.NormalDist().inv_cdf(self.confidence)
        z_two_sided = statistics.NormalDist().inv_cdf((1.0 + self.confidence) / 2.0)
        # Profile-likelihood region for the rate: every fit whose residual sum
        # of squares is within the chi-square(1) bound of the best.
        admissible = fits[0]["sse"] * (1.0 + z_two_sided**2 / dof) + 1e-15
        now, end = float(t[-1]), float(t[-1] + remaining)
        gain = bound = None
        for fit in fits:
            if fit["sse"] > admissible:
                break
            basis_now, basis_end = _basis(fit["family"], fit["rate"], [now, end], t[0])
            step = float(basis_now - basis_end)
            fit_gain = float(fit["coefficients"][1]) * step
            spread = variance * step * step * fit["inverse_gram"][1, 1]
            fit_bound = fit_gain + z * math.sqrt(max(spread, 0.0))
            if gain is None:
                gain = fit_gain
            bound = fit_bound if bound is None else max(bound, fit_bound)
        return gain, bound, fits[0]["family"]

    def get_state(self) -> dict[str, Any]:
        return {
            **super().get_state(),
            "seen": self.seen,
            "history": [list(pair) for pair in self.history],
            "forecast": None if self.forecast is None else dict(self.forecast),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.seen = int(state.get("seen", 0))
        self.history = [[float(a), float(b)] for a, b in state.get("history", [])]
        forecast = state.get("forecast")
        self.forecast = None if forecast is None else dict(forecast)

    def get_config(self) -> dict[str, Any]:
        return {
            "tolerance": self.tolerance,
            "tolerance_mode": self.tolerance_mode,
            "confidence": self.confidence,
            "min_epochs": self.min_epochs,
            "window": self.window,
            "horizon": self.horizon,
            **super().get_config(),
        }
