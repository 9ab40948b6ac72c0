"""Agreement between processes: one decision for every host of a run.

Each function is the identity in a single process. With several processes it
runs one small collective on the active backend: JAX multi-process runs
(`jax.distributed.initialize`) use `jax.experimental.multihost_utils`, and
PyTorch runs with an initialized `torch.distributed` process group use
`all_reduce`. Backend modules are imported inside the functions, so
importing this module never imports a backend. Every process must call the
function at the same point, as with any collective.
"""

from __future__ import annotations

import keras
import numpy as np


def process_count() -> int:
    """The number of processes of the current run (1 unless distributed).

    >>> from keras_epochkit.distribute import sync
    >>> sync.process_count()
    1
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return int(jax.process_count())
    if backend == "torch":
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return int(dist.get_world_size())
    return 1


def max_across_processes(value: float) -> float:
    """The largest of `value` over all processes, on every process.

    Args:
        value: a number on this process.

    Returns:
        The maximum over the processes of the run (`value` itself in a
        single process).

    >>> from keras_epochkit.distribute import sync
    >>> sync.max_across_processes(2.5)
    2.5
    """
    if process_count() == 1:
        return float(value)
    backend = keras.backend.backend()
    if backend == "jax":
        from jax.experimental import multihost_utils

        gathered = multihost_utils.process_allgather(
            np.asarray([value], dtype="float32")
        )
        return float(np.max(np.asarray(gathered)))
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def any_process(flag: bool) -> bool:
    """True on every process if `flag` is True on any process.

    Args:
        flag: this process's decision.

    Returns:
        The shared decision (`flag` itself in a single process).

    >>> from keras_epochkit.distribute import sync
    >>> sync.any_process(True), sync.any_process(False)
    (True, False)
    """
    return max_across_processes(1.0 if flag else 0.0) > 0.5
