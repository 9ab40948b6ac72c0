"""keras-epochkit: Keras 3 components for training epoch by epoch.

Early stopping with composable criteria, overfitting detection, budget-aware
learning-rate schedules, sequence augmentation and precision/recall metrics,
on the TensorFlow, JAX and PyTorch backends.

Importing the package imports no deep-learning backend by itself: `analysis`,
`criteria` and the `epochkit` command run on NumPy alone. The subpackages
that use Keras (`callbacks`, `distribute`, `layers`, `metrics`, `schedules`)
load together on first use, or at once when Keras is already imported, so
`import keras` then `import keras_epochkit` registers every layer, metric
and schedule for `keras.saving.load_model`.

>>> import keras_epochkit as ek
>>> isinstance(ek.__version__, str)
True
"""

import importlib
import sys

from keras_epochkit._version import __version__

_PLAIN = ("analysis", "criteria")
_WITH_KERAS = ("callbacks", "distribute", "layers", "metrics", "schedules")

__all__ = ["__version__", *sorted(_PLAIN + _WITH_KERAS)]


def _load_keras_parts() -> None:
    for name in _WITH_KERAS:
        globals()[name] = importlib.import_module(f"keras_epochkit.{name}")


def __getattr__(name: str):
    if name in _WITH_KERAS:
        _load_keras_parts()
        return globals()[name]
    if name in _PLAIN:
        module = importlib.import_module(f"keras_epochkit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'keras_epochkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if "keras" in sys.modules:
    _load_keras_parts()
