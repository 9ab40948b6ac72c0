"""Markers that Keras's own test files use (see test_keras_parity.py)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "requires_trainable_backend: Keras's marker for tests that train a model; "
        "every backend here trains.",
    )
