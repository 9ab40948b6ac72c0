"""What `keras_epochkit.distribute.auto` chose, in one backend-neutral object."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class DistributionSetup:
    """The devices a training run uses, the same way on every backend.

    `keras_epochkit.distribute.auto` returns one. Build and compile the model
    inside `scope()`, pass `local_batch_size(per_replica)` to `model.fit`, and
    feed each process its own rows with `shard(...)`: the same code then runs
    on one CPU, several GPUs, a TPU or several hosts.

    Args:
        backend: the Keras backend, `"tensorflow"`, `"jax"` or `"torch"`.
        strategy: what was set up: `"cpu"`, `"gpu"`, `"tpu"`, `"mirrored"`,
            `"data-parallel"` or `"multi-worker"`, or `"default"` (the backend's
            default device, nothing distributed).
        devices: the names of the devices the model is replicated on, across
            all processes.
        process_index: this process's index; `0` is the chief.
        process_count: the number of processes training together.
        native: the backend object behind it: a `tf.distribute.Strategy`, a
            `keras.distribution.Distribution`, or `None`. Defaults to `None`.
        device_scope: a device name that `scope()` places variables on with
            `keras.device`, or `None`. Defaults to `None`.

    Examples:
        >>> setup = DistributionSetup(
        ...     backend="jax", strategy="default", devices=("cpu:0",),
        ...     process_index=0, process_count=1)
        >>> setup.num_replicas, setup.is_chief, setup.global_batch_size(32)
        (1, True, 32)
    """

    backend: str
    strategy: str
    devices: tuple[str, ...]
    process_index: int = 0
    process_count: int = 1
    native: Any = None
    device_scope: str | None = None

    @property
    def num_replicas(self) -> int:
        """The number of model replicas across all processes."""
        return max(1, len(self.devices))

    @property
    def is_chief(self) -> bool:
        """Whether this process writes files and prints the summary."""
        return self.process_index == 0

    def global_batch_size(self, per_replica: int) -> int:
        """The number of samples in one optimizer step over all replicas.

        Args:
            per_replica: the batch size each replica processes.

        Returns:
            `per_replica * num_replicas`.
        """
        per_replica = _positive_int(per_replica, "per_replica")
        return per_replica * self.num_replicas

    def local_batch_size(self, per_replica: int) -> int:
        """The `batch_size` to pass to `model.fit` in this process.

        With one process, Keras splits the global batch across the local
        replicas itself, so this is the global batch size; with several
        processes each one feeds its own part of every global batch.

        Args:
            per_replica: the batch size each replica processes.

        Returns:
            `global_batch_size(per_replica) // process_count`.
        """
        return self.global_batch_size(per_replica) // self.process_count

    def shard(self, array: np.ndarray, global_batch_size: int) -> np.ndarray:
        """The rows of `array` that this process feeds.

        Global batch `i` is rows `[i * global_batch_size, (i + 1) *
        global_batch_size)` of `array`, as on one device; each process takes an
        equal contiguous part of every batch, so the processes together see the
        same batches as one device would (the last, partial batch loses at most
        `process_count - 1` rows). With one process `array` comes back as is.

        Args:
            array: the samples, first axis is the batch axis.
            global_batch_size: the number of samples per optimizer step.

        Returns:
            The rows for this process, in order.
        """
        global_batch_size = _positive_int(global_batch_size, "global_batch_size")
        if self.process_count == 1:
            return array
        if global_batch_size % self.process_count:
            raise ValueError(
                f"`global_batch_size` must be a multiple of the process count "
                f"{self.process_count}; received {global_batch_size}."
            )
        rows = []
        for start in range(0, len(array), global_batch_size):
            stop = min(start + global_batch_size, len(array))
            part = (stop - start) // self.process_count
            first = start + self.process_index * part
            rows.append(np.arange(first, first + part))
        return array[np.concatenate(rows)] if rows else array[:0]

    def trim(self, array: np.ndarray) -> np.ndarray:
        """Drops the last rows so that every batch splits evenly over replicas.

        JAX's `DataParallel` needs every batch, the last one too, to divide
        by the number of devices, and TensorFlow's strategies average the
        replicas' mean losses, which weighs the rows of an unevenly split last
        batch unequally. This drops the `len(array) % replicas` last rows,
        where `replicas` is the number of this process's replicas (none with
        one replica). Apply it after `shard`.

        Args:
            array: the samples, first axis is the batch axis.

        Returns:
            `array` without its ragged tail.
        """
        replicas = self.num_replicas // self.process_count
        if replicas <= 1:
            return array
        return array[: len(array) - len(array) % replicas]

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """A context to build and compile the model in.

        On TensorFlow it is the strategy's scope, so variables are mirrored;
        with a fixed device it places variables there; otherwise (JAX's
        distribution is global) it does nothing.
        """
        if self.backend == "tensorflow" and self.native is not None:
            with self.native.scope():
                yield
        elif self.device_scope is not None:
            import keras

            with keras.device(self.device_scope):
                yield
        else:
            yield

    def describe(self) -> str:
        """One line naming the strategy, replicas and processes."""
        where = ", ".join(self.devices[:4])
        if len(self.devices) > 4:
            where += f", ... ({len(self.devices)} in all)"
        text = f"{self.backend} / {self.strategy}: {self.num_replicas} replica(s)"
        text += f" on {where}"
        if self.process_count > 1:
            text += f"; process {self.process_index} of {self.process_count}"
        return text


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
    if value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {value}.")
    return int(value)
