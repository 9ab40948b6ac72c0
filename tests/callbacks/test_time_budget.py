"""TimeBudget finishes on time: forecasts, re-targets, stops, agrees, resumes."""

import keras
import numpy as np
import pytest

from keras_epochkit import schedules
from keras_epochkit.callbacks import TimeBudget
from tests.schedules.lr_probe import AppliedRateRecorder
from tests.schedules.lr_probe import probe_data
from tests.schedules.lr_probe import probe_model
from tests.support.multidevice import run_jax_multihost


class FakeClock(keras.callbacks.Callback):
    """A clock that advances by `seconds_per_batch(batch)` at each batch end."""

    def __init__(self, seconds_per_batch=10.0):
        super().__init__()
        self.now = 0.0
        self.step = 0
        self.seconds_per_batch = seconds_per_batch

    def __call__(self):
        return self.now

    def on_train_batch_end(self, batch, logs=None):
        seconds = self.seconds_per_batch
        self.now += seconds(self.step) if callable(seconds) else seconds
        self.step += 1


def fit(model, clock, budget, epochs=100, extra=(), samples=32):
    x, y = probe_data(samples)
    return model.fit(
        x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=[clock, budget, *extra]
    )


def test_stops_before_the_deadline_with_the_schedule_at_its_floor():
    clock = FakeClock(10.0)  # 4 batches: 40 s per epoch
    schedule = schedules.LinearDecay(0.01, final_learning_rate=0.001)
    model = probe_model(schedule)
    budget = TimeBudget(minutes=5, clock=clock)  # 300 s: 7 epochs fit
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=4)
    history = fit(model, clock, budget, extra=[recorder])
    assert len(history.history["loss"]) == 7
    assert clock.now == 280.0
    assert budget.stopped_epoch == 6
    assert schedule.total_steps == 28
    lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert lr == pytest.approx(0.001)
    # Every re-target took effect inside the compiled train step.
    np.testing.assert_allclose(recorder.applied, recorder.expected, rtol=1e-4)


def test_never_runs_past_the_deadline_by_more_than_one_epoch_when_epochs_slow_down():
    # Batches get slower: 5 s, then 6 s, 7 s, ... per batch.
    clock = FakeClock(lambda step: 5.0 + step)
    budget = TimeBudget(minutes=10, clock=clock)
    history = fit(probe_model(schedules.CosineDecay(0.01)), clock, budget)
    epochs = len(history.history["loss"])
    last_epoch = sum(5.0 + s for s in range(4 * (epochs - 1), 4 * epochs))
    assert clock.now <= 600.0 + last_epoch
    assert clock.now > 600.0 - 2 * last_epoch  # and it used the budget
    assert budget.stopped_epoch == epochs - 1


def test_a_fit_shorter_than_the_budget_runs_all_its_epochs():
    clock = FakeClock(1.0)
    schedule = schedules.LinearDecay(0.01)
    budget = TimeBudget(minutes=60, clock=clock)
    history = fit(probe_model(schedule), clock, budget, epochs=5)
    assert len(history.history["loss"]) == 5
    assert budget.stopped_epoch is None
    assert schedule.total_steps == 20  # the epochs fit asked for


def test_stop_mid_epoch_stops_at_a_batch_end_when_an_epoch_is_too_long():
    clock = FakeClock(10.0)  # 16 batches: 160 s per epoch
    model = probe_model(schedules.LinearDecay(0.01))
    budget = TimeBudget(minutes=1, stop_mid_epoch=True, clock=clock)
    fit(model, clock, budget, samples=128)
    assert clock.now == 60.0
    assert budget.stopped_epoch == 0
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 6

    clock = FakeClock(10.0)
    late = TimeBudget(minutes=1, clock=clock)
    fit(probe_model(schedules.LinearDecay(0.01)), clock, late, samples=128)
    assert clock.now == 160.0  # without it, the first epoch runs to its end


def test_the_forecast_leaves_out_the_compiling_first_batch(capsys):
    # The first batch compiles for 100 s, the others take 10 s: the first
    # epoch lasts 130 s, a steady one 40 s.
    clock = FakeClock(lambda step: 100.0 if step == 0 else 10.0)
    schedule = schedules.LinearDecay(0.01)
    budget = TimeBudget(minutes=5, clock=clock, verbose=1)
    history = fit(probe_model(schedule), clock, budget)
    first = capsys.readouterr().out.splitlines()[0]
    # Counting the compile would forecast 130 s and plan 1 more epoch.
    assert "130.0s of 300.0s used, about 40.0s per epoch, 4 more" in first
    # 130 s, then 40 s per epoch: 4 more fit (290 s), a fifth would pass 300 s.
    assert len(history.history["loss"]) == 5
    assert clock.now == 290.0
    assert schedule.total_steps == 20


def test_batch_ends_arriving_out_of_order_time_from_the_earliest_batch(capsys):
    # Off the training thread, batch ends may arrive out of order: the epoch
    # is still timed from the end of its first batch.
    model = probe_model(0.01)
    now = [0.0]
    budget = TimeBudget(minutes=10, clock=lambda: now[0], verbose=1)
    callbacks = keras.callbacks.CallbackList(
        [budget], model=model, epochs=5, steps=4, verbose=0
    )
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    for batch, seconds in [(2, 100.0), (0, 70.0), (1, 90.0), (3, 110.0)]:
        now[0] = seconds
        budget.on_train_batch_end(batch)
    now[0] = 110.0
    callbacks.on_epoch_end(0, {})
    # From the first batch's end (70 s) to 110 s is 3 batches: 4 take 53.3 s.
    assert "about 53.3s per epoch" in capsys.readouterr().out
    callbacks.on_train_end()


def test_keeps_keras_dispatching_batch_ends_off_the_training_thread():
    # Keras runs batch ends on a thread pool (no device sync per batch) on
    # thread-safe backends, unless a callback overrides the batch hook without
    # declaring it async-safe; stopping mid-epoch needs the hook in step.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    baseline = keras.callbacks.CallbackList([], model=model)
    default = keras.callbacks.CallbackList([TimeBudget(minutes=1)], model=model)
    mid_epoch = keras.callbacks.CallbackList(
        [TimeBudget(minutes=1, stop_mid_epoch=True)], model=model
    )
    assert default._async_train == baseline._async_train
    assert mid_epoch._async_train is False


def test_during_fit_batch_ends_run_where_they_run_without_it():
    import threading

    class Where(keras.callbacks.Callback):
        async_safe = True

        def __init__(self):
            super().__init__()
            self.threads = set()

        def on_train_batch_end(self, batch, logs=None):
            self.threads.add(threading.current_thread() is threading.main_thread())

    def on_main_thread(*callbacks):
        where = Where()
        x, y = probe_data(64)
        probe_model(0.01).fit(
            x, y, batch_size=8, epochs=2, verbose=0, callbacks=[where, *callbacks]
        )
        return where.threads

    baseline = on_main_thread()
    assert on_main_thread(TimeBudget(minutes=10)) == baseline
    assert on_main_thread(TimeBudget(minutes=10, stop_mid_epoch=True)) == {True}
    if keras.backend.backend() in ("jax", "torch"):  # thread-safe backends
        assert baseline == {False}


def test_a_fixed_learning_rate_is_only_stopped_on_time():
    clock = FakeClock(10.0)
    model = probe_model(0.01)
    budget = TimeBudget(minutes=2, clock=clock)
    history = fit(model, clock, budget)
    assert len(history.history["loss"]) == 3
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == (
        pytest.approx(0.01)
    )


def test_a_resumed_run_keeps_its_deadline():
    clock = FakeClock(10.0)
    model = probe_model(schedules.LinearDecay(0.01))
    first = TimeBudget(minutes=5, clock=clock)
    fit(model, clock, first, epochs=3)  # 120 s spent
    state = first.get_state()
    assert state == {"elapsed_seconds": 120.0}

    second = TimeBudget(minutes=5, clock=clock)
    second.set_state(state)
    history = fit(model, clock, second)
    assert len(history.history["loss"]) == 4  # 120 s + 4 * 40 s = 280 s
    assert second.get_state()["elapsed_seconds"] == 280.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"minutes": 0}, "minutes"),
        ({"minutes": float("inf")}, "minutes"),
        ({"minutes": "soon"}, "minutes"),
        ({"minutes": 1, "schedule": 0.1}, "schedule"),
        ({"minutes": 1, "clock": 3.0}, "clock"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TimeBudget(**kwargs)


def test_a_schedule_other_than_the_optimizers_is_refused():
    clock = FakeClock()
    model = probe_model(keras.optimizers.schedules.CosineDecay(0.01, 10))
    budget = TimeBudget(minutes=1, schedule=schedules.LinearDecay(0.1), clock=clock)
    with pytest.raises(ValueError, match="must be the optimizer's learning rate"):
        fit(model, clock, budget, epochs=1)


@pytest.mark.multidevice
@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="runs in the jax session of the suite"
)
def test_two_jax_processes_stop_at_the_same_epoch_when_one_clock_says_stop():
    results = run_jax_multihost(
        """
import numpy as np
import keras
import keras_epochkit as ek

x = np.ones((32, 1), "float32")
y = np.zeros((32, 1), "float32")
local_x, local_y = x[process_id::num_processes], y[process_id::num_processes]
model = keras.Sequential(
    [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
)
schedule = ek.schedules.LinearDecay(0.01)
model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")

class Clock(keras.callbacks.Callback):
    # Process 1's clock runs five times faster: it alone would stop early.
    def __init__(self):
        super().__init__()
        self.now = 0.0
    def __call__(self):
        return self.now
    def on_train_batch_end(self, batch, logs=None):
        self.now += 10.0 if process_id == 0 else 50.0

clock = Clock()
budget = ek.callbacks.TimeBudget(minutes=10, clock=clock)
history = model.fit(local_x, local_y, batch_size=4, epochs=50, verbose=0,
                    shuffle=False, callbacks=[clock, budget])
report({
    "epochs": len(history.history["loss"]),
    "stopped_epoch": budget.stopped_epoch,
    "total_steps": schedule.total_steps,
    "kernel": float(np.asarray(model.layers[0].kernel.value).ravel()[0]),
})
""",
        processes=2,
        timeout=300,
    )
    first, second = results
    # 4 local batches of 4; process 1 spends 200 s per epoch: 3 epochs fit in 600 s.
    assert first["epochs"] == second["epochs"] == 3
    assert first["stopped_epoch"] == second["stopped_epoch"] == 2
    assert first["total_steps"] == second["total_steps"]
    assert first["kernel"] == second["kernel"]
