"""Keras callbacks: stopping, overfitting, budgets, resuming and reports."""

__all__ = []
