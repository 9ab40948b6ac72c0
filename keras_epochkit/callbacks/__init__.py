"""Keras callbacks: stopping, overfitting, budgets, resuming and reports."""

from keras_epochkit.callbacks.overfitting_monitor import OverfittingMonitor

__all__ = ["OverfittingMonitor"]
