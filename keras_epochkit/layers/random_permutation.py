"""RandomPermutation: cuts the sequence into segments and shuffles them."""

from __future__ import annotations

from typing import Any

import keras

from keras_epochkit._core.validation import check_int
from keras_epochkit.layers._base import SequenceAugmentation


@keras.saving.register_keras_serializable(package="keras_epochkit")
class RandomPermutation(SequenceAugmentation):
    """Cuts each sample into up to `max_segments` pieces and reorders them.

    Per sample, `max_segments - 1` cut points are drawn uniformly among the
    time steps (equal cut points merge segments, hence "up to"), and the
    segments are put in a uniformly random order (Um et al., 2017). Values are
    moved, never changed: the multiset of values of each sample and channel is
    kept, and the length is unchanged. Its magnitude is the number of cuts: a
    `strength` of `s` uses `round(s * (max_segments - 1))` cuts.

    Args:
        max_segments: largest number of segments, `>= 1`. Defaults to `5`.
        seed: integer seed of the random generator. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a `(batch, time, channels)` float tensor.
        training: whether to augment. Defaults to `True`.
        strength: optional scalar multiplier of the number of cuts.

    Examples:
        >>> import numpy as np
        >>> import keras_epochkit as ek
        >>> x = np.arange(10, dtype="float32").reshape(1, 10, 1)
        >>> y = keras.ops.convert_to_numpy(ek.layers.RandomPermutation(3, seed=1)(x))
        >>> sorted(y[0, :, 0].tolist()) == x[0, :, 0].tolist()
        True
    """

    def __init__(self, max_segments: int = 5, seed: int | None = None, **kwargs: Any):
        super().__init__(seed=seed, **kwargs)
        self.max_segments = check_int("max_segments", max_segments, 1)

    def _draw(self, inputs, seed, strength):
        ops = self.backend
        batch, length, _ = self._sizes(inputs)
        cuts_count = self.max_segments - 1
        if cuts_count == 0 or length < 2:
            return {
                "source": ops.numpy.zeros((batch, length), "int32")
                + ops.numpy.arange(length, dtype="int32")
            }
        cuts = ops.random.randint((batch, cuts_count), 1, length, seed=seed)
        active = ops.numpy.arange(cuts_count, dtype="float32") < ops.numpy.round(
            strength * float(cuts_count)
        )
        cuts = ops.numpy.sort(ops.numpy.where(active, cuts, length), axis=-1)
        zeros = ops.numpy.zeros((batch, 1), "int32")
        bounds = ops.numpy.concatenate(
            [zeros, ops.cast(cuts, "int32"), zeros + length], axis=1
        )
        starts = bounds[:, :-1]
        lengths = bounds[:, 1:] - starts
        order = ops.numpy.argsort(
            ops.random.uniform((batch, self.max_segments), seed=seed), axis=-1
        )
        order = ops.cast(order, "int32")
        moved_lengths = ops.numpy.take_along_axis(lengths, order, axis=1)
        moved_starts = ops.numpy.take_along_axis(starts, order, axis=1)
        new_starts = ops.numpy.cumsum(moved_lengths, axis=1) - moved_lengths
        steps = ops.numpy.arange(length, dtype="int32")
        # The segment holding output step t is the last one starting at or
        # before t (empty segments share their start with the next one).
        segment = (
            ops.numpy.sum(
                ops.cast(
                    ops.numpy.expand_dims(new_starts, 1)
                    <= ops.numpy.reshape(steps, [1, -1, 1]),
                    "int32",
                ),
                axis=-1,
            )
            - 1
        )
        source = (
            ops.numpy.take_along_axis(moved_starts, segment, axis=1)
            + ops.numpy.expand_dims(steps, 0)
            - ops.numpy.take_along_axis(new_starts, segment, axis=1)
        )
        return {"source": source}

    def _apply(self, inputs, transformation):
        return self._gather_time(inputs, transformation["source"])
