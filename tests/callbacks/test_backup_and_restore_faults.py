"""Fault tests: SIGKILL a training process at random points and start it again.

The child (`fault_child.py`) trains with BackupAndRestore; the parent kills it
at epoch ends, in the middle of epochs and in the middle of backup writes, and
restarts it until it finishes. A resumed run must end exactly where an
uninterrupted one does, and no kill may leave a backup that fails to load.
"""

import csv
import io
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import threading
import warnings

import keras
import numpy as np
import pytest

from keras_epochkit.callbacks import BackupAndRestore
from keras_epochkit.callbacks._resume import ResumeWarning
from tests.callbacks import fault_child

pytestmark = pytest.mark.slow

CHILD = pathlib.Path(__file__).with_name("fault_child.py")
KILL_POINTS = ("EPOCH_END", "BATCH_END", "WRITE")
CHILD_TIMEOUT = 300  # seconds; a healthy child finishes in a few


def start(workdir, mode):
    env = dict(
        os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3"
    )
    pathlib.Path(workdir).mkdir(parents=True, exist_ok=True)
    # The child's errors go to a file the failure message quotes.
    with open(pathlib.Path(workdir) / "stderr.log", "w") as stderr:
        return subprocess.Popen(
            [sys.executable, str(CHILD), str(workdir), mode],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )


def stderr_tail(workdir, lines=15):
    path = pathlib.Path(workdir) / "stderr.log"
    return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""


def run_to_end(workdir, mode):
    proc = start(workdir, mode)
    out, _ = proc.communicate(timeout=CHILD_TIMEOUT)
    assert proc.returncode == 0 and "DONE" in out, stderr_tail(workdir)
    return json.loads((pathlib.Path(workdir) / "result.json").read_text())


def run_until_killed(workdir, mode, point, occurrence):
    """Runs the child and SIGKILLs it at the `occurrence`-th `point` event.

    Returns the events it printed and whether it was killed (it may finish
    first).
    """
    proc = start(workdir, mode)
    events, seen = [], 0
    # A child that hangs is killed and reported, never waited on forever.
    watchdog = threading.Timer(CHILD_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:
            events.append(line.split())
            if events[-1] and events[-1][0] == point:
                seen += 1
                if seen == occurrence:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=60)
                    return events, True
        proc.wait(timeout=CHILD_TIMEOUT)
        assert proc.returncode == 0, (
            f"the child failed or hung: {events[-3:]}\n{stderr_tail(workdir)}"
        )
        return events, False
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def assert_backup_loads(workdir, mode):
    """Whatever a kill left behind, the published backup loads completely."""
    if published(workdir) is None:
        return
    if mode.startswith("keras-"):
        model, kept = fault_child.make_keras_model(), []
    else:
        model, kept = fault_child.make_model(mode == "augmented"), [Ledger()]
    backup = BackupAndRestore(pathlib.Path(workdir) / "backup", callbacks=kept)
    backup.set_model(model)
    with warnings.catch_warnings():
        # Loaded by hand, without the run's callbacks: their states are named.
        warnings.simplefilter("ignore", ResumeWarning)
        backup.on_train_begin()  # raises if anything in the backup is unreadable
    assert backup.restored_epoch >= 1
    keras.backend.clear_session()


def published(workdir):
    pointer = pathlib.Path(workdir) / "backup" / "LATEST"
    return json.loads(pointer.read_text())["checkpoint"] if pointer.exists() else None


# Which occurrence of each event a run is killed at. Early kills exercise
# restarts before any backup exists; late ones (after the first backup is
# published: 4 batches and 4 writes per epoch) make every restart a restore.
EARLY = {"EPOCH_END": (1, 4), "BATCH_END": (1, 4), "WRITE": (1, 6)}
LATE = {"EPOCH_END": (2, 4), "BATCH_END": (5, 12), "WRITE": (5, 12)}


def kill_and_resume(workdir, mode, kills, rng, occurrences=EARLY):
    outcomes = {point: 0 for point in KILL_POINTS}
    digests, restored_matches = {}, 0
    while sum(outcomes.values()) < kills:
        point = rng.choice(KILL_POINTS)
        occurrence = rng.randint(*occurrences[point])
        expected = digests.get(published(workdir))
        events, killed = run_until_killed(workdir, mode, point, occurrence)
        for event in events:
            if event[0] == "SAVING":
                digests[event[1]] = event[2]
            elif event[0] == "RESTORED":
                # What comes back is what the published backup held.
                assert event[1] == expected
                restored_matches += 1
        if not killed:
            return outcomes, restored_matches, True
        outcomes[point] += 1
        assert_backup_loads(workdir, mode)
    return outcomes, restored_matches, False


def assert_same_run(result, reference):
    assert len(result["losses"]) == len(reference["losses"])
    np.testing.assert_allclose(result["losses"], reference["losses"], rtol=1e-5)
    np.testing.assert_allclose(result["rates"], reference["rates"], rtol=1e-6)
    for ours, theirs in zip(result["weights"], reference["weights"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


# The Keras-callbacks run: 12 epochs of 4 batches; two backups per epoch
# (when the backup's own epoch end comes, and once every callback has
# finished the epoch), each of 4 writes.
KERAS_OCCURRENCES = {"EPOCH_END": (1, 11), "BATCH_END": (1, 44), "WRITE": (1, 90)}
ORDERS = ("keras-first", "keras-last")


def assert_same_keras_run(result, reference):
    """Equal stop, best epoch, rate trajectory, checkpoint, CSV rows and weights."""
    assert result["epochs"] == reference["epochs"]
    assert result["stopped_epoch"] == reference["stopped_epoch"]
    assert result["best_epoch"] == reference["best_epoch"]
    assert result["stop_reason"] == reference["stop_reason"]
    assert result["history"].keys() == reference["history"].keys()
    for key, values in reference["history"].items():
        np.testing.assert_allclose(result["history"][key], values, rtol=1e-5)
    rows, reference_rows = _csv_rows(result["csv"]), _csv_rows(reference["csv"])
    assert [row["epoch"] for row in rows] == [row["epoch"] for row in reference_rows]
    assert len({row["epoch"] for row in rows}) == len(rows)  # each epoch once
    for row, reference_row in zip(rows, reference_rows):
        assert row.keys() == reference_row.keys()
        np.testing.assert_allclose(
            [float(v) for v in row.values()],
            [float(v) for v in reference_row.values()],
            rtol=1e-5,
        )
    for name in ("best_checkpoint", "weights"):
        for ours, theirs in zip(result[name], reference[name]):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def _csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_killed_runs_with_keras_callbacks_end_like_an_uninterrupted_one(
    tmp_path, record_property
):
    reference = run_to_end(tmp_path / "reference", ORDERS[0])
    assert 0 < reference["stopped_epoch"] < fault_child.KERAS_EPOCHS - 1
    assert len(set(reference["history"]["learning_rate"])) > 1
    rng = random.Random(20261202)
    report = []
    for order in ORDERS:
        kills = {point: 0 for point in KILL_POINTS}
        runs = restores = 0
        # Kill, restart, ... until the run ends; again until 10 kills per order.
        while sum(kills.values()) < 10:
            workdir = tmp_path / f"{order}-{runs}"
            outcomes, restored, finished = kill_and_resume(
                workdir,
                order,
                kills=10 - sum(kills.values()),
                rng=rng,
                occurrences=KERAS_OCCURRENCES,
            )
            result = (
                json.loads((workdir / "result.json").read_text())
                if finished
                else run_to_end(workdir, order)
            )
            assert_same_keras_run(result, reference)
            kills = {p: kills[p] + outcomes[p] for p in KILL_POINTS}
            runs += 1
            restores += restored
        report.append(
            f"{order}: {sum(kills.values())} SIGKILLs ({kills}) over {runs} run(s), "
            f"{restores} restores checked"
        )
    record_property(
        "summary",
        f"[{keras.backend.backend()}] " + "; ".join(report) + ": every resumed "
        "run ended with the uninterrupted run's stop epoch, best epoch, learning "
        "rates, best checkpoint, CSV rows (each epoch once) and weights; every "
        "backup left behind loaded.",
    )


def test_after_kills_with_augmentation_restored_state_equals_saved_state(
    tmp_path, record_property
):
    rng = random.Random(7)
    outcomes, restores, _ = kill_and_resume(
        tmp_path, "augmented", kills=6, rng=rng, occurrences=LATE
    )
    assert restores >= 3
    record_property(
        "summary",
        f"[{keras.backend.backend()}] augmented and shuffled: "
        f"{sum(outcomes.values())} SIGKILLs ({outcomes}), {restores} restored "
        "states equal to the published ones",
    )


def test_a_backup_left_by_a_kill_loads_in_a_fresh_model(tmp_path):
    _, killed = run_until_killed(tmp_path, "augmented", "EPOCH_END", 3)
    assert killed
    model = fault_child.make_model(augmented=True)
    backup = BackupAndRestore(tmp_path / "backup", callbacks=[Ledger()])
    backup.set_model(model)
    backup.on_train_begin()
    # Killed at the end of epoch 2 (the third EPOCH_END): the backup published
    # when epoch 2 began resumes at epoch 2; if the kill lands a moment late,
    # the one written as epoch 3 begins may already be published.
    assert backup.restored_epoch in (2, 3)


class Ledger(keras.callbacks.Callback):
    """Stands in for the child's ledger (same name, so the same state key)."""

    def get_state(self):
        return {}

    def set_state(self, state):
        pass
