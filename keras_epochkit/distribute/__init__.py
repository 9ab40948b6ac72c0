"""Strategy helpers per backend: TPU, GPUs, simulated devices, several hosts.

This is the one package of keras-epochkit that imports TensorFlow, JAX or
PyTorch directly, and only the active backend, only inside functions.
"""

from keras_epochkit.distribute.auto import auto
from keras_epochkit.distribute.distribution_setup import DistributionSetup
from keras_epochkit.distribute.sync import any_process
from keras_epochkit.distribute.sync import max_across_processes

__all__ = ["DistributionSetup", "any_process", "auto", "max_across_processes"]
