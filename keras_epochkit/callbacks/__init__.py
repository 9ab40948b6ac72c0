"""Keras callbacks: stopping, overfitting, budgets, resuming and reports."""

from keras_epochkit.callbacks.augmentation_scheduler import AugmentationScheduler
from keras_epochkit.callbacks.backup_and_restore import BackupAndRestore
from keras_epochkit.callbacks.classification_report import ClassificationReport
from keras_epochkit.callbacks.csv_logger import CSVLogger
from keras_epochkit.callbacks.early_stopping import EarlyStopping
from keras_epochkit.callbacks.epoch_budget import EpochBudget
from keras_epochkit.callbacks.overfitting_monitor import OverfittingMonitor
from keras_epochkit.callbacks.time_budget import TimeBudget

__all__ = [
    "AugmentationScheduler",
    "BackupAndRestore",
    "CSVLogger",
    "ClassificationReport",
    "EarlyStopping",
    "EpochBudget",
    "OverfittingMonitor",
    "TimeBudget",
]
