"""GeneralizationLoss: Prechelt's GL(t) = 100 (E_va / E_opt - 1), by hand."""

import pytest

from keras_epochkit.criteria import GeneralizationLoss
from keras_epochkit.criteria import replay

CURVE = [0.8, 0.6, 0.5, 0.55, 0.53, 0.6]
# E_opt: 0.8, 0.6, 0.5, 0.5, 0.5, 0.5 -> GL: 0, 0, 0, 10, 6, 20 (percent).


@pytest.mark.parametrize(
    ("alpha", "expected"), [(5.0, 3), (10.5, 5), (15.0, 5), (25.0, None)]
)
def test_stops_at_first_epoch_with_gl_above_alpha(alpha, expected):
    epoch, decision = replay(
        GeneralizationLoss(alpha=alpha, mode="min"), [{"val_loss": v} for v in CURVE]
    )
    assert epoch == expected
    if expected is not None:
        gl = 100 * (CURVE[expected] / 0.5 - 1)
        assert f"{gl:.3g}%" in decision.message
        assert decision.reason is GeneralizationLoss.stop_reason


def test_improved_marks_new_optimum():
    rule = GeneralizationLoss(alpha=100.0, mode="min")
    improved = [rule.update(e, {"val_loss": v}).improved for e, v in enumerate(CURVE)]
    assert improved == [True, True, True, False, False, False]


def test_max_mode_runs_on_reciprocal():
    # accuracy 0.8 then 0.7: error 1/0.7 vs 1/0.8 -> GL = 100 (0.8 / 0.7 - 1) = 14.3%.
    logs = [{"val_accuracy": 0.8}, {"val_accuracy": 0.7}]
    assert replay(GeneralizationLoss(14.0, "val_accuracy", "max"), logs)[0] == 1
    assert replay(GeneralizationLoss(14.5, "val_accuracy", "max"), logs)[0] is None
