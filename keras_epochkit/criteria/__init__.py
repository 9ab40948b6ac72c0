"""Stopping criteria: small objects with explicit state, logs in, decision out.

Each criterion takes `monitor=` and `mode=`, and its
`update(epoch, logs, budget=None)` returns a `Decision` (stop or not,
whether the epoch improved, a reason and a numeric stop code). Criteria
need no model, so they run inside `keras_epochkit.callbacks.EarlyStopping`
or replay on recorded logs (`replay`). `any_of`/`all_of` compose them;
`Warmup` and `Baseline` gate another criterion.

`STOP_CODES` maps each stop code to the class that reports it (`0`: not
stopped).

>>> from keras_epochkit import criteria
>>> criteria.STOP_CODES[criteria.Patience.code]
'Patience'
"""

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
from keras_epochkit.criteria.up_strips import UpStrips
from keras_epochkit.criteria.warmup import Warmup

STOP_CODES: dict[int, str] = {0: "not stopped"}
for _cls in (
    NonFinite,
    Target,
    Divergence,
    Patience,
    Baseline,
    GeneralizationLoss,
    ProgressQuotient,
    UpStrips,
    Extrapolation,
    Warmup,
    AnyOf,
    AllOf,
):
    STOP_CODES[_cls.code] = _cls.__name__
del _cls

__all__ = [
    "STOP_CODES",
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
    "Target",
    "UpStrips",
    "Warmup",
    "all_of",
    "any_of",
    "replay",
]
