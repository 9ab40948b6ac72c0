"""keras-epochkit: Keras 3 components for training epoch by epoch.

Early stopping with composable criteria, overfitting detection, budget-aware
learning-rate schedules, sequence augmentation and precision/recall metrics,
on the TensorFlow, JAX and PyTorch backends.

>>> import keras_epochkit as ek
>>> isinstance(ek.__version__, str)
True
"""

__version__ = "0.1.0"

from keras_epochkit import analysis
from keras_epochkit import callbacks
from keras_epochkit import criteria
from keras_epochkit import distribute
from keras_epochkit import layers
from keras_epochkit import metrics
from keras_epochkit import schedules

__all__ = [
    "__version__",
    "analysis",
    "callbacks",
    "criteria",
    "distribute",
    "layers",
    "metrics",
    "schedules",
]
