"""The least-squares slope test behind OverfittingMonitor."""

import math

import numpy as np
import pytest

from keras_epochkit.criteria._trend import linear_trend
from keras_epochkit.criteria._trend import regularized_incomplete_beta
from keras_epochkit.criteria._trend import student_t_sf


@pytest.mark.parametrize("t", [-7.0, -1.0, 0.0, 0.5, 1.0, 3.0, 50.0])
def test_t_tail_matches_closed_forms_for_one_and_two_dof(t):
    cauchy = 0.5 - math.atan(t) / math.pi
    two_dof = 0.5 - t / (2.0 * math.sqrt(2.0 + t * t))
    assert student_t_sf(t, 1) == pytest.approx(cauchy, rel=1e-10, abs=1e-14)
    assert student_t_sf(t, 2) == pytest.approx(two_dof, rel=1e-10, abs=1e-14)


def test_t_tail_matches_scipy_over_a_grid():
    stats = pytest.importorskip("scipy.stats")
    for dof in (1, 3, 6, 10, 30, 200):
        for t in np.linspace(-8, 8, 33):
            assert student_t_sf(float(t), dof) == pytest.approx(
                stats.t.sf(t, dof), rel=1e-9, abs=1e-13
            )


def test_incomplete_beta_is_symmetric_and_bounded():
    assert regularized_incomplete_beta(2.0, 3.0, 0.0) == 0.0
    assert regularized_incomplete_beta(2.0, 3.0, 1.0) == 1.0
    # I_x(a, b) = 1 - I_{1-x}(b, a); I_x(1, 1) = x.
    value = regularized_incomplete_beta(2.5, 0.5, 0.3)
    assert value == pytest.approx(1 - regularized_incomplete_beta(0.5, 2.5, 0.7))
    assert regularized_incomplete_beta(1.0, 1.0, 0.37) == pytest.approx(0.37)


def test_slope_and_p_value_by_hand():
    # y = [0, 2, 1, 3]: x centred [-1.5, -.5, .5, 1.5], Sxx = 5,
    # slope = (0*-1.5 + 2*-.5 + 1*.5 + 3*1.5) / 5 = 0.8, residuals
    # [0.3, 1.5, -0.3, 0.9] - mean terms give SSR = 1.8, se = sqrt(0.9 / 5),
    # t = 0.8 / 0.4243 = 1.8856 with 2 dof.
    trend = linear_trend([0.0, 2.0, 1.0, 3.0])
    assert trend.slope == pytest.approx(0.8)
    t = 0.8 / math.sqrt(1.8 / 2 / 5)
    assert trend.p_value == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)))


def test_short_or_exact_series():
    assert linear_trend([1.0, 2.0]) == (0.0, 1.0)
    assert linear_trend([1.0, 2.0, 3.0]).p_value == 0.0
    assert linear_trend([3.0, 2.0, 1.0]).p_value == 1.0
    assert linear_trend([2.0, 2.0, 2.0]).p_value == 0.5


def test_matches_scipy_linregress_on_noisy_series():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(50):
        y = rng.normal(size=int(rng.integers(3, 15))) + 0.1 * np.arange(0, 1)
        fit = stats.linregress(np.arange(y.size), y)
        one_sided = fit.pvalue / 2 if fit.slope > 0 else 1 - fit.pvalue / 2
        trend = linear_trend(y)
        assert trend.slope == pytest.approx(fit.slope, abs=1e-10)
        assert trend.p_value == pytest.approx(one_sided, abs=1e-9)
