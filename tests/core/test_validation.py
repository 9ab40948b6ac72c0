"""One argument-check helper and one wording across the package."""

import pytest

from keras_epochkit import callbacks
from keras_epochkit import criteria
from keras_epochkit._core import validation


@pytest.mark.parametrize(
    ("check", "args", "message"),
    [
        (
            validation.check_int,
            ("patience", -1),
            "`patience` must be an integer >= 0; received patience=-1.",
        ),
        (
            validation.check_int,
            ("patience", True),
            "`patience` must be an integer >= 0; received patience=True.",
        ),
        (validation.check_number, ("factor", 1.0, 0.0, 1.0), None),
        (
            validation.check_number,
            ("factor", float("nan")),
            "`factor` must be a finite number; received factor=nan.",
        ),
        (
            validation.check_bool,
            ("restore_best_weights", 1),
            "`restore_best_weights` must be True or False; received restore_best_weights=1.",
        ),
        (
            validation.check_choice,
            ("mode", "up", ("auto", "min", "max")),
            "`mode` must be one of 'auto', 'min', 'max'; received mode='up'.",
        ),
        (
            validation.check_str,
            ("monitor", ""),
            "`monitor` must be a non-empty string; received monitor=''.",
        ),
    ],
)
def test_one_wording(check, args, message):
    if message is None:
        assert check(*args) == args[1]
        return
    with pytest.raises(ValueError) as error:
        check(*args)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: callbacks.EarlyStopping(patience=-1), "patience"),
        (lambda: callbacks.EarlyStopping(mode="up"), "mode"),
        (lambda: callbacks.EarlyStopping(stop_when="most"), "stop_when"),
        (lambda: callbacks.OverfittingMonitor(action="halt"), "action"),
        (lambda: callbacks.OverfittingMonitor(factor=2.0), "factor"),
        (lambda: callbacks.TimeBudget(minutes=0), "minutes"),
        (lambda: criteria.Patience(min_delta_mode="pct"), "min_delta_mode"),
        (lambda: criteria.UpStrips(s=0), "s"),
    ],
)
def test_constructors_use_the_one_wording(build, argument):
    with pytest.raises(
        ValueError, match=rf"^`{argument}` must be .*; received {argument}="
    ):
        build()
