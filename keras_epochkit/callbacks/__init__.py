"""Keras callbacks: stopping, overfitting, budgets, resuming and reports."""

from keras_epochkit._core.registry import register_pending
from keras_epochkit.callbacks._resume import ResumeWarning
from keras_epochkit.callbacks.augmentation_scheduler import AugmentationScheduler
from keras_epochkit.callbacks.backup_and_restore import BackupAndRestore
from keras_epochkit.callbacks.classification_report import ClassificationReport
from keras_epochkit.callbacks.csv_logger import CSVLogger
from keras_epochkit.callbacks.early_stopping import EarlyStopping
from keras_epochkit.callbacks.epoch_budget import EpochBudget
from keras_epochkit.callbacks.overfitting_monitor import OverfittingMonitor
from keras_epochkit.callbacks.plateau_budget import PlateauBudget
from keras_epochkit.callbacks.time_budget import TimeBudget
from keras_epochkit.criteria import StopReason

# The criteria register with Keras's serialization once Keras is imported.
register_pending()

__all__ = [
    "AugmentationScheduler",
    "BackupAndRestore",
    "CSVLogger",
    "ClassificationReport",
    "EarlyStopping",
    "EpochBudget",
    "OverfittingMonitor",
    "PlateauBudget",
    "ResumeWarning",
    "StopReason",
    "TimeBudget",
]
