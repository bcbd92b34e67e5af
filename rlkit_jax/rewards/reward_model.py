"""An ensemble of E reward models trained on preferences in one program (vmap over members), each
on its own bootstrap resample of the labelled queries; normalisation (files:
:mod:`rlkit_jax.rewards.reward_model_files`).

Members share inputs at prediction time (``[E, ...]`` outputs) and see different minibatches at
training time: member e draws its minibatches from its own resample of the labelled queries, so the
ensemble's spread measures what the labels do not pin down (the disagreement that query selection
uses).
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from flax.training.train_state import TrainState

from rlkit_jax import objectives
from rlkit_jax.agents.common import train_state
from rlkit_jax.networks.reward import RewardFunction
from rlkit_jax.rewards.labelled_queries import PreferenceArrays
from rlkit_jax.rewards.segments import Queries
from rlkit_jax.training.divergence import all_finite, select_runs

RANKING_LOSSES = ("bradley_terry", "plackett_luce")


@functools.lru_cache(maxsize=None)
def _network(hidden_dims: tuple[int, ...], use_actions: bool) -> RewardFunction:
  return RewardFunction(hidden_dims, use_actions)


class RewardEnsemble(flax.struct.PyTreeNode):
  r"""E reward networks ``r_e(s, a)`` trained by maximum likelihood on preference labels.

  Per-step reward for RL: the ensemble mean, then normalised, ``(mean_e r_e − offset) · scale``
  (:meth:`rewards`), with ``offset``/``scale`` set by :meth:`normalized` so the reward spans
  [0, 1] on the data it will relabel. A positive, bounded reward keeps the survival incentive of
  locomotion tasks (a negative learned reward would teach an agent to end episodes early).

  Attributes:
    state: the members' ``TrainState``, every leaf with a leading axis E.
    key: PRNG key for bootstrap resamples and minibatches.
    offset, scale: ``[]`` float32 normalisation (identity until :meth:`normalized`).
    use_actions: r(s, a) if True, r(s) otherwise (static).
    ranking_loss: for ranking data, ``"bradley_terry"`` (all K(K−1)/2 pairs, the lecture's
      recipe) or ``"plackett_luce"`` (static).

  References:
    Christiano et al., `Deep RL from Human Preferences <https://arxiv.org/abs/1706.03741>`_, 2017,
    Sec. 2.2 (ensemble, bootstrap resamples); Lee et al., `PEBBLE <https://arxiv.org/abs/2106.05091>`_,
    2021, App. (3 members, 3 × 256 layers, tanh output, Adam 3e-4).
  """

  state: TrainState
  key: jax.Array
  offset: jax.Array
  scale: jax.Array
  use_actions: bool = flax.struct.field(pytree_node=False, default=True)
  ranking_loss: str = flax.struct.field(pytree_node=False, default="bradley_terry")

  @classmethod
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      ensemble_size: int = 3,
      hidden_dims: Sequence[int] = (256, 256, 256),
      learning_rate: float = 3e-4,
      use_actions: bool = True,
      ranking_loss: str = "bradley_terry",
  ) -> "RewardEnsemble":
    """Initialises E members from independent keys.

    Args:
      key: consumed.
      observation_dim: O.
      action_dim: A (ignored by r(s) but recorded).
      ensemble_size: E ≥ 1.
      hidden_dims: hidden widths.
      learning_rate: Adam step size (a leaf, may be traced).
      use_actions: r(s, a) (True) or r(s).
      ranking_loss: see the class docstring.

    Raises:
      ValueError: ``ensemble_size < 1`` or an unknown ``ranking_loss``.
    """
    if ensemble_size < 1:
      raise ValueError(f"RewardEnsemble: ensemble_size must be ≥ 1, got {ensemble_size}")
    if ranking_loss not in RANKING_LOSSES:
      raise ValueError(f"RewardEnsemble: ranking_loss={ranking_loss!r}; choose one of {RANKING_LOSSES}")
    net = _network(tuple(hidden_dims), use_actions)
    key, init_key = jax.random.split(key)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actions = jnp.zeros((1, action_dim), jnp.float32)

    def init(k):
      params = net.init(k, observations, actions)["params"]
      return train_state(net.apply, params, learning_rate)

    state = jax.vmap(init)(jax.random.split(init_key, ensemble_size))
    return cls(
        state=state,
        key=key,
        offset=jnp.zeros((), jnp.float32),
        scale=jnp.ones((), jnp.float32),
        use_actions=use_actions,
        ranking_loss=ranking_loss,
    )

  @property
  def ensemble_size(self) -> int:
    return int(jax.tree.leaves(self.state.params)[0].shape[0])

  def member_rewards(self, observations: jax.Array, actions: jax.Array, params: Any = None) -> jax.Array:
    """Raw per-step rewards of every member: ``[..., O]``, ``[..., A]`` → ``[E, ...]`` float32 in (−1, 1)."""
    params = self.state.params if params is None else params
    return jax.vmap(lambda p: self.state.apply_fn({"params": p}, observations, actions))(params)

  def rewards(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
    """The normalised ensemble-mean reward ``(mean_e r_e − offset) · scale``: ``[...]`` float32."""
    return (jnp.mean(self.member_rewards(observations, actions), axis=0) - self.offset) * self.scale

  def member_segment_returns(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
    """Every member's return of every segment: ``[Q, K, T, O]``, ``[Q, K, T, A]`` → ``[E, Q, K]``."""
    return objectives.segment_return(self.member_rewards(observations, actions))

  def query_returns(self, queries: Queries, *, chunk_size: int = 1024) -> np.ndarray:
    """Every member's raw return of every segment of ``queries``: ``[E, Q, K]`` float64 NumPy
    (jitted, ``chunk_size`` queries per call)."""
    out = []
    for start in range(0, len(queries), chunk_size):
      obs = jnp.asarray(queries.observations[start:start + chunk_size], jnp.float32)
      act = jnp.asarray(queries.actions[start:start + chunk_size], jnp.float32)
      out.append(np.asarray(_segment_returns(self, obs, act), np.float64))
    return np.concatenate(out, axis=1)

  def segment_scores(self, queries: Queries) -> np.ndarray:
    """Ensemble-mean segment returns ``[Q, K]`` (float64 NumPy): the score a :class:`ModelLabeller` uses."""
    return self.query_returns(queries).mean(axis=0)

  def _loss(self, params: Any, observations: jax.Array, actions: jax.Array, labels, rankings) -> tuple[jax.Array, jax.Array]:
    """One member's loss and accuracy; inputs ``[B, K, T, ...]`` for this member."""
    returns = objectives.segment_return(self.state.apply_fn({"params": params}, observations, actions))  # [B, K]
    if labels is not None:
      loss = objectives.bradley_terry_loss(returns[:, 0], returns[:, 1], labels)
      accuracy = objectives.preference_accuracy(returns[:, 0], returns[:, 1], labels)
    else:
      if self.ranking_loss == "plackett_luce":
        loss = objectives.plackett_luce_loss(returns, rankings)
      else:
        loss = objectives.bradley_terry_ranking_loss(returns, rankings)
      best = jnp.take_along_axis(returns, rankings[:, :1], axis=1)[:, 0]
      accuracy = (best >= jnp.max(returns, axis=1)).astype(jnp.float32)  # top-1 agreement
    return jnp.mean(loss), jnp.mean(accuracy)

  @jax.jit
  def update(self, batch: PreferenceArrays) -> tuple["RewardEnsemble", dict[str, jax.Array]]:
    """One Adam step of every member on its own minibatch.

    Args:
      batch: :class:`PreferenceArrays` whose arrays have a leading member axis E (``[E, B, ...]``);
        ``count`` is ignored.

    Returns:
      ``(model, {"reward_loss", "reward_accuracy"})``, means over members (nats; in [0, 1]).
    """

    def step(state, observations, actions, labels, rankings):
      grad_fn = jax.value_and_grad(lambda p: self._loss(p, observations, actions, labels, rankings), has_aux=True)
      (loss, accuracy), grads = grad_fn(state.params)
      return state.apply_gradients(grads=grads), loss, accuracy

    state, loss, accuracy = jax.vmap(step)(self.state, batch.observations, batch.actions, batch.labels, batch.rankings)
    return self.replace(state=state), {"reward_loss": jnp.mean(loss), "reward_accuracy": jnp.mean(accuracy)}

  def normalized(self, observations: jax.Array, actions: jax.Array, *, chunk_size: int = 65_536) -> "RewardEnsemble":
    """This model with ``offset``/``scale`` mapping the ensemble-mean reward on these transitions
    onto [0, 1] (min to 0, max to 1).

    Args:
      observations, actions: the transitions to relabel, ``[N, O]`` and ``[N, A]``.
      chunk_size: rows per device call.
    """
    raw = self.replace(offset=jnp.zeros((), jnp.float32), scale=jnp.ones((), jnp.float32))
    values = relabel(raw, observations, actions, chunk_size=chunk_size)
    low, high = float(values.min()), float(values.max())
    return self.replace(offset=jnp.asarray(low, jnp.float32), scale=jnp.asarray(1.0 / max(high - low, 1e-6), jnp.float32))


@jax.jit
def _segment_returns(model: RewardEnsemble, observations: jax.Array, actions: jax.Array) -> jax.Array:
  return model.member_segment_returns(observations, actions)


@jax.jit
def _rewards(model: RewardEnsemble, observations: jax.Array, actions: jax.Array) -> jax.Array:
  return model.rewards(observations, actions)


def relabel(model: RewardEnsemble, observations: np.ndarray, actions: np.ndarray, *, chunk_size: int = 65_536) -> np.ndarray:
  """The model's normalised reward for every transition: ``[N, O]``, ``[N, A]`` → ``[N]`` float32 NumPy.

  Runs in chunks of ``chunk_size`` rows (the last chunk padded, so one compile serves all).
  """
  n = len(observations)
  out = np.empty(n, np.float32)
  for start in range(0, n, chunk_size):
    obs = np.asarray(observations[start:start + chunk_size], np.float32)
    act = np.asarray(actions[start:start + chunk_size], np.float32)
    rows = len(obs)
    if rows < chunk_size and n > chunk_size:
      obs = np.concatenate([obs, np.zeros((chunk_size - rows,) + obs.shape[1:], np.float32)])
      act = np.concatenate([act, np.zeros((chunk_size - rows,) + act.shape[1:], np.float32)])
    out[start:start + rows] = np.asarray(_rewards(model, jnp.asarray(obs), jnp.asarray(act)))[:rows]
  return out


@functools.partial(jax.jit, static_argnames=("num_steps", "batch_size", "bootstrap"))
def fit(
    model: RewardEnsemble, data: PreferenceArrays, *, num_steps: int, batch_size: int = 128, bootstrap: bool = True
) -> tuple[RewardEnsemble, dict[str, jax.Array]]:
  """Trains every member for ``num_steps`` Adam steps on minibatches of labelled queries.

  Member e first draws its bootstrap resample: ``count`` indices with replacement from the
  ``count`` labelled rows (``bootstrap=False``: every member sees all rows); each step it samples
  ``batch_size`` of them. One ``lax.scan``; ``data.count`` may grow between calls without a
  recompile.

  Args:
    model: the ensemble; its ``key`` is split and advanced.
    data: :class:`PreferenceArrays` (no member axis).
    num_steps: Adam steps per member (static).
    batch_size: queries per member and step (static).
    bootstrap: resample per member (static).

  Returns:
    ``(model, metrics)``: ``reward_loss`` and ``reward_accuracy`` averaged over the last 10% of
    steps, and ``diverged_members``: how many members went non-finite in this fit; each of them
    keeps its parameters from before it (:func:`rlkit_jax.training.select_runs`), so the model
    stays finite.
  """
  capacity = data.observations.shape[0]
  members = model.ensemble_size
  key, boot_key, steps_key = jax.random.split(model.key, 3)
  if bootstrap:
    resample = jax.random.randint(boot_key, (members, capacity), 0, data.count)
  else:
    resample = jnp.broadcast_to(jnp.arange(capacity), (members, capacity))

  def step(model, step_key):
    positions = jax.random.randint(step_key, (members, batch_size), 0, data.count)
    rows = jnp.take_along_axis(resample, positions, axis=1)  # [E, B]
    take = lambda x: None if x is None else jnp.take(x, rows, axis=0)
    batch = PreferenceArrays(take(data.observations), take(data.actions), take(data.labels), take(data.rankings), data.count)
    return model.update(batch)

  fitted, metrics = jax.lax.scan(step, model.replace(key=key), jax.random.split(steps_key, num_steps))
  tail = max(1, num_steps // 10)
  metrics = jax.tree.map(lambda x: jnp.mean(x[-tail:]), metrics)
  # The non-finite guard over members: one that went non-finite keeps its parameters from before the fit.
  finite = jax.vmap(all_finite)(fitted.state)
  fitted = fitted.replace(state=select_runs(finite, fitted.state, model.state))
  return fitted, {**metrics, "diverged_members": jnp.sum(~finite).astype(jnp.float32)}
