"""Advantage-Weighted Regression (Peng et al., 2019), offline, with Monte Carlo returns, as an
immutable pytree."""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState
from jax.typing import ArrayLike

from rlkit_jax import objectives
from rlkit_jax.agents.base import GaussianPolicyMean
from rlkit_jax.agents.common import advantage_weighted_actor_step, train_state
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.networks import GaussianPolicy, ValueFunction
from rlkit_jax.agents.hyperparameters import NON_NEGATIVE, POSITIVE, checked_create


@functools.lru_cache(maxsize=None)
def _networks(action_dim: int, hidden_dims: tuple[int, ...]):
  """Module definitions, cached so agents of one configuration share static fields (one compile)."""
  return GaussianPolicy(action_dim, hidden_dims), ValueFunction(hidden_dims)


class AWR(GaussianPolicyMean, flax.struct.PyTreeNode):
  r"""AWR with a Monte Carlo value: fit V^{π_β} to returns-to-go, then advantage-weighted BC.

  Each update (the lecture's "AWR with Monte Carlo updates"):

  1. V step: minimise ``½ (R_t - V(s_t))²`` where ``R_t`` = ``batch.returns_to_go`` (discounted
     Monte Carlo return, truncated at the trajectory's end; see
     :func:`rlkit_jax.data.preprocessing.discounted_returns_to_go`).
  2. Actor step: minimise ``-min(exp(β Â), max_weight) · log π(a_t|s_t)`` with ``A = R_t - V(s_t)``
     from the *updated* V (as the reference code re-evaluates V before its actor phase).
     With ``normalize_advantages`` (default) ``Â = (A - mean_B A) / (std_B A + 1e-5)`` over the
     batch (:func:`rlkit_jax.objectives.normalize_advantages`), otherwise ``Â = A``.

  Temperature. The paper writes the weight as ``exp(A / β_paper)``; this library's ``temperature``
  is the inverse, ``β = 1 / β_paper`` (weight = exp(β·A), as for IQL). The reference code
  normalises the advantages by their mean and standard deviation before exponentiating and uses
  ``β_paper = 1`` (``temp = 1.0`` in ``awr_configs.py``, every task) with a weight clip of 20, so
  the default here is ``temperature = 1`` on normalised advantages: scale-free, so it does not
  depend on the reward scaling (the driver's rewards give returns of O(100s)). With
  ``normalize_advantages=False`` the temperature is in 1 / (scaled reward) units: a paper-style
  ``β_paper = 0.05`` on raw returns would be ``temperature = 20``, so greedy that almost every
  positive advantage would hit the clip; sweep it from ~0.01 upwards instead. The reference
  normalises over its whole replay buffer; here, over each batch (the batch size should be
  ≳ 100 for a stable estimate).

  Differences from the paper, on purpose: the data are a fixed offline dataset (the paper's static
  -dataset experiments) and V is fitted to Monte Carlo returns (the lecture's variant) rather
  than TD(λ) returns; V and π use Adam (3e-4, as IQL) rather than SGD with momentum; the policy is
  IQL's Gaussian (state-independent σ, learned) rather than a fixed σ. The paper's step sizes are
  constant, so ``actor_decay_steps`` is accepted and ignored. ``discount`` is stored for the
  record: the returns are computed by the driver, once per dataset, with this γ.

  References:
    Peng et al., `Advantage-Weighted Regression: Simple and Scalable Off-Policy Reinforcement
    Learning <https://arxiv.org/abs/1910.00177>`_, 2019, Algorithm 1, Eq. (7)–(10), and the
    reference code (github.com/xbpeng/awr, ``learning/awr_agent.py``: advantage normalisation,
    ``weight_clip = 20``).
  """

  action_space = "continuous"
  hyperparameter_ranges = {"temperature": NON_NEGATIVE, "max_weight": POSITIVE}
  needs_returns_to_go = True

  actor: TrainState
  value: TrainState
  key: jax.Array
  temperature: jax.Array  # β (inverse temperature), [] float32
  max_weight: jax.Array  # clip of exp(βÂ), [] float32
  discount: jax.Array  # γ of the returns-to-go (recorded; used by the driver), [] float32
  normalize_advantages: bool = flax.struct.field(pytree_node=False, default=True)

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      actor_lr: ArrayLike = 3e-4,
      value_lr: ArrayLike = 3e-4,
      temperature: ArrayLike = 1.0,
      max_weight: ArrayLike = 20.0,
      discount: ArrayLike = 0.99,
      normalize_advantages: bool = True,
      actor_decay_steps: Optional[int] = None,
  ) -> "AWR":
    """Initialises the Gaussian policy, V and their Adam optimisers.

    Args:
      key: a typed PRNG key; split internally.
      observation_dim, action_dim: O and A (actions in [-1, 1]^A).
      hidden_dims: hidden widths of actor and value (the paper: 128, 64; 256, 256 here, as IQL).
      actor_lr, value_lr: Adam step sizes (3e-4).
      temperature: β, the inverse temperature of exp(β Â) (1: the reference code's temp 1.0 on
        normalised advantages). max_weight: clip of the weights (20, the AWR paper).
      discount: γ of the returns-to-go (0.99, the AWR paper).
      normalize_advantages: standardise A over the batch before weighting (reference code).
      actor_decay_steps: ignored (the paper's step sizes are constant).
    """
    del actor_decay_steps
    actor_key, value_key, key = jax.random.split(key, 3)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actor_def, value_def = _networks(action_dim, tuple(hidden_dims))
    return cls(
        actor=train_state(actor_def.apply, actor_def.init(actor_key, observations)["params"], actor_lr),
        value=train_state(value_def.apply, value_def.init(value_key, observations)["params"], value_lr),
        key=key,
        temperature=jnp.asarray(temperature, jnp.float32),
        max_weight=jnp.asarray(max_weight, jnp.float32),
        discount=jnp.asarray(discount, jnp.float32),
        normalize_advantages=bool(normalize_advantages),
    )

  def values(self, observations: jax.Array) -> jax.Array:
    """V(s), the Monte Carlo value of the behaviour policy: ``[B, O]`` → ``[B]``."""
    return self.value.apply_fn({"params": self.value.params}, observations)

  @jax.jit
  def update(self, batch: Transitions) -> tuple["AWR", dict[str, jax.Array]]:
    """One V step and one actor step on ``batch`` (leading axis B). Returns ``(new_agent, metrics)``.

    Raises:
      ValueError (at trace time): ``batch.returns_to_go`` is None.
    """
    if batch.returns_to_go is None:
      raise ValueError(
          "AWR.update: batch.returns_to_go is None; build the dataset with "
          "rlkit_jax.data.preprocessing.with_returns_to_go(dataset, discount) before sampling batches"
      )
    returns = batch.returns_to_go

    def value_loss_fn(params):
      v = self.value.apply_fn({"params": params}, batch.observations)
      # expectile 0.5 is ½ (R - V)², the reference code's critic loss.
      loss = jnp.mean(objectives.expectile_loss(v, returns, expectile=0.5))
      return loss, {"value_loss": loss, "v": jnp.mean(v), "returns_to_go": jnp.mean(returns)}

    value_grads, value_info = jax.grad(value_loss_fn, has_aux=True)(self.value.params)
    value = self.value.apply_gradients(grads=value_grads)
    advantages = returns - value.apply_fn({"params": value.params}, batch.observations)
    weighted = objectives.normalize_advantages(advantages) if self.normalize_advantages else advantages
    weights = objectives.advantage_weights(weighted, temperature=self.temperature, max_weight=self.max_weight)

    actor, actor_info = advantage_weighted_actor_step(
        self.actor, batch.observations, batch.actions, weighted, temperature=self.temperature,
        max_weight=self.max_weight,
    )
    info = {
        **value_info,
        **actor_info,
        "adv": jnp.mean(advantages),
        "adv_std": jnp.std(advantages),
        "weight_mean": jnp.mean(weights),
        "weight_max": jnp.max(weights),
    }
    return self.replace(actor=actor, value=value), info
