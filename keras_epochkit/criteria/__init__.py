"""Stopping criteria: small objects with explicit state, logs in, decision out.

Each criterion takes `monitor=` and `mode=`, and its
`update(epoch, logs, budget=None)` returns a `Decision` (stop or not,
whether the epoch improved, a `StopReason` and a message). Criteria
need no model, so they run inside `keras_epochkit.callbacks.EarlyStopping`
or replay on recorded logs (`replay`). `any_of`/`all_of` compose them;
`Warmup` and `Baseline` gate another criterion.

Nothing here imports Keras: criteria register with Keras's serialization
once Keras is imported.

>>> from keras_epochkit import criteria
>>> criteria.Patience.stop_reason
<StopReason.PATIENCE: 4>
"""

from keras_epochkit._core.stop_reason import StopReason
from keras_epochkit.criteria.baseline import Baseline
from keras_epochkit.criteria.compose import AllOf
from keras_epochkit.criteria.compose import AnyOf
from keras_epochkit.criteria.compose import all_of
from keras_epochkit.criteria.compose import any_of
from keras_epochkit.criteria.criterion import Criterion
from keras_epochkit.criteria.decision import Decision
from keras_epochkit.criteria.divergence import Divergence
from keras_epochkit.criteria.extrapolation import Extrapolation
from keras_epochkit.criteria.generalization_loss import GeneralizationLoss
from keras_epochkit.criteria.non_finite import NonFinite
from keras_epochkit.criteria.patience import Patience
from keras_epochkit.criteria.progress_quotient import ProgressQuotient
from keras_epochkit.criteria.replay import replay
from keras_epochkit.criteria.target import Target
from keras_epochkit.criteria.trend_patience import TrendPatience
from keras_epochkit.criteria.up_strips import UpStrips
from keras_epochkit.criteria.warmup import Warmup

__all__ = [
    "AllOf",
    "AnyOf",
    "Baseline",
    "Criterion",
    "Decision",
    "Divergence",
    "Extrapolation",
    "GeneralizationLoss",
    "NonFinite",
    "Patience",
    "ProgressQuotient",
    "StopReason",
    "Target",
    "TrendPatience",
    "UpStrips",
    "Warmup",
    "all_of",
    "any_of",
    "replay",
]
