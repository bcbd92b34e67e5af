"""Test-wide JAX settings (silent broadcasting fails, reused PRNG keys fail) and shared fixtures."""
import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # on a GPU, pytest's worker processes share its memory

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_debug_key_reuse", True)


@pytest.fixture(scope="session")
def hopper_file(tmp_path_factory):
  """A real Hopper-v5 file of 400 uniformly random transitions (seed 0), written in D4RL layout."""
  from rlkit_jax.data import write_d4rl_hdf5
  from rlkit_jax.envs import rollout

  rng = np.random.default_rng(0)
  arrays, _ = rollout.collect(
      "Hopper-v5", lambda obs, key: rng.uniform(-1, 1, (1, 3)).astype(np.float32), num_transitions=400, seed=0
  )
  path = str(tmp_path_factory.mktemp("data") / "hopper-random-v5.hdf5")
  write_d4rl_hdf5(path, arrays, {"env_id": "Hopper-v5", "seed": 0})
  return path
