"""The transition batch shared by every agent, dataset reader and sampler."""
from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class Transitions:
  """A batch (or a whole dataset) of transitions, leading axis ``N``.

  Attributes:
    observations: s_t, ``[N, O]`` float32.
    actions: a_t, ``[N, A]`` float32, inside the action space (usually [-1, 1]); for a task with a
      ``Discrete(n)`` action space, integer indices ``[N]`` int32 in ``[0, n)``.
    rewards: r_t, ``[N]`` float32.
    terminals: 1.0 where s_{t+1} is a true termination (not a time-out), ``[N]`` float32.
    next_observations: s_{t+1}, ``[N, O]`` float32.
    returns_to_go: optional Monte Carlo return ``Σ_{k≥t} γ^{k-t} r_k`` to the end of s_t's
      trajectory, ``[N]`` float32; None unless an agent needs it (AWR), filled by
      :func:`rlkit_jax.data.preprocessing.with_returns_to_go`.
    next_actions: optional a_{t+1}, the action the dataset took at s_{t+1}, ``[N, A]``; None unless
      an agent needs it (ReBRAC), filled by :func:`rlkit_jax.data.preprocessing.with_next_actions`.
    timesteps: optional step index of s_t in its trajectory (0 at the first row), ``[N]`` int32;
      None unless an agent needs it (RvS), filled by :func:`rlkit_jax.data.preprocessing.with_timesteps`.
    episode_lengths: optional length in rows of s_t's trajectory, ``[N]`` int32; None unless an
      agent needs it (RvS-G's hindsight goals), filled by
      :func:`rlkit_jax.data.preprocessing.with_episode_lengths`.
  """

  observations: jax.Array
  actions: jax.Array
  rewards: jax.Array
  terminals: jax.Array
  next_observations: jax.Array
  returns_to_go: jax.Array | None = None
  next_actions: jax.Array | None = None
  timesteps: jax.Array | None = None
  episode_lengths: jax.Array | None = None

  def __len__(self) -> int:
    return int(self.rewards.shape[0])


def sample_batch(dataset: Transitions, key: jax.Array, batch_size: int, *, size: jax.typing.ArrayLike | None = None) -> Transitions:
  """Uniformly samples ``batch_size`` transitions with replacement, inside jit.

  Args:
    dataset: a device-resident :class:`Transitions` with leading axis ``N``.
    key: a PRNG key, consumed.
    batch_size: B, a static Python int.
    size: sample only from the first ``size`` rows (a filling replay buffer); may be traced.
      Default: all ``N``.

  Returns:
    A :class:`Transitions` with leading axis ``B``.
  """
  high = dataset.rewards.shape[0] if size is None else size
  indices = jax.random.randint(key, (batch_size,), 0, high)
  return jax.tree.map(lambda x: jnp.take(x, indices, axis=0), dataset)
