"""Conformance checks every serializable keras-epochkit object must pass.

Two levels:

* `assert_config_round_trip(obj)`: `get_config` is JSON-able, `from_config`
  rebuilds an equal object, and Keras's own (de)serialization finds the class
  under the `keras_epochkit>` package name.
* `assert_model_round_trip(model, x)`: a model containing the object saves to
  `.keras` and loads in a *fresh Python process* with `safe_mode=True`, and the
  reloaded model gives the same outputs (and, optionally, the same `evaluate`
  results, which covers compiled metrics).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np

PACKAGE = "keras_epochkit"


def assert_registered(cls: type) -> str:
    """Asserts `cls` is registered under the keras_epochkit package; returns its name."""
    name = keras.saving.get_registered_name(cls)
    assert name == f"{PACKAGE}>{cls.__name__}", (
        f"{cls.__name__} is registered as {name!r}; decorate it with "
        f'keras.saving.register_keras_serializable(package="{PACKAGE}")'
    )
    return name


def assert_config_round_trip(obj, *, check_equal=None):
    """Round-trips `obj` through its config and through Keras serialization.

    Args:
        obj: a Keras-serializable object (layer, metric, schedule, criterion...).
        check_equal: optional `callable(original, restored)` with extra
            assertions (for example comparing outputs).

    Returns:
        The object rebuilt by `keras.saving.deserialize_keras_object`.
    """
    cls = type(obj)
    assert_registered(cls)
    config = obj.get_config()
    assert isinstance(config, dict), f"{cls.__name__}.get_config() must return a dict"
    # The config must survive JSON, as it does inside a .keras file.
    json_config = json.loads(json.dumps(config))

    rebuilt = cls.from_config(json_config)
    assert type(rebuilt) is cls
    assert _normalize(rebuilt.get_config()) == _normalize(config), (
        f"{cls.__name__}.from_config(get_config()) lost or changed arguments:\n"
        f"before: {config}\nafter:  {rebuilt.get_config()}"
    )

    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(obj)))
    restored = keras.saving.deserialize_keras_object(serialized, safe_mode=True)
    assert type(restored) is cls
    assert _normalize(restored.get_config()) == _normalize(config)
    if check_equal is not None:
        check_equal(obj, restored)
    return restored


def _normalize(value):
    """Makes configs comparable after a JSON trip (tuples become lists)."""
    return json.loads(json.dumps(value, sort_keys=True, default=_jsonable))


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serializable: {value!r}")


_LOADER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_epochkit  # registers the package's classes

    work = sys.argv[1]
    model = keras.saving.load_model(f"{work}/model.keras", safe_mode=True)
    data = np.load(f"{work}/inputs.npz")
    x = data["x"]
    out = keras.ops.convert_to_numpy(model(x, training=False))
    np.save(f"{work}/reloaded_outputs.npy", out)
    if "y" in data.files:
        results = model.evaluate(x, data["y"], verbose=0, return_dict=True)
        with open(f"{work}/reloaded_eval.json", "w") as f:
            json.dump({k: float(v) for k, v in results.items()}, f)
    """
)


def assert_model_round_trip(
    model: keras.Model,
    x,
    tmp_path: os.PathLike,
    *,
    y=None,
    atol: float = 1e-6,
    timeout: float = 300,
) -> None:
    """Saves `model` to `.keras`, reloads it in a fresh process and compares.

    The fresh process uses the current Keras backend, imports only keras and
    keras_epochkit, and loads with `safe_mode=True`, exactly as a user would.

    Args:
        model: a built model containing the object under test.
        x: a numpy input batch.
        tmp_path: a scratch directory.
        y: optional targets; when given and the model is compiled, the
            `evaluate` results before and after the reload must match too.
        atol: absolute tolerance for outputs and evaluate results.
        timeout: seconds before the subprocess is considered hung.
    """
    work = pathlib.Path(tmp_path) / "model_round_trip"
    work.mkdir(parents=True, exist_ok=True)
    x = np.asarray(x)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    arrays = {"x": x}
    expected_eval = None
    if y is not None:
        arrays["y"] = np.asarray(y)
        expected_eval = model.evaluate(x, y, verbose=0, return_dict=True)
    np.savez(work / "inputs.npz", **arrays)
    model.save(work / "model.keras")

    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    proc = subprocess.run(
        [sys.executable, "-c", _LOADER, str(work)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        "loading the .keras file in a fresh process failed:\n" + proc.stderr[-4000:]
    )
    reloaded = np.load(work / "reloaded_outputs.npy")
    np.testing.assert_allclose(reloaded, expected, atol=atol, rtol=0)
    if expected_eval is not None:
        with open(work / "reloaded_eval.json") as f:
            reloaded_eval = json.load(f)
        assert set(reloaded_eval) == set(expected_eval)
        for key, value in expected_eval.items():
            np.testing.assert_allclose(
                reloaded_eval[key], float(value), atol=atol, err_msg=key
            )
