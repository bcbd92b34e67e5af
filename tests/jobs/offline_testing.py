"""Helpers of the offline job's tests: the tiny test configuration and the final state of a run folder."""
import os

from rlkit_jax.checkpoint import Checkpointer
from rlkit_jax.offline import OfflineConfig, create_fn
from rlkit_jax.training import core

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def offline_config(path, **overrides) -> OfflineConfig:
  """IQL on the file at ``path`` with 2 seeds, 20 updates of batch 8, evaluations every 10 updates
  (one episode each), 8×8 networks; ``overrides`` replace any field."""
  kwargs = dict(
      algo="iql", dataset=path, seed=0, num_seeds=2, num_updates=20, batch_size=8, eval_every=10,
      eval_episodes=1, updates_per_call=5, hidden_dims=(8, 8),
  )
  kwargs.update(overrides)
  return OfflineConfig(**kwargs)


def final_state(workdir, config):
  """The final run state restored from a run folder's newest checkpoint (Hopper: O=11, A=3)."""
  like = core.init_run_state(
      create_fn(config, 11, 3), seed=config.seed, num_seeds=config.num_seeds, settings=config.settings
  )
  return Checkpointer(os.path.join(workdir, "checkpoints"), config.fingerprint()).restore(like)[1]
