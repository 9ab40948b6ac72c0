"""Augmentation layers: time series, random apply/choice, scheduled strength."""

from keras_epochkit._core.registry import register_pending
from keras_epochkit.layers.random_apply import RandomApply
from keras_epochkit.layers.random_choice import RandomChoice
from keras_epochkit.layers.random_jitter import RandomJitter
from keras_epochkit.layers.random_magnitude_warp import RandomMagnitudeWarp
from keras_epochkit.layers.random_permutation import RandomPermutation
from keras_epochkit.layers.random_scaling import RandomScaling
from keras_epochkit.layers.random_shift import RandomShift
from keras_epochkit.layers.random_time_mask import RandomTimeMask
from keras_epochkit.layers.random_time_warp import RandomTimeWarp
from keras_epochkit.layers.random_window_slice import RandomWindowSlice
from keras_epochkit.layers.random_window_warp import RandomWindowWarp
from keras_epochkit.layers.scheduled_augmentation import ScheduledAugmentation

# The criteria register with Keras's serialization once Keras is imported.
register_pending()

__all__ = [
    "RandomApply",
    "RandomChoice",
    "RandomJitter",
    "RandomMagnitudeWarp",
    "RandomPermutation",
    "RandomScaling",
    "RandomShift",
    "RandomTimeMask",
    "RandomTimeWarp",
    "RandomWindowSlice",
    "RandomWindowWarp",
    "ScheduledAugmentation",
]
