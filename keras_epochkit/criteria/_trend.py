"""Least-squares trend of a short series with a one-sided Student t-test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Trend(NamedTuple):
    """Slope of a least-squares line and its one-sided p-value."""

    slope: float
    """Change per epoch of the fitted line."""

    p_value: float
    """P(slope this large | true slope is 0) for the alternative "slope > 0"."""


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 301):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for a, b > 0."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b)
        - math.lgamma(a)
        - math.lgamma(b)
        + a * math.log(x)
        + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The continued fraction converges fast for x < (a + 1) / (a + b + 2);
    # otherwise use the symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_sf(t: float, dof: float) -> float:
    """P(T > t) for Student's t distribution with `dof` degrees of freedom."""
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * regularized_incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t))
    return tail if t > 0 else 1.0 - tail


def linear_trend(values: Sequence[float]) -> Trend:
    """Fits `values[i] ~ a + slope * i` and tests H0: slope = 0 vs slope > 0.

    The p-value comes from t = slope / se(slope) with n - 2 degrees of
    freedom. Fewer than three points give slope 0 and p-value 1. A perfect
    line (zero residuals) gives p-value 0 when rising, 1 when falling and 0.5
    when flat.
    """
    y = np.asarray(values, dtype="float64")
    n = y.size
    if n < 3:
        return Trend(0.0, 1.0)
    x = np.arange(n, dtype="float64")
    x -= x.mean()
    sxx = float(np.dot(x, x))
    slope = float(np.dot(x, y - y.mean()) / sxx)
    residuals = y - y.mean() - slope * x
    ssr = float(np.dot(residuals, residuals))
    # Residuals at round-off level of the values count as an exact fit.
    scale = float(np.max(np.abs(y))) or 1.0
    if ssr <= (1e-12 * scale) ** 2 * n:
        if slope > 0:
            return Trend(slope, 0.0)
        return Trend(slope, 1.0 if slope < 0 else 0.5)
    se = math.sqrt(ssr / (n - 2) / sxx)
    return Trend(slope, student_t_sf(slope / se, n - 2))
