"""The recipes pick a Keras backend as a user expects, before Keras is imported.

The order: `--backend`; `KERAS_BACKEND`; Keras's config file if its backend is
installed; the first installed of tensorflow, jax and torch. Each case runs in
a fresh interpreter whose home and environment are set by the test, and where
"not installed" is simulated by hiding packages from the import system.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import keras
import pytest

RECIPES = pathlib.Path(__file__).resolve().parents[2] / "recipes"

# The choice happens before Keras is imported, so it is the same whatever the
# suite's backend: run it once, in the JAX session.
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="runs in the jax session of the suite"
)

# Hides the named top-level packages from every import finder, so that
# `importlib.util.find_spec` and `import` both see them as not installed.
_PRELUDE = """
import json, runpy, sys
HIDDEN = set({hidden!r})

class Hidden:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return self.finder.find_spec(name, path, target)

sys.meta_path[:] = [Hidden(finder) for finder in sys.meta_path]
"""

_CHOOSE = """
recipe = runpy.run_path({path!r})
backend, why = recipe["choose_backend"]({flag!r})
print(json.dumps({{"backend": backend, "why": why, "keras": "keras" in sys.modules,
                   "env": __import__("os").environ.get("KERAS_BACKEND")}}))
"""

_MAIN = """
sys.argv = [{path!r}, *{argv!r}]
runpy.run_path({path!r}, run_name="__main__")
"""


def _env(home, keras_backend=None, keras_home=None):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("KERAS_BACKEND", "KERAS_HOME")
    }
    env["HOME"] = str(home)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if keras_backend:
        env["KERAS_BACKEND"] = keras_backend
    if keras_home:
        env["KERAS_HOME"] = str(keras_home)
    return env


def _choose(
    tmp_path,
    flag=None,
    hidden=(),
    keras_backend=None,
    config_backend=None,
    use_keras_home=False,
    recipe="cnn",
):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    keras_home = tmp_path / "keras-home" if use_keras_home else None
    if config_backend:
        config_dir = keras_home or home / ".keras"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "keras.json").write_text(
            json.dumps({"backend": config_backend, "floatx": "float32"})
        )
    code = _PRELUDE.format(hidden=list(hidden)) + _CHOOSE.format(
        path=str(RECIPES / f"{recipe}.py"), flag=flag
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(home, keras_backend, keras_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("recipe", ["cnn", "ffn", "rnn"])
def test_flag_beats_environment_and_config(recipe, tmp_path):
    chosen = _choose(
        tmp_path,
        flag="jax",
        keras_backend="torch",
        config_backend="tensorflow",
        recipe=recipe,
    )
    assert chosen["backend"] == "jax"
    assert chosen["why"] == "--backend"
    # Set in the environment, and Keras not imported yet, so Keras will use it.
    assert chosen["env"] == "jax"
    assert chosen["keras"] is False


def test_environment_beats_config(tmp_path):
    chosen = _choose(tmp_path, keras_backend="jax", config_backend="torch")
    assert (chosen["backend"], chosen["why"]) == ("jax", "KERAS_BACKEND")


def test_config_file_in_home_is_used_when_its_backend_is_installed(tmp_path):
    # JAX, second in the fallback order, so only the config can choose it
    # while TensorFlow is installed.
    chosen = _choose(tmp_path, config_backend="jax")
    assert chosen["backend"] == "jax"
    assert chosen["why"] == str(tmp_path / "home" / ".keras" / "keras.json")
    assert chosen["env"] == "jax"


def test_config_file_under_keras_home_is_used(tmp_path):
    chosen = _choose(tmp_path, config_backend="jax", use_keras_home=True)
    assert chosen["backend"] == "jax"
    assert chosen["why"] == str(tmp_path / "keras-home" / "keras.json")


def test_config_naming_a_missing_backend_falls_back_to_first_installed(tmp_path):
    # Keras writes "tensorflow" into a new keras.json; with only JAX installed
    # that must not stop the recipe.
    chosen = _choose(tmp_path, config_backend="tensorflow", hidden=["tensorflow"])
    assert chosen["backend"] == "jax"
    assert chosen["why"] == "the first installed of tensorflow, jax and torch"


@pytest.mark.parametrize(
    "hidden", [[], ["tensorflow"], ["tensorflow", "jax"], ["jax"]], ids=str
)
def test_first_installed_in_order_tensorflow_jax_torch(hidden, tmp_path):
    order = [b for b in ("tensorflow", "jax", "torch") if b not in hidden]
    expected = next((b for b in order if importlib.util.find_spec(b)), None)
    if expected is None:
        pytest.skip("none of the remaining backends is installed")
    chosen = _choose(tmp_path, hidden=hidden)
    assert chosen["backend"] == expected
    assert chosen["why"] == "the first installed of tensorflow, jax and torch"


def _run_main(tmp_path, argv, hidden=(), keras_backend=None):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    code = _PRELUDE.format(hidden=list(hidden)) + _MAIN.format(
        path=str(RECIPES / "cnn.py"), argv=list(argv)
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=_env(home, keras_backend),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_no_backend_installed_is_one_clear_line_and_a_failure(tmp_path):
    proc = _run_main(tmp_path, [], hidden=["tensorflow", "jax", "torch"])
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "No Keras backend is installed" in lines[0]
    assert "keras-epochkit[jax,recipes]" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_requested_backend_not_installed_is_one_clear_line(tmp_path):
    proc = _run_main(tmp_path, [], hidden=["torch"], keras_backend="torch")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "The torch backend (from KERAS_BACKEND) is not installed. "
        'pip install "keras-epochkit[jax,recipes]" '
        "(or [tensorflow,recipes], [torch,recipes])"
    )


@pytest.mark.slow
def test_recipe_without_any_setting_runs_on_the_installed_backend(tmp_path):
    # A fresh machine with JAX only: no KERAS_BACKEND, no keras.json.
    proc = _run_main(
        tmp_path,
        ["--epochs", "1", "--data-fraction", "0.3", "--no-augmentation"],
        hidden=["tensorflow"],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (
        "Keras backend: jax (from the first installed of tensorflow, jax and torch)"
        in proc.stdout
    )
    summary = proc.stdout[proc.stdout.index("== cnn on digits") :]
    assert summary.splitlines()[0].startswith("== cnn on digits: jax /")
    report = json.loads((tmp_path / "runs" / "cnn" / "report.json").read_text())
    assert report["backend"] == "jax"
