"""Seeds shard across devices: two virtual CPU devices give the one-device result, seed by seed."""
import os
import subprocess
import sys

SCRIPT = r"""
import functools, sys, jax, numpy as np
from rlkit_jax.training import core
from rlkit_jax.agents import IQL
from rlkit_jax.data.transitions import Transitions
rng = np.random.default_rng(0)
n = 64
data = Transitions(rng.normal(size=(n, 3)).astype(np.float32), rng.uniform(-1, 1, (n, 2)).astype(np.float32),
                   rng.normal(size=n).astype(np.float32), np.zeros(n, np.float32), rng.normal(size=(n, 3)).astype(np.float32))
create = functools.partial(IQL.create, observation_dim=3, action_dim=2, hidden_dims=(8, 8))
state, placed = core.place(core.init_run_state(create, seed=0, num_seeds=4), data)
state, _ = core.make_train_chunk(batch_size=8, num_updates=5)(state, placed)
kernel = jax.tree.leaves(state.agents.actor.params)[0]
print(len(kernel.sharding.device_set))
np.save(sys.argv[1], np.asarray(kernel))
"""


def _run(tmp_path, devices):
  out = str(tmp_path / f"kernel{devices}.npy")
  env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
  result = subprocess.run([sys.executable, "-c", SCRIPT, out], env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  return int(result.stdout.split()[-1]), out


def test_seeds_shard_over_devices_with_the_same_result(tmp_path):
  import numpy as np

  used_one, one = _run(tmp_path, 1)
  used_two, two = _run(tmp_path, 2)
  assert (used_one, used_two) == (1, 2)
  np.testing.assert_allclose(np.load(one), np.load(two), rtol=1e-5, atol=1e-6)
