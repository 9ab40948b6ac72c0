"""The multi-device and multi-host harness really runs Keras on several devices."""

import keras
import pytest

from tests.support.multidevice import run_jax_multihost
from tests.support.multidevice import run_with_jax_devices
from tests.support.multidevice import run_with_tf_mirrored

pytestmark = [pytest.mark.multidevice, pytest.mark.slow]

# A small binary task, the same arrays in every process.
_DATA = """
import numpy as np
import keras
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
y = (x[:, :4].sum(axis=1) > 0).astype("float32")[:, None]

def make_model():
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
         keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    return model
"""


def _only_on(backend):
    return pytest.mark.skipif(
        keras.backend.backend() != backend,
        reason=f"runs in the {backend} session of the suite",
    )


@_only_on("jax")
def test_jax_data_parallel_trains_on_four_simulated_devices():
    result = run_with_jax_devices(
        _DATA
        + """
import jax
distribution = keras.distribution.DataParallel()
keras.distribution.set_distribution(distribution)
model = make_model()
history = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
kernel = model.layers[0].kernel.value
report({
    "devices": len(jax.devices()),
    "mesh": list(distribution.device_mesh.shape),
    "kernel_devices": len(kernel.sharding.device_set),
    "loss": history.history["loss"],
})
""",
        devices=4,
    )
    assert result["devices"] == 4
    assert result["mesh"] == [4]
    assert result["kernel_devices"] == 4  # weights are replicated on all four
    assert result["loss"][-1] < result["loss"][0]


@_only_on("tensorflow")
def test_tf_mirrored_strategy_trains_on_two_logical_cpus():
    result = run_with_tf_mirrored(
        _DATA
        + """
with strategy.scope():
    model = make_model()
history = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
report({
    "replicas": strategy.num_replicas_in_sync,
    "loss": history.history["loss"],
})
""",
        replicas=2,
    )
    assert result["replicas"] == 2
    assert result["loss"][-1] < result["loss"][0]


@_only_on("jax")
def test_two_jax_hosts_on_loopback_train_in_lockstep():
    results = run_jax_multihost(
        _DATA
        + """
import jax
# Each host feeds its own half of every global batch.
local_x, local_y = x[process_id::num_processes], y[process_id::num_processes]
model = make_model()
history = model.fit(local_x, local_y, batch_size=16, epochs=2, verbose=0, shuffle=False)
report({
    "process_count": jax.process_count(),
    "global_devices": jax.device_count(),
    "loss": history.history["loss"],
})
""",
        processes=2,
    )
    assert [r["process_count"] for r in results] == [2, 2]
    assert [r["global_devices"] for r in results] == [2, 2]
    assert len(results[0]["loss"]) == 2
    assert results[0]["loss"] == results[1]["loss"]
