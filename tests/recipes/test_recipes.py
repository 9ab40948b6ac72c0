"""The recipes run end to end, write parseable outputs, and scale out exactly."""

import csv
import importlib.util
import inspect
import json
import os
import pathlib
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_epochkit  # noqa: F401  (registers the classes the models use)
from tests.support.multidevice import run_jax_multihost
from tests.support.multidevice import run_python
from tests.support.multidevice import run_with_jax_devices

RECIPES = pathlib.Path(__file__).resolve().parents[2] / "recipes"
BACKEND = keras.backend.backend()

pytestmark = pytest.mark.slow

# Runs a recipe's main() in the subprocess and reports what it returned.
_CALL_RECIPE = """
import importlib.util
spec = importlib.util.spec_from_file_location("recipe", {path!r})
recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe)
result = recipe.main({argv!r})
report({{"history": result["history"], "test": result["test"],
        "epochs_run": result["epochs_run"], "stop_reason": result["stop_reason"]}})
"""

# Exact-comparison settings: no augmentation or dropout, a fixed data order.
_DETERMINISTIC = ["--no-augmentation", "--dropout", "0", "--verbose", "0"]


def _only_on(backend):
    return pytest.mark.skipif(
        BACKEND != backend, reason=f"runs in the {backend} session of the suite"
    )


def _call(recipe, argv):
    return _CALL_RECIPE.format(path=str(RECIPES / f"{recipe}.py"), argv=list(argv))


@pytest.mark.parametrize(
    "recipe, extra",
    [
        ("ffn", []),
        ("cnn", ["--data-fraction", "0.3"]),
        ("rnn", ["--data-fraction", "0.3"]),
    ],
)
def test_recipe_runs_end_to_end_and_writes_parseable_outputs(recipe, extra, tmp_path):
    out = tmp_path / recipe
    proc = subprocess.run(
        [
            sys.executable,
            str(RECIPES / f"{recipe}.py"),
            "--epochs",
            "2",
            "--output",
            str(out),
            "--verbose",
            "0",
            *extra,
        ],
        env={**os.environ, "KERAS_BACKEND": BACKEND, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "from start to summary" in proc.stdout  # the one-screen summary

    report = json.loads((out / "report.json").read_text())
    assert report["backend"] == BACKEND
    assert report["epochs_run"] == 2
    assert report["stop_reason"]
    assert set(report["test"]) >= {"loss", "accuracy"}
    assert all(np.isfinite(v) for v in report["test"].values())
    assert report["wall_seconds"] > 0
    assert "Stop reason" in (out / "report.md").read_text()

    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert float(rows[-1]["loss"]) == pytest.approx(report["history"]["loss"][-1])

    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = keras.saving.load_model(out / "model.keras", safe_mode=True)
    assert model.name == recipe


def _fraction_divisible_by(recipe, replicas):
    """A data fraction whose training and validation rows split evenly."""
    spec = importlib.util.spec_from_file_location(recipe, RECIPES / f"{recipe}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The CNN recipe sizes its split to whole batches of the global batch (32).
    batch = (
        (32,) if "batch_size" in inspect.signature(module.load_data).parameters else ()
    )
    for fraction in np.arange(0.3, 0.6, 0.005):
        train, val, _, _ = module.load_data(
            module.parse_args([]).dataset, 0, fraction, *batch
        )
        if len(train[0]) % replicas == 0 and len(val[0]) % replicas == 0:
            return str(round(float(fraction), 3))
    raise AssertionError("no fraction found")


def _assert_same_run(many, one):
    np.testing.assert_allclose(
        many["history"]["loss"], one["history"]["loss"], rtol=1e-4
    )
    np.testing.assert_allclose(
        many["history"]["val_loss"], one["history"]["val_loss"], rtol=1e-4
    )
    assert many["epochs_run"] == one["epochs_run"]
    assert many["stop_reason"] == one["stop_reason"]


@pytest.mark.multidevice
@_only_on("jax")
@pytest.mark.parametrize("recipe", ["ffn", "cnn", "rnn"])
def test_jax_data_parallel_on_four_devices_matches_one_device(recipe, tmp_path):
    # JAX needs batches that divide by the devices, so no rows are dropped.
    fraction = _fraction_divisible_by(recipe, 4)
    common = ["--epochs", "2", "--data-fraction", fraction, *_DETERMINISTIC]
    # Same global batch: 4 replicas x 8 against 1 device x 32.
    many = run_with_jax_devices(
        _call(
            recipe,
            [
                *common,
                "--strategy",
                "data-parallel",
                "--batch-size",
                "8",
                "--output",
                str(tmp_path / "many"),
            ],
        ),
        devices=4,
        timeout=400,
    )
    one = run_python(
        _call(
            recipe,
            [
                *common,
                "--strategy",
                "cpu",
                "--batch-size",
                "32",
                "--output",
                str(tmp_path / "one"),
            ],
        ),
        backend="jax",
        timeout=400,
    )
    _assert_same_run(many, one)


@pytest.mark.multidevice
@_only_on("tensorflow")
@pytest.mark.parametrize("recipe", ["ffn", "cnn", "rnn"])
def test_tf_mirrored_on_two_logical_cpus_matches_one_device(recipe, tmp_path):
    # Evenly splitting batches, so no rows are dropped.
    fraction = _fraction_divisible_by(recipe, 2)
    common = ["--epochs", "2", "--data-fraction", fraction, *_DETERMINISTIC]
    many = run_python(
        _call(
            recipe,
            [
                *common,
                "--strategy",
                "mirrored",
                "--cpu-devices",
                "2",
                "--batch-size",
                "16",
                "--output",
                str(tmp_path / "many"),
            ],
        ),
        backend="tensorflow",
        env={"CUDA_VISIBLE_DEVICES": ""},
        timeout=400,
    )
    one = run_python(
        _call(
            recipe,
            [
                *common,
                "--strategy",
                "cpu",
                "--batch-size",
                "32",
                "--output",
                str(tmp_path / "one"),
            ],
        ),
        backend="tensorflow",
        env={"CUDA_VISIBLE_DEVICES": ""},
        timeout=400,
    )
    _assert_same_run(many, one)


@pytest.mark.multidevice
@_only_on("jax")
def test_two_jax_hosts_run_the_ffn_recipe_in_lockstep_and_only_chief_writes(
    tmp_path,
):
    code = _call(
        "ffn",
        [
            "--strategy",
            "multi-worker",
            "--epochs",
            "300",
            "--minutes",
            "0.3",
            *_DETERMINISTIC,
            "--batch-size",
            "16",
            "--output",
            str(tmp_path),
        ],
    ).replace('"epochs_run":', '"process": process_id, "epochs_run":')
    # Each process writes to its own folder, so a stray write would show.
    code = code.replace(repr(str(tmp_path)), f"{str(tmp_path)!r} + f'/p{{process_id}}'")
    results = run_jax_multihost(code, processes=2, timeout=500)
    first, second = results
    assert first["history"]["loss"] == second["history"]["loss"]
    assert first["test"] == second["test"]
    assert first["epochs_run"] < 300  # stopped by the time budget or early
    assert first["stop_reason"] == second["stop_reason"]
    assert (tmp_path / "p0" / "report.json").exists()
    assert (tmp_path / "p0" / "model.keras").exists()
    assert not list((tmp_path / "p1").glob("*"))


def test_a_killed_recipe_resumes_and_logs_every_epoch_once(tmp_path):
    out = tmp_path / "ffn"
    command = [
        sys.executable,
        str(RECIPES / "ffn.py"),
        "--epochs",
        "6",
        "--resume",
        "--verbose",
        "2",
        "--output",
        str(out),
    ]
    env = {
        **os.environ,
        "KERAS_BACKEND": BACKEND,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        for line in proc.stdout:
            if line.startswith("Epoch 4/6"):
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=400)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the recipe ended before the kill"
    assert (out / "backup" / "LATEST").exists()

    resumed = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=400
    )
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "Epoch 1/6" not in resumed.stdout  # it went on, it did not start over
    report = json.loads((out / "report.json").read_text())
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == list(range(report["epochs_run"]))
    assert report["epochs_run"] == 6 or report["stop_reason"] != "epoch cap reached"
    assert len(report["history"]["loss"]) == report["epochs_run"]
    np.testing.assert_allclose(
        [float(r["loss"]) for r in rows], report["history"]["loss"], rtol=1e-6
    )
    assert not (out / "backup").exists()  # a finished run removes its backup
