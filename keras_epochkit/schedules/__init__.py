"""Budget-aware learning-rate schedules.

Every schedule here is a `keras.optimizers.schedules.LearningRateSchedule`
computed from the optimizer's step inside the compiled train step, with a
warm-up (in steps or as a fraction), a final floor, a multiplicative `scale`,
and a horizon (`total_steps`) that can be given or bound from `fit()` by
`keras_epochkit.callbacks.EpochBudget` or `TimeBudget`.
"""

from keras_epochkit._core.registry import register_pending
from keras_epochkit.schedules.budget_schedule import BudgetSchedule
from keras_epochkit.schedules.constant import Constant
from keras_epochkit.schedules.cosine_decay import CosineDecay
from keras_epochkit.schedules.linear_decay import LinearDecay
from keras_epochkit.schedules.one_cycle import OneCycle
from keras_epochkit.schedules.warmup_stable_decay import WarmupStableDecay

# The criteria register with Keras's serialization once Keras is imported.
register_pending()

__all__ = [
    "BudgetSchedule",
    "Constant",
    "CosineDecay",
    "LinearDecay",
    "OneCycle",
    "WarmupStableDecay",
]
