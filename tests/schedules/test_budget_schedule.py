"""Behaviour shared by every budget schedule: binding, re-targeting, scale."""

import keras
import numpy as np
import pytest

from keras_epochkit import schedules
from tests.schedules.lr_probe import AppliedRateRecorder
from tests.schedules.lr_probe import probe_data
from tests.schedules.lr_probe import probe_model
from tests.support.conformance import assert_model_round_trip

ALL_DECAYS = [
    lambda: schedules.LinearDecay(0.1, warmup_steps=5),
    lambda: schedules.CosineDecay(0.1, warmup_steps=5, final_learning_rate=0.01),
    lambda: schedules.WarmupStableDecay(0.1, warmup_steps=5, decay_shape="1-sqrt"),
    lambda: schedules.OneCycle(0.1),
]


def value(schedule, step) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


class _Attach(keras.callbacks.Callback):
    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def set_model(self, model):
        super().set_model(model)
        self.schedule.attach(model.optimizer)


class _AtEpochEnd(keras.callbacks.Callback):
    def __init__(self, epoch, action):
        super().__init__()
        self.epoch, self.action = epoch, action

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            self.action(step)


def test_retargeting_mid_fit_changes_the_rate_the_compiled_step_applies():
    schedule = schedules.LinearDecay(0.01, total_steps=16)
    x, y = probe_data(32)
    model = probe_model(schedule)
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=4)
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        verbose=0,
        callbacks=[
            _Attach(schedule),
            _AtEpochEnd(1, lambda step: schedule.bind(100, step)),
            recorder,
        ],
    )
    np.testing.assert_allclose(recorder.applied, recorder.expected, rtol=1e-4)
    # Without the re-target, the last two epochs would have decayed to zero.
    original = schedules.LinearDecay(0.01, total_steps=16)
    untouched = sum(value(original, s) for s in range(12, 16))
    assert recorder.applied[3] > 2 * untouched
    assert schedule.total_steps == 100


def test_set_scale_mid_fit_scales_the_applied_rate():
    schedule = schedules.Constant(0.01)
    x, y = probe_data(32)
    model = probe_model(schedule)
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=4)
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        verbose=0,
        callbacks=[
            _Attach(schedule),
            _AtEpochEnd(0, lambda step: schedule.set_scale(0.5)),
            recorder,
        ],
    )
    np.testing.assert_allclose(recorder.applied, [0.04, 0.02, 0.02], rtol=1e-4)
    assert schedule.scale == 0.5


def test_unattached_schedule_with_total_steps_works_in_fit():
    schedule = schedules.LinearDecay(0.01, total_steps=8)
    x, y = probe_data(32)
    model = probe_model(schedule)
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=4)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[recorder])
    assert not schedule.attached
    expected = [
        sum(0.01 * max(1 - s / 8, 0) for s in range(e * 4, e * 4 + 4)) for e in range(3)
    ]
    np.testing.assert_allclose(recorder.applied, expected, rtol=1e-4)


@pytest.mark.parametrize("make", ALL_DECAYS)
def test_retarget_mid_decay_keeps_the_current_rate(make):
    schedule = make()
    schedule.bind(100)
    for step, total in ((40, 60), (50, 200), (55, 56), (70, 300)):
        before = value(schedule, step)
        schedule.bind(total, step)
        assert value(schedule, step) == pytest.approx(before, rel=1e-5, abs=1e-9)
        assert schedule.total_steps == total
    # ... and still ends at its floor at the new horizon.
    end = value(schedule, 300)
    assert end == pytest.approx(value(schedule, 1000), abs=1e-9)
    assert end <= value(schedule, 299)


@pytest.mark.parametrize("make", ALL_DECAYS)
def test_retarget_to_a_shorter_horizon_reaches_the_floor_there(make):
    schedule = make()
    schedule.bind(100)
    schedule.bind(60, 40)
    floor = schedule.final_learning_rate
    assert value(schedule, 60) == pytest.approx(floor, abs=1e-8)
    assert value(schedule, 59) > floor


def test_unbound_schedule_runs_a_step_warmup_then_holds_its_peak():
    schedule = schedules.CosineDecay(0.1, warmup_steps=4)
    assert schedule.total_steps is None
    assert [round(value(schedule, s), 6) for s in (0, 2, 4, 10**6)] == [
        0.0,
        0.05,
        0.1,
        0.1,
    ]


def test_first_binding_after_steps_never_cuts_into_a_fractional_warmup():
    schedule = schedules.LinearDecay(0.1, warmup_fraction=0.1)
    assert value(schedule, 30) == pytest.approx(0.1)  # unbound: holds the peak
    schedule.bind(1000, 30)  # the warm-up would be 100 steps long
    assert value(schedule, 30) == pytest.approx(0.1)
    assert value(schedule, 1000) == pytest.approx(0.0, abs=1e-8)


def test_warmup_stable_decay_retarget_in_the_stable_phase_moves_the_decay():
    schedule = schedules.WarmupStableDecay(0.1, total_steps=100, decay_fraction=0.2)
    schedule.bind(200, 50)
    # The closed form for 200 steps: constant until step 160, then decay.
    assert value(schedule, 160) == pytest.approx(0.1)
    assert value(schedule, 180) < 0.1
    assert value(schedule, 200) == pytest.approx(0.0, abs=1e-8)


def test_attach_adds_state_to_the_optimizer_only_where_jax_needs_it():
    schedule = schedules.LinearDecay(0.1)
    model = probe_model(schedule)
    model.optimizer.build(model.trainable_variables)
    count = len(model.optimizer.variables)
    schedule.attach(model.optimizer)
    schedule.attach(model.optimizer)  # idempotent
    # JAX's compiled step is handed the optimizer's variables and no other
    # state; TensorFlow and PyTorch read the schedule's own variable.
    added = 1 if keras.backend.backend() == "jax" else 0
    assert len(model.optimizer.variables) == count + added
    schedule.bind(50)
    schedule.detach()  # kept for old callers; changes nothing
    assert len(model.optimizer.variables) == count + added
    assert schedule.attached
    assert schedule.total_steps == 50


class _FailAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("failed mid-fit")


def test_a_failed_fit_leaves_the_optimizer_as_a_finished_one_and_the_next_fit_binds():
    from keras_epochkit.callbacks import EpochBudget

    schedule = schedules.LinearDecay(0.01)
    x, y = probe_data(32)
    model = probe_model(schedule)
    with pytest.raises(RuntimeError, match="failed mid-fit"):
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=4,
            verbose=0,
            callbacks=[EpochBudget(), _FailAt(1)],
        )
    variables = [v.path for v in model.optimizer.variables]
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=4)
    model.fit(
        x, y, batch_size=8, epochs=3, verbose=0, callbacks=[EpochBudget(), recorder]
    )
    assert [v.path for v in model.optimizer.variables] == variables
    # The second fit's horizon (4 done + 3 epochs of 4 steps) reached the
    # compiled step: the rate decays to zero at its last step.
    assert schedule.total_steps == 16
    np.testing.assert_allclose(recorder.applied, recorder.expected, rtol=1e-4)
    assert recorder.applied[-1] == pytest.approx(
        sum(0.01 * (1 - s / 16) for s in range(12, 16)), rel=1e-4
    )


def test_get_state_and_set_state_carry_a_retargeted_scaled_schedule():
    import json

    source = schedules.CosineDecay(0.1, warmup_steps=2, final_learning_rate=0.01)
    source.bind(10)
    source.bind(30, step=6)  # mid-decay: the anchor moves
    source.set_scale(0.5)
    twin = schedules.CosineDecay(0.1, warmup_steps=2, final_learning_rate=0.01)
    twin.set_state(json.loads(json.dumps(source.get_state())))
    steps = range(0, 40, 3)
    assert [value(twin, s) for s in steps] == [value(source, s) for s in steps]
    assert twin.total_steps == 30 and twin.scale == 0.5
    with pytest.raises(ValueError, match="state"):
        twin.set_state({"scale": 1.0})


def test_attaching_to_a_second_optimizer_is_refused():
    schedule = schedules.LinearDecay(0.1)
    schedule.attach(keras.optimizers.SGD(schedule))
    with pytest.raises(ValueError, match="another optimizer"):
        schedule.attach(keras.optimizers.SGD(schedule))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"learning_rate": 0.1, "total_steps": 0}, "total_steps"),
        ({"learning_rate": 0.1, "total_steps": 10.5}, "total_steps"),
        ({"learning_rate": 0.1, "warmup_steps": -1}, "warmup_steps"),
        ({"learning_rate": 0.1, "warmup_fraction": 1.0}, "warmup_fraction"),
        ({"learning_rate": 0.1, "warmup_steps": 3, "warmup_fraction": 0.1}, "not both"),
        ({"learning_rate": 0.1, "total_steps": 10, "warmup_steps": 10}, "smaller"),
        ({"learning_rate": 0.1, "final_learning_rate": -1.0}, "final_learning_rate"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        schedules.LinearDecay(**kwargs)


def test_bad_scale_and_horizon_raise():
    schedule = schedules.LinearDecay(0.1)
    with pytest.raises(ValueError, match="scale"):
        schedule.set_scale(0.0)
    with pytest.raises(ValueError, match="total_steps"):
        schedule.bind(0)


@pytest.mark.slow
def test_model_with_a_bound_schedule_saves_and_loads_in_a_fresh_process(tmp_path):
    from keras_epochkit.callbacks import EpochBudget

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")[:, None]
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(
            schedules.WarmupStableDecay(0.01, warmup_fraction=0.1)
        ),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[EpochBudget()])
    assert_model_round_trip(model, x, tmp_path, y=y)


@pytest.mark.parametrize(
    "make",
    [
        *ALL_DECAYS,
        lambda: schedules.Constant(0.1, warmup_steps=5),
        lambda: schedules.WarmupStableDecay(0.1, warmup_fraction=0.1),
        lambda: schedules.WarmupStableDecay(0.1, decay_shape="cosine"),
    ],
)
def test_value_at_on_the_host_equals_the_schedule_in_keras_ops(make):
    schedule = make()
    steps = (0, 1, 3, 5, 6, 20, 49, 50, 80, 99, 100, 150)
    unbound = [schedule.value_at(s) for s in steps]
    assert unbound == pytest.approx([value(schedule, s) for s in steps], rel=1e-6)
    schedule.bind(100)
    schedule.bind(60, step=30)  # re-targeted mid-decay: the anchored branch
    schedule.set_scale(0.5)
    host = [schedule.value_at(s) for s in steps]
    assert host == pytest.approx(
        [value(schedule, s) for s in steps],
        rel=1e-6,
        abs=1e-8,  # float32 of 0.1
    )
    assert len(set(host)) > 2  # the steps cover the warm-up and the decay
