"""Fault tests: SIGKILL a training process at random points and start it again.

The child (`fault_child.py`) trains with BackupAndRestore; the parent kills it
at epoch ends, in the middle of epochs and in the middle of backup writes, and
restarts it until it finishes. A resumed run must end exactly where an
uninterrupted one does, and no kill may leave a backup that fails to load.
"""

import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import threading

import keras
import numpy as np
import pytest

from keras_epochkit.callbacks import BackupAndRestore
from tests.callbacks import fault_child

pytestmark = pytest.mark.slow

CHILD = pathlib.Path(__file__).with_name("fault_child.py")
KILL_POINTS = ("EPOCH_END", "BATCH_END", "WRITE")
CHILD_TIMEOUT = 300  # seconds; a healthy child finishes in a few


def start(workdir, mode):
    env = dict(
        os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3"
    )
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(workdir), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def run_to_end(workdir, mode):
    proc = start(workdir, mode)
    out, _ = proc.communicate(timeout=CHILD_TIMEOUT)
    assert proc.returncode == 0 and "DONE" in out
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
        assert proc.returncode == 0, f"the child failed or hung: {events[-3:]}"
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
    model = fault_child.make_model(mode == "augmented")
    backup = BackupAndRestore(pathlib.Path(workdir) / "backup", callbacks=[Ledger()])
    backup.set_model(model)
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


def test_killed_and_resumed_runs_end_like_an_uninterrupted_one(
    tmp_path, record_property
):
    reference = run_to_end(tmp_path / "reference", "deterministic")
    rng = random.Random(20261124)
    kills = {point: 0 for point in KILL_POINTS}
    runs = restores = 0
    # Kill, restart, ... until the run ends; repeat with a new run until 20 kills.
    while sum(kills.values()) < 20:
        workdir = tmp_path / f"run{runs}"
        outcomes, restored, finished = kill_and_resume(
            workdir, "deterministic", kills=20 - sum(kills.values()), rng=rng
        )
        result = (
            json.loads((workdir / "result.json").read_text())
            if finished
            else run_to_end(workdir, "deterministic")
        )
        assert_same_run(result, reference)
        kills = {p: kills[p] + outcomes[p] for p in KILL_POINTS}
        runs += 1
        restores += restored
    assert all(kills[p] > 0 for p in KILL_POINTS)
    record_property(
        "summary",
        f"[{keras.backend.backend()}] {sum(kills.values())} SIGKILLs ({kills}) over "
        f"{runs} run(s), {restores} restores checked: every resumed run ended with "
        "the uninterrupted run's losses, learning rates and weights; every backup "
        "left behind loaded.",
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
