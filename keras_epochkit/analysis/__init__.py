"""Read a History or a CSVLogger file: where to stop, where overfitting began.

>>> from keras_epochkit import analysis
>>> sorted(analysis.__all__)
['AnalysisReport', 'CriterionStop', 'analyze', 'plot']
"""

from keras_epochkit.analysis.analysis_report import AnalysisReport
from keras_epochkit.analysis.analyze import analyze
from keras_epochkit.analysis.criterion_stop import CriterionStop
from keras_epochkit.analysis.plot import plot

__all__ = ["AnalysisReport", "CriterionStop", "analyze", "plot"]
