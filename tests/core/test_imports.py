"""The package, the criteria, analysis and the CLI import no backend."""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": ROOT}
    env.pop("KERAS_BACKEND", None)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_analysis_criteria_and_the_cli_import_no_backend(tmp_path):
    log = tmp_path / "log.csv"
    rows = ["epoch,loss,val_loss"] + [
        f"{e},{1 / (e + 1)},{abs(e - 8) / 10 + 0.5}" for e in range(30)
    ]
    log.write_text("\n".join(rows) + "\n")
    out = _run(
        f"""
        import sys
        import keras_epochkit as ek
        from keras_epochkit import cli
        assert cli.main(["analyze", {str(log)!r}]) == 0
        ek.criteria.Patience(3)
        heavy = [m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules]
        print("loaded:", heavy)
        """
    )
    assert "loaded: []" in out
    assert "| Patience(patience=5) |" in out


@pytest.mark.slow
def test_importing_after_keras_registers_every_class_for_loading():
    out = _run(
        """
        import keras
        import keras_epochkit
        names = keras.saving.get_custom_objects()
        wanted = ["RandomJitter", "F1Score", "LinearDecay", "Patience", "AnyOf"]
        print(all(f"keras_epochkit>{n}" in names for n in wanted))
        """
    )
    assert out.strip() == "True"
