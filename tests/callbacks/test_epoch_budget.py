"""EpochBudget binds the schedule's horizon to what fit() will run."""

import keras
import numpy as np
import pytest

from keras_epochkit import schedules
from keras_epochkit.callbacks import EpochBudget
from tests.schedules.lr_probe import AppliedRateRecorder
from tests.schedules.lr_probe import probe_data
from tests.schedules.lr_probe import probe_model
from tests.schedules.lr_probe import weight


def linear_sums(peak, total, epochs, steps, first_step=0):
    return [
        sum(peak * max(1 - s / total, 0) for s in range(start, start + steps))
        for start in range(first_step, first_step + epochs * steps, steps)
    ]


def test_binds_the_horizon_from_epochs_and_batch_size():
    schedule = schedules.LinearDecay(0.01)
    x, y = probe_data(32)
    model = probe_model(schedule)
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=4)
    history = model.fit(
        x, y, batch_size=8, epochs=3, verbose=0, callbacks=[EpochBudget(), recorder]
    )
    assert schedule.total_steps == 12
    np.testing.assert_allclose(recorder.applied, linear_sums(0.01, 12, 3, 4), rtol=1e-4)
    # The logged rate is the one for the next step; it reaches the floor at the end.
    np.testing.assert_allclose(
        history.history["learning_rate"], [0.01 * 8 / 12, 0.01 * 4 / 12, 0.0], atol=1e-7
    )


def test_binds_the_horizon_from_steps_per_epoch():
    schedule = schedules.CosineDecay(0.01)
    x, y = probe_data(64)
    model = probe_model(schedule)
    model.fit(
        x,
        y,
        batch_size=8,
        steps_per_epoch=3,
        epochs=2,
        verbose=0,
        callbacks=[EpochBudget()],
    )
    assert schedule.total_steps == 6
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 6


def test_initial_epoch_spreads_the_schedule_over_the_remaining_epochs():
    schedule = schedules.LinearDecay(0.01)
    x, y = probe_data(32)
    model = probe_model(schedule)
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=4)
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=5,
        initial_epoch=2,
        verbose=0,
        callbacks=[EpochBudget(), recorder],
    )
    assert schedule.total_steps == 12
    np.testing.assert_allclose(recorder.applied, linear_sums(0.01, 12, 3, 4), rtol=1e-4)


class _StopAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.stop_training = True


def test_a_resumed_fit_continues_the_schedule_at_the_optimizer_step():
    x, y = probe_data(32)
    full = probe_model(schedules.LinearDecay(0.01))
    full.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[EpochBudget()])

    schedule = schedules.LinearDecay(0.01)
    resumed = probe_model(schedule)
    resumed.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        verbose=0,
        callbacks=[EpochBudget(), _StopAfter(1)],
    )
    assert weight(resumed) != pytest.approx(weight(full))
    resumed.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        initial_epoch=2,
        verbose=0,
        callbacks=[EpochBudget()],
    )
    assert schedule.total_steps == 16
    assert weight(resumed) == pytest.approx(weight(full), rel=1e-5)


class _Crash(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("simulated crash")


@pytest.mark.slow
def test_resuming_with_keras_backup_and_restore_in_a_new_model(tmp_path):
    x, y = probe_data(32)
    full = probe_model(schedules.WarmupStableDecay(0.01, warmup_steps=2))
    full.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[EpochBudget()])

    backup = str(tmp_path / "backup")
    first = probe_model(schedules.WarmupStableDecay(0.01, warmup_steps=2))
    with pytest.raises(RuntimeError, match="simulated crash"):
        first.fit(
            x,
            y,
            batch_size=8,
            epochs=4,
            verbose=0,
            callbacks=[
                EpochBudget(),
                keras.callbacks.BackupAndRestore(backup),
                _Crash(),
            ],
        )
    schedule = schedules.WarmupStableDecay(0.01, warmup_steps=2)
    second = probe_model(schedule)
    second.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        verbose=0,
        callbacks=[EpochBudget(), keras.callbacks.BackupAndRestore(backup)],
    )
    assert int(keras.ops.convert_to_numpy(second.optimizer.iterations)) == 16
    assert schedule.total_steps == 16
    assert weight(second) == pytest.approx(weight(full), rel=1e-5)


def _unsized_batches(x, y):
    """Four batches of eight from a loader that does not announce its length."""
    torch = pytest.importorskip("torch")  # any backend; absent where only JAX is

    class Batches(torch.utils.data.IterableDataset):
        def __iter__(self):
            for i in range(4):
                yield x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]

    return torch.utils.data.DataLoader(Batches(), batch_size=None)


def test_unknown_steps_are_counted_in_the_first_epoch_at_the_initial_rate():
    schedule = schedules.LinearDecay(0.01)
    x, y = probe_data(32)
    model = probe_model(schedule)
    recorder = AppliedRateRecorder(schedule, steps_per_epoch=4)
    budget = EpochBudget()
    model.fit(_unsized_batches(x, y), epochs=3, verbose=0, callbacks=[budget, recorder])
    assert budget.steps_per_epoch == 4
    # TensorFlow's iterator over an unsized dataset counts one extra optimizer
    # iteration when it finds the end of an epoch; the horizon starts from it.
    extra = 1 if keras.backend.backend() == "tensorflow" else 0
    assert schedule.total_steps == 12 + extra
    # Epoch 1 held the initial rate; the last two spread the decay over 8 steps.
    assert recorder.applied[0] == pytest.approx(0.04, rel=1e-4)
    if not extra:
        np.testing.assert_allclose(
            recorder.applied[1:], recorder.expected[1:], rtol=1e-4
        )
        assert recorder.applied[2] == pytest.approx(0.01 * 10 / 8, rel=1e-4)


def test_a_fixed_learning_rate_is_refused_with_a_clear_error():
    x, y = probe_data(16)
    model = probe_model(0.01)
    with pytest.raises(ValueError, match="not a bindable budget schedule"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[EpochBudget()])


def test_a_keras_schedule_is_refused_with_a_clear_error():
    x, y = probe_data(16)
    model = probe_model(keras.optimizers.schedules.CosineDecay(0.01, 10))
    with pytest.raises(ValueError, match="CosineDecay schedule, not a bindable"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[EpochBudget()])


def test_a_fixed_learning_rate_is_named_with_its_value():
    x, y = probe_data(16)
    model = probe_model(0.0125)
    with pytest.raises(ValueError, match=r"a fixed value \(0\.0125\)"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[EpochBudget()])


def test_a_keras_without_the_schedule_where_keras_3_keeps_it_fails_clearly(
    monkeypatch,
):
    x, y = probe_data(16)
    model = probe_model(schedules.LinearDecay(0.01))
    monkeypatch.setattr(keras, "__version__", "4.0.0")
    with pytest.raises(RuntimeError, match=r"Keras 4\.0\.0 keeps it elsewhere"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[EpochBudget()])


def test_a_schedule_other_than_the_optimizers_is_refused():
    x, y = probe_data(16)
    model = probe_model(schedules.LinearDecay(0.01))
    with pytest.raises(ValueError, match="must be the optimizer's learning rate"):
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            callbacks=[EpochBudget(schedules.LinearDecay(0.01))],
        )
    with pytest.raises(ValueError, match="schedule"):
        EpochBudget(schedule=0.1)


def test_state_round_trip_restores_the_horizon():
    schedule = schedules.LinearDecay(0.01)
    x, y = probe_data(32)
    model = probe_model(schedule)
    budget = EpochBudget()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[budget])
    state = budget.get_state()
    assert state == {"total_steps": 8, "steps_per_epoch": 4}
    other = EpochBudget()
    other.set_state(state)
    assert other.get_state() == state


_FRESH_LOAD = """
import sys, warnings
import keras, numpy as np
import keras_epochkit as ek

path, expected = sys.argv[1], np.load(sys.argv[2])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = keras.saving.load_model(path, safe_mode=True)
skipped = any("Skipping variable loading" in str(w.message) for w in caught)
if skipped:
    # JAX: the file has the schedule's optimizer variable; attach, then load.
    ek.callbacks.EpochBudget().set_model(model)
    model.load_weights(path)
values = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
assert len(values) == len(expected.files), (len(values), len(expected.files))
for i, value in enumerate(values):
    np.testing.assert_array_equal(value, expected[f"v{i}"])
print("skipped" if skipped else "loaded")
"""


@pytest.mark.slow
def test_a_model_trained_with_it_loads_in_a_fresh_process_with_its_optimizer(
    tmp_path,
):
    import subprocess
    import sys

    schedule = schedules.WarmupStableDecay(0.01, warmup_fraction=0.25)
    x, y = probe_data(16)
    model = probe_model(schedule)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[EpochBudget()])
    model.save(tmp_path / "model.keras")
    values = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    np.savez(tmp_path / "expected.npz", **{f"v{i}": v for i, v in enumerate(values)})
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _FRESH_LOAD,
            str(tmp_path / "model.keras"),
            str(tmp_path / "expected.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Only JAX keeps the schedule's state among the optimizer's variables.
    expected = "skipped" if keras.backend.backend() == "jax" else "loaded"
    assert proc.stdout.split()[-1] == expected


def test_does_not_stop_keras_dispatching_batch_ends_asynchronously():
    # Keras dispatches batch ends on a thread (no device sync per batch)
    # unless a callback overrides the hook without declaring it async-safe.
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    baseline = keras.callbacks.CallbackList([], model=model)
    with_budget = keras.callbacks.CallbackList([EpochBudget()], model=model)
    assert with_budget._async_train == baseline._async_train
