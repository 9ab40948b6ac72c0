"""distribute.sync: one answer on every process; the identity in one process."""

import keras
import pytest

from keras_epochkit.distribute import sync
from tests.support.multidevice import run_jax_multihost


def test_single_process_is_the_identity():
    assert sync.process_count() == 1
    assert sync.any_process(True) is True
    assert sync.any_process(False) is False
    assert sync.max_across_processes(-3.25) == -3.25


@pytest.mark.multidevice
@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="runs in the jax session of the suite"
)
def test_two_jax_processes_agree_on_any_and_max():
    results = run_jax_multihost(
        """
from keras_epochkit.distribute import sync
report({
    "count": sync.process_count(),
    "any_one": sync.any_process(process_id == 1),
    "any_none": sync.any_process(False),
    "max": sync.max_across_processes(10.0 * process_id + 1.5),
})
""",
        processes=2,
        timeout=300,
    )
    for result in results:
        assert result == {"count": 2, "any_one": True, "any_none": False, "max": 11.5}
