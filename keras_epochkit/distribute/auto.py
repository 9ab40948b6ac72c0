"""Pick the devices for a training run: TPU, GPUs, simulated devices or the CPU."""

from __future__ import annotations

import glob
import os

import keras

from keras_epochkit.distribute.distribution_setup import DistributionSetup

STRATEGIES = (
    "auto",
    "cpu",
    "gpu",
    "mirrored",
    "tpu",
    "multi-worker",
    "data-parallel",
)

MULTI_WORKER_TF_ISSUE = "https://github.com/keras-team/keras/issues/20585"

_TORCH_SINGLE_DEVICE = (
    "Keras {version} trains on one device with the PyTorch backend: `model.fit` "
    "has no multi-device or multi-process support there (the "
    "`keras.distribution` API is implemented for JAX, TPUs are not reached "
    "through torch_xla). Use strategy='auto', 'cpu' or 'gpu' with PyTorch, or "
    "switch to the JAX backend (KERAS_BACKEND=jax) for strategy={strategy!r}."
)


def auto(
    strategy: str = "auto", *, cpu_devices: int | None = None
) -> DistributionSetup:
    """Sets up the devices for training on the active Keras backend.

    Call it first, before any Keras model, layer or variable exists (on JAX
    the distribution is global and must be set before variables are made).

    What each strategy means per backend:

    | strategy | TensorFlow | JAX | PyTorch |
    |---|---|---|---|
    | `"auto"` | TPU if one is attached, `MirroredStrategy` on several GPUs, else the default strategy | `DataParallel` over all devices when there are several (or several processes), else nothing | the default device (CUDA if available) |
    | `"cpu"` | `OneDeviceStrategy` on the CPU (`MirroredStrategy` over `cpu_devices` logical CPUs) | the CPU devices | the CPU |
    | `"gpu"` | `OneDeviceStrategy` on one GPU, `MirroredStrategy` on several | `DataParallel` over the GPUs | `cuda:0` |
    | `"mirrored"`, `"data-parallel"` | `MirroredStrategy` over the GPUs, else over the (logical) CPUs | `DataParallel` over all devices | `NotImplementedError` |
    | `"tpu"` | `TPUStrategy` through `TPUClusterResolver` | `DataParallel` over the TPU cores | `NotImplementedError` |
    | `"multi-worker"` | `NotImplementedError` (keras-team/keras#20585) | `keras.distribution.initialize()`, then `DataParallel(auto_shard_dataset=False)` | `NotImplementedError` |

    Several JAX processes are joined through `keras.distribution.initialize`,
    which reads `KERAS_DISTRIBUTION_JOB_ADDRESSES` (the coordinator's
    `host:port`), `KERAS_DISTRIBUTION_NUM_PROCESSES` and
    `KERAS_DISTRIBUTION_PROCESS_ID`; with those set, `"auto"` and
    `"data-parallel"` do it too. On CPUs the collectives go through gloo. Each
    process then feeds its own rows (`DistributionSetup.shard`).

    Args:
        strategy: one of `"auto"`, `"cpu"`, `"gpu"`, `"mirrored"`, `"tpu"`,
            `"multi-worker"`, `"data-parallel"`. Defaults to `"auto"`.
        cpu_devices: split the host CPU into this many devices (JAX: simulated
            host devices; TensorFlow: logical CPUs) to try data parallelism on
            a laptop. It only works before the backend has started. Defaults to
            `None` (leave the CPU as it is).

    Returns:
        The devices set up; build, compile and fit inside its `scope()`, and
        use its batch-size helpers and `shard`.

    Raises:
        ValueError: an unknown strategy or a bad `cpu_devices`.
        RuntimeError: a TPU or GPU was asked for but is not there, or the CPU
            cannot be split any more.
        NotImplementedError: the combination does not work in this Keras
            version (multi-worker TensorFlow; several devices on PyTorch).

    Examples:
        >>> import keras_epochkit as ek
        >>> setup = ek.distribute.auto("cpu")
        >>> setup.num_replicas, setup.is_chief
        (1, True)
        >>> with setup.scope():
        ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> setup.global_batch_size(32)
        32
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {', '.join(map(repr, STRATEGIES))}; "
            f"received {strategy!r}."
        )
    if cpu_devices is not None and (
        isinstance(cpu_devices, bool)
        or not isinstance(cpu_devices, int)
        or cpu_devices < 1
    ):
        raise ValueError(
            f"`cpu_devices` must be a positive integer or None; "
            f"received {cpu_devices!r}."
        )
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(strategy, cpu_devices)
    if backend == "jax":
        return _jax(strategy, cpu_devices)
    if backend == "torch":
        return _torch(strategy, cpu_devices)
    raise NotImplementedError(
        f"keras_epochkit.distribute.auto supports the tensorflow, jax and torch "
        f"backends; the active backend is {backend!r}."
    )


# TensorFlow ---------------------------------------------------------------


def _tensorflow(strategy: str, cpu_devices: int | None) -> DistributionSetup:
    import tensorflow as tf

    if strategy == "multi-worker":
        raise NotImplementedError(
            "strategy='multi-worker' is not available on the TensorFlow backend: "
            f"in Keras {keras.__version__}, `model.fit` does not run under "
            "tf.distribute.MultiWorkerMirroredStrategy "
            f"(keras-team/keras#20585, {MULTI_WORKER_TF_ISSUE}). To train on "
            "several hosts, use the JAX backend (KERAS_BACKEND=jax) with "
            "strategy='multi-worker', which joins the processes through "
            "keras.distribution.initialize."
        )
    if cpu_devices is not None:
        _split_tf_cpu(tf, cpu_devices)
    gpus = tf.config.list_physical_devices("GPU")
    if strategy == "tpu" or (strategy == "auto" and _tpu_attached()):
        native = _tf_tpu_strategy(tf)
        return _tf_setup(tf, "tpu", native)
    if strategy == "gpu":
        if not gpus:
            raise RuntimeError(
                "strategy='gpu' was asked for, but TensorFlow sees no GPU "
                "(tf.config.list_physical_devices('GPU') is empty). Check the "
                "CUDA install or use strategy='auto' or 'cpu'."
            )
        if len(gpus) == 1:
            return _tf_setup(tf, "gpu", tf.distribute.OneDeviceStrategy("/gpu:0"))
        return _tf_setup(tf, "gpu", tf.distribute.MirroredStrategy())
    if strategy in ("mirrored", "data-parallel"):
        if gpus:
            devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        else:
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return _tf_setup(tf, strategy, tf.distribute.MirroredStrategy(devices))
    if strategy == "cpu":
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(cpus) > 1:
            return _tf_setup(tf, "cpu", tf.distribute.MirroredStrategy(cpus))
        return _tf_setup(tf, "cpu", tf.distribute.OneDeviceStrategy("/cpu:0"))
    # "auto"
    if len(gpus) > 1:
        return _tf_setup(tf, "mirrored", tf.distribute.MirroredStrategy())
    name = "gpu" if gpus else "cpu"
    return _tf_setup(tf, name, tf.distribute.get_strategy())


def _tf_setup(tf, name: str, native) -> DistributionSetup:
    try:
        devices = tuple(native.extended.worker_devices)
    except RuntimeError:  # The default strategy names no devices.
        devices = ()
    if not devices:
        kind = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        devices = (tf.config.list_logical_devices(kind)[0].name,)
    return DistributionSetup(
        backend="tensorflow",
        strategy=name,
        devices=devices,
        process_index=0,
        process_count=1,
        native=native,
    )


def _split_tf_cpu(tf, count: int) -> None:
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError as error:
        if len(tf.config.list_logical_devices("CPU")) == count:
            return
        raise RuntimeError(
            f"cpu_devices={count} needs TensorFlow's runtime not to have started "
            "yet: call keras_epochkit.distribute.auto(...) before anything else "
            "touches TensorFlow."
        ) from error


def _tpu_attached() -> bool:
    """A cheap look for a TPU, without starting a runtime."""
    return bool(
        os.environ.get("COLAB_TPU_ADDR")
        or os.environ.get("TPU_NAME")
        or glob.glob("/dev/accel*")
        or glob.glob("/dev/vfio/[0-9]*")
    )


def _tf_tpu_strategy(tf):
    errors = []
    for tpu in (None, "local"):
        try:
            if tpu is None:
                resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
            else:
                resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu)
            if tpu is None:
                tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        except Exception as error:  # Each TF version fails its own way.
            errors.append(f"{type(error).__name__}: {error}")
    raise RuntimeError(
        "strategy='tpu' was asked for, but TensorFlow found no TPU through "
        "TPUClusterResolver (on Colab, choose Runtime > Change runtime type > "
        "TPU). Details: " + " | ".join(e.splitlines()[0] for e in errors if e)
    )


# JAX ------------------------------------------------------------------------


def _jax(strategy: str, cpu_devices: int | None) -> DistributionSetup:
    import jax

    if cpu_devices is not None:
        _split_jax_cpu(jax, cpu_devices)
    multi_process = strategy == "multi-worker" or (
        strategy in ("auto", "data-parallel")
        and int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1")) > 1
    )
    if multi_process:
        _initialize_jax_processes(jax)

    if strategy == "tpu":
        devices = _jax_devices(jax, "tpu")
    elif strategy == "gpu":
        devices = _jax_devices(jax, "gpu")
    elif strategy == "cpu":
        devices = _jax_devices(jax, "cpu")
    else:
        devices = jax.devices()
    names = tuple(f"{d.platform}:{d.id}" for d in devices)
    process_count = jax.process_count()
    needs_distribution = (
        len(devices) > 1
        or process_count > 1
        or strategy in ("mirrored", "data-parallel", "multi-worker")
        or devices[0].platform != jax.default_backend()
    )
    native = None
    if needs_distribution:
        native = keras.distribution.DataParallel(
            devices=list(names), auto_shard_dataset=process_count == 1
        )
        keras.distribution.set_distribution(native)
    if strategy == "auto":
        name = "data-parallel" if native is not None else devices[0].platform
    else:
        name = strategy
    return DistributionSetup(
        backend="jax",
        strategy=name,
        devices=names,
        process_index=jax.process_index(),
        process_count=process_count,
        native=native,
    )


def _split_jax_cpu(jax, count: int) -> None:
    flag = f"--xla_force_host_platform_device_count={count}"
    flags = os.environ.get("XLA_FLAGS", "")
    if flag in flags:
        return
    if jax._src.xla_bridge.backends_are_initialized():
        if len(jax.devices("cpu")) == count:
            return
        raise RuntimeError(
            f"cpu_devices={count} needs JAX's backend not to have started yet: "
            "call keras_epochkit.distribute.auto(...) before anything else "
            "touches JAX, or set XLA_FLAGS="
            f"{flag} in the environment."
        )
    kept = " ".join(
        part
        for part in flags.split()
        if not part.startswith("--xla_force_host_platform_device_count")
    )
    os.environ["XLA_FLAGS"] = f"{kept} {flag}".strip()


def _initialize_jax_processes(jax) -> None:
    if jax.distributed.is_initialized():
        return
    # Collectives between CPU processes need an implementation; GPUs and TPUs
    # bring their own and ignore this setting.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        keras.distribution.initialize()
    except (RuntimeError, ValueError) as error:
        raise RuntimeError(
            "strategy='multi-worker' could not join the processes through "
            "keras.distribution.initialize(): set KERAS_DISTRIBUTION_JOB_ADDRESSES "
            "(the coordinator's host:port), KERAS_DISTRIBUTION_NUM_PROCESSES and "
            "KERAS_DISTRIBUTION_PROCESS_ID in every process (Cloud TPU pods find "
            "them alone), and call auto() before anything touches JAX. "
            f"JAX said: {error}"
        ) from error


def _jax_devices(jax, platform: str):
    try:
        devices = jax.devices(platform)
    except RuntimeError as error:
        raise RuntimeError(
            f"strategy={platform!r} was asked for, but JAX has no {platform.upper()} "
            f"backend here (jax.devices() is {jax.devices()}). "
            + (
                "On Colab, choose Runtime > Change runtime type > TPU and "
                "install jax[tpu]."
                if platform == "tpu"
                else "Install jax[cuda12] on a machine with an NVIDIA GPU."
                if platform == "gpu"
                else ""
            )
        ) from error
    if not devices:
        raise RuntimeError(f"JAX lists no {platform.upper()} device.")
    return devices


# PyTorch --------------------------------------------------------------------


def _torch(strategy: str, cpu_devices: int | None) -> DistributionSetup:
    import torch

    if strategy in ("mirrored", "data-parallel", "multi-worker", "tpu"):
        raise NotImplementedError(
            _TORCH_SINGLE_DEVICE.format(version=keras.__version__, strategy=strategy)
        )
    if cpu_devices not in (None, 1):
        raise NotImplementedError(
            _TORCH_SINGLE_DEVICE.format(
                version=keras.__version__, strategy=f"cpu_devices={cpu_devices}"
            )
        )
    if strategy == "gpu":
        if not torch.cuda.is_available():
            raise RuntimeError(
                "strategy='gpu' was asked for, but PyTorch sees no CUDA device "
                "(torch.cuda.is_available() is False). Install a CUDA build of "
                "torch or use strategy='auto' or 'cpu'."
            )
        return DistributionSetup(
            backend="torch", strategy="gpu", devices=("cuda:0",), device_scope="gpu:0"
        )
    if strategy == "cpu":
        return DistributionSetup(
            backend="torch", strategy="cpu", devices=("cpu:0",), device_scope="cpu"
        )
    device = "cuda:0" if torch.cuda.is_available() else "cpu:0"
    return DistributionSetup(
        backend="torch",
        strategy=device.split(":")[0].replace("cuda", "gpu"),
        devices=(device,),
    )
