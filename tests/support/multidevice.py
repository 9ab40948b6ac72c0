"""Run a test body as several devices or several hosts on one CPU-only machine.

Device counts and distributed runtimes must be fixed before a backend starts,
so every helper here runs the given code in fresh Python subprocesses:

* `run_with_jax_devices(code, devices=4)`: JAX backend with
  `--xla_force_host_platform_device_count`, so `jax.devices()` has `devices`
  CPU devices (use `keras.distribution.DataParallel` in `code`).
* `run_with_tf_mirrored(code, replicas=2)`: TensorFlow backend with the CPU
  split into `replicas` logical devices and a `tf.distribute.MirroredStrategy`
  over them, bound to the name `strategy` in `code`.
* `run_jax_multihost(code, processes=2)`: `processes` JAX processes joined by
  `jax.distributed.initialize` with the coordinator on 127.0.0.1, CPU
  collectives through gloo, and `keras.distribution.DataParallel(
  auto_shard_dataset=False)` already set. `process_id` and `num_processes`
  are bound in `code`.

The code reports results by calling `report(obj)` with a JSON-able object;
each helper returns what was reported (a list of them, one per process, for
the multi-host helper). A subprocess that fails raises `AssertionError` with
its stderr, and one that runs past `timeout` is killed, so a test never hangs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

_RESULT_MARK = "EPOCHKIT_RESULT "

_REPORT = textwrap.dedent(
    f"""
    import json as _json
    def report(obj):
        print({_RESULT_MARK!r} + _json.dumps(obj), flush=True)
    """
)

_TF_MIRRORED_PRELUDE = textwrap.dedent(
    """
    import tensorflow as tf
    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * {replicas}
    )
    strategy = tf.distribute.MirroredStrategy(
        [f"/cpu:{{i}}" for i in range({replicas})]
    )
    """
)

_JAX_MULTIHOST_PRELUDE = textwrap.dedent(
    """
    import os
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    process_id = int(os.environ["EPOCHKIT_PROCESS_ID"])
    num_processes = int(os.environ["EPOCHKIT_NUM_PROCESSES"])
    jax.distributed.initialize(
        coordinator_address=os.environ["EPOCHKIT_COORDINATOR"],
        num_processes=num_processes,
        process_id=process_id,
    )
    import keras
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(auto_shard_dataset=False)
    )
    """
)


def _base_env(backend: str, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The device count is each helper's business, never the parent's.
    env.pop("XLA_FLAGS", None)
    if extra:
        env.update(extra)
    return env


def _parse(stdout: str) -> object:
    for line in reversed(stdout.splitlines()):
        if line.startswith(_RESULT_MARK):
            return json.loads(line[len(_RESULT_MARK) :])
    raise AssertionError("the subprocess never called report(...):\n" + stdout[-2000:])


def _program(prelude: str, code: str) -> str:
    return _REPORT + prelude + "\n" + textwrap.dedent(code)


def run_python(code: str, *, backend: str, env: dict | None = None, timeout=600):
    """Runs `code` in a fresh interpreter on `backend`; returns what it reported."""
    proc = subprocess.run(
        [sys.executable, "-c", _program("", code)],
        env=_base_env(backend, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stderr[-6000:]}"
    return _parse(proc.stdout)


def run_with_jax_devices(code: str, *, devices: int = 4, timeout: float = 600):
    """Runs `code` on the JAX backend with `devices` simulated CPU devices."""
    flags = f"--xla_force_host_platform_device_count={devices}"
    return run_python(
        code,
        backend="jax",
        env={"XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"},
        timeout=timeout,
    )


def run_with_tf_mirrored(code: str, *, replicas: int = 2, timeout: float = 600):
    """Runs `code` on TensorFlow with `strategy`, a MirroredStrategy over CPUs."""
    prelude = _TF_MIRRORED_PRELUDE.format(replicas=replicas)
    proc = subprocess.run(
        [sys.executable, "-c", _program(prelude, code)],
        env=_base_env("tensorflow", {"CUDA_VISIBLE_DEVICES": ""}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stderr[-6000:]}"
    return _parse(proc.stdout)


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_jax_multihost(code: str, *, processes: int = 2, timeout: float = 600):
    """Runs `code` as `processes` JAX hosts on loopback; returns their reports."""
    coordinator = f"127.0.0.1:{free_port()}"
    program = _program(_JAX_MULTIHOST_PRELUDE, code)
    procs = []
    for process_id in range(processes):
        env = _base_env(
            "jax",
            {
                "JAX_PLATFORMS": "cpu",
                "EPOCHKIT_COORDINATOR": coordinator,
                "EPOCHKIT_PROCESS_ID": str(process_id),
                "EPOCHKIT_NUM_PROCESSES": str(processes),
            },
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", program],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=timeout)
            outputs.append((proc.returncode, stdout, stderr))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    for process_id, (returncode, _, stderr) in enumerate(outputs):
        assert returncode == 0, (
            f"process {process_id} of {processes} failed:\n{stderr[-6000:]}"
        )
    return [_parse(stdout) for _, stdout, _ in outputs]
