"""One of two processes of a multi-process sharded run (tests/test_sharding.py).

Usage: python two_processes.py PROCESS_ID PORT OUT.npy. Each process has 4
simulated CPU devices; `jax.distributed.initialize` joins them into one
8-device mesh over the loopback address, with gloo for CPU collectives.
Both run the same MLP, model- and data-parallel over the 8 devices, and
write the gathered result.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"

import jax
import numpy as np

jax.config.update("jax_cpu_collectives_implementation", "gloo")
process_id, port, out = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
jax.distributed.initialize(
    coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id
)
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from fuse import ExecutionConfig, Program, RuntimePolicies  # noqa: E402

MLP = """
H[b, j] = relu(X[b, i] W1[i, j])
Y[b, l] = H[b, j] W2[j, l]
export Y
"""
rng = np.random.default_rng(0)  # the same inputs on both processes
data = {
    "X": rng.standard_normal((16, 8)).astype(np.float32),
    "W1": rng.standard_normal((8, 8)).astype(np.float32),
    "W2": rng.standard_normal((8, 4)).astype(np.float32),
}
assert jax.device_count() == 8 and jax.local_device_count() == 4
runner = Program(MLP).compile(
    backend="jax",
    config=ExecutionConfig(mesh={"data": 4, "model": 2}),
    policies=RuntimePolicies(sharding={"b": "data", "j": "model"}),
)
np.save(out, runner.run(data)["Y"])
