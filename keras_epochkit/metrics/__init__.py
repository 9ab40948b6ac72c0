"""Precision/recall metrics and confusion-matrix metrics for every backend.

Every metric formats its inputs once, counts them into one confusion-count
state (`ConfusionCounts`), weighted by `sample_weight` and summed across
replicas, and reduces the counts to its `sklearn.metrics` counterpart. New
metrics subclass `AveragedScore` (a per-class ratio, averaged) or
`MatrixScore` (a score of the full confusion matrix).
"""

from keras_epochkit._core.registry import register_pending
from keras_epochkit.metrics.averaged_score import AveragedScore
from keras_epochkit.metrics.balanced_accuracy import BalancedAccuracy
from keras_epochkit.metrics.cohen_kappa import CohenKappa
from keras_epochkit.metrics.confusion_counts import ConfusionCounts
from keras_epochkit.metrics.confusion_counts import UndefinedMetricWarning
from keras_epochkit.metrics.confusion_matrix import ConfusionMatrix
from keras_epochkit.metrics.f1_score import F1Score
from keras_epochkit.metrics.f_beta_score import FBetaScore
from keras_epochkit.metrics.matrix_score import MatrixScore
from keras_epochkit.metrics.matthews_correlation import MatthewsCorrelation
from keras_epochkit.metrics.precision import Precision
from keras_epochkit.metrics.recall import Recall

# The criteria register with Keras's serialization once Keras is imported.
register_pending()

__all__ = [
    "AveragedScore",
    "BalancedAccuracy",
    "CohenKappa",
    "ConfusionCounts",
    "ConfusionMatrix",
    "F1Score",
    "FBetaScore",
    "MatrixScore",
    "MatthewsCorrelation",
    "Precision",
    "Recall",
    "UndefinedMetricWarning",
]
