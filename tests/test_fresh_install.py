"""What CI's new-machine check reads from the README, and what it relies on.

`scripts/fresh_install.sh` runs the README's quickstart line and Python example
as written; these tests pin that the README has them in a form it can run, and
that the declared Keras floor is the one the docs and CI name.
"""

import ast
import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_block():
    spec = importlib.util.spec_from_file_location(
        "readme_block", ROOT / "scripts" / "readme_block.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.readme_block


readme_block = _readme_block()


def test_quickstart_is_one_line_installing_only_jax_and_running_the_cnn_recipe():
    block = readme_block(README, "Quickstart", "bash")
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0] == 'pip install -e ".[jax,recipes]" && python recipes/cnn.py'


def test_example_sets_the_backend_before_it_imports_keras():
    # With only JAX installed and no KERAS_BACKEND, `import keras` would
    # look for TensorFlow, its default.
    tree = ast.parse(readme_block(README, "Example", "python"))
    sets_backend = next(
        i
        for i, node in enumerate(tree.body)
        if "KERAS_BACKEND" in ast.unparse(node) and "environ" in ast.unparse(node)
    )
    imports_keras = next(
        i
        for i, node in enumerate(tree.body)
        if isinstance(node, ast.Import)
        and any(alias.name.split(".")[0] == "keras" for alias in node.names)
    )
    assert sets_backend < imports_keras


def test_missing_block_is_a_clear_error():
    with pytest.raises(LookupError, match="no ```bash block under '## Example'"):
        readme_block(README, "Example", "bash")
    with pytest.raises(LookupError, match="no section '## Nowhere'"):
        readme_block(README, "Nowhere", "bash")


def test_ci_runs_the_readme_test_command_which_runs_the_new_machine_checks():
    assert readme_block(README, "Run the tests", "bash").strip() == (
        "bash scripts/check.sh"
    )
    assert "exec bash scripts/check.sh\n" in (ROOT / ".ci" / "run").read_text()
    check = (ROOT / "scripts" / "check.sh").read_text()
    assert 'bash "$root/scripts/fresh_install.sh"' in check
    assert 'pinned_fast_tests "keras $floor" .venv-floor jax' in check
    assert '"keras==$floor"' in check
    assert 'pinned_fast_tests "colab-like" .venv-colab tensorflow' in check


def test_colab_like_pins_in_ci_are_the_ones_the_installation_page_names():
    check = (ROOT / "scripts" / "check.sh").read_text()
    (pins,) = re.findall(r'^colab_pins="([^"]+)"$', check, flags=re.MULTILINE)
    assert "tensorflow==" in pins and "keras==" in pins
    installation = (ROOT / "docs" / "installation.md").read_text()
    assert f'--pins "{pins}"' in installation
    quoted = " ".join(f'"{pin}"' for pin in pins.split())
    assert f"pip install {quoted} -e" in installation


def test_declared_keras_floor_is_the_one_the_docs_name():
    pyproject = (ROOT / "pyproject.toml").read_text()
    (floor,) = re.findall(r'"keras>=([0-9.]+)"', pyproject)
    assert f"`keras>={floor}`" in README
    installation = (ROOT / "docs" / "installation.md").read_text()
    assert f"`keras>={floor}`" in installation
    assert f"`keras=={floor}`" in installation
