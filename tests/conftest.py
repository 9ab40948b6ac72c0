"""Suite-wide pytest configuration: the backend banner and common fixtures."""

import os

import keras
import numpy as np
import pytest


def pytest_report_header(config):
    try:
        devices = ", ".join(keras.distribution.list_devices())
    except (AttributeError, NotImplementedError, ValueError):  # torch has none
        devices = "one (this backend does not list them)"
    return [
        f"keras backend: {keras.backend.backend()} "
        f"(KERAS_BACKEND={os.environ.get('KERAS_BACKEND', '<unset>')})",
        f"keras {keras.__version__}, numpy {np.__version__}, devices: {devices}",
    ]


def pytest_terminal_summary(terminalreporter):
    """Prints what tests recorded under `summary` (works under pytest-xdist)."""
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for key, value in getattr(report, "user_properties", ())
        if key == "summary" and getattr(report, "when", "call") == "call"
    ]
    if lines:
        terminalreporter.section("recorded outcomes")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same global seed and a clean Keras session."""
    keras.utils.set_random_seed(1337)
    yield
    keras.backend.clear_session()


@pytest.fixture
def backend() -> str:
    return keras.backend.backend()
