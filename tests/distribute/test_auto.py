"""`distribute.auto` picks working devices on every backend and refuses clearly."""

import keras
import numpy as np
import pytest

import keras_epochkit as ek
from keras_epochkit.distribute import DistributionSetup
from tests.support.multidevice import run_python
from tests.support.multidevice import run_with_jax_devices

BACKEND = keras.backend.backend()


def _only_on(backend):
    return pytest.mark.skipif(
        BACKEND != backend, reason=f"runs in the {backend} session of the suite"
    )


def _tiny_fit(setup):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")[:, None]
    with setup.scope():
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")]
        )
        model.compile(optimizer="sgd", loss="binary_crossentropy")
        history = model.fit(
            x, y, batch_size=setup.local_batch_size(16), epochs=2, verbose=0
        )
    return history.history["loss"]


@pytest.mark.parametrize("strategy", ["auto", "cpu"])
def test_auto_and_cpu_train_a_model_on_this_backend(strategy):
    setup = ek.distribute.auto(strategy)
    assert setup.backend == BACKEND
    assert setup.num_replicas == 1
    assert setup.is_chief and setup.process_count == 1
    assert setup.strategy == "cpu"
    losses = _tiny_fit(setup)
    assert len(losses) == 2 and all(np.isfinite(losses))


@pytest.mark.parametrize("strategy", ["tpu", "gpu"])
def test_missing_accelerator_raises_a_clear_error(strategy):
    expected = (
        NotImplementedError
        if (BACKEND, strategy) == ("torch", "tpu")
        else (RuntimeError)
    )
    with pytest.raises(expected, match=strategy if strategy == "gpu" else "TPU"):
        ek.distribute.auto(strategy)


def test_unknown_strategy_is_rejected_with_the_allowed_values():
    with pytest.raises(ValueError, match=r"`strategy` must be one of.*'data-parallel'"):
        ek.distribute.auto("horovod")


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_cpu_devices_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="`cpu_devices`"):
        ek.distribute.auto("cpu", cpu_devices=bad)


@_only_on("tensorflow")
def test_multi_worker_on_tensorflow_points_to_the_keras_issue_and_jax():
    # Pinned until keras-team/keras#20585 is fixed: model.fit cannot run under
    # MultiWorkerMirroredStrategy in this Keras version.
    with pytest.raises(NotImplementedError) as error:
        ek.distribute.auto("multi-worker")
    message = str(error.value)
    assert "keras-team/keras#20585" in message
    assert "JAX" in message


@_only_on("torch")
@pytest.mark.parametrize("strategy", ["mirrored", "data-parallel", "multi-worker"])
def test_torch_refuses_several_devices(strategy):
    with pytest.raises(NotImplementedError, match="one device with the PyTorch"):
        ek.distribute.auto(strategy)


def test_batch_helpers_and_sharding_follow_the_processes():
    setup = DistributionSetup(
        backend=BACKEND,
        strategy="data-parallel",
        devices=("cpu:0", "cpu:1", "cpu:2", "cpu:3"),
        process_index=1,
        process_count=2,
    )
    assert setup.global_batch_size(8) == 32
    assert setup.local_batch_size(8) == 16
    assert not setup.is_chief
    rows = np.arange(70)
    shard = setup.shard(rows, 32)
    # Process 1 takes the second half of each global batch, 3 of the last 6.
    np.testing.assert_array_equal(shard, np.r_[16:32, 48:64, 67:70])
    other = DistributionSetup(**{**setup.__dict__, "process_index": 0})
    together = np.sort(np.r_[other.shard(rows, 32), shard])
    np.testing.assert_array_equal(together, np.r_[0:70])
    with pytest.raises(ValueError, match="multiple of the process count"):
        setup.shard(rows, 31)
    # Two replicas per process: an odd tail row is dropped, nothing else.
    np.testing.assert_array_equal(setup.trim(np.arange(71)), np.arange(70))
    single = DistributionSetup(backend=BACKEND, strategy="cpu", devices=("cpu:0",))
    assert len(single.trim(np.arange(71))) == 71


@pytest.mark.slow
@pytest.mark.multidevice
@_only_on("jax")
def test_data_parallel_on_jax_spreads_over_four_simulated_devices():
    result = run_with_jax_devices(
        """
import keras_epochkit as ek
setup = ek.distribute.auto("data-parallel")
import numpy as np
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")[:, None]
with setup.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=setup.local_batch_size(8), epochs=1, verbose=0)
report({
    "strategy": setup.strategy,
    "replicas": setup.num_replicas,
    "global_batch": setup.global_batch_size(8),
    "distribution": type(keras.distribution.distribution()).__name__,
    "kernel_devices": len(model.layers[0].kernel.value.sharding.device_set),
})
""".replace("import keras_epochkit", "import keras\nimport keras_epochkit"),
        devices=4,
        timeout=300,
    )
    assert result == {
        "strategy": "data-parallel",
        "replicas": 4,
        "global_batch": 32,
        "distribution": "DataParallel",
        "kernel_devices": 4,
    }


@pytest.mark.slow
@pytest.mark.multidevice
@_only_on("tensorflow")
def test_mirrored_on_tensorflow_uses_two_logical_cpus():
    result = run_python(
        """
import keras
import keras_epochkit as ek
setup = ek.distribute.auto("mirrored", cpu_devices=2)
import numpy as np
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")[:, None]
with setup.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, batch_size=setup.local_batch_size(8), epochs=1, verbose=0)
report({
    "strategy": setup.strategy,
    "replicas": setup.num_replicas,
    "in_sync": setup.native.num_replicas_in_sync,
    "native": type(setup.native).__name__,
    "finite": bool(np.isfinite(history.history["loss"][0])),
})
""",
        backend="tensorflow",
        env={"CUDA_VISIBLE_DEVICES": ""},
        timeout=300,
    )
    assert result == {
        "strategy": "mirrored",
        "replicas": 2,
        "in_sync": 2,
        "native": "MirroredStrategy",
        "finite": True,
    }
