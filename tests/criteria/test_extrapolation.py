"""Extrapolation: a learning-curve forecast decides whether the budget pays off."""

import math

import numpy as np

from keras_epochkit.criteria import Extrapolation
from keras_epochkit.criteria import replay
from keras_epochkit.criteria.extrapolation import fit_learning_curve


def test_fit_recovers_an_exponential_curve():
    t = np.arange(1, 21, dtype=float)
    y = 0.3 + 2.0 * np.exp(-0.2 * (t - 1))
    best = fit_learning_curve(t, y)[0]
    assert best["family"] == "exponential"
    assert abs(best["rate"] - 0.2) < 0.03
    assert abs(best["coefficients"][0] - 0.3) < 0.05
    assert best["sse"] < 1e-3


def test_stops_a_converged_curve_but_not_a_steadily_improving_one():
    converged = [{"val_loss": 0.5 + 2.0 * math.exp(-0.8 * t)} for t in range(40)]
    epoch, decision = replay(Extrapolation(min_epochs=6), converged, budget=100)
    assert epoch is not None and epoch < 15
    assert decision.reason is Extrapolation.stop_reason
    assert "forecasts a gain" in decision.message
    # A power law still falling fast: 40 epochs in, 60 left still pay off.
    improving = [{"val_loss": 5.0 * (t + 1) ** -0.5} for t in range(40)]
    assert replay(Extrapolation(min_epochs=6), improving, budget=100)[0] is None


def test_noise_widens_the_bound_and_delays_the_stop():
    rng = np.random.default_rng(0)
    clean = [0.5 + 2.0 * math.exp(-0.3 * t) for t in range(60)]
    noisy = [v + rng.normal(0, 0.05) for v in clean]
    stop_clean, _ = replay(
        Extrapolation(), [{"val_loss": v} for v in clean], budget=100
    )
    stop_noisy, _ = replay(
        Extrapolation(), [{"val_loss": v} for v in noisy], budget=100
    )
    assert stop_clean is not None
    assert stop_noisy is None or stop_noisy > stop_clean


def test_rising_curve_stops_at_first_forecast():
    rising = [{"val_loss": 1.0 + 0.05 * t} for t in range(12)]
    epoch, _ = replay(Extrapolation(min_epochs=10), rising, budget=100)
    assert epoch == 9


def test_no_stop_in_the_last_epoch_of_the_budget():
    flat = [{"val_loss": 1.0} for _ in range(10)]
    rule = Extrapolation(min_epochs=10)
    assert replay(rule, flat, budget=10)[0] is None
    assert replay(rule, flat, budget=20)[0] == 9


def test_max_mode_forecasts_an_accuracy():
    acc = [{"val_accuracy": 0.9 - 0.5 * math.exp(-0.8 * t)} for t in range(30)]
    epoch, _ = replay(
        Extrapolation(min_epochs=6, monitor="val_accuracy"), acc, budget=100
    )
    assert epoch is not None and epoch < 15
